#pragma once

// The metering engine: which limits match a call, how much each has used and reserved
// in its current window, and whether the call may spend. Counters live in memory; the
// ledger (Store) persists what Settle returns and gives it back through Restore.
//
// Matching. A limit applies to a call when its scope names the call's tenant (or "*"),
// the call carries the scope's subject (user, agent or key id; a user limit never
// matches a call without a user), the subject is named or "*", and one of its `models`
// globs matches "provider:model" (or it has none). A limit of the same level, metric,
// window and model set that names the tenant and/or subject replaces a "*" one for that
// subject. Every limit left is checked; the call passes only if all pass.
//
// Subjects. Each (limit, subject) pair has its own counter. The subject string is ""
// for global limits, the tenant id for tenant limits, and "<tenant>/<id>" for user,
// agent and key limits (ids are only unique within a tenant; '/' is not an id
// character).
//
// Windows. See src/engine/window.h and docs/limits.md: calendar windows align in the
// tenant's time zone (global limits in UTC); rolling windows are counted in 10 buckets
// and never under-count the exact sliding window (over-count bound: one bucket, 10% of
// the window's length in time).
//
// Modes resolve limit -> tenant -> EngineOptions.default_mode. `off`: the limit is
// never checked and reserves nothing, but Settle still counts usage on it, so Status
// shows it. `shadow`: checked and reserved; a refusal yields decision shadow_deny and
// allowed stays true. `enforce`: a refusal denies the call and reserves nothing.
//
// Reservations. Check reserves the expected amount on every matching limit not in mode
// off, all or nothing. `reserved` is held across window boundaries: the call settles
// into whichever window is current when it reports. A reservation not settled or
// released within EngineOptions.lease is freed on the next call into the engine.
//
// Thread safety: every method of Engine is safe to call concurrently (one mutex).
// Time comes only from the injected Clock; nothing runs in the background.

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

// Amounts are in the limit's metric unit (tokens, requests, or nano-USD for cost_usd).
struct LimitStatus {
  Limit limit;
  std::string subject;  // the counter's subject: "", tenant id, or "<tenant>/<id>"
  int64_t used = 0;
  int64_t reserved = 0;   // by calls in flight (after this call's reservation, in Check)
  int64_t remaining = 0;  // max(0, limit - used - reserved)
  // Calendar: the window's start. Rolling: the start of the oldest bucket counted.
  absl::Time window_start;
  // Calendar: the window's end. Rolling: when `used` will next fall (the oldest
  // non-empty bucket leaves the window); now when nothing is used.
  absl::Time resets_at;
  Mode mode = Mode::kEnforce;  // effective mode: off | shadow | enforce
};

struct CheckResult {
  bool allowed = true;
  DecisionKind decision = DecisionKind::kAllow;  // allow | deny | shadow_deny
  std::string reservation_id;  // set when allowed (also under shadow_deny)
  absl::Time expires_at;       // lease end of the reservation
  std::vector<LimitStatus> limits;  // every matching limit not in mode off
  // When a limit refused (enforced) or would have refused (shadow). With several,
  // `blocking` is an enforced one before a shadow one, then one that can never fit,
  // then the one that frees up last.
  std::string reason;  // "user alice: 9,500 of 10,000 tokens used today; this call needs 1,024"
  std::optional<LimitStatus> blocking;
  // Calendar: until the window resets. Rolling: until enough buckets have left the
  // window for the call to fit next to the current reservations. Unset when the call
  // needs more than the limit itself (it can never fit).
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
  // mode that would refuse yields decision shadow_deny but still reserves. The
  // reservation belongs to ctx.tenant_id. `substituted`: a policy replaced the
  // requested model with ctx's, which the reservation remembers (Find).
  CheckResult Check(const CallContext& ctx, const Amount& expected, bool substituted = false);
  // As Check, but reserves nothing.
  CheckResult Evaluate(const CallContext& ctx, const Amount& expected) const;

  // A held reservation, as its report needs it.
  struct Held {
    // Set when the check substituted a model: the model the call was reserved for.
    std::string provider_used;
    std::string model_used;
  };
  // The reservation when `tenant_id` holds it; nullopt when it is unknown, another
  // tenant's, or already settled, released or expired.
  std::optional<Held> Find(std::string_view tenant_id, std::string_view reservation_id) const;

  // Frees the reservation (when given and still held by ctx.tenant_id) and charges
  // `actual` to every limit matching `ctx`, in every mode (off included), in the window
  // current now. Returns one cell per counter it changed (amount = what this call
  // added), for the ledger. `limits`, when given, receives what Status(ctx) would answer
  // right after.
  std::vector<CounterDelta> Settle(std::string_view reservation_id, const CallContext& ctx,
                                   const Amount& actual,
                                   std::vector<LimitStatus>* limits = nullptr);
  // Frees a reservation `tenant_id` holds. False when unknown, another tenant's, or
  // already settled, released or expired.
  bool Release(std::string_view tenant_id, std::string_view reservation_id);

  // The limits that apply to `ctx` (any model when ctx.model is empty), with usage.
  std::vector<LimitStatus> Status(const CallContext& ctx) const;

  // Adds persisted counter cells back (on start). Cells of unknown limits are kept,
  // in case the limit arrives later; expired cells are dropped, and so are calendar
  // cells of a window other than the current one. A negative amount takes a charge
  // back out (counters never go below zero).
  void Restore(const std::vector<CounterDelta>& cells);

  // (limit, subject) counters held in memory (for metrics and the memory benchmark).
  // Counters whose window is over are dropped at most once a minute of clock time.
  size_t ActiveCounters() const;
  // Reservations held (made, not yet settled, released or expired).
  size_t HeldReservations() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate
