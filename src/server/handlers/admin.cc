// The admin API (/api/admin/*): tenants, keys, every limit, usage across tenants, and
// the price catalog. Role admin only.
#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "core/ids.h"
#include "core/money.h"
#include "server/codec.h"
#include "server/handlers/common.h"
#include "server/handlers/routes.h"
#include "server/reports.h"

namespace tollgate::server::handlers {

// Defined in client.cc.
boost::asio::awaitable<Response> ListEventsResponse(const RequestContext& ctx, Metering* m,
                                                    std::string tenant_id);

namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using boost::asio::awaitable;

constexpr std::initializer_list<Role> kAdmin = {Role::kAdmin};

absl::Status AdminOnly(const RequestContext& ctx, const Metering& m) {
  return Authenticate(ctx, m, kAdmin).status();
}

// Applies the optional tenant fields of `f` to `t`.
absl::Status ReadTenantFields(const JsonReader& f, Tenant& t) {
  absl::StatusOr<std::optional<std::string>> name = f.String("name");
  if (name.ok() && name->has_value() && (*name)->size() > 200)
    name = absl::InvalidArgumentError("field 'name' must be at most 200 bytes");
  if (!name.ok()) return name.status();
  if (name->has_value()) t.name = **name;
  absl::StatusOr<std::optional<std::string>> tz = f.NonEmptyString("timezone", 64);
  if (!tz.ok()) return tz.status();
  if (tz->has_value()) t.timezone = **tz;
  absl::StatusOr<std::optional<std::string>> mode = f.NonEmptyString("mode", 16);
  if (!mode.ok()) return mode.status();
  if (mode->has_value()) {
    std::optional<Mode> m = ParseMode(**mode);
    if (!m) return absl::InvalidArgumentError("field 'mode' must be one of inherit, off, shadow, enforce");
    t.mode = *m;
  }
  return absl::OkStatus();
}

awaitable<Response> ListTenants(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  json::array out;
  for (const Tenant& t : m->ListTenants()) out.push_back(ToJson(t));
  co_return Ok(json::object{{"tenants", out}});
}

awaitable<Response> CreateTenant(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) co_return ErrorResponse(body.status());
  JsonReader f(*body);
  Tenant t;
  absl::StatusOr<std::string> id = f.RequiredId("id");
  if (!id.ok()) co_return ErrorResponse(id.status());
  t.id = *id;
  t.name = t.id;
  if (absl::Status s = ReadTenantFields(f, t); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<Tenant> created = m->CreateTenant(t);
  if (!created.ok()) co_return ErrorResponse(created.status());
  co_return Json(http::status::created, ToJson(*created));
}

awaitable<Response> GetTenant(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  std::optional<Tenant> t = m->GetTenant(ctx.Param("id"));
  if (!t) co_return ErrorResponse(absl::NotFoundError("tenant not found"));
  co_return Ok(ToJson(*t));
}

awaitable<Response> UpdateTenant(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  std::optional<Tenant> t = m->GetTenant(ctx.Param("id"));
  if (!t) co_return ErrorResponse(absl::NotFoundError("tenant not found"));
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) co_return ErrorResponse(body.status());
  if (absl::Status s = ReadTenantFields(JsonReader(*body), *t); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<Tenant> updated = m->UpdateTenant(*t);
  if (!updated.ok()) co_return ErrorResponse(updated.status());
  co_return Ok(ToJson(*updated));
}

awaitable<Response> DeleteTenant(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  std::string id(ctx.Param("id"));
  if (absl::Status s = m->DeleteTenant(id); !s.ok()) co_return ErrorResponse(s);
  co_return Ok(json::object{{"id", id}, {"deleted", true}});
}

awaitable<Response> ListKeys(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<std::string> tenant = QueryId(ctx, "tenant_id");
  if (!tenant.ok()) co_return ErrorResponse(tenant.status());
  json::array out;
  for (const ApiKey& k : m->ListKeys(*tenant)) out.push_back(ToJson(k));
  co_return Ok(json::object{{"keys", out}});
}

awaitable<Response> CreateKey(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) co_return ErrorResponse(body.status());
  JsonReader f(*body);
  ApiKey k;
  absl::StatusOr<std::string> role = f.RequiredNonEmptyString("role", 32);
  if (!role.ok()) co_return ErrorResponse(role.status());
  std::optional<Role> r = ParseRole(*role);
  if (!r)
    co_return ErrorResponse(absl::InvalidArgumentError(
        "field 'role' must be one of admin, tenant_admin, agent, client"));
  k.role = *r;
  absl::StatusOr<std::string> tenant = IdOrEmpty(f, "tenant_id");
  if (!tenant.ok()) co_return ErrorResponse(tenant.status());
  k.tenant_id = *tenant;
  absl::StatusOr<std::string> user = IdOrEmpty(f, "user_id");
  if (!user.ok()) co_return ErrorResponse(user.status());
  k.user_id = *user;
  absl::StatusOr<std::optional<std::string>> name = f.String("name");
  if (name.ok() && name->has_value() && (*name)->size() > 200)
    name = absl::InvalidArgumentError("field 'name' must be at most 200 bytes");
  if (!name.ok()) co_return ErrorResponse(name.status());
  k.name = name->value_or("");
  absl::StatusOr<NewKey> created = m->CreateKey(k);
  if (!created.ok()) co_return ErrorResponse(created.status());
  json::object o = ToJson(created->key);
  o["key"] = created->secret;
  co_return Json(http::status::created, o);
}

