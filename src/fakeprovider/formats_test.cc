#include "fakeprovider/formats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"

namespace tollgate::fakeprovider {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::StartsWith;

Reply MakeTestReply(int64_t input, int64_t output, Directives d = {}) {
  RequestInfo info;
  info.model = "test-model";
  d.input = input;
  d.output = output;
  return MakeReply(info, d, {}, "id42", 1700000000);
}

json::value Parse(std::string_view text) { return json::parse(text); }

// One SSE event: its name (or "") and its data payload.
struct Sse {
  std::string event;
  std::string data;
};

Sse ParseSse(std::string_view raw, std::string_view terminator = "\n\n") {
  EXPECT_TRUE(raw.ends_with(terminator)) << raw;
  Sse e;
  std::string_view body = raw.substr(0, raw.size() - terminator.size());
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t end = body.find('\n', pos);
    std::string_view line = body.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (line.starts_with("event: ")) e.event = std::string(line.substr(7));
    if (line.starts_with("data: ")) e.data = std::string(line.substr(6));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return e;
}

const json::value& At(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (std::string_view key : path) cur = &cur->as_object().at(key);
  return *cur;
}

TEST(ErrorBodyTest, FollowsEachProvidersShape) {
  json::value openai = Parse(ErrorBody(Provider::kOpenAi, 401, "bad key"));
  EXPECT_EQ(At(openai, {"error", "message"}), "bad key");
  EXPECT_EQ(At(openai, {"error", "type"}), "authentication_error");
  EXPECT_EQ(At(openai, {"error", "code"}), "invalid_api_key");
  EXPECT_TRUE(At(openai, {"error", "param"}).is_null());
  EXPECT_EQ(At(Parse(ErrorBody(Provider::kOpenAi, 429, "m")), {"error", "code"}),
            "rate_limit_exceeded");
  EXPECT_EQ(At(Parse(ErrorBody(Provider::kOpenAi, 500, "m")), {"error", "type"}), "server_error");

  json::value anthropic = Parse(ErrorBody(Provider::kAnthropic, 401, "bad key"));
  EXPECT_EQ(At(anthropic, {"type"}), "error");
  EXPECT_EQ(At(anthropic, {"error", "type"}), "authentication_error");
  EXPECT_EQ(At(anthropic, {"error", "message"}), "bad key");
  EXPECT_EQ(At(Parse(ErrorBody(Provider::kAnthropic, 529, "m")), {"error", "type"}),
            "overloaded_error");

  json::value gemini = Parse(ErrorBody(Provider::kGemini, 429, "slow down"));
  EXPECT_EQ(At(gemini, {"error", "code"}), 429);
  EXPECT_EQ(At(gemini, {"error", "status"}), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(At(gemini, {"error", "message"}), "slow down");
}

TEST(ChatCompletionTest, CarriesTextAndUsage) {
  Directives d;
  d.cached = 4;
  d.reasoning = 2;
  json::value v = Parse(ChatCompletion(MakeTestReply(10, 7, d)));
  EXPECT_EQ(At(v, {"object"}), "chat.completion");
  EXPECT_EQ(At(v, {"id"}), "chatcmpl-id42");
  EXPECT_EQ(At(v, {"model"}), "test-model");
  const json::value& choice = v.at("choices").at(0);
  EXPECT_EQ(At(choice, {"message", "content"}), "lorem ipsum dolor sit amet");
  EXPECT_EQ(At(choice, {"message", "role"}), "assistant");
  EXPECT_EQ(At(choice, {"finish_reason"}), "stop");
  EXPECT_EQ(At(v, {"usage", "prompt_tokens"}), 10);
  EXPECT_EQ(At(v, {"usage", "completion_tokens"}), 7);
  EXPECT_EQ(At(v, {"usage", "total_tokens"}), 17);
  EXPECT_EQ(At(v, {"usage", "prompt_tokens_details", "cached_tokens"}), 4);
  EXPECT_EQ(At(v, {"usage", "completion_tokens_details", "reasoning_tokens"}), 2);
}

TEST(ChatCompletionTest, EscapesTheEchoedModel) {
  RequestInfo info;
  info.model = "m\"odel\\\n\x01é";
  json::value v = Parse(ChatCompletion(MakeReply(info, {}, {}, "x", 0)));
  EXPECT_EQ(v.at("model").as_string(), info.model);
  StreamBody s = ChatCompletionStream(MakeReply(info, {}, {}, "x", 0), true);
  EXPECT_EQ(Parse(ParseSse(s.events[0]).data).at("model").as_string(), info.model);
}

TEST(ChatCompletionTest, NoUsageOmitsTheField) {
  Directives d;
  d.no_usage = true;
  EXPECT_FALSE(Parse(ChatCompletion(MakeTestReply(1, 1, d))).as_object().contains("usage"));
}

std::string ChatStreamText(const StreamBody& s) {
  std::string text;
  for (const std::string& e : s.events) {
    Sse sse = ParseSse(e);
    if (sse.data == "[DONE]") continue;
    json::value v = Parse(sse.data);
    for (const json::value& c : v.at("choices").as_array()) {
      if (const json::value* content = c.at("delta").as_object().if_contains("content")) {
        text += content->as_string();
      }
    }
  }
  return text;
}

TEST(ChatCompletionStreamTest, WithoutIncludeUsageHasNoUsage) {
  StreamBody s = ChatCompletionStream(MakeTestReply(10, 9), /*include_usage=*/false);
  // role chunk, 3 text chunks, finish chunk, [DONE]
  ASSERT_EQ(s.events.size(), 6u);
  EXPECT_EQ(s.first_text, 1u);
  EXPECT_EQ(s.text_events, 3u);
  EXPECT_EQ(s.events.back(), "data: [DONE]\n\n");
  for (size_t i = 0; i + 1 < s.events.size(); ++i) {
    EXPECT_FALSE(Parse(ParseSse(s.events[i]).data).as_object().contains("usage")) << i;
  }
  json::value first = Parse(ParseSse(s.events[0]).data);
  EXPECT_EQ(At(first, {"object"}), "chat.completion.chunk");
  EXPECT_EQ(At(first.at("choices").at(0), {"delta", "role"}), "assistant");
  json::value finish = Parse(ParseSse(s.events[4]).data);
  EXPECT_EQ(At(finish.at("choices").at(0), {"finish_reason"}), "stop");
  EXPECT_EQ(ChatStreamText(s), ReplyText(9));
}

TEST(ChatCompletionStreamTest, IncludeUsageAddsAFinalUsageChunk) {
  StreamBody s = ChatCompletionStream(MakeTestReply(10, 9), /*include_usage=*/true);
  ASSERT_EQ(s.events.size(), 7u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(Parse(ParseSse(s.events[i]).data).at("usage").is_null()) << i;
  }
  json::value usage_chunk = Parse(ParseSse(s.events[5]).data);
  EXPECT_TRUE(usage_chunk.at("choices").as_array().empty());
  EXPECT_EQ(At(usage_chunk, {"usage", "prompt_tokens"}), 10);
  EXPECT_EQ(At(usage_chunk, {"usage", "completion_tokens"}), 9);
  EXPECT_EQ(s.events.back(), "data: [DONE]\n\n");
}

TEST(ChatCompletionStreamTest, StallIndexCountsTextChunks) {
  StreamBody s = ChatCompletionStream(MakeTestReply(10, 9), false);
  EXPECT_EQ(s.StallIndex(0), 1u);  // after the role chunk
  EXPECT_EQ(s.StallIndex(2), 3u);
  EXPECT_EQ(s.StallIndex(100), 4u);  // every text chunk, not the finish
}

TEST(ResponsesTest, BodyHasOutputTextAndUsage) {
  Directives d;
  d.cached = 3;
  d.reasoning = 1;
  json::value v = Parse(ResponsesBody(MakeTestReply(10, 5, d)));
  EXPECT_EQ(At(v, {"object"}), "response");
  EXPECT_EQ(At(v, {"status"}), "completed");
  const json::value& part = v.at("output").at(0).at("content").at(0);
  EXPECT_EQ(At(part, {"type"}), "output_text");
  EXPECT_EQ(At(part, {"text"}), "lorem ipsum dolor sit");
  EXPECT_EQ(At(v, {"usage", "input_tokens"}), 10);
  EXPECT_EQ(At(v, {"usage", "output_tokens"}), 5);
  EXPECT_EQ(At(v, {"usage", "total_tokens"}), 15);
  EXPECT_EQ(At(v, {"usage", "input_tokens_details", "cached_tokens"}), 3);
  EXPECT_EQ(At(v, {"usage", "output_tokens_details", "reasoning_tokens"}), 1);
}

TEST(ResponsesTest, StreamEventsAreNamedAndNumbered) {
  StreamBody s = ResponsesStream(MakeTestReply(10, 6));
  std::vector<std::string> names;
  std::string text;
  for (size_t i = 0; i < s.events.size(); ++i) {
    Sse e = ParseSse(s.events[i]);
    json::value v = Parse(e.data);
    EXPECT_EQ(At(v, {"type"}).as_string(), e.event);
    EXPECT_EQ(At(v, {"sequence_number"}), static_cast<int64_t>(i));
    names.push_back(e.event);
    if (e.event == "response.output_text.delta") text += At(v, {"delta"}).as_string();
    if (e.event == "response.created") {
      EXPECT_TRUE(At(v, {"response", "usage"}).is_null());
    }
    if (e.event == "response.completed") {
      EXPECT_EQ(At(v, {"response", "usage", "output_tokens"}), 6);
      EXPECT_EQ(At(v, {"response", "status"}), "completed");
    }
  }
  EXPECT_THAT(names, ElementsAre("response.created", "response.in_progress",
                                 "response.output_item.added", "response.content_part.added",
                                 "response.output_text.delta", "response.output_text.delta",
                                 "response.output_text.done", "response.content_part.done",
                                 "response.output_item.done", "response.completed"));
  EXPECT_EQ(text, ReplyText(6));
  EXPECT_EQ(s.first_text, 4u);
  EXPECT_EQ(s.text_events, 2u);
}

TEST(ResponsesTest, TruncatedStreamEndsIncomplete) {
  RequestInfo info;
  info.model = "m";
  info.max_output_tokens = 2;
  StreamBody s = ResponsesStream(MakeReply(info, {}, {}, "x", 0));
  Sse last = ParseSse(s.events.back());
  EXPECT_EQ(last.event, "response.incomplete");
  EXPECT_EQ(At(Parse(last.data), {"response", "incomplete_details", "reason"}),
            "max_output_tokens");
}

TEST(EmbeddingsTest, FloatAndBase64AgreeAndCountInputs) {
  RequestInfo info;
  info.model = "text-embedding-3-small";
  info.inputs = 2;
  info.dimensions = 3;
  Reply r = MakeTestReply(6, 0);
  json::value floats = Parse(Embeddings(r, info));
  EXPECT_EQ(At(floats, {"object"}), "list");
  ASSERT_EQ(floats.at("data").as_array().size(), 2u);
  const json::array& vec = floats.at("data").at(1).at("embedding").as_array();
  ASSERT_EQ(vec.size(), 3u);
  EXPECT_EQ(At(floats, {"usage", "prompt_tokens"}), 6);
  EXPECT_EQ(At(floats, {"usage", "total_tokens"}), 6);

  info.base64 = true;
  json::value b64 = Parse(Embeddings(r, info));
  std::string bytes;
  ASSERT_TRUE(
      absl::Base64Unescape(std::string(b64.at("data").at(1).at("embedding").as_string()), &bytes));
  ASSERT_EQ(bytes.size(), 3 * sizeof(float));
  for (size_t i = 0; i < 3; ++i) {
    float f;
    std::memcpy(&f, bytes.data() + i * sizeof(float), sizeof f);
    EXPECT_EQ(f, static_cast<float>(vec[i].to_number<double>())) << i;
  }
}

TEST(ModelListTest, ListsTheUsualModels) {
  json::value v = Parse(ModelList());
  EXPECT_EQ(At(v, {"object"}), "list");
  std::vector<std::string> ids;
  for (const json::value& m : v.at("data").as_array()) ids.emplace_back(m.at("id").as_string());
  EXPECT_THAT(ids, ElementsAre("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-3.5-turbo",
                               "text-embedding-3-small", "o3-mini"));
}

TEST(AnthropicTest, MessageInputExcludesCacheCounts) {
  Directives d;
  d.cached = 30;
  d.cache_write = 20;
  json::value v = Parse(AnthropicMessage(MakeTestReply(100, 4, d)));
  EXPECT_EQ(At(v, {"type"}), "message");
  EXPECT_EQ(At(v.at("content").at(0), {"text"}), "lorem ipsum dolor sit");
  EXPECT_EQ(At(v, {"stop_reason"}), "end_turn");
  EXPECT_EQ(At(v, {"usage", "input_tokens"}), 50);
  EXPECT_EQ(At(v, {"usage", "cache_read_input_tokens"}), 30);
  EXPECT_EQ(At(v, {"usage", "cache_creation_input_tokens"}), 20);
  EXPECT_EQ(At(v, {"usage", "output_tokens"}), 4);
}

TEST(AnthropicTest, StreamFollowsTheRealEventOrder) {
  StreamBody s = AnthropicMessageStream(MakeTestReply(12, 5));
  std::vector<std::string> names;
  std::string text;
  for (const std::string& raw : s.events) {
    Sse e = ParseSse(raw);
    json::value v = Parse(e.data);
    EXPECT_EQ(At(v, {"type"}).as_string(), e.event);
    names.push_back(e.event);
    if (e.event == "message_start") {
      EXPECT_EQ(At(v, {"message", "usage", "input_tokens"}), 12);
      EXPECT_EQ(At(v, {"message", "usage", "output_tokens"}), 1);
    }
    if (e.event == "content_block_delta") text += At(v, {"delta", "text"}).as_string();
    if (e.event == "message_delta") {
      EXPECT_EQ(At(v, {"usage", "output_tokens"}), 5);
      EXPECT_EQ(At(v, {"delta", "stop_reason"}), "end_turn");
    }
  }
  EXPECT_THAT(names, ElementsAre("message_start", "content_block_start", "ping",
                                 "content_block_delta", "content_block_delta", "content_block_stop",
                                 "message_delta", "message_stop"));
  EXPECT_EQ(text, ReplyText(5));
  EXPECT_EQ(s.first_text, 3u);
}

TEST(AnthropicTest, NoUsageLeavesItOut) {
  Directives d;
  d.no_usage = true;
  StreamBody s = AnthropicMessageStream(MakeTestReply(12, 5, d));
  for (const std::string& raw : s.events) {
    EXPECT_FALSE(absl::StrContains(raw, "usage")) << raw;
  }
}

TEST(AnthropicTest, CountTokens) {
  EXPECT_EQ(At(Parse(AnthropicCountTokens(MakeTestReply(33, 1))), {"input_tokens"}), 33);
}

TEST(GeminiTest, ResponseHasCandidatesAndUsage) {
  Directives d;
  d.reasoning = 3;
  d.cached = 2;
  json::value v = Parse(GeminiResponse(MakeTestReply(10, 8, d)));
  const json::value& candidate = v.at("candidates").at(0);
  EXPECT_EQ(At(candidate, {"finishReason"}), "STOP");
  EXPECT_EQ(At(candidate.at("content").at("parts").at(0), {"text"}).as_string(), ReplyText(5));
  EXPECT_EQ(At(v, {"usageMetadata", "promptTokenCount"}), 10);
  EXPECT_EQ(At(v, {"usageMetadata", "candidatesTokenCount"}), 5);
  EXPECT_EQ(At(v, {"usageMetadata", "thoughtsTokenCount"}), 3);
  EXPECT_EQ(At(v, {"usageMetadata", "cachedContentTokenCount"}), 2);
  EXPECT_EQ(At(v, {"usageMetadata", "totalTokenCount"}), 18);
  EXPECT_EQ(At(v, {"modelVersion"}), "test-model");
}

TEST(GeminiTest, SseUsageIsCumulative) {
  StreamBody s = GeminiStream(MakeTestReply(10, 9), /*sse=*/true);
  ASSERT_EQ(s.events.size(), 3u);
  std::vector<int64_t> candidates;
  std::string text;
  for (size_t i = 0; i < s.events.size(); ++i) {
    Sse e = ParseSse(s.events[i], "\r\n\r\n");
    json::value v = Parse(e.data);
    EXPECT_EQ(At(v, {"usageMetadata", "promptTokenCount"}), 10);
    candidates.push_back(At(v, {"usageMetadata", "candidatesTokenCount"}).as_int64());
    const json::object& candidate = v.at("candidates").at(0).as_object();
    EXPECT_EQ(candidate.contains("finishReason"), i + 1 == s.events.size());
    text += candidate.at("content").at("parts").at(0).at("text").as_string();
  }
  EXPECT_THAT(candidates, ElementsAre(4, 8, 9));
  EXPECT_EQ(text, ReplyText(9));
}

TEST(GeminiTest, JsonArrayStreamConcatenatesToOneArray) {
  StreamBody s = GeminiStream(MakeTestReply(10, 9), /*sse=*/false);
  ASSERT_EQ(s.events.size(), 4u);
  EXPECT_THAT(s.events[0], StartsWith("[{"));
  EXPECT_THAT(s.events[1], StartsWith("\n,\r\n{"));
  EXPECT_EQ(s.events.back(), "]");
  json::value all = Parse(absl::StrJoin(s.events, ""));
  ASSERT_EQ(all.as_array().size(), 3u);
  EXPECT_EQ(At(all.at(2), {"usageMetadata", "totalTokenCount"}), 19);
}

TEST(GeminiTest, EmptyReplyStillFinishes) {
  StreamBody s = GeminiStream(MakeTestReply(10, 0), /*sse=*/true);
  ASSERT_EQ(s.events.size(), 1u);
  json::value v = Parse(ParseSse(s.events[0], "\r\n\r\n").data);
  EXPECT_EQ(At(v.at("candidates").at(0), {"finishReason"}), "STOP");
}

}  // namespace
}  // namespace tollgate::fakeprovider
