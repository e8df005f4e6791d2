#include "core/money.h"

#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tollgate::core {

std::string FormatUsd(Nanos nanos) {
  bool neg = nanos < 0;
  unsigned long long v = neg ? 0ULL - static_cast<unsigned long long>(nanos)
                             : static_cast<unsigned long long>(nanos);
  std::string out = absl::StrCat(neg ? "-" : "", v / kNanosPerUsd);
  unsigned long long frac = v % kNanosPerUsd;
  if (frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, 9 - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    absl::StrAppend(&out, ".", digits);
  }
  return out;
}

double UsdToDouble(Nanos nanos) { return static_cast<double>(nanos) / kNanosPerUsd; }

absl::StatusOr<Nanos> ParseUsd(std::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError("empty amount");
  size_t i = 0;
  __int128 whole = 0;
  size_t int_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    whole = whole * 10 + (s[i] - '0');
    if (whole > std::numeric_limits<int64_t>::max() / kNanosPerUsd)
      return absl::OutOfRangeError("amount too large");
    ++i, ++int_digits;
  }
  if (int_digits == 0) return absl::InvalidArgumentError("amount must start with a digit");
  __int128 frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (++n > 9) return absl::InvalidArgumentError("more than 9 decimal places");
      frac = frac * 10 + (s[i] - '0');
      ++i;
    }
    if (n == 0) return absl::InvalidArgumentError("no digits after the decimal point");
    for (; n < 9; ++n) frac *= 10;
  }
  if (i != s.size()) return absl::InvalidArgumentError("not a decimal amount");
  __int128 total = whole * kNanosPerUsd + frac;
  if (total > std::numeric_limits<int64_t>::max()) return absl::OutOfRangeError("amount too large");
  return static_cast<Nanos>(total);
}

absl::StatusOr<Nanos> UsdFromDouble(double usd) {
  if (!std::isfinite(usd)) return absl::InvalidArgumentError("amount must be finite");
  if (usd < 0) return absl::InvalidArgumentError("amount must not be negative");
  double nanos = std::round(usd * kNanosPerUsd);
  if (nanos >= 9.2e18) return absl::OutOfRangeError("amount too large");
  return static_cast<Nanos>(nanos);
}

Nanos CostOf(int64_t tokens, Nanos per_mtok) {
  if (tokens <= 0 || per_mtok <= 0) return 0;
  __int128 product = static_cast<__int128>(tokens) * per_mtok;
  __int128 cost = (product + 500'000) / 1'000'000;
  if (cost > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  return static_cast<Nanos>(cost);
}

}  // namespace tollgate::core
