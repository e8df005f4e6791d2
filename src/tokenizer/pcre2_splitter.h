#pragma once

// Pre-splitting with PCRE2 (JIT) running tiktoken's regular expressions, with the
// property classes (\p{L}, \p{N}, \s, ...) spelled out from the same Unicode tables the
// hand-written splitter uses. It is the reference the hand-written splitter is tested
// against, and the alternative the benchmark measures it against.
// Thread safety: Split may be called concurrently (match data is per call).

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tollgate/tokenizer.h"

namespace tollgate::tokenizer {

class Pcre2Splitter {
 public:
  static absl::StatusOr<std::unique_ptr<Pcre2Splitter>> Create(EncodingId id);
  ~Pcre2Splitter();

  // Calls f(piece_begin, piece_end) for each piece. REQUIRES: valid UTF-8.
  template <class F>
  void ForEach(std::string_view text, F&& f) const;

  std::vector<std::string_view> Split(std::string_view text) const;

  // The PCRE2 pattern in use.
  const std::string& pattern() const { return pattern_; }

 private:
  Pcre2Splitter() = default;
  // Next match at or after pos: [*begin, *end); false when none.
  bool Match(std::string_view text, size_t pos, void* match_data, size_t* begin, size_t* end) const;
  void* NewMatchData() const;
  static void FreeMatchData(void* md);

  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
};

template <class F>
void Pcre2Splitter::ForEach(std::string_view text, F&& f) const {
  void* md = NewMatchData();
  size_t pos = 0, b = 0, e = 0;
  while (pos < text.size() && Match(text, pos, md, &b, &e)) {
    f(b, e);
    pos = e > pos ? e : pos + 1;
  }
  FreeMatchData(md);
}

}  // namespace tollgate::tokenizer
