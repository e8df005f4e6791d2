#pragma once

// The fake provider's answers in each provider's wire format: non-streamed bodies as
// JSON text, streamed bodies as the list of events to write one by one. Shapes follow
// the real APIs (field names, event names and order), close enough for the official
// SDKs to accept them.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fakeprovider/reply.h"
#include "fakeprovider/request.h"

namespace tollgate::fakeprovider {

// A streamed body: events in order, each complete (SSE events end with their blank
// line). The events carrying reply text are contiguous, [first_text, first_text +
// text_events); what comes before is the preamble (message_start, the role chunk, ...).
struct StreamBody {
  std::vector<std::string> events;
  size_t first_text = 0;
  size_t text_events = 0;

  // How many events go out before a stream that stalls after `n` text chunks hangs.
  size_t StallIndex(int64_t n) const {
    return first_text + std::min(static_cast<size_t>(n), text_events);
  }
};

// --- Errors -----------------------------------------------------------------------------

// The provider's error body for HTTP `status`:
//   OpenAI    {"error": {"message", "type", "param": null, "code"}}
//   Anthropic {"type": "error", "error": {"type", "message"}}
//   Gemini    {"error": {"code", "message", "status"}}
// providers::ErrorBody's shapes (types and statuses follow the HTTP status), with
// OpenAI's codes: 401 invalid_api_key, 429 rate_limit_exceeded, 404 not_found.
std::string ErrorBody(Provider provider, int status, std::string_view message);

// --- OpenAI -----------------------------------------------------------------------------

// A chat.completion object.
std::string ChatCompletion(const Reply& reply);
// chat.completion.chunk events: the role chunk, text chunks, the finish_reason chunk,
// with `include_usage` a last chunk with `choices: []` and usage (and `"usage": null` in
// every earlier chunk), then `data: [DONE]`.
StreamBody ChatCompletionStream(const Reply& reply, bool include_usage);

// A Responses API response object.
std::string ResponsesBody(const Reply& reply);
// response.created, response.in_progress, response.output_item.added,
// response.content_part.added, response.output_text.delta..., response.output_text.done,
// response.content_part.done, response.output_item.done, then response.completed (or
// response.incomplete when truncated), with sequence_number from 0.
StreamBody ResponsesStream(const Reply& reply);

// An embeddings list: request.inputs vectors of request.dimensions floats, as JSON
// arrays or base64 little-endian float32 when request.base64.
std::string Embeddings(const Reply& reply, const RequestInfo& request);

// GET /v1/models.
std::string ModelList();

// --- Anthropic --------------------------------------------------------------------------

// A message object.
std::string AnthropicMessage(const Reply& reply);
// message_start, content_block_start, ping, content_block_delta..., content_block_stop,
// message_delta, message_stop.
StreamBody AnthropicMessageStream(const Reply& reply);
// {"input_tokens": N}.
std::string AnthropicCountTokens(const Reply& reply);

// --- Gemini -----------------------------------------------------------------------------

// A GenerateContentResponse.
std::string GeminiResponse(const Reply& reply);
// One GenerateContentResponse per text chunk, each with cumulative usageMetadata; the
// last one carries finishReason. With `sse`, `data: {...}` events; without, the pieces
// of one JSON array as the real API streams it: "[{...}", "\n,\r\n{...}", ..., "]".
StreamBody GeminiStream(const Reply& reply, bool sse);

}  // namespace tollgate::fakeprovider
