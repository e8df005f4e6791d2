// The tenant API (/api/client/usage/*): a tenant admin's view of its own limits and
// usage. An admin uses it with ?tenant_id=. Another tenant's records answer 404.
#include <algorithm>
#include <map>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/money.h"
#include "server/codec.h"
#include "server/handlers/common.h"
#include "server/common/json_util.h"
#include "server/handlers/routes.h"
#include "server/reports.h"

namespace tollgate::server::handlers {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using boost::asio::awaitable;

constexpr std::initializer_list<Role> kTenantRoles = {Role::kAdmin, Role::kTenantAdmin};

// The limit `id` if it belongs to `tenant_id`; NotFound otherwise.
absl::StatusOr<Limit> OwnLimit(Metering* m, std::string_view tenant_id, std::string_view id) {
  absl::StatusOr<Limit> l = m->GetLimit(id);
  if (!l.ok() || l->scope.tenant_id != tenant_id) return absl::NotFoundError("limit not found");
  return l;
}

// Parses a limit from the body and binds it to the caller's tenant.
absl::StatusOr<Limit> TenantLimitFromBody(const RequestContext& ctx, const Caller& caller) {
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) return body.status();
  absl::StatusOr<Limit> l = LimitFromJson(*body);
  if (!l.ok()) return l;
  if (l->scope.level == Level::kGlobal)
    return absl::PermissionDeniedError("global limits are set through the admin API");
  if (!l->scope.tenant_id.empty() && l->scope.tenant_id != caller.tenant_id) {
    if (l->scope.tenant_id == "*")
      return absl::PermissionDeniedError("limits for every tenant are set through the admin API");
    return absl::NotFoundError("tenant not found");
  }
  l->scope.tenant_id = caller.tenant_id;
  return l;
}

absl::StatusOr<EventFilter> ReadEventFilter(const RequestContext& ctx, std::string tenant_id) {
  EventFilter f;
  f.tenant_id = std::move(tenant_id);
  for (auto [name, out] : {std::pair{"user_id", &f.user_id}, std::pair{"agent", &f.agent}}) {
    absl::StatusOr<std::string> v = QueryId(ctx, name);
    if (!v.ok()) return v.status();
    *out = *v;
  }
  if (std::optional<std::string> model = ctx.Query("model")) {
    if (model->empty() || model->size() > 256)
      return absl::InvalidArgumentError("parameter 'model' must be 1-256 bytes");
    f.model = *model;
  }
  absl::StatusOr<std::optional<absl::Time>> from = QueryTime(ctx, "from");
  if (!from.ok()) return from.status();
  f.from = *from;
  absl::StatusOr<std::optional<absl::Time>> to = QueryTime(ctx, "to");
  if (!to.ok()) return to.status();
  f.to = *to;
  absl::StatusOr<std::optional<int64_t>> limit = QueryInt(ctx, "limit", 1, 1000);
  if (!limit.ok()) return limit.status();
  f.limit = static_cast<int>(limit->value_or(100));
  if (std::optional<std::string> cursor = ctx.Query("cursor")) f.cursor = *cursor;
  return f;
}

}  // namespace

// Shared with the admin API's /api/admin/usage/events.
awaitable<Response> ListEventsResponse(const RequestContext& ctx, Metering* m,
                                       std::string tenant_id) {
  absl::StatusOr<EventFilter> filter = ReadEventFilter(ctx, std::move(tenant_id));
  if (!filter.ok()) co_return ErrorResponse(filter.status());
  absl::StatusOr<EventPage> page = m->store()->ListEvents(*filter);
  if (!page.ok()) co_return ErrorResponse(page.status());
  json::array events;
  for (const UsageEvent& e : page->events) events.push_back(ToJson(e));
  co_return Ok(json::object{
      {"events", events},
      {"next_cursor", page->next_cursor.empty() ? json::value(nullptr) : json::value(page->next_cursor)}});
}

