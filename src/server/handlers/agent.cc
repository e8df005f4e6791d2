// The agent API: check before a call, report after it, release an unused reservation,
// and read the limits that apply.
#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/money.h"
#include "providers/usage.h"
#include "server/codec.h"
#include "server/handlers/common.h"
#include "server/handlers/routes.h"
#include "server/http/await_callback.h"
#include "tollgate/tokenizer.h"

namespace tollgate::server::handlers {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using boost::asio::awaitable;

constexpr std::initializer_list<Role> kAgentRoles = {Role::kAdmin, Role::kTenantAdmin, Role::kAgent};

// Reads who is calling which model: user_id / agent from the body or the
// X-Tollgate-User / X-Tollgate-Agent headers; provider and model from the body.
absl::StatusOr<CallContext> ReadCall(const RequestContext& ctx, const Caller& caller,
                                     const JsonReader& f, bool need_model) {
  CallContext call;
  call.tenant_id = caller.tenant_id;
  call.key_id = caller.key->id;
  absl::StatusOr<std::string> user = IdOrEmpty(f, "user_id");
  if (!user.ok()) return user.status();
  call.user_id = *user;
  if (call.user_id.empty() && !ctx.Header("x-tollgate-user").empty()) {
    call.user_id = std::string(ctx.Header("x-tollgate-user"));
    if (!core::IsValidId(call.user_id))
      return absl::InvalidArgumentError("header 'X-Tollgate-User' is not a valid id");
  }
  absl::StatusOr<std::string> agent = IdOrEmpty(f, "agent");
  if (!agent.ok()) return agent.status();
  call.agent = *agent;
  if (call.agent.empty() && !ctx.Header("x-tollgate-agent").empty()) {
    call.agent = std::string(ctx.Header("x-tollgate-agent"));
    if (!core::IsValidId(call.agent))
      return absl::InvalidArgumentError("header 'X-Tollgate-Agent' is not a valid id");
  }
  if (need_model) {
    absl::StatusOr<std::string> provider = f.RequiredId("provider");
    if (!provider.ok()) return provider.status();
    call.provider = *provider;
    absl::StatusOr<std::string> model = f.RequiredNonEmptyString("model", 256);
    if (!model.ok()) return model.status();
    call.model = *model;
  }
  return call;
}

// Counts the input of a body that gives `text` or chat `messages` (with optional
// `tools`) instead of input_tokens.
absl::StatusOr<tokenizer::TokenCount> CountInput(const json::object& body, std::string_view model) {
  const json::value* text = body.if_contains("text");
  const json::value* messages = body.if_contains("messages");
  absl::StatusOr<tokenizer::TokenCount> count = absl::InvalidArgumentError(
      "one of the fields 'input_tokens', 'messages' or 'text' is required");
  if (text != nullptr && !text->is_null()) {
    if (!text->is_string()) return absl::InvalidArgumentError("field 'text' must be a string");
    count = tokenizer::CountText(model, std::string_view(text->as_string()));
  } else if (messages != nullptr && !messages->is_null()) {
    absl::StatusOr<tokenizer::ChatRequest> parsed = tokenizer::ParseChatRequest(body);
    if (!parsed.ok()) return parsed.status();
    count = tokenizer::CountChat(model, *parsed);
  } else {
    return count;
  }
  if (absl::IsNotFound(count.status()))
    return absl::InvalidArgumentError(absl::StrCat(
        "field 'model': no tokenizer for '", std::string(model.substr(0, 128)),
        "'; send input_tokens instead"));
  return count;
}

// The check answer, written into *out; `counted` when the input was counted here.
void WriteCheckAnswer(const CheckAnswer& a, const std::optional<tokenizer::TokenCount>& counted,
                      std::string* out) {
  const CheckResult& r = a.result;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("allowed").Bool(r.allowed);
  w.Key("decision").String(ToString(r.decision));
  w.Key("model").String(a.model);
  if (a.policy_applied) {
    w.Key("provider").String(a.provider);
    if (!a.downgraded_from.empty()) w.Key("downgraded_from").String(a.downgraded_from);
    if (!a.code.empty()) w.Key("code").String(a.code);
    w.Key("max_output_tokens");
    a.max_output_tokens ? w.Int(*a.max_output_tokens) : w.Null();
    w.Key("temperature");
    a.temperature ? w.Double(*a.temperature) : w.Null();
  }
  w.Key("reservation_id");
  r.reservation_id.empty() ? w.Null() : w.String(r.reservation_id);
  w.Key("expires_at");
  r.reservation_id.empty() ? w.Null() : w.String(Rfc3339(r.expires_at));
  w.Key("limits");
  WriteJson(w, r.limits);
  if (!r.reason.empty()) w.Key("reason").String(r.reason);
  if (r.retry_after) {
    w.Key("retry_after_s")
        .Int(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(*r.retry_after, absl::Seconds(1)))));
  }
  if (r.blocking) w.Key("blocking_limit_id").String(r.blocking->limit.id);
  if (counted) {
    w.Key("input_tokens").Int(counted->tokens);
    w.Key("encoding").String(counted->encoding);
    w.Key("estimated").Bool(counted->estimated);
  }
  w.EndObject();
}

