#pragma once

// A per-thread, set-associative cache from short pieces to their token ids. Real text
// repeats a small set of pieces (words, indentation, punctuation) most of the time; a
// hit costs one hash and one compare in a 1 MiB table that stays in cache, where a miss
// costs the rank-table probes and, for multi-token pieces, the merge.
// Thread safety: one instance per thread (see Get); never shared.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace tollgate::tokenizer {

class PieceCache {
 public:
  static constexpr size_t kMaxLen = 24;    // longest cached piece, bytes
  static constexpr size_t kMaxTokens = 7;  // most ids per cached piece

  // The calling thread's cache for encoding `slot` (0 or 1).
  static PieceCache& Get(int slot) {
    thread_local std::unique_ptr<PieceCache> caches[2];
    if (!caches[slot]) caches[slot].reset(new PieceCache);
    return *caches[slot];
  }

  static uint64_t Hash(const uint8_t* p, size_t len) {
    uint64_t a, b, c = 0;
    if (len >= 8) {
      std::memcpy(&a, p, 8);
      std::memcpy(&b, p + len - 8, 8);
      if (len > 16) std::memcpy(&c, p + 8, 8);
    } else if (len >= 4) {
      uint32_t x, y;
      std::memcpy(&x, p, 4);
      std::memcpy(&y, p + len - 4, 4);
      a = x;
      b = y;
    } else {
      a = uint64_t{p[0]} | (uint64_t{p[len / 2]} << 8) | (uint64_t{p[len - 1]} << 16);
      b = 0;
    }
    uint64_t h = (a ^ (len * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    h ^= (b + c * 0x94D049BB133111EBull) * 0xD6E8FEB86659FD93ull;
    h ^= h >> 31;
    return h * 0x9E3779B97F4A7C15ull;
  }

  // The cached ids of [p, p+len) (len <= kMaxLen) in *ids, and their number; 0 on a miss.
  size_t Find(uint64_t h, const uint8_t* p, size_t len, const uint32_t** ids) const {
    const Entry* set = &entries_[(h >> kShift) * kWays];
    for (size_t way = 0; way < kWays; ++way) {
      const Entry& e = set[way];
      if (e.hash == h && e.len == len && Equal(e.bytes, p, len)) {
        *ids = e.ids;
        return e.count;
      }
    }
    return 0;
  }

  void Prefetch(uint64_t h) const { __builtin_prefetch(&entries_[(h >> kShift) * kWays]); }

  // Inserts as the newest entry of its set; older ones move down a way and the oldest is
  // dropped.
  void Put(uint64_t h, const uint8_t* p, size_t len, const uint32_t* ids, size_t count) {
    if (count > kMaxTokens) return;
    Entry* set = &entries_[(h >> kShift) * kWays];
    for (size_t way = kWays - 1; way > 0; --way) set[way] = set[way - 1];
    Entry& e = set[0];
    e.hash = h;
    e.len = static_cast<uint8_t>(len);
    e.count = static_cast<uint8_t>(count);
    std::memcpy(e.bytes, p, len);
    std::memcpy(e.ids, ids, count * sizeof(uint32_t));
  }

 private:
  // memcmp(a, b, len) == 0 for len in [1, kMaxLen], with overlapping word loads that
  // never read past either buffer.
  static bool Equal(const char* a, const uint8_t* b, size_t len) {
    auto load8 = [](const void* q) {
      uint64_t w;
      std::memcpy(&w, q, 8);
      return w;
    };
    if (len >= 8) {
      if (load8(a) != load8(b) || load8(a + len - 8) != load8(b + len - 8)) return false;
      return len <= 16 || load8(a + 8) == load8(b + 8);
    }
    if (len >= 4) {
      uint32_t x0, x1, y0, y1;
      std::memcpy(&x0, a, 4);
      std::memcpy(&y0, b, 4);
      std::memcpy(&x1, a + len - 4, 4);
      std::memcpy(&y1, b + len - 4, 4);
      return x0 == y0 && x1 == y1;
    }
    for (size_t i = 0; i < len; ++i) {
      if (static_cast<uint8_t>(a[i]) != b[i]) return false;
    }
    return true;
  }

  static constexpr size_t kWays = 2;
  static constexpr int kBits = 15;  // 2^kBits sets of kWays entries
  static constexpr int kShift = 64 - kBits;
  struct alignas(64) Entry {
    uint64_t hash = 0;
    uint8_t len = 0;  // 0: empty (pieces are never empty)
    uint8_t count = 0;
    char bytes[kMaxLen];
    uint32_t ids[kMaxTokens];
  };
  static_assert(sizeof(Entry) == 64);
  Entry entries_[kWays << kBits];
};

}  // namespace tollgate::tokenizer
