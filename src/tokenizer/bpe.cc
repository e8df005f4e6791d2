#include "tokenizer/bpe.h"

#include <algorithm>
#include <cstring>

namespace tollgate::tokenizer {
namespace {

size_t ShortMerge(const Vocab& v, const uint8_t* p, size_t n, uint32_t* out, PairCache& pc) {
  uint32_t start[kShortPiece + 1];
  uint32_t pair[kShortPiece];
  size_t m = n;
  for (size_t i = 0; i < n; ++i) {
    start[i] = static_cast<uint32_t>(i);
    out[i] = v.ByteRank(p[i]);
  }
  start[n] = static_cast<uint32_t>(n);
  for (size_t i = 0; i + 1 < n; ++i) pair[i] = v.Rank(p + i, 2);
  pair[n - 1] = kNoRank;
  while (m > 1) {
    // Minimum, then its first position: two simple loops the compiler vectorises.
    uint32_t best = kNoRank;
    for (size_t i = 0; i + 1 < m; ++i) best = pair[i] < best ? pair[i] : best;
    size_t bi = 0;
    while (pair[bi] != best) ++bi;
    if (best == kNoRank) break;
    out[bi] = best;
    // Drop part bi+1 (short arrays: plain loops beat memmove calls).
    for (size_t k = bi + 1; k + 1 < m; ++k) {
      start[k] = start[k + 1];
      out[k] = out[k + 1];
      pair[k] = pair[k + 1];
    }
    start[m - 1] = start[m];
    --m;
    if (bi + 1 < m)
      pair[bi] = pc.Rank(v, out[bi], out[bi + 1], p + start[bi], start[bi + 2] - start[bi]);
    if (bi > 0) {
      pair[bi - 1] =
          pc.Rank(v, out[bi - 1], out[bi], p + start[bi - 1], start[bi + 1] - start[bi - 1]);
    }
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
  return ShortMerge(v, p, n, out, scratch.pairs);
}

// Long pieces: the same rule, with the pair ranks kept in blocks of kBlock positions, a
// per-block minimum and a segment tree over the blocks. Each merge costs one descent of
// the tree, a scan of one block and a few block/tree updates: O(n log n) overall with
// small constants, and cache-friendly where a heap of (rank, position) is not.
size_t BytePairEncodeBlocked(const Vocab& v, const uint8_t* p, size_t n, BpeScratch& s,
                             std::vector<uint32_t>* out) {
  constexpr uint32_t kNone = 0xFFFFFFFFu;
  constexpr size_t kBlock = 64;
  const size_t nb = (n + kBlock - 1) / kBlock;
  size_t leaves = 1;
  while (leaves < nb) leaves <<= 1;
  s.next.resize(n);
  s.tok.resize(n);
  s.pair.assign(nb * kBlock, kNoRank);
  s.prev.resize(n);
  s.tree.assign(2 * leaves, kNoRank);
  uint32_t* next = s.next.data();
  uint32_t* prev = s.prev.data();
  uint32_t* tok = s.tok.data();
  uint32_t* pair = s.pair.data();
  uint32_t* tree = s.tree.data();
  for (size_t i = 0; i < n; ++i) {
    next[i] = static_cast<uint32_t>(i + 1);
    prev[i] = static_cast<uint32_t>(i - 1);
    tok[i] = v.ByteRank(p[i]);
  }
  next[n - 1] = kNone;
  prev[0] = kNone;
  for (size_t i = 0; i + 1 < n; ++i) pair[i] = v.Rank(p + i, 2);
  auto block_min = [&](size_t b) {
    const uint32_t* q = pair + b * kBlock;
    uint32_t m = kNoRank;
    for (size_t k = 0; k < kBlock; ++k) m = q[k] < m ? q[k] : m;
    return m;
  };
  for (size_t b = 0; b < nb; ++b) tree[leaves + b] = block_min(b);
  for (size_t k = leaves - 1; k >= 1; --k) tree[k] = std::min(tree[2 * k], tree[2 * k + 1]);
  auto refresh = [&](size_t b) {
    size_t k = leaves + b;
    uint32_t m = block_min(b);
    if (tree[k] == m) return;
    tree[k] = m;
    for (k >>= 1; k >= 1; k >>= 1) {
      uint32_t c = std::min(tree[2 * k], tree[2 * k + 1]);
      if (tree[k] == c) break;
      tree[k] = c;
    }
  };
  auto end_of = [&](uint32_t i) -> uint32_t {
    return next[i] == kNone ? static_cast<uint32_t>(n) : next[i];
  };
  while (tree[1] != kNoRank) {
    const uint32_t r = tree[1];
    size_t k = 1;
    while (k < leaves) k = tree[2 * k] == r ? 2 * k : 2 * k + 1;  // leftmost block
    size_t b = k - leaves;
    uint32_t i = static_cast<uint32_t>(b * kBlock);
    while (pair[i] != r) ++i;  // leftmost position in the block
    const uint32_t j = next[i];
    tok[i] = r;
    pair[j] = kNoRank;
    const uint32_t after = next[j];
    next[i] = after;
    if (after != kNone) {
      prev[after] = i;
      pair[i] = s.pairs.Rank(v, r, tok[after], p + i, end_of(after) - i);
    } else {
      pair[i] = kNoRank;
    }
    const uint32_t h = prev[i];
    if (h != kNone) pair[h] = s.pairs.Rank(v, tok[h], r, p + h, end_of(i) - h);
    refresh(b);
    if (j / kBlock != b) refresh(j / kBlock);
    if (h != kNone && h / kBlock != b) refresh(h / kBlock);
  }
  size_t count = 0;
  for (uint32_t i = 0; i != kNone; i = next[i]) {
    if (out) out->push_back(tok[i]);
    ++count;
  }
  return count;
}

// A long piece is first cut where no token spans the boundary (Vocab::NoTokenSpans): no
// merge crosses such a cut, and each side evolves exactly as it would alone, so the
// segments are merged independently, each in cache.
size_t BytePairEncodeLong(const Vocab& v, const uint8_t* p, size_t n, BpeScratch& s,
                          std::vector<uint32_t>* out) {
  size_t count = 0;
  size_t begin = 0;
  uint32_t buf[kShortPiece];
  auto segment = [&](size_t b, size_t e) {
    size_t len = e - b;
    if (len <= kShortPiece) {
      size_t k = BytePairEncode(v, p + b, len, buf, s);
      if (out) out->insert(out->end(), buf, buf + k);
      count += k;
    } else {
      uint32_t whole = v.Rank(p + b, len);
      if (whole != kNoRank) {
        if (out) out->push_back(whole);
        ++count;
      } else {
        count += BytePairEncodeBlocked(v, p + b, len, s, out);
      }
    }
  };
  for (size_t k = 1; k < n; ++k) {
    if (v.NoTokenSpans(p, n, k)) {
      segment(begin, k);
      begin = k;
    }
  }
  segment(begin, n);
  return count;
}

}  // namespace tollgate::tokenizer
