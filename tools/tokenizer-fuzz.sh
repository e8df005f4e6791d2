#!/usr/bin/env bash
# Builds the tokenizer's libFuzzer target with clang (AddressSanitizer and
# UndefinedBehaviorSanitizer) and runs it briefly on a corpus seeded from
# tests/tokenizer/texts. Fails on any crash, sanitizer report or failed check.
# Usage: tools/tokenizer-fuzz.sh [SECONDS]   (default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-${TOKENIZER_FUZZ_SECONDS:-40}}
out=build-fuzz
mkdir -p "$out/obj" "$out/corpus"
CXX=${FUZZ_CXX:-clang++}
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -Iinclude -Isrc -DTOLLGATE_ENCODINGS_DIR="\"$PWD/data/encodings\"")
srcs=(src/tokenizer/bpe.cc src/tokenizer/embedded_data.cc src/tokenizer/encoding.cc
  src/tokenizer/models.cc src/tokenizer/pcre2_splitter.cc src/tokenizer/utf8.cc
  src/tokenizer/vocab.cc src/tokenizer/tokenizer_fuzz.cc)
objs=()
for src in "${srcs[@]}"; do
  obj="$out/obj/$(basename "$src" .cc).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ include/tollgate/tokenizer.h -nt "$obj" ] ||
    [ -n "$(find src/tokenizer -name '*.h' -newer "$obj" -o -name '*.inc' -newer "$obj")" ]; then
    "$CXX" "${flags[@]}" -c "$src" -o "$obj" &
  fi
  objs+=("$obj")
done
# Boost.JSON's compiled part, for the chat-request parser.
if [ ! -f "$out/obj/boost_json.o" ]; then
  echo '#include <boost/json/src.hpp>' | "$CXX" -std=c++20 -O1 -fsanitize=address,undefined -x c++ - -c -o "$out/obj/boost_json.o" &
fi
wait
objs+=("$out/obj/boost_json.o")
"$CXX" "${flags[@]}" "${objs[@]}" -o "$out/tokenizer_fuzz" \
  $(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format libpcre2-8)
for f in tests/tokenizer/texts/*; do
  for m in 0 1 2 3 4 5; do
    { printf "\\x$(printf %02x $m)"; cat "$f"; } >"$out/corpus/seed_${m}_$(basename "$f")"
  done
done
printf '\x06{"messages":[{"role":"user","content":"hi","name":"x"}],"tools":[{"function":{"name":"f","parameters":{"properties":{"a":{"type":"string","enum":["x"]}}}}}]}' \
  >"$out/corpus/seed_chat"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  "$out/tokenizer_fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 \
  -print_final_stats=1 "$out/corpus" 2>"$out/fuzz.log" || {
  tail -n 60 "$out/fuzz.log"
  echo "tokenizer fuzz: FAILED (log: $out/fuzz.log)"
  exit 1
}
grep -E '^stat::number_of_executed_units' "$out/fuzz.log" || true
echo "tokenizer fuzz: ok (${SECONDS_TO_RUN}s, no crash, no sanitizer report)"
