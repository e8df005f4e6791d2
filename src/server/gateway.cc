#include "server/gateway.h"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/ids.h"
#include "engine/policy.h"
#include "providers/sse.h"
#include "providers/stream_meter.h"
#include "server/common/json_util.h"
#include "server/handlers/common.h"
#include "server/http/await_callback.h"
#include "spdlog/spdlog.h"
#include "tollgate/tokenizer.h"

namespace tollgate::server {

namespace json = boost::json;
namespace http = boost::beast::http;
namespace net = boost::asio;
using net::awaitable;
using providers::WireFormat;

struct Gateway::Upstream {
  UpstreamConfig config;
  absl::Mutex mu;
  // One client (and connection pool) per event loop of the server, made when the loop
  // serves its first call: a call's upstream I/O completes on its own thread.
  absl::flat_hash_map<net::io_context*, std::unique_ptr<upstream::Client>> clients
      ABSL_GUARDED_BY(mu);

  upstream::Client& ClientOn(const net::any_io_executor& executor) {
    auto* ioc = &static_cast<net::io_context&>(net::query(executor, net::execution::context));
    absl::MutexLock lock(&mu);
    std::unique_ptr<upstream::Client>& client = clients[ioc];
    if (client == nullptr) client = std::make_unique<upstream::Client>(*ioc, config.client);
    return *client;
  }
};

namespace {

// --- Answers in the provider's format ------------------------------------------------

Response ProviderError(WireFormat format, http::status status, std::string_view code,
                       std::string_view message, const HeaderList& headers = {}) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) res.set(name, value);
  res.body() = providers::ErrorBody(format, static_cast<unsigned>(status), code, message);
  return res;
}

Response ProviderError(WireFormat format, const absl::Status& s, const HeaderList& headers = {}) {
  MappedError e = MapStatus(s);
  return ProviderError(format, e.status, e.code, e.message, headers);
}

// The same error as one event of a stream whose headers are already sent.
std::string StreamErrorEvent(WireFormat format, unsigned status, std::string_view code,
                             std::string_view message) {
  std::string body = providers::ErrorBody(format, status, code, message);
  if (format == WireFormat::kAnthropicMessages) return absl::StrCat("event: error\ndata: ", body, "\n\n");
  return absl::StrCat("data: ", body, "\n\n");
}

// "1h2m3s", "45s", "0s": the duration style of OpenAI's x-ratelimit-reset-* headers.
std::string ResetText(absl::Duration d) {
  int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))));
  std::string out;
  if (s >= 3600) absl::StrAppend(&out, s / 3600, "h");
  if (s >= 60) absl::StrAppend(&out, (s % 3600) / 60, "m");
  absl::StrAppend(&out, s % 60, "s");
  return out;
}

// x-ratelimit-{limit,remaining,reset}-{requests,tokens} from the tightest enforced limit
// of each kind (token metrics for tokens), so clients see tollgate's limits, not the
// platform's account at the provider.
void AddRateLimitHeaders(const std::vector<LimitStatus>& limits, absl::Time now, HeaderList& out) {
  const LimitStatus* tightest[2] = {nullptr, nullptr};  // requests, tokens
  for (const LimitStatus& l : limits) {
    int kind;
    switch (l.limit.metric) {
      case Metric::kRequests: kind = 0; break;
      case Metric::kTokens:
      case Metric::kInputTokens:
      case Metric::kOutputTokens: kind = 1; break;
      default: continue;
    }
    if (tightest[kind] == nullptr || l.remaining < tightest[kind]->remaining) tightest[kind] = &l;
  }
  static constexpr const char* kNames[2] = {"requests", "tokens"};
  for (int k = 0; k < 2; ++k) {
    const LimitStatus* l = tightest[k];
    if (l == nullptr) continue;
    out.emplace_back(absl::StrCat("x-ratelimit-limit-", kNames[k]), absl::StrCat(l->limit.limit));
    out.emplace_back(absl::StrCat("x-ratelimit-remaining-", kNames[k]), absl::StrCat(l->remaining));
    out.emplace_back(absl::StrCat("x-ratelimit-reset-", kNames[k]), ResetText(l->resets_at - now));
  }
}

