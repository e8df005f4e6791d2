#include "providers/wire.h"

#include "providers/anthropic/anthropic.h"
#include "providers/gemini/gemini.h"
#include "providers/openai/openai.h"
#include "providers/usage.h"
#include "providers/wire_internal.h"

namespace tollgate::providers {

namespace json = boost::json;

std::string_view ProviderOf(WireFormat format) {
  switch (format) {
    case WireFormat::kOpenAiChat:
    case WireFormat::kOpenAiResponses:
    case WireFormat::kOpenAiEmbeddings:
      return "openai";
    case WireFormat::kAnthropicMessages:
      return "anthropic";
    case WireFormat::kGeminiGenerate:
      return "gemini";
  }
  return "";
}

std::string_view ToString(WireFormat format) {
  switch (format) {
    case WireFormat::kOpenAiChat:
      return "openai_chat";
    case WireFormat::kOpenAiResponses:
      return "openai_responses";
    case WireFormat::kOpenAiEmbeddings:
      return "openai_embeddings";
    case WireFormat::kAnthropicMessages:
      return "anthropic_messages";
    case WireFormat::kGeminiGenerate:
      return "gemini_generate";
  }
  return "";
}

absl::StatusOr<ParsedCall> ParseRequest(WireFormat format, const json::object& body,
                                        std::string_view path_model, bool gemini_stream) {
  switch (format) {
    case WireFormat::kOpenAiChat:
      return openai::ParseChat(body);
    case WireFormat::kOpenAiResponses:
      return openai::ParseResponses(body);
    case WireFormat::kOpenAiEmbeddings:
      return openai::ParseEmbeddings(body);
    case WireFormat::kAnthropicMessages:
      return anthropic::ParseMessages(body);
    case WireFormat::kGeminiGenerate:
      return gemini::ParseGenerate(body, path_model, gemini_stream);
  }
  return absl::InvalidArgumentError("unknown wire format");
}

void ApplyRewrite(WireFormat format, json::object& body, const Rewrite& rewrite) {
  switch (format) {
    case WireFormat::kOpenAiChat:
      return openai::RewriteChat(body, rewrite);
    case WireFormat::kOpenAiResponses:
      return openai::RewriteResponses(body, rewrite);
    case WireFormat::kOpenAiEmbeddings:
      return openai::RewriteEmbeddings(body, rewrite);
    case WireFormat::kAnthropicMessages:
      return anthropic::RewriteMessages(body, rewrite);
    case WireFormat::kGeminiGenerate:
      return gemini::RewriteGenerate(body, rewrite);
  }
}

absl::StatusOr<Usage> UsageFromResponse(WireFormat format, const json::value& body) {
  const json::object* o = body.if_object();
  if (o == nullptr) return absl::InvalidArgumentError("response: must be an object");
  const bool gemini = format == WireFormat::kGeminiGenerate;
  const json::value* usage = internal::Find(*o, gemini ? "usageMetadata" : "usage");
  if (usage == nullptr)
    return absl::NotFoundError(gemini ? "response has no usageMetadata" : "response has no usage");
  return NormalizeUsage(*usage, ProviderOf(format));
}

std::string OutputText(WireFormat format, const json::value& body) {
  switch (format) {
    case WireFormat::kOpenAiChat:
      return openai::ChatOutputText(body);
    case WireFormat::kOpenAiResponses:
      return openai::ResponsesOutputText(body);
    case WireFormat::kOpenAiEmbeddings:
      return "";
    case WireFormat::kAnthropicMessages:
      return anthropic::OutputText(body);
    case WireFormat::kGeminiGenerate:
      return gemini::OutputText(body);
  }
  return "";
}

std::string ErrorBody(WireFormat format, unsigned http_status, std::string_view code,
                      std::string_view message) {
  switch (format) {
    case WireFormat::kAnthropicMessages:
      return anthropic::ErrorBody(http_status, message);
    case WireFormat::kGeminiGenerate:
      return gemini::ErrorBody(http_status, code, message);
    default:
      return openai::ErrorBody(http_status, code, message);
  }
}

}  // namespace tollgate::providers
