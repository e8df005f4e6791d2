#include "providers/stream_meter.h"

#include <algorithm>
#include <boost/json.hpp>
#include <utility>

#include "providers/anthropic/anthropic.h"
#include "providers/gemini/gemini.h"
#include "providers/openai/openai.h"
#include "providers/wire_internal.h"

namespace tollgate::providers {

namespace json = boost::json;

StreamMeter::StreamMeter(WireFormat format, std::string model, bool client_wants_usage)
    : format_(format), model_(std::move(model)), client_wants_usage_(client_wants_usage) {}

bool StreamMeter::OnEvent(const SseEvent& event) {
  if (event.data.empty() || event.data == "[DONE]") return true;
  return OnJson(event.data);
}

bool StreamMeter::OnJson(std::string_view text) {
  // Most events are small: parse them without touching the heap.
  unsigned char buffer[4096];
  json::monotonic_resource resource(buffer, sizeof buffer);
  boost::system::error_code ec;
  json::value v = json::parse(internal::JsonView(text), ec, &resource);
  if (ec || !v.is_object()) return true;
  const json::object& o = v.get_object();
  switch (format_) {
    case WireFormat::kOpenAiChat:
      return openai::OnChatChunk(o, client_wants_usage_, &state_);
    case WireFormat::kOpenAiResponses:
      openai::OnResponsesEvent(o, &state_);
      return true;
    case WireFormat::kAnthropicMessages:
      anthropic::OnEvent(o, &state_);
      return true;
    case WireFormat::kGeminiGenerate:
      gemini::OnChunk(o, &state_);
      return true;
    case WireFormat::kOpenAiEmbeddings:
      return true;
  }
  return true;
}

void StreamMeter::OnJsonArrayBytes(std::string_view bytes) {
  for (const char c : bytes) {
    if (depth_ == 0) {  // between objects: '[', ',', whitespace
      if (c == '{') {
        depth_ = 1;
        object_.assign(1, c);
        oversized_ = false;
      }
      continue;
    }
    if (!oversized_) {
      if (object_.size() < kMaxJsonObjectBytes) {
        object_.push_back(c);
      } else {
        oversized_ = true;
        object_.clear();
      }
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if ((c == '}' || c == ']') && --depth_ == 0) {
      if (!oversized_) OnJson(object_);
      object_.clear();
    }
  }
}

std::optional<Usage> StreamMeter::FinalUsage() const {
  if (!state_.complete) return std::nullopt;
  return state_.reported;
}

Usage StreamMeter::PartialUsage(int64_t preflight_input_tokens, bool* estimated) const {
  *estimated = false;
  if (std::optional<Usage> final_usage = FinalUsage()) return *final_usage;
  Usage u = state_.reported.value_or(Usage{});
  if (!state_.input_reported) {
    u.input_tokens = std::max<int64_t>(0, preflight_input_tokens);
    u.cached_input_tokens = 0;
    u.cache_write_tokens = 0;
    *estimated = true;
  }
  bool unused = false;
  const int64_t counted = internal::CountText(model_, state_.text, &unused) +
                          internal::EstimateBytes(state_.uncollected_bytes);
  if (counted > u.output_tokens) {
    u.output_tokens = counted;
    *estimated = true;
  }
  u.total_tokens = u.input_tokens + u.output_tokens;
  return u;
}

}  // namespace tollgate::providers
