#include "server/common/config.h"

#include <toml++/toml.h>

#include <boost/url/parse.hpp>
#include <cctype>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace tollgate::server {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// One setting as found in the file or the environment, before it is checked.
struct RawValue {
  enum class Kind { kString, kInt, kFloat, kBool, kOther };
  Kind kind = Kind::kOther;
  std::string text;     // kString
  int64_t integer = 0;  // kInt
  bool from_env = false;
  std::string origin;  // how errors name where it came from
};

std::string EnvName(std::string_view key) {
  std::string name = "TOLLGATE_";
  for (char c : key) name += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

absl::Status Bad(const RawValue& raw, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(raw.origin, ": ", AbslView(what)));
}

// A known key and how to apply its value to a Config.
struct KeySpec {
  std::string key;
  std::function<absl::Status(const RawValue&, Config&)> apply;
};

absl::StatusOr<std::string> AsString(const RawValue& raw) {
  if (raw.kind != RawValue::Kind::kString) return Bad(raw, "must be a string");
  return raw.text;
}

absl::StatusOr<int64_t> AsInt(const RawValue& raw, int64_t min, int64_t max) {
  int64_t v = 0;
  std::string range = absl::StrCat("must be an integer from ", min, " to ", max);
  if (raw.kind == RawValue::Kind::kInt) {
    v = raw.integer;
  } else if (raw.from_env && raw.kind == RawValue::Kind::kString) {
    if (!absl::SimpleAtoi(AbslView(raw.text), &v)) return Bad(raw, range);
  } else {
    return Bad(raw, range);
  }
  if (v < min || v > max) return Bad(raw, range);
  return v;
}

// Builders for the common kinds of key. `field` picks the member to set.
template <class Field>
KeySpec Int(std::string key, int64_t min, int64_t max, std::function<Field&(Config&)> field) {
  return {std::move(key), [=](const RawValue& raw, Config& c) -> absl::Status {
            absl::StatusOr<int64_t> v = AsInt(raw, min, max);
            if (!v.ok()) return v.status();
            field(c) = static_cast<Field>(*v);
            return absl::OkStatus();
          }};
}

KeySpec Str(std::string key, std::function<std::string&(Config&)> field,
            std::function<absl::Status(const RawValue&, const std::string&)> check = nullptr) {
  return {std::move(key), [=](const RawValue& raw, Config& c) -> absl::Status {
            absl::StatusOr<std::string> v = AsString(raw);
            if (!v.ok()) return v.status();
            if (check) {
              if (absl::Status s = check(raw, *v); !s.ok()) return s;
            }
            field(c) = std::move(*v);
            return absl::OkStatus();
          }};
}

absl::Status CheckUrl(const RawValue& raw, const std::string& v) {
  auto url = boost::urls::parse_absolute_uri(v);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return Bad(raw, "must be an http:// or https:// URL with a host");
  }
  return absl::OkStatus();
}

absl::Status CheckEnvName(const RawValue& raw, const std::string& v) {
  bool ok = !v.empty() && !std::isdigit(static_cast<unsigned char>(v[0]));
  for (char c : v) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok) return Bad(raw, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
  return absl::OkStatus();
}

absl::Status CheckNonEmpty(const RawValue& raw, const std::string& v) {
  if (v.empty()) return Bad(raw, "must not be empty");
  return absl::OkStatus();
}

absl::Status CheckListen(const RawValue& raw, const std::string& v) {
  absl::StatusOr<ListenAddress> parsed = ParseListen(v);
  if (!parsed.ok()) return Bad(raw, std::string(parsed.status().message()));
  return absl::OkStatus();
}

void AddProvider(std::vector<KeySpec>& specs, const std::string& name,
                 ProviderConfig Config::*provider) {
  std::string prefix = "providers." + name + ".";
  specs.push_back(Str(
      prefix + "base_url", [=](Config& c) -> std::string& { return (c.*provider).base_url; },
      CheckUrl));
  specs.push_back(Str(
      prefix + "api_key_env", [=](Config& c) -> std::string& { return (c.*provider).api_key_env; },
      CheckEnvName));
  specs.push_back(Int<int>(prefix + "timeout_s", 1, 86400,
                           [=](Config& c) -> int& { return (c.*provider).timeout_s; }));
  specs.push_back(Int<int>(prefix + "connect_timeout_s", 1, 3600,
                           [=](Config& c) -> int& { return (c.*provider).connect_timeout_s; }));
  specs.push_back(Str(prefix + "ca_file",
                      [=](Config& c) -> std::string& { return (c.*provider).ca_file; }));
}

