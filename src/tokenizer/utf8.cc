#include <cstring>

#include "tokenizer/unicode.h"

namespace tollgate::tokenizer {
namespace {

// Length of the valid sequence at p (1..4), or 0 when invalid; *bad_len gets the length
// of the maximal subpart to replace when invalid.
int SequenceLength(const uint8_t* p, const uint8_t* end, int* bad_len) {
  uint8_t b = p[0];
  size_t avail = static_cast<size_t>(end - p);
  *bad_len = 1;
  int need;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int i = 1; i < need; ++i) {
    if (static_cast<size_t>(i) >= avail) {
      *bad_len = i;
      return 0;
    }
    uint8_t c = p[i];
    uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (c < l || c > h) {
      *bad_len = i;
      return 0;
    }
  }
  return need;
}

}  // namespace

bool ValidUtf8(std::string_view s) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* end = p + s.size();
  while (p < end) {
    // Eight ASCII bytes at a time.
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p >= end) break;
    if (*p < 0x80) {
      ++p;
      continue;
    }
    int bad;
    int n = SequenceLength(p, end, &bad);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* end = p + s.size();
  while (p < end) {
    const uint8_t* run = p;
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    while (p < end && *p < 0x80) ++p;
    out.append(reinterpret_cast<const char*>(run), p - run);
    if (p >= end) break;
    int bad;
    int n = SequenceLength(p, end, &bad);
    if (n > 0) {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    } else {
      out.append("\xEF\xBF\xBD");
      p += bad;
    }
  }
  return out;
}

}  // namespace tollgate::tokenizer