// Upstream answer headers that a client may see: not hop-by-hop ones, not the framing
// (the server sets its own), not the provider's rate-limit view of the platform account.
bool PassesBack(std::string_view name) {
  static constexpr std::string_view kDropped[] = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length",
      "te", "trailer", "upgrade", "set-cookie", "content-type", "date", "server"};
  for (std::string_view d : kDropped)
    if (absl::EqualsIgnoreCase(absl::string_view(name.data(), name.size()),
                               absl::string_view(d.data(), d.size())))
      return false;
  return !absl::StartsWithIgnoreCase(absl::string_view(name.data(), name.size()), "x-ratelimit-") &&
         !absl::StartsWithIgnoreCase(absl::string_view(name.data(), name.size()),
                                     "anthropic-ratelimit-");
}

void CopyUpstreamHeaders(const http::fields& from, HeaderList& out) {
  for (const auto& f : from) {
    std::string_view name(f.name_string().data(), f.name_string().size());
    if (PassesBack(name)) out.emplace_back(std::string(name), std::string(f.value()));
  }
}

// --- The caller ---------------------------------------------------------------------

// Which user and agent a call is for: a key bound to a user speaks for that user only;
// other keys name the user in `x-tollgate-user` (or OpenAI's body field `user`), the
// agent in `x-tollgate-agent`.
absl::Status IdentifySubject(const RequestContext& ctx, const ApiKey& key, const json::object* body,
                             CallContext& call) {
  std::string_view header_user = ctx.Header("x-tollgate-user");
  if (!key.user_id.empty()) {
    if (!header_user.empty() && header_user != key.user_id)
      return absl::PermissionDeniedError("this key is bound to another user");
    call.user_id = key.user_id;
  } else if (!header_user.empty()) {
    call.user_id = std::string(header_user);
  } else if (body != nullptr) {
    if (const json::value* u = body->if_contains("user"); u != nullptr && u->is_string())
      call.user_id = std::string(u->get_string());
  }
  if (!call.user_id.empty() && !core::IsValidId(call.user_id))
    return absl::InvalidArgumentError("the user id must be 1-128 characters of [A-Za-z0-9._:@-]");
  call.agent = std::string(ctx.Header("x-tollgate-agent"));
  if (!call.agent.empty() && !core::IsValidId(call.agent))
    return absl::InvalidArgumentError(
        "header 'x-tollgate-agent' must be 1-128 characters of [A-Za-z0-9._:@-]");
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ApiKey>> AuthenticateCaller(const RequestContext& ctx,
                                                                 const Metering& m) {
  std::string secret = handlers::BearerSecret(ctx, /*allow_provider_headers=*/true);
  if (secret.empty()) return absl::UnauthenticatedError("missing API key");
  std::shared_ptr<const ApiKey> key = m.Authenticate(secret);
  if (!key) return absl::UnauthenticatedError("invalid API key");
  if (key->role != Role::kClient && key->role != Role::kAgent)
    return absl::PermissionDeniedError(absl::StrCat(
        "a key with role ", std::string(ToString(key->role)),
        " may not call models; use a client or agent key"));
  return key;
}

// --- The upstream request -------------------------------------------------------------

// The upstream target for a client path: OpenAI's base URL already ends in /v1, the
// others name the whole path.
std::string UpstreamTarget(const UpstreamConfig& up, WireFormat format, std::string_view path,
                           std::string_view model, std::string_view gemini_method,
                           const RequestContext& ctx) {
  const std::string& base = up.origin.base_path;
  switch (format) {
    case WireFormat::kOpenAiChat:
    case WireFormat::kOpenAiResponses:
    case WireFormat::kOpenAiEmbeddings:
      return absl::StrCat(base, std::string(absl::StartsWith(absl::string_view(path.data(), path.size()), "/v1")
                                                ? path.substr(3)
                                                : path));
    case WireFormat::kAnthropicMessages: return absl::StrCat(base, std::string(path));
    case WireFormat::kGeminiGenerate: {
      // The client's API version ("v1beta" or "v1"), the resolved model.
      std::string_view version =
          absl::StartsWith(absl::string_view(path.data(), path.size()), "/v1beta/") ? "v1beta" : "v1";
      std::string target = absl::StrCat(base, "/", std::string(version), "/models/",
                                        std::string(model), ":", std::string(gemini_method));
      if (std::optional<std::string> alt = ctx.Query("alt"); alt && *alt == "sse")
        absl::StrAppend(&target, "?alt=sse");
      return target;
    }
  }
  return std::string(path);
}

http::request<http::string_body> UpstreamRequest(const UpstreamConfig& up, WireFormat format,
                                                 http::verb method, std::string target,
                                                 const RequestContext& ctx, std::string body) {
  http::request<http::string_body> req{method, target, 11};
  if (method == http::verb::post) req.set(http::field::content_type, "application/json");
  if (!up.api_key.empty()) {
    switch (format) {
      case WireFormat::kAnthropicMessages: req.set("x-api-key", up.api_key); break;
      case WireFormat::kGeminiGenerate: req.set("x-goog-api-key", up.api_key); break;
      default: req.set(http::field::authorization, absl::StrCat("Bearer ", up.api_key));
    }
  }
  // What the caller may say to the provider; its credentials and tollgate's own headers
  // stay behind, and no Accept-Encoding: the gateway reads the answer to meter it.
  static constexpr std::string_view kForwarded[] = {"anthropic-version", "anthropic-beta",
                                                    "openai-beta", "openai-organization",
                                                    "openai-project", "accept", "user-agent"};
  for (std::string_view name : kForwarded)
    if (std::string_view v = ctx.Header(name); !v.empty()) req.set(name, v);
  if (format == WireFormat::kAnthropicMessages && ctx.Header("anthropic-version").empty())
    req.set("anthropic-version", "2023-06-01");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

absl::Status UpstreamFailure(const UpstreamConfig& up, const absl::Status& s) {
  if (absl::IsDeadlineExceeded(s))
    return WithErrorCode(absl::DeadlineExceededError(absl::StrCat(
                             "upstream ", up.name, " did not answer in time")),
                         "upstream_timeout");
  return WithErrorCode(
      absl::UnavailableError(absl::StrCat("upstream ", up.name, " unreachable: ", s.message())),
      "upstream_unavailable");
}

// MapStatus hides 5xx messages; upstream failures are the caller's business, so say them.
Response UpstreamErrorResponse(WireFormat format, const absl::Status& s, const HeaderList& headers) {
  http::status st = absl::IsDeadlineExceeded(s) ? http::status::gateway_timeout : http::status::bad_gateway;
  MappedError e = MapStatus(s);
  return ProviderError(format, st, e.code, std::string(s.message()), headers);
}

// Output tokens of a text for `model` when the provider did not say: the tokenizer for
// models it knows, bytes / 4 otherwise.
int64_t CountOutput(std::string_view model, std::string_view text) {
  if (text.empty()) return 0;
  if (absl::StatusOr<tokenizer::TokenCount> c = tokenizer::CountText(model, text); c.ok())
    return c->tokens;
  return static_cast<int64_t>((text.size() + 3) / 4);
}

// Waits for the ledger to commit a report. Failures are logged: the caller already has
// the answer and the engine took the charge back out.
awaitable<void> Record(Metering* m, ReportRequest report) {
  boost::asio::any_io_executor loop = co_await boost::asio::this_coro::executor;
  std::function<void(std::function<void(absl::Status)>)> start =
      [m, &report, &loop](std::function<void(absl::Status)> done) {
        m->Report(
            std::move(report), [done](absl::StatusOr<ReportAnswer> a) { done(a.status()); }, loop);
      };
  absl::Status s = co_await AwaitCallback<absl::Status>(std::move(start));
  if (!s.ok()) spdlog::error("gateway: recording usage failed: {}", std::string(s.message()));
}

// The check's denial as the provider's error: quota (calendar windows, policy) 403, rate
// (windows of an hour or less) 429 with Retry-After, a prompt over max_context 400.
Response Denial(WireFormat format, const CheckAnswer& a, HeaderList headers) {
  const CheckResult& r = a.result;
  std::string message = r.reason.empty() ? "usage limit reached" : r.reason;
  if (!a.code.empty()) {
    http::status st = a.code == "context_too_large" ? http::status::bad_request : http::status::forbidden;
    return ProviderError(format, st, a.code, absl::StrCat("tollgate: ", message), headers);
  }
  bool rate = r.blocking.has_value() && r.blocking->limit.window.IsRate();
  if (rate) {
    if (r.retry_after)
      headers.emplace_back(
          "Retry-After", absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(
                                                            *r.retry_after, absl::Seconds(1))))));
    return ProviderError(format, http::status::too_many_requests, "rate_limited",
                         absl::StrCat("tollgate: ", message), headers);
  }
  return ProviderError(format, http::status::forbidden, "quota_exceeded",
                       absl::StrCat("tollgate: ", message), headers);
}

