#pragma once

// What a streamed answer has told StreamMeter so far. The provider adapters' stream
// handlers fill it from each decoded event; StreamMeter reads it. Private to
// src/providers.

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tollgate/types.h"

namespace tollgate::providers::internal {

struct MeterState {
  // Generated text kept for counting; bytes past this are only counted (bytes / 4).
  static constexpr size_t kMaxText = 8 << 20;

  std::optional<Usage> reported;       // the latest usage the provider reported
  bool input_reported = false;         // reported->input_tokens is the provider's count
  bool complete = false;               // reported is the final usage of the answer
  bool finished = false;               // Gemini: a candidate carried a finishReason
  boost::json::value anthropic_usage;  // message_start usage, message_delta's merged in
  std::string text;                    // generated text (deltas), up to kMaxText
  size_t uncollected_bytes = 0;        // generated text beyond kMaxText

  void AppendText(std::string_view s) {
    size_t room = kMaxText - text.size();
    if (s.size() <= room) {
      text.append(s);
    } else {
      text.append(s.substr(0, room));
      uncollected_bytes += s.size() - room;
    }
  }
};

}  // namespace tollgate::providers::internal