const std::vector<KeySpec>& Specs() {
  static const std::vector<KeySpec>* specs = [] {
    auto* s = new std::vector<KeySpec>;
    s->push_back(Str(
        "server.listen", [](Config& c) -> std::string& { return c.server.listen; }, CheckListen));
    s->push_back(Str(
        "server.data_dir", [](Config& c) -> std::string& { return c.server.data_dir; },
        CheckNonEmpty));
    s->push_back(Int<int64_t>("server.max_body_bytes", 1, int64_t{1} << 32,
                              [](Config& c) -> int64_t& { return c.server.max_body_bytes; }));
    s->push_back(
        Int<int>("server.threads", 1, 256, [](Config& c) -> int& { return c.server.threads; }));
    s->push_back(Int<int>("server.read_timeout_s", 1, 86400,
                          [](Config& c) -> int& { return c.server.read_timeout_s; }));
    s->push_back(Int<int>("server.write_timeout_s", 1, 86400,
                          [](Config& c) -> int& { return c.server.write_timeout_s; }));
    s->push_back(Int<int>("server.idle_timeout_s", 1, 86400,
                          [](Config& c) -> int& { return c.server.idle_timeout_s; }));
    s->push_back(Int<int>("server.max_connections", 1, 1000000,
                          [](Config& c) -> int& { return c.server.max_connections; }));
    s->push_back({"storage.backend", [](const RawValue& raw, Config& c) -> absl::Status {
                    absl::StatusOr<std::string> v = AsString(raw);
                    if (!v.ok()) return v.status();
                    if (*v == "postgres") {
                      return Bad(raw, "'postgres' is not built yet; the only backend is 'sqlite'");
                    }
                    if (*v != "sqlite") return Bad(raw, "must be 'sqlite'");
                    c.storage.backend = *v;
                    return absl::OkStatus();
                  }});
    s->push_back(Str("storage.path", [](Config& c) -> std::string& { return c.storage.path; }));
    s->push_back({"storage.sync", [](const RawValue& raw, Config& c) -> absl::Status {
                    absl::StatusOr<std::string> v = AsString(raw);
                    if (!v.ok()) return v.status();
                    if (*v != "full" && *v != "normal") return Bad(raw, "must be one of: full, normal");
                    c.storage.sync = *v;
                    return absl::OkStatus();
                  }});
    s->push_back({"enforcement.mode", [](const RawValue& raw, Config& c) -> absl::Status {
                    absl::StatusOr<std::string> v = AsString(raw);
                    if (!v.ok()) return v.status();
                    std::optional<Mode> mode = ParseMode(*v);
                    if (!mode || *mode == Mode::kInherit) {
                      return Bad(raw, "must be one of: off, shadow, enforce");
                    }
                    c.enforcement.mode = *mode;
                    return absl::OkStatus();
                  }});
    s->push_back({"enforcement.fail_mode", [](const RawValue& raw, Config& c) -> absl::Status {
                    absl::StatusOr<std::string> v = AsString(raw);
                    if (!v.ok()) return v.status();
                    if (*v == "open") {
                      return Bad(raw, "'open' is not built yet; the only fail mode is 'closed'");
                    } else if (*v == "closed") {
                      c.enforcement.fail_mode = FailMode::kClosed;
                    } else {
                      return Bad(raw, "must be one of: open, closed");
                    }
                    return absl::OkStatus();
                  }});
    s->push_back(Int<int>("metering.event_retention_days", 1, 36500,
                          [](Config& c) -> int& { return c.metering.event_retention_days; }));
    s->push_back(
        Int<int64_t>("metering.default_output_estimate", 0, 100000000,
                     [](Config& c) -> int64_t& { return c.metering.default_output_estimate; }));
    s->push_back(Int<int>("metering.lease_s", 1, 86400,
                          [](Config& c) -> int& { return c.metering.lease_s; }));
    AddProvider(*s, "openai", &Config::openai);
    AddProvider(*s, "anthropic", &Config::anthropic);
    AddProvider(*s, "gemini", &Config::gemini);
    return s;
  }();
  return *specs;
}