bool Is2xx(unsigned status) { return status >= 200 && status < 300; }

}  // namespace

absl::StatusOr<GatewayOptions> GatewayOptionsFromConfig(const Config& config) {
  GatewayOptions options;
  struct Entry {
    const char* name;
    const ProviderConfig* from;
    UpstreamConfig* to;
  };
  Entry entries[] = {{"openai", &config.openai, &options.openai},
                     {"anthropic", &config.anthropic, &options.anthropic},
                     {"gemini", &config.gemini, &options.gemini}};
  for (const Entry& e : entries) {
    absl::StatusOr<upstream::Origin> origin = upstream::ParseBaseUrl(e.from->base_url);
    if (!origin.ok())
      return absl::InvalidArgumentError(absl::StrCat("providers.", e.name, ".base_url: ",
                                                     origin.status().message()));
    e.to->name = e.name;
    e.to->origin = *origin;
    if (const char* key = std::getenv(e.from->api_key_env.c_str())) e.to->api_key = key;
    e.to->client.connect_timeout = std::chrono::seconds(e.from->connect_timeout_s);
    e.to->client.read_timeout = std::chrono::seconds(e.from->timeout_s);
    e.to->client.ca_file = e.from->ca_file;
  }
  return options;
}

Gateway::Gateway(Metering* metering, GatewayOptions options)
    : metering_(metering),
      max_response_bytes_(options.max_response_bytes),
      openai_(std::make_unique<Upstream>()),
      anthropic_(std::make_unique<Upstream>()),
      gemini_(std::make_unique<Upstream>()) {
  openai_->config = std::move(options.openai);
  anthropic_->config = std::move(options.anthropic);
  gemini_->config = std::move(options.gemini);
  // Each server thread makes its own clients at its first call; the trust stores they
  // share are loaded here, before the first call waits for them.
  for (Upstream* up : {openai_.get(), anthropic_.get(), gemini_.get()}) {
    upstream::PrepareTls(up->config.client);
  }
}

