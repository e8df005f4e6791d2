#!/usr/bin/env bash
# Token-counting benchmark: tollgate's tokenizer against npm tiktoken (WASM), js-tiktoken
# and gpt-tokenizer, in one run, each pinned to the same single core.
#   1. the shared corpus (../shared/corpus beside the repository), cl100k_base and o200k_base:
#      MB/s of each tool's best pass over ROUNDS interleaved rounds of SECONDS_PER_TOOL
#      (the same rule for every tokenizer), and the ratio to each peer;
#   2. single words of random letters (one pre-split piece): 100 KB, 1 MB and 10 MB for
#      tollgate, 100 KB for the peers (they are quadratic in the word length).
# Usage: bench/tokenizer/run.sh [CORPUS_DIR]    (env: CORE=1 SECONDS_PER_TOOL=2 ROUNDS=3)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
corpus=${1:-$root/../shared/corpus}
CORE=${CORE:-1}
SECONDS_PER_TOOL=${SECONDS_PER_TOOL:-2}
ROUNDS=${ROUNDS:-3}
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

echo "## Corpus: ${#files[@]} files, $(cat "${files[@]}" | wc -c) bytes; core $CORE"
echo
echo "Each figure is the best pass of the tool over $ROUNDS rounds; in every round each tool"
echo "runs passes for ${SECONDS_PER_TOOL}s (at least 3, after a warm-up pass), one tool after"
echo "the other, so a burst of load from elsewhere cannot favour one of them. js-tiktoken runs"
echo "one round."
echo
echo "| encoding | tokenizer | MB/s | tokens | tollgate speed-up |"
echo "| --- | --- | ---: | ---: | ---: |"
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
for enc in cl100k_base o200k_base; do
  declare -A mbps=() toks=()
  for round in $(seq "$ROUNDS"); do
    for tool in tollgate gpt-tokenizer tiktoken js-tiktoken; do
      [ "$tool" = js-tiktoken ] && [ "$round" -gt 1 ] && continue
      if [ "$tool" = tollgate ]; then
        read -r rate tokens _ < <(run "$bin" corpus "$enc" "${SECONDS_PER_TOOL}s" "${files[@]}")
      else
        read -r rate tokens _ < <(cd "$here" && run node peers.js "$tool" "$enc" "${SECONDS_PER_TOOL}s" "${files[@]}")
      fi
      mbps[$tool]=$(best "${mbps[$tool]:-0}" "$rate")
      toks[$tool]=$tokens
    done
  done
  echo "| $enc | tollgate | ${mbps[tollgate]} | ${toks[tollgate]} | |"
  for tool in gpt-tokenizer tiktoken js-tiktoken; do
    ratio=$(awk -v a="${mbps[tollgate]}" -v b="${mbps[$tool]}" 'BEGIN { printf "%.1fx", a / b }')
    echo "| $enc | $tool | ${mbps[$tool]} | ${toks[$tool]} | $ratio |"
  done
  unset mbps toks
done
echo
echo "## One word of random letters (seconds; tollgate: best of 3 processes, each one cold pass; peers: one pass)"
echo
echo "| encoding | tokenizer | 100 KB | 1 MB | 10 MB |"
echo "| --- | --- | ---: | ---: | ---: |"
for size in 100000 1000000 10000000; do node "$here/words.js" "$size" "$tmp/word_$size.txt"; done
for enc in cl100k_base o200k_base; do
  row="| $enc | tollgate |"
  for size in 100000 1000000 10000000; do
    seconds=
    for attempt in 1 2 3; do  # best of three fresh processes: cold caches every time
      read -r _ _ _ t < <(run "$bin" corpus "$enc" 1 "$tmp/word_$size.txt")
      seconds=$(awk -v a="${seconds:-1e9}" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
    done
    row+=" $seconds |"
  done
  echo "$row"
  for peer in gpt-tokenizer tiktoken; do
    read -r _ _ seconds < <(cd "$here" && run node peers.js "$peer" "$enc" 0 "$tmp/word_100000.txt")
    echo "| $enc | $peer | $seconds | not run | not run |"
  done
done
