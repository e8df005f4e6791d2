#include "providers/usage.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tollgate::providers {
namespace {

using ::testing::HasSubstr;

boost::json::value Json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

Usage Expect(std::string_view text, std::string_view hint = {}, UsageShape* shape = nullptr) {
  UsageShape detected;
  absl::StatusOr<Usage> u = NormalizeUsage(Json(text), hint, &detected);
  EXPECT_TRUE(u.ok()) << u.status() << " for " << text;
  if (shape != nullptr) *shape = detected;
  return u.ok() ? *u : Usage{};
}

std::string Error(std::string_view text, std::string_view hint = {}) {
  absl::StatusOr<Usage> u = NormalizeUsage(Json(text), hint);
  EXPECT_FALSE(u.ok()) << "accepted " << text;
  if (u.ok()) return "";
  EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(u.status().message());
}

Usage Make(int64_t in, int64_t out, int64_t cached, int64_t writes, int64_t reasoning) {
  return Usage{in, out, cached, writes, reasoning, in + out};
}

// --- OpenAI Chat Completions ---

TEST(NormalizeUsageTest, OpenAiChatCompletion) {
  UsageShape shape;
  Usage u = Expect(R"({
    "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})",
                   {}, &shape);
  EXPECT_EQ(u, Make(19, 10, 0, 0, 0));
  EXPECT_EQ(shape, UsageShape::kOpenAiChat);
}

TEST(NormalizeUsageTest, OpenAiChatWithCachedPromptAndReasoning) {
  Usage u = Expect(R"({"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920},
    "completion_tokens_details": {"reasoning_tokens": 256}})");
  EXPECT_EQ(u, Make(2006, 300, 1920, 0, 256));
}

TEST(NormalizeUsageTest, OpenAiEmbeddingsHaveNoCompletionTokens) {
  EXPECT_EQ(Expect(R"({"prompt_tokens": 8, "total_tokens": 8})"), Make(8, 0, 0, 0, 0));
}

TEST(NormalizeUsageTest, NullDetailsCountAsAbsent) {
  EXPECT_EQ(Expect(R"({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
                      "prompt_tokens_details": null, "completion_tokens_details": null})"),
            Make(5, 2, 0, 0, 0));
}

TEST(NormalizeUsageTest, WholeChatCompletionResponseUsesItsUsage) {
  Usage u = Expect(R"({"id": "chatcmpl-abc123", "object": "chat.completion",
    "model": "gpt-4o-2024-08-06", "choices": [],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})");
  EXPECT_EQ(u, Make(12, 3, 0, 0, 0));
}

// --- OpenAI Responses ---

TEST(NormalizeUsageTest, OpenAiResponses) {
  UsageShape shape;
  Usage u = Expect(R"({"input_tokens": 36, "input_tokens_details": {"cached_tokens": 4},
    "output_tokens": 87, "output_tokens_details": {"reasoning_tokens": 64},
    "total_tokens": 123})",
                   {}, &shape);
  EXPECT_EQ(u, Make(36, 87, 4, 0, 64));
  EXPECT_EQ(shape, UsageShape::kOpenAiResponses);
}

// --- Anthropic ---

TEST(NormalizeUsageTest, AnthropicInputIncludesCacheReadsAndWrites) {
  UsageShape shape;
  Usage u = Expect(R"({"input_tokens": 2095, "output_tokens": 503,
    "cache_creation_input_tokens": 2051, "cache_read_input_tokens": 0,
    "cache_creation": {"ephemeral_5m_input_tokens": 2051, "ephemeral_1h_input_tokens": 0},
    "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard"})",
                   {}, &shape);
  EXPECT_EQ(u, Make(2095 + 2051, 503, 0, 2051, 0));
  EXPECT_EQ(shape, UsageShape::kAnthropic);
}

TEST(NormalizeUsageTest, AnthropicCacheRead) {
  Usage u = Expect(R"({"input_tokens": 21, "output_tokens": 393,
    "cache_creation_input_tokens": 188, "cache_read_input_tokens": 8192})");
  EXPECT_EQ(u, Make(21 + 188 + 8192, 393, 8192, 188, 0));
}

TEST(NormalizeUsageTest, AnthropicCacheCreationBreakdownAloneGivesWrites) {
  Usage u = Expect(R"({"input_tokens": 10, "output_tokens": 1,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 50}})");
  EXPECT_EQ(u, Make(160, 1, 0, 150, 0));
}

TEST(NormalizeUsageTest, AnthropicStreamDeltaWithHint) {
  UsageShape shape;
  EXPECT_EQ(Expect(R"({"output_tokens": 15})", "anthropic", &shape), Make(0, 15, 0, 0, 0));
  EXPECT_EQ(shape, UsageShape::kAnthropic);
}