// An authenticated agent-API call: the caller (with the tenant it acts on: its own, or
// the body's `tenant_id` for an admin) and the parsed body. The body is parsed only for
// callers with a valid key and role.
struct AgentRequest {
  Caller caller;
  json::object body;
  CallContext call;  // who calls which model; filled when asked for
};

absl::StatusOr<AgentRequest> ReadAgentRequest(const RequestContext& ctx, const Metering& m,
                                              bool with_call = false) {
  absl::StatusOr<Caller> caller = Authenticate(ctx, m, kAgentRoles);
  if (!caller.ok()) return caller.status();
  // One arena per request body: a few allocations instead of one per JSON node.
  absl::StatusOr<json::object> body =
      BodyObject(ctx, json::make_shared_resource<json::monotonic_resource>());
  if (!body.ok()) return body.status();
  absl::StatusOr<std::string> tenant = IdOrEmpty(JsonReader(*body), "tenant_id");
  if (!tenant.ok()) return tenant.status();
  if (absl::Status s = ResolveTenant(ctx, m, *caller, true, *tenant); !s.ok()) return s;
  AgentRequest request{*std::move(caller), *std::move(body), {}};
  if (with_call) {
    absl::StatusOr<CallContext> call =
        ReadCall(ctx, request.caller, JsonReader(request.body), /*need_model=*/true);
    if (!call.ok()) return call.status();
    request.call = *std::move(call);
  }
  return request;
}

awaitable<Response> Check(RequestContext& ctx, Metering* m) {
  absl::StatusOr<AgentRequest> request = ReadAgentRequest(ctx, *m, /*with_call=*/true);
  if (!request.ok()) co_return ErrorResponse(request.status());
  const json::object* body = &request->body;
  JsonReader f(*body);
  CheckRequest req;
  req.ctx = request->call;
  absl::StatusOr<std::optional<int64_t>> input = f.NonNegativeInt("input_tokens");
  if (!input.ok()) co_return ErrorResponse(input.status());
  std::optional<tokenizer::TokenCount> counted;
  if (input->has_value()) {
    req.input_tokens = **input;
  } else {
    absl::StatusOr<tokenizer::TokenCount> c = CountInput(*body, req.ctx.model);
    if (!c.ok()) co_return ErrorResponse(c.status());
    counted = *c;
    req.input_tokens = c->tokens;
  }
  absl::StatusOr<std::optional<int64_t>> max_out = f.NonNegativeInt("max_output_tokens");
  if (!max_out.ok()) co_return ErrorResponse(max_out.status());
  req.max_output_tokens = *max_out;
  absl::StatusOr<std::optional<double>> temperature = f.Double("temperature");
  if (!temperature.ok()) co_return ErrorResponse(temperature.status());
  req.temperature = *temperature;
  std::string answer;
  answer.reserve(1024);
  WriteCheckAnswer(m->Check(req), counted, &answer);
  co_return JsonResponse(http::status::ok, std::move(answer));
}

awaitable<Response> Report(RequestContext& ctx, Metering* m) {
  absl::StatusOr<AgentRequest> request = ReadAgentRequest(ctx, *m, /*with_call=*/true);
  if (!request.ok()) co_return ErrorResponse(request.status());
  const json::object* body = &request->body;
  JsonReader f(*body);
  ReportRequest req;
  req.ctx = request->call;
  absl::StatusOr<std::string> idem = f.RequiredNonEmptyString("idempotency_key", 256);
  if (!idem.ok()) co_return ErrorResponse(idem.status());
  req.idempotency_key = *idem;
  for (auto [key, out] : {std::pair{"reservation_id", &req.reservation_id},
                          std::pair{"request_id", &req.request_id},
                          std::pair{"model_used", &req.model_used},
                          std::pair{"endpoint", &req.endpoint}}) {
    absl::StatusOr<std::optional<std::string>> v = f.NonEmptyString(key, 256);
    if (!v.ok()) co_return ErrorResponse(v.status());
    if (v->has_value()) *out = **v;
  }
  const json::value* usage = body->if_contains("usage");
  if (usage == nullptr || usage->is_null())
    co_return ErrorResponse(absl::InvalidArgumentError("field 'usage' is required"));
  absl::StatusOr<Usage> normalized = providers::NormalizeUsage(*usage, req.ctx.provider);
  if (!normalized.ok()) co_return ErrorResponse(normalized.status());
  req.usage = *normalized;
  absl::StatusOr<std::optional<int64_t>> latency = f.NonNegativeInt("latency_ms");
  if (!latency.ok()) co_return ErrorResponse(latency.status());
  req.latency_ms = latency->value_or(0);
  absl::StatusOr<std::optional<std::string>> status = f.NonEmptyString("status", 32);
  if (!status.ok()) co_return ErrorResponse(status.status());
  if (status->has_value()) {
    std::optional<EventStatus> s = ParseEventStatus(**status);
    if (!s)
      co_return ErrorResponse(absl::InvalidArgumentError(
          "field 'status' must be one of ok, error, cancelled, denied"));
    req.status = *s;
  }
  absl::StatusOr<std::optional<bool>> estimated = f.Bool("estimated");
  if (!estimated.ok()) co_return ErrorResponse(estimated.status());
  req.estimated = estimated->value_or(false);
  req.with_limits = true;

  // A named start function: GCC 12 mishandles temporaries with captures inside co_await.
  auto shared = std::make_shared<ReportRequest>(std::move(req));
  std::function<void(std::function<void(absl::StatusOr<ReportAnswer>)>)> start =
      [m, shared, loop = ctx.executor](std::function<void(absl::StatusOr<ReportAnswer>)> done) {
        m->Report(std::move(*shared), std::move(done), loop);
      };
  absl::StatusOr<ReportAnswer> answer =
      co_await AwaitCallback<absl::StatusOr<ReportAnswer>>(std::move(start));
  if (!answer.ok()) co_return ErrorResponse(answer.status());
  std::string out;
  out.reserve(1024);
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("event_id").String(answer->event_id);
  w.Key("cost_usd").Double(core::UsdToDouble(answer->cost.Total()));
  w.Key("duplicate").Bool(answer->duplicate);
  w.Key("limits");
  WriteJson(w, answer->limits);
  w.EndObject();
  co_return JsonResponse(http::status::ok, std::move(out));
}

