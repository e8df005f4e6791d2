#include "tokenizer/embedded_data.h"

// The rank files are assembled into .rodata with .incbin; TOLLGATE_ENCODINGS_DIR is set
// by src/tokenizer/CMakeLists.txt.
#ifndef TOLLGATE_ENCODINGS_DIR
#error "TOLLGATE_ENCODINGS_DIR must name the data/encodings directory"
#endif

#define TOLLGATE_EMBED(sym, file)                  \
  __asm__(                                         \
      ".pushsection .rodata\n"                     \
      ".balign 16\n"                               \
      ".globl " #sym "_begin\n" #sym               \
      "_begin:\n"                                  \
      ".incbin \"" TOLLGATE_ENCODINGS_DIR "/" file \
      "\"\n"                                       \
      ".globl " #sym "_end\n" #sym                 \
      "_end:\n"                                    \
      ".byte 0\n"                                  \
      ".popsection\n")

TOLLGATE_EMBED(tollgate_cl100k_base, "cl100k_base.tiktoken");
TOLLGATE_EMBED(tollgate_o200k_base, "o200k_base.tiktoken");

extern "C" const char tollgate_cl100k_base_begin[];
extern "C" const char tollgate_cl100k_base_end[];
extern "C" const char tollgate_o200k_base_begin[];
extern "C" const char tollgate_o200k_base_end[];

namespace tollgate::tokenizer {

std::string_view EmbeddedRanks(EncodingId id) {
  switch (id) {
    case EncodingId::kCl100kBase:
      return {tollgate_cl100k_base_begin,
              static_cast<size_t>(tollgate_cl100k_base_end - tollgate_cl100k_base_begin)};
    case EncodingId::kO200kBase:
      return {tollgate_o200k_base_begin,
              static_cast<size_t>(tollgate_o200k_base_end - tollgate_o200k_base_begin)};
  }
  return {};
}

}  // namespace tollgate::tokenizer
