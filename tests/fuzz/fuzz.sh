#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, -DVF_FUZZ=ON, in $VF_FUZZ_BUILD or /tmp/build-fuzz) and runs
# one for SECONDS on its corpus. New inputs go to a scratch corpus, never into the committed one;
# crashes land in $VF_FUZZ_BUILD/artifacts/NAME/. Extra arguments go to libFuzzer.
#   usage: tests/fuzz/fuzz.sh NAME SECONDS [libFuzzer flags...]
#   NAME: safetensors | index | snapshot | adapter_config
set -euo pipefail
if (($# < 2)); then
  sed -n '2,6p' "$0" >&2
  exit 2
fi
name=$1 seconds=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${VF_FUZZ_BUILD:-/tmp/build-fuzz}
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S "$root" -B "$build" -DVF_FUZZ=ON -DVF_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target "fuzz_$name" -j"$(nproc)" >/dev/null
seeds=("$root/tests/fuzz/corpus/$name")
fixtures="$root/testdata/public"
case $name in
  safetensors) for d in safetensors-rs-test-vectors huggingface-safetensors-samples candle; do
                 [ -d "$fixtures/$d" ] && seeds+=("$fixtures/$d"); done ;;
esac
work="$build/corpus-work/$name" artifacts="$build/artifacts/$name"
mkdir -p "$work" "$artifacts"
dict=()
[ -f "$root/tests/fuzz/$name.dict" ] && dict=(-dict="$root/tests/fuzz/$name.dict")
exec "$build/tests/fuzz/fuzz_$name" "$work" "${seeds[@]}" "${dict[@]}" -max_total_time="$seconds" \
  -print_final_stats=1 -artifact_prefix="$artifacts/" -rss_limit_mb=2048 "$@"
