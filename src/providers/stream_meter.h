#pragma once

// Usage of a streamed answer, read from the events as they pass through the gateway
// (SPEC §7): OpenAI chat the usage chunk (asked for with stream_options.include_usage,
// and dropped when the client did not ask), Responses response.completed, Anthropic
// message_start + message_delta, Gemini usageMetadata. The generated text is collected
// too, so that a stream that ends early is charged for what was generated.
//
// Thread safety: none; one meter per stream.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "providers/meter_state.h"
#include "providers/sse.h"
#include "providers/wire.h"
#include "tollgate/types.h"

namespace tollgate::providers {

class StreamMeter {
 public:
  // `model`: the model the request went to (counts the collected text);
  // `client_wants_usage`: ParsedCall::client_wants_usage.
  StreamMeter(WireFormat format, std::string model, bool client_wants_usage);

  // true: forward the event's raw bytes to the client; false: drop it. Only the OpenAI
  // chat usage chunk ("choices": [] with "usage") is dropped, and only when the client
  // did not ask for include_usage; its usage is read either way. Events that are not
  // JSON (comments, "[DONE]", malformed data) are forwarded and ignored.
  bool OnEvent(const SseEvent& event);

  // Gemini without alt=sse streams one JSON array of response objects: feed the raw
  // bytes here, in any split. Every byte is to be forwarded. Objects larger than 1 MiB
  // are skipped for metering.
  void OnJsonArrayBytes(std::string_view bytes);

  // The provider's final usage, once the stream has reported it; nullopt before.
  std::optional<Usage> FinalUsage() const;

  // Usage of what was generated so far, for a stream that ended early (client gone,
  // upstream cut); FinalUsage() when there is one. Input: the provider's count if it
  // reported one (Anthropic message_start, Gemini promptTokenCount), else
  // `preflight_input_tokens`. Output: the larger of the provider's count so far and the
  // tokenizer's count of the collected text. *estimated is set when any part came from
  // tollgate's counting.
  Usage PartialUsage(int64_t preflight_input_tokens, bool* estimated) const;

 private:
  // One JSON document (an event's data or an array element); returns OnEvent's answer.
  bool OnJson(std::string_view text);

  static constexpr size_t kMaxJsonObjectBytes = 1 << 20;

  WireFormat format_;
  std::string model_;
  bool client_wants_usage_;
  internal::MeterState state_;

  // Splitting a JSON array into its objects.
  std::string object_;  // bytes of the current top-level object
  int64_t depth_ = 0;   // nesting inside the current object; 0 between objects
  bool in_string_ = false;
  bool escaped_ = false;
  bool oversized_ = false;  // the current object passed kMaxJsonObjectBytes
};

}  // namespace tollgate::providers
