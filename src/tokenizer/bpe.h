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

// Per-thread scratch for long pieces, reused across calls.
struct BpeScratch {
  std::vector<uint32_t> next, prev, tok, pair, tree;
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

}  // namespace tollgate::tokenizer
