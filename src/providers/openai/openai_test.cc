#include <boost/json.hpp>
#include <string>
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

// The openai-cookbook "How to count tokens with tiktoken" example (section 6); the
// cookbook publishes 124 prompt tokens for gpt-4o (tokenizer_test.cc checks the same).
constexpr char kCookbookMessages[] = R"([
  {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
  {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
  {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
  {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
  {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
  {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
])";

constexpr char kWeatherTool[] = R"([{"type": "function", "function": {
  "name": "get_current_weather",
  "description": "Get the current weather in a given location",
  "parameters": {"type": "object", "properties": {
    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
    "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}
  }, "required": ["location"]}}}])";

json::object ChatBody(std::string_view model, std::string_view extra = "") {
  return Object(std::string("{\"model\":\"") + std::string(model) +
                "\",\"messages\":" + kCookbookMessages + std::string(extra) + "}");
}

ParsedCall Parse(WireFormat format, const json::object& body) {
  absl::StatusOr<ParsedCall> call = ParseRequest(format, body);
  EXPECT_TRUE(call.ok()) << call.status() << " for " << json::serialize(body);
  return call.ok() ? *call : ParsedCall{};
}

// --- Chat Completions: ParseRequest ---

TEST(OpenAiChatParseTest, CountsTheCookbookExampleAsPublished) {
  ParsedCall call = Parse(WireFormat::kOpenAiChat, ChatBody("gpt-4o"));
  EXPECT_EQ(call.model, "gpt-4o");
  EXPECT_EQ(call.input_tokens, 124);
  EXPECT_EQ(call.encoding, "o200k_base");
  EXPECT_FALSE(call.estimated);
  EXPECT_FALSE(call.stream);
  EXPECT_FALSE(call.max_output_tokens.has_value());
  EXPECT_EQ(call.choices, 1);
}

TEST(OpenAiChatParseTest, CountEqualsCountChatWithTools) {
  for (std::string_view model : {"gpt-4o", "gpt-4", "gpt-3.5-turbo-0301", "o3-mini"}) {
    json::object body = ChatBody(model, std::string(",\"tools\":") + kWeatherTool);
    ParsedCall call = Parse(WireFormat::kOpenAiChat, body);
    absl::StatusOr<tokenizer::ChatRequest> chat =
        tokenizer::ParseChatRequest(json::serialize(body));
    ASSERT_TRUE(chat.ok()) << chat.status();
    absl::StatusOr<tokenizer::TokenCount> want = tokenizer::CountChat(model, *chat);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(call.input_tokens, want->tokens) << model;
    EXPECT_EQ(call.encoding, want->encoding) << model;
  }
}

TEST(OpenAiChatParseTest, NonFunctionToolsAreNotCounted) {
  ParsedCall plain = Parse(WireFormat::kOpenAiChat, ChatBody("gpt-4o"));
  ParsedCall custom =
      Parse(WireFormat::kOpenAiChat,
            ChatBody("gpt-4o", R"(,"tools":[{"type":"custom","custom":{"name":"grammar_tool"}}])"));
  EXPECT_EQ(custom.input_tokens, plain.input_tokens);
}

