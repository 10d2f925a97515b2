#!/usr/bin/env bash
# Side-by-side benchmark of the integrity reads, page cache warm: `vramfit verify --data` (XXH3-128
# and the NaN/Inf/zero scans) against `cat` (the read floor), over all shards and over one, beside
# xxh128sum when installed, and `vramfit verify --sha256` against coreutils' sha256sum. The data is a Hugging Face cache layout (blobs named by their SHA-256,
# snapshot links) holding FILES safetensors shards of SIZE_MIB MiB of random bytes each.
#   usage: bench/hash.sh [RUNS (default 5)] [FILES (default 2)] [SIZE_MIB (default 1024)]
#   env:   VF_BENCH_BUILD (default /tmp/build-bench), VF_BENCH_DATA (default /tmp/vramfit-bench),
#          VF_BENCH_BEFORE (optional: another vramfit binary, timed beside this one)
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

# "WALL CPU": the median wall seconds and the median CPU seconds (user + system, all threads) of RUNS
# runs of a command (stdout discarded); wall from the clock around it (time's own start included,
# the same for every row), CPU from time (10 ms steps). CPU seconds hardly move with the load of a
# shared machine; wall seconds do, hence the load average in the machine line.
median() {
  local w=() c=() tf
  tf=$(mktemp)
  for ((r = 0; r < runs; r++)); do
    local t0 t1
    t0=$(date +%s%N) # wall to the nanosecond (time's %e has 10 ms steps: 10 % of a one-shard run)
    /usr/bin/time -f '%e %U %S' -o "$tf" "$@" >/dev/null
    t1=$(date +%s%N)
    read -r e u s <"$tf"
    w+=("$(echo "scale=6; ($t1 - $t0) / 1000000000" | bc)")
    c+=("$(echo "$u + $s" | bc)")
  done
  rm -f "$tf"
  local mw mc
  mw=$(printf '%s\n' "${w[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  mc=$(printf '%s\n' "${c[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  echo "$mw $mc"
}

first=$(ls "$snap"/* | head -1)
bytes=$(cat "$snap"/* | wc -c)
bytes1=$(wc -c <"$first")
cat "$snap"/* >/dev/null # warm the page cache
echo "machine: $(uname -m), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(uname -sr);" \
  "$files files x $mib MiB = $bytes bytes; $runs runs, medians; load average $(cut -d' ' -f1 /proc/loadavg) at start"
echo
echo "| job | command | wall s | GB/s | CPU s | against the peer (wall) |"
echo "|---|---|---:|---:|---:|---:|"
row() { # job command "wall cpu" bytes against
  local w c
  read -r w c <<<"$3"
  printf '| %s | `%s` | %.3f | %.2f | %.2f | %s |\n' "$1" "$2" "$w" "$(echo "$4 / $w / 1000000000" | bc -l)" "$c" "$5"
}
pct() { printf '%.0f %% of the `cat` rate' "$(echo "100 * $1 / $2" | bc -l)"; }
vf=(env HF_HUB_CACHE="$data/hub" "$build/vramfit")
wall() { echo "${1%% *}"; }

t_cat=$(median cat "$snap"/*)
row "read floor" "cat FILES" "$t_cat" "$bytes" "-"
t_data=$(median "${vf[@]}" verify bench/random --data --no-sha256 -q)
row "XXH3-128 + scans, $files shards" "vramfit verify --data --no-sha256" "$t_data" "$bytes" "$(pct "$(wall "$t_cat")" "$(wall "$t_data")")"
if [ -n "${VF_BENCH_BEFORE:-}" ]; then # an older vramfit binary, for before/after in one run
  t_old=$(median env HF_HUB_CACHE="$data/hub" "$VF_BENCH_BEFORE" verify bench/random --data --no-sha256 -q)
  row "the same, before" "$VF_BENCH_BEFORE verify --data --no-sha256" "$t_old" "$bytes" "$(pct "$(wall "$t_cat")" "$(wall "$t_old")")"
fi
t_cat1=$(median cat "$first")
row "read floor, one shard" "cat FILE" "$t_cat1" "$bytes1" "-"
t_data1=$(median "${vf[@]}" verify "$first" --data --no-sha256 -q)
row "XXH3-128 + scans, one shard" "vramfit verify FILE --data --no-sha256" "$t_data1" "$bytes1" "$(pct "$(wall "$t_cat1")" "$(wall "$t_data1")")"
if command -v xxh128sum >/dev/null; then
  t_xxh=$(median xxh128sum "$snap"/*)
  row "XXH3 peer" "xxh128sum FILES" "$t_xxh" "$bytes" "$(pct "$(wall "$t_cat")" "$(wall "$t_xxh")")"
fi
t_sum=$(median sha256sum "$snap"/*)
row "SHA-256 peer" "sha256sum FILES" "$t_sum" "$bytes" "-"
t_vf=$(median "${vf[@]}" verify bench/random --sha256 -q)
row "SHA-256" "vramfit verify --sha256" "$t_vf" "$bytes" \
  "$(printf '%.2fx faster than sha256sum' "$(echo "$(wall "$t_sum") / $(wall "$t_vf")" | bc -l)")"