namespace {

awaitable<Response> Status(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  CallContext call;
  call.tenant_id = caller->tenant_id;
  // Top spenders of the last 30 days, by cost then tokens.
  absl::Time now = m->clock()->Now();
  DailyQuery q;
  q.tenant_id = caller->tenant_id;
  q.from_date = m->LocalDate(caller->tenant_id, now - absl::Hours(24 * 29));
  q.to_date = m->LocalDate(caller->tenant_id, now);
  absl::StatusOr<std::vector<DailyRow>> rows = m->store()->ListDaily(q);
  if (!rows.ok()) co_return ErrorResponse(rows.status());
  struct Spend {
    int64_t tokens = 0, requests = 0;
    Nanos cost = 0;
  };
  std::map<std::string, Spend> by_user;
  for (const DailyRow& r : *rows) {
    Spend& s = by_user[r.user_id];
    s.tokens += r.usage.total_tokens;
    s.requests += r.requests;
    s.cost += r.cost.Total();
  }
  std::vector<std::pair<std::string, Spend>> top(by_user.begin(), by_user.end());
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
    if (a.second.cost != b.second.cost) return a.second.cost > b.second.cost;
    if (a.second.tokens != b.second.tokens) return a.second.tokens > b.second.tokens;
    return a.first < b.first;
  });
  if (top.size() > 10) top.resize(10);
  json::array top_json;
  for (const auto& [user, s] : top)
    top_json.push_back({{"user_id", user},
                        {"total_tokens", s.tokens},
                        {"cost_usd", core::UsdToDouble(s.cost)},
                        {"requests", s.requests}});
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("tenant_id").String(caller->tenant_id);
  w.Key("mode").String(ToString(m->TenantMode(caller->tenant_id)));
  w.Key("limits");
  WriteJson(w, m->Status(call));
  w.Key("top_users").Value(top_json);
  w.Key("period_days").Int(30);
  w.EndObject();
  co_return JsonResponse(http::status::ok, std::move(out));
}

awaitable<Response> ListLimits(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<std::vector<Limit>> all = m->ListLimits();
  if (!all.ok()) co_return ErrorResponse(all.status());
  json::array out;
  for (const Limit& l : *all)
    if (l.scope.tenant_id == caller->tenant_id) out.push_back(ToJson(l));
  co_return Ok(json::object{{"limits", out}});
}

awaitable<Response> CreateLimit(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<Limit> l = TenantLimitFromBody(ctx, *caller);
  if (!l.ok()) co_return ErrorResponse(l.status());
  l->id.clear();
  absl::StatusOr<Limit> saved = m->PutLimit(*l);
  if (!saved.ok()) co_return ErrorResponse(saved.status());
  co_return Json(http::status::created, ToJson(*saved));
}

awaitable<Response> GetLimit(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<Limit> l = OwnLimit(m, caller->tenant_id, ctx.Param("id"));
  if (!l.ok()) co_return ErrorResponse(l.status());
  co_return Ok(ToJson(*l));
}

awaitable<Response> PutLimit(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<Limit> existing = OwnLimit(m, caller->tenant_id, ctx.Param("id"));
  if (!existing.ok()) co_return ErrorResponse(existing.status());
  if (absl::Status s = NotPolicyOwned(*existing); !s.ok()) co_return ErrorResponse(s);
  absl::StatusOr<Limit> l = TenantLimitFromBody(ctx, *caller);
  if (!l.ok()) co_return ErrorResponse(l.status());
  l->id = existing->id;
  l->owner = existing->owner;
  absl::StatusOr<Limit> saved = m->PutLimit(*l);
  if (!saved.ok()) co_return ErrorResponse(saved.status());
  co_return Ok(ToJson(*saved));
}

awaitable<Response> DeleteLimit(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<Limit> l = OwnLimit(m, caller->tenant_id, ctx.Param("id"));
  if (!l.ok()) co_return ErrorResponse(l.status());
  if (absl::Status s = NotPolicyOwned(*l); !s.ok()) co_return ErrorResponse(s);
  if (absl::Status s = m->DeleteLimit(l->id); !s.ok()) co_return ErrorResponse(s);
  co_return Ok(json::object{{"id", l->id}, {"deleted", true}});
}

