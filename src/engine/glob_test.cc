#include "engine/glob.h"

#include <gtest/gtest.h>

namespace tollgate::engine {
namespace {

TEST(GlobTest, StarMatchesAnySuffix) {
  EXPECT_TRUE(GlobMatch("openai:gpt-4o*", "openai:gpt-4o"));
  EXPECT_TRUE(GlobMatch("openai:gpt-4o*", "openai:gpt-4o-mini"));
  EXPECT_FALSE(GlobMatch("openai:gpt-4o*", "openai:gpt-4"));
}

TEST(GlobTest, LiteralMustMatchExactly) {
  EXPECT_TRUE(GlobMatch("openai:gpt-4o", "openai:gpt-4o"));
  EXPECT_FALSE(GlobMatch("openai:gpt-4o", "openai:gpt-4o-mini"));
  EXPECT_FALSE(GlobMatch("openai:gpt-4o", "anthropic:gpt-4o"));
}

TEST(GlobTest, StarsInTheMiddleBacktrack) {
  EXPECT_TRUE(GlobMatch("*:claude-*-haiku*", "anthropic:claude-3-5-haiku-latest"));
  EXPECT_FALSE(GlobMatch("*:claude-*-haiku*", "anthropic:claude-3-opus"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_FALSE(GlobMatch("", "x"));
}

}  // namespace
}  // namespace tollgate::engine
