#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "tokenizer/bpe.h"
#include "tokenizer/embedded_data.h"
#include "tokenizer/encoding_internal.h"
#include "tokenizer/piece_cache.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"
#include "tollgate/tokenizer.h"

namespace tollgate::tokenizer {

struct Encoding::Impl {
  Vocab vocab;
  std::vector<std::pair<std::string, uint32_t>> specials;  // all start with "<|"
};

namespace {

struct CountSink {
  size_t n = 0;
  void Add(const uint32_t*, size_t k) { n += k; }
  void AddOne(uint32_t) { ++n; }
  void AddCount(size_t k) { n += k; }
  std::vector<uint32_t>* long_out() { return nullptr; }
};

struct IdSink {
  std::vector<uint32_t>& out;
  void Add(const uint32_t* ids, size_t k) { out.insert(out.end(), ids, ids + k); }
  void AddOne(uint32_t id) { out.push_back(id); }
  void AddCount(size_t) {}  // ids were appended through long_out()
  std::vector<uint32_t>* long_out() { return &out; }
};

BpeScratch& Scratch(int slot) {
  thread_local std::unique_ptr<BpeScratch> scratch[2];
  if (!scratch[slot]) scratch[slot] = std::make_unique<BpeScratch>();
  return *scratch[slot];
}

// Ids of a piece (or of a segment of one that no merge crosses). `h` is
// PieceCache::Hash of it when 4 < len <= PieceCache::kMaxLen, else unused.
template <class Sink>
inline void EncodeShort(const Vocab& v, PieceCache& cache, BpeScratch& scratch,
                        const uint8_t* piece, size_t len, uint64_t h, Sink& sink) {
  uint32_t buf[kShortPiece];
  if (len == 1) {
    sink.AddOne(v.ByteRank(piece[0]));
    return;
  }
  if (len <= 4) {
    // Two- to four-byte tokens sit in small tables that stay in cache.
    uint32_t r = v.Rank(piece, len);
    if (r != kNoRank) {
      sink.AddOne(r);
      return;
    }
    h = PieceCache::Hash(piece, len);
  }
  const uint32_t* ids;
  size_t k = cache.Find(h, piece, len, &ids);
  if (k) {
    sink.Add(ids, k);
    return;
  }
  k = BytePairEncode(v, piece, len, buf, scratch);
  cache.Put(h, piece, len, buf, k);
  sink.Add(buf, k);
}

// Segments longer than this merge faster in the blocked structure than in the array scan.
inline constexpr size_t kMidSegment = 32;

template <class Sink>
void EncodePiece(const Vocab& v, PieceCache& cache, BpeScratch& scratch, const uint8_t* piece,
                 size_t len, uint64_t h, Sink& sink) {
  if (len <= PieceCache::kMaxLen) {
    EncodeShort(v, cache, scratch, piece, len, h, sink);
    return;
  }
  uint32_t whole = v.Rank(piece, len);
  if (whole != kNoRank) {
    sink.AddOne(whole);
    return;
  }
  // Cut at code point boundaries that no token spans (Vocab::NoTokenSpans): no merge
  // crosses them, so each segment is encoded alone, short ones through the cache.
  uint32_t buf[kShortPiece];
  auto segment = [&](size_t b, size_t e) {
    const uint8_t* p = piece + b;
    size_t n = e - b;
    if (n <= PieceCache::kMaxLen) {
      EncodeShort(v, cache, scratch, p, n, n > 4 ? PieceCache::Hash(p, n) : 0, sink);
    } else if (n <= kMidSegment) {
      sink.Add(buf, BytePairEncode(v, p, n, buf, scratch));
    } else {
      uint32_t r = v.Rank(p, n);
      if (r != kNoRank) {
        sink.AddOne(r);
      } else {
        size_t k = BytePairEncodeBlocked(v, p, n, scratch, sink.long_out());
        if (!sink.long_out()) sink.AddCount(k);
      }
    }
  };
  size_t begin = 0;
  for (size_t k = 1; k < len; ++k) {
    if ((piece[k] & 0xC0) != 0x80 && v.NoTokenSpans(piece, len, k)) {
      segment(begin, k);
      begin = k;
    }
  }
  segment(begin, len);
}

// Splits and encodes; each piece is encoded one step after it is split, so the fetch of
// its cache entry overlaps with splitting the next piece.
template <size_t (*Next)(const uint8_t*, size_t, size_t), class Sink>
void EncodeOrdinary(const Vocab& v, int slot, const uint8_t* s, size_t n, Sink& sink) {
  PieceCache& cache = PieceCache::Get(slot);
  BpeScratch& scratch = Scratch(slot);
  const uint8_t* pending = nullptr;
  size_t pending_len = 0;
  uint64_t pending_hash = 0;
  size_t pos = 0;
  while (pos < n) {
    size_t e = Next(s, pos, n);
    const uint8_t* piece = s + pos;
    size_t len = e - pos;
    pos = e;
    uint64_t h = 0;
    if (len > 4 && len <= PieceCache::kMaxLen) {
      h = PieceCache::Hash(piece, len);
      cache.Prefetch(h);
    }
    if (pending) EncodePiece(v, cache, scratch, pending, pending_len, pending_hash, sink);
    pending = piece;
    pending_len = len;
    pending_hash = h;
  }
  if (pending) EncodePiece(v, cache, scratch, pending, pending_len, pending_hash, sink);
}

template <class Sink>
void EncodeSegment(EncodingId id, const Vocab& v, std::string_view text, Sink& sink) {
  auto* s = reinterpret_cast<const uint8_t*>(text.data());
  if (id == EncodingId::kCl100kBase) {
    EncodeOrdinary<NextPieceCl100k>(v, 0, s, text.size(), sink);
  } else {
    EncodeOrdinary<NextPieceO200k>(v, 1, s, text.size(), sink);
  }
}

template <class Sink>
void EncodeValid(EncodingId id, const Encoding::Impl& impl, std::string_view text,
                 const EncodeOptions& options, Sink& sink) {
  if (!options.allow_special) {
    EncodeSegment(id, impl.vocab, text, sink);
    return;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t found = text.find("<|", pos);
    uint32_t special = kNoRank;
    size_t special_len = 0;
    while (found != std::string_view::npos) {
      for (const auto& [str, rank] : impl.specials) {
        if (text.compare(found, str.size(), str) == 0) {
          special = rank;
          special_len = str.size();
          break;
        }
      }
      if (special != kNoRank) break;
      found = text.find("<|", found + 1);
    }
    if (found == std::string_view::npos) {
      EncodeSegment(id, impl.vocab, text.substr(pos), sink);
      return;
    }
    EncodeSegment(id, impl.vocab, text.substr(pos, found - pos), sink);
    sink.AddOne(special);
    pos = found + special_len;
  }
}

template <class Sink>
void EncodeAny(EncodingId id, const Encoding::Impl& impl, std::string_view text,
               const EncodeOptions& options, Sink& sink) {
  if (ValidUtf8(text)) {
    EncodeValid(id, impl, text, options, sink);
  } else {
    std::string clean = SanitizeUtf8(text);
    EncodeValid(id, impl, clean, options, sink);
  }
}

Encoding::Impl* LoadImpl(EncodingId id) {
  auto* impl = new Encoding::Impl;
  absl::Status st = impl->vocab.Load(EmbeddedRanks(id));
  if (!st.ok()) {
    // The data is part of the binary; failing to parse it is a build defect.
    std::fprintf(stderr, "tollgate: embedded %s ranks are corrupt: %s\n",
                 std::string(ToString(id)).c_str(), st.ToString().c_str());
    std::abort();
  }
  // Special tokens, from the encoder definitions tiktoken ships.
  if (id == EncodingId::kCl100kBase) {
    impl->specials = {{"<|endoftext|>", 100257},
                      {"<|fim_prefix|>", 100258},
                      {"<|fim_middle|>", 100259},
                      {"<|fim_suffix|>", 100260},
                      {"<|endofprompt|>", 100276}};
  } else {
    impl->specials = {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}};
  }
  return impl;
}

}  // namespace

