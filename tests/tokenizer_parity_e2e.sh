#!/usr/bin/env bash
# Parity of `tollgate count --ids` with npm tiktoken (the oracle) on the texts in
# tests/tokenizer/texts, on seeded random Unicode strings and, when present, on the shared
# corpus: identical token ids for cl100k_base and o200k_base, with special tokens as plain
# text and allowed. Also checks the output formats of `tollgate count`.
# Usage: bash tests/tokenizer_parity_e2e.sh path/to/tollgate
set -euo pipefail
TOLLGATE=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/tokenizer"
npm ci --no-audit --no-fund --silent >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SEED=${TOKENIZER_PARITY_SEED:-20261122}
node random_texts.js "$SEED" 3000 "$tmp/rand"
files=(texts/* "$tmp"/rand/*)
corpus="$here/../../shared/corpus"
if [ -d "$corpus" ]; then files+=("$corpus"/*.txt); fi

fail=0
compare() {  # compare NAME WANT GOT FILES...
  local name=$1 want=$2 got=$3
  shift 3
  if ! cmp -s "$want" "$got"; then
    local line arr=("$@")
    line=$(cmp "$want" "$got" 2>&1 | sed -n 's/.* line \([0-9]*\).*/\1/p' | head -1)
    echo "FAIL $name: ids differ for ${arr[$((${line:-1} - 1))]:-?}"
    fail=1
  else
    echo "ok   $name ($# inputs)"
  fi
}
for enc in cl100k_base o200k_base; do
  node oracle.js "$enc" "${files[@]}" >"$tmp/want"
  "$TOLLGATE" count --ids --encoding "$enc" "${files[@]}" >"$tmp/got"
  compare "$enc" "$tmp/want" "$tmp/got" "${files[@]}"
  node oracle.js "$enc" --allow-special "${files[@]}" >"$tmp/want"
  "$TOLLGATE" count --ids --allow-special --encoding "$enc" "${files[@]}" >"$tmp/got"
  compare "$enc --allow-special" "$tmp/want" "$tmp/got" "${files[@]}"
done

expect() {  # expect NAME WANT GOT
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: want [$2] got [$3]"
    fail=1
  else
    echo "ok   $1"
  fi
}
expect "one input prints a bare number" "2" "$(printf 'hello world' | "$TOLLGATE" count --encoding cl100k_base)"
expect "stdin ids" "15339 1917" "$(printf 'hello world' | "$TOLLGATE" count --ids --encoding cl100k_base)"
printf 'hello world' >"$tmp/a.txt"
printf 'hello' >"$tmp/b.txt"
expect "several inputs print COUNT FILE" "$(printf '2 %s\n1 %s' "$tmp/a.txt" "$tmp/b.txt")" \
  "$("$TOLLGATE" count --model gpt-4o "$tmp/a.txt" "$tmp/b.txt")"
expect "--ids prints one line per input" "$(printf '24912 2375\n24912')" \
  "$("$TOLLGATE" count --ids --model gpt-4o "$tmp/a.txt" "$tmp/b.txt")"
expect "special-token text is plain text by default" "7" \
  "$(printf '<|endoftext|>' | "$TOLLGATE" count --model gpt-4)"
expect "--allow-special" "100257" "$(printf '<|endoftext|>' | "$TOLLGATE" count --ids --allow-special --model gpt-4)"
if "$TOLLGATE" count --model no-such-model "$tmp/a.txt" >/dev/null 2>&1; then
  echo "FAIL unknown model must fail"
  fail=1
fi
exit $fail
