#include "engine/policy.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/glob.h"

namespace tollgate::engine {
namespace {

template <typename T>
void Take(std::optional<Sourced<T>>& out, const std::optional<T>& in, Level level) {
  if (in) out = Sourced<T>{*in, level};
}

std::string Join(std::string_view provider, std::string_view model) {
  std::string s;
  s.reserve(provider.size() + model.size() + 1);
  s.append(provider);
  s.push_back(':');
  s.append(model);
  return s;
}

std::pair<std::string_view, std::string_view> Split(std::string_view pm) {
  size_t colon = pm.find(':');
  if (colon == std::string_view::npos) return {std::string_view(), pm};
  return {pm.substr(0, colon), pm.substr(colon + 1)};
}

std::string LevelName(Level l) { return std::string(ToString(l)); }

// The position of `model` in `chain`, or chain.size() when absent.
size_t IndexIn(const std::vector<std::string>& chain, std::string_view model) {
  for (size_t i = 0; i < chain.size(); ++i)
    if (chain[i] == model) return i;
  return chain.size();
}

}  // namespace

int TierRank(std::string_view tier) {
  if (tier == "economy") return 1;
  if (tier == "standard") return 2;
  if (tier == "premium") return 3;
  return 0;
}

std::string_view ToString(PolicyDecision d) {
  switch (d) {
    case PolicyDecision::kAllow:
      return "allow";
    case PolicyDecision::kDowngrade:
      return "downgrade";
    case PolicyDecision::kDeny:
      return "deny";
  }
  return "allow";
}

EffectivePolicy Merge(const Policy* global, const Policy* tenant, const Policy* user) {
  EffectivePolicy e;
  const std::pair<const Policy*, Level> levels[] = {
      {global, Level::kGlobal}, {tenant, Level::kTenant}, {user, Level::kUser}};
  for (const auto& [p, level] : levels) {
    if (p == nullptr) continue;
    e.empty = false;
    Take(e.model, p->model, level);
    Take(e.temperature, p->temperature, level);
    Take(e.max_tokens, p->max_tokens, level);
    Take(e.tier, p->tier, level);
    Take(e.daily_tokens, p->limits.daily_tokens, level);
    Take(e.max_context, p->limits.max_context, level);
    Take(e.rate_limit_rpm, p->limits.rate_limit_rpm, level);
    Take(e.rate_limit_tpm, p->limits.rate_limit_tpm, level);
    Take(e.downgrade, p->downgrade, level);
    if (p->allowlist) e.allowlists.push_back({*p->allowlist, level});
    if (p->blocklist) e.blocklists.push_back({*p->blocklist, level});
  }
  return e;
}

std::optional<std::string> Forbidden(const EffectivePolicy& policy, std::string_view model,
                                     const TierFn& tier_of) {
  for (const auto& list : policy.blocklists)
    for (const std::string& pattern : list.value)
      if (GlobMatch(pattern, model))
        return absl::StrCat(std::string(model), " is blocked by the ", LevelName(list.level),
                            " blocklist ('", pattern, "')");
  for (const auto& list : policy.allowlists) {
    bool any = false;
    for (const std::string& pattern : list.value) {
      if (GlobMatch(pattern, model)) {
        any = true;
        break;
      }
    }
    if (!any)
      return absl::StrCat(std::string(model), " is not in the ", LevelName(list.level),
                          " allowlist");
  }
  if (policy.tier && tier_of) {
    auto [provider, name] = Split(model);
    std::string tier = tier_of(provider, name);
    if (TierRank(tier) > TierRank(policy.tier->value))
      return absl::StrCat(std::string(model), " is ", tier, ", above the ",
                          LevelName(policy.tier->level), " policy's tier ", policy.tier->value);
  }
  return std::nullopt;
}

std::vector<TraceEntry> Trace(const EffectivePolicy& p) {
  std::vector<TraceEntry> t;
  if (p.model) t.push_back({"model", p.model->level, p.model->value});
  if (p.temperature) t.push_back({"temperature", p.temperature->level, p.temperature->value});
  if (p.max_tokens) t.push_back({"max_tokens", p.max_tokens->level, p.max_tokens->value});
  if (p.tier) t.push_back({"tier", p.tier->level, p.tier->value});
  const std::pair<const char*, const std::optional<Sourced<int64_t>>*> limits[] = {
      {"limits.daily_tokens", &p.daily_tokens},
      {"limits.max_context", &p.max_context},
      {"limits.rate_limit_rpm", &p.rate_limit_rpm},
      {"limits.rate_limit_tpm", &p.rate_limit_tpm}};
  for (const auto& [name, v] : limits)
    if (*v) t.push_back({name, (*v)->level, (*v)->value});
  for (const auto& a : p.allowlists) t.push_back({"allowlist", a.level, a.value});
  for (const auto& b : p.blocklists) t.push_back({"blocklist", b.level, b.value});
  if (p.downgrade) t.push_back({"downgrade", p.downgrade->level, p.downgrade->value});
  return t;
}

Resolution Resolve(const EffectivePolicy& policy, const ResolveRequest& request,
                   const WouldRefuseFn& would_refuse, const TierFn& tier_of,
                   ResolveOptions options) {
  Resolution r;
  r.requested = Join(request.provider, request.model);
  r.provider = request.provider;
  r.model = request.model;
  r.max_tokens = request.max_tokens;
  r.temperature = request.temperature;
  if (options.with_trace) r.trace = Trace(policy);
  auto deny = [&r](std::string code, std::string reason) {
    r.decision = PolicyDecision::kDeny;
    r.code = std::move(code);
    r.reason = std::move(reason);
    return std::move(r);
  };
  static const std::vector<std::string> kNoChain;
  const std::vector<std::string>& chain = policy.downgrade ? policy.downgrade->value : kNoChain;

  // Clamp first: the downgrade checks reserve what the call will be allowed to ask for.
  if (policy.max_tokens) {
    if (!r.max_tokens || *r.max_tokens > policy.max_tokens->value) {
      r.max_tokens_clamped = r.max_tokens.has_value();
      r.max_tokens = policy.max_tokens->value;
    }
  }
  if (!r.temperature && policy.temperature) {
    r.temperature = policy.temperature->value;
    r.temperature_defaulted = true;
  }

  // The next model of the chain after index `from` that the lists allow.
  auto next_allowed = [&](size_t from) -> std::optional<std::string> {
    for (size_t i = from; i < chain.size(); ++i)
      if (!Forbidden(policy, chain[i], tier_of)) return chain[i];
    return std::nullopt;
  };

  std::string current = r.requested;
  if (std::optional<std::string> why = Forbidden(policy, current, tier_of)) {
    std::optional<std::string> replacement;
    if (policy.model && policy.model->value != current &&
        !Forbidden(policy, policy.model->value, tier_of)) {
      replacement = policy.model->value;
      absl::StrAppend(&*why, "; using the ", LevelName(policy.model->level),
                      " policy's default model");
    } else {
      size_t at = IndexIn(chain, current);
      replacement = next_allowed(at == chain.size() ? 0 : at + 1);
      if (replacement)
        absl::StrAppend(&*why, "; using the next allowed model of the downgrade chain");
    }
    if (!replacement)
      return deny("model_not_allowed", absl::StrCat(*why, "; no allowed replacement"));
    r.changes.push_back({current, *replacement, *why});
    current = *replacement;
  }

  if (would_refuse) {
    // Each step moves strictly forward in the chain, so this ends.
    for (size_t steps = 0; steps <= chain.size(); ++steps) {
      auto [provider, model] = Split(current);
      std::optional<std::string> refused =
          would_refuse(Candidate{provider, model, request.input_tokens, r.max_tokens});
      if (!refused) break;
      size_t at = IndexIn(chain, current);
      std::optional<std::string> next = at == chain.size() ? std::nullopt : next_allowed(at + 1);
      if (!next)
        return deny("downgrade_chain_exhausted",
                    absl::StrCat(*refused, "; no cheaper model left in the downgrade chain"));
      r.changes.push_back({current, *next, *refused});
      current = *next;
    }
  }

  if (policy.max_context && request.input_tokens > policy.max_context->value)
    return deny("context_too_large",
                absl::StrCat("the input has ", request.input_tokens, " tokens, more than the ",
                             LevelName(policy.max_context->level), " policy's max_context of ",
                             policy.max_context->value));

  auto [provider, model] = Split(current);
  r.provider = std::string(provider);
  r.model = std::string(model);
  if (!r.changes.empty()) {
    r.decision = PolicyDecision::kDowngrade;
    r.reason = r.changes.back().why;
  }
  return r;
}

// --- PolicyCache -------------------------------------------------------------------

PolicyCache::PolicyCache(const Clock* clock, absl::Duration ttl, size_t max_entries)
    : clock_(clock), ttl_(ttl), max_entries_(max_entries) {}

std::shared_ptr<const EffectivePolicy> PolicyCache::Get(std::string_view tenant_id,
                                                        std::string_view user_id,
                                                        const Builder& build) {
  std::string key;
  key.reserve(tenant_id.size() + user_id.size() + 1);
  key.append(tenant_id);
  key.push_back('/');
  key.append(user_id);
  const absl::Time now = clock_->Now();
  uint64_t generation;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.expires_at > now) return it->second.policy;
    generation = generation_;
  }
  std::shared_ptr<const EffectivePolicy> built = build();
  absl::MutexLock lock(&mu_);
  if (generation != generation_) return built;
  if (entries_.size() >= max_entries_) {
    absl::erase_if(entries_, [now](const auto& kv) { return kv.second.expires_at <= now; });
    if (entries_.size() >= max_entries_) entries_.clear();
  }
  entries_[std::move(key)] = Entry{built, now + ttl_};
  return built;
}

void PolicyCache::Invalidate() {
  absl::MutexLock lock(&mu_);
  ++generation_;
  entries_.clear();
}

size_t PolicyCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace tollgate::engine
