// libFuzzer target for the tokenizer: arbitrary bytes through both encodings (with and
// without special tokens), the hand-written splitter against the PCRE2 reference, and the
// chat-request parser. Built and run by tools/tokenizer-fuzz.sh (`make test`).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/pcre2_splitter.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"
#include "tollgate/tokenizer.h"

namespace tk = tollgate::tokenizer;

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckSplitter(tk::EncodingId id, std::string_view text) {
  static auto cl = tk::Pcre2Splitter::Create(tk::EncodingId::kCl100kBase);
  static auto o2 = tk::Pcre2Splitter::Create(tk::EncodingId::kO200kBase);
  const auto& ref = id == tk::EncodingId::kCl100kBase ? cl : o2;
  Check(ref.ok());
  auto next = id == tk::EncodingId::kCl100kBase ? tk::NextPieceCl100k : tk::NextPieceO200k;
  auto* s = reinterpret_cast<const uint8_t*>(text.data());
  size_t pos = 0;
  (*ref)->ForEach(text, [&](size_t b, size_t e) {
    Check(b == pos);
    Check(next(s, pos, text.size()) == e);
    pos = e;
  });
  Check(pos == text.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto id = (mode & 1) ? tk::EncodingId::kO200kBase : tk::EncodingId::kCl100kBase;
  const tk::Encoding& enc = tk::Encoding::Get(id);
  switch ((mode >> 1) % 4) {
    case 0:
    case 1: {
      tk::EncodeOptions opts{.allow_special = ((mode >> 1) % 4) == 1};
      auto ids = enc.Encode(text, opts);
      Check(enc.Count(text, opts) == ids.size());
      auto back = enc.Decode(ids);
      Check(back.ok() && *back == tk::SanitizeUtf8(text));
      break;
    }
    case 2:
      CheckSplitter(id, tk::SanitizeUtf8(text));
      break;
    case 3: {
      auto req = tk::ParseChatRequest(text);
      if (req.ok()) {
        for (const char* model : {"gpt-4o", "gpt-4", "claude-3-opus", "gemini-2.0-flash"}) {
          auto n = tk::CountChat(model, *req);
          Check(n.ok() && n->tokens >= 0);
        }
      }
      break;
    }
  }
  return 0;
}
