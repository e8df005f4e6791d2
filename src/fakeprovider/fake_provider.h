#pragma once

// A fake LLM provider: the routes of OpenAI, Anthropic and Gemini on one HTTP server,
// answering with deterministic text and scripted usage numbers, so the official SDKs,
// tollgate's gateway and load generators can run without provider keys.
//
//   OpenAI     POST /v1/chat/completions, POST /v1/responses, POST /v1/embeddings,
//              GET /v1/models                    (key: Authorization: Bearer)
//   Anthropic  POST /v1/messages, POST /v1/messages/count_tokens
//                                                (key: x-api-key or Bearer)
//   Gemini     POST /v1beta/models/{model}:generateContent,
//              POST /v1beta/models/{model}:streamGenerateContent[?alt=sse],
//              the same under /v1/ (the default of @google/genai 3.x)
//                                                (key: x-goog-api-key or ?key=)
//   Test hooks GET /_fake/requests (the last 100 requests), DELETE /_fake/requests
//
// Requests are scripted with directives in the last user message (directives.h).
// Nothing is logged per request and nothing waits unless asked (latency options or
// directives); waits are timers, so a stalled request holds no thread.

#include <atomic>
#include <cstdint>
#include <string>

#include "fakeprovider/reply.h"
#include "fakeprovider/request_log.h"
#include "server/http/router.h"

namespace tollgate::fakeprovider {

struct FakeProviderOptions {
  // When non-empty, every provider route requires this key (in the provider's header)
  // and answers 401 in the provider's format otherwise.
  std::string api_key;
  ReplyDefaults defaults;
  // Keep the last requests for GET /_fake/requests.
  bool record = true;
};

// Thread safety: AddRoutes before the server starts; the handlers are then safe on any
// number of server threads. The FakeProvider must outlive the server.
class FakeProvider {
 public:
  explicit FakeProvider(FakeProviderOptions options);
  FakeProvider(const FakeProvider&) = delete;
  FakeProvider& operator=(const FakeProvider&) = delete;

  void AddRoutes(server::Router& router);

  const RequestLog& requests() const { return log_; }

 private:
  boost::asio::awaitable<server::Response> Handle(Api api, server::RequestContext& ctx);
  boost::asio::awaitable<server::Response> Models(server::RequestContext& ctx);
  bool Authorized(Provider provider, const server::RequestContext& ctx) const;
  std::string NextId();

  const FakeProviderOptions options_;
  const uint32_t salt_;  // makes ids differ between runs
  std::atomic<uint64_t> next_id_{1};
  RequestLog log_;
};

}  // namespace tollgate::fakeprovider
