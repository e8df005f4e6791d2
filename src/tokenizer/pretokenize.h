#pragma once

// Hand-written pre-splitting, equivalent to the regular expressions of tiktoken's
// encodings (leftmost-first alternation with backtracking, as fancy-regex runs them):
//
// cl100k_base:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// o200k_base:
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//   \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// Every function takes the text as [s, s+n) and a position at a code point boundary and
// returns the end of the piece that starts there (always > pos when pos < n).
// REQUIRES: the text is valid UTF-8. Linear: each call reads only the piece it returns
// plus at most a few code points after it.

#include <cstddef>
#include <cstdint>

#include "tokenizer/unicode.h"

namespace tollgate::tokenizer {

struct Cp {
  CharClass cls;
  int len;
};

inline Cp CpAt(const uint8_t* s, size_t pos) {
  uint8_t b = s[pos];
  if (b < 0x80) return {static_cast<CharClass>(internal::kClassStage2[b]), 1};
  int len;
  uint32_t cp = DecodeValid(s + pos, &len);
  return {ClassOf(cp), len};
}

inline constexpr uint32_t ClassBit(CharClass c) { return 1u << c; }
inline constexpr uint32_t kLetterBits =
    ClassBit(kUpper) | ClassBit(kLower) | ClassBit(kLetterOther);
// [^\r\n\p{L}\p{N}]
inline constexpr uint32_t kPrefixBits = ClassBit(kOther) | ClassBit(kMark) | ClassBit(kSpace);
// [^\s\p{L}\p{N}]
inline constexpr uint32_t kPunctBits = ClassBit(kOther) | ClassBit(kMark);
inline constexpr uint32_t kSpaceBits = ClassBit(kSpace) | ClassBit(kNewline);
// o200k: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}]
inline constexpr uint32_t kUpperishBits =
    ClassBit(kUpper) | ClassBit(kLetterOther) | ClassBit(kMark);
inline constexpr uint32_t kLowerishBits =
    ClassBit(kLower) | ClassBit(kLetterOther) | ClassBit(kMark);

inline bool In(uint32_t bits, CharClass c) { return (bits >> c) & 1u; }

// End of the run of code points in `bits` starting at pos.
inline size_t RunEnd(const uint8_t* s, size_t pos, size_t n, uint32_t bits) {
  while (pos < n) {
    uint8_t b = s[pos];
    if (b < 0x80) {
      if (!In(bits, static_cast<CharClass>(internal::kClassStage2[b]))) break;
      ++pos;
      continue;
    }
    Cp c = CpAt(s, pos);
    if (!In(bits, c.cls)) break;
    pos += c.len;
  }
  return pos;
}

// Length of a case-insensitive contraction ('s 't 're 've 'm 'll 'd) at pos, or 0.
// Unicode simple case folding adds U+017F (long s, C5 BF) to 's'.
inline size_t ContractionLen(const uint8_t* s, size_t pos, size_t n) {
  if (pos + 1 >= n || s[pos] != '\'') return 0;
  uint8_t c = s[pos + 1] | 0x20;
  switch (c) {
    case 's':
    case 't':
    case 'm':
    case 'd':
      if ((s[pos + 1] | 0x20) == c && s[pos + 1] >= 'A') return 2;
      return 0;
    case 'r':
    case 'v':
      if (pos + 2 < n && (s[pos + 2] | 0x20) == 'e') return 3;
      return 0;
    case 'l':
      if (pos + 2 < n && (s[pos + 2] | 0x20) == 'l') return 3;
      return 0;
    default:
      if (s[pos + 1] == 0xC5 && pos + 2 < n && s[pos + 2] == 0xBF) return 3;
      return 0;
  }
}

// \s*[\r\n]+ | \s+(?!\S) | \s+ at pos, where pos starts a whitespace code point.
inline size_t WhitespaceEnd(const uint8_t* s, size_t pos, size_t n) {
  size_t q = pos;
  size_t last_start = pos;   // start of the last code point of the run
  size_t after_newline = 0;  // end of the last CR/LF in the run, 0 if none
  while (q < n) {
    uint8_t b = s[q];
    if (b == '\n' || b == '\r') {
      last_start = q;
      ++q;
      after_newline = q;
      continue;
    }
    if (b == ' ' || b == '\t') {
      last_start = q;
      ++q;
      continue;
    }
    Cp c = CpAt(s, q);
    if (c.cls != kSpace && c.cls != kNewline) break;
    last_start = q;
    q += c.len;
  }
  if (after_newline != 0) return after_newline;
  if (q == n || last_start == pos) return q;
  return last_start;
}

inline size_t NextPieceCl100k(const uint8_t* s, size_t pos, size_t n) {
  uint8_t b = s[pos];
  if (b == '\'') {
    size_t c = ContractionLen(s, pos, n);
    if (c) return pos + c;
  }
  Cp c0 = CpAt(s, pos);
  if (In(kLetterBits, c0.cls)) return RunEnd(s, pos + c0.len, n, kLetterBits);
  size_t p1 = pos + c0.len;
  if (In(kPrefixBits, c0.cls) && p1 < n) {
    Cp c1 = CpAt(s, p1);
    if (In(kLetterBits, c1.cls)) return RunEnd(s, p1 + c1.len, n, kLetterBits);
  }
  if (c0.cls == kNumber) {
    size_t q = p1;
    for (int i = 0; i < 2 && q < n; ++i) {
      Cp c = CpAt(s, q);
      if (c.cls != kNumber) break;
      q += c.len;
    }
    return q;
  }
  size_t q = 0;
  if (In(kPunctBits, c0.cls)) {
    q = RunEnd(s, p1, n, kPunctBits);
  } else if (b == ' ' && p1 < n && In(kPunctBits, CpAt(s, p1).cls)) {
    q = RunEnd(s, p1, n, kPunctBits);
  }
  if (q) {
    while (q < n && (s[q] == '\r' || s[q] == '\n')) ++q;
    return q;
  }
  return WhitespaceEnd(s, pos, n);
}

// o200k: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ at x; 0 if no match.
inline size_t O200kUpperLower(const uint8_t* s, size_t x, size_t n) {
  size_t q = x;
  size_t after_non_upper = 0;  // end of the last non-Lu/Lt code point in the run
  while (q < n) {
    Cp c = CpAt(s, q);
    if (!In(kUpperishBits, c.cls)) break;
    q += c.len;
    if (c.cls != kUpper) after_non_upper = q;
  }
  if (q < n) {
    Cp c = CpAt(s, q);
    if (c.cls == kLower) return RunEnd(s, q + c.len, n, kLowerishBits);
  }
  return after_non_upper;
}

// o200k: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* at x; 0 if no match.
inline size_t O200kUpperThenLower(const uint8_t* s, size_t x, size_t n) {
  size_t q = RunEnd(s, x, n, kUpperishBits);
  if (q == x) return 0;
  return RunEnd(s, q, n, kLowerishBits);
}

inline bool AsciiLower(uint8_t b) { return b >= 'a' && b <= 'z'; }

inline size_t NextPieceO200k(const uint8_t* s, size_t pos, size_t n) {
  uint8_t b = s[pos];
  // Fast path, the most common piece: a lower-case ASCII word, alone or after one ASCII
  // prefix character (space or punctuation). The first alternative then matches with an
  // empty upper-case run: the run of [\p{Ll}\p{Lm}\p{Lo}\p{M}] from the word's start.
  {
    size_t x = pos;
    if (!AsciiLower(b) && b < 0x80 && pos + 1 < n && AsciiLower(s[pos + 1]) &&
        In(kPrefixBits, static_cast<CharClass>(internal::kClassStage2[b]))) {
      x = pos + 1;
    }
    if (AsciiLower(s[x])) {
      size_t e = x + 1;
      while (e < n && AsciiLower(s[e])) ++e;
      if (e < n && s[e] >= 0x80) e = RunEnd(s, e, n, kLowerishBits);
      if (e < n && s[e] == '\'') e += ContractionLen(s, e, n);
      return e;
    }
  }
  Cp c0 = CpAt(s, pos);
  size_t p1 = pos + c0.len;
  const bool prefix = In(kPrefixBits, c0.cls) && p1 < n;
  const bool letterish = In(kLetterBits, c0.cls) || c0.cls == kMark;
  if (prefix || letterish) {
    size_t e = 0;
    // Fast path: the common lower-case word, with or without a prefix.
    if (prefix) e = O200kUpperLower(s, p1, n);
    if (!e && letterish) e = O200kUpperLower(s, pos, n);
    if (!e && prefix) e = O200kUpperThenLower(s, p1, n);
    if (!e && letterish) e = O200kUpperThenLower(s, pos, n);
    if (e) {
      if (e < n && s[e] == '\'') e += ContractionLen(s, e, n);
      return e;
    }
  }
  if (c0.cls == kNumber) {
    size_t q = p1;
    for (int i = 0; i < 2 && q < n; ++i) {
      Cp c = CpAt(s, q);
      if (c.cls != kNumber) break;
      q += c.len;
    }
    return q;
  }
  size_t q = 0;
  if (In(kPunctBits, c0.cls)) {
    q = RunEnd(s, p1, n, kPunctBits);
  } else if (b == ' ' && p1 < n && In(kPunctBits, CpAt(s, p1).cls)) {
    q = RunEnd(s, p1, n, kPunctBits);
  }
  if (q) {
    while (q < n && (s[q] == '\r' || s[q] == '\n' || s[q] == '/')) ++q;
    return q;
  }
  return WhitespaceEnd(s, pos, n);
}

}  // namespace tollgate::tokenizer
