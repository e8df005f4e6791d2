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

// The high bits pick the line, 9 bits at a time of ProbeBits the bits within it.
void KeyFilter::Set(Filter& f, uint64_t hash) {
  const size_t lines = f.words.size() / kWordsPerLine;
  uint64_t* line = &f.words[((hash >> 32) % lines) * kWordsPerLine];
  uint64_t bits = ProbeBits(hash);
  for (int i = 0; i < kProbes; ++i, bits = (bits >> 9) | (bits << 55)) {
    const unsigned bit = bits & 511;
    line[bit / 64] |= uint64_t{1} << (bit % 64);
  }
}

bool KeyFilter::Test(const Filter& f, uint64_t hash) {
  const size_t lines = f.words.size() / kWordsPerLine;
  const uint64_t* line = &f.words[((hash >> 32) % lines) * kWordsPerLine];
  uint64_t bits = ProbeBits(hash);
  for (int i = 0; i < kProbes; ++i, bits = (bits >> 9) | (bits << 55)) {
    const unsigned bit = bits & 511;
    if ((line[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
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
