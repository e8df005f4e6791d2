#pragma once

// The vocabulary shared by every tollgate module: limits, usage, events, tenants, keys
// and prices. Plain values; no behaviour beyond string conversions.
//
// Units: token counts are tokens; money is nano-USD (1 USD = 1e9) in int64;
// a price is nano-USD per million tokens.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace tollgate {

using Nanos = int64_t;  // nano-USD

enum class Level { kGlobal, kTenant, kUser, kAgent, kKey };
enum class Metric { kTokens, kInputTokens, kOutputTokens, kCostUsd, kRequests };
enum class WindowUnit { kMinute, kHour, kDay, kWeek, kMonth };
enum class WindowKind { kCalendar, kRolling };
enum class Action { kDeny, kDowngrade };
// kInherit only appears on limits and tenants: it defers to the next level.
enum class Mode { kInherit, kOff, kShadow, kEnforce };
enum class Role { kAdmin, kTenantAdmin, kAgent, kClient };
enum class EventStatus { kOk, kError, kCancelled, kDenied };
enum class DecisionKind { kAllow, kDowngrade, kDeny, kShadowDeny };

std::string_view ToString(Level v);
std::string_view ToString(Metric v);
std::string_view ToString(WindowUnit v);
std::string_view ToString(WindowKind v);
std::string_view ToString(Action v);
std::string_view ToString(Mode v);
std::string_view ToString(Role v);
std::string_view ToString(EventStatus v);
std::string_view ToString(DecisionKind v);

// Parsers accept exactly the names ToString gives (lower case); nullopt otherwise.
std::optional<Level> ParseLevel(std::string_view s);
std::optional<Metric> ParseMetric(std::string_view s);
std::optional<WindowUnit> ParseWindowUnit(std::string_view s);
std::optional<WindowKind> ParseWindowKind(std::string_view s);
std::optional<Action> ParseAction(std::string_view s);
std::optional<Mode> ParseMode(std::string_view s);
std::optional<Role> ParseRole(std::string_view s);
std::optional<EventStatus> ParseEventStatus(std::string_view s);

// Who a limit applies to.
//  global: tenant_id and subject_id empty.
//  tenant: tenant_id is the tenant, or "*" for each tenant; subject_id equals tenant_id.
//  user | agent | key: tenant_id is the tenant (or "*" for each tenant, admin only);
//    subject_id the user, agent or key id, or "*" for each subject separately.
struct Scope {
  Level level = Level::kGlobal;
  std::string tenant_id;
  std::string subject_id;
  bool operator==(const Scope&) const = default;
};

struct Window {
  WindowUnit unit = WindowUnit::kDay;
  int32_t size = 1;  // >= 1
  WindowKind kind = WindowKind::kCalendar;
  bool operator==(const Window&) const = default;
  absl::Duration Length() const;  // nominal length (a month counts 30 days)
  // Windows of one hour or less are rates (429); longer ones are quotas (403).
  bool IsRate() const { return Length() <= absl::Hours(1); }
};

struct Limit {
  std::string id;  // "lim_…"
  Scope scope;
  Metric metric = Metric::kTokens;
  Window window;
  int64_t limit = 0;  // tokens or requests; nano-USD when metric is cost_usd
  std::vector<std::string> models;  // provider:model globs; empty = every model
  Action action = Action::kDeny;
  Mode mode = Mode::kInherit;
  std::vector<double> alert_thresholds;
  std::string owner;  // empty, or the policy that owns this limit ("policy:user:acme/alice")
  absl::Time created_at = absl::UnixEpoch();
  absl::Time updated_at = absl::UnixEpoch();
};

// Usage of one call, normalised from any provider's shape. All counts are tokens.
// input_tokens includes cached_input_tokens and cache_write_tokens; output_tokens
// includes reasoning_tokens; total_tokens = input_tokens + output_tokens.
struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_input_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t reasoning_tokens = 0;
  int64_t total_tokens = 0;
  bool operator==(const Usage&) const = default;
  // Field by field (summing events into an aggregate).
  Usage& operator+=(const Usage& o) {
    input_tokens += o.input_tokens;
    output_tokens += o.output_tokens;
    cached_input_tokens += o.cached_input_tokens;
    cache_write_tokens += o.cache_write_tokens;
    reasoning_tokens += o.reasoning_tokens;
    total_tokens += o.total_tokens;
    return *this;
  }
};

struct Cost {
  Nanos input = 0;
  Nanos output = 0;
  Nanos Total() const { return input + output; }
  Cost& operator+=(const Cost& o) {
    input += o.input;
    output += o.output;
    return *this;
  }
};

struct UsageEvent {
  std::string event_id;  // "evt_…"
  absl::Time ts = absl::UnixEpoch();
  std::string tenant_id;
  std::string user_id;
  std::string agent;
  std::string key_id;
  std::string request_id;
  std::string idempotency_key;
  std::string provider;
  std::string model;       // requested
  std::string model_used;  // after any downgrade
  std::string endpoint;
  Usage usage;
  Cost cost;
  int64_t latency_ms = 0;
  EventStatus status = EventStatus::kOk;
  DecisionKind decision = DecisionKind::kAllow;
  bool estimated = false;
};

struct Tenant {
  std::string id;
  std::string name;
  std::string timezone = "UTC";  // IANA name
  Mode mode = Mode::kInherit;
  absl::Time created_at = absl::UnixEpoch();
};

struct ApiKey {
  std::string id;  // "key_…", public
  Role role = Role::kClient;
  std::string tenant_id;  // empty only for admin
  std::string user_id;    // optional binding (client keys)
  std::string name;
  std::string secret_hash;  // hex SHA-256 of the secret
  absl::Time created_at = absl::UnixEpoch();
};

// Prices in nano-USD per million tokens.
struct Price {
  std::string provider;
  std::string model;
  Nanos input_per_mtok = 0;
  Nanos output_per_mtok = 0;
  Nanos cached_input_per_mtok = 0;
  Nanos cache_write_per_mtok = 0;
  std::string tier;             // premium | standard | economy | ""
  bool is_override = false;     // set by an admin, not from the catalog
};

// One persisted counter cell: what a limit has counted for one subject in one window
// (calendar window, or one bucket of a rolling window). The ledger stores these with
// the event that produced them; the engine adds them back on restart.
struct CounterDelta {
  std::string limit_id;
  std::string subject;     // the concrete subject ("" global, tenant id, user id, ...)
  int64_t window_start = 0;  // unix seconds of the window or bucket start
  int64_t amount = 0;        // in the limit's metric unit
  absl::Time expires_at = absl::UnixEpoch();  // after this the cell no longer counts
};

}  // namespace tollgate
