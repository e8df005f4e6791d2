// Model policies: the admin routes (/api/admin/models/*: any level, resolve, available
// models) and the tenant's own (/api/client/models/policies: its tenant and its users,
// never global). docs/policies.md describes the documents and their semantics.
#include "server/policies.h"

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/money.h"
#include "server/codec.h"
#include "server/handlers/common.h"
#include "server/handlers/routes.h"

namespace tollgate::server::handlers {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using boost::asio::awaitable;

constexpr std::initializer_list<Role> kAdmin = {Role::kAdmin};
constexpr std::initializer_list<Role> kTenantRoles = {Role::kAdmin, Role::kTenantAdmin};

absl::StatusOr<std::optional<Level>> QueryLevel(const RequestContext& ctx) {
  std::optional<std::string> v = ctx.Query("level");
  if (!v) return std::optional<Level>();
  std::optional<Level> l = ParseLevel(*v);
  if (!l || (*l != Level::kGlobal && *l != Level::kTenant && *l != Level::kUser))
    return absl::InvalidArgumentError("parameter 'level' must be one of global, tenant, user");
  return l;
}

json::object PolicyEntry(Metering* m, const PolicyKey& key, const std::optional<StoredPolicy>& p,
                         const std::vector<Limit>* limits) {
  json::object o;
  o["level"] = ToString(key.level);
  o["tenant_id"] = key.tenant_id.empty() ? json::value(nullptr) : json::value(key.tenant_id);
  o["user_id"] = key.user_id.empty() ? json::value(nullptr) : json::value(key.user_id);
  o["policy"] = p ? json::value(PolicyToJson(p->policy)) : json::value(nullptr);
  o["updated_at"] = p ? json::value(Rfc3339(p->updated_at)) : json::value(nullptr);
  if (limits != nullptr) {
    std::string owner = PolicyService::Owner(key);
    json::array owned;
    for (const Limit& l : *limits)
      if (l.owner == owner) owned.push_back(ToJson(l));
    o["limits"] = std::move(owned);
  }
  return o;
}

// One policy (with its owned limits), or the list when `key` is unset.
Response PolicyAnswer(Metering* m, const std::optional<PolicyKey>& key,
                      std::string_view list_tenant) {
  absl::StatusOr<std::vector<Limit>> limits = m->ListLimits();
  if (!limits.ok()) return ErrorResponse(limits.status());
  if (key) return Ok(PolicyEntry(m, *key, m->policies()->Get(*key), &*limits));
  json::array out;
  for (const StoredPolicy& p : m->policies()->List(list_tenant))
    out.push_back(PolicyEntry(m, p.key, p, &*limits));
  return Ok(json::object{{"policies", std::move(out)}});
}

absl::StatusOr<engine::Policy> PolicyFromBody(const RequestContext& ctx) {
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) return body.status();
  return PolicyFromJson(*body);
}

Response PutAnswer(Metering* m, const PolicyKey& key, engine::Policy policy) {
  absl::StatusOr<std::optional<StoredPolicy>> stored = m->policies()->Put(key, std::move(policy));
  if (!stored.ok()) return ErrorResponse(stored.status());
  absl::StatusOr<std::vector<Limit>> limits = m->ListLimits();
  if (!limits.ok()) return ErrorResponse(limits.status());
  json::object o = PolicyEntry(m, key, *stored, &*limits);
  o["deleted"] = !stored->has_value();
  return Ok(o);
}

// --- Admin -------------------------------------------------------------------------

