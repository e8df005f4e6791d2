#include "core/money.h"

#include <limits>

#include "gtest/gtest.h"

namespace tollgate::core {
namespace {

TEST(MoneyTest, FormatsShortestDecimal) {
  EXPECT_EQ(FormatUsd(0), "0");
  EXPECT_EQ(FormatUsd(1'500'000'000), "1.5");
  EXPECT_EQ(FormatUsd(123), "0.000000123");
  EXPECT_EQ(FormatUsd(-2'000'000'000), "-2");
}

TEST(MoneyTest, ParsesDecimalAndRejectsBadInput) {
  EXPECT_EQ(*ParseUsd("12"), 12'000'000'000);
  EXPECT_EQ(*ParseUsd("0.5"), 500'000'000);
  EXPECT_EQ(*ParseUsd("0.000000001"), 1);
  EXPECT_FALSE(ParseUsd("-1").ok());
  EXPECT_FALSE(ParseUsd("1.0000000001").ok());
  EXPECT_FALSE(ParseUsd("1e3").ok());
  EXPECT_FALSE(ParseUsd("").ok());
  EXPECT_FALSE(ParseUsd("99999999999999999999").ok());
}

TEST(MoneyTest, CostRoundsHalfUpAndSaturates) {
  // 1000 tokens at $2.50 per million = $0.0025.
  EXPECT_EQ(CostOf(1000, 2'500'000'000), 2'500'000);
  EXPECT_EQ(CostOf(1, 1'500'000), 2);  // 1.5 nano rounds up
  EXPECT_EQ(CostOf(std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(CostOf(-5, 100), 0);
}

TEST(MoneyTest, DoubleConversionRejectsNegativeAndNonFinite) {
  EXPECT_EQ(*UsdFromDouble(0.25), 250'000'000);
  EXPECT_FALSE(UsdFromDouble(-0.1).ok());
  EXPECT_FALSE(UsdFromDouble(1e300).ok());
}

}  // namespace
}  // namespace tollgate::core