TEST(OpenAiChatParseTest, ReadsStreamMaxTokensChoicesAndTemperature) {
  ParsedCall call =
      Parse(WireFormat::kOpenAiChat,
            ChatBody("gpt-4o-mini", R"(,"stream":true,"stream_options":{"include_usage":true},
                "max_tokens":50,"max_completion_tokens":300,"n":3,"temperature":0.2)"));
  EXPECT_TRUE(call.stream);
  EXPECT_TRUE(call.client_wants_usage);
  EXPECT_EQ(call.max_output_tokens, 300);  // max_completion_tokens wins
  EXPECT_EQ(call.choices, 3);
  EXPECT_TRUE(call.has_temperature);

  call =
      Parse(WireFormat::kOpenAiChat, ChatBody("gpt-4o", R"(,"max_tokens":64,"temperature":null)"));
  EXPECT_EQ(call.max_output_tokens, 64);
  EXPECT_FALSE(call.has_temperature);
  EXPECT_FALSE(call.client_wants_usage);
}

TEST(OpenAiChatParseTest, IncludeUsageCountsOnlyForStreams) {
  ParsedCall call =
      Parse(WireFormat::kOpenAiChat,
            ChatBody("gpt-4o", R"(,"stream":false,"stream_options":{"include_usage":true})"));
  EXPECT_FALSE(call.client_wants_usage);
  call = Parse(WireFormat::kOpenAiChat,
               ChatBody("gpt-4o", R"(,"stream":true,"stream_options":{"include_usage":false})"));
  EXPECT_FALSE(call.client_wants_usage);
}

TEST(OpenAiChatParseTest, UnknownModelIsEstimatedFromBytes) {
  ParsedCall call =
      Parse(WireFormat::kOpenAiChat,
            Object(R"({"model":"llama-3-70b","messages":[{"role":"user","content":"abcdefgh"}]})"));
  EXPECT_TRUE(call.estimated);
  EXPECT_EQ(call.encoding, "estimate");
  // ceil(("user" + "abcdefgh") / 4) + 3 per message + 3 for the reply.
  EXPECT_EQ(call.input_tokens, 3 + 3 + 3);
}

TEST(OpenAiChatParseTest, IntegralFloatMaxTokensIsAccepted) {
  ParsedCall call = Parse(WireFormat::kOpenAiChat, ChatBody("gpt-4o", R"(,"max_tokens":100.0)"));
  EXPECT_EQ(call.max_output_tokens, 100);
}

// --- Responses and Embeddings: ParseRequest ---

TEST(OpenAiResponsesParseTest, CountsInstructionsInputItemsAndFunctionTools) {
  ParsedCall call = Parse(WireFormat::kOpenAiResponses, Object(R"({
    "model": "gpt-4.1", "instructions": "Talk like a pirate.",
    "input": [
      {"role": "user", "content": [{"type": "input_text", "text": "What is the weather in Paris?"},
                                   {"type": "input_image", "image_url": "https://example.com/a.png"}]},
      {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
      {"type": "function_call_output", "call_id": "call_1", "output": "18C and sunny"},
      {"type": "reasoning", "id": "rs_1", "summary": []}
    ],
    "tools": [{"type": "function", "name": "get_weather", "description": "Weather of a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
              {"type": "web_search_preview"}],
    "max_output_tokens": 500, "stream": true})"));
  tokenizer::ChatRequest chat;
  chat.messages = {{"system", "Talk like a pirate.", {}},
                   {"user", "What is the weather in Paris?", {}},
                   {"assistant", "get_weather{\"city\":\"Paris\"}", {}},
                   {"tool", "18C and sunny", {}}};
  chat.tools = {{"get_weather", "Weather of a city", {{"city", "string", "", {}}}}};
  EXPECT_EQ(call.input_tokens, tokenizer::CountChat("gpt-4.1", chat)->tokens);
  EXPECT_EQ(call.encoding, "o200k_base");
  EXPECT_EQ(call.max_output_tokens, 500);
  EXPECT_TRUE(call.stream);
  EXPECT_FALSE(call.client_wants_usage);
}

TEST(OpenAiResponsesParseTest, StringInputIsOneUserMessage) {
  ParsedCall call =
      Parse(WireFormat::kOpenAiResponses,
            Object(R"({"model":"gpt-4o","input":"Tell me a three sentence story."})"));
  tokenizer::ChatRequest chat;
  chat.messages = {{"user", "Tell me a three sentence story.", {}}};
  EXPECT_EQ(call.input_tokens, tokenizer::CountChat("gpt-4o", chat)->tokens);
}

TEST(OpenAiEmbeddingsParseTest, CountsStringsAndTokenIdArrays) {
  ParsedCall call =
      Parse(WireFormat::kOpenAiEmbeddings, Object(R"({"model":"text-embedding-3-small",
                                     "input":["The food was delicious", [1, 2, 3], 42]})"));
  int64_t text = tokenizer::CountText("text-embedding-3-small", "The food was delicious")->tokens;
  EXPECT_EQ(call.input_tokens, text + 3 + 1);
  EXPECT_EQ(call.max_output_tokens, 0);
  EXPECT_FALSE(call.stream);
  EXPECT_FALSE(call.estimated);
  EXPECT_EQ(call.encoding, "cl100k_base");

  call = Parse(WireFormat::kOpenAiEmbeddings,
               Object(R"({"model":"text-embedding-3-small","input":"hello world"})"));
  EXPECT_EQ(call.input_tokens, 2);
}

// --- Bad input ---

struct BadCase {
  WireFormat format;
  std::string_view body;
  std::string_view field;  // must appear in the message
};

class OpenAiBadRequestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(OpenAiBadRequestTest, IsInvalidArgumentNamingTheField) {
  const BadCase& c = GetParam();
  absl::StatusOr<ParsedCall> call = ParseRequest(c.format, Object(c.body));
  ASSERT_FALSE(call.ok()) << c.body;
  EXPECT_EQ(call.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(call.status().message(), HasSubstr(c.field)) << c.body;
}

constexpr WireFormat kChat = WireFormat::kOpenAiChat;
constexpr WireFormat kResponses = WireFormat::kOpenAiResponses;
constexpr WireFormat kEmbeddings = WireFormat::kOpenAiEmbeddings;

INSTANTIATE_TEST_SUITE_P(
    Table, OpenAiBadRequestTest,
    ::testing::Values(
        BadCase{kChat, R"({"messages":[]})", "model"},
        BadCase{kChat, R"({"model":5,"messages":[]})", "model"},
        BadCase{kChat, R"({"model":"","messages":[]})", "model"},
        BadCase{kChat, R"({"model":{"name":"gpt-4o"},"messages":[]})", "model"},
        BadCase{kChat, R"({"model":"gpt-4o"})", "messages"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":{}})", "messages"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":"hi"})", "messages"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"stream":"yes"})", "stream"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"stream":1})", "stream"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"max_tokens":-1})", "max_tokens"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"max_tokens":9223372036854775808})",
                "max_tokens"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"max_tokens":18446744073709551616})",
                "max_tokens"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"max_tokens":"100"})", "max_tokens"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"max_completion_tokens":1.5})",
                "max_completion_tokens"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"max_completion_tokens":1e300})",
                "max_completion_tokens"},
        BadCase{kChat,
                R"({"model":"gpt-4o","messages":[],"max_completion_tokens":10,"max_tokens":-3})",
                "max_tokens"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"temperature":"hot"})", "temperature"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"n":0})", "n"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"stream_options":3})", "stream_options"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"stream_options":{"include_usage":"y"}})",
                "stream_options.include_usage"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]})",
                "messages[0]"},
        BadCase{kChat,
                R"({"model":"gpt-4o","messages":[{"role":"user","content":"a"},{"role":7}]})",
                "messages[1].role"},
        BadCase{kChat,
                R"({"model":"gpt-4o","messages":[{"role":"user","content":{"a":[1,{"b":null}]}}]})",
                "messages[0].content"},
        BadCase{kChat, R"({"model":"gpt-4o","messages":[],"tools":"all"})", "tools"},
        BadCase{kResponses, R"({"input":"hi"})", "model"},
        BadCase{kResponses, R"({"model":"gpt-4o","input":5})", "input"},
        BadCase{kResponses, R"({"model":"gpt-4o","input":[1]})", "input[0]"},
        BadCase{kResponses, R"({"model":"gpt-4o","input":[{"role":"user","content":5}]})",
                "input[0].content"},
        BadCase{kResponses, R"({"model":"gpt-4o","input":[{"type":"message","content":"x"}]})",
                "input[0].role"},
        BadCase{kResponses, R"({"model":"gpt-4o","input":"x","instructions":["a"]})",
                "instructions"},
        BadCase{kResponses, R"({"model":"gpt-4o","input":"x","max_output_tokens":-5})",
                "max_output_tokens"},
        BadCase{kResponses, R"({"model":"gpt-4o","input":"x","tools":{}})", "tools"},
        BadCase{kEmbeddings, R"({"input":"x"})", "model"},
        BadCase{kEmbeddings, R"({"model":"text-embedding-3-small"})", "input"},
        BadCase{kEmbeddings, R"({"model":"text-embedding-3-small","input":{"a":1}})", "input"},
        BadCase{kEmbeddings, R"({"model":"text-embedding-3-small","input":[1.5]})", "input[0]"},
        BadCase{kEmbeddings, R"({"model":"text-embedding-3-small","input":["a",[1,"b"]]})",
                "input[1]"}));