// level, tenant_id and user_id from the query. A missing level is nullopt (a list).
absl::StatusOr<std::optional<PolicyKey>> AdminKey(const RequestContext& ctx) {
  absl::StatusOr<std::optional<Level>> level = QueryLevel(ctx);
  if (!level.ok()) return level.status();
  absl::StatusOr<std::string> tenant = QueryId(ctx, "tenant_id");
  if (!tenant.ok()) return tenant.status();
  absl::StatusOr<std::string> user = QueryId(ctx, "user_id");
  if (!user.ok()) return user.status();
  if (!level->has_value()) {
    if (!user->empty())
      return absl::InvalidArgumentError("parameter 'level' is required with 'user_id'");
    return std::optional<PolicyKey>();
  }
  PolicyKey key{**level, *tenant, *user};
  switch (key.level) {
    case Level::kGlobal:
      if (!key.tenant_id.empty() || !key.user_id.empty())
        return absl::InvalidArgumentError(
            "a global policy names no 'tenant_id' or 'user_id' parameter");
      break;
    case Level::kTenant:
      if (key.tenant_id.empty())
        return absl::InvalidArgumentError("parameter 'tenant_id' is required for level tenant");
      if (!key.user_id.empty())
        return absl::InvalidArgumentError("parameter 'user_id' is only for level user");
      break;
    default:
      if (key.tenant_id.empty() || key.user_id.empty())
        return absl::InvalidArgumentError(
            "parameters 'tenant_id' and 'user_id' are required for level user");
  }
  return std::optional<PolicyKey>(std::move(key));
}

absl::Status TenantExists(Metering* m, std::string_view tenant_id) {
  if (!tenant_id.empty() && !m->GetTenant(tenant_id))
    return absl::NotFoundError(absl::StrCat("tenant '", std::string(tenant_id), "' not found"));
  return absl::OkStatus();
}

