#pragma once

// Byte-pair merging of one pre-split piece, with exactly tiktoken's rule: repeatedly merge
// the adjacent pair whose concatenation has the lowest rank, the leftmost one on ties.
// Short pieces use tiktoken's array scan (fast for the few parts they have); long ones a
// heap with lazy deletion, O(n log n) in the piece length.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tokenizer/vocab.h"

namespace tollgate::tokenizer {

// Remembers, for pairs of adjacent tokens (a, b), the rank of their concatenation (or
// that it is not a token). Text re-merges the same pairs all the time (the letters of a
// script, common syllables); a hit costs one probe of a 256 KiB table instead of the
// rank table's. Direct-mapped; an entry packs a (18 bits), b (18) and the rank (19).
class PairCache {
 public:
  PairCache() : entries_(size_t{1} << kBits, ~uint64_t{0}) {}
  uint32_t Rank(const Vocab& v, uint32_t a, uint32_t b, const uint8_t* p, size_t len) {
    if ((a | b) >= (1u << 18)) return v.Rank(p, len);
    const uint64_t key = (uint64_t{a} << 18) | b;
    uint64_t& e = entries_[(key * 0x9E3779B97F4A7C15ull) >> (64 - kBits)];
    if ((e >> 19) == key) {
      uint32_t r = static_cast<uint32_t>(e & kNone);
      return r == kNone ? kNoRank : r;
    }
    uint32_t r = v.Rank(p, len);
    e = (key << 19) | (r == kNoRank ? kNone : r);
    return r;
  }

 private:
  static constexpr int kBits = 15;
  static constexpr uint32_t kNone = (1u << 19) - 1;
  std::vector<uint64_t> entries_;
};

// Per-thread, per-encoding scratch, reused across calls.
struct BpeScratch {
  std::vector<uint32_t> next, prev, tok, pair, tree;
  PairCache pairs;
};

inline constexpr size_t kShortPiece = 96;

// Appends the ranks of piece [p, p+n) to out (n >= 1); returns how many.
// `out` must have room for n ranks.
size_t BytePairEncode(const Vocab& vocab, const uint8_t* p, size_t n, uint32_t* out,
                      BpeScratch& scratch);

// Ranks of a long piece (any n >= 2), appended to *out when out is not null; returns
// how many. Used when n > kShortPiece.
size_t BytePairEncodeLong(const Vocab& vocab, const uint8_t* p, size_t n, BpeScratch& scratch,
                          std::vector<uint32_t>* out);

// The merge of a long piece without cutting it first (n >= 2); BytePairEncodeLong's
// worker, exposed for tests.
size_t BytePairEncodeBlocked(const Vocab& vocab, const uint8_t* p, size_t n, BpeScratch& scratch,
                             std::vector<uint32_t>* out);

}  // namespace tollgate::tokenizer
