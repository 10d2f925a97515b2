#!/usr/bin/env bash
# Side-by-side benchmark of the integrity reads, page cache warm: `vramfit verify --sha256` against
# coreutils' sha256sum over the same files, and `vramfit verify --data` (XXH3-128) against `cat` (the
# read floor) and xxh128sum. The data is a Hugging Face cache layout (blobs named by their SHA-256,
# snapshot links) holding FILES safetensors shards of SIZE_MIB MiB of random bytes each.
#   usage: bench/hash.sh [RUNS (default 5)] [FILES (default 2)] [SIZE_MIB (default 1024)]
#   env:   VF_BENCH_BUILD (default /tmp/build-bench), VF_BENCH_DATA (default /tmp/vramfit-bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
files=${2:-2}
mib=${3:-1024}
build=${VF_BENCH_BUILD:-/tmp/build-bench}
data=${VF_BENCH_DATA:-/tmp/vramfit-bench}/hash-finite-$files-$mib

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVF_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target vramfit -j"$(nproc)" >/dev/null

rev=0123456789abcdef0123456789abcdef01234567
repo=$data/hub/models--bench--random
snap=$repo/snapshots/$rev
if [ ! -f "$data/.complete" ]; then
  rm -rf "$data"
  mkdir -p "$repo/blobs" "$repo/refs" "$snap"
  printf %s "$rev" >"$repo/refs/main"
  for ((i = 1; i <= files; i++)); do
    name=$(printf 'model-%05d-of-%05d.safetensors' "$i" "$files")
    tmp=$repo/blobs/tmp
    # one F32 tensor covering SIZE_MIB MiB: an 8-byte length (128), the header padded to 128 bytes, data
    elems=$((mib * 262144))
    hdr=$(printf '{"w%d":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}' "$i" "$elems" $((elems * 4)))
    hdr=$(printf '%-128s' "$hdr")
    # random bytes with no 0x7f/0xff byte: no F32 has an all-ones exponent, so every value is finite
    # like real weights (the NaN/Inf scan takes its fast path, as it does on a real checkpoint)
    { printf '\x80\x00\x00\x00\x00\x00\x00\x00'; printf %s "$hdr"; head -c $((mib << 20)) /dev/urandom | tr '\177\377' '\077\277'; } >"$tmp"
    sha=$(sha256sum "$tmp" | cut -d' ' -f1)
    mv "$tmp" "$repo/blobs/$sha"
    ln -s "../../blobs/$sha" "$snap/$name"
  done
  touch "$data/.complete"
fi

# median wall seconds of RUNS runs of a command (stdout discarded)
median() {
  local t=()
  for ((r = 0; r < runs; r++)); do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null
    e=$(date +%s.%N)
    t+=("$(echo "$e - $s" | bc)")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

bytes=$(cat "$snap"/* | wc -c)
cat "$snap"/* >/dev/null # warm the page cache
echo "machine: $(uname -m), $(nproc) CPUs, $(uname -sr); $files files x $mib MiB = $bytes bytes; $runs runs, medians;" \
  "load average $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| job | command | seconds | GB/s | ratio to peer |"
echo "|---|---|---:|---:|---:|"
row() { # job command seconds peer-seconds
  printf '| %s | `%s` | %.3f | %.2f | %s |\n' "$1" "$2" "$3" "$(echo "$bytes / $3 / 1000000000" | bc -l)" "$4"
}
t_cat=$(median cat "$snap"/*)
row "read floor" "cat FILES" "$t_cat" "-"
t_sum=$(median sha256sum "$snap"/*)
row "SHA-256 peer" "sha256sum FILES" "$t_sum" "-"
t_vf=$(median env HF_HUB_CACHE="$data/hub" "$build/vramfit" verify bench/random --sha256)
row "SHA-256" "vramfit verify --sha256" "$t_vf" "$(printf '%.2fx faster than sha256sum' "$(echo "$t_sum / $t_vf" | bc -l)")"
if command -v xxh128sum >/dev/null; then
  t_xxh=$(median xxh128sum "$snap"/*)
  row "XXH3 peer" "xxh128sum FILES" "$t_xxh" "-"
fi
t_data=$(median env HF_HUB_CACHE="$data/hub" "$build/vramfit" verify bench/random --data --no-sha256)
row "XXH3-128 + scans" "vramfit verify --data --no-sha256" "$t_data" "$(printf '%.0f%% of the cat read rate' "$(echo "100 * $t_cat / $t_data" | bc -l)")"
