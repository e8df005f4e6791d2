#include "providers/wire.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "providers/test_util.h"

namespace tollgate::providers {
namespace {

namespace json = boost::json;
using testing::Json;
using testing::Object;

struct Format {
  WireFormat format;
  std::string_view valid_body;
  std::vector<std::string_view> keys;  // fields to replace with garbage ("a.b" nests)
};

const std::vector<Format>& Formats() {
  static const std::vector<Format> formats = {
      {WireFormat::kOpenAiChat,
       R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,
           "stream_options":{"include_usage":true},"max_tokens":5,"temperature":1,"n":1,
           "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",
           "properties":{"a":{"type":"string","enum":["x",1]}}}}}]})",
       {"model", "messages", "stream", "stream_options", "stream_options.include_usage",
        "max_tokens", "max_completion_tokens", "temperature", "n", "tools", "functions"}},
      {WireFormat::kOpenAiResponses,
       R"({"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],
           "instructions":"x","max_output_tokens":5,"tools":[{"type":"function","name":"f"}]})",
       {"model", "input", "instructions", "stream", "max_output_tokens", "temperature", "tools"}},
      {WireFormat::kOpenAiEmbeddings,
       R"({"model":"text-embedding-3-small","input":["a",[1,2]]})",
       {"model", "input"}},
      {WireFormat::kAnthropicMessages,
       R"({"model":"claude-3-5-haiku-latest","max_tokens":5,"system":"s",
           "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
           "tools":[{"name":"f","input_schema":{"type":"object"}}]})",
       {"model", "max_tokens", "system", "messages", "stream", "temperature", "tools"}},
      {WireFormat::kGeminiGenerate,
       R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}],
           "systemInstruction":{"parts":[{"text":"s"}]},
           "generationConfig":{"maxOutputTokens":5,"temperature":1,"candidateCount":1},
           "tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"object"}}]}]})",
       {"contents", "systemInstruction", "generationConfig", "generationConfig.maxOutputTokens",
        "generationConfig.temperature", "generationConfig.candidateCount", "tools"}},
  };
  return formats;
}

constexpr std::string_view kGarbage[] = {
    "null",
    "true",
    "-1",
    "0",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "-9223372036854775808",
    "1e308",
    "-0.0",
    "0.5",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "[null]",
    "[1,\"a\",{}]",
    "[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]",
    R"({"a":{"b":{"c":[1,2,{"d":null}]}}})",
    R"([{"role":{},"content":[{"text":5}],"parts":7}])",
};

void Set(json::object& body, std::string_view key, const json::value& v) {
  size_t dot = key.find('.');
  if (dot == std::string_view::npos) {
    body[json::string_view(key.data(), key.size())] = v;
    return;
  }
  json::value& parent = body[json::string_view(key.data(), dot)];
  if (!parent.is_object()) parent = json::object();
  Set(parent.get_object(), key.substr(dot + 1), v);
}

TEST(WireTest, ValidBodiesParse) {
  for (const Format& f : Formats()) {
    absl::StatusOr<ParsedCall> call =
        ParseRequest(f.format, Object(f.valid_body), "gemini-2.0-flash");
    EXPECT_TRUE(call.ok()) << ToString(f.format) << ": " << call.status();
  }
}

// Every field replaced by every kind of garbage: either InvalidArgument or a call that
// survives a rewrite and parses again. Never a crash (run under ASan/UBSan too).
TEST(WireTest, HostileFieldsNeverCrash) {
  for (const Format& f : Formats()) {
    for (std::string_view key : f.keys) {
      for (std::string_view garbage : kGarbage) {
        json::object body = Object(f.valid_body);
        Set(body, key, Json(garbage));
        SCOPED_TRACE(std::string(ToString(f.format)) + " " + std::string(key) + "=" +
                     std::string(garbage));
        absl::StatusOr<ParsedCall> call = ParseRequest(f.format, body, "gemini-2.0-flash", true);
        if (!call.ok()) {
          EXPECT_EQ(call.status().code(), absl::StatusCode::kInvalidArgument);
          EXPECT_FALSE(call.status().message().empty());
          continue;
        }
        EXPECT_GE(call->input_tokens, 0);
        ApplyRewrite(f.format, body,
                     Rewrite{.model = "gpt-4o-mini",
                             .max_output_tokens = 7,
                             .temperature = 0.5,
                             .force_include_usage = true});
        absl::StatusOr<ParsedCall> again = ParseRequest(f.format, body, "gemini-2.0-flash", true);
        EXPECT_TRUE(again.ok()) << again.status() << " after rewrite: " << json::serialize(body);
        if (again.ok() && f.format != WireFormat::kOpenAiEmbeddings) {
          EXPECT_EQ(again->max_output_tokens, 7);
        }
      }
    }
  }
}