std::string_view ToString(EncodingId id) {
  switch (id) {
    case EncodingId::kCl100kBase:
      return "cl100k_base";
    case EncodingId::kO200kBase:
      return "o200k_base";
  }
  return "";
}

std::optional<EncodingId> ParseEncodingId(std::string_view name) {
  if (name == "cl100k_base") return EncodingId::kCl100kBase;
  if (name == "o200k_base") return EncodingId::kO200kBase;
  return std::nullopt;
}

const Encoding& Encoding::Get(EncodingId id) {
  if (id == EncodingId::kCl100kBase) {
    static const Encoding* cl100k = new Encoding(id, LoadImpl(id));
    return *cl100k;
  }
  static const Encoding* o200k = new Encoding(id, LoadImpl(EncodingId::kO200kBase));
  return *o200k;
}

Encoding::~Encoding() { delete impl_; }

const Vocab& GetVocab(EncodingId id) { return Encoding::Get(id).impl_->vocab; }

void Encoding::Encode(std::string_view text, std::vector<uint32_t>& out,
                      const EncodeOptions& options) const {
  IdSink sink{out};
  EncodeAny(id_, *impl_, text, options, sink);
}

std::vector<uint32_t> Encoding::Encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 3 + 4);
  Encode(text, out, options);
  return out;
}

size_t Encoding::Count(std::string_view text, const EncodeOptions& options) const {
  CountSink sink;
  EncodeAny(id_, *impl_, text, options, sink);
  return sink.n;
}

absl::StatusOr<std::string> Encoding::Decode(std::span<const uint32_t> ids) const {
  std::string out;
  for (uint32_t id : ids) {
    if (id < impl_->vocab.size()) {
      out += impl_->vocab.Bytes(id);
      continue;
    }
    bool found = false;
    for (const auto& [str, rank] : impl_->specials) {
      if (rank == id) {
        out += str;
        found = true;
        break;
      }
    }
    if (!found)
      return absl::InvalidArgumentError("token id " + std::to_string(id) + " is not in " +
                                        std::string(name()));
  }
  return out;
}

uint32_t Encoding::num_ordinary_tokens() const {
  return static_cast<uint32_t>(impl_->vocab.size());
}

std::optional<uint32_t> Encoding::SpecialTokenId(std::string_view text) const {
  for (const auto& [str, rank] : impl_->specials) {
    if (str == text) return rank;
  }
  return std::nullopt;
}

}  // namespace tollgate::tokenizer
