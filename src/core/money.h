#pragma once

// Money is integer nano-USD (1 USD = 1,000,000,000). The API speaks decimal USD.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tollgate/types.h"

namespace tollgate::core {

inline constexpr Nanos kNanosPerUsd = 1'000'000'000;

// "0.000123456": shortest decimal form with at most 9 fraction digits.
std::string FormatUsd(Nanos nanos);

// As a JSON number (double): for API answers. Exact up to 2^53 nano-USD.
double UsdToDouble(Nanos nanos);

// Parses a non-negative decimal USD amount ("12", "0.5", "1e-3" is refused) into nano-USD.
// Rejects negatives, more than 9 fraction digits, and values over 9.2e9 USD.
absl::StatusOr<Nanos> ParseUsd(std::string_view s);

// Converts a non-negative JSON double in USD to nano-USD, rounding to nearest.
absl::StatusOr<Nanos> UsdFromDouble(double usd);

// Cost of `tokens` at `per_mtok` nano-USD per million tokens, rounded half up.
// Saturates at INT64_MAX instead of overflowing.
Nanos CostOf(int64_t tokens, Nanos per_mtok);

}  // namespace tollgate::core