TEST(NormalizeUsageTest, AnthropicThinkingTokensAreReasoning) {
  UsageShape shape;
  Usage u = Expect(R"({"input_tokens": 40, "output_tokens": 300,
    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
    "output_tokens_details": {"thinking_tokens": 120}})",
                   {}, &shape);
  EXPECT_EQ(u, Make(40, 300, 0, 0, 120));
  EXPECT_EQ(shape, UsageShape::kAnthropic);
  // Without Anthropic's own keys the hint decides.
  EXPECT_EQ(Expect(R"({"input_tokens": 5, "output_tokens": 9,
    "output_tokens_details": {"thinking_tokens": 4}})", "anthropic", &shape),
            Make(5, 9, 0, 0, 4));
  EXPECT_EQ(shape, UsageShape::kAnthropic);
  EXPECT_FALSE(NormalizeUsage(boost::json::parse(R"({"input_tokens": 5, "output_tokens": 3,
    "cache_read_input_tokens": 0, "output_tokens_details": {"thinking_tokens": 4}})"))
                   .ok());
}

TEST(NormalizeUsageTest, SharedKeysReadTheSameWithoutHint) {
  Usage u = Expect(R"({"input_tokens": 25, "output_tokens": 10})");
  EXPECT_EQ(u, Make(25, 10, 0, 0, 0));
  EXPECT_EQ(Expect(R"({"input_tokens": 25, "output_tokens": 10})", "openai"), u);
  EXPECT_EQ(Expect(R"({"input_tokens": 25, "output_tokens": 10})", "anthropic"), u);
}

// --- Gemini ---

TEST(NormalizeUsageTest, GeminiOutputIncludesThoughts) {
  UsageShape shape;
  Usage u = Expect(R"({"promptTokenCount": 11, "candidatesTokenCount": 137,
    "totalTokenCount": 1078, "thoughtsTokenCount": 930,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11}]})",
                   {}, &shape);
  EXPECT_EQ(u, Make(11, 137 + 930, 0, 0, 930));
  EXPECT_EQ(shape, UsageShape::kGemini);
}

TEST(NormalizeUsageTest, GeminiPromptIncludesCachedContent) {
  Usage u = Expect(R"({"promptTokenCount": 1200, "cachedContentTokenCount": 1000,
    "candidatesTokenCount": 50, "totalTokenCount": 1250})");
  EXPECT_EQ(u, Make(1200, 50, 1000, 0, 0));
}

TEST(NormalizeUsageTest, GeminiToolUsePromptCountsAsInput) {
  Usage u = Expect(R"({"promptTokenCount": 100, "toolUsePromptTokenCount": 40,
    "candidatesTokenCount": 10, "totalTokenCount": 150})");
  EXPECT_EQ(u, Make(140, 10, 0, 0, 0));
}

TEST(NormalizeUsageTest, WholeGeminiResponseUsesUsageMetadata) {
  Usage u = Expect(R"({"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"},
    "finishReason": "STOP"}], "modelVersion": "gemini-2.5-flash",
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6}})");
  EXPECT_EQ(u, Make(4, 2, 0, 0, 0));
}

// --- tollgate ---

TEST(NormalizeUsageTest, TollgateShape) {
  UsageShape shape;
  Usage u = Expect(R"({"input_tokens": 100, "output_tokens": 20, "cached_input_tokens": 30,
    "cache_write_tokens": 10, "reasoning_tokens": 5, "total_tokens": 120})",
                   {}, &shape);
  EXPECT_EQ(u, Make(100, 20, 30, 10, 5));
  EXPECT_EQ(shape, UsageShape::kTollgate);
}

TEST(NormalizeUsageTest, IntegralFloatIsAccepted) {
  EXPECT_EQ(Expect(R"({"prompt_tokens": 12.0, "completion_tokens": 1e2})"), Make(12, 100, 0, 0, 0));
}

TEST(NormalizeUsageTest, LargestCountIsAccepted) {
  EXPECT_EQ(Expect(R"({"input_tokens": 9223372036854775807})").input_tokens, 9223372036854775807);
}

// --- bad input ---

TEST(NormalizeUsageTest, RejectsNegativeCountNamingTheField) {
  EXPECT_THAT(Error(R"({"prompt_tokens": -1, "completion_tokens": 2})"),
              HasSubstr("usage.prompt_tokens: must not be negative"));
}

TEST(NormalizeUsageTest, RejectsNonInteger) {
  EXPECT_THAT(Error(R"({"candidatesTokenCount": 1.5})"),
              HasSubstr("usage.candidatesTokenCount: must be an integer"));
}

