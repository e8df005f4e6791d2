#pragma once

// Per-request directives: tokens in a request's last user message that script how the
// fake provider answers it, so tests can drive it through any gateway that forwards the
// body unchanged.
//
//   [fake status=429]                 answer that HTTP status with a provider error body
//   [fake stall]                      accept and never answer
//   [fake stall_after=2]              stream 2 text chunks, then hang (streams only)
//   [fake delay_ms=300]               wait before the response headers
//   [fake chunk_delay_ms=50]          wait before each streamed text chunk
//   [fake input=120 output=30]        usage numbers (output = words of the reply;
//                                     reported even above the request's max_tokens)
//   [fake cached=100 cache_write=10]  cached / cache-written input tokens (within input)
//   [fake reasoning=8]                reasoning tokens (within output)
//   [fake no_usage]                   no usage anywhere in the answer
//
// Several keys may share one bracket and several brackets may appear; a later value
// wins. Text outside brackets is ignored.

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"

namespace tollgate::fakeprovider {

// Bounds on directive values, so a typo cannot make the server allocate or wait forever.
inline constexpr int64_t kMaxTokens = int64_t{1} << 40;
inline constexpr int64_t kMaxDelayMs = 3'600'000;  // one hour

struct Directives {
  std::optional<int> status;  // 400..599
  bool stall = false;
  std::optional<int64_t> stall_after;  // text chunks streamed before hanging
  std::optional<int64_t> delay_ms;
  std::optional<int64_t> chunk_delay_ms;
  std::optional<int64_t> input;  // tokens
  std::optional<int64_t> output;
  std::optional<int64_t> cached;
  std::optional<int64_t> cache_write;
  std::optional<int64_t> reasoning;
  bool no_usage = false;
};

// Reads every `[fake ...]` bracket of `text`. InvalidArgument naming the token for an
// unknown key, a missing or malformed value, a value out of range, or a bracket that is
// not closed. Text without "[fake" yields empty Directives. Never throws.
absl::StatusOr<Directives> ParseDirectives(std::string_view text);

}  // namespace tollgate::fakeprovider
