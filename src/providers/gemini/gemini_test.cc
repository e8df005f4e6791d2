#include <boost/json.hpp>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "providers/test_util.h"
#include "providers/wire.h"
#include "tollgate/tokenizer.h"

namespace tollgate::providers {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using testing::Json;
using testing::Object;

constexpr WireFormat kGemini = WireFormat::kGeminiGenerate;

constexpr char kRequest[] = R"({
  "systemInstruction": {"parts": [{"text": "You are a cat. Your name is Neko."}]},
  "contents": [
    {"role": "user", "parts": [{"text": "What is the weather in Paris?"},
                               {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
    {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 18}}}]}
  ],
  "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather of a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]},
            {"googleSearch": {}}],
  "generationConfig": {"temperature": 1.0, "maxOutputTokens": 800, "candidateCount": 2}})";

TEST(GeminiParseTest, ModelAndStreamComeFromTheRoute) {
  absl::StatusOr<ParsedCall> call =
      ParseRequest(kGemini, Object(kRequest), "gemini-2.5-flash", true);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->model, "gemini-2.5-flash");
  EXPECT_TRUE(call->stream);
  EXPECT_EQ(call->max_output_tokens, 800);
  EXPECT_EQ(call->choices, 2);
  EXPECT_TRUE(call->has_temperature);
  tokenizer::ChatRequest chat;
  chat.messages = {{"system", "You are a cat. Your name is Neko.", {}},
                   {"user", "What is the weather in Paris?", {}},
                   {"model", "get_weather{\"city\":\"Paris\"}", {}},
                   {"user", "get_weather{\"temp\":18}", {}}};
  chat.tools = {{"get_weather", "Weather of a city", {{"city", "string", "", {}}}}};
  EXPECT_EQ(call->input_tokens, tokenizer::CountChat("gemini-2.5-flash", chat)->tokens);
  EXPECT_EQ(call->encoding, "gemini-estimate");
  EXPECT_TRUE(call->estimated);

  call = ParseRequest(kGemini, Object(R"({"contents":[{"parts":[{"text":"hi"}]}]})"),
                      "gemini-2.0-flash", false);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_FALSE(call->stream);
  EXPECT_FALSE(call->max_output_tokens.has_value());
  EXPECT_FALSE(call->has_temperature);
}

TEST(GeminiParseTest, SnakeCaseFieldsAreRead) {
  absl::StatusOr<ParsedCall> camel = ParseRequest(kGemini, Object(R"({
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [{"role": "user", "parts": [{"text": "Hello there"}]}],
    "generationConfig": {"maxOutputTokens": 100}})"),
                                                  "gemini-2.0-flash");
  absl::StatusOr<ParsedCall> snake = ParseRequest(kGemini, Object(R"({
    "system_instruction": {"parts": [{"text": "Be brief."}]},
    "contents": [{"role": "user", "parts": [{"text": "Hello there"}]}],
    "generation_config": {"max_output_tokens": 100}})"),
                                                  "gemini-2.0-flash");
  ASSERT_TRUE(camel.ok() && snake.ok());
  EXPECT_EQ(snake->max_output_tokens, 100);
  EXPECT_EQ(snake->input_tokens, camel->input_tokens);
}

struct BadCase {
  std::string_view path_model;
  std::string_view body;
  std::string_view field;
};

class GeminiBadRequestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(GeminiBadRequestTest, IsInvalidArgumentNamingTheField) {
  const BadCase& c = GetParam();
  absl::StatusOr<ParsedCall> call = ParseRequest(kGemini, Object(c.body), c.path_model);
  ASSERT_FALSE(call.ok()) << c.body;
  EXPECT_EQ(call.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(call.status().message(), HasSubstr(c.field)) << c.body;
}

constexpr std::string_view kFlash = "gemini-2.0-flash";

INSTANTIATE_TEST_SUITE_P(
    Table, GeminiBadRequestTest,
    ::testing::Values(
        BadCase{"", R"({"contents":[]})", "model"}, BadCase{kFlash, R"({})", "contents"},
        BadCase{kFlash, R"({"contents":{"parts":[]}})", "contents"},
        BadCase{kFlash, R"({"contents":[1]})", "contents[0]"},
        BadCase{kFlash, R"({"contents":[{"role":5,"parts":[]}]})", "contents[0].role"},
        BadCase{kFlash, R"({"contents":[{"parts":"hi"}]})", "contents[0].parts"},
        BadCase{kFlash, R"({"contents":[{"parts":[{"text":"a"},[[[[[]]]]]]}]})",
                "contents[0].parts[1]"},
        BadCase{kFlash, R"({"contents":[],"generationConfig":5})", "generationConfig"},
        BadCase{kFlash, R"({"contents":[],"generationConfig":{"maxOutputTokens":-1}})",
                "generationConfig.maxOutputTokens"},
        BadCase{kFlash,
                R"({"contents":[],"generationConfig":{"maxOutputTokens":9223372036854775808}})",
                "generationConfig.maxOutputTokens"},
        BadCase{kFlash, R"({"contents":[],"generation_config":{"max_output_tokens":"10"}})",
                "generation_config.max_output_tokens"},
        BadCase{kFlash, R"({"contents":[],"generationConfig":{"candidateCount":9}})",
                "generationConfig.candidateCount"},
        BadCase{kFlash, R"({"contents":[],"generationConfig":{"temperature":"warm"}})",
                "generationConfig.temperature"},
        BadCase{kFlash, R"({"contents":[],"systemInstruction":"Be brief."})", "systemInstruction"},
        BadCase{kFlash, R"({"contents":[],"tools":5})", "tools"}));

TEST(GeminiRewriteTest, CreatesGenerationConfigAndKeepsTheModelInThePath) {
  json::object body = Object(R"({"contents":[{"parts":[{"text":"hi"}]}]})");
  ApplyRewrite(
      kGemini, body,
      Rewrite{.model = "gemini-2.0-flash-lite", .max_output_tokens = 256, .temperature = 0.4});
  EXPECT_EQ(body, Object(R"({"contents":[{"parts":[{"text":"hi"}]}],
                             "generationConfig":{"maxOutputTokens":256,"temperature":0.4}})"));
}

TEST(GeminiRewriteTest, WritesTheSpellingTheClientUsedAndKeepsItsTemperature) {
  json::object body = Object(
      R"({"contents":[],"generation_config":{"max_output_tokens":4096,"temperature":0.9,"topK":3}})");
  ApplyRewrite(kGemini, body, Rewrite{.max_output_tokens = 1024, .temperature = 0.1});
  EXPECT_EQ(body, Object(R"({"contents":[],
      "generation_config":{"max_output_tokens":1024,"temperature":0.9,"topK":3}})"));
}

TEST(GeminiRewriteTest, NothingToDoLeavesTheBodyAlone) {
  json::object body = Object(R"({"contents":[],"generationConfig":{"temperature":0.9}})");
  json::object before = body;
  ApplyRewrite(kGemini, body, Rewrite{.temperature = 0.1});
  EXPECT_EQ(body, before);
}

constexpr char kResponse[] = R"({
  "candidates": [{"content": {"parts": [{"text": "AI learns patterns from data."}], "role": "model"},
                  "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 310, "totalTokenCount": 1089,
                    "thoughtsTokenCount": 771,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}]},
  "modelVersion": "gemini-2.5-flash", "responseId": "fP5UaKH2F4m0nvgPvJfZqQk"})";

TEST(GeminiUsageTest, ThoughtsCountAsOutput) {
  absl::StatusOr<Usage> u = UsageFromResponse(kGemini, kResponse);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(*u, (Usage{8, 310 + 771, 0, 0, 771, 1089}));
}

TEST(GeminiUsageTest, CachedContentIsPartOfThePrompt) {
  absl::StatusOr<Usage> u = UsageFromResponse(kGemini, R"({"candidates": [],
    "usageMetadata": {"promptTokenCount": 2100, "cachedContentTokenCount": 2048,
                      "candidatesTokenCount": 40, "totalTokenCount": 2140}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(*u, (Usage{2100, 40, 2048, 0, 0, 2140}));
  EXPECT_TRUE(absl::IsNotFound(UsageFromResponse(kGemini, R"({"candidates":[]})").status()));
  // OpenAI's key means nothing in a Gemini answer.
  EXPECT_TRUE(absl::IsNotFound(
      UsageFromResponse(kGemini, R"({"usage":{"prompt_tokens":1}})").status()));
}

TEST(GeminiOutputTextTest, PartsOfEveryCandidate) {
  EXPECT_EQ(OutputText(kGemini, Json(kResponse)), "AI learns patterns from data.");
  EXPECT_EQ(OutputText(kGemini, Json(R"({"candidates":[
      {"content":{"parts":[{"text":"a"},{"functionCall":{"name":"f","args":{"x":1}}}]}},
      {"content":{"parts":[{"text":"b"}]}}, 5, {"content":7}]})")),
            "af{\"x\":1}b");
}

TEST(GeminiErrorBodyTest, StatusFollowsTheHttpStatus) {
  EXPECT_EQ(Json(ErrorBody(kGemini, 403, "usage_limit_exceeded", "Daily quota used.")),
            Json(R"({"error":{"code":403,"message":"Daily quota used.","status":"PERMISSION_DENIED",
                     "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",
                                 "reason":"usage_limit_exceeded","domain":"tollgate"}]}})"));
  for (auto [status, name] : {std::pair{400u, "INVALID_ARGUMENT"},
                              {401u, "UNAUTHENTICATED"},
                              {404u, "NOT_FOUND"},
                              {429u, "RESOURCE_EXHAUSTED"},
                              {500u, "INTERNAL"},
                              {503u, "UNAVAILABLE"},
                              {504u, "DEADLINE_EXCEEDED"}}) {
    json::value body = Json(ErrorBody(kGemini, status, "", "m"));
    EXPECT_EQ(body.at("error").at("status"), name) << status;
    EXPECT_EQ(body.at("error").at("code"), status);
    EXPECT_FALSE(body.at("error").as_object().contains("details"));
  }
}

}  // namespace
}  // namespace tollgate::providers
