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

constexpr WireFormat kMessages = WireFormat::kAnthropicMessages;

constexpr char kRequest[] = R"({
  "model": "claude-sonnet-4-20250514", "max_tokens": 1024, "stream": true,
  "system": [{"type": "text", "text": "You are a weather bot.", "cache_control": {"type": "ephemeral"}}],
  "messages": [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": [
      {"type": "text", "text": "Let me check."},
      {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C and sunny"},
      {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}
  ],
  "tools": [{"name": "get_weather", "description": "Weather of a city",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]})";

TEST(AnthropicParseTest, CountsSystemMessagesAndToolsAsAnEstimate) {
  absl::StatusOr<ParsedCall> call = ParseRequest(kMessages, Object(kRequest));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->model, "claude-sonnet-4-20250514");
  EXPECT_TRUE(call->stream);
  EXPECT_EQ(call->max_output_tokens, 1024);
  EXPECT_FALSE(call->has_temperature);
  EXPECT_FALSE(call->client_wants_usage);
  tokenizer::ChatRequest chat;
  chat.messages = {{"system", "You are a weather bot.", {}},
                   {"user", "What is the weather in Paris?", {}},
                   {"assistant", "Let me check.get_weather{\"city\":\"Paris\"}", {}},
                   {"user", "18C and sunny", {}}};
  chat.tools = {{"get_weather", "Weather of a city", {{"city", "string", "", {}}}}};
  EXPECT_EQ(call->input_tokens, tokenizer::CountChat("claude-sonnet-4-20250514", chat)->tokens);
  EXPECT_EQ(call->encoding, "anthropic-estimate");
  EXPECT_TRUE(call->estimated);
}

TEST(AnthropicParseTest, StringSystemAndTemperature) {
  absl::StatusOr<ParsedCall> call = ParseRequest(kMessages, Object(R"({
    "model": "claude-3-5-haiku-latest", "max_tokens": 10, "temperature": 0.3,
    "system": "Be brief.", "messages": [{"role": "user", "content": "Hello"}]})"));
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_TRUE(call->has_temperature);
  EXPECT_FALSE(call->stream);
  EXPECT_GT(call->input_tokens, 0);
}

struct BadCase {
  std::string_view body;
  std::string_view field;
};

class AnthropicBadRequestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(AnthropicBadRequestTest, IsInvalidArgumentNamingTheField) {
  absl::StatusOr<ParsedCall> call = ParseRequest(kMessages, Object(GetParam().body));
  ASSERT_FALSE(call.ok()) << GetParam().body;
  EXPECT_EQ(call.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(call.status().message(), HasSubstr(GetParam().field)) << GetParam().body;
}

INSTANTIATE_TEST_SUITE_P(
    Table, AnthropicBadRequestTest,
    ::testing::Values(
        BadCase{R"({"max_tokens":1,"messages":[]})", "model"},
        BadCase{R"({"model":null,"max_tokens":1,"messages":[]})", "model"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","messages":[]})", "max_tokens"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":-1,"messages":[]})",
                "max_tokens"},
        BadCase{
            R"({"model":"claude-3-5-haiku-latest","max_tokens":9223372036854775808,"messages":[]})",
            "max_tokens"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":[1],"messages":[]})",
                "max_tokens"},
        BadCase{
            R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[],"stream":"true"})",
            "stream"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":1})", "messages"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":{"role":"user"}})",
                "messages"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":["hi"]})",
                "messages[0]"},
        BadCase{
            R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[{"content":"hi"}]})",
            "messages[0].role"},
        BadCase{
            R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[{"role":"user"}]})",
            "messages[0].content"},
        BadCase{
            R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[{"role":"user","content":5}]})",
            "messages[0].content"},
        BadCase{
            R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[{"role":"user","content":[[{"a":[[]]}]]}]})",
            "messages[0].content[0]"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[],"system":5})",
                "system"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[],"system":[1]})",
                "system[0]"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[],"tools":{}})",
                "tools"},
        BadCase{R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[],"tools":[3]})",
                "tools[0]"},
        BadCase{
            R"({"model":"claude-3-5-haiku-latest","max_tokens":1,"messages":[],"temperature":"x"})",
            "temperature"}));