TEST(OpenAiChatParseTest, OverlongModelIsRefused) {
  json::object body = ChatBody("gpt-4o");
  body["model"] = std::string(kMaxModelBytes + 1, 'g');
  absl::StatusOr<ParsedCall> call = ParseRequest(WireFormat::kOpenAiChat, body);
  ASSERT_FALSE(call.ok());
  EXPECT_THAT(call.status().message(), HasSubstr("model"));
}

// --- ApplyRewrite ---

TEST(OpenAiChatRewriteTest, ReplacesModelAndClampsMaxCompletionTokensByDefault) {
  json::object body = ChatBody("gpt-4o");
  ApplyRewrite(kChat, body, Rewrite{.model = "gpt-4o-mini", .max_output_tokens = 2048});
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["max_completion_tokens"], 2048);
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_FALSE(body.contains("temperature"));
  EXPECT_FALSE(body.contains("stream_options"));
}

TEST(OpenAiChatRewriteTest, ClampsTheFieldTheClientUsed) {
  json::object legacy = ChatBody("gpt-4o", R"(,"max_tokens":4000)");
  ApplyRewrite(kChat, legacy, Rewrite{.max_output_tokens = 2048});
  EXPECT_EQ(legacy["max_tokens"], 2048);
  EXPECT_FALSE(legacy.contains("max_completion_tokens"));

  json::object both = ChatBody("gpt-4o", R"(,"max_tokens":4000,"max_completion_tokens":3000)");
  ApplyRewrite(kChat, both, Rewrite{.max_output_tokens = 2048});
  EXPECT_EQ(both["max_tokens"], 2048);
  EXPECT_EQ(both["max_completion_tokens"], 2048);
  EXPECT_EQ(Parse(kChat, both).max_output_tokens, 2048);
}

