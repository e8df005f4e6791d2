#include "providers/stream_meter.h"

#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "providers/sse.h"
#include "tollgate/tokenizer.h"

namespace tollgate::providers {
namespace {

// Runs `stream` through an SseParser in chunks of `chunk` bytes and the meter, as the
// gateway does; returns the bytes the client gets.
std::string Stream(StreamMeter& meter, std::string_view stream, size_t chunk = 7) {
  SseParser parser;
  std::vector<SseEvent> events;
  std::string forwarded;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    events.clear();
    absl::Status s = parser.Feed(stream.substr(at, chunk), &events);
    EXPECT_TRUE(s.ok()) << s;
    for (const SseEvent& e : events)
      if (meter.OnEvent(e)) forwarded += e.raw;
  }
  return forwarded + std::string(parser.Pending());
}

int64_t Tokens(std::string_view model, std::string_view text) {
  return tokenizer::CountText(model, text)->tokens;
}

// --- OpenAI Chat Completions (upstream asked for include_usage) ---

constexpr std::string_view kChatHead =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
    "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\" there, how can I help?\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n";
constexpr std::string_view kChatTail =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":"
    "null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n";
constexpr std::string_view kChatUsage =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,"
    "\"completion_tokens\":8,\"total_tokens\":27,\"prompt_tokens_details\":{\"cached_tokens\":0,"
    "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
    "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n";
constexpr std::string_view kDone = "data: [DONE]\n\n";

std::string ChatStream() {
  return std::string(kChatHead) + std::string(kChatTail) + std::string(kChatUsage) +
         std::string(kDone);
}

TEST(StreamMeterTest, OpenAiUsageChunkIsDroppedWhenTheClientDidNotAsk) {
  for (size_t chunk : {1, 7, 64, 100000}) {
    StreamMeter meter(WireFormat::kOpenAiChat, "gpt-4o-mini", /*client_wants_usage=*/false);
    EXPECT_EQ(Stream(meter, ChatStream(), chunk),
              std::string(kChatHead) + std::string(kChatTail) + std::string(kDone));
    EXPECT_EQ(meter.FinalUsage(), (Usage{19, 8, 0, 0, 0, 27})) << chunk;
  }
}

TEST(StreamMeterTest, OpenAiUsageChunkIsKeptWhenTheClientAsked) {
  StreamMeter meter(WireFormat::kOpenAiChat, "gpt-4o-mini", /*client_wants_usage=*/true);
  EXPECT_EQ(Stream(meter, ChatStream()), ChatStream());
  EXPECT_EQ(meter.FinalUsage(), (Usage{19, 8, 0, 0, 0, 27}));
  bool estimated = true;
  EXPECT_EQ(meter.PartialUsage(1000, &estimated), (Usage{19, 8, 0, 0, 0, 27}));
  EXPECT_FALSE(estimated);
}

TEST(StreamMeterTest, OpenAiHalfAStreamIsChargedForItsText) {
  StreamMeter meter(WireFormat::kOpenAiChat, "gpt-4o-mini", false);
  Stream(meter, kChatHead);
  EXPECT_EQ(meter.FinalUsage(), std::nullopt);
  bool estimated = false;
  Usage u = meter.PartialUsage(/*preflight_input_tokens=*/19, &estimated);
  int64_t out = Tokens("gpt-4o-mini", "Hello there, how can I help?");
  EXPECT_EQ(u, (Usage{19, out, 0, 0, 0, 19 + out}));
  EXPECT_TRUE(estimated);
}

TEST(StreamMeterTest, MalformedEventsAreForwardedAndIgnored) {
  std::string stream = std::string(kChatHead) + "data: {\"choices\": [\n\n" +
                       "data: [1, 2]\n\n: comment\n\n" + "data: {\"choices\":[],\"usage\":5}\n\n" +
                       "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-3}}\n\n";
  StreamMeter meter(WireFormat::kOpenAiChat, "gpt-4o-mini", true);
  EXPECT_EQ(Stream(meter, stream), stream);
  EXPECT_EQ(meter.FinalUsage(), std::nullopt);
}

// --- OpenAI Responses ---

constexpr std::string_view kResponsesStream =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\","
    "\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-4.1-2025-04-14\","
    "\"output\":[],\"usage\":null}}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_1\","
    "\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":5,\"item_id\":\"msg_1\","
    "\"output_index\":0,\"content_index\":0,\"delta\":\" there!\"}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":9,\"response\":{\"id\":\"resp_1\","
    "\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-4.1-2025-04-14\",\"output\":"
    "[{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[{\"type\":"
    "\"output_text\",\"text\":\"Hi there!\"}]}],\"usage\":{\"input_tokens\":12,"
    "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":3,\"output_tokens_details\":"
    "{\"reasoning_tokens\":0},\"total_tokens\":15}}}\n\n";

TEST(StreamMeterTest, ResponsesUsageComesWithResponseCompleted) {
  StreamMeter meter(WireFormat::kOpenAiResponses, "gpt-4.1", false);
  std::string_view head =
      kResponsesStream.substr(0, kResponsesStream.find("event: response.completed"));
  EXPECT_EQ(Stream(meter, head), head);
  EXPECT_EQ(meter.FinalUsage(), std::nullopt);
  bool estimated = false;
  EXPECT_EQ(meter.PartialUsage(12, &estimated).output_tokens, Tokens("gpt-4.1", "Hi there!"));
  EXPECT_TRUE(estimated);

  StreamMeter full(WireFormat::kOpenAiResponses, "gpt-4.1", false);
  EXPECT_EQ(Stream(full, kResponsesStream), kResponsesStream);
  EXPECT_EQ(full.FinalUsage(), (Usage{12, 3, 0, 0, 0, 15}));
}

// --- Anthropic ---

constexpr std::string_view kAnthropicHead =
    "event: message_start\n"
    "data: "
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-"
    "20250514\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: "
    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":"
    "\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
    "\"Hello, world! How are you today?\"}}\n\n"
    "event: content_block_delta\n"
    "data: "
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" "
    "I am fine.\"}}\n\n";
constexpr std::string_view kAnthropicTail =
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: "
    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

TEST(StreamMeterTest, AnthropicUsageFromMessageStartAndMessageDelta) {
  std::string stream = std::string(kAnthropicHead) + std::string(kAnthropicTail);
  StreamMeter meter(WireFormat::kAnthropicMessages, "claude-sonnet-4-20250514", false);
  EXPECT_EQ(Stream(meter, stream, 3), stream);
  EXPECT_EQ(meter.FinalUsage(), (Usage{125, 15, 100, 0, 0, 140}));
}

TEST(StreamMeterTest, AnthropicHalfAStreamKeepsTheReportedInput) {
  StreamMeter meter(WireFormat::kAnthropicMessages, "claude-sonnet-4-20250514", false);
  Stream(meter, kAnthropicHead);
  EXPECT_EQ(meter.FinalUsage(), std::nullopt);
  bool estimated = false;
  Usage u = meter.PartialUsage(/*preflight_input_tokens=*/999, &estimated);
  int64_t out = Tokens("claude-sonnet-4-20250514", "Hello, world! How are you today? I am fine.");
  ASSERT_GT(out, 1);
  EXPECT_EQ(u, (Usage{125, out, 100, 0, 0, 125 + out}));
  EXPECT_TRUE(estimated);
}

TEST(StreamMeterTest, AnthropicNewerMessageDeltaRepeatsTheInputSide) {
  std::string stream = std::string(kAnthropicHead) +
                       "event: message_delta\n"
                       "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
                       "\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,"
                       "\"cache_read_input_tokens\":100,\"output_tokens\":503}}\n\n";
  StreamMeter meter(WireFormat::kAnthropicMessages, "claude-sonnet-4-20250514", false);
  Stream(meter, stream);
  EXPECT_EQ(meter.FinalUsage(), (Usage{125, 503, 100, 0, 0, 628}));
}

// --- Gemini ---

constexpr std::string_view kGeminiChunks[] = {
    R"({"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"modelVersion": "gemini-2.0-flash"})",
    R"({"candidates": [{"content": {"parts": [{"text": " quick {brown} \"fox\" ]"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 4,"totalTokenCount": 13},"modelVersion": "gemini-2.0-flash"})",
    R"({"candidates": [{"content": {"parts": [{"text": " jumps."}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 12,"totalTokenCount": 21},"modelVersion": "gemini-2.0-flash"})",
};

