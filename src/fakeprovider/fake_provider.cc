#include "fakeprovider/fake_provider.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <ctime>
#include <limits>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fakeprovider/formats.h"
#include "server/common/json_util.h"
#include "server/http/errors.h"

namespace tollgate::fakeprovider {
namespace net = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using server::RequestContext;
using server::Response;
using server::ResponseWriter;

namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view JsonType(Provider p) {
  return p == Provider::kGemini ? "application/json; charset=UTF-8" : "application/json";
}

// The request-id header each provider sends (the SDKs expose it on responses and errors).
std::string_view RequestIdHeader(Provider p) {
  switch (p) {
    case Provider::kOpenAi:
      return "x-request-id";
    case Provider::kAnthropic:
      return "request-id";
    case Provider::kGemini:
      return "";
  }
  return "";
}

Response Answer(Provider p, int status, std::string body, std::string_view request_id) {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, JsonType(p));
  if (std::string_view h = RequestIdHeader(p); !h.empty() && !request_id.empty()) {
    res.set(h, request_id);
  }
  if (status == 429) res.set(http::field::retry_after, "1");
  res.body() = std::move(body);
  return res;
}

Response Error(Provider p, int status, std::string_view message, std::string_view request_id) {
  return Answer(p, status, ErrorBody(p, status, message), request_id);
}

std::string_view UnauthorizedMessage(Provider p) {
  switch (p) {
    case Provider::kOpenAi:
      return "Incorrect API key provided. You can find your API key at "
             "https://platform.openai.com/account/api-keys.";
    case Provider::kAnthropic:
      return "invalid x-api-key";
    case Provider::kGemini:
      return "API key not valid. Please pass a valid API key.";
  }
  return "";
}

// The secret of "Authorization: Bearer <secret>", or "".
std::string_view Bearer(const RequestContext& ctx) {
  std::string_view auth = ctx.Header("authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (auth.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(AbslView(auth.substr(0, kScheme.size())), AbslView(kScheme))) {
    return {};
  }
  return auth.substr(kScheme.size());
}

// Waits `ms` milliseconds, or until the client goes away when `ms` is negative. False
// when the client is gone. `timer` is cancelled by the handler's OnClientGone callback.
net::awaitable<bool> Wait(ResponseWriter* writer, net::steady_timer& timer, int64_t ms) {
  if (writer->client_gone()) co_return false;
  if (ms < 0) {
    timer.expires_at(net::steady_timer::time_point::max());
  } else {
    timer.expires_after(std::chrono::milliseconds(ms));
  }
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  co_return !writer->client_gone();
}

StreamBody BuildStream(Api api, const Reply& reply, const RequestInfo& info, bool sse) {
  switch (api) {
    case Api::kChatCompletions:
      return ChatCompletionStream(reply, info.include_usage);
    case Api::kResponses:
      return ResponsesStream(reply);
    case Api::kMessages:
      return AnthropicMessageStream(reply);
    case Api::kStreamGenerateContent:
      return GeminiStream(reply, sse);
    default:
      return {};
  }
}

std::string BuildBody(Api api, const Reply& reply, const RequestInfo& info) {
  switch (api) {
    case Api::kChatCompletions:
      return ChatCompletion(reply);
    case Api::kResponses:
      return ResponsesBody(reply);
    case Api::kEmbeddings:
      return Embeddings(reply, info);
    case Api::kMessages:
      return AnthropicMessage(reply);
    case Api::kCountTokens:
      return AnthropicCountTokens(reply);
    case Api::kGenerateContent:
      return GeminiResponse(reply);
    case Api::kStreamGenerateContent:
      return {};
  }
  return {};
}

}  // namespace

FakeProvider::FakeProvider(FakeProviderOptions options)
    : options_(std::move(options)),
      salt_(static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count() *
                                  2654435761u)) {}

std::string FakeProvider::NextId() {
  uint64_t n = next_id_.fetch_add(1, std::memory_order_relaxed);
  return absl::StrCat("fake", absl::Hex(salt_, absl::kZeroPad8), absl::Hex(n, absl::kZeroPad12));
}

bool FakeProvider::Authorized(Provider provider, const RequestContext& ctx) const {
  const std::string& key = options_.api_key;
  if (key.empty()) return true;
  switch (provider) {
    case Provider::kOpenAi:
      return Bearer(ctx) == key;
    case Provider::kAnthropic:
      return ctx.Header("x-api-key") == key || Bearer(ctx) == key;
    case Provider::kGemini:
      return ctx.Header("x-goog-api-key") == key || ctx.Query("key") == key;
  }
  return false;
}

