#!/usr/bin/env bash
# Token-counting benchmark: tollgate's tokenizer against npm tiktoken (WASM), js-tiktoken
# and gpt-tokenizer, in one run, each pinned to the same single core.
#   1. the shared corpus (../shared/corpus beside the repository), cl100k_base and o200k_base:
#      MB/s (best of REPEATS passes after a warm-up) and the ratio to each peer;
#   2. single words of random letters (one pre-split piece): 100 KB, 1 MB and 10 MB for
#      tollgate, 100 KB for the peers (they are quadratic in the word length).
# Usage: bench/tokenizer/run.sh [CORPUS_DIR]    (env: CORE=1 REPEATS=5)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
corpus=${1:-$root/../shared/corpus}
CORE=${CORE:-1}
REPEATS=${REPEATS:-5}
build=$root/build-bench
here=$root/bench/tokenizer
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target tokenizer_benchmark >/dev/null
bin=$build/src/tokenizer/tokenizer_benchmark
(cd "$here" && npm ci --no-audit --no-fund --silent >/dev/null)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=("$corpus"/*.txt)
run() { taskset -c "$CORE" "$@"; }

echo "## Corpus: ${#files[@]} files, $(cat "${files[@]}" | wc -c) bytes; core $CORE; best of $REPEATS"
echo
echo "| encoding | tokenizer | MB/s | tokens | tollgate speed-up |"
echo "| --- | --- | ---: | ---: | ---: |"
for enc in cl100k_base o200k_base; do
  read -r ours tokens _ < <(run "$bin" corpus "$enc" "$REPEATS" "${files[@]}")
  echo "| $enc | tollgate | $ours | $tokens | |"
  for peer in gpt-tokenizer tiktoken js-tiktoken; do
    reps=$REPEATS
    [ "$peer" = js-tiktoken ] && reps=1
    read -r theirs ptokens _ < <(cd "$here" && run node peers.js "$peer" "$enc" "$reps" "${files[@]}")
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.1fx", a / b }')
    echo "| $enc | $peer | $theirs | $ptokens | $ratio |"
  done
done
echo
echo "## One word of random letters (seconds, one pass)"
echo
echo "| encoding | tokenizer | 100 KB | 1 MB | 10 MB |"
echo "| --- | --- | ---: | ---: | ---: |"
for size in 100000 1000000 10000000; do node "$here/words.js" "$size" "$tmp/word_$size.txt"; done
for enc in cl100k_base o200k_base; do
  row="| $enc | tollgate |"
  for size in 100000 1000000 10000000; do
    read -r _ _ _ seconds < <(run "$bin" corpus "$enc" 1 "$tmp/word_$size.txt")
    row+=" $seconds |"
  done
  echo "$row"
  for peer in gpt-tokenizer tiktoken; do
    read -r _ _ seconds < <(cd "$here" && run node peers.js "$peer" "$enc" 0 "$tmp/word_100000.txt")
    echo "| $enc | $peer | $seconds | not run | not run |"
  done
done