awaitable<Response> DeleteKey(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  std::string id(ctx.Param("id"));
  if (absl::Status s = m->DeleteKey(id); !s.ok()) co_return ErrorResponse(s);
  co_return Ok(json::object{{"id", id}, {"deleted", true}});
}

awaitable<Response> ListLimits(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<std::string> tenant = QueryId(ctx, "tenant_id");
  if (!tenant.ok()) co_return ErrorResponse(tenant.status());
  absl::StatusOr<std::vector<Limit>> all = m->ListLimits();
  if (!all.ok()) co_return ErrorResponse(all.status());
  json::array out;
  for (const Limit& l : *all)
    if (tenant->empty() || l.scope.tenant_id == *tenant) out.push_back(ToJson(l));
  co_return Ok(json::object{{"limits", out}});
}

awaitable<Response> CreateLimit(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) co_return ErrorResponse(body.status());
  absl::StatusOr<Limit> l = LimitFromJson(*body);
  if (!l.ok()) co_return ErrorResponse(l.status());
  if (!l->id.empty() && m->GetLimit(l->id).ok())
    co_return ErrorResponse(absl::AlreadyExistsError("a limit with this id exists"));
  absl::StatusOr<Limit> saved = m->PutLimit(*l);
  if (!saved.ok()) co_return ErrorResponse(saved.status());
  co_return Json(http::status::created, ToJson(*saved));
}

awaitable<Response> GetLimit(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<Limit> l = m->GetLimit(ctx.Param("id"));
  if (!l.ok()) co_return ErrorResponse(absl::NotFoundError("limit not found"));
  co_return Ok(ToJson(*l));
}

awaitable<Response> PutLimit(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<Limit> existing = m->GetLimit(ctx.Param("id"));
  if (!existing.ok()) co_return ErrorResponse(absl::NotFoundError("limit not found"));
  if (absl::Status s = NotPolicyOwned(*existing); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) co_return ErrorResponse(body.status());
  absl::StatusOr<Limit> l = LimitFromJson(*body);
  if (!l.ok()) co_return ErrorResponse(l.status());
  l->id = existing->id;
  l->owner = existing->owner;
  absl::StatusOr<Limit> saved = m->PutLimit(*l);
  if (!saved.ok()) co_return ErrorResponse(saved.status());
  co_return Ok(ToJson(*saved));
}