TEST(OpenAiChatRewriteTest, FillsTemperatureOnlyWhenAbsent) {
  json::object absent = ChatBody("gpt-4o");
  ApplyRewrite(kChat, absent, Rewrite{.temperature = 0.7});
  EXPECT_EQ(absent["temperature"], 0.7);

  json::object null = ChatBody("gpt-4o", R"(,"temperature":null)");
  ApplyRewrite(kChat, null, Rewrite{.temperature = 0.7});
  EXPECT_EQ(null["temperature"], 0.7);

  json::object present = ChatBody("gpt-4o", R"(,"temperature":0.2)");
  ApplyRewrite(kChat, present, Rewrite{.temperature = 0.7});
  EXPECT_EQ(present["temperature"], 0.2);
  json::object zero = ChatBody("gpt-4o", R"(,"temperature":0)");
  ApplyRewrite(kChat, zero, Rewrite{.temperature = 0.7});
  EXPECT_EQ(zero["temperature"], 0);
}

TEST(OpenAiChatRewriteTest, ForcesIncludeUsageKeepingOtherStreamOptions) {
  json::object body =
      ChatBody("gpt-4o", R"(,"stream":true,"stream_options":{"include_obfuscation":false})");
  ApplyRewrite(kChat, body, Rewrite{.force_include_usage = true});
  EXPECT_EQ(body["stream_options"], Json(R"({"include_obfuscation":false,"include_usage":true})"));

  json::object fresh = ChatBody("gpt-4o", R"(,"stream":true)");
  ApplyRewrite(kChat, fresh, Rewrite{.force_include_usage = true});
  EXPECT_EQ(fresh["stream_options"], Json(R"({"include_usage":true})"));
  // The client's own answer is still "did not ask".
  EXPECT_FALSE(Parse(kChat, ChatBody("gpt-4o", R"(,"stream":true)")).client_wants_usage);
}

TEST(OpenAiChatRewriteTest, NoStreamOptionsOnANonStreamingCall) {
  json::object body = ChatBody("gpt-4o");
  ApplyRewrite(kChat, body, Rewrite{.force_include_usage = true});
  EXPECT_FALSE(body.contains("stream_options"));
}

TEST(OpenAiResponsesRewriteTest, SetsMaxOutputTokensModelAndTemperature) {
  json::object body = Object(R"({"model":"gpt-4.1","input":"hi","max_output_tokens":9000})");
  ApplyRewrite(kResponses, body,
               Rewrite{.model = "gpt-4.1-mini", .max_output_tokens = 1000, .temperature = 0.5});
  EXPECT_EQ(body, Object(R"({"model":"gpt-4.1-mini","input":"hi","max_output_tokens":1000,
                             "temperature":0.5})"));
}

TEST(OpenAiEmbeddingsRewriteTest, OnlyTheModelChanges) {
  json::object body = Object(R"({"model":"text-embedding-3-large","input":"hi"})");
  ApplyRewrite(kEmbeddings, body,
               Rewrite{.model = "text-embedding-3-small",
                       .max_output_tokens = 10,
                       .temperature = 0.5,
                       .force_include_usage = true});
  EXPECT_EQ(body, Object(R"({"model":"text-embedding-3-small","input":"hi"})"));
}

