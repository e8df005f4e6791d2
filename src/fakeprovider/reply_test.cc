#include "fakeprovider/reply.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace tollgate::fakeprovider {
namespace {

RequestInfo Prompt(int64_t bytes) {
  RequestInfo info;
  info.model = "gpt-4o";
  info.text_bytes = bytes;
  return info;
}

int64_t Words(const std::string& text) {
  if (text.empty()) return 0;
  return static_cast<int64_t>(std::vector<std::string>(absl::StrSplit(text, ' ')).size());
}

TEST(ReplyTextTest, IsDeterministicLorem) {
  EXPECT_EQ(ReplyText(0), "");
  EXPECT_EQ(ReplyText(5), "lorem ipsum dolor sit amet");
  EXPECT_EQ(Words(ReplyText(100)), 100);
}

TEST(MakeReplyTest, EstimatesInputAndUsesDefaultOutput) {
  Reply r = MakeReply(Prompt(10), {}, {}, "id1", 1700000000);
  EXPECT_EQ(r.model, "gpt-4o");
  EXPECT_EQ(r.id, "id1");
  EXPECT_EQ(r.created, 1700000000);
  EXPECT_EQ(r.usage.input, 3);
  EXPECT_EQ(r.usage.output, 20);
  EXPECT_EQ(r.usage.total(), 23);
  EXPECT_EQ(Words(r.text), 20);
  EXPECT_TRUE(r.report_usage);
  EXPECT_FALSE(r.truncated);
}

TEST(MakeReplyTest, DirectivesOverrideDefaults) {
  ReplyDefaults defaults{
      .input_tokens = 50, .output_tokens = 7, .latency_ms = 5, .chunk_delay_ms = 2};
  Reply from_defaults = MakeReply(Prompt(1000), {}, defaults, "a", 0);
  EXPECT_EQ(from_defaults.usage.input, 50);
  EXPECT_EQ(from_defaults.usage.output, 7);
  EXPECT_EQ(from_defaults.delay_ms, 5);
  EXPECT_EQ(from_defaults.chunk_delay_ms, 2);
  Directives d;
  d.input = 120;
  d.output = 9;
  d.delay_ms = 0;
  d.no_usage = true;
  Reply r = MakeReply(Prompt(1000), d, defaults, "b", 0);
  EXPECT_EQ(r.usage.input, 120);
  EXPECT_EQ(r.usage.output, 9);
  EXPECT_EQ(r.delay_ms, 0);
  EXPECT_EQ(r.chunk_delay_ms, 2);
  EXPECT_FALSE(r.report_usage);
}

TEST(MakeReplyTest, ReasoningIsPartOfOutputAndNotText) {
  Directives d;
  d.output = 10;
  d.reasoning = 4;
  Reply r = MakeReply(Prompt(4), d, {}, "x", 0);
  EXPECT_EQ(r.usage.output, 10);
  EXPECT_EQ(r.usage.visible(), 6);
  EXPECT_EQ(Words(r.text), 6);
}

TEST(MakeReplyTest, KeepsCountsConsistent) {
  Directives d;
  d.input = 10;
  d.cached = 8;
  d.cache_write = 5;
  d.output = 2;
  d.reasoning = 3;
  Reply r = MakeReply(Prompt(4), d, {}, "x", 0);
  EXPECT_EQ(r.usage.input, 13);
  EXPECT_EQ(r.usage.output, 3);
  EXPECT_EQ(r.usage.visible(), 0);
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.chunks.empty());
}

TEST(MakeReplyTest, MaxOutputTokensTruncates) {
  RequestInfo info = Prompt(4);
  info.max_output_tokens = 5;
  Reply r = MakeReply(info, {}, {}, "x", 0);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.usage.output, 5);
  EXPECT_EQ(Words(r.text), 5);
  info.max_output_tokens = 20;
  EXPECT_FALSE(MakeReply(info, {}, {}, "x", 0).truncated);
}

TEST(MakeReplyTest, ExplicitOutputIgnoresMaxOutputTokens) {
  RequestInfo info = Prompt(4);
  info.max_output_tokens = 5;
  Directives d;
  d.output = 350;
  Reply r = MakeReply(info, d, {}, "x", 0);
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.usage.output, 350);
}

TEST(MakeReplyTest, ChunksHoldFourWordsAndConcatenateToTheText) {
  Directives d;
  d.output = 10;
  Reply r = MakeReply(Prompt(4), d, {}, "x", 0);
  ASSERT_EQ(r.chunks.size(), 3u);
  EXPECT_EQ(r.chunks[0], "lorem ipsum dolor sit");
  EXPECT_EQ(r.chunks[1], " amet consectetur adipiscing elit");
  EXPECT_EQ(r.chunks[2], " sed do");
  EXPECT_EQ(absl::StrJoin(r.chunks, ""), r.text);
}

TEST(MakeReplyTest, HugeOutputCapsTheTextNotTheUsage) {
  Directives d;
  d.output = kMaxReplyWords * 10;
  Reply r = MakeReply(Prompt(4), d, {}, "x", 0);
  EXPECT_EQ(r.usage.output, kMaxReplyWords * 10);
  EXPECT_EQ(Words(r.text), kMaxReplyWords);
}

}  // namespace
}  // namespace tollgate::fakeprovider