awaitable<Response> DeleteLimit(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  std::string id(ctx.Param("id"));
  if (absl::StatusOr<Limit> l = m->GetLimit(id); l.ok())
    if (absl::Status s = NotPolicyOwned(*l); !s.ok()) co_return ErrorResponse(s);
  if (absl::Status s = m->DeleteLimit(id); !s.ok()) co_return ErrorResponse(s);
  co_return Ok(json::object{{"id", id}, {"deleted", true}});
}

awaitable<Response> Summary(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<std::optional<int64_t>> days = QueryInt(ctx, "days", 1, 3660);
  if (!days.ok()) co_return ErrorResponse(days.status());
  absl::StatusOr<std::string> tenant = QueryId(ctx, "tenant_id");
  if (!tenant.ok()) co_return ErrorResponse(tenant.status());
  absl::StatusOr<std::string> user = QueryId(ctx, "user_id");
  if (!user.ok()) co_return ErrorResponse(user.status());
  int64_t n = days->value_or(7);
  // Days in the tenant's time zone when one is named, UTC otherwise.
  absl::TimeZone tz = tenant->empty() ? absl::UTCTimeZone() : m->TenantZone(*tenant);
  absl::CivilDay today = absl::ToCivilDay(m->clock()->Now(), tz);
  std::vector<std::string> dates;
  for (int64_t i = n - 1; i >= 0; --i) dates.push_back(absl::FormatCivilTime(today - i));
  DailyQuery q;
  q.tenant_id = *tenant;
  q.user_id = *user;
  q.from_date = dates.front();
  q.to_date = dates.back();
  absl::StatusOr<std::vector<DailyRow>> rows = m->store()->ListDaily(q);
  if (!rows.ok()) co_return ErrorResponse(rows.status());
  json::object o = server::Summary(*rows, dates);
  o["days"] = n;
  co_return Ok(o);
}

awaitable<Response> Events(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<std::string> tenant = QueryId(ctx, "tenant_id");
  if (!tenant.ok()) co_return ErrorResponse(tenant.status());
  co_return co_await ListEventsResponse(ctx, m, *tenant);
}

awaitable<Response> ListPrices(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  json::array out;
  for (const providers::EntryRef& e : m->prices()->List()) {
    json::object o = ToJson(e->price);
    json::array tiers;
    for (const providers::PriceTier& t : e->tiers)
      tiers.push_back({{"above_input_tokens", t.above_input_tokens},
                       {"input_per_mtok", core::FormatUsd(t.rates.input_per_mtok)},
                       {"output_per_mtok", core::FormatUsd(t.rates.output_per_mtok)}});
    if (!tiers.empty()) o["long_context"] = std::move(tiers);
    out.push_back(std::move(o));
  }
  providers::CatalogSource src = m->prices()->source();
  co_return Ok(json::object{
      {"prices", out},
      {"source", {{"package", src.package}, {"version", src.version}, {"license", src.license}, {"as_of", src.as_of}}}});
}

// A price in USD per million tokens: a decimal string ("2.5") or a JSON number.
absl::StatusOr<std::optional<Nanos>> ReadPrice(const json::object& body, std::string_view key) {
  const json::value* v = body.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || v->is_null()) return std::optional<Nanos>();
  absl::StatusOr<Nanos> n = absl::InvalidArgumentError("");
  if (v->is_string())
    n = core::ParseUsd(std::string_view(v->as_string()));
  else if (v->is_number())
    n = core::UsdFromDouble(v->to_number<double>());
  if (!n.ok())
    return absl::InvalidArgumentError(absl::StrCat(
        "field '", std::string(key), "' must be a non-negative decimal USD amount per million tokens"));
  return std::optional<Nanos>(*n);
}

