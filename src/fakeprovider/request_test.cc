#include "fakeprovider/request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/common/json_util.h"

namespace tollgate::fakeprovider {
namespace {

using ::testing::HasSubstr;

RequestInfo Inspect(Api api, std::string_view body, std::string_view model = {}) {
  absl::StatusOr<boost::json::object> o = server::ParseJsonObject(body);
  EXPECT_TRUE(o.ok()) << o.status();
  absl::StatusOr<RequestInfo> info =
      InspectRequest(api, o.ok() ? *o : boost::json::object{}, model);
  EXPECT_TRUE(info.ok()) << info.status();
  return info.ok() ? *info : RequestInfo{};
}

std::string Error(Api api, std::string_view body) {
  absl::StatusOr<boost::json::object> o = server::ParseJsonObject(body);
  EXPECT_TRUE(o.ok()) << o.status();
  absl::StatusOr<RequestInfo> info = InspectRequest(api, *o);
  EXPECT_FALSE(info.ok()) << body;
  return info.ok() ? "" : std::string(info.status().message());
}

TEST(InspectRequestTest, ChatReadsTheLastUserMessage) {
  RequestInfo info = Inspect(Api::kChatCompletions, R"({
    "model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
    "max_completion_tokens": 50,
    "messages": [{"role": "system", "content": "be brief"},
                 {"role": "user", "content": "first [fake status=500]"},
                 {"role": "assistant", "content": "ok"},
                 {"role": "user", "content": [{"type": "text", "text": "second"},
                                              {"type": "text", "text": "[fake output=3]"}]}]})");
  EXPECT_EQ(info.model, "gpt-4o");
  EXPECT_TRUE(info.stream);
  EXPECT_TRUE(info.include_usage);
  EXPECT_EQ(info.max_output_tokens, 50);
  EXPECT_EQ(info.directive_text, "second\n[fake output=3]");
  // "be brief" + "first [fake status=500]" + "ok" + "second" + "[fake output=3]"
  EXPECT_EQ(info.text_bytes, 8 + 23 + 2 + 6 + 15);
}

TEST(InspectRequestTest, ChatRequiresModelAndMessages) {
  EXPECT_THAT(Error(Api::kChatCompletions, R"({"messages": []})"), HasSubstr("model"));
  EXPECT_THAT(Error(Api::kChatCompletions, R"({"model": "m"})"), HasSubstr("'messages'"));
  EXPECT_THAT(Error(Api::kChatCompletions, R"({"model": "m", "messages": "hi"})"),
              HasSubstr("'messages'"));
  EXPECT_THAT(Error(Api::kChatCompletions, R"({"model": "m", "messages": [], "stream": 1})"),
              HasSubstr("'stream'"));
}

TEST(InspectRequestTest, ResponsesTakesAStringOrItems) {
  EXPECT_EQ(Inspect(Api::kResponses, R"({"model": "m", "input": "hi [fake]"})").directive_text,
            "hi [fake]");
  RequestInfo info = Inspect(Api::kResponses, R"({"model": "m", "instructions": "abcd",
    "max_output_tokens": 9,
    "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello"}]}]})");
  EXPECT_EQ(info.directive_text, "hello");
  EXPECT_EQ(info.text_bytes, 9);
  EXPECT_EQ(info.max_output_tokens, 9);
}

TEST(InspectRequestTest, EmbeddingsCountsInputs) {
  RequestInfo one = Inspect(Api::kEmbeddings, R"({"model": "e", "input": "abc"})");
  EXPECT_EQ(one.inputs, 1);
  EXPECT_EQ(one.dimensions, kDefaultDimensions);
  EXPECT_FALSE(one.base64);
  RequestInfo many = Inspect(
      Api::kEmbeddings,
      R"({"model": "e", "input": ["a", "b [fake input=7]"], "dimensions": 3, "encoding_format": "base64"})");
  EXPECT_EQ(many.inputs, 2);
  EXPECT_EQ(many.dimensions, 3);
  EXPECT_TRUE(many.base64);
  EXPECT_EQ(many.directive_text, "a\nb [fake input=7]");
  RequestInfo tokens = Inspect(Api::kEmbeddings, R"({"model": "e", "input": [1, 2, 3]})");
  EXPECT_EQ(tokens.inputs, 1);
  EXPECT_EQ(tokens.text_bytes, 12);
  EXPECT_THAT(Error(Api::kEmbeddings, R"({"model": "e", "input": []})"), HasSubstr("empty"));
  EXPECT_THAT(Error(Api::kEmbeddings, R"({"model": "e", "input": "x", "encoding_format": "hex"})"),
              HasSubstr("encoding_format"));
}

TEST(InspectRequestTest, AnthropicCountsTheSystemPrompt) {
  RequestInfo info = Inspect(Api::kMessages, R"({"model": "claude", "max_tokens": 100,
    "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "hello"}]})");
  EXPECT_EQ(info.model, "claude");
  EXPECT_FALSE(info.stream);
  EXPECT_EQ(info.max_output_tokens, 100);
  EXPECT_EQ(info.directive_text, "hello");
  EXPECT_EQ(info.text_bytes, 8);
}

TEST(InspectRequestTest, GeminiTakesTheModelFromThePath) {
  RequestInfo info = Inspect(Api::kStreamGenerateContent, R"({
    "contents": [{"role": "user", "parts": [{"text": "one"}]},
                 {"role": "model", "parts": [{"text": "two"}]},
                 {"parts": [{"text": "three"}]}],
    "systemInstruction": {"parts": [{"text": "s"}]},
    "generationConfig": {"maxOutputTokens": 12}})",
                             "gemini-2.0-flash");
  EXPECT_EQ(info.model, "gemini-2.0-flash");
  EXPECT_TRUE(info.stream);
  EXPECT_EQ(info.directive_text, "three");
  EXPECT_EQ(info.text_bytes, 3 + 3 + 5 + 1);
  EXPECT_EQ(info.max_output_tokens, 12);
}

TEST(EstimateTokensTest, RoundsUpAndIsAtLeastOne) {
  EXPECT_EQ(EstimateTokens(0), 1);
  EXPECT_EQ(EstimateTokens(1), 1);
  EXPECT_EQ(EstimateTokens(4), 1);
  EXPECT_EQ(EstimateTokens(5), 2);
  EXPECT_EQ(EstimateTokens(400), 100);
}

}  // namespace
}  // namespace tollgate::fakeprovider
