#!/usr/bin/env bash
# Regenerates data/encodings/{cl100k_base,o200k_base}.tiktoken from the rank data that the
# npm package `tiktoken` ships (encoders/*.json), verifying the package tarball and the
# converted files against pinned checksums. The converted files are byte-identical to the
# .tiktoken files OpenAI publishes for its tiktoken library (same SHA-256).
# Usage: tools/fetch-encodings.sh   (needs node and npm)
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=tiktoken
VERSION=1.0.22
TARBALL_SHA256=55c339e756fdb17604f7c7e3eb35d2bcbffe4d960e8096e50285d1cefa51dd90
declare -A WANT=(
  [cl100k_base]=223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7
  [o200k_base]=446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null)
tarball="$tmp/$PKG-$VERSION.tgz"
echo "$TARBALL_SHA256  $tarball" | sha256sum -c --quiet -
tar -xzf "$tarball" -C "$tmp"
for enc in cl100k_base o200k_base; do
  node tools/tiktoken-json-to-ranks.js "$tmp/package/encoders/$enc.json" >"$tmp/$enc.tiktoken"
  echo "${WANT[$enc]}  $tmp/$enc.tiktoken" | sha256sum -c --quiet -
  mkdir -p data/encodings
  cp "$tmp/$enc.tiktoken" "data/encodings/$enc.tiktoken"
  echo "data/encodings/$enc.tiktoken: $(wc -l <"data/encodings/$enc.tiktoken") ranks, sha256 ${WANT[$enc]}"
done
