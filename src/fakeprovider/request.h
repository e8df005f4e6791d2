#pragma once

// What the fake provider reads from a request body: the model, whether to stream, the
// text that carries directives, and the size of the prompt for the usage estimate.

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tollgate::fakeprovider {

enum class Provider { kOpenAi, kAnthropic, kGemini };

enum class Api {
  kChatCompletions,        // OpenAI POST /v1/chat/completions
  kResponses,              // OpenAI POST /v1/responses
  kEmbeddings,             // OpenAI POST /v1/embeddings
  kMessages,               // Anthropic POST /v1/messages
  kCountTokens,            // Anthropic POST /v1/messages/count_tokens
  kGenerateContent,        // Gemini POST /v1beta/models/{model}:generateContent
  kStreamGenerateContent,  // Gemini POST /v1beta/models/{model}:streamGenerateContent
};

Provider ProviderOf(Api api);

// Embedding vectors are this long unless the request asks for `dimensions`.
inline constexpr int64_t kDefaultDimensions = 8;
inline constexpr int64_t kMaxDimensions = 4096;
inline constexpr int64_t kMaxEmbeddingInputs = 2048;

struct RequestInfo {
  std::string model;
  bool stream = false;
  // Chat Completions: stream_options.include_usage.
  bool include_usage = false;
  // The text of the last user message (embeddings: every input string, one per line):
  // where directives are read.
  std::string directive_text;
  // Bytes of all prompt text (messages, system prompt, instructions, inputs).
  int64_t text_bytes = 0;
  // max_tokens, max_completion_tokens, max_output_tokens or
  // generationConfig.maxOutputTokens, when the request sets one.
  std::optional<int64_t> max_output_tokens;
  // Embeddings: how many vectors to return, their length, and whether the client asked
  // for encoding_format "base64" (little-endian float32, as the OpenAI SDK does by
  // default).
  int64_t inputs = 1;
  int64_t dimensions = kDefaultDimensions;
  bool base64 = false;
};

// Reads `body` as a request of `api`. `path_model` is the Gemini {model} path parameter
// (ignored for the other APIs, which name the model in the body). InvalidArgument, with
// a message in the provider's style, when a required field is missing or a field has
// the wrong type. Never throws.
absl::StatusOr<RequestInfo> InspectRequest(Api api, const boost::json::object& body,
                                           std::string_view path_model = {});

// The usage estimate for a prompt of `text_bytes` bytes: bytes/4 rounded up, at least 1.
int64_t EstimateTokens(int64_t text_bytes);

}  // namespace tollgate::fakeprovider
