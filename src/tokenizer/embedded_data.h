#pragma once

#include <string_view>

#include "tollgate/tokenizer.h"

namespace tollgate::tokenizer {

// The .tiktoken rank file of `id`, embedded in the binary at build time from
// data/encodings/.
std::string_view EmbeddedRanks(EncodingId id);

}  // namespace tollgate::tokenizer