Gateway::~Gateway() = default;

void Gateway::Close() {
  for (Upstream* up : {openai_.get(), anthropic_.get(), gemini_.get()}) {
    absl::MutexLock lock(&up->mu);
    up->clients.clear();
  }
}

Gateway::Upstream& Gateway::UpstreamFor(WireFormat format) {
  switch (format) {
    case WireFormat::kAnthropicMessages: return *anthropic_;
    case WireFormat::kGeminiGenerate: return *gemini_;
    default: return *openai_;
  }
}

awaitable<Response> Gateway::Call(RequestContext& ctx, WireFormat format) {
  Outcome outcome = Outcome::kRejected;
  Response res = co_await Serve(ctx, format, outcome);
  size_t provider = format == WireFormat::kAnthropicMessages ? 1
                    : format == WireFormat::kGeminiGenerate  ? 2
                                                             : 0;
  calls_[provider][static_cast<size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  co_return res;
}

void Gateway::AppendMetrics(std::string* out) const {
  static constexpr const char* kProviders[] = {"openai", "anthropic", "gemini"};
  static constexpr const char* kOutcomeNames[kOutcomes] = {
      "ok", "rejected", "denied", "upstream_error", "upstream_unavailable", "upstream_timeout",
      "cancelled", "stream_error"};
  absl::StrAppend(out,
                  "# HELP tollgate_gateway_calls_total Metered gateway calls by provider and "
                  "outcome.\n# TYPE tollgate_gateway_calls_total counter\n");
  for (size_t p = 0; p < 3; ++p)
    for (size_t o = 0; o < kOutcomes; ++o)
      absl::StrAppend(out, "tollgate_gateway_calls_total{provider=\"", kProviders[p],
                      "\",outcome=\"", kOutcomeNames[o], "\"} ",
                      calls_[p][o].load(std::memory_order_relaxed), "\n");
}

awaitable<Response> Gateway::Serve(RequestContext& ctx, WireFormat format, Outcome& outcome) {
  absl::Time started = metering_->clock()->Now();
  Upstream& up = UpstreamFor(format);
  const UpstreamConfig& cfg = up.config;

  absl::StatusOr<std::shared_ptr<const ApiKey>> caller = AuthenticateCaller(ctx, *metering_);
  if (!caller.ok()) co_return ProviderError(format, caller.status());
  const ApiKey& key = **caller;
  // One arena per body: a few allocations instead of one per JSON node.
  absl::StatusOr<json::object> body = ParseJsonObject(
      ctx.req.body(), kMaxJsonDepth, json::make_shared_resource<json::monotonic_resource>());
  if (!body.ok()) co_return ProviderError(format, body.status());
  CallContext call;
  call.tenant_id = key.tenant_id;
  call.key_id = key.id;
  call.provider = std::string(providers::ProviderOf(format));
  if (absl::Status s = IdentifySubject(ctx, key, &*body, call); !s.ok())
    co_return ProviderError(format, s);

  bool gemini_stream = absl::EndsWith(absl::string_view(ctx.path.data(), ctx.path.size()),
                                      ":streamGenerateContent");
  absl::StatusOr<providers::ParsedCall> parsed =
      providers::ParseRequest(format, *body, ctx.Param("model"), gemini_stream);
  if (!parsed.ok()) co_return ProviderError(format, parsed.status());
  call.model = parsed->model;

  CheckRequest check;
  check.ctx = call;
  check.input_tokens = parsed->input_tokens;
  check.max_output_tokens = parsed->max_output_tokens;
  check.choices = std::max<int64_t>(1, parsed->choices);
  // The resolver fills a temperature only when the request has none; the value the
  // request has is not needed to decide that.
  if (parsed->has_temperature) check.temperature = 1.0;
  CheckAnswer answer = metering_->Check(check);
  const CheckResult& decision = answer.result;

  HeaderList headers;
  AddRateLimitHeaders(decision.limits, metering_->clock()->Now(), headers);
  outcome = Outcome::kDenied;
  if (!decision.allowed) co_return Denial(format, answer, std::move(headers));
  std::string reservation = decision.reservation_id;
  auto release = [&] {
    if (!reservation.empty()) (void)metering_->Release(call.tenant_id, reservation);
  };
  if (answer.provider != call.provider) {
    release();
    co_return ProviderError(
        format, http::status::forbidden, "model_not_allowed",
        absl::StrCat("tollgate: the policy replaces ", call.provider, ":", call.model, " with ",
                     answer.provider, ":", answer.model,
                     ", another provider; call it through that provider's endpoint"),
        headers);
  }
  headers.emplace_back("x-tollgate-model", answer.model);
  if (!answer.downgraded_from.empty())
    headers.emplace_back("x-tollgate-downgraded-from", answer.downgraded_from);
  std::string request_id = core::NewId("req");
  headers.emplace_back("x-tollgate-request-id", request_id);

  // The request as forwarded: the resolved model and caps, and usage asked for.
  providers::Rewrite rewrite;
  if (answer.model != call.model && format != WireFormat::kGeminiGenerate)
    rewrite.model = answer.model;
  if (answer.policy_applied && answer.max_output_tokens &&
      answer.max_output_tokens != parsed->max_output_tokens)
    rewrite.max_output_tokens = answer.max_output_tokens;
  if (!parsed->has_temperature && answer.temperature) rewrite.temperature = answer.temperature;
  rewrite.force_include_usage = format == WireFormat::kOpenAiChat && parsed->stream;
  std::string forwarded_body;
  if (!rewrite.model.empty() || rewrite.max_output_tokens || rewrite.temperature ||
      rewrite.force_include_usage) {
    providers::ApplyRewrite(format, *body, rewrite);
    forwarded_body = SerializeJson(*body);
  } else {
    forwarded_body = std::move(ctx.req.body());  // not read again
  }
  std::string target =
      UpstreamTarget(cfg, format, ctx.path, answer.model,
                     gemini_stream ? "streamGenerateContent" : "generateContent", ctx);
  http::request<http::string_body> req =
      UpstreamRequest(cfg, format, http::verb::post, std::move(target), ctx, std::move(forwarded_body));

  ReportRequest report;
  report.ctx = call;
  report.model_used = answer.model;
  // No idempotency key: the gateway records each call once by construction, and a
  // replayed journal entry is known by its event id. Keyed events cost an insert into
  // the unique (tenant, key) index at a random place and a duplicate check.
  report.reservation_id = reservation;
  report.request_id = request_id;
  report.endpoint = std::string(ctx.path.substr(0, 256));
  if (decision.decision == DecisionKind::kShadowDeny) report.decision = DecisionKind::kShadowDeny;
  else if (!answer.downgraded_from.empty()) report.decision = DecisionKind::kDowngrade;
  auto latency = [&] {
    return absl::ToInt64Milliseconds(metering_->clock()->Now() - started);
  };

  upstream::Client& client = up.ClientOn(ctx.executor);
  absl::StatusOr<std::unique_ptr<upstream::ResponseStream>> sent =
      co_await client.Send(cfg.origin, std::move(req));
  if (!sent.ok()) {
    release();
    absl::Status failure = UpstreamFailure(cfg, sent.status());
    outcome = FailureOutcome(failure);
    spdlog::warn("gateway: {} {}: {}", cfg.name, std::string(ctx.path), std::string(failure.message()));
    co_return UpstreamErrorResponse(format, failure, headers);
  }
  upstream::ResponseStream& stream = **sent;
  CopyUpstreamHeaders(stream.headers(), headers);
  std::string content_type(stream.headers()[http::field::content_type]);

  // An upstream error: passed back unchanged, nothing charged.
  outcome = Outcome::kUpstreamError;
  if (!Is2xx(stream.status())) {
    absl::StatusOr<std::string> error_body = co_await stream.ReadAll(max_response_bytes_);
    release();
    if (!error_body.ok())
      co_return UpstreamErrorResponse(format, UpstreamFailure(cfg, error_body.status()), headers);
    Response res{static_cast<http::status>(stream.status()), 11};
    for (const auto& [name, value] : headers) res.set(name, value);
    if (!content_type.empty()) res.set(http::field::content_type, content_type);
    res.body() = std::move(*error_body);
    co_return res;
  }

  bool sse = absl::StartsWithIgnoreCase(absl::string_view(content_type.data(), content_type.size()),
                                        "text/event-stream");
  if (!parsed->stream && !sse) {
    // One answer, read whole: usage from the body, or counted when the provider gave none.
    absl::StatusOr<std::string> answer_body = co_await stream.ReadAll(max_response_bytes_);
    if (!answer_body.ok()) {
      release();
      absl::Status failure = UpstreamFailure(cfg, answer_body.status());
      outcome = FailureOutcome(failure);
      co_return UpstreamErrorResponse(format, failure, headers);
    }
    // Only the usage member is built; the whole document only when it must be counted.
    absl::StatusOr<Usage> usage = providers::UsageFromResponse(format, *answer_body);
    if (usage.ok()) {
      report.usage = *usage;
    } else {
      report.estimated = true;
      report.usage.input_tokens = parsed->input_tokens;
      absl::StatusOr<json::value> doc =
          ParseJson(*answer_body, 128, json::make_shared_resource<json::monotonic_resource>());
      if (doc.ok()) report.usage.output_tokens = CountOutput(answer.model, providers::OutputText(format, *doc));
      report.usage.total_tokens = report.usage.input_tokens + report.usage.output_tokens;
    }
    report.latency_ms = latency();
    co_await Record(metering_, std::move(report));
    outcome = Outcome::kOk;
    Response res{static_cast<http::status>(stream.status()), 11};
    for (const auto& [name, value] : headers) res.set(name, value);
    res.set(http::field::content_type, content_type.empty() ? "application/json" : content_type);
    res.body() = std::move(*answer_body);
    co_return res;
  }

  // A stream: passed on as it arrives, metered on the way.
  ResponseWriter& writer = *ctx.writer;
  // Named first: GCC 12 destroys a temporary made inside a co_await expression twice.
  if (content_type.empty()) content_type = "text/event-stream";
  http::status status = static_cast<http::status>(stream.status());
  bool client_ok = co_await writer.WriteHeader(status, content_type, headers);
  writer.OnClientGone([&stream] { stream.Cancel(); });
  providers::SseParser parser;
  providers::StreamMeter meter(format, answer.model, parsed->client_wants_usage);
  std::vector<providers::SseEvent> events;
  std::string out;
  bool metering_events = sse;  // off after an event too large to parse: bytes pass as they come
  absl::Status upstream_status;
  while (client_ok) {
    absl::StatusOr<std::string_view> piece = co_await stream.Read();
    if (!piece.ok()) {
      upstream_status = piece.status();
      break;
    }
    if (piece->empty()) break;
    out.clear();
    if (!sse) {
      meter.OnJsonArrayBytes(*piece);
      out.append(*piece);
    } else if (metering_events) {
      events.clear();
      absl::Status fed = parser.Feed(*piece, &events);
      for (const providers::SseEvent& e : events)
        if (meter.OnEvent(e)) out.append(e.raw);
      if (!fed.ok()) {
        metering_events = false;
        out.append(parser.Pending());
      }
    } else {
      out.append(*piece);
    }
    if (!out.empty()) client_ok = co_await writer.WriteChunk(out);
  }
  bool client_gone = !client_ok || writer.client_gone();
  writer.OnClientGone([] {});
  std::optional<Usage> final_usage = meter.FinalUsage();
  outcome = Outcome::kOk;
  if (client_gone) {
    stream.Cancel();
    report.status = EventStatus::kCancelled;
    outcome = Outcome::kCancelled;
  } else if (!upstream_status.ok()) {
    report.status = EventStatus::kError;
    outcome = Outcome::kStreamError;
    absl::Status failure = UpstreamFailure(cfg, upstream_status);
    spdlog::warn("gateway: {} {} stream: {}", cfg.name, std::string(ctx.path),
                 std::string(failure.message()));
    std::string event = StreamErrorEvent(
        format, absl::IsDeadlineExceeded(upstream_status) ? 504 : 502, MapStatus(failure).code,
        std::string(failure.message()));
    if (co_await writer.WriteChunk(event)) co_await writer.Finish();
  } else {
    co_await writer.Finish();
  }
  if (final_usage && report.status == EventStatus::kOk) {
    report.usage = *final_usage;
  } else {
    bool estimated = false;
    report.usage = meter.PartialUsage(parsed->input_tokens, &estimated);
    report.estimated = estimated;
  }
  report.latency_ms = latency();
  co_await Record(metering_, std::move(report));
  co_return Streamed();
}

awaitable<Response> Gateway::Models(RequestContext& ctx) {
  const WireFormat format = WireFormat::kOpenAiChat;
  Upstream& up = UpstreamFor(format);
  absl::StatusOr<std::shared_ptr<const ApiKey>> caller = AuthenticateCaller(ctx, *metering_);
  if (!caller.ok()) co_return ProviderError(format, caller.status());
  const ApiKey& key = **caller;
  CallContext call;
  if (absl::Status s = IdentifySubject(ctx, key, nullptr, call); !s.ok())
    co_return ProviderError(format, s);
  http::request<http::string_body> req = UpstreamRequest(
      up.config, format, http::verb::get, absl::StrCat(up.config.origin.base_path, "/models"), ctx, "");
  absl::StatusOr<std::unique_ptr<upstream::ResponseStream>> sent =
      co_await up.ClientOn(ctx.executor).Send(up.config.origin, std::move(req));
  if (!sent.ok()) co_return UpstreamErrorResponse(format, UpstreamFailure(up.config, sent.status()), {});
  absl::StatusOr<std::string> body = co_await (*sent)->ReadAll(max_response_bytes_);
  if (!body.ok()) co_return UpstreamErrorResponse(format, UpstreamFailure(up.config, body.status()), {});
  Response res{static_cast<http::status>((*sent)->status()), 11};
  res.set(http::field::content_type, "application/json");
  absl::StatusOr<json::value> doc = ParseJson(*body, 64);
  json::object* list = doc.ok() ? doc->if_object() : nullptr;
  json::array* data = list != nullptr && list->contains("data") ? (*list)["data"].if_array() : nullptr;
  if (!Is2xx((*sent)->status()) || data == nullptr || !metering_->policies()->Any()) {
    res.body() = std::move(*body);
    co_return res;
  }
  std::shared_ptr<const engine::EffectivePolicy> policy =
      metering_->policies()->Effective(key.tenant_id, call.user_id);
  engine::TierFn tier_of = [this](std::string_view provider, std::string_view model) {
    return metering_->policies()->TierOf(provider, model);
  };
  json::array allowed;
  for (json::value& entry : *data) {
    const json::object* o = entry.if_object();
    const json::value* id = o != nullptr ? o->if_contains("id") : nullptr;
    if (id == nullptr || !id->is_string()) continue;
    std::string name = absl::StrCat("openai:", std::string(id->get_string()));
    if (!engine::Forbidden(*policy, name, tier_of)) allowed.push_back(std::move(entry));
  }
  (*list)["data"] = std::move(allowed);
  res.body() = SerializeJson(*doc);
  co_return res;
}

awaitable<Response> Gateway::Forward(RequestContext& ctx, WireFormat format) {
  Upstream& up = UpstreamFor(format);
  absl::StatusOr<std::shared_ptr<const ApiKey>> caller = AuthenticateCaller(ctx, *metering_);
  if (!caller.ok()) co_return ProviderError(format, caller.status());
  const ApiKey& key = **caller;
  http::request<http::string_body> req =
      UpstreamRequest(up.config, format, http::verb::post,
                      absl::StrCat(up.config.origin.base_path, std::string(ctx.path)), ctx,
                      ctx.req.body());
  absl::StatusOr<std::unique_ptr<upstream::ResponseStream>> sent =
      co_await up.ClientOn(ctx.executor).Send(up.config.origin, std::move(req));
  if (!sent.ok()) co_return UpstreamErrorResponse(format, UpstreamFailure(up.config, sent.status()), {});
  absl::StatusOr<std::string> body = co_await (*sent)->ReadAll(max_response_bytes_);
  if (!body.ok()) co_return UpstreamErrorResponse(format, UpstreamFailure(up.config, body.status()), {});
  Response res{static_cast<http::status>((*sent)->status()), 11};
  HeaderList headers;
  CopyUpstreamHeaders((*sent)->headers(), headers);
  for (const auto& [name, value] : headers) res.set(name, value);
  std::string_view type = (*sent)->headers()[http::field::content_type];
  res.set(http::field::content_type, type.empty() ? std::string_view("application/json") : type);
  res.body() = std::move(*body);
  co_return res;
}

}  // namespace tollgate::server
