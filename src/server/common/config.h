#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/http/server.h"
#include "tollgate/types.h"

namespace tollgate::server {

enum class FailMode { kOpen, kClosed };

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT, [IPv6]:PORT; port 0 = any free
  std::string data_dir = "./var";         // admin.key and the default store live here
  int64_t max_body_bytes = 8 * 1024 * 1024;
  int threads = 2;  // measured: +25% check+report req/s over 1 on 2 cores (bench/RESULTS.md)
  int read_timeout_s = 30;
  int write_timeout_s = 30;
  int idle_timeout_s = 60;
  int max_connections = 10000;
};

struct StorageConfig {
  std::string backend = "sqlite";  // only "sqlite" is built
  std::string path;                // empty: <data_dir>/tollgate.db
  // "normal": an acknowledged report survives a crash of the process (kill -9, SPEC
  // section 8), not of the machine; "full": every commit is also fsynced, so it survives
  // power loss, at the price of an fsync in every report's latency.
  std::string sync = "normal";
};

struct EnforcementConfig {
  Mode mode = Mode::kEnforce;  // kOff, kShadow or kEnforce (never kInherit)
  FailMode fail_mode = FailMode::kClosed;
};

struct MeteringConfig {
  int event_retention_days = 30;
  int64_t default_output_estimate = 1024;  // tokens
  int lease_s = 600;
};

struct ProviderConfig {
  std::string base_url;
  std::string api_key_env;  // name of the environment variable holding the key
  int timeout_s = 600;          // longest wait for the answer's headers and each next piece
  int connect_timeout_s = 10;   // DNS, TCP and TLS handshake
  std::string ca_file{};        // PEM bundle to verify the provider with; empty: the system store
};

// The whole configuration (see docs/configuration.md for every key).
struct Config {
  ServerConfig server;
  StorageConfig storage;
  EnforcementConfig enforcement;
  MeteringConfig metering;
  ProviderConfig openai{.base_url = "https://api.openai.com/v1", .api_key_env = "OPENAI_API_KEY"};
  ProviderConfig anthropic{.base_url = "https://api.anthropic.com",
                           .api_key_env = "ANTHROPIC_API_KEY"};
  ProviderConfig gemini{.base_url = "https://generativelanguage.googleapis.com",
                        .api_key_env = "GEMINI_API_KEY"};

  // storage.path, or <server.data_dir>/tollgate.db when it is empty.
  std::string StorePath() const;
};

// Environment variables starting with TOLLGATE_ that are not config overrides and are
// therefore not rejected: TOLLGATE_ADMIN_KEY (bootstrap admin key).
bool IsReservedEnvName(std::string_view name);

// Loads the defaults, then the TOML file at `path` (skipped when empty), then the
// overrides in `env` (TOLLGATE_<SECTION>_<KEY>, e.g. TOLLGATE_SERVER_LISTEN,
// TOLLGATE_PROVIDERS_OPENAI_BASE_URL; other variables are ignored).
// Fails (InvalidArgument, NotFound for a missing file) with a message naming the key
// (or the variable) on: a file that cannot be read or parsed, an unknown key, an
// unknown TOLLGATE_ variable, a value of the wrong type or out of range, and
// storage.backend = "postgres" (not built yet).
absl::StatusOr<Config> LoadConfig(const std::string& path,
                                  const std::map<std::string, std::string>& env);

// LoadConfig with the process environment.
absl::StatusOr<Config> LoadConfigFromEnvironment(const std::string& path);

// The process environment as a map.
std::map<std::string, std::string> ProcessEnvironment();

struct ListenAddress {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
};

// Parses "HOST:PORT" or "[IPv6]:PORT". Use it to check a --listen flag.
absl::StatusOr<ListenAddress> ParseListen(std::string_view listen);

// Server options from the [server] section. REQUIRES: config came from LoadConfig (or
// its listen value passed ParseListen).
ServerOptions ServerOptionsFromConfig(const Config& config);

}  // namespace tollgate::server
