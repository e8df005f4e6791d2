#pragma once

// Model policies (SPEC section 6): which models a tenant's users may call, what a
// forbidden or over-budget model is replaced with, and the request defaults a policy
// imposes. docs/policies.md describes the semantics for users.
//
// A Policy is one level's document (global, tenant or user); every field is optional
// and an absent field inherits from the less specific level. Merge folds the levels
// into an EffectivePolicy, and Resolve applies it to one requested call. Both are pure
// functions: the price catalog (tiers) and the limit engine ("would this model's
// downgrade limits refuse the call?") come in as callbacks, so tests and the benchmark
// need no server.
//
// Model names are "provider:model". Allow- and blocklists hold globs (`*` = any run of
// characters, case-sensitive); the default model and the downgrade chain hold exact
// names.
//
// Thread safety: the free functions are reentrant; PolicyCache is safe to use
// concurrently.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tollgate/clock.h"
#include "tollgate/types.h"

namespace tollgate::engine {

// Tiers, cheapest first. A policy's `tier` is the most expensive tier it allows.
// Returns 0 for "" or an unknown name (no tier), 1 economy, 2 standard, 3 premium.
int TierRank(std::string_view tier);

struct PolicyLimits {
  std::optional<int64_t> daily_tokens;    // tokens per calendar day, action downgrade
  std::optional<int64_t> max_context;     // input tokens; a larger call is refused
  std::optional<int64_t> rate_limit_rpm;  // requests per rolling minute, action deny
  std::optional<int64_t> rate_limit_tpm;  // tokens per rolling minute, action deny
  bool operator==(const PolicyLimits&) const = default;
};

// One level's document. Absent = inherit from the less specific level.
struct Policy {
  std::optional<std::string> model;  // the default model, "provider:model"
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;  // cap on the request's max output tokens
  std::optional<std::string> tier;    // economy | standard | premium
  PolicyLimits limits;
  std::optional<std::vector<std::string>> allowlist;  // globs
  std::optional<std::vector<std::string>> blocklist;  // globs
  std::optional<std::vector<std::string>> downgrade;  // exact names, most expensive first
  bool operator==(const Policy&) const = default;
  bool Empty() const { return *this == Policy(); }
};

template <typename T>
struct Sourced {
  T value;
  Level level = Level::kGlobal;  // the level that set it
};

// The merge of global -> tenant -> user. Scalars: the most specific level that sets
// them. Allowlists intersect: a model must match some pattern of every level's list.
// Blocklists unite: a pattern of any level forbids.
struct EffectivePolicy {
  bool empty = true;  // no level has a document
  std::optional<Sourced<std::string>> model;
  std::optional<Sourced<double>> temperature;
  std::optional<Sourced<int64_t>> max_tokens;
  std::optional<Sourced<std::string>> tier;
  std::optional<Sourced<int64_t>> daily_tokens;
  std::optional<Sourced<int64_t>> max_context;
  std::optional<Sourced<int64_t>> rate_limit_rpm;
  std::optional<Sourced<int64_t>> rate_limit_tpm;
  std::vector<Sourced<std::vector<std::string>>> allowlists;  // one per level that has one
  std::vector<Sourced<std::vector<std::string>>> blocklists;  // one per level that has one
  std::optional<Sourced<std::vector<std::string>>> downgrade;
};

// Any of the three may be null (no document at that level).
EffectivePolicy Merge(const Policy* global, const Policy* tenant, const Policy* user);

// Why `model` ("provider:model") is forbidden by the lists or the tier cap, or nullopt
// when it is allowed. `tier_of` gives a model's catalog tier ("" unknown: a model
// without a tier is never refused by the tier cap); it may be null.
using TierFn = std::function<std::string(std::string_view provider, std::string_view model)>;
std::optional<std::string> Forbidden(const EffectivePolicy& policy, std::string_view model,
                                     const TierFn& tier_of);

// One line of the explanation: which level set a field, and its value.
struct TraceEntry {
  std::string field;  // "model", "temperature", "limits.daily_tokens", "allowlist", ...
  Level level = Level::kGlobal;
  std::variant<int64_t, double, std::string, std::vector<std::string>> value;
};
std::vector<TraceEntry> Trace(const EffectivePolicy& policy);

struct ModelChange {
  std::string from;  // "provider:model"
  std::string to;
  std::string why;
};

enum class PolicyDecision { kAllow, kDowngrade, kDeny };
std::string_view ToString(PolicyDecision d);

struct ResolveRequest {
  std::string provider;
  std::string model;
  int64_t input_tokens = 0;
  std::optional<int64_t> max_tokens;  // the request's max output tokens
  std::optional<double> temperature;
};

// The candidate a WouldRefuseFn is asked about; max_tokens is already clamped.
struct Candidate {
  std::string_view provider;
  std::string_view model;
  int64_t input_tokens = 0;
  std::optional<int64_t> max_tokens;
};
// The reason a `downgrade` limit would refuse the candidate, or nullopt when none does.
using WouldRefuseFn = std::function<std::optional<std::string>(const Candidate&)>;

struct Resolution {
  PolicyDecision decision = PolicyDecision::kAllow;
  std::string requested;  // "provider:model"
  std::string provider;   // of the model to use (the requested one unless changed)
  std::string model;
  std::optional<int64_t> max_tokens;  // after the clamp / default
  bool max_tokens_clamped = false;    // the request asked for more than the policy allows
  std::optional<double> temperature;  // the request's, or the policy's default
  bool temperature_defaulted = false;
  // Deny only: model_not_allowed | downgrade_chain_exhausted | context_too_large.
  std::string code;
  std::string reason;             // deny: why; downgrade: the last change's why
  std::vector<TraceEntry> trace;  // filled only when asked (ResolveOptions)
  // Model changes, in order (on a denial: the steps tried before the chain ran out).
  std::vector<ModelChange> changes;
};

struct ResolveOptions {
  bool with_trace = false;
};

// Applies `policy` to `request`, in the order of SPEC section 6:
//  1. a model the lists or the tier cap forbid is replaced by the policy's default
//     model when that is allowed, else by the next allowed model of the downgrade chain
//     (after the requested model's place in it, or from its start when it is not in it);
//     nothing allowed: deny, model_not_allowed;
//  2. while `would_refuse` names a reason, move to the next allowed model of the chain
//     after the current one; none left (or the current model is not in the chain):
//     deny, downgrade_chain_exhausted;
//  3. input_tokens > limits.max_context: deny, context_too_large;
//  4. max_tokens: the request's, clamped to the policy's; the policy's when absent;
//  5. temperature: the request's, else the policy's.
// `would_refuse` and `tier_of` may be null (nothing refuses; no tiers).
Resolution Resolve(const EffectivePolicy& policy, const ResolveRequest& request,
                   const WouldRefuseFn& would_refuse, const TierFn& tier_of,
                   ResolveOptions options = {});

// Resolved effective policies per (tenant, user), each kept for `ttl`. Invalidate()
// drops every entry at once (a generation counter), so a policy written through the API
// is seen by the very next lookup; the TTL bounds how long an entry built from data
// that changed elsewhere (price tiers, another process) can live.
class PolicyCache {
 public:
  using Builder = std::function<std::shared_ptr<const EffectivePolicy>()>;

  PolicyCache(const Clock* clock, absl::Duration ttl, size_t max_entries = 100000);

  // The cached entry for (tenant, user), or build() stored and returned. build() runs
  // without the lock held; an entry built while an Invalidate() happened is returned but
  // not stored.
  std::shared_ptr<const EffectivePolicy> Get(std::string_view tenant_id, std::string_view user_id,
                                             const Builder& build);
  void Invalidate();
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const EffectivePolicy> policy;
    absl::Time expires_at;
  };
  const Clock* clock_;
  const absl::Duration ttl_;
  const size_t max_entries_;
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Key: tenant + '/' + user ('/' is not an id character).
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tollgate::engine