awaitable<Response> PutPrice(RequestContext& ctx, Metering* m) {
  if (absl::Status s = AdminOnly(ctx, *m); !s.ok()) co_return ErrorResponse(s);
  Price p;
  p.provider = std::string(ctx.Param("provider"));
  p.model = std::string(ctx.Param("model"));
  if (!core::IsValidId(p.provider) || p.model.empty() || p.model.size() > 256)
    co_return ErrorResponse(absl::InvalidArgumentError(
        "the path must name provider:model, e.g. /api/admin/prices/openai:gpt-4o"));
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) co_return ErrorResponse(body.status());
  struct {
    const char* key;
    Nanos* out;
    bool required;
  } fields[] = {{"input_per_mtok", &p.input_per_mtok, true},
                {"output_per_mtok", &p.output_per_mtok, true},
                {"cached_input_per_mtok", &p.cached_input_per_mtok, false},
                {"cache_write_per_mtok", &p.cache_write_per_mtok, false}};
  for (auto& fd : fields) {
    absl::StatusOr<std::optional<Nanos>> v = ReadPrice(*body, fd.key);
    if (!v.ok()) co_return ErrorResponse(v.status());
    if (!v->has_value() && fd.required)
      co_return ErrorResponse(absl::InvalidArgumentError(absl::StrCat("field '", fd.key, "' is required")));
    *fd.out = v->value_or(0);
  }
  if (!body->contains("cached_input_per_mtok")) p.cached_input_per_mtok = p.input_per_mtok;
  if (!body->contains("cache_write_per_mtok")) p.cache_write_per_mtok = p.input_per_mtok;
  absl::StatusOr<std::optional<std::string>> tier = JsonReader(*body).NonEmptyString("tier", 16);
  if (!tier.ok()) co_return ErrorResponse(tier.status());
  p.tier = tier->value_or("");
  if (!p.tier.empty() && p.tier != "premium" && p.tier != "standard" && p.tier != "economy")
    co_return ErrorResponse(
        absl::InvalidArgumentError("field 'tier' must be one of premium, standard, economy"));
  if (absl::Status s = m->PutPrice(p); !s.ok()) co_return ErrorResponse(s);
  providers::EntryRef e = m->prices()->Lookup(p.provider, p.model);
  co_return Ok(e ? ToJson(e->price) : ToJson(p));
}

}  // namespace

void AddAdminRoutes(Router& router, Metering* m) {
  using http::verb;
  router.Add(verb::get, "/api/admin/tenants", Bind(m, ListTenants));
  router.Add(verb::post, "/api/admin/tenants", Bind(m, CreateTenant));
  router.Add(verb::get, "/api/admin/tenants/{id}", Bind(m, GetTenant));
  router.Add(verb::put, "/api/admin/tenants/{id}", Bind(m, UpdateTenant));
  router.Add(verb::delete_, "/api/admin/tenants/{id}", Bind(m, DeleteTenant));
  router.Add(verb::get, "/api/admin/keys", Bind(m, ListKeys));
  router.Add(verb::post, "/api/admin/keys", Bind(m, CreateKey));
  router.Add(verb::delete_, "/api/admin/keys/{id}", Bind(m, DeleteKey));
  router.Add(verb::get, "/api/admin/limits", Bind(m, ListLimits));
  router.Add(verb::post, "/api/admin/limits", Bind(m, CreateLimit));
  router.Add(verb::get, "/api/admin/limits/{id}", Bind(m, GetLimit));
  router.Add(verb::put, "/api/admin/limits/{id}", Bind(m, PutLimit));
  router.Add(verb::delete_, "/api/admin/limits/{id}", Bind(m, DeleteLimit));
  router.Add(verb::get, "/api/admin/usage/summary", Bind(m, Summary));
  router.Add(verb::get, "/api/admin/usage/events", Bind(m, Events));
  router.Add(verb::get, "/api/admin/prices", Bind(m, ListPrices));
  router.Add(verb::put, "/api/admin/prices/{provider}:{model}", Bind(m, PutPrice));
  router.Add(verb::put, "/api/admin/prices/{name}", [m](RequestContext& c) -> awaitable<Response> {
    if (absl::Status s = AdminOnly(c, *m); !s.ok()) co_return ErrorResponse(s);
    co_return ErrorResponse(absl::InvalidArgumentError(
        "the path must name provider:model, e.g. /api/admin/prices/openai:gpt-4o"));
  });
}

}  // namespace tollgate::server::handlers
