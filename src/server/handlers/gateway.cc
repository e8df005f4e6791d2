// The gateway routes of SPEC section 7: each provider's own paths, served by Gateway.

#include "server/gateway.h"
#include "server/handlers/routes.h"

namespace tollgate::server::handlers {

namespace http = boost::beast::http;
using providers::WireFormat;

namespace {

Handler Metered(Gateway* g, WireFormat format) {
  return [g, format](RequestContext& c) { return g->Call(c, format); };
}

}  // namespace

void AddGatewayRoutes(Router& router, Gateway* gateway) {
  router.Add(http::verb::post, "/v1/chat/completions", Metered(gateway, WireFormat::kOpenAiChat));
  router.Add(http::verb::post, "/v1/responses", Metered(gateway, WireFormat::kOpenAiResponses));
  router.Add(http::verb::post, "/v1/embeddings", Metered(gateway, WireFormat::kOpenAiEmbeddings));
  router.Add(http::verb::get, "/v1/models", [gateway](RequestContext& c) { return gateway->Models(c); });
  router.Add(http::verb::post, "/v1/messages", Metered(gateway, WireFormat::kAnthropicMessages));
  router.Add(http::verb::post, "/v1/messages/count_tokens", [gateway](RequestContext& c) {
    return gateway->Forward(c, WireFormat::kAnthropicMessages);
  });
  for (const char* version : {"/v1beta", "/v1"}) {
    router.Add(http::verb::post, std::string(version) + "/models/{model}:streamGenerateContent",
               Metered(gateway, WireFormat::kGeminiGenerate));
    router.Add(http::verb::post, std::string(version) + "/models/{model}:generateContent",
               Metered(gateway, WireFormat::kGeminiGenerate));
  }
}

}  // namespace tollgate::server::handlers
