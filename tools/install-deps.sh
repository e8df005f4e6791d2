#!/usr/bin/env bash
# Installs the Debian packages that building and testing tollgate need, when missing.
# Usage: tools/install-deps.sh [build|test|bench]
set -euo pipefail
build_pkgs=(cmake g++ make pkg-config libboost1.81-dev libabsl-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev libssl-dev libpcre2-dev
  libgoogle-perftools-dev zlib1g-dev)
test_pkgs=(libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev nodejs npm
  curl ca-certificates sqlite3)
pkgs=("${build_pkgs[@]}")
bench_pkgs=(wrk nginx-light nodejs npm curl)
[ "${1:-build}" = test ] && pkgs+=("${test_pkgs[@]}")
[ "${1:-build}" = bench ] && pkgs+=("${bench_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from outside Debian's packages; accept them when on PATH.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
