#pragma once

// The ranks of one BPE encoding: token bytes -> rank, in an open-addressing table tuned
// for the short keys pre-splitting produces.
// Thread safety: immutable after Load; concurrent lookups are safe.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace tollgate::tokenizer {

inline constexpr uint32_t kNoRank = 0xFFFFFFFFu;

class Vocab {
 public:
  // Parses the .tiktoken format ("<base64 bytes> <rank>" per line). Ranks must be dense
  // 0..n-1 and bytes unique.
  absl::Status Load(std::string_view tiktoken);

  uint32_t Rank(const uint8_t* p, size_t len) const {
    if (len == 2) return pair_rank_[(uint32_t{p[0]} << 8) | p[1]];
    if (len <= 4) {
      if (len == 1) return byte_rank_[p[0]];
      return SmallRank(SmallKey(p, len), len);
    }
    if (len > max_len_) return kNoRank;
    uint64_t key = Key(p, len);
    uint64_t h = Hash(key, p, len);
    // Most failed lookups (pairs that are not tokens) stop here, in a filter that stays in
    // cache, instead of in the large table.
    const uint64_t f = filter_[(h >> 12) & filter_mask_];
    if (((f >> (h & 63)) & (f >> ((h >> 6) & 63)) & 1u) == 0) return kNoRank;
    size_t i = h >> shift_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.len == len && s.key == key && (len <= 8 || Tail(s.rank, p, len))) return s.rank;
      if (s.len == 0) return kNoRank;
      i = (i + 1) & mask_;
    }
  }
  uint32_t ByteRank(uint8_t b) const { return byte_rank_[b]; }

  // True when no token spans the boundary between p[k-1] and p[k] of [p, p+n), so no
  // merge can ever cross it: the two-byte string there is not a token and neither
  // three-byte string around it occurs inside any token. REQUIRES: 0 < k < n.
  bool NoTokenSpans(const uint8_t* p, size_t n, size_t k) const {
    if (pair_rank_[(uint32_t{p[k - 1]} << 8) | p[k]] != kNoRank) return false;
    if (k >= 2 && InsideToken(p + k - 2)) return false;
    if (k + 1 < n && InsideToken(p + k - 1)) return false;
    return true;
  }
  size_t size() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  size_t max_len() const { return max_len_; }
  std::string_view Bytes(uint32_t rank) const {
    return std::string_view(bytes_).substr(offsets_[rank], offsets_[rank + 1] - offsets_[rank]);
  }

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t rank = 0;
    uint32_t len = 0;  // 0 = empty
  };

  // Tokens of 3 and 4 bytes (a quarter of the vocabulary, and most merges inside
  // multi-byte characters) live in a compact table of 8-byte slots that stays in cache:
  // key (32 bits) | len (8) | rank (24). 0 is an empty slot.
  static uint32_t SmallKey(const uint8_t* p, size_t len) {
    if (len == 4) {
      uint32_t w;
      std::memcpy(&w, p, 4);
      return w;
    }
    return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16);
  }
  size_t SmallIndex(uint32_t key, size_t len) const {
    return ((uint64_t{key} ^ (len << 32)) * 0x9E3779B97F4A7C15ull) >> small_shift_;
  }
  uint32_t SmallRank(uint32_t key, size_t len) const {
    const uint64_t want = (uint64_t{key} << 32) | (uint64_t{len} << 24);
    for (size_t i = SmallIndex(key, len);; i = (i + 1) & small_mask_) {
      uint64_t s = small_[i];
      if ((s & ~uint64_t{0xFFFFFF}) == want) return static_cast<uint32_t>(s & 0xFFFFFF);
      if (s == 0) return kNoRank;
    }
  }

  // Injective for len <= 8 (given len); the first 8 bytes otherwise.
  static uint64_t Key(const uint8_t* p, size_t len) {
    if (len >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      return w;
    }
    if (len >= 4) {
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + len - 4, 4);
      return uint64_t{lo} | (uint64_t{hi} << 32);
    }
    return uint64_t{p[0]} | (uint64_t{p[len / 2]} << 8) | (uint64_t{p[len - 1]} << 16);
  }
  static uint64_t Mix(uint64_t x) {
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    return x;
  }
  static uint64_t Hash(uint64_t key, const uint8_t* p, size_t len) {
    uint64_t h = key ^ (len * 0x9E3779B97F4A7C15ull);
    for (size_t i = 8; i < len; i += 8) {
      uint64_t w = 0;
      std::memcpy(&w, p + i, len - i < 8 ? len - i : 8);
      h = Mix(h) ^ w;
    }
    return Mix(h) * 0x9E3779B97F4A7C15ull;
  }
  bool InsideToken(const uint8_t* t) const {
    uint32_t x = (uint32_t{t[0]} << 16) | (uint32_t{t[1]} << 8) | t[2];
    return (trigrams_[x >> 6] >> (x & 63)) & 1u;
  }
  bool Tail(uint32_t rank, const uint8_t* p, size_t len) const {
    return std::memcmp(bytes_.data() + offsets_[rank] + 8, p + 8, len - 8) == 0;
  }

  std::vector<uint64_t> small_;  // 3- and 4-byte tokens
  size_t small_mask_ = 0;
  int small_shift_ = 64;
  std::vector<Slot> slots_;       // tokens of 5 bytes or more
  std::vector<uint64_t> filter_;  // Bloom filter (2 bits per token in one word) over slots_
  size_t filter_mask_ = 0;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t max_len_ = 0;
  std::string bytes_;              // every token's bytes, by rank
  std::vector<uint32_t> offsets_;  // rank -> offset in bytes_; size n+1
  uint32_t byte_rank_[256];
  std::vector<uint32_t> pair_rank_;  // 65536 entries: two-byte tokens
  std::vector<uint64_t> trigrams_;   // 2^24 bits: three-byte strings inside some token
};

}  // namespace tollgate::tokenizer
