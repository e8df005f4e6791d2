#pragma once

// The answer the fake provider gives to one request, before it is written in a
// provider's format: usage numbers, the reply text and its stream chunks, and how to
// behave (error status, delays, stalls).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fakeprovider/directives.h"
#include "fakeprovider/request.h"

namespace tollgate::fakeprovider {

// Token counts in tollgate's sense: `input` includes `cached` and `cache_write`,
// `output` includes `reasoning`. Each format maps them to its own fields (Anthropic's
// input_tokens excludes the cache counts, Gemini's candidatesTokenCount excludes
// thoughts).
struct Usage {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cached = 0;
  int64_t cache_write = 0;
  int64_t reasoning = 0;

  int64_t total() const { return input + output; }
  // Output tokens that are reply text (one word each).
  int64_t visible() const { return output - reasoning; }
};

// Server-wide defaults, overridden per request by directives.
struct ReplyDefaults {
  std::optional<int64_t> input_tokens;  // unset: estimated from the prompt
  int64_t output_tokens = 20;
  int64_t latency_ms = 0;
  int64_t chunk_delay_ms = 0;
};

// The reply text is at most this many words; usage still reports the requested count.
inline constexpr int64_t kMaxReplyWords = 100'000;
// Words per streamed text chunk.
inline constexpr int64_t kWordsPerChunk = 4;

struct Reply {
  std::string model;    // echoes the request
  std::string id;       // unique per reply; formats add their prefix ("chatcmpl-", "msg_")
  int64_t created = 0;  // Unix seconds
  Usage usage;
  bool report_usage = true;  // false: [fake no_usage]
  // The output was cut to the request's max output tokens (finish reason "length",
  // "max_tokens", "MAX_TOKENS"; Responses status "incomplete").
  bool truncated = false;
  std::string text;
  // `text` split for streaming (kWordsPerChunk words each, spaces kept); they
  // concatenate to `text`. Empty when there is no text.
  std::vector<std::string> chunks;

  // Behaviour.
  std::optional<int> status;  // answer with this error status
  bool stall = false;
  std::optional<int64_t> stall_after;
  int64_t delay_ms = 0;
  int64_t chunk_delay_ms = 0;
};

// The deterministic reply text of `words` words: "lorem ipsum dolor sit amet ...".
std::string ReplyText(int64_t words);

// Resolves the usage numbers and behaviour of one request: directives first, then
// `defaults`, then the estimate from the prompt. The default output is capped at the
// request's max output tokens (an explicit `output=` directive is not); `input` is
// raised to at least cached + cache_write and `output` to at least reasoning, so the
// counts stay consistent.
Reply MakeReply(const RequestInfo& request, const Directives& directives,
                const ReplyDefaults& defaults, std::string id, int64_t created);

}  // namespace tollgate::fakeprovider