awaitable<Response> History(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<Granularity> g = ParseGranularity(ctx.Query("granularity").value_or("day"));
  if (!g.ok()) co_return ErrorResponse(g.status());
  absl::StatusOr<GroupBy> by = ParseGroupBy(ctx.Query("group_by").value_or(""));
  if (!by.ok()) co_return ErrorResponse(by.status());
  absl::StatusOr<std::optional<absl::Time>> from = QueryTime(ctx, "from");
  if (!from.ok()) co_return ErrorResponse(from.status());
  absl::StatusOr<std::optional<absl::Time>> to = QueryTime(ctx, "to");
  if (!to.ok()) co_return ErrorResponse(to.status());
  absl::Time now = m->clock()->Now();
  DailyQuery q;
  q.tenant_id = caller->tenant_id;
  absl::StatusOr<std::string> user = QueryId(ctx, "user_id");
  if (!user.ok()) co_return ErrorResponse(user.status());
  q.user_id = *user;
  q.from_date = m->LocalDate(caller->tenant_id, from->value_or(now - absl::Hours(24 * 29)));
  q.to_date = m->LocalDate(caller->tenant_id, to->value_or(now));
  absl::StatusOr<std::vector<DailyRow>> rows = m->store()->ListDaily(q);
  if (!rows.ok()) co_return ErrorResponse(rows.status());
  json::object o = server::History(*rows, *g, *by);
  o["from"] = q.from_date;
  o["to"] = q.to_date;
  co_return Ok(o);
}

awaitable<Response> Events(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  co_return co_await ListEventsResponse(ctx, m, caller->tenant_id);
}

// Streams every matching event, page by page, as CSV or JSON lines.
awaitable<Response> Export(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kTenantRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  std::string format = ctx.Query("format").value_or("jsonl");
  if (format != "csv" && format != "jsonl")
    co_return ErrorResponse(absl::InvalidArgumentError("parameter 'format' must be csv or jsonl"));
  absl::StatusOr<EventFilter> filter = ReadEventFilter(ctx, caller->tenant_id);
  if (!filter.ok()) co_return ErrorResponse(filter.status());
  filter->limit = 1000;
  // Read the first page before the header so that a bad cursor is still a clean 400.
  absl::StatusOr<EventPage> page = m->store()->ListEvents(*filter);
  if (!page.ok()) co_return ErrorResponse(page.status());
  bool csv = format == "csv";
  HeaderList headers = {{"Content-Disposition",
                         absl::StrCat("attachment; filename=\"usage-", caller->tenant_id,
                                      csv ? ".csv\"" : ".jsonl\"")}};
  std::string_view type = csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
  if (!co_await ctx.writer->WriteHeader(http::status::ok, type, headers)) co_return Streamed();
  if (csv && !co_await ctx.writer->WriteChunk(EventCsvHeader())) co_return Streamed();
  for (;;) {
    std::string chunk;
    for (const UsageEvent& e : page->events) {
      if (csv)
        chunk += EventCsvRow(e);
      else
        absl::StrAppend(&chunk, SerializeJson(ToJson(e)), "\n");
    }
    if (!co_await ctx.writer->WriteChunk(chunk)) co_return Streamed();
    if (page->next_cursor.empty()) break;
    filter->cursor = page->next_cursor;
    page = m->store()->ListEvents(*filter);
    if (!page.ok()) break;  // the header is out: end the body early
  }
  co_await ctx.writer->Finish();
  co_return Streamed();
}

}  // namespace

void AddClientRoutes(Router& router, Metering* m) {
  using http::verb;
  router.Add(verb::get, "/api/client/usage/status", Bind(m, Status));
  router.Add(verb::get, "/api/client/usage/limits", Bind(m, ListLimits));
  router.Add(verb::post, "/api/client/usage/limits", Bind(m, CreateLimit));
  router.Add(verb::get, "/api/client/usage/limits/{id}", Bind(m, GetLimit));
  router.Add(verb::put, "/api/client/usage/limits/{id}", Bind(m, PutLimit));
  router.Add(verb::delete_, "/api/client/usage/limits/{id}", Bind(m, DeleteLimit));
  router.Add(verb::get, "/api/client/usage/history", Bind(m, History));
  router.Add(verb::get, "/api/client/usage/events", Bind(m, Events));
  router.Add(verb::get, "/api/client/usage/export", Bind(m, Export));
}

}  // namespace tollgate::server::handlers
