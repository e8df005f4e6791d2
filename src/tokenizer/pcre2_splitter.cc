#include "tokenizer/pcre2_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tokenizer/unicode.h"

namespace tollgate::tokenizer {
namespace {

// A bracket-expression body listing the code points whose class is in `bits`.
std::string ClassBody(uint32_t bits) {
  std::string out;
  uint32_t cp = 0;
  while (cp < 0x110000) {
    if (cp >= 0xD800 && cp < 0xE000) {
      cp = 0xE000;
      continue;
    }
    if (!((bits >> ClassOf(cp)) & 1u)) {
      ++cp;
      continue;
    }
    uint32_t lo = cp;
    while (cp + 1 < 0x110000 && !(cp + 1 >= 0xD800 && cp + 1 < 0xE000) &&
           ((bits >> ClassOf(cp + 1)) & 1u)) {
      ++cp;
    }
    char buf[40];
    if (lo == cp) {
      std::snprintf(buf, sizeof buf, "\\x{%X}", lo);
    } else {
      std::snprintf(buf, sizeof buf, "\\x{%X}-\\x{%X}", lo, cp);
    }
    out += buf;
    ++cp;
  }
  return out;
}

uint32_t Bit(CharClass c) { return 1u << c; }

}  // namespace

absl::StatusOr<std::unique_ptr<Pcre2Splitter>> Pcre2Splitter::Create(EncodingId id) {
  const uint32_t L = Bit(kUpper) | Bit(kLower) | Bit(kLetterOther);
  const uint32_t N = Bit(kNumber);
  const uint32_t S = Bit(kSpace) | Bit(kNewline);
  const uint32_t M = Bit(kMark);
  const std::string l = ClassBody(L), n = ClassBody(N), s = ClassBody(S);
  // Complements, spelled positively: [^\r\n\p{L}\p{N}] and [^\s\p{L}\p{N}].
  const std::string not_rn_l_n = ClassBody(Bit(kOther) | M | Bit(kSpace));
  const std::string not_s_l_n = ClassBody(Bit(kOther) | M);
  std::string pat;
  if (id == EncodingId::kCl100kBase) {
    pat =
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  } else {
    pat =
        R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  }
  const std::string upperish = ClassBody(Bit(kUpper) | Bit(kLetterOther) | M);
  const std::string lowerish = ClassBody(Bit(kLower) | Bit(kLetterOther) | M);
  // In this order: the bracketed forms contain the bare escapes.
  const std::pair<std::string_view, std::string> subs[] = {
      {R"([^\r\n\p{L}\p{N}])", absl::StrCat("[", not_rn_l_n, "]")},
      {R"([^\s\p{L}\p{N}])", absl::StrCat("[", not_s_l_n, "]")},
      {R"([\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}])", absl::StrCat("[", upperish, "]")},
      {R"([\p{Ll}\p{Lm}\p{Lo}\p{M}])", absl::StrCat("[", lowerish, "]")},
      {R"(\p{L})", absl::StrCat("[", l, "]")},
      {R"(\p{N})", absl::StrCat("[", n, "]")},
      {R"((?!\S))", absl::StrCat("(?![^", s, "])")},
      {R"(\s)", absl::StrCat("[", s, "]")},
  };
  for (const auto& [from, to] : subs) {
    std::string next;
    size_t i = 0;
    for (size_t j; (j = pat.find(from, i)) != std::string::npos; i = j + from.size()) {
      next.append(pat, i, j - i);
      next += to;
    }
    next.append(pat, i, std::string::npos);
    pat = std::move(next);
  }
  auto sp = std::unique_ptr<Pcre2Splitter>(new Pcre2Splitter);
  sp->pattern_ = pat;
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return absl::InternalError(
        absl::StrCat("pcre2_compile at ", off, ": ", reinterpret_cast<char*>(msg)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
  sp->code_ = code;
  return sp;
}

Pcre2Splitter::~Pcre2Splitter() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void* Pcre2Splitter::NewMatchData() const {
  return pcre2_match_data_create_from_pattern(static_cast<pcre2_code*>(code_), nullptr);
}
void Pcre2Splitter::FreeMatchData(void* md) {
  pcre2_match_data_free(static_cast<pcre2_match_data*>(md));
}

bool Pcre2Splitter::Match(std::string_view text, size_t pos, void* md, size_t* begin,
                          size_t* end) const {
  int rc = pcre2_match(static_cast<pcre2_code*>(code_), reinterpret_cast<PCRE2_SPTR>(text.data()),
                       text.size(), pos, PCRE2_NO_UTF_CHECK, static_cast<pcre2_match_data*>(md),
                       nullptr);
  if (rc < 0) return false;
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(static_cast<pcre2_match_data*>(md));
  *begin = ov[0];
  *end = ov[1];
  return true;
}

std::vector<std::string_view> Pcre2Splitter::Split(std::string_view text) const {
  std::vector<std::string_view> out;
  ForEach(text, [&](size_t b, size_t e) { out.push_back(text.substr(b, e - b)); });
  return out;
}

}  // namespace tollgate::tokenizer
