#include "tokenizer/bpe.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace tollgate::tokenizer {
namespace {

size_t ShortMerge(const Vocab& v, const uint8_t* p, size_t n, uint32_t* out) {
  uint32_t start[kShortPiece + 1];
  uint32_t pair[kShortPiece];
  size_t m = n;
  for (size_t i = 0; i < n; ++i) {
    start[i] = static_cast<uint32_t>(i);
    out[i] = v.ByteRank(p[i]);
  }
  start[n] = static_cast<uint32_t>(n);
  for (size_t i = 0; i + 1 < n; ++i) pair[i] = v.Rank(p + i, 2);
  while (m > 1) {
    uint32_t best = kNoRank;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < m; ++i) {
      if (pair[i] < best) {
        best = pair[i];
        bi = i;
      }
    }
    if (best == kNoRank) break;
    out[bi] = best;
    // Drop part bi+1.
    std::memmove(start + bi + 1, start + bi + 2, (m - bi - 1) * sizeof(uint32_t));
    std::memmove(out + bi + 1, out + bi + 2, (m - bi - 2) * sizeof(uint32_t));
    std::memmove(pair + bi + 1, pair + bi + 2, (m - bi - 2) * sizeof(uint32_t));
    --m;
    if (bi + 1 < m) pair[bi] = v.Rank(p + start[bi], start[bi + 2] - start[bi]);
    if (bi > 0) pair[bi - 1] = v.Rank(p + start[bi - 1], start[bi + 1] - start[bi - 1]);
  }
  return m;
}

}  // namespace

size_t BytePairEncode(const Vocab& v, const uint8_t* p, size_t n, uint32_t* out,
                      BpeScratch& scratch) {
  if (n == 1) {
    out[0] = v.ByteRank(p[0]);
    return 1;
  }
  uint32_t whole = v.Rank(p, n);
  if (whole != kNoRank) {
    out[0] = whole;
    return 1;
  }
  return ShortMerge(v, p, n, out);
}

size_t BytePairEncodeLong(const Vocab& v, const uint8_t* p, size_t n, BpeScratch& s,
                          std::vector<uint32_t>* out) {
  constexpr uint32_t kNone = 0xFFFFFFFFu;
  s.next.resize(n);
  s.prev.resize(n);
  s.tok.resize(n);
  s.pair.resize(n);
  s.heap.clear();
  for (size_t i = 0; i < n; ++i) {
    s.next[i] = static_cast<uint32_t>(i + 1);
    s.prev[i] = static_cast<uint32_t>(i - 1);
    s.tok[i] = v.ByteRank(p[i]);
  }
  s.next[n - 1] = kNone;
  s.prev[0] = kNone;
  for (size_t i = 0; i + 1 < n; ++i) {
    uint32_t r = v.Rank(p + i, 2);
    s.pair[i] = r;
    if (r != kNoRank) s.heap.push_back((uint64_t{r} << 32) | i);
  }
  s.pair[n - 1] = kNoRank;
  auto end_of = [&](uint32_t i) -> uint32_t {
    return s.next[i] == kNone ? static_cast<uint32_t>(n) : s.next[i];
  };
  std::greater<uint64_t> cmp;
  std::make_heap(s.heap.begin(), s.heap.end(), cmp);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), cmp);
    uint64_t e = s.heap.back();
    s.heap.pop_back();
    uint32_t rank = static_cast<uint32_t>(e >> 32);
    uint32_t i = static_cast<uint32_t>(e);
    // Stale: node i was merged into its left neighbour, or its pair changed.
    if (s.tok[i] == kNone || s.pair[i] != rank) continue;
    uint32_t j = s.next[i];
    s.tok[i] = rank;
    s.tok[j] = kNone;
    uint32_t k = s.next[j];
    s.next[i] = k;
    if (k != kNone) s.prev[k] = i;
    if (k != kNone) {
      uint32_t r = v.Rank(p + i, end_of(k) - i);
      s.pair[i] = r;
      if (r != kNoRank) {
        s.heap.push_back((uint64_t{r} << 32) | i);
        std::push_heap(s.heap.begin(), s.heap.end(), cmp);
      }
    } else {
      s.pair[i] = kNoRank;
    }
    uint32_t h = s.prev[i];
    if (h != kNone) {
      uint32_t r = v.Rank(p + h, end_of(i) - h);
      s.pair[h] = r;
      if (r != kNoRank) {
        s.heap.push_back((uint64_t{r} << 32) | h);
        std::push_heap(s.heap.begin(), s.heap.end(), cmp);
      }
    }
  }
  size_t count = 0;
  for (uint32_t i = 0; i != kNone; i = s.next[i]) {
    if (out) out->push_back(s.tok[i]);
    ++count;
  }
  return count;
}

}  // namespace tollgate::tokenizer