TEST(StreamMeterTest, GeminiSseLatestUsageMetadataWins) {
  std::string stream;
  for (std::string_view c : kGeminiChunks) stream += "data: " + std::string(c) + "\r\n\r\n";
  StreamMeter meter(WireFormat::kGeminiGenerate, "gemini-2.0-flash", false);
  EXPECT_EQ(Stream(meter, stream, 5), stream);
  EXPECT_EQ(meter.FinalUsage(), (Usage{9, 12, 0, 0, 0, 21}));
}

TEST(StreamMeterTest, GeminiJsonArrayInAnySplit) {
  std::string stream = "[";
  for (std::string_view c : kGeminiChunks) {
    if (stream.size() > 1) stream += "\r\n,\r\n";
    stream += c;
  }
  stream += "]";
  for (size_t chunk : {1, 2, 13, 100000}) {
    StreamMeter meter(WireFormat::kGeminiGenerate, "gemini-2.0-flash", false);
    for (size_t at = 0; at < stream.size(); at += chunk)
      meter.OnJsonArrayBytes(std::string_view(stream).substr(at, chunk));
    EXPECT_EQ(meter.FinalUsage(), (Usage{9, 12, 0, 0, 0, 21})) << chunk;
  }
}

TEST(StreamMeterTest, GeminiHalfAStream) {
  std::string stream("[");  // (not "[" + std::string: GCC 12 warns falsely)
  stream.append(kGeminiChunks[0]).append(",").append(kGeminiChunks[1]);
  StreamMeter meter(WireFormat::kGeminiGenerate, "gemini-2.0-flash", false);
  meter.OnJsonArrayBytes(stream);
  EXPECT_EQ(meter.FinalUsage(), std::nullopt);  // no finishReason yet
  bool estimated = false;
  Usage u = meter.PartialUsage(50, &estimated);
  int64_t counted = Tokens("gemini-2.0-flash", "The quick {brown} \"fox\" ]");
  EXPECT_EQ(u.input_tokens, 9);
  EXPECT_EQ(u.output_tokens, std::max<int64_t>(4, counted));
  EXPECT_EQ(u.total_tokens, u.input_tokens + u.output_tokens);
  EXPECT_EQ(estimated, counted > 4);
}

TEST(StreamMeterTest, NothingSeenChargesThePreflightInput) {
  StreamMeter meter(WireFormat::kGeminiGenerate, "gemini-2.0-flash", false);
  meter.OnJsonArrayBytes("[{\"error\": {\"code\": 503, \"message\": \"overloaded }{\"}}]");
  bool estimated = false;
  EXPECT_EQ(meter.PartialUsage(40, &estimated), (Usage{40, 0, 0, 0, 0, 40}));
  EXPECT_TRUE(estimated);
}

TEST(StreamMeterTest, UnknownModelCountsBytes) {
  StreamMeter meter(WireFormat::kOpenAiChat, "my-local-llm", false);
  Stream(meter, kChatHead);
  bool estimated = false;
  EXPECT_EQ(meter.PartialUsage(0, &estimated).output_tokens,
            (std::string_view("Hello there, how can I help?").size() + 3) / 4);
}

}  // namespace
}  // namespace tollgate::providers
