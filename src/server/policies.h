#pragma once

// The model-policy service: policy documents (JSON per SPEC section 6) at global, tenant
// and user level, stored with the configuration; the limit records each policy owns;
// the cache of effective policies; and resolution of a call against the engine's
// downgrade limits. docs/policies.md describes the semantics.
//
// Owned limits. A policy's `limits` become ordinary limit records with
// owner "policy:global", "policy:tenant:<t>" or "policy:user:<t>/<u>" and ids derived
// from the owner (so rewriting a policy keeps the counters):
//   daily_tokens   -> tokens per calendar day, action downgrade, on the effective
//                     downgrade chain minus its last model (the floor, which the daily
//                     budget never refuses); on every model when there is no such chain;
//   rate_limit_rpm -> requests per rolling minute, deny; rate_limit_tpm -> tokens, deny.
// Scope: a global policy's limits apply to each user of every tenant (user, "*", "*"),
// a tenant's to each user of the tenant (user, t, "*"), a user's to that user.
// Every write recomputes the owned limits of every policy (a chain set at one level
// changes the daily limits of the levels below it) and writes only those that changed.
//
// Thread safety: every method is safe to call concurrently; writes are serialised.

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/policy.h"
#include "tollgate/engine.h"
#include "tollgate/types.h"

namespace tollgate::server {

class Metering;

// How long an effective policy stays cached. Writes through the API invalidate at once;
// the TTL bounds staleness from price-tier edits and from other processes.
inline constexpr absl::Duration kPolicyCacheTtl = absl::Seconds(5);

// Parses a policy document strictly: unknown fields, wrong types, ids outside the
// charset, bad patterns and out-of-range numbers are InvalidArgument naming the field.
// `provider` and `model` come together. An empty object is the empty policy.
absl::StatusOr<engine::Policy> PolicyFromJson(const boost::json::object& body);
// The document form (the inverse of PolicyFromJson).
boost::json::object PolicyToJson(const engine::Policy& p);
// The merged policy in document form.
boost::json::object EffectiveToJson(const engine::EffectivePolicy& e);
boost::json::array TraceToJson(const std::vector<engine::TraceEntry>& trace);

// Which document: (global, "", ""), (tenant, t, ""), (user, t, u).
struct PolicyKey {
  Level level = Level::kGlobal;
  std::string tenant_id;
  std::string user_id;
  auto operator<=>(const PolicyKey&) const = default;
};

struct StoredPolicy {
  PolicyKey key;
  engine::Policy policy;
  absl::Time updated_at;
};

// A call to resolve. ctx.provider / ctx.model are the requested model.
struct PolicyQuery {
  CallContext ctx;
  int64_t input_tokens = 0;
  std::optional<int64_t> max_tokens;
  std::optional<double> temperature;
  bool with_trace = false;
};

class PolicyService {
 public:
  // `metering` must outlive the service.
  explicit PolicyService(Metering* metering);

  // Reads every policy from the store and brings the owned limits in line with them.
  absl::Status Load();

  // Replaces the document at `key` (the empty policy deletes it) and its owned limits.
  // Errors: InvalidArgument (a key of the wrong shape), NotFound (no such tenant),
  // store errors. The next Effective() sees the change.
  absl::StatusOr<std::optional<StoredPolicy>> Put(const PolicyKey& key, engine::Policy policy);
  std::optional<StoredPolicy> Get(const PolicyKey& key) const;
  // Every policy; with a tenant, that tenant's and its users' (not the global one).
  std::vector<StoredPolicy> List(std::string_view tenant_id) const;
  // Forgets the documents of a deleted tenant (the store deletes them with it).
  void ForgetTenant(std::string_view tenant_id);

  // Drops every cached effective policy (e.g. after a price-tier change).
  void Invalidate() { cache_.Invalidate(); }

  // True when any document exists: without one, calls are never resolved.
  bool Any() const { return any_.load(std::memory_order_acquire); }

  // The merge of global, tenant and (when user_id is set) user documents, cached.
  std::shared_ptr<const engine::EffectivePolicy> Effective(std::string_view tenant_id,
                                                           std::string_view user_id);

  // Resolves a call: the lists, the tier cap (from the price catalog), the downgrade
  // limits of the engine (Engine::Evaluate on the candidate, limits with action
  // downgrade in effective mode enforce), max_context, max_tokens and temperature.
  engine::Resolution Resolve(const PolicyQuery& query);

  // The catalog tier of a model ("" when unknown or untiered).
  std::string TierOf(std::string_view provider, std::string_view model) const;

  // The owner string of the limits that `key`'s policy owns.
  static std::string Owner(const PolicyKey& key);

 private:
  // The limits the policies want, by id. REQUIRES: mu_ held.
  std::map<std::string, Limit> DesiredLimits() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Writes changed owned limits and deletes stale ones. REQUIRES: write_mu_ held.
  absl::Status SyncOwnedLimits() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  std::shared_ptr<const engine::EffectivePolicy> Build(std::string_view tenant_id,
                                                       std::string_view user_id) const;

  Metering* metering_;
  engine::PolicyCache cache_;
  std::atomic<bool> any_{false};

  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // serialises Put and Load
  mutable absl::Mutex mu_;
  std::map<PolicyKey, StoredPolicy> docs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tollgate::server
