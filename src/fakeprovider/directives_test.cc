#include "fakeprovider/directives.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace tollgate::fakeprovider {
namespace {

using ::testing::HasSubstr;

Directives Parse(std::string_view text) {
  absl::StatusOr<Directives> d = ParseDirectives(text);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : Directives{};
}

std::string Error(std::string_view text) {
  absl::StatusOr<Directives> d = ParseDirectives(text);
  EXPECT_FALSE(d.ok()) << text;
  return d.ok() ? "" : std::string(d.status().message());
}

TEST(ParseDirectivesTest, TextWithoutDirectivesYieldsNothing) {
  Directives d = Parse("Say hello. [not fake] [fakery] fake status=500");
  EXPECT_FALSE(d.status);
  EXPECT_FALSE(d.stall);
  EXPECT_FALSE(d.input);
  EXPECT_FALSE(d.no_usage);
}

TEST(ParseDirectivesTest, ReadsSeveralKeysInOneBracket) {
  Directives d = Parse("hi [fake input=120 output=30 cached=100 cache_write=5 reasoning=8]");
  EXPECT_EQ(d.input, 120);
  EXPECT_EQ(d.output, 30);
  EXPECT_EQ(d.cached, 100);
  EXPECT_EQ(d.cache_write, 5);
  EXPECT_EQ(d.reasoning, 8);
}

TEST(ParseDirectivesTest, ReadsFlagsAndDelays) {
  Directives d =
      Parse("[fake stall] text [fake\tno_usage delay_ms=250\nchunk_delay_ms=10 stall_after=2]");
  EXPECT_TRUE(d.stall);
  EXPECT_TRUE(d.no_usage);
  EXPECT_EQ(d.delay_ms, 250);
  EXPECT_EQ(d.chunk_delay_ms, 10);
  EXPECT_EQ(d.stall_after, 2);
}

TEST(ParseDirectivesTest, LaterValueWins) {
  EXPECT_EQ(Parse("[fake status=500] then [fake status=429]").status, 429);
}

TEST(ParseDirectivesTest, EmptyBracketIsAccepted) { EXPECT_FALSE(Parse("[fake]").status); }

TEST(ParseDirectivesTest, RejectsUnknownKey) {
  EXPECT_THAT(Error("[fake sttaus=500]"), HasSubstr("'sttaus=500': unknown key"));
}

TEST(ParseDirectivesTest, RejectsMalformedValues) {
  EXPECT_THAT(Error("[fake status=abc]"), HasSubstr("non-negative integer"));
  EXPECT_THAT(Error("[fake input=-1]"), HasSubstr("non-negative integer"));
  EXPECT_THAT(Error("[fake output=12x]"), HasSubstr("non-negative integer"));
  EXPECT_THAT(Error("[fake input=]"), HasSubstr("non-negative integer"));
  EXPECT_THAT(Error("[fake input]"), HasSubstr("needs a value"));
  EXPECT_THAT(Error("[fake stall=1]"), HasSubstr("takes no value"));
}

TEST(ParseDirectivesTest, RejectsValuesOutOfRange) {
  EXPECT_THAT(Error("[fake status=200]"), HasSubstr("[400, 599]"));
  EXPECT_THAT(Error("[fake status=600]"), HasSubstr("[400, 599]"));
  EXPECT_THAT(Error("[fake delay_ms=3600001]"), HasSubstr("in [0, 3600000]"));
  EXPECT_THAT(Error("[fake output=99999999999999999999]"), HasSubstr("non-negative integer"));
}

TEST(ParseDirectivesTest, RejectsUnclosedBracket) {
  EXPECT_THAT(Error("[fake status=500"), HasSubstr("without a closing"));
}

}  // namespace
}  // namespace tollgate::fakeprovider
