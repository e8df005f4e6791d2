#pragma once

// Character classes for pre-splitting, from the Unicode Character Database (see
// tools/gen-unicode-tables.py), and UTF-8 decoding helpers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::tokenizer {

enum CharClass : uint8_t {
  kOther = 0,
  kUpper = 1,        // Lu, Lt
  kLower = 2,        // Ll
  kLetterOther = 3,  // Lm, Lo
  kMark = 4,         // Mn, Mc, Me
  kNumber = 5,       // Nd, Nl, No
  kSpace = 6,        // White_Space other than CR and LF
  kNewline = 7,      // CR, LF
};

namespace internal {
#include "tokenizer/unicode_tables.inc"
}  // namespace internal

inline CharClass ClassOf(uint32_t cp) {
  if (cp >= 0x110000) return kOther;
  return static_cast<CharClass>(
      internal::kClassStage2[internal::kClassStage1[cp >> 8] * 256u + (cp & 255u)]);
}

// Decodes the code point at p. REQUIRES: [p, end) starts with a complete, valid UTF-8
// sequence (the encoder only decodes text that passed ValidUtf8 or SanitizeUtf8).
inline uint32_t DecodeValid(const uint8_t* p, int* len) {
  uint8_t b = p[0];
  if (b < 0x80) {
    *len = 1;
    return b;
  }
  if (b < 0xE0) {
    *len = 2;
    return ((b & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (b < 0xF0) {
    *len = 3;
    return ((b & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  }
  *len = 4;
  return ((b & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
}

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool ValidUtf8(std::string_view s);

// `s` with each maximal invalid subsequence replaced by U+FFFD (WHATWG Encoding
// standard, Unicode "maximal subpart" practice).
std::string SanitizeUtf8(std::string_view s);

}  // namespace tollgate::tokenizer
