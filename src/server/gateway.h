#pragma once

// The gateway: drop-in OpenAI, Anthropic and Gemini endpoints (SPEC sections 1, 5, 7).
// Every call is authenticated, counted with the tokenizer, checked against the model
// policy and every matching limit (reserving input + max output tokens), rewritten to
// the resolved model and caps, forwarded with the provider key from the configuration,
// passed back as it arrives (streams chunk by chunk), metered from the provider's usage
// and settled: success charges the real usage, an upstream error or timeout releases
// the reservation, a client that leaves mid-stream is charged for what was generated and
// the upstream request is cancelled.
//
// Thread safety: every method may be called concurrently from the server's handlers.

#include <boost/asio/awaitable.hpp>
#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "providers/wire.h"
#include "server/common/config.h"
#include "server/http/router.h"
#include "server/metering.h"
#include "upstream/client.h"

namespace tollgate::server {

// One provider as the gateway reaches it.
struct UpstreamConfig {
  std::string name;             // "openai" | "anthropic" | "gemini"
  upstream::Origin origin;      // from providers.<name>.base_url
  std::string api_key;          // replaces the caller's key; never logged or echoed
  upstream::ClientOptions client;
};

struct GatewayOptions {
  UpstreamConfig openai, anthropic, gemini;
  // Largest non-streamed upstream answer read into memory (a larger one is a 502).
  size_t max_response_bytes = 64 << 20;
};

// The [providers.*] sections: base URLs parsed, keys read from the environment
// variables they name (a provider without a key is called without one). InvalidArgument
// naming the key for a base URL that does not parse.
absl::StatusOr<GatewayOptions> GatewayOptionsFromConfig(const Config& config);

class Gateway {
 public:
  Gateway(Metering* metering, GatewayOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // A metered model call in `format` (chat completions, responses, embeddings, messages,
  // generateContent / streamGenerateContent).
  boost::asio::awaitable<Response> Call(RequestContext& ctx, providers::WireFormat format);

  // GET /v1/models: the provider's list, less the models the caller's policy forbids.
  boost::asio::awaitable<Response> Models(RequestContext& ctx);

  // The gateway's counters in Prometheus text format:
  // tollgate_gateway_calls_total{provider, outcome} (see docs/operations.md).
  void AppendMetrics(std::string* out) const;

  // Closes the upstream connections. Call after the server has stopped and before its
  // event loops go away (the pooled connections live on them); no call may follow.
  void Close();

  // A call passed to the provider unmetered (Anthropic's count_tokens): authenticated,
  // the key replaced, nothing reserved or charged.
  boost::asio::awaitable<Response> Forward(RequestContext& ctx, providers::WireFormat format);

 private:
  struct Upstream;

  // How a metered call ended.
  enum class Outcome {
    kOk,                   // answered and charged
    kRejected,             // bad key, role, body or identity: never reached the limits
    kDenied,               // refused by a limit or the model policy
    kUpstreamError,        // the provider answered an error status (passed back)
    kUpstreamUnavailable,  // unreachable, TLS refused, broken answer
    kUpstreamTimeout,      // no answer in time
    kCancelled,            // the client left mid-stream
    kStreamError,          // the stream broke or stalled upstream after it began
  };
  static constexpr size_t kOutcomes = 8;
  // The outcome of a call whose upstream exchange failed with `failure`.
  static Outcome FailureOutcome(const absl::Status& failure) {
    return absl::IsDeadlineExceeded(failure) ? Outcome::kUpstreamTimeout
                                             : Outcome::kUpstreamUnavailable;
  }

  boost::asio::awaitable<Response> Serve(RequestContext& ctx, providers::WireFormat format,
                                         Outcome& outcome);
  Upstream& UpstreamFor(providers::WireFormat format);

  Metering* const metering_;
  const size_t max_response_bytes_;
  std::unique_ptr<Upstream> openai_, anthropic_, gemini_;
  // Calls by provider (openai, anthropic, gemini) and outcome.
  std::array<std::array<std::atomic<uint64_t>, kOutcomes>, 3> calls_{};
};

}  // namespace tollgate::server