// --- Responses from OpenAI ---

constexpr char kChatCompletion[] = R"({
  "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": "chat.completion",
  "created": 1741570283, "model": "gpt-4o-2024-08-06",
  "choices": [{"index": 0, "message": {"role": "assistant",
    "content": "The image shows a wooden boardwalk extending through a lush green marshland.",
    "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
  "service_tier": "default", "system_fingerprint": "fp_fc9f1d7035"})";

constexpr char kResponse[] = R"({
  "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", "object": "response",
  "created_at": 1741476542, "status": "completed", "error": null, "incomplete_details": null,
  "instructions": null, "max_output_tokens": null, "model": "o4-mini-2025-04-16",
  "output": [
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking about unicorns."}]},
    {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
     "content": [{"type": "output_text", "text": "In a peaceful grove beneath a silver moon...", "annotations": []}]}],
  "parallel_tool_calls": true, "store": true, "temperature": 1.0, "tool_choice": "auto",
  "tools": [], "top_p": 1.0, "truncation": "disabled",
  "usage": {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 87, "output_tokens_details": {"reasoning_tokens": 64},
            "total_tokens": 123},
  "user": null, "metadata": {}})";

TEST(OpenAiUsageTest, ChatCompletion) {
  absl::StatusOr<Usage> u = UsageFromResponse(kChat, kChatCompletion);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(*u, (Usage{1117, 46, 1024, 0, 0, 1163}));
}

TEST(OpenAiUsageTest, Responses) {
  absl::StatusOr<Usage> u = UsageFromResponse(kResponses, kResponse);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(*u, (Usage{36, 87, 0, 0, 64, 123}));
}

TEST(OpenAiUsageTest, Embeddings) {
  absl::StatusOr<Usage> u = UsageFromResponse(kEmbeddings, R"({"object": "list",
    "data": [{"object": "embedding", "embedding": [0.0023064255, -0.009327292], "index": 0}],
    "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(*u, (Usage{8, 0, 0, 0, 0, 8}));
}

TEST(OpenAiUsageTest, MissingUsageIsNotFoundAndMalformedIsInvalid) {
  EXPECT_TRUE(
      absl::IsNotFound(UsageFromResponse(kChat, R"({"choices":[],"usage":null})").status()));
  EXPECT_TRUE(absl::IsNotFound(UsageFromResponse(kChat, R"({"choices":[]})").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      UsageFromResponse(kChat, R"({"usage":{"prompt_tokens":-1}})").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(UsageFromResponse(kChat, "[1,2]").status()));
}

TEST(OpenAiOutputTextTest, ChatContentAndToolCalls) {
  EXPECT_EQ(OutputText(kChat, Json(kChatCompletion)),
            "The image shows a wooden boardwalk extending through a lush green marshland.");
  EXPECT_EQ(OutputText(kChat, Json(R"({"choices":[{"message":{"role":"assistant","content":null,
    "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather",
    "arguments":"{\"city\":\"Paris\"}"}}]}}]})")),
            "get_weather{\"city\":\"Paris\"}");
  EXPECT_EQ(OutputText(kChat, Json(R"({"choices":"nope"})")), "");
}

TEST(OpenAiOutputTextTest, ResponsesTextAndReasoningSummary) {
  EXPECT_EQ(OutputText(kResponses, Json(kResponse)),
            "Thinking about unicorns.In a peaceful grove beneath a silver moon...");
  EXPECT_EQ(OutputText(kEmbeddings, Json(kResponse)), "");
}

// --- Errors ---

TEST(OpenAiErrorBodyTest, HasTheSdkShape) {
  json::value quota = Json(ErrorBody(kChat, 403, "usage_limit_exceeded", "daily quota used"));
  EXPECT_EQ(quota, Json(R"({"error":{"message":"daily quota used","type":"insufficient_quota",
                                     "param":null,"code":"usage_limit_exceeded"}})"));
  json::value rate = Json(ErrorBody(kResponses, 429, "rate_limited", "slow down"));
  EXPECT_EQ(rate.at("error").at("type"), "rate_limit_error");
  json::value bad = Json(ErrorBody(kEmbeddings, 400, "", "input: required"));
  EXPECT_EQ(bad.at("error").at("type"), "invalid_request_error");
  EXPECT_TRUE(bad.at("error").at("code").is_null());
}

}  // namespace
}  // namespace tollgate::providers
