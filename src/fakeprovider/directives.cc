#include "fakeprovider/directives.h"

#include <charconv>
#include <string>

#include "absl/strings/str_cat.h"

namespace tollgate::fakeprovider {
namespace {

constexpr std::string_view kOpen = "[fake";

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

absl::Status Bad(std::string_view token, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("fake directive '", AbslView(token), "': ", AbslView(why)));
}

// A decimal integer in [lo, hi].
absl::StatusOr<int64_t> Number(std::string_view token, std::string_view value, int64_t lo,
                               int64_t hi) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || value[0] < '0' || value[0] > '9' || ec != std::errc() ||
      end != value.data() + value.size()) {
    return Bad(token, "the value must be a non-negative integer");
  }
  if (n < lo || n > hi)
    return Bad(token, absl::StrCat("the value must be in [", lo, ", ", hi, "]"));
  return n;
}

absl::Status Apply(std::string_view token, Directives& d) {
  size_t eq = token.find('=');
  std::string_view key = token.substr(0, eq);
  std::optional<std::string_view> value;
  if (eq != std::string_view::npos) value = token.substr(eq + 1);

  // Flags.
  if (key == "stall" || key == "no_usage") {
    if (value) return Bad(token, "takes no value");
    (key == "stall" ? d.stall : d.no_usage) = true;
    return absl::OkStatus();
  }
  struct Field {
    std::string_view key;
    std::optional<int64_t> Directives::*member;
    int64_t lo, hi;
  };
  static constexpr Field kFields[] = {
      {"stall_after", &Directives::stall_after, 0, kMaxTokens},
      {"delay_ms", &Directives::delay_ms, 0, kMaxDelayMs},
      {"chunk_delay_ms", &Directives::chunk_delay_ms, 0, kMaxDelayMs},
      {"input", &Directives::input, 0, kMaxTokens},
      {"output", &Directives::output, 0, kMaxTokens},
      {"cached", &Directives::cached, 0, kMaxTokens},
      {"cache_write", &Directives::cache_write, 0, kMaxTokens},
      {"reasoning", &Directives::reasoning, 0, kMaxTokens},
  };
  if (key == "status") {
    if (!value) return Bad(token, "needs a value (status=500)");
    absl::StatusOr<int64_t> n = Number(token, *value, 400, 599);
    if (!n.ok()) return n.status();
    d.status = static_cast<int>(*n);
    return absl::OkStatus();
  }
  for (const Field& f : kFields) {
    if (key != f.key) continue;
    if (!value) return Bad(token, "needs a value (key=N)");
    absl::StatusOr<int64_t> n = Number(token, *value, f.lo, f.hi);
    if (!n.ok()) return n.status();
    d.*f.member = *n;
    return absl::OkStatus();
  }
  return Bad(token,
             "unknown key (known: status, stall, stall_after, delay_ms, chunk_delay_ms, input, "
             "output, cached, cache_write, reasoning, no_usage)");
}

}  // namespace

absl::StatusOr<Directives> ParseDirectives(std::string_view text) {
  Directives d;
  size_t pos = 0;
  while ((pos = text.find(kOpen, pos)) != std::string_view::npos) {
    size_t start = pos + kOpen.size();
    // "[fakery]" is ordinary text: the keyword must end at a space or the bracket.
    if (start < text.size() && !IsSpace(text[start]) && text[start] != ']') {
      pos = start;
      continue;
    }
    size_t close = text.find(']', start);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("fake directive: '[fake' without a closing ']'");
    }
    std::string_view body = text.substr(start, close - start);
    size_t i = 0;
    while (i < body.size()) {
      while (i < body.size() && IsSpace(body[i])) ++i;
      size_t j = i;
      while (j < body.size() && !IsSpace(body[j])) ++j;
      if (j > i) {
        if (absl::Status s = Apply(body.substr(i, j - i), d); !s.ok()) return s;
      }
      i = j;
    }
    pos = close + 1;
  }
  return d;
}

}  // namespace tollgate::fakeprovider
