#pragma once

// Normalises the usage block of any provider's response into tollgate's Usage.
//
// Shapes accepted (docs/prices.md has the field-by-field table):
//  - OpenAI Chat Completions: prompt_tokens, completion_tokens, total_tokens,
//    prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens.
//  - OpenAI Responses: input_tokens, output_tokens, total_tokens,
//    input_tokens_details.cached_tokens, output_tokens_details.reasoning_tokens.
//  - Anthropic Messages: input_tokens, output_tokens, cache_creation_input_tokens,
//    cache_read_input_tokens (input_tokens there excludes both cache counts).
//  - Gemini usageMetadata: promptTokenCount (includes cachedContentTokenCount),
//    candidatesTokenCount (excludes thoughtsTokenCount), toolUsePromptTokenCount,
//    totalTokenCount.
//  - tollgate's own: input_tokens, output_tokens, cached_input_tokens,
//    cache_write_tokens, reasoning_tokens, total_tokens.
// The value may also be a whole response or a wrapper holding one of these under
// "usage" or "usageMetadata".

#include <boost/json/value.hpp>
#include <string_view>

#include "absl/status/statusor.h"
#include "tollgate/types.h"

namespace tollgate::providers {

enum class UsageShape { kOpenAiChat, kOpenAiResponses, kAnthropic, kGemini, kTollgate };

std::string_view ToString(UsageShape shape);

// Detects the shape from the keys present. `provider_hint` ("openai", "anthropic",
// "gemini" / "google", "tollgate"; anything else means no hint) only breaks ties
// between shapes that share every key present: the keys of the payload decide first,
// so an OpenAI-compatible payload from another provider still reads as OpenAI.
//
// InvalidArgument, naming the field (e.g. "usage.prompt_tokens_details.cached_tokens"),
// when a count is negative, not an integer, 2^63 or more, of the wrong type; when
// the payload mixes keys of two shapes or holds no known key; or when its numbers
// contradict each other (a total that is not the sum of its parts, more cached tokens
// than input tokens, more reasoning tokens than output tokens). A null count or detail
// object counts as absent. Never throws.
//
// The result satisfies the Usage invariants: input_tokens includes cached and cache
// write tokens, output_tokens includes reasoning, total = input + output.
absl::StatusOr<Usage> NormalizeUsage(const boost::json::value& usage,
                                     std::string_view provider_hint = {});

// As above, and reports the shape that was detected.
absl::StatusOr<Usage> NormalizeUsage(const boost::json::value& usage,
                                     std::string_view provider_hint, UsageShape* shape);

}  // namespace tollgate::providers
