#include "tokenizer/vocab.h"

#include <bit>
#include <charconv>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tollgate::tokenizer {

absl::Status Vocab::Load(std::string_view text) {
  bytes_.clear();
  offsets_.clear();
  std::vector<std::pair<size_t, size_t>> lines;
  size_t pos = 0;
  std::string decoded;
  offsets_.push_back(0);
  size_t line_no = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos)
      return absl::DataLossError(absl::StrCat("line ", line_no, ": no rank"));
    uint32_t rank = 0;
    auto rank_text = line.substr(sp + 1);
    auto [ptr, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
    if (ec != std::errc() || ptr != rank_text.data() + rank_text.size() || rank != line_no) {
      return absl::DataLossError(absl::StrCat("line ", line_no, ": ranks must be dense"));
    }
    std::string_view b64 = line.substr(0, sp);
    if (!absl::Base64Unescape(absl::string_view(b64.data(), b64.size()), &decoded) ||
        decoded.empty()) {
      return absl::DataLossError(absl::StrCat("line ", line_no, ": bad base64"));
    }
    bytes_ += decoded;
    offsets_.push_back(static_cast<uint32_t>(bytes_.size()));
    ++line_no;
  }
  const size_t n = line_no;
  if (n < 256) return absl::DataLossError("fewer than 256 ranks");
  size_t n_small = 0, n_big = 0;
  for (uint32_t r = 0; r < n; ++r) {
    size_t len = offsets_[r + 1] - offsets_[r];
    n_small += len == 3 || len == 4;
    n_big += len >= 5;
  }
  if (n > 0xFFFFFF) return absl::DataLossError("too many ranks");
  size_t small_cap = std::bit_ceil(n_small + n_small / 2 + 16);
  small_.assign(small_cap, 0);
  small_mask_ = small_cap - 1;
  small_shift_ = 64 - std::countr_zero(small_cap);
  size_t filter_words = std::bit_ceil((n_big * 8 + 64) / 64);
  filter_.assign(filter_words, 0);
  filter_mask_ = filter_words - 1;
  size_t cap = std::bit_ceil(n_big + n_big / 2 + 16);  // load factor 0.5 to 0.75
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  shift_ = 64 - std::countr_zero(cap);
  max_len_ = 0;
  for (auto& r : byte_rank_) r = kNoRank;
  pair_rank_.assign(65536, kNoRank);
  trigrams_.assign((1u << 24) / 64, 0);
  for (uint32_t r = 0; r < n; ++r) {
    auto* p = reinterpret_cast<const uint8_t*>(bytes_.data() + offsets_[r]);
    size_t len = offsets_[r + 1] - offsets_[r];
    if (len > max_len_) max_len_ = len;
    if (len == 1) {
      if (byte_rank_[p[0]] != kNoRank) return absl::DataLossError("duplicate token");
      byte_rank_[p[0]] = r;
    }
    if (len == 2) pair_rank_[(uint32_t{p[0]} << 8) | p[1]] = r;
    for (size_t k = 0; k + 3 <= len; ++k) {
      uint32_t x = (uint32_t{p[k]} << 16) | (uint32_t{p[k + 1]} << 8) | p[k + 2];
      trigrams_[x >> 6] |= uint64_t{1} << (x & 63);
    }
    if (len == 3 || len == 4) {
      uint32_t key = SmallKey(p, len);
      size_t i = SmallIndex(key, len);
      while (small_[i] != 0) {
        if ((small_[i] >> 24) == ((uint64_t{key} << 8) | len))
          return absl::DataLossError("duplicate token");
        i = (i + 1) & small_mask_;
      }
      small_[i] = (uint64_t{key} << 32) | (uint64_t{len} << 24) | r;
      continue;
    }
    if (len < 5) continue;
    uint64_t key = Key(p, len);
    const uint64_t h = Hash(key, p, len);
    filter_[(h >> 12) & filter_mask_] |=
        (uint64_t{1} << (h & 63)) | (uint64_t{1} << ((h >> 6) & 63));
    size_t i = h >> shift_;
    for (;;) {
      Slot& s = slots_[i];
      if (s.len == 0) {
        s = Slot{key, r, static_cast<uint32_t>(len)};
        break;
      }
      if (s.len == len && s.key == key && (len <= 8 || Tail(s.rank, p, len))) {
        return absl::DataLossError(absl::StrCat("duplicate token at rank ", r));
      }
      i = (i + 1) & mask_;
    }
  }
  for (uint32_t r : byte_rank_) {
    if (r == kNoRank) return absl::DataLossError("a byte has no rank");
  }
  return absl::OkStatus();
}

}  // namespace tollgate::tokenizer