const KeySpec* FindSpec(std::string_view key) {
  for (const KeySpec& spec : Specs()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

bool IsTablePath(std::string_view path) {
  for (const KeySpec& spec : Specs()) {
    if (spec.key.size() > path.size() && spec.key.compare(0, path.size(), path) == 0 &&
        spec.key[path.size()] == '.') {
      return true;
    }
  }
  return false;
}

absl::Status Flatten(const toml::table& table, const std::string& prefix, const std::string& file,
                     std::map<std::string, RawValue>& out) {
  for (const auto& [k, node] : table) {
    std::string key = prefix + std::string(k.str());
    std::string where = absl::StrCat("config key '", key, "' in ", file);
    if (node.is_table()) {
      if (!IsTablePath(key)) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown config section [", key, "] in ", file));
      }
      if (absl::Status s = Flatten(*node.as_table(), key + ".", file, out); !s.ok()) return s;
      continue;
    }
    if (FindSpec(key) == nullptr) {
      if (IsTablePath(key)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": must be a table [", key, "]"));
      }
      return absl::InvalidArgumentError(absl::StrCat("unknown config key '", key, "' in ", file));
    }
    RawValue raw;
    raw.origin = where;
    if (auto s = node.value<std::string>(); s && node.is_string()) {
      raw.kind = RawValue::Kind::kString;
      raw.text = *s;
    } else if (node.is_integer()) {
      raw.kind = RawValue::Kind::kInt;
      raw.integer = node.as_integer()->get();
    } else if (node.is_floating_point()) {
      raw.kind = RawValue::Kind::kFloat;
    } else if (node.is_boolean()) {
      raw.kind = RawValue::Kind::kBool;
    }
    out[key] = std::move(raw);
  }
  return absl::OkStatus();
}

}  // namespace

std::string Config::StorePath() const {
  if (!storage.path.empty()) return storage.path;
  std::string dir = server.data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/tollgate.db";
}

bool IsReservedEnvName(std::string_view name) { return name == "TOLLGATE_ADMIN_KEY"; }

absl::StatusOr<ListenAddress> ParseListen(std::string_view listen) {
  std::string_view host;
  std::string_view port;
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return absl::InvalidArgumentError("must be HOST:PORT or [IPv6]:PORT");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError("must be HOST:PORT or [IPv6]:PORT");
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return absl::InvalidArgumentError("an IPv6 address must be in brackets: [::1]:8080");
    }
  }
  uint32_t number = 0;
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos ||
      !absl::SimpleAtoi(AbslView(port), &number) || number > 65535) {
    return absl::InvalidArgumentError("must be HOST:PORT with a port from 0 to 65535");
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(number)};
}

absl::StatusOr<Config> LoadConfig(const std::string& path,
                                  const std::map<std::string, std::string>& env) {
  std::map<std::string, RawValue> raw;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
    std::stringstream content;
    content << in.rdbuf();
    toml::table table;
    try {
      table = toml::parse(content.str(), path);
    } catch (const toml::parse_error& e) {
      return absl::InvalidArgumentError(absl::StrCat("config file ", path, " line ",
                                                     e.source().begin.line, ": ",
                                                     std::string(e.description())));
    }
    if (absl::Status s = Flatten(table, "", path, raw); !s.ok()) return s;
  }

  for (const auto& [name, value] : env) {
    if (name.rfind("TOLLGATE_", 0) != 0 || IsReservedEnvName(name)) continue;
    const KeySpec* match = nullptr;
    for (const KeySpec& spec : Specs()) {
      if (EnvName(spec.key) == name) match = &spec;
    }
    if (match == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable ", name, " does not name a config key"));
    }
    RawValue v;
    v.kind = RawValue::Kind::kString;
    v.text = value;
    v.from_env = true;
    v.origin = absl::StrCat("environment variable ", name, " (config key '", match->key, "')");
    raw[match->key] = std::move(v);
  }

  Config config;
  for (const KeySpec& spec : Specs()) {
    auto it = raw.find(spec.key);
    if (it == raw.end()) continue;
    if (absl::Status s = spec.apply(it->second, config); !s.ok()) return s;
  }
  return config;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

absl::StatusOr<Config> LoadConfigFromEnvironment(const std::string& path) {
  return LoadConfig(path, ProcessEnvironment());
}

ServerOptions ServerOptionsFromConfig(const Config& config) {
  ServerOptions options;
  if (absl::StatusOr<ListenAddress> listen = ParseListen(config.server.listen); listen.ok()) {
    options.host = listen->host;
    options.port = listen->port;
  }
  options.threads = config.server.threads;
  options.max_body_bytes = static_cast<size_t>(config.server.max_body_bytes);
  options.read_timeout = std::chrono::seconds(config.server.read_timeout_s);
  options.write_timeout = std::chrono::seconds(config.server.write_timeout_s);
  options.idle_timeout = std::chrono::seconds(config.server.idle_timeout_s);
  options.max_connections = static_cast<size_t>(config.server.max_connections);
  return options;
}

}  // namespace tollgate::server