TEST(NormalizeUsageTest, RejectsWrongTypes) {
  EXPECT_THAT(Error(R"({"input_tokens": "12"})"),
              HasSubstr("usage.input_tokens: must be an integer"));
  EXPECT_THAT(Error(R"({"output_tokens": true})"), HasSubstr("usage.output_tokens"));
  EXPECT_THAT(Error(R"({"prompt_tokens": 1, "prompt_tokens_details": 5})"),
              HasSubstr("usage.prompt_tokens_details: must be an object"));
  EXPECT_THAT(Error(R"({"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": [1]}})"),
              HasSubstr("usage.prompt_tokens_details.cached_tokens: must be an integer"));
  EXPECT_THAT(Error(R"([1, 2])"), HasSubstr("usage: must be an object"));
  EXPECT_THAT(Error(R"({"usage": 5})"), HasSubstr("usage: must be an object"));
}

TEST(NormalizeUsageTest, RejectsTwoToTheSixtyThree) {
  EXPECT_THAT(Error(R"({"input_tokens": 9223372036854775808})"),
              HasSubstr("usage.input_tokens: must be less than 2^63"));
  EXPECT_THAT(Error(R"({"input_tokens": 1e19})"), HasSubstr("usage.input_tokens"));
}

TEST(NormalizeUsageTest, RejectsTotalThatIsNotTheSum) {
  EXPECT_THAT(Error(R"({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 16})"),
              HasSubstr("usage.total_tokens: is 16, not the sum"));
  EXPECT_THAT(Error(R"({"promptTokenCount": 10, "candidatesTokenCount": 5,
                        "thoughtsTokenCount": 3, "totalTokenCount": 15})"),
              HasSubstr("usage.totalTokenCount"));
}

TEST(NormalizeUsageTest, RejectsMoreCachedThanInput) {
  EXPECT_THAT(Error(R"({"prompt_tokens": 10, "completion_tokens": 1,
                        "prompt_tokens_details": {"cached_tokens": 11}})"),
              HasSubstr("usage.prompt_tokens_details.cached_tokens: is 11, more than"));
  EXPECT_THAT(Error(R"({"promptTokenCount": 10, "cachedContentTokenCount": 20})"),
              HasSubstr("usage.cachedContentTokenCount"));
  EXPECT_THAT(Error(R"({"input_tokens": 10, "cached_input_tokens": 8, "cache_write_tokens": 3})"),
              HasSubstr("cache_write_tokens"));
}

TEST(NormalizeUsageTest, RejectsMoreReasoningThanOutput) {
  EXPECT_THAT(Error(R"({"input_tokens": 1, "output_tokens": 5,
                        "output_tokens_details": {"reasoning_tokens": 6}})"),
              HasSubstr("usage.output_tokens_details.reasoning_tokens"));
}

TEST(NormalizeUsageTest, RejectsMixedShapes) {
  EXPECT_THAT(Error(R"({"prompt_tokens": 1, "input_tokens": 1})"), HasSubstr("mixes"));
  EXPECT_THAT(Error(R"({"promptTokenCount": 1, "prompt_tokens": 1})"), HasSubstr("mixes"));
  EXPECT_THAT(Error(R"({"input_tokens": 1, "cache_read_input_tokens": 1,
                        "input_tokens_details": {"cached_tokens": 1}})"),
              HasSubstr("mixes"));
}

TEST(NormalizeUsageTest, RejectsPayloadWithNoKnownCounts) {
  EXPECT_THAT(Error("{}"), HasSubstr("no token counts"));
  EXPECT_THAT(Error(R"({"tokens": 5})"), HasSubstr("no token counts"));
}

TEST(NormalizeUsageTest, RejectsOverflowingSums) {
  EXPECT_THAT(Error(R"({"input_tokens": 9223372036854775807, "cache_read_input_tokens": 1})"),
              HasSubstr("overflows"));
  EXPECT_THAT(Error(R"({"input_tokens": 9223372036854775807, "output_tokens": 1})"),
              HasSubstr("overflows"));
  EXPECT_THAT(Error(R"({"promptTokenCount": 9223372036854775807, "candidatesTokenCount": 1,
                        "thoughtsTokenCount": 9223372036854775807})"),
              HasSubstr("overflows"));
}

TEST(NormalizeUsageTest, RejectsAnthropicCacheBreakdownThatDoesNotAddUp) {
  EXPECT_THAT(Error(R"({"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 10,
                        "cache_creation": {"ephemeral_5m_input_tokens": 4,
                                           "ephemeral_1h_input_tokens": 5}})"),
              HasSubstr("usage.cache_creation: adds up to 9"));
}

}  // namespace
}  // namespace tollgate::providers
