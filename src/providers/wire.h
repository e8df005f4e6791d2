#pragma once

// Provider wire adapters: pure, network-free functions the gateway uses to read, rewrite
// and meter provider requests and responses (SPEC §4, §6, §7). Each provider's details
// live in its folder (openai/, anthropic/, gemini/); this header dispatches by format.
// Streams: sse.h (event parser) and stream_meter.h (usage from a streamed answer).
//
// Every function takes untrusted input: wrong types, huge numbers and missing fields
// give InvalidArgument naming the field (e.g. "messages[2].content"), never a crash.
// Nothing throws. Thread safety: all functions are reentrant; no shared state.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tollgate/types.h"

namespace tollgate::providers {

enum class WireFormat {
  kOpenAiChat,         // POST /v1/chat/completions
  kOpenAiResponses,    // POST /v1/responses
  kOpenAiEmbeddings,   // POST /v1/embeddings
  kAnthropicMessages,  // POST /v1/messages
  kGeminiGenerate,     // POST /v1beta/models/{model}:generateContent | :streamGenerateContent
};

std::string_view ProviderOf(WireFormat format);  // "openai" | "anthropic" | "gemini"
// "openai_chat" | "openai_responses" | "openai_embeddings" | "anthropic_messages" |
// "gemini_generate", for logs and test names.
std::string_view ToString(WireFormat format);

// Longest model name accepted (bytes); the name ends up in headers and events.
inline constexpr size_t kMaxModelBytes = 256;

// What the gateway needs to know about a request body before forwarding it.
struct ParsedCall {
  std::string model;  // as requested (Gemini: the {model} of the URL)
  // OpenAI / Anthropic: the body's "stream"; Gemini: the route (:streamGenerateContent).
  // Embeddings never stream.
  bool stream = false;
  // OpenAI chat only: stream && stream_options.include_usage == true. When false the
  // gateway still forces include_usage upstream (Rewrite) and StreamMeter drops the
  // extra chunk.
  bool client_wants_usage = false;
  // The request's cap on output tokens (per choice): OpenAI chat max_completion_tokens,
  // else max_tokens; Responses max_output_tokens; Anthropic max_tokens (required);
  // Gemini generationConfig.maxOutputTokens; embeddings 0. nullopt when absent.
  std::optional<int64_t> max_output_tokens;
  // Answers generated in parallel: OpenAI chat "n", Gemini candidateCount; else 1. The
  // output reservation is max_output_tokens * choices.
  int64_t choices = 1;
  bool has_temperature = false;  // a non-null temperature is present
  // Counted prompt tokens: OpenAI chat messages + tools (exactly tokenizer::CountChat);
  // Responses instructions + input + function tools; embeddings every input (token-id
  // arrays count their length); Anthropic system + messages + tools; Gemini
  // systemInstruction + contents + function declarations. Non-chat formats are counted
  // as chat messages (CountChat's per-message framing included).
  int64_t input_tokens = 0;
  // tokenizer::TokenCount::encoding ("cl100k_base", "anthropic-estimate", ...), or
  // "estimate" for a model the tokenizer does not know (counted as bytes / 4).
  std::string_view encoding;
  bool estimated = false;
};

// Reads a parsed request body. `path_model` is the {model} of a Gemini URL and
// `gemini_stream` whether the route was :streamGenerateContent (both ignored for other
// formats). InvalidArgument naming the field on: a missing, empty, over-long or
// non-string model (Gemini: empty path_model); "stream" not a bool; a max-tokens field
// that is negative, not an integer or 2^63 or more; a missing Anthropic max_tokens;
// "temperature" not a number; messages / contents / input of the wrong shape.
absl::StatusOr<ParsedCall> ParseRequest(WireFormat format, const boost::json::object& body,
                                        std::string_view path_model = {},
                                        bool gemini_stream = false);

// How the gateway changes a request before forwarding it (SPEC §6 model, clamp and
// temperature default; SPEC §7 usage in OpenAI streams).
struct Rewrite {
  // Non-empty: replaces "model". Ignored for Gemini, whose model is in the URL path
  // (the gateway rewrites the path itself).
  std::string model{};
  // Sets the format's max-tokens field: OpenAI chat the field(s) the client used
  // (max_tokens and/or max_completion_tokens; max_completion_tokens when neither),
  // Responses max_output_tokens, Anthropic max_tokens, Gemini
  // generationConfig.maxOutputTokens (created if absent). Ignored for embeddings.
  std::optional<int64_t> max_output_tokens{};
  // Set only when the request has no (or a null) temperature. Ignored for embeddings.
  std::optional<double> temperature{};
  // OpenAI chat with "stream": true only: sets stream_options.include_usage = true and
  // keeps the other stream_options. Ignored otherwise (OpenAI rejects stream_options on
  // a non-streaming call).
  bool force_include_usage = false;
};

// REQUIRES: ParseRequest(format, body) succeeded. (Otherwise the rewritten fields of
// the wrong type are replaced; nothing fails.)
void ApplyRewrite(WireFormat format, boost::json::object& body, const Rewrite& rewrite);

// Usage of a non-streaming response body ("usage", Gemini "usageMetadata", a member of
// the top-level object), through NormalizeUsage with the provider as hint. NotFound when
// the body has none (then count OutputText); InvalidArgument when it is malformed or not
// one JSON object. The text is checked whole but only the usage member is built (a
// response's choices and content are most of its bytes). `max_depth` as in
// boost::json::parse_options.
absl::StatusOr<Usage> UsageFromResponse(WireFormat format, std::string_view body,
                                        int max_depth = 128);

// The generated text of a non-streaming response, for counting when no usage is
// reported: OpenAI chat choices[].message content, refusal and tool-call arguments;
// Responses output[] text, refusals, function-call arguments and reasoning summaries;
// Anthropic content[] text, thinking and tool_use input; Gemini
// candidates[].content.parts[] text and function calls. "" for embeddings and for
// bodies of any other shape.
std::string OutputText(WireFormat format, const boost::json::value& body);

// An error body in the provider's own format, so its SDK raises its usual exception:
//  OpenAI:    {"error":{"message":..,"type":..,"param":null,"code":..}}
//  Anthropic: {"type":"error","error":{"type":..,"message":..}}
//  Gemini:    {"error":{"code":<http_status>,"message":..,"status":..,"details":[ErrorInfo]}}
// The SDKs pick the exception class from the HTTP status; `http_status` also picks the
// Anthropic type and the Gemini status. `code` is tollgate's machine code
// ("usage_limit_exceeded", "rate_limited", "model_not_allowed"): OpenAI's "code" (null
// when empty) and the Gemini ErrorInfo reason. Invalid UTF-8 in `message` becomes U+FFFD.
std::string ErrorBody(WireFormat format, unsigned http_status, std::string_view code,
                      std::string_view message);

}  // namespace tollgate::providers
