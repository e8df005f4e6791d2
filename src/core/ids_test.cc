#include "core/ids.h"

#include <map>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace tollgate::core {
namespace {

TEST(IdsTest, AcceptsTheDocumentedCharset) {
  EXPECT_TRUE(IsValidId("acme"));
  EXPECT_TRUE(IsValidId("user.name_1:x@y-z"));
  EXPECT_TRUE(IsValidId(std::string(128, 'a')));
}

TEST(IdsTest, RejectsEmptyLongAndForeignCharacters) {
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidId("a b"));
  EXPECT_FALSE(IsValidId("a/b"));
  EXPECT_FALSE(IsValidId("*"));
  EXPECT_FALSE(IsValidId("caf\xc3\xa9"));
}

TEST(IdsTest, NewIdsAreUniqueAndValid) {
  std::string a = NewId("lim"), b = NewId("lim");
  EXPECT_NE(a, b);
  EXPECT_TRUE(IsValidId(a));
  EXPECT_EQ(a.substr(0, 4), "lim_");
}

TEST(IdsTest, NewIdsUseTheWholeAlphabetEvenly) {
  // 24 random characters per id; over 3,000 ids each of the 36 characters is expected
  // 2,000 times at every position taken together, and no position may be stuck.
  std::map<char, int> seen;
  std::set<char> at_first, at_last;
  for (int i = 0; i < 3000; ++i) {
    std::string id = NewId("x");
    ASSERT_EQ(id.size(), 26u);
    for (size_t k = 2; k < id.size(); ++k) ++seen[id[k]];
    at_first.insert(id[2]);
    at_last.insert(id.back());
  }
  ASSERT_EQ(seen.size(), 36u);
  for (const auto& [c, n] : seen) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) << c;
    EXPECT_GT(n, 1700) << c;  // mean 2,000, standard deviation ~44
    EXPECT_LT(n, 2300) << c;
  }
  EXPECT_EQ(at_first.size(), 36u);
  EXPECT_EQ(at_last.size(), 36u);
}

TEST(IdsTest, TimeOrderedIdsSortByTime) {
  std::string a = NewTimeOrderedId("evt", 1'700'000'000'000'000);
  std::string b = NewTimeOrderedId("evt", 1'700'000'000'000'001);
  std::string c = NewTimeOrderedId("evt", 1'800'000'000'000'000);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(a.size(), 4u + 24u);
  EXPECT_TRUE(IsValidId(a));
}

TEST(IdsTest, SecretsAreLongAndHashed) {
  std::string s = NewSecret();
  EXPECT_GE(s.size(), 43u);
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace tollgate::core
