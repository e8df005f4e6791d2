#include "tollgate/tokenizer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/encoding_internal.h"
#include "tokenizer/pcre2_splitter.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"

namespace tollgate::tokenizer {
namespace {

const Encoding& Cl100k() { return Encoding::Get(EncodingId::kCl100kBase); }
const Encoding& O200k() { return Encoding::Get(EncodingId::kO200kBase); }

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// Seeded random text that exercises every branch of the pre-splitting rules.
std::string RandomText(std::mt19937& rng) {
  static const std::vector<std::string> kFragments = {" ",
                                                      "  ",
                                                      "\t",
                                                      "\n",
                                                      "\r\n",
                                                      " \n ",
                                                      "'s",
                                                      "'S",
                                                      "'re",
                                                      "'LL",
                                                      "'d",
                                                      "'\xC5\xBF",
                                                      "'",
                                                      "123",
                                                      "45678",
                                                      "HELLO",
                                                      "Hello",
                                                      "hello",
                                                      "/",
                                                      "//",
                                                      "!!",
                                                      "\xC7\x85",
                                                      "e\xCC\x81",
                                                      "\xCC\x81",
                                                      "\xE3\x80\x80",
                                                      "\xC2\xA0",
                                                      "\xC2\x85",
                                                      "\xE4\xB8\xAD",
                                                      "\xF0\x9F\x98\x80"};
  static const uint32_t kRanges[][2] = {{0x20, 0x7E},       {0xA0, 0x2FF},    {0x300, 0x36F},
                                        {0x370, 0x6FF},     {0x900, 0x97F},   {0x2000, 0x206F},
                                        {0x3000, 0x30FF},   {0x4E00, 0x4E80}, {0x1F300, 0x1F64F},
                                        {0x10000, 0x10FFFF}};
  std::string s;
  int n = rng() % 40;
  for (int i = 0; i < n; ++i) {
    if (rng() % 2) {
      s += kFragments[rng() % kFragments.size()];
    } else {
      const auto& r = kRanges[rng() % std::size(kRanges)];
      uint32_t cp = r[0] + rng() % (r[1] - r[0] + 1);
      if (cp >= 0xD800 && cp < 0xE000) cp = 'x';
      s += Utf8(cp);
    }
  }
  return s;
}

std::vector<std::string_view> HandSplit(EncodingId id, std::string_view text) {
  std::vector<std::string_view> out;
  auto* s = reinterpret_cast<const uint8_t*>(text.data());
  auto next = id == EncodingId::kCl100kBase ? NextPieceCl100k : NextPieceO200k;
  for (size_t pos = 0; pos < text.size();) {
    size_t e = next(s, pos, text.size());
    out.push_back(text.substr(pos, e - pos));
    pos = e;
  }
  return out;
}

TEST(EncodingTest, EncodesKnownIds) {
  EXPECT_EQ(Cl100k().Encode("hello world"), (std::vector<uint32_t>{15339, 1917}));
  EXPECT_EQ(O200k().Encode("hello world"), (std::vector<uint32_t>{24912, 2375}));
}

TEST(EncodingTest, EmptyTextHasNoTokens) {
  EXPECT_TRUE(Cl100k().Encode("").empty());
  EXPECT_EQ(O200k().Count(""), 0u);
}

TEST(EncodingTest, CountEqualsNumberOfIds) {
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string t = RandomText(rng);
    EXPECT_EQ(Cl100k().Count(t), Cl100k().Encode(t).size()) << t;
    EXPECT_EQ(O200k().Count(t), O200k().Encode(t).size()) << t;
  }
}

TEST(EncodingTest, DecodeInvertsEncode) {
  std::mt19937 rng(11);
  for (int i = 0; i < 300; ++i) {
    std::string t = RandomText(rng);
    for (const Encoding* e : {&Cl100k(), &O200k()}) {
      auto back = e->Decode(e->Encode(t));
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(*back, t);
    }
  }
}

TEST(EncodingTest, DecodeRejectsUnknownIds) {
  std::vector<uint32_t> ids = {15339, 999999};
  EXPECT_FALSE(Cl100k().Decode(ids).ok());
}

TEST(EncodingTest, SpecialTokenTextIsPlainTextByDefault) {
  auto ids = Cl100k().Encode("<|endoftext|>");
  EXPECT_GT(ids.size(), 1u);
  for (uint32_t id : ids) EXPECT_LT(id, Cl100k().num_ordinary_tokens());
}

TEST(EncodingTest, SpecialTokensWhenAllowed) {
  EncodeOptions allow{.allow_special = true};
  EXPECT_EQ(Cl100k().Encode("<|endoftext|>", allow), (std::vector<uint32_t>{100257}));
  EXPECT_EQ(O200k().Encode("a<|endoftext|>b", allow), (std::vector<uint32_t>{64, 199999, 65}));
  EXPECT_EQ(O200k().Encode("<|fim_prefix|>", allow), O200k().Encode("<|fim_prefix|>"));
  EXPECT_EQ(Cl100k().SpecialTokenId("<|endofprompt|>"), 100276u);
}

TEST(EncodingTest, InvalidUtf8IsReadAsReplacementCharacters) {
  const std::string bad =
      "a\xFF"
      "b\xE2\x82"
      "c\xF0\x9F\x98"
      "d\xED\xA0\x80"
      "e\xC0\xAF";
  const std::string replaced =
      "a\xEF\xBF\xBD"
      "b\xEF\xBF\xBD"
      "c\xEF\xBF\xBD"
      "d\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
      "e\xEF\xBF\xBD\xEF\xBF\xBD";
  EXPECT_EQ(SanitizeUtf8(bad), replaced);
  EXPECT_EQ(Cl100k().Encode(bad), Cl100k().Encode(replaced));
  EXPECT_EQ(O200k().Count(bad), O200k().Count(replaced));
}

TEST(EncodingTest, ValidUtf8AcceptsOnlyWellFormedText) {
  EXPECT_TRUE(ValidUtf8("plain ascii, and \xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"));
  EXPECT_FALSE(ValidUtf8("\xC0\x80"));          // overlong
  EXPECT_FALSE(ValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(ValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(ValidUtf8("abcdefgh\x80"));
  EXPECT_FALSE(ValidUtf8("\xE4\xB8"));  // truncated
}

TEST(EncodingTest, ArbitraryBytesNeverCrash) {
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string t(rng() % 64, '\0');
    for (auto& c : t) c = static_cast<char>(rng());
    size_t n = O200k().Count(t);
    EXPECT_EQ(n, O200k().Encode(t).size());
    EXPECT_EQ(Cl100k().Encode(t), Cl100k().Encode(SanitizeUtf8(t)));
  }
}

TEST(UnicodeTest, ClassesComeFromTheCharacterDatabase) {
  EXPECT_EQ(ClassOf('A'), kUpper);
  EXPECT_EQ(ClassOf(0x01C5), kUpper);  // Lt
  EXPECT_EQ(ClassOf(0x017F), kLower);
  EXPECT_EQ(ClassOf(0x4E2D), kLetterOther);
  EXPECT_EQ(ClassOf(0x0301), kMark);
  EXPECT_EQ(ClassOf(0x00B2), kNumber);
  EXPECT_EQ(ClassOf(0x0085), kSpace);
  EXPECT_EQ(ClassOf(0x180E), kOther);         // not White_Space since Unicode 6.3
  EXPECT_EQ(ClassOf(0x13C6A), kLetterOther);  // added in Unicode 16.0
  EXPECT_EQ(ClassOf('\n'), kNewline);
}

TEST(SplitterTest, MatchesTiktokenPatterns) {
  EXPECT_EQ(HandSplit(EncodingId::kCl100kBase, "I'm  don't 12345\n\n  x"),
            (std::vector<std::string_view>{"I", "'m", " ", " don", "'t", " ", "123", "45", "\n\n",
                                           " ", " x"}));
  EXPECT_EQ(HandSplit(EncodingId::kO200kBase, "JSONParser don't HELLO'S a//\n"),
            (std::vector<std::string_view>{"JSONParser", " don't", " HELLO'S", " a", "//\n"}));
}

class SplitterParityTest : public ::testing::TestWithParam<EncodingId> {};

TEST_P(SplitterParityTest, HandWrittenSplitterEqualsPcre2) {
  auto pcre = Pcre2Splitter::Create(GetParam());
  ASSERT_TRUE(pcre.ok()) << pcre.status();
  std::mt19937 rng(GetParam() == EncodingId::kCl100kBase ? 1 : 2);
  for (int i = 0; i < 5000; ++i) {
    std::string t = RandomText(rng);
    ASSERT_EQ(HandSplit(GetParam(), t), (*pcre)->Split(t)) << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Encodings, SplitterParityTest,
                         ::testing::Values(EncodingId::kCl100kBase, EncodingId::kO200kBase));

TEST(BpeTest, LongPieceMergesEqualArrayMerge) {
  // Pieces long enough to need many merges, short enough for the array merge; the merge
  // rule is independent of pre-splitting, so compare on raw bytes.
  std::mt19937 rng(5);
  BpeScratch scratch[2];  // caches are per encoding
  const std::string alphabets[] = {"aaabcdeeilnorst ", "\xd0\xb0\xd0\xb5\xd0\xbe\xd1\x81"};
  for (int i = 0; i < 3000; ++i) {
    const std::string& alphabet = alphabets[i % 2];
    size_t n = 2 + rng() % (kShortPiece - 1);
    std::string piece(n, 'a');
    for (auto& c : piece) c = alphabet[rng() % alphabet.size()];
    auto* p = reinterpret_cast<const uint8_t*>(piece.data());
    for (EncodingId id : {EncodingId::kCl100kBase, EncodingId::kO200kBase}) {
      BpeScratch& s = scratch[static_cast<int>(id)];
      const Vocab& v = GetVocab(id);
      uint32_t buf[kShortPiece];
      size_t k = BytePairEncode(v, p, n, buf, s);
      std::vector<uint32_t> want(buf, buf + k), segmented, blocked;
      BytePairEncodeLong(v, p, n, s, &segmented);
      BytePairEncodeBlocked(v, p, n, s, &blocked);
      ASSERT_EQ(segmented, want) << piece;
      ASSERT_EQ(blocked, want) << piece;
    }
  }
}

TEST(BpeTest, LongWordsRoundTrip) {
  std::mt19937 rng(9);
  std::string word(200000, 'a');
  for (auto& c : word) c = static_cast<char>('a' + rng() % 26);
  for (const Encoding* e : {&Cl100k(), &O200k()}) {
    auto ids = e->Encode(word);
    EXPECT_EQ(ids.size(), e->Count(word));
    EXPECT_EQ(*e->Decode(ids), word);
  }
  std::string same(100000, 'x');
  EXPECT_EQ(*O200k().Decode(O200k().Encode(same)), same);
}

TEST(ModelTest, MapsModelsToEncodings) {
  struct Case {
    const char* model;
    EncodingId want;
  } cases[] = {
      {"gpt-4o", EncodingId::kO200kBase},
      {"gpt-4o-mini-2024-07-18", EncodingId::kO200kBase},
      {"gpt-4.1-nano", EncodingId::kO200kBase},
      {"gpt-5", EncodingId::kO200kBase},
      {"o1-mini", EncodingId::kO200kBase},
      {"o3", EncodingId::kO200kBase},
      {"o4-mini", EncodingId::kO200kBase},
      {"chatgpt-4o-latest", EncodingId::kO200kBase},
      {"gpt-4", EncodingId::kCl100kBase},
      {"gpt-4-turbo", EncodingId::kCl100kBase},
      {"gpt-3.5-turbo", EncodingId::kCl100kBase},
      {"text-embedding-3-small", EncodingId::kCl100kBase},
      {"ft:gpt-4o-mini-2024-07-18:acme::abc", EncodingId::kO200kBase},
      {"ft:gpt-3.5-turbo:acme::abc", EncodingId::kCl100kBase},
      {"openai/gpt-4.1", EncodingId::kO200kBase},
      {"gpt-6-preview", EncodingId::kO200kBase},
  };
  for (const auto& c : cases) {
    auto info = LookupModel(c.model);
    ASSERT_TRUE(info.ok()) << c.model;
    EXPECT_EQ(info->encoding, c.want) << c.model;
    EXPECT_FALSE(info->estimated());
  }
}

TEST(ModelTest, NonOpenAIModelsAreEstimated) {
  auto claude = CountText("claude-sonnet-4-5", "seven characters!");
  ASSERT_TRUE(claude.ok());
  EXPECT_TRUE(claude->estimated);
  EXPECT_EQ(claude->tokens, 5);  // 17 chars / 3.5
  auto gemini = CountText("gemini-2.5-pro", "seven characters!");
  ASSERT_TRUE(gemini.ok());
  EXPECT_TRUE(gemini->estimated);
  EXPECT_EQ(gemini->tokens, 5);  // 17 chars / 4
  EXPECT_EQ(gemini->encoding, "gemini-estimate");
}

TEST(ModelTest, UnknownModelIsNotFound) {
  EXPECT_EQ(LookupModel("llama-3-70b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(CountText("", "x").ok());
}

// The openai-cookbook example "How to count tokens with tiktoken", section 6, with the
// totals it publishes (counted by the OpenAI API).
constexpr char kCookbookMessages[] = R"({"messages": [
  {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
  {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
  {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
  {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
  {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
  {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
]})";

// Section 7: the same method with tool definitions.
constexpr char kCookbookTools[] = R"({
  "messages": [
    {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
    {"role": "user", "content": "What's the weather like in San Francisco?"}
  ],
  "tools": [{"type": "function", "function": {
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "properties": {
      "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
      "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}
    }, "required": ["location"]}}}]
})";

TEST(ChatTest, CookbookMessagesGivePublishedTotals) {
  auto req = ParseChatRequest(kCookbookMessages);
  ASSERT_TRUE(req.ok()) << req.status();
  for (auto [model, want] : {std::pair{"gpt-3.5-turbo", 129},
                             {"gpt-4-0613", 129},
                             {"gpt-4", 129},
                             {"gpt-4o", 124},
                             {"gpt-4o-mini", 124}}) {
    auto n = CountChat(model, *req);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->tokens, want) << model;
    EXPECT_FALSE(n->estimated);
  }
}

TEST(ChatTest, CookbookToolsGivePublishedTotals) {
  auto req = ParseChatRequest(kCookbookTools);
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->tools.size(), 1u);
  for (auto [model, want] :
       {std::pair{"gpt-3.5-turbo", 105}, {"gpt-4", 105}, {"gpt-4o", 101}, {"gpt-4o-mini", 101}}) {
    auto n = CountChat(model, *req);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->tokens, want) << model;
  }
}

TEST(ChatTest, ParsedBodyCountsAsItsText) {
  boost::json::value body = boost::json::parse(kCookbookTools);
  auto from_object = ParseChatRequest(body.as_object());
  auto from_text = ParseChatRequest(kCookbookTools);
  ASSERT_TRUE(from_object.ok() && from_text.ok());
  EXPECT_EQ(CountChat("gpt-4o", *from_object)->tokens, CountChat("gpt-4o", *from_text)->tokens);
}

TEST(ChatTest, ToolsWithoutAFunctionAreLeftOut) {
  auto plain = ParseChatRequest(R"({"messages":[{"role":"user","content":"hi"}]})");
  auto custom = ParseChatRequest(
      R"({"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search"}]})");
  ASSERT_TRUE(plain.ok() && custom.ok()) << custom.status();
  EXPECT_TRUE(custom->tools.empty());
  EXPECT_EQ(CountChat("gpt-4o", *plain)->tokens, CountChat("gpt-4o", *custom)->tokens);
  // An untyped tool still needs its function.
  EXPECT_FALSE(ParseChatRequest(R"({"messages":[],"tools":[{}]})").ok());
}

TEST(ChatTest, ContentPartsAreConcatenated) {
  auto a = ParseChatRequest(R"({"messages":[{"role":"user","content":"hello world"}]})");
  auto b = ParseChatRequest(
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"hello"},{"type":"text","text":" world"}]}]})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(CountChat("gpt-4o", *a)->tokens, CountChat("gpt-4o", *b)->tokens);
}

TEST(ChatTest, BadShapesNameTheField) {
  auto r = ParseChatRequest(R"({"messages":[{"role":"user"},{"content":"x"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("messages[1].role"), std::string_view::npos);
  EXPECT_FALSE(ParseChatRequest("{").ok());
  EXPECT_FALSE(ParseChatRequest(R"({"messages":{}})").ok());
  EXPECT_FALSE(ParseChatRequest(R"({"messages":[],"tools":[{"function":{}}]})").ok());
}

TEST(ChatTest, EstimatedForAnthropic) {
  auto req = ParseChatRequest(kCookbookMessages);
  ASSERT_TRUE(req.ok());
  auto n = CountChat("claude-3-5-haiku-latest", *req);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->estimated);
  EXPECT_GT(n->tokens, 50);
}

}  // namespace
}  // namespace tollgate::tokenizer
