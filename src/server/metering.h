#pragma once

// The metering service: everything the APIs do, without HTTP. It owns the in-memory
// views that the request path reads (keys by hash, tenants) and keeps them, the engine
// and the store consistent: configuration is written to the store first, then to
// memory; usage is charged in the engine, then committed to the ledger, and a report
// is acknowledged only after its commit.
//
// Thread safety: every method is safe to call concurrently.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "providers/prices.h"
#include "server/ledger_batcher.h"
#include "server/policies.h"
#include "tollgate/clock.h"
#include "tollgate/engine.h"
#include "tollgate/store.h"
#include "tollgate/types.h"

namespace tollgate::server {

struct MeteringOptions {
  Mode default_mode = Mode::kEnforce;
  int64_t default_output_estimate = 1024;  // tokens reserved when a call names no max
  int event_retention_days = 30;
};

// What a check asks for. input_tokens is already counted by the caller.
struct CheckRequest {
  CallContext ctx;
  int64_t input_tokens = 0;
  std::optional<int64_t> max_output_tokens;  // per answer
  std::optional<double> temperature;
  // Answers generated at once (OpenAI `n`, Gemini `candidateCount`): the output reserved
  // is the max output (after the policy's clamp) times this. REQUIRES: >= 1.
  int64_t choices = 1;
};

// When no model policy exists at any level, the call is checked as requested and only
// `result` and `model` are set. Otherwise the policy is resolved first (see
// PolicyService::Resolve): a policy denial answers without consulting the limits
// (result.decision deny, `code` set, nothing reserved); a changed model is checked
// instead of the requested one and, when allowed, the decision is downgrade.
struct CheckAnswer {
  CheckResult result;
  std::string provider;  // of the model the call may use
  std::string model;     // the model the call may use
  std::string downgraded_from;  // "provider:model" requested, when the policy changed it
  std::string code;  // a policy denial: model_not_allowed | downgrade_chain_exhausted | context_too_large
  bool policy_applied = false;
  std::optional<int64_t> max_output_tokens;  // after the policy's clamp (policy_applied)
  std::optional<double> temperature;         // the request's or the policy's default
};

struct ReportRequest {
  CallContext ctx;  // ctx.model is the requested model
  std::string model_used;  // empty: same as ctx.model
  std::string idempotency_key;
  std::string reservation_id;
  std::string request_id;
  std::string endpoint;
  Usage usage;
  int64_t latency_ms = 0;
  EventStatus status = EventStatus::kOk;
  DecisionKind decision = DecisionKind::kAllow;
  bool estimated = false;
  bool with_limits = false;  // the answer carries the limits (ReportAnswer::limits)
};

// What the report's answer needs of the recorded event (the first one, for a duplicate).
struct ReportAnswer {
  std::string event_id;
  std::string model_used;
  Cost cost;
  bool duplicate = false;
  // With ReportRequest::with_limits: every limit of the charged call, as the charge
  // left it (for a duplicate, once the charge was taken back).
  std::vector<LimitStatus> limits;
};

struct NewKey {
  ApiKey key;
  std::string secret;  // shown once
};

class Metering {
 public:
  Metering(const Clock* clock, Store* store, Engine* engine, providers::PriceCatalog* prices,
           MeteringOptions options);

  // Loads tenants, keys, limits, price overrides and live counters from the store.
  absl::Status Load();

  // On an empty key table, creates the admin key: `admin_secret` when non-empty, else a
  // random one. Returns the secret when it generated one, "" otherwise.
  absl::StatusOr<std::string> Bootstrap(std::string_view admin_secret);

  // The key this secret belongs to; null when it matches none.
  std::shared_ptr<const ApiKey> Authenticate(std::string_view secret) const;

  // --- Tenants.
  absl::StatusOr<Tenant> CreateTenant(Tenant tenant);
  absl::StatusOr<Tenant> UpdateTenant(const Tenant& tenant);
  absl::Status DeleteTenant(std::string_view id);
  std::optional<Tenant> GetTenant(std::string_view id) const;
  std::vector<Tenant> ListTenants() const;

  // --- Keys.
  absl::StatusOr<NewKey> CreateKey(ApiKey key);
  absl::Status DeleteKey(std::string_view id);
  // Empty tenant_id: every key.
  std::vector<ApiKey> ListKeys(std::string_view tenant_id) const;
  std::optional<ApiKey> GetKey(std::string_view id) const;

  // --- Limits. Put validates and normalises the limit (see ValidateLimit).
  absl::StatusOr<Limit> PutLimit(Limit limit);
  absl::Status DeleteLimit(std::string_view id);
  absl::StatusOr<Limit> GetLimit(std::string_view id);
  absl::StatusOr<std::vector<Limit>> ListLimits();

  // --- Prices: an admin override, stored and applied at once.
  absl::Status PutPrice(Price price);

  // --- Model policies.
  PolicyService* policies() { return policies_.get(); }

  // --- Metering.
  CheckAnswer Check(const CheckRequest& request);
  // `done` runs once, after the event is durable (or failed): on a store thread, or on
  // the calling thread (Store::Append). It must not block: the store's writer waits for
  // it. With `loop` (the calling thread's own event loop, see LedgerBatcher) the event
  // is written with the others of the loop's current turn.
  void Report(ReportRequest request, std::function<void(absl::StatusOr<ReportAnswer>)> done,
              const boost::asio::any_io_executor& loop = {});
  // Frees a reservation held by `tenant_id`. NotFound when unknown or not the tenant's.
  absl::Status Release(std::string_view tenant_id, std::string_view reservation_id);
  std::vector<LimitStatus> Status(const CallContext& ctx) const;
  // The effective enforcement mode of a tenant (tenant → config).
  Mode TenantMode(std::string_view tenant_id) const;

  // Drops events older than the retention period. Returns how many.
  absl::StatusOr<int64_t> Sweep();

  // The date (YYYY-MM-DD) of `t` in the tenant's time zone.
  std::string LocalDate(std::string_view tenant_id, absl::Time t) const;
  absl::TimeZone TenantZone(std::string_view tenant_id) const;

  Store* store() { return store_; }
  Engine* engine() { return engine_; }
  providers::PriceCatalog* prices() { return prices_; }
  const Clock* clock() const { return clock_; }
  const MeteringOptions& options() const { return options_; }

  // The cost of `input` + `output` tokens of ctx's model at catalog prices (0 unknown).
  Nanos EstimateCost(const CallContext& ctx, int64_t input, int64_t output) const;

 private:
  const Clock* clock_;
  Store* store_;
  LedgerBatcher ledger_;
  Engine* engine_;
  providers::PriceCatalog* prices_;
  const MeteringOptions options_;

  // Read on every request (keys, zones), written by configuration changes: the
  // readers share it.
  mutable absl::Mutex mu_;
  // Shared and immutable: a request holds its caller's key without copying it.
  absl::flat_hash_map<std::string, std::shared_ptr<const ApiKey>> keys_by_hash_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  // Each tenant's loaded time zone (every report needs its local date).
  absl::flat_hash_map<std::string, absl::TimeZone> zones_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<PolicyService> policies_;
};

// Checks a limit's fields and fills defaults. `id` is generated when empty.
absl::Status ValidateLimit(Limit& limit);

}  // namespace tollgate::server