void FakeProvider::AddRoutes(server::Router& router) {
  struct Route {
    std::string_view pattern;
    Api api;
  };
  static constexpr Route kRoutes[] = {
      {"/v1/chat/completions", Api::kChatCompletions},
      {"/v1/responses", Api::kResponses},
      {"/v1/embeddings", Api::kEmbeddings},
      {"/v1/messages", Api::kMessages},
      {"/v1/messages/count_tokens", Api::kCountTokens},
      {"/v1beta/models/{model}:streamGenerateContent", Api::kStreamGenerateContent},
      {"/v1beta/models/{model}:generateContent", Api::kGenerateContent},
      // @google/genai 3.x calls the stable v1 API by default.
      {"/v1/models/{model}:streamGenerateContent", Api::kStreamGenerateContent},
      {"/v1/models/{model}:generateContent", Api::kGenerateContent},
  };
  for (const Route& r : kRoutes) {
    Api api = r.api;
    router.Add(http::verb::post, r.pattern,
               [this, api](RequestContext& ctx) { return Handle(api, ctx); });
  }
  router.Add(http::verb::get, "/v1/models", [this](RequestContext& ctx) { return Models(ctx); });
  router.Add(http::verb::get, "/_fake/requests",
             [this](RequestContext&) -> net::awaitable<Response> {
               co_return server::JsonResponse(http::status::ok, log_.Json());
             });
  router.Add(http::verb::delete_, "/_fake/requests",
             [this](RequestContext&) -> net::awaitable<Response> {
               log_.Clear();
               co_return server::JsonResponse(http::status::ok, "{\"cleared\":true}");
             });
}

net::awaitable<Response> FakeProvider::Models(RequestContext& ctx) {
  if (options_.record) log_.Add(ctx.req);
  if (!Authorized(Provider::kOpenAi, ctx)) {
    co_return Error(Provider::kOpenAi, 401, UnauthorizedMessage(Provider::kOpenAi), "");
  }
  co_return Answer(Provider::kOpenAi, 200, ModelList(), "");
}

net::awaitable<Response> FakeProvider::Handle(Api api, RequestContext& ctx) {
  if (options_.record) log_.Add(ctx.req);
  const Provider provider = ProviderOf(api);
  std::string id = NextId();
  std::string request_id = absl::StrCat("req_", id);
  if (!Authorized(provider, ctx)) {
    co_return Error(provider, 401, UnauthorizedMessage(provider), request_id);
  }
  absl::StatusOr<json::object> body = server::ParseJsonObject(ctx.req.body());
  if (!body.ok()) co_return Error(provider, 400, std::string(body.status().message()), request_id);
  absl::StatusOr<RequestInfo> info = InspectRequest(api, *body, ctx.Param("model"));
  if (!info.ok()) co_return Error(provider, 400, std::string(info.status().message()), request_id);
  absl::StatusOr<Directives> directives = ParseDirectives(info->directive_text);
  if (!directives.ok())
    co_return Error(provider, 400, std::string(directives.status().message()), request_id);
  Reply reply = MakeReply(*info, *directives, options_.defaults, std::move(id), std::time(nullptr));

  // Waits are timers on the connection's executor, cut short when the client leaves.
  // The timer is shared with the callback: the server may run the callback after this
  // handler has returned (when writing its answer fails).
  const bool waits = reply.stall || reply.delay_ms > 0 ||
                     (info->stream && (reply.chunk_delay_ms > 0 || reply.stall_after));
  std::shared_ptr<net::steady_timer> timer;
  if (waits) {
    timer = std::make_shared<net::steady_timer>(ctx.executor);
    ctx.writer->OnClientGone([timer] { timer->cancel(); });
  }
  if (reply.stall) {
    co_await Wait(ctx.writer, *timer, -1);
    co_return Error(provider, 504, "stalled", request_id);  // the client is gone
  }
  if (reply.delay_ms > 0) {
    bool present = co_await Wait(ctx.writer, *timer, reply.delay_ms);
    if (!present) co_return Error(provider, 504, "delayed", request_id);
  }
  if (reply.status) {
    std::string message =
        absl::StrCat("fake provider: status ", *reply.status, " requested by a [fake] directive");
    co_return Error(provider, *reply.status, message, request_id);
  }
  if (!info->stream) {
    co_return Answer(provider, 200, BuildBody(api, reply, *info), request_id);
  }

  const bool sse = api != Api::kStreamGenerateContent || ctx.Query("alt") == "sse";
  StreamBody stream = BuildStream(api, reply, *info, sse);
  server::HeaderList headers;
  if (sse) headers.emplace_back("Cache-Control", "no-cache");
  if (std::string_view h = RequestIdHeader(provider); !h.empty()) {
    headers.emplace_back(std::string(h), request_id);
  }
  std::string_view content_type = !sse ? JsonType(provider)
                                  : provider == Provider::kGemini
                                      ? "text/event-stream"
                                      : "text/event-stream; charset=utf-8";
  bool started =
      co_await ctx.writer->WriteHeader(http::status::ok, content_type, std::move(headers));
  if (!started) co_return server::Streamed();
  const size_t stall_at = reply.stall_after ? stream.StallIndex(*reply.stall_after)
                                            : std::numeric_limits<size_t>::max();
  const size_t text_end = stream.first_text + stream.text_events;
  for (size_t i = 0; i < stream.events.size(); ++i) {
    if (i == stall_at) break;
    if (reply.chunk_delay_ms > 0 && i >= stream.first_text && i < text_end) {
      bool present = co_await Wait(ctx.writer, *timer, reply.chunk_delay_ms);
      if (!present) co_return server::Streamed();
    }
    bool written = co_await ctx.writer->WriteChunk(stream.events[i]);
    if (!written) co_return server::Streamed();
  }
  if (reply.stall_after) {
    co_await Wait(ctx.writer, *timer, -1);  // hang until the client leaves
    co_return server::Streamed();
  }
  co_await ctx.writer->Finish();
  co_return server::Streamed();
}

}  // namespace tollgate::fakeprovider