awaitable<Response> Release(RequestContext& ctx, Metering* m) {
  absl::StatusOr<AgentRequest> request = ReadAgentRequest(ctx, *m);
  if (!request.ok()) co_return ErrorResponse(request.status());
  const Caller* caller = &request->caller;
  const json::object* body = &request->body;
  JsonReader f(*body);
  absl::StatusOr<std::string> id = f.RequiredNonEmptyString("reservation_id", 128);
  if (!id.ok()) co_return ErrorResponse(id.status());
  if (absl::Status s = m->Release(caller->tenant_id, *id); !s.ok()) co_return ErrorResponse(s);
  co_return Ok(json::object{{"released", true}, {"reservation_id", *id}});
}

awaitable<Response> Status(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller = Authorize(ctx, *m, kAgentRoles, true);
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<std::string> user = QueryId(ctx, "user_id");
  if (!user.ok()) co_return ErrorResponse(user.status());
  absl::StatusOr<std::string> agent = QueryId(ctx, "agent");
  if (!agent.ok()) co_return ErrorResponse(agent.status());
  CallContext call;
  call.tenant_id = caller->tenant_id;
  call.user_id = *user;
  call.agent = *agent;
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("tenant_id").String(call.tenant_id);
  w.Key("user_id");
  call.user_id.empty() ? w.Null() : w.String(call.user_id);
  w.Key("agent");
  call.agent.empty() ? w.Null() : w.String(call.agent);
  w.Key("mode").String(ToString(m->TenantMode(call.tenant_id)));
  w.Key("limits");
  WriteJson(w, m->Status(call));
  w.EndObject();
  co_return JsonResponse(http::status::ok, std::move(out));
}

// POST /api/utils/token_counter {model, text | messages [, tools]}: any valid key.
awaitable<Response> TokenCounter(RequestContext& ctx, Metering* m) {
  absl::StatusOr<Caller> caller =
      Authenticate(ctx, *m, {Role::kAdmin, Role::kTenantAdmin, Role::kAgent, Role::kClient});
  if (!caller.ok()) co_return ErrorResponse(caller.status());
  absl::StatusOr<json::object> body = BodyObject(ctx);
  if (!body.ok()) co_return ErrorResponse(body.status());
  absl::StatusOr<std::string> model = JsonReader(*body).RequiredNonEmptyString("model", 256);
  if (!model.ok()) co_return ErrorResponse(model.status());
  if (!body->contains("text") && !body->contains("messages"))
    co_return ErrorResponse(absl::InvalidArgumentError("one of the fields 'text' or 'messages' is required"));
  absl::StatusOr<tokenizer::TokenCount> c = CountInput(*body, *model);
  if (!c.ok()) co_return ErrorResponse(c.status());
  co_return Ok(json::object{{"model", *model}, {"tokens", c->tokens}, {"encoding", c->encoding},
                            {"estimated", c->estimated}});
}

}  // namespace

void AddAgentRoutes(Router& router, Metering* m) {
  using http::verb;
  router.Add(verb::post, "/api/agent/usage/check", [m](RequestContext& c) { return Check(c, m); });
  router.Add(verb::post, "/api/agent/usage/report", [m](RequestContext& c) { return Report(c, m); });
  router.Add(verb::post, "/api/agent/usage/release", [m](RequestContext& c) { return Release(c, m); });
  router.Add(verb::get, "/api/agent/usage/status", [m](RequestContext& c) { return Status(c, m); });
  router.Add(verb::post, "/api/utils/token_counter",
             [m](RequestContext& c) { return TokenCounter(c, m); });
}

}  // namespace tollgate::server::handlers