TEST(WireTest, HostileResponsesNeverCrash) {
  for (const Format& f : Formats()) {
    for (std::string_view garbage : kGarbage) {
      for (std::string_view wrapper :
           {"{\"usage\":%}", "{\"usageMetadata\":%}", "{\"choices\":%}", "{\"output\":%}",
            "{\"content\":%}", "{\"candidates\":%}", "{\"choices\":[{\"message\":%}]}",
            "{\"candidates\":[{\"content\":{\"parts\":%}}]}", "%"}) {
        std::string text(wrapper);
        text.replace(text.find('%'), 1, garbage);
        absl::StatusOr<Usage> u = UsageFromResponse(f.format, text);
        if (!u.ok()) {
          EXPECT_TRUE(absl::IsInvalidArgument(u.status()) || absl::IsNotFound(u.status()))
              << u.status();
        }
        (void)OutputText(f.format, Json(text));
      }
    }
  }
}

TEST(WireTest, UsageFromResponseReadsOnlyTheTopLevelMember) {
  constexpr WireFormat kChat = WireFormat::kOpenAiChat;
  // Usage named inside the content, or nested, is not the response's.
  absl::StatusOr<Usage> u = UsageFromResponse(
      kChat,
      R"({"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":99}",)"
      R"("usage":{"prompt_tokens":98}}}],"meta":{"usage":{"prompt_tokens":97}},)"
      R"("usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->input_tokens, 3);
  EXPECT_EQ(u->output_tokens, 4);
  // Keys and strings split by escapes are read whole.
  u = UsageFromResponse(kChat, R"({"us\u0061ge":{"prompt_tokens":5,"completion_tokens":1}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->input_tokens, 5);
  EXPECT_TRUE(UsageFromResponse(kChat, " {\"usage\":{\"prompt_tokens\":1}}\r\n ").ok());
  EXPECT_TRUE(absl::IsNotFound(UsageFromResponse(kChat, R"({"choices":[]})").status()));
  EXPECT_TRUE(absl::IsNotFound(UsageFromResponse(kChat, R"({})").status()));
  EXPECT_TRUE(
      absl::IsNotFound(UsageFromResponse(WireFormat::kGeminiGenerate, R"({"usage":{}})").status()));
  for (std::string_view bad : {"", "   ", "{", R"({"usage":{"prompt_tokens":1}} x)",
                               R"({"usage":{"prompt_tokens":1}}{})", "[]", "\"usage\"", "null",
                               R"({"usage":{"prompt_tokens":1},})", R"({"usage" {}})"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(UsageFromResponse(kChat, bad).status())) << bad;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(UsageFromResponse(kChat, R"({"usage":"many"})").status()));
  std::string deep = std::string(200, '[') + std::string(200, ']');
  EXPECT_TRUE(absl::IsInvalidArgument(
      UsageFromResponse(kChat, absl::StrCat(R"({"usage":{"prompt_tokens":1},"x":)", deep, "}"))
          .status()));
}

TEST(WireTest, ProviderOfEachFormat) {
  EXPECT_EQ(ProviderOf(WireFormat::kOpenAiChat), "openai");
  EXPECT_EQ(ProviderOf(WireFormat::kOpenAiResponses), "openai");
  EXPECT_EQ(ProviderOf(WireFormat::kOpenAiEmbeddings), "openai");
  EXPECT_EQ(ProviderOf(WireFormat::kAnthropicMessages), "anthropic");
  EXPECT_EQ(ProviderOf(WireFormat::kGeminiGenerate), "gemini");
}

TEST(WireTest, ErrorBodiesAreValidJsonEvenForInvalidUtf8) {
  for (const Format& f : Formats()) {
    std::string body = ErrorBody(f.format, 400, "bad\xff", "model 'gpt\xc3\x28' \"quoted\"\n");
    json::value v = Json(body);
    ASSERT_TRUE(v.is_object()) << body;
    EXPECT_NE(body.find("gpt\xEF\xBF\xBD("), std::string::npos) << body;
  }
}

}  // namespace
}  // namespace tollgate::providers