TEST(AnthropicRewriteTest, ReplacesModelClampsMaxTokensFillsTemperature) {
  json::object body = Object(kRequest);
  ApplyRewrite(kMessages, body,
               Rewrite{.model = "claude-3-5-haiku-latest",
                       .max_output_tokens = 512,
                       .temperature = 0.7,
                       .force_include_usage = true});
  EXPECT_EQ(body["model"], "claude-3-5-haiku-latest");
  EXPECT_EQ(body["max_tokens"], 512);
  EXPECT_EQ(body["temperature"], 0.7);
  EXPECT_FALSE(body.contains("stream_options"));

  json::object warm = Object(
      R"({"model":"claude-3-5-haiku-latest","max_tokens":10,"temperature":1.0,"messages":[]})");
  ApplyRewrite(kMessages, warm, Rewrite{.temperature = 0.2});
  EXPECT_EQ(warm["temperature"], 1.0);
  EXPECT_EQ(warm["model"], "claude-3-5-haiku-latest");
  EXPECT_EQ(warm["max_tokens"], 10);
}

constexpr char kResponse[] = R"({
  "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant",
  "model": "claude-sonnet-4-20250514",
  "content": [{"type": "thinking", "thinking": "Simple greeting.", "signature": "EqQB"},
              {"type": "text", "text": "Hi! My name is Claude."}],
  "stop_reason": "end_turn", "stop_sequence": null,
  "usage": {"input_tokens": 2095, "output_tokens": 503, "cache_creation_input_tokens": 2051,
            "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 2051, "ephemeral_1h_input_tokens": 0},
            "service_tier": "standard"}})";

TEST(AnthropicUsageTest, InputIncludesCacheWrites) {
  absl::StatusOr<Usage> u = UsageFromResponse(kMessages, kResponse);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(*u, (Usage{2095 + 2051, 503, 0, 2051, 0, 2095 + 2051 + 503}));
}

TEST(AnthropicUsageTest, CacheReads) {
  absl::StatusOr<Usage> u = UsageFromResponse(kMessages, R"({"type":"message","content":[],
    "usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,
             "output_tokens":30}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(*u, (Usage{2060, 30, 2048, 0, 0, 2090}));
  EXPECT_TRUE(absl::IsNotFound(
      UsageFromResponse(kMessages, R"({"type":"message","content":[]})").status()));
}

TEST(AnthropicOutputTextTest, ThinkingTextAndToolUse) {
  EXPECT_EQ(OutputText(kMessages, Json(kResponse)), "Simple greeting.Hi! My name is Claude.");
  EXPECT_EQ(OutputText(kMessages, Json(R"({"content":[{"type":"tool_use","id":"t","name":"f",
                                           "input":{"a":1}}, 7, "x"]})")),
            "f{\"a\":1}");
}

TEST(AnthropicErrorBodyTest, TypeFollowsTheStatus) {
  EXPECT_EQ(
      Json(ErrorBody(kMessages, 429, "rate_limited", "Too many tokens")),
      Json(R"({"type":"error","error":{"type":"rate_limit_error","message":"Too many tokens"}})"));
  for (auto [status, type] : {std::pair{400u, "invalid_request_error"},
                              {401u, "authentication_error"},
                              {403u, "permission_error"},
                              {404u, "not_found_error"},
                              {413u, "request_too_large"},
                              {500u, "api_error"},
                              {504u, "timeout_error"},
                              {529u, "overloaded_error"},
                              {418u, "invalid_request_error"}}) {
    json::value body = Json(ErrorBody(kMessages, status, "x", "m"));
    EXPECT_EQ(body.at("error").at("type"), type) << status;
    EXPECT_EQ(body.at("type"), "error");
  }
}

}  // namespace
}  // namespace tollgate::providers
