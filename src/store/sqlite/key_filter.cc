#include "store/sqlite/key_filter.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace tollgate::store {
namespace {

constexpr int kProbes = 11;         // bits set per key: ~0.1% false positives at 16 bits/key
constexpr size_t kBitsPerKey = 16;
constexpr size_t kWordsPerLine = 8;  // 512 bits: one cache line

uint64_t HashKey(std::string_view key) { return absl::Hash<std::string_view>{}(key); }

// The probe bits come from a remix of the hash, independent of the line it picked.
uint64_t ProbeBits(uint64_t hash) { return hash * 0x9E3779B97F4A7C15ULL; }

// Where the line of `hash` starts in `words`: its high bits pick it.
size_t LineStart(const std::vector<uint64_t>& words, uint64_t hash) {
  return ((hash >> 32) % (words.size() / kWordsPerLine)) * kWordsPerLine;
}

// Calls fn(word, mask) for each of the key's kProbes bits, 9 bits of ProbeBits at a time;
// stops early when fn returns false.
template <typename Fn>
bool ForEachProbe(uint64_t hash, Fn fn) {
  uint64_t bits = ProbeBits(hash);
  for (int i = 0; i < kProbes; ++i, bits = (bits >> 9) | (bits << 55)) {
    const unsigned bit = bits & 511;
    if (!fn(bit / 64, uint64_t{1} << (bit % 64))) return false;
  }
  return true;
}

}  // namespace

KeyFilter::KeyFilter(size_t initial_capacity) {
  filters_.push_back(MakeFilter(std::max<size_t>(initial_capacity, kMinCapacity)));
}

KeyFilter::Filter KeyFilter::MakeFilter(size_t capacity) {
  Filter f;
  f.capacity = capacity;
  const size_t lines = (capacity * kBitsPerKey + 511) / 512;
  f.words.assign(lines * kWordsPerLine, 0);
  return f;
}

void KeyFilter::Set(Filter& f, uint64_t hash) {
  uint64_t* line = &f.words[LineStart(f.words, hash)];
  ForEachProbe(hash, [line](size_t word, uint64_t mask) {
    line[word] |= mask;
    return true;
  });
}

bool KeyFilter::Test(const Filter& f, uint64_t hash) {
  const uint64_t* line = &f.words[LineStart(f.words, hash)];
  return ForEachProbe(hash, [line](size_t word, uint64_t mask) { return (line[word] & mask) != 0; });
}

void KeyFilter::Add(std::string_view key) {
  if (filters_.back().count >= filters_.back().capacity) {
    filters_.push_back(MakeFilter(filters_.back().capacity * 2));
  }
  Set(filters_.back(), HashKey(key));
  ++filters_.back().count;
  ++added_;
}

bool KeyFilter::MayContain(std::string_view key) const {
  const uint64_t hash = HashKey(key);
  for (const Filter& f : filters_) {
    if (Test(f, hash)) return true;
  }
  return false;
}

size_t KeyFilter::memory_bytes() const {
  size_t bytes = 0;
  for (const Filter& f : filters_) bytes += f.words.size() * sizeof(uint64_t);
  return bytes;
}

}  // namespace tollgate::store
