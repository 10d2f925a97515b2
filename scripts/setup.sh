#!/usr/bin/env bash
# Installs what is missing (Debian packages only), then configures and builds vramfit.
# Usage: scripts/setup.sh [BUILD_DIR [extra cmake args...]]   (default BUILD_DIR: build)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake gcc make pkg-config libcjson-dev zlib1g-dev libxxhash-dev libssl-dev libpcre2-dev libcriterion-dev python3 python3-setuptools python3-wheel python3-venv python3-pip binutils libxml2-utils librsvg2-bin groff-base)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -DVF_WERROR=ON -DVF_BUILD_TESTS=ON "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
