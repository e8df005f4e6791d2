#include "store/sqlite/key_filter.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace tollgate::store {
namespace {

TEST(KeyFilterTest, EmptyFilterContainsNothing) {
  KeyFilter filter;
  EXPECT_FALSE(filter.MayContain(""));
  EXPECT_FALSE(filter.MayContain("tenant\0key"));
  EXPECT_EQ(filter.size(), 0u);
}

TEST(KeyFilterTest, EveryAddedKeyIsFoundAcrossGrowth) {
  KeyFilter filter;
  const size_t initial = filter.memory_bytes();
  const int n = 4 * KeyFilter::kMinCapacity;  // grows twice
  for (int i = 0; i < n; ++i) filter.Add(absl::StrCat("t", i % 7, std::string(1, '\0'), i));
  EXPECT_EQ(filter.size(), static_cast<size_t>(n));
  EXPECT_EQ(filter.memory_bytes(), 7 * initial);  // blocks of 1, 2 and 4 times the first
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(filter.MayContain(absl::StrCat("t", i % 7, std::string(1, '\0'), i))) << i;
  }
}

TEST(KeyFilterTest, FalsePositivesAreRareAndMemoryIsSmall) {
  KeyFilter filter(200000);
  for (int i = 0; i < 200000; ++i) filter.Add(absl::StrCat("key-", i));
  int false_positives = 0;
  for (int i = 0; i < 200000; ++i) {
    if (filter.MayContain(absl::StrCat("other-", i))) ++false_positives;
  }
  EXPECT_LT(false_positives, 200000 / 200);  // under 0.5% (about 0.1% expected)
  EXPECT_LE(filter.memory_bytes(), 200000u * 2 + 64);  // 16 bits per key, rounded up
}

}  // namespace
}  // namespace tollgate::store
