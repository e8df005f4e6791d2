#pragma once

// Incremental parser for server-sent events (the WHATWG "text/event-stream" format) as
// the providers stream them. It only splits: every byte fed belongs to exactly one
// event's `raw` or to Pending(), so forwarding each event's raw bytes (and, at the end,
// Pending()) reproduces the upstream stream byte for byte.
//
// Thread safety: none; one parser per stream.

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace tollgate::providers {

// One event as it came on the wire: the lines up to and including a blank line. A block
// of only comments (": keep-alive") or of only a blank line is an event too, with empty
// `event` and `data`, so that its bytes are forwarded.
struct SseEvent {
  std::string_view event;  // the last "event:" value; "" when there is none
  std::string_view data;   // "data:" values joined by "\n"; "" when there is none
  std::string_view raw;    // the exact bytes, terminating blank line included
};

class SseParser {
 public:
  // An event (raw bytes, or unfinished bytes) larger than `max_event_bytes` stops the
  // parser with ResourceExhausted.
  explicit SseParser(size_t max_event_bytes = 1 << 20);

  // Appends the complete events found in `bytes` to *out. Bytes may come in any split,
  // even one at a time; lines end with "\n", "\r\n" or "\r" (a "\r" that ends `bytes`
  // waits for the next byte, to tell "\r" from "\r\n").
  //
  // The views in *out (and Pending()) stay valid until the next call to Feed.
  //
  // On ResourceExhausted, *out holds the events before the oversized one and Pending()
  // every later byte fed; the caller forwards those, then the rest of the stream
  // unparsed. Feed then always fails and appends nothing.
  absl::Status Feed(std::string_view bytes, std::vector<SseEvent>* out);

  // The bytes of the unfinished event (a final event without its blank line stays here).
  std::string_view Pending() const;

 private:
  struct Span {  // a range of buffer_, relative to event_start_
    size_t begin = 0;
    size_t size = 0;
  };

  // The line buffer_[begin, end) (without its line end) of the current event.
  void Line(size_t begin, size_t end);
  // Emits the current event, which ends (line end included) at buffer_[end].
  void Dispatch(size_t end, std::vector<SseEvent>* out);

  size_t max_event_bytes_;
  absl::Status status_;
  std::string buffer_;      // the current event's bytes, and bytes not yet scanned
  size_t event_start_ = 0;  // first byte of the current event in buffer_
  size_t line_start_ = 0;   // first byte of the current line
  size_t scan_ = 0;         // next byte to look at
  std::optional<Span> event_;
  std::vector<Span> data_;
  std::deque<std::string> joined_;  // data of multi-line events emitted by the last Feed
};

}  // namespace tollgate::providers
