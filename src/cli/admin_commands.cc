#include "cli/admin_commands.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/api_client.h"
#include "server/common/json_util.h"

namespace tollgate::cli {
namespace {

namespace json = boost::json;

struct Common {
  ApiTarget target;
  std::string key_file = "var/admin.key";
};

void AddCommon(CLI::App* cmd, Common* c) {
  if (const char* url = std::getenv("TOLLGATE_URL")) c->target.url = url;
  cmd->add_option("--url", c->target.url, "server address (env TOLLGATE_URL)")->capture_default_str();
  cmd->add_option("--key", c->target.key,
                  "admin key (env TOLLGATE_KEY or TOLLGATE_ADMIN_KEY, else --key-file)");
  cmd->add_option("--key-file", c->key_file, "file holding the admin key")->capture_default_str();
}

// Fills the key from flags, environment or key file. False (with a message) when none.
bool ResolveKey(Common* c) {
  if (!c->target.key.empty()) return true;
  for (const char* var : {"TOLLGATE_KEY", "TOLLGATE_ADMIN_KEY"}) {
    if (const char* v = std::getenv(var); v && *v) {
      c->target.key = v;
      return true;
    }
  }
  std::ifstream in(c->key_file);
  if (in && std::getline(in, c->target.key) && !c->target.key.empty()) return true;
  std::cerr << "error: no key: pass --key, set TOLLGATE_KEY, or point --key-file at admin.key\n";
  return false;
}

int Fail(const absl::Status& s) {
  std::cerr << "error: " << s.message() << "\n";
  return 1;
}

std::string Str(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "";
  return server::SerializeJson(v);
}

// Prints rows as an aligned table.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void RegisterKeys(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "manage API keys");
  keys->require_subcommand(1);
  auto* create = keys->add_subcommand("create", "create a key and print its secret once");
  auto c = std::make_shared<Common>();
  auto role = std::make_shared<std::string>();
  auto tenant = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  AddCommon(create, c.get());
  create->add_option("--role", *role, "admin | tenant_admin | agent | client")->required();
  create->add_option("--tenant", *tenant, "tenant id (every role but admin)");
  create->add_option("--user", *user, "bind a client key to one user");
  create->add_option("--name", *name, "a name to recognise the key by");
  create->final_callback([=] {
    if (!ResolveKey(c.get())) std::exit(1);
    json::object body{{"role", *role}, {"name", *name}};
    if (!tenant->empty()) body["tenant_id"] = *tenant;
    if (!user->empty()) body["user_id"] = *user;
    auto r = CallApiJson(c->target, "POST", "/api/admin/keys", json::serialize(body));
    if (!r.ok()) std::exit(Fail(r.status()));
    const auto& o = r->as_object();
    std::cout << "id:  " << Str(o.at("id")) << "\nkey: " << Str(o.at("key"))
              << "\n(the key is shown only this once)\n";
  });
}

void RegisterLimits(CLI::App& app) {
  auto* limits = app.add_subcommand("limits", "list, set and remove limits");
  limits->require_subcommand(1);

  auto* list = limits->add_subcommand("list", "list limits");
  auto lc = std::make_shared<Common>();
  auto ltenant = std::make_shared<std::string>();
  AddCommon(list, lc.get());
  list->add_option("--tenant", *ltenant, "only this tenant's limits");
  list->final_callback([=] {
    if (!ResolveKey(lc.get())) std::exit(1);
    std::string path = "/api/admin/limits";
    if (!ltenant->empty()) path += "?tenant_id=" + *ltenant;
    auto r = CallApiJson(lc->target, "GET", path);
    if (!r.ok()) std::exit(Fail(r.status()));
    std::vector<std::vector<std::string>> rows;
    for (const auto& v : r->as_object().at("limits").as_array()) {
      const auto& l = v.as_object();
      const auto& scope = l.at("scope").as_object();
      const auto& w = l.at("window").as_object();
      std::string who = Str(scope.at("level"));
      if (auto* t = scope.if_contains("tenant_id")) who += ":" + Str(*t);
      if (auto* s = scope.if_contains("subject_id")) who += "/" + Str(*s);
      rows.push_back({Str(l.at("id")), who, Str(l.at("metric")),
                      absl::StrCat(Str(w.at("size")), " ", Str(w.at("unit")), " ", Str(w.at("kind"))),
                      Str(l.at("limit")), Str(l.at("action")), Str(l.at("mode"))});
    }
    PrintTable({"ID", "SCOPE", "METRIC", "WINDOW", "LIMIT", "ACTION", "MODE"}, rows);
  });

  auto* set = limits->add_subcommand("set", "create or replace a limit");
  auto sc = std::make_shared<Common>();
  struct SetArgs {
    std::string id, level = "tenant", tenant, subject, metric = "tokens", unit = "day", kind,
        action = "deny", mode = "inherit";
    int size = 1;
    std::string limit;
    std::vector<std::string> models;
  };
  auto a = std::make_shared<SetArgs>();
  AddCommon(set, sc.get());
  set->add_option("--id", a->id, "replace the limit with this id");
  set->add_option("--level", a->level, "global | tenant | user | agent | key")->capture_default_str();
  set->add_option("--tenant", a->tenant, "tenant id, or * for each tenant");
  set->add_option("--subject", a->subject, "user, agent or key id, or * for each");
  set->add_option("--metric", a->metric, "tokens | input_tokens | output_tokens | cost_usd | requests")
      ->capture_default_str();
  set->add_option("--unit", a->unit, "minute | hour | day | week | month")->capture_default_str();
  set->add_option("--size", a->size, "window size in units")->capture_default_str();
  set->add_option("--kind", a->kind, "calendar | rolling (default by unit)");
  set->add_option("--limit", a->limit, "the limit (USD for cost_usd)")->required();
  set->add_option("--models", a->models, "provider:model globs")->delimiter(',');
  set->add_option("--action", a->action, "deny | downgrade")->capture_default_str();
  set->add_option("--mode", a->mode, "inherit | off | shadow | enforce")->capture_default_str();
  set->final_callback([=] {
    if (!ResolveKey(sc.get())) std::exit(1);
    json::object scope{{"level", a->level}};
    if (!a->tenant.empty()) scope["tenant_id"] = a->tenant;
    if (!a->subject.empty()) scope["subject_id"] = a->subject;
    json::object window{{"unit", a->unit}, {"size", a->size}};
    if (!a->kind.empty()) window["kind"] = a->kind;
    boost::system::error_code ec;
    json::value limit = json::parse(a->limit, ec);
    if (ec || !limit.is_number()) {
      std::cerr << "error: --limit must be a number\n";
      std::exit(1);
    }
    json::array models;
    for (const auto& m : a->models) models.push_back(json::string(m));
    json::object body{{"scope", scope}, {"metric", a->metric}, {"window", window},
                      {"limit", limit}, {"models", models}, {"action", a->action},
                      {"mode", a->mode}};
    auto r = a->id.empty()
                 ? CallApiJson(sc->target, "POST", "/api/admin/limits", json::serialize(body))
                 : CallApiJson(sc->target, "PUT", "/api/admin/limits/" + a->id, json::serialize(body));
    if (!r.ok()) std::exit(Fail(r.status()));
    std::cout << Str(r->as_object().at("id")) << "\n";
  });

  auto* rm = limits->add_subcommand("rm", "remove a limit");
  auto rc = std::make_shared<Common>();
  auto rid = std::make_shared<std::string>();
  AddCommon(rm, rc.get());
  rm->add_option("id", *rid, "limit id")->required();
  rm->final_callback([=] {
    if (!ResolveKey(rc.get())) std::exit(1);
    auto r = CallApiJson(rc->target, "DELETE", "/api/admin/limits/" + *rid);
    if (!r.ok()) std::exit(Fail(r.status()));
    std::cout << "removed " << *rid << "\n";
  });
}

void RegisterUsage(CLI::App& app) {
  auto* usage = app.add_subcommand("usage", "daily usage summary");
  auto c = std::make_shared<Common>();
  auto tenant = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>();
  auto days = std::make_shared<int>(7);
  auto format = std::make_shared<std::string>("table");
  AddCommon(usage, c.get());
  usage->add_option("--tenant", *tenant, "one tenant");
  usage->add_option("--user", *user, "one user");
  usage->add_option("--days", *days, "how many days back")->capture_default_str();
  usage->add_option("--format", *format, "table | csv | json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  usage->final_callback([=] {
    if (!ResolveKey(c.get())) std::exit(1);
    std::string path = absl::StrCat("/api/admin/usage/summary?days=", *days);
    if (!tenant->empty()) absl::StrAppend(&path, "&tenant_id=", *tenant);
    if (!user->empty()) absl::StrAppend(&path, "&user_id=", *user);
    auto r = CallApiJson(c->target, "GET", path);
    if (!r.ok()) std::exit(Fail(r.status()));
    if (*format == "json") {
      std::cout << server::SerializeJson(*r) << "\n";
      return;
    }
    std::vector<std::string> header = {"date", "prompt_tokens", "completion_tokens", "total_tokens",
                                       "input_cost_usd", "output_cost_usd", "requests"};
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : r->as_object().at("daily").as_array()) {
      std::vector<std::string> row;
      for (const auto& h : header) row.push_back(Str(d.as_object().at(h)));
      rows.push_back(row);
    }
    if (*format == "csv") {
      std::cout << absl::StrJoin(header, ",") << "\n";
      for (auto& row : rows) {
        for (auto& f : row) f = CsvField(f);
        std::cout << absl::StrJoin(row, ",") << "\n";
      }
      return;
    }
    PrintTable(header, rows);
  });
}

}  // namespace

void RegisterAdminCommands(CLI::App& app) {
  RegisterKeys(app);
  RegisterLimits(app);
  RegisterUsage(app);
}

}  // namespace tollgate::cli
