#pragma once

#include "tokenizer/vocab.h"
#include "tollgate/tokenizer.h"

namespace tollgate::tokenizer {

// The rank table behind Encoding::Get(id), for tests and benchmarks of the internals.
const Vocab& GetVocab(EncodingId id);

}  // namespace tollgate::tokenizer
