#pragma once

// The metering engine: which limits match a call, how much each has used and reserved
// in its current window, and whether the call may spend. Counters live in memory; the
// ledger (Store) persists what Settle returns and gives it back through Restore.
//
// Thread safety: every method of Engine is safe to call concurrently.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "tollgate/clock.h"
#include "tollgate/types.h"

namespace tollgate {

// Who is calling which model.
struct CallContext {
  std::string tenant_id;  // required
  std::string user_id;    // may be empty: user-level limits then do not match
  std::string agent;      // may be empty
  std::string key_id;     // may be empty
  std::string provider;   // "openai"
  std::string model;      // "gpt-4o"; limits with `models` globs match "provider:model"
};

// An amount of usage in every metric at once. `requests` is normally 1.
struct Amount {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  Nanos cost = 0;
  int64_t requests = 1;
  int64_t Of(Metric m) const;  // tokens = input + output
};

struct LimitStatus {
  Limit limit;
  std::string subject;  // the concrete subject the counter belongs to
  int64_t used = 0;
  int64_t reserved = 0;
  int64_t remaining = 0;  // max(0, limit - used - reserved)
  absl::Time window_start;
  absl::Time resets_at;   // calendar: window end; rolling: when `used` will next fall
  Mode mode = Mode::kEnforce;  // effective mode: off | shadow | enforce
};

struct CheckResult {
  bool allowed = true;
  DecisionKind decision = DecisionKind::kAllow;  // allow | deny | shadow_deny
  std::string reservation_id;  // set when allowed (also under shadow_deny)
  absl::Time expires_at;       // lease end of the reservation
  std::vector<LimitStatus> limits;  // every matching limit not in mode off
  // When a limit refused (enforced) or would have refused (shadow):
  std::string reason;
  std::optional<LimitStatus> blocking;
  std::optional<absl::Duration> retry_after;
};

struct EngineOptions {
  absl::Duration lease = absl::Minutes(10);
  Mode default_mode = Mode::kEnforce;  // the config's enforcement.mode
};

class Engine {
 public:
  Engine(const Clock* clock, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Configuration. Put replaces by id.
  void PutLimit(const Limit& limit);
  void RemoveLimit(std::string_view limit_id);
  void PutTenant(const Tenant& tenant);  // time zone and mode
  void RemoveTenant(std::string_view tenant_id);
  void SetDefaultMode(Mode mode);

  // Reserves `expected` on every matching limit, all or nothing. A limit in shadow
  // mode that would refuse yields decision shadow_deny but still reserves.
  CheckResult Check(const CallContext& ctx, const Amount& expected);
  // As Check, but reserves nothing.
  CheckResult Evaluate(const CallContext& ctx, const Amount& expected) const;

  // Frees the reservation (when given and still held) and charges `actual` to every
  // limit matching `ctx`. Returns the counter cells it changed, for the ledger.
  std::vector<CounterDelta> Settle(std::string_view reservation_id, const CallContext& ctx,
                                   const Amount& actual);
  // Frees a reservation. False when unknown or already settled, released or expired.
  bool Release(std::string_view reservation_id);

  // The limits that apply to `ctx` (any model when ctx.model is empty), with usage.
  std::vector<LimitStatus> Status(const CallContext& ctx) const;

  // Adds persisted counter cells back (on start). Cells of unknown limits are kept,
  // in case the limit arrives later; expired cells are dropped.
  void Restore(const std::vector<CounterDelta>& cells);

  // Counter cells held in memory (for metrics and the memory benchmark).
  size_t ActiveCounters() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate
