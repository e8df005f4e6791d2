#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tollgate::store {

// A set of strings that answers "certainly absent" or "maybe present": a blocked Bloom
// filter that grows. The ledger's journal asks it before looking an idempotency key up
// in SQLite, so that a new key (nearly every report) costs no database read.
//
// MayContain(k) is true for every k added (no false negatives); for a key never added
// it is false except with a probability of about 0.1%. Keys cannot be removed (a key
// swept from the ledger stays "maybe present", which only costs a lookup). Memory: 2
// bytes per key of capacity (16 bits), in blocks that double in capacity as keys arrive.
//
// Not thread-safe: the caller serializes every call.
class KeyFilter {
 public:
  // Room for `initial_capacity` keys (at least kMinCapacity) before the first growth.
  // Every growth adds a block that MayContain reads (one cache line each) and that adds
  // its own false positives, so the first block is made large: 128 KiB.
  static constexpr size_t kMinCapacity = size_t{1} << 16;
  explicit KeyFilter(size_t initial_capacity = 0);

  void Add(std::string_view key);
  bool MayContain(std::string_view key) const;

  size_t size() const { return added_; }
  size_t memory_bytes() const;

 private:
  // 16 bits per key of capacity, in 512-bit lines; each key sets kProbes bits of one line.
  struct Filter {
    std::vector<uint64_t> words;  // lines * 8
    size_t capacity = 0;
    size_t count = 0;
  };
  static Filter MakeFilter(size_t capacity);
  static void Set(Filter& f, uint64_t hash);
  static bool Test(const Filter& f, uint64_t hash);

  std::vector<Filter> filters_;  // the last one takes new keys
  size_t added_ = 0;
};

}  // namespace tollgate::store
