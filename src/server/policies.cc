#include "server/policies.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "server/common/json_util.h"
#include "server/metering.h"

namespace tollgate::server {
namespace {

namespace json = boost::json;

constexpr size_t kMaxPatterns = 256;
constexpr size_t kMaxChain = 32;
constexpr int64_t kMaxCount = int64_t{1} << 50;

bool IsModelChar(char c) { return core::IsValidId(std::string_view(&c, 1)) || c == '/'; }

// "provider:model": a provider id, ':', then 1-256 model characters. `glob` allows '*'.
bool ValidModelName(std::string_view s, bool glob) {
  if (s.empty() || s.size() > 300) return false;
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  for (char c : s)
    if (!(IsModelChar(c) || (glob && c == '*'))) return false;
  return true;
}

// A glob without ':' could never match a "provider:model" name, except "*".
bool ValidPattern(std::string_view s) { return s == "*" || ValidModelName(s, true); }

absl::StatusOr<std::optional<std::vector<std::string>>> ReadModels(const JsonReader& r,
                                                                   std::string_view key, bool glob,
                                                                   size_t max) {
  absl::StatusOr<std::optional<std::vector<std::string>>> v = r.StringArray(key, max);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return v;
  for (const std::string& s : **v) {
    if (glob ? !ValidPattern(s) : !ValidModelName(s, false))
      return absl::InvalidArgumentError(
          absl::StrCat("field '", r.FieldName(key), "': '", s.substr(0, 64), "' is not a ",
                       glob ? "provider:model pattern" : "provider:model name (no '*')"));
  }
  return v;
}

absl::Status ReadCount(const JsonReader& r, std::string_view key, int64_t min,
                       std::optional<int64_t>& out) {
  absl::StatusOr<std::optional<int64_t>> v = r.NonNegativeInt(key);
  if (!v.ok()) return v.status();
  if (v->has_value() && (**v < min || **v > kMaxCount))
    return absl::InvalidArgumentError(
        absl::StrCat("field '", r.FieldName(key), "' must be an integer from ", min, " to 2^50"));
  out = *v;
  return absl::OkStatus();
}

json::value StringList(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.push_back(json::value(s));
  return a;
}

// "policy:..." limits per key: the limit ids derive from the owner.
std::string OwnedId(const std::string& owner, std::string_view what) {
  return absl::StrCat("lim_pol_", core::Sha256Hex(owner).substr(0, 24), "_", std::string(what));
}

// Fields compared to decide whether an owned limit must be rewritten.
bool SameRule(const Limit& a, const Limit& b) {
  return a.scope == b.scope && a.metric == b.metric && a.window == b.window && a.limit == b.limit &&
         a.models == b.models && a.action == b.action && a.mode == b.mode && a.owner == b.owner;
}

}  // namespace

// --- JSON --------------------------------------------------------------------------

absl::StatusOr<engine::Policy> PolicyFromJson(const json::object& body) {
  JsonReader r(body);
  if (absl::Status s =
          r.RejectUnknownFields({"provider", "model", "temperature", "max_tokens", "tier", "limits",
                                 "allowlist", "blocklist", "downgrade"});
      !s.ok())
    return s;
  engine::Policy p;
  absl::StatusOr<std::optional<std::string>> provider = r.Id("provider");
  if (!provider.ok()) return provider.status();
  absl::StatusOr<std::optional<std::string>> model = r.NonEmptyString("model", 256);
  if (!model.ok()) return model.status();
  if (provider->has_value() != model->has_value())
    return absl::InvalidArgumentError(absl::StrCat(
        "field '", provider->has_value() ? "model" : "provider", "' is required when '",
        provider->has_value() ? "provider" : "model", "' is given"));
  if (provider->has_value()) {
    std::string name = absl::StrCat(**provider, ":", **model);
    if (!ValidModelName(name, false))
      return absl::InvalidArgumentError(
          "field 'model' must be a model name (letters, digits, ._:@-/; no '*')");
    p.model = std::move(name);
  }
  absl::StatusOr<std::optional<double>> temperature = r.Double("temperature");
  if (!temperature.ok()) return temperature.status();
  if (temperature->has_value() && !(**temperature >= 0 && **temperature <= 2))
    return absl::InvalidArgumentError("field 'temperature' must be a number from 0 to 2");
  p.temperature = *temperature;
  if (absl::Status s = ReadCount(r, "max_tokens", 1, p.max_tokens); !s.ok()) return s;
  absl::StatusOr<std::optional<std::string>> tier =
      r.Enum("tier", {"premium", "standard", "economy"});
  if (!tier.ok()) return tier.status();
  p.tier = *tier;
  absl::StatusOr<std::optional<JsonReader>> limits = r.Object("limits");
  if (!limits.ok()) return limits.status();
  if (limits->has_value()) {
    const JsonReader& l = **limits;
    if (absl::Status s = l.RejectUnknownFields(
            {"daily_tokens", "max_context", "rate_limit_rpm", "rate_limit_tpm"});
        !s.ok())
      return s;
    if (absl::Status s = ReadCount(l, "daily_tokens", 0, p.limits.daily_tokens); !s.ok()) return s;
    if (absl::Status s = ReadCount(l, "max_context", 1, p.limits.max_context); !s.ok()) return s;
    if (absl::Status s = ReadCount(l, "rate_limit_rpm", 0, p.limits.rate_limit_rpm); !s.ok())
      return s;
    if (absl::Status s = ReadCount(l, "rate_limit_tpm", 0, p.limits.rate_limit_tpm); !s.ok())
      return s;
  }
  absl::StatusOr<std::optional<std::vector<std::string>>> allow =
      ReadModels(r, "allowlist", true, kMaxPatterns);
  if (!allow.ok()) return allow.status();
  p.allowlist = std::move(*allow);
  absl::StatusOr<std::optional<std::vector<std::string>>> block =
      ReadModels(r, "blocklist", true, kMaxPatterns);
  if (!block.ok()) return block.status();
  p.blocklist = std::move(*block);
  absl::StatusOr<std::optional<std::vector<std::string>>> chain =
      ReadModels(r, "downgrade", false, kMaxChain);
  if (!chain.ok()) return chain.status();
  if (chain->has_value()) {
    for (size_t i = 0; i < (*chain)->size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if ((**chain)[i] == (**chain)[j])
          return absl::InvalidArgumentError(
              absl::StrCat("field 'downgrade' names '", (**chain)[i], "' twice"));
  }
  p.downgrade = std::move(*chain);
  return p;
}

json::object PolicyToJson(const engine::Policy& p) {
  json::object o;
  if (p.model) {
    size_t colon = p.model->find(':');
    o["provider"] = p.model->substr(0, colon);
    o["model"] = p.model->substr(colon + 1);
  }
  if (p.temperature) o["temperature"] = *p.temperature;
  if (p.max_tokens) o["max_tokens"] = *p.max_tokens;
  if (p.tier) o["tier"] = *p.tier;
  json::object l;
  if (p.limits.daily_tokens) l["daily_tokens"] = *p.limits.daily_tokens;
  if (p.limits.max_context) l["max_context"] = *p.limits.max_context;
  if (p.limits.rate_limit_rpm) l["rate_limit_rpm"] = *p.limits.rate_limit_rpm;
  if (p.limits.rate_limit_tpm) l["rate_limit_tpm"] = *p.limits.rate_limit_tpm;
  if (!l.empty()) o["limits"] = std::move(l);
  if (p.allowlist) o["allowlist"] = StringList(*p.allowlist);
  if (p.blocklist) o["blocklist"] = StringList(*p.blocklist);
  if (p.downgrade) o["downgrade"] = StringList(*p.downgrade);
  return o;
}

json::object EffectiveToJson(const engine::EffectivePolicy& e) {
  json::object o;
  if (e.model) {
    size_t colon = e.model->value.find(':');
    o["provider"] = e.model->value.substr(0, colon);
    o["model"] = e.model->value.substr(colon + 1);
  }
  if (e.temperature) o["temperature"] = e.temperature->value;
  if (e.max_tokens) o["max_tokens"] = e.max_tokens->value;
  if (e.tier) o["tier"] = e.tier->value;
  json::object l;
  if (e.daily_tokens) l["daily_tokens"] = e.daily_tokens->value;
  if (e.max_context) l["max_context"] = e.max_context->value;
  if (e.rate_limit_rpm) l["rate_limit_rpm"] = e.rate_limit_rpm->value;
  if (e.rate_limit_tpm) l["rate_limit_tpm"] = e.rate_limit_tpm->value;
  o["limits"] = std::move(l);
  // Allowlists intersect: shown as one list per level, each of which must match.
  json::array allow;
  for (const auto& a : e.allowlists) allow.push_back(StringList(a.value));
  o["allowlists"] = std::move(allow);
  json::array block;
  for (const auto& b : e.blocklists)
    for (const std::string& s : b.value) block.push_back(json::value(s));
  o["blocklist"] = std::move(block);
  o["downgrade"] = e.downgrade ? StringList(e.downgrade->value) : json::array();
  return o;
}

json::array TraceToJson(const std::vector<engine::TraceEntry>& trace) {
  json::array a;
  for (const engine::TraceEntry& t : trace) {
    json::object o;
    o["field"] = t.field;
    o["level"] = ToString(t.level);
    std::visit(
        [&o](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::vector<std::string>>)
            o["value"] = StringList(v);
          else
            o["value"] = v;
        },
        t.value);
    a.push_back(std::move(o));
  }
  return a;
}

// --- PolicyService -----------------------------------------------------------------

PolicyService::PolicyService(Metering* metering)
    : metering_(metering), cache_(metering->clock(), kPolicyCacheTtl) {}

std::string PolicyService::Owner(const PolicyKey& key) {
  switch (key.level) {
    case Level::kGlobal:
      return "policy:global";
    case Level::kTenant:
      return absl::StrCat("policy:tenant:", key.tenant_id);
    default:
      return absl::StrCat("policy:user:", key.tenant_id, "/", key.user_id);
  }
}

absl::Status PolicyService::Load() {
  absl::MutexLock write(&write_mu_);
  absl::StatusOr<std::vector<PolicyRecord>> records = metering_->store()->ListPolicies();
  if (!records.ok()) return records.status();
  std::map<PolicyKey, StoredPolicy> docs;
  for (const PolicyRecord& rec : *records) {
    absl::StatusOr<json::object> body = ParseJsonObject(rec.json);
    if (!body.ok()) return absl::DataLossError("a stored policy is not a JSON object");
    absl::StatusOr<engine::Policy> p = PolicyFromJson(*body);
    if (!p.ok())
      return absl::DataLossError(
          absl::StrCat("a stored policy does not parse: ", p.status().message()));
    PolicyKey key{rec.level, rec.tenant_id, rec.user_id};
    docs[key] = StoredPolicy{key, std::move(*p), rec.updated_at};
  }
  {
    absl::MutexLock lock(&mu_);
    docs_ = std::move(docs);
    any_.store(!docs_.empty(), std::memory_order_release);
  }
  cache_.Invalidate();
  return SyncOwnedLimits();
}

absl::StatusOr<std::optional<StoredPolicy>> PolicyService::Put(const PolicyKey& key,
                                                               engine::Policy policy) {
  bool has_tenant = !key.tenant_id.empty(), has_user = !key.user_id.empty();
  switch (key.level) {
    case Level::kGlobal:
      if (has_tenant || has_user)
        return absl::InvalidArgumentError("a global policy names no tenant_id or user_id");
      break;
    case Level::kTenant:
      if (!has_tenant || has_user)
        return absl::InvalidArgumentError("a tenant policy names tenant_id and no user_id");
      break;
    case Level::kUser:
      if (!has_tenant || !has_user)
        return absl::InvalidArgumentError("a user policy names tenant_id and user_id");
      break;
    default:
      return absl::InvalidArgumentError("parameter 'level' must be one of global, tenant, user");
  }
  if (has_tenant && !metering_->GetTenant(key.tenant_id))
    return absl::NotFoundError(absl::StrCat("tenant '", key.tenant_id, "' not found"));
  absl::MutexLock write(&write_mu_);
  PolicyRecord rec;
  rec.level = key.level;
  rec.tenant_id = key.tenant_id;
  rec.user_id = key.user_id;
  rec.updated_at = metering_->clock()->Now();
  const bool remove = policy.Empty();
  if (!remove) rec.json = json::serialize(PolicyToJson(policy));
  if (absl::Status s = metering_->store()->PutPolicy(rec); !s.ok()) return s;
  std::optional<StoredPolicy> stored;
  {
    absl::MutexLock lock(&mu_);
    if (remove) {
      docs_.erase(key);
    } else {
      stored = StoredPolicy{key, std::move(policy), rec.updated_at};
      docs_[key] = *stored;
    }
    any_.store(!docs_.empty(), std::memory_order_release);
  }
  cache_.Invalidate();
  if (absl::Status s = SyncOwnedLimits(); !s.ok()) return s;
  return stored;
}

std::optional<StoredPolicy> PolicyService::Get(const PolicyKey& key) const {
  absl::MutexLock lock(&mu_);
  auto it = docs_.find(key);
  if (it == docs_.end()) return std::nullopt;
  return it->second;
}

std::vector<StoredPolicy> PolicyService::List(std::string_view tenant_id) const {
  absl::MutexLock lock(&mu_);
  std::vector<StoredPolicy> out;
  for (const auto& [key, doc] : docs_)
    if (tenant_id.empty() || key.tenant_id == tenant_id) out.push_back(doc);
  return out;
}

void PolicyService::ForgetTenant(std::string_view tenant_id) {
  {
    absl::MutexLock lock(&mu_);
    for (auto it = docs_.begin(); it != docs_.end();) {
      if (it->first.tenant_id == tenant_id)
        it = docs_.erase(it);
      else
        ++it;
    }
    any_.store(!docs_.empty(), std::memory_order_release);
  }
  cache_.Invalidate();
}

std::shared_ptr<const engine::EffectivePolicy> PolicyService::Build(
    std::string_view tenant_id, std::string_view user_id) const {
  absl::MutexLock lock(&mu_);
  auto find = [this](PolicyKey k) -> const engine::Policy* {
    auto it = docs_.find(k);
    return it == docs_.end() ? nullptr : &it->second.policy;
  };
  const engine::Policy* g = find({Level::kGlobal, "", ""});
  const engine::Policy* t =
      tenant_id.empty() ? nullptr : find({Level::kTenant, std::string(tenant_id), ""});
  const engine::Policy* u =
      tenant_id.empty() || user_id.empty()
          ? nullptr
          : find({Level::kUser, std::string(tenant_id), std::string(user_id)});
  return std::make_shared<const engine::EffectivePolicy>(engine::Merge(g, t, u));
}

std::shared_ptr<const engine::EffectivePolicy> PolicyService::Effective(std::string_view tenant_id,
                                                                        std::string_view user_id) {
  engine::PolicyCache::Builder build = [this, tenant_id, user_id] {
    return Build(tenant_id, user_id);
  };
  return cache_.Get(tenant_id, user_id, build);
}

std::string PolicyService::TierOf(std::string_view provider, std::string_view model) const {
  providers::EntryRef e = metering_->prices()->Lookup(provider, model);
  return e ? e->price.tier : std::string();
}

engine::Resolution PolicyService::Resolve(const PolicyQuery& q) {
  std::shared_ptr<const engine::EffectivePolicy> policy = Effective(q.ctx.tenant_id, q.ctx.user_id);
  engine::ResolveRequest req;
  req.provider = q.ctx.provider;
  req.model = q.ctx.model;
  req.input_tokens = q.input_tokens;
  req.max_tokens = q.max_tokens;
  req.temperature = q.temperature;
  Engine* engine = metering_->engine();
  const int64_t default_output = metering_->options().default_output_estimate;
  engine::WouldRefuseFn would_refuse =
      [this, &q, engine, default_output](const engine::Candidate& c) -> std::optional<std::string> {
    CallContext ctx = q.ctx;
    ctx.provider = std::string(c.provider);
    ctx.model = std::string(c.model);
    Amount a;
    a.input_tokens = c.input_tokens;
    a.output_tokens = c.max_tokens.value_or(default_output);
    a.cost = metering_->EstimateCost(ctx, a.input_tokens, a.output_tokens);
    a.requests = 1;
    CheckResult r = engine->Evaluate(ctx, a);
    for (const LimitStatus& s : r.limits) {
      if (s.limit.action != Action::kDowngrade || s.mode != Mode::kEnforce) continue;
      int64_t need = a.Of(s.limit.metric);
      if (need <= s.remaining) continue;
      return absl::StrCat("downgrade limit ", s.limit.id, " of ", ctx.provider, ":", ctx.model,
                          ": ", s.used, " of ", s.limit.limit, " ",
                          std::string(ToString(s.limit.metric)), " used (", s.reserved,
                          " reserved); this call needs ", need);
    }
    return std::nullopt;
  };
  engine::TierFn tier_of = [this](std::string_view provider, std::string_view model) {
    return TierOf(provider, model);
  };
  engine::ResolveOptions options;
  options.with_trace = q.with_trace;
  return engine::Resolve(*policy, req, would_refuse, tier_of, options);
}

std::map<std::string, Limit> PolicyService::DesiredLimits() const {
  std::map<std::string, Limit> out;
  auto find = [this](const PolicyKey& k) -> const engine::Policy* {
    auto it = docs_.find(k);
    return it == docs_.end() ? nullptr : &it->second.policy;
  };
  const engine::Policy* global = find({Level::kGlobal, "", ""});
  for (const auto& [key, doc] : docs_) {
    const engine::Policy& p = doc.policy;
    // The chain in effect at this level: this document's, else the nearest above.
    const std::optional<std::vector<std::string>>* chain = &p.downgrade;
    if (!chain->has_value() && key.level == Level::kUser) {
      const engine::Policy* t = find({Level::kTenant, key.tenant_id, ""});
      if (t != nullptr) chain = &t->downgrade;
    }
    if (!chain->has_value() && key.level != Level::kGlobal && global != nullptr)
      chain = &global->downgrade;
    const std::string owner = Owner(key);
    Limit base;
    base.scope.level = Level::kUser;
    base.scope.tenant_id = key.level == Level::kGlobal ? "*" : key.tenant_id;
    base.scope.subject_id = key.level == Level::kUser ? key.user_id : "*";
    base.owner = owner;
    if (p.limits.daily_tokens) {
      Limit l = base;
      l.id = OwnedId(owner, "daily");
      l.metric = Metric::kTokens;
      l.window = Window{WindowUnit::kDay, 1, WindowKind::kCalendar};
      l.limit = *p.limits.daily_tokens;
      l.action = Action::kDowngrade;
      if (chain->has_value() && (*chain)->size() >= 2)
        l.models.assign((*chain)->begin(), (*chain)->end() - 1);
      out[l.id] = std::move(l);
    }
    const std::pair<const std::optional<int64_t>*, Metric> rates[] = {
        {&p.limits.rate_limit_rpm, Metric::kRequests}, {&p.limits.rate_limit_tpm, Metric::kTokens}};
    for (const auto& [value, metric] : rates) {
      if (!value->has_value()) continue;
      Limit l = base;
      l.id = OwnedId(owner, metric == Metric::kRequests ? "rpm" : "tpm");
      l.metric = metric;
      l.window = Window{WindowUnit::kMinute, 1, WindowKind::kRolling};
      l.limit = **value;
      l.action = Action::kDeny;
      out[l.id] = std::move(l);
    }
  }
  return out;
}

absl::Status PolicyService::SyncOwnedLimits() {
  std::map<std::string, Limit> desired;
  {
    absl::MutexLock lock(&mu_);
    desired = DesiredLimits();
  }
  absl::StatusOr<std::vector<Limit>> existing = metering_->ListLimits();
  if (!existing.ok()) return existing.status();
  for (const Limit& l : *existing) {
    if (l.owner.rfind("policy:", 0) != 0) continue;
    auto it = desired.find(l.id);
    if (it == desired.end()) {
      if (absl::Status s = metering_->DeleteLimit(l.id); !s.ok() && !absl::IsNotFound(s)) return s;
    } else if (SameRule(l, it->second)) {
      desired.erase(it);
    }
  }
  for (auto& [id, l] : desired)
    if (absl::StatusOr<Limit> saved = metering_->PutLimit(l); !saved.ok()) return saved.status();
  return absl::OkStatus();
}

}  // namespace tollgate::server