awaitable<Response> AdminGet(RequestContext& ctx, Metering* m) {
  if (absl::Status s = Authenticate(ctx, *m, kAdmin).status(); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<std::optional<PolicyKey>> key = AdminKey(ctx);
  if (!key.ok()) co_return ErrorResponse(key.status());
  absl::StatusOr<std::string> tenant = QueryId(ctx, "tenant_id");
  if (!tenant.ok()) co_return ErrorResponse(tenant.status());
  if (absl::Status s = TenantExists(m, *tenant); !s.ok()) co_return ErrorResponse(s);
  co_return PolicyAnswer(m, *key, *tenant);
}

awaitable<Response> AdminPut(RequestContext& ctx, Metering* m) {
  if (absl::Status s = Authenticate(ctx, *m, kAdmin).status(); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<std::optional<PolicyKey>> key = AdminKey(ctx);
  if (!key.ok()) co_return ErrorResponse(key.status());
  if (!key->has_value())
    co_return ErrorResponse(
        absl::InvalidArgumentError("parameter 'level' is required (global, tenant or user)"));
  absl::StatusOr<engine::Policy> policy = PolicyFromBody(ctx);
  if (!policy.ok()) co_return ErrorResponse(policy.status());
  co_return PutAnswer(m, **key, std::move(*policy));
}

// "provider:model" or provider + model.
absl::StatusOr<std::pair<std::string, std::string>> ReadModel(const JsonReader& f) {
  absl::StatusOr<std::optional<std::string>> provider = f.Id("provider");
  if (!provider.ok()) return provider.status();
  absl::StatusOr<std::string> model = f.RequiredNonEmptyString("model", 300);
  if (!model.ok()) return model.status();
  if (provider->has_value()) return std::pair{**provider, *model};
  size_t colon = model->find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == model->size() ||
      !core::IsValidId(std::string_view(*model).substr(0, colon)))
    return absl::InvalidArgumentError(
        "field 'model' must be provider:model when 'provider' is not given");
  return std::pair{model->substr(0, colon), model->substr(colon + 1)};
}

json::object ResolutionJson(const engine::Resolution& r, const engine::EffectivePolicy& e) {
  json::object o;
  o["decision"] = engine::ToString(r.decision);
  o["allowed"] = r.decision != engine::PolicyDecision::kDeny;
  o["requested"] = r.requested;
  o["provider"] = r.provider;
  o["model"] = r.model;
  if (r.decision == engine::PolicyDecision::kDowngrade) o["downgraded_from"] = r.requested;
  if (!r.code.empty()) o["code"] = r.code;
  if (!r.reason.empty()) o["reason"] = r.reason;
  o["max_tokens"] = r.max_tokens ? json::value(*r.max_tokens) : json::value(nullptr);
  o["max_tokens_clamped"] = r.max_tokens_clamped;
  o["temperature"] = r.temperature ? json::value(*r.temperature) : json::value(nullptr);
  o["temperature_defaulted"] = r.temperature_defaulted;
  o["policy"] = EffectiveToJson(e);
  o["trace"] = TraceToJson(r.trace);
  json::array changes;
  for (const engine::ModelChange& c : r.changes)
    changes.push_back({{"from", c.from}, {"to", c.to}, {"why", c.why}});
  o["changes"] = std::move(changes);
  return o;
}

awaitable<Response> AdminResolve(RequestContext& ctx, Metering* m) {
  if (absl::Status s = Authenticate(ctx, *m, kAdmin).status(); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) co_return ErrorResponse(body.status());
  JsonReader f(*body);
  if (absl::Status s = f.RejectUnknownFields({"tenant_id", "user_id", "agent", "provider", "model",
                                              "input_tokens", "max_tokens", "temperature"});
      !s.ok())
    co_return ErrorResponse(s);
  PolicyQuery q;
  q.with_trace = true;
  for (auto [key, out] : {std::pair{"tenant_id", &q.ctx.tenant_id},
                          std::pair{"user_id", &q.ctx.user_id}, std::pair{"agent", &q.ctx.agent}}) {
    absl::StatusOr<std::string> v = IdOrEmpty(f, key);
    if (!v.ok()) co_return ErrorResponse(v.status());
    *out = *v;
  }
  if (q.ctx.tenant_id.empty() && !q.ctx.user_id.empty())
    co_return ErrorResponse(
        absl::InvalidArgumentError("field 'tenant_id' is required with 'user_id'"));
  if (absl::Status s = TenantExists(m, q.ctx.tenant_id); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<std::pair<std::string, std::string>> model = ReadModel(f);
  if (!model.ok()) co_return ErrorResponse(model.status());
  q.ctx.provider = model->first;
  q.ctx.model = model->second;
  absl::StatusOr<std::optional<int64_t>> input = f.NonNegativeInt("input_tokens");
  if (!input.ok()) co_return ErrorResponse(input.status());
  q.input_tokens = input->value_or(0);
  absl::StatusOr<std::optional<int64_t>> max = f.NonNegativeInt("max_tokens");
  if (!max.ok()) co_return ErrorResponse(max.status());
  q.max_tokens = *max;
  absl::StatusOr<std::optional<double>> temperature = f.Double("temperature");
  if (!temperature.ok()) co_return ErrorResponse(temperature.status());
  q.temperature = *temperature;
  std::shared_ptr<const engine::EffectivePolicy> effective =
      m->policies()->Effective(q.ctx.tenant_id, q.ctx.user_id);
  engine::Resolution r = m->policies()->Resolve(q);
  json::object o = ResolutionJson(r, *effective);
  o["tenant_id"] = q.ctx.tenant_id.empty() ? json::value(nullptr) : json::value(q.ctx.tenant_id);
  o["user_id"] = q.ctx.user_id.empty() ? json::value(nullptr) : json::value(q.ctx.user_id);
  co_return Ok(o);
}

awaitable<Response> AdminAvailable(RequestContext& ctx, Metering* m) {
  if (absl::Status s = Authenticate(ctx, *m, kAdmin).status(); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<std::string> tenant = QueryId(ctx, "tenant_id");
  if (!tenant.ok()) co_return ErrorResponse(tenant.status());
  absl::StatusOr<std::string> user = QueryId(ctx, "user_id");
  if (!user.ok()) co_return ErrorResponse(user.status());
  if (tenant->empty() && !user->empty())
    co_return ErrorResponse(
        absl::InvalidArgumentError("parameter 'tenant_id' is required with 'user_id'"));
  if (absl::Status s = TenantExists(m, *tenant); !s.ok()) co_return ErrorResponse(s);
  std::shared_ptr<const engine::EffectivePolicy> e = m->policies()->Effective(*tenant, *user);
  engine::TierFn tier_of = [m](std::string_view provider, std::string_view model) {
    return m->policies()->TierOf(provider, model);
  };
  json::array models;
  for (const providers::EntryRef& entry : m->prices()->List()) {
    const Price& p = entry->price;
    std::string name = absl::StrCat(p.provider, ":", p.model);
    if (engine::Forbidden(*e, name, tier_of)) continue;
    json::object o;
    o["id"] = name;
    o["provider"] = p.provider;
    o["model"] = p.model;
    o["tier"] = p.tier.empty() ? json::value(nullptr) : json::value(p.tier);
    o["input_per_mtok"] = core::FormatUsd(p.input_per_mtok);
    o["output_per_mtok"] = core::FormatUsd(p.output_per_mtok);
    models.push_back(std::move(o));
  }
  co_return Ok(json::object{
      {"tenant_id", tenant->empty() ? json::value(nullptr) : json::value(*tenant)},
      {"user_id", user->empty() ? json::value(nullptr) : json::value(*user)},
      {"default_model", e->model ? json::value(e->model->value) : json::value(nullptr)},
      {"models", std::move(models)}});
}

// --- Tenant ------------------------------------------------------------------------

// The tenant's key: level tenant (default) or user (with user_id); global is refused.
absl::StatusOr<std::optional<PolicyKey>> TenantKey(const RequestContext& ctx, const Caller& caller,
                                                   bool list_when_no_level) {
  std::optional<std::string> raw = ctx.Query("level");
  if (raw && *raw == "global")
    return absl::PermissionDeniedError("the global policy is set through the admin API");
  absl::StatusOr<std::optional<Level>> level = QueryLevel(ctx);
  if (!level.ok()) return level.status();
  absl::StatusOr<std::string> user = QueryId(ctx, "user_id");
  if (!user.ok()) return user.status();
  if (!level->has_value()) {
    if (list_when_no_level && user->empty()) return std::optional<PolicyKey>();
    *level = user->empty() ? Level::kTenant : Level::kUser;
  }
  PolicyKey key{**level, caller.tenant_id, ""};
  if (key.level == Level::kUser) {
    if (user->empty())
      return absl::InvalidArgumentError("parameter 'user_id' is required for level user");
    key.user_id = *user;
  } else if (!user->empty()) {
    return absl::InvalidArgumentError("parameter 'user_id' is only for level user");
  }
  return std::optional<PolicyKey>(std::move(key));
}

awaitable<Response> ClientGet(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<std::optional<PolicyKey>> key = TenantKey(ctx, *caller, true);
  if (!key.ok()) co_return ErrorResponse(key.status());
  co_return PolicyAnswer(m, *key, caller->tenant_id);
}

awaitable<Response> ClientPut(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<std::optional<PolicyKey>> key = TenantKey(ctx, *caller, false);
  if (!key.ok()) co_return ErrorResponse(key.status());
  absl::StatusOr<engine::Policy> policy = PolicyFromBody(ctx);
  if (!policy.ok()) co_return ErrorResponse(policy.status());
  co_return PutAnswer(m, **key, std::move(*policy));
}

}  // namespace

void AddPolicyRoutes(Router& router, Metering* m) {
  using http::verb;
  router.Add(verb::get, "/api/admin/models/policies", Bind(m, AdminGet));
  router.Add(verb::put, "/api/admin/models/policies", Bind(m, AdminPut));
  router.Add(verb::post, "/api/admin/models/policies/resolve", Bind(m, AdminResolve));
  router.Add(verb::get, "/api/admin/models/available", Bind(m, AdminAvailable));
  router.Add(verb::get, "/api/client/models/policies", Bind(m, ClientGet));
  router.Add(verb::put, "/api/client/models/policies", Bind(m, ClientPut));
}

}  // namespace tollgate::server::handlers
