#!/usr/bin/env bash
# Side-by-side benchmark of `vramfit inspect --json`, in one run, against:
#   - the I/O floor of the same job (bench/floor.c: open every shard, read its 8-byte length and
#     header, close it, read the index; no parsing; 2 threads),
#   - bench/baseline.py (standard-library Python doing the same job),
#   - what fresh memory costs on the machine (bench/faults.c: a page fault per 4 KiB or 2 MiB),
#   - the Rust `safetensors` crate's read_metadata, when the crate is available offline (it is not
#     on a machine without a crates registry: the script says so),
# with vramfit's peak RSS against the bound 2 x header bytes + 8 MiB; then the other commands that
# read a whole checkpoint (adapters, estimate, plan, audit) against inspect on a ~100k-tensor one
# (target: each within 2x of inspect); then bench/hash.sh (verify --data against cat, verify --sha256
# against sha256sum). Runs alternate; figures are medians; ratios come from the same run.
#   usage: bench/run.sh [RUNS (default 15)] [MODEL...]   (default: deepseek-v3 llama-3.1-8b)
#   env:   VF_BENCH_BUILD (default /tmp/build-bench), VF_BENCH_DATA (default /tmp/vramfit-bench),
#          VF_BENCH_BIG (the ~100k-tensor model, default deepseek-v3-fp8; empty: skip that part),
#          VF_BENCH_HASH ("RUNS FILES SIZE_MIB" for bench/hash.sh, default "5 2 1024"; empty: skip it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
shift || true
models=("$@")
((${#models[@]})) || models=(deepseek-v3 llama-3.1-8b)
build=${VF_BENCH_BUILD:-/tmp/build-bench}
data=${VF_BENCH_DATA:-/tmp/vramfit-bench}
big=${VF_BENCH_BIG-deepseek-v3-fp8}

# Release build of the CLI and the generator (no sanitizers, no tests); the floor with the same compiler.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVF_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target vramfit vfgen -j"$(nproc)" >/dev/null
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
"${cc:-cc}" -O2 -std=c11 -pthread -o "$build/vf_floor" "$root/bench/floor.c"
"${cc:-cc}" -O2 -std=c11 -o "$build/vf_faults" "$root/bench/faults.c"
gen() { # gen NAME: the generated checkpoint, written once
  [ -f "$data/$1/.complete" ] || { rm -rf "${data:?}/$1"; "$build/vfgen" model "$1" "$data/$1" >/dev/null && touch "$data/$1/.complete"; }
}
for m in "${models[@]}"; do gen "$m"; done
adapter=
if [ -n "$big" ]; then
  gen "$big"
  adapter=$data/$big-lora # a LoRA adapter of the attention projections (small: real bytes)
  [ -f "$adapter/.complete" ] || { rm -rf "$adapter"; "$build/vfgen" adapter "$data/$big" "$adapter" --r 8 \
    --targets q_proj,k_proj,v_proj,o_proj,q_a_proj,q_b_proj,kv_a_proj_with_mqa,kv_b_proj >/dev/null && touch "$adapter/.complete"; }
fi

# The Rust reference needs the `safetensors` crate: a crates registry or Debian's librust-safetensors-dev.
rust_note="Rust safetensors: not built (no crates registry offline and no Debian package librust-safetensors-dev; see BENCHMARKS.md)"
if ls -d "$HOME"/.cargo/registry/src/*/safetensors-* /usr/share/cargo/registry/safetensors-* >/dev/null 2>&1; then
  rust_note="Rust safetensors: the crate is present, but bench/ has no Rust driver yet: not run"
fi

# The real interpreter: `python3` on PATH may be a pyenv shim that adds ~90 ms per start.
py=$(python3 -c 'import sys; print(sys.executable)')
"$py" - "$build/vramfit" "$build/vf_floor" "$root/bench/baseline.py" "$runs" "$data" "$big" "$adapter" \
  "$rust_note" "${models[@]}" <<'PY'
import json, os, platform, statistics, struct, subprocess, sys, tempfile, time

vramfit, floor, baseline, runs, data, big, adapter, rust_note = sys.argv[1:9]
runs, models = int(runs), sys.argv[9:]
py = sys.executable

def peak_rss_kib(argv):
    """Peak RSS of one run through GNU time: a child of this Python process would report at least
    Python's own RSS (Linux keeps the pre-exec high-water mark across exec). The small `time`
    process adds its own ~1 MiB, reported as the floor (the same measure of /bin/true)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE).stderr
    return int(out.split()[-1])

def run(argv, ok=(0,), sink="pipe"):
    """Wall seconds and stdout of one run (process start to exit). sink "pipe": stdout is read
    through a pipe by this process (the output is returned); "null": stdout is /dev/null (the
    command's own time, without the transport of its output; b"" is returned)."""
    r, w = os.pipe() if sink == "pipe" else (None, None)
    actions = [(os.POSIX_SPAWN_DUP2, w, 1)] if w is not None else [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    if ok != (0,):  # an accepted failure (audit's differences): its message is not news
        actions.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    out = b""
    if w is not None:
        os.close(w)
        out = b"".join(iter(lambda: os.read(r, 1 << 16), b""))
    _, status, _ = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if r is not None:
        os.close(r)
    if os.waitstatus_to_exitcode(status) not in ok:
        sys.exit(f"failed: {' '.join(argv)}")
    return wall, out

def alternate(jobs, sinks=("pipe",)):
    """jobs: name -> (argv, accepted exit codes). Each run once to warm the page cache, then
    `runs` rounds of all of them in turn, once per sink; returns (name, sink) -> (median seconds,
    last stdout)."""
    for argv, ok in jobs.values():
        run(argv, ok)
    times, outs = {(k, s): [] for k in jobs for s in sinks}, {}
    for _ in range(runs):
        for k, (argv, ok) in jobs.items():
            for s in sinks:
                t, outs[k, s] = run(argv, ok, s)
                times[k, s].append(t)
    return {ks: (statistics.median(v), outs[ks]) for ks, v in times.items()}

def header_bytes(d):
    total = 0
    for n in os.listdir(d):
        if n.endswith(".safetensors"):
            with open(os.path.join(d, n), "rb") as f:
                total += struct.unpack("<Q", f.read(8))[0]
    return total

def ms(s):
    return f"{s * 1e3:.1f}"

print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
      f"python {platform.python_version()}; {runs} alternating runs, medians; load average "
      f"{os.getloadavg()[0]:.1f} at the start; peak RSS floor of /usr/bin/time itself: "
      f"{peak_rss_kib(['/bin/true']) / 1024:.1f} MiB")
faults = subprocess.run([os.path.join(os.path.dirname(floor), "vf_faults")], capture_output=True,
                        text=True, check=True).stdout.split()
print(f"fresh memory (bench/faults.c, first write per page, median of 7): {faults[1]} ms/MiB in 4 KiB "
      f"pages, {faults[3]} ms/MiB in transparent huge pages")
print(rust_note + "\n")
print("| checkpoint | shards | tensors | header bytes | floor (ms) | inspect (ms) | inspect / floor | "
      "Python (ms) | Python / inspect | inspect peak RSS | bound 2xH+8MiB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for m in models:
    d = os.path.join(data, m)
    r = alternate({"floor": ([floor, d, "2"], (0,)), "inspect": ([vramfit, "inspect", "--json", d], (0,)),
                   "python": ([py, baseline, d], (0,))})
    r = {k: v for (k, _), v in r.items()}
    a, b = json.loads(r["inspect"][1]), json.loads(r["python"][1])
    files, hb_read = map(int, r["floor"][1].split())
    hb = header_bytes(d)
    if files != a["files"] or hb_read != hb:
        sys.exit(f"{m}: the floor read {files} files and {hb_read} header bytes, expected {a['files']} and {hb}")
    for k in ("files", "tensors", "bytes"):
        if a[k] != b[k]:
            sys.exit(f"{m}: {k} differs: vramfit {a[k]}, baseline {b[k]}")
    if a["parameters"] + a["buffers"] != b["parameters"]:
        sys.exit(f"{m}: parameters differ: vramfit {a['parameters']}+{a['buffers']}, baseline {b['parameters']}")
    rss = max(peak_rss_kib([vramfit, "inspect", "--json", d]) for _ in range(3))
    bound = 2 * hb + 8 * 1024 * 1024
    tf, tv, tp = r["floor"][0], r["inspect"][0], r["python"][0]
    print(f"| {m} | {a['files']} | {a['tensors']} | {hb / 1e6:.2f} MB | {ms(tf)} | {ms(tv)} | {tv / tf:.2f}x | "
          f"{ms(tp)} | {tp / tv:.1f}x | {rss / 1024:.1f} MiB | {bound / 2**20:.1f} MiB "
          f"{'ok' if rss * 1024 <= bound else 'EXCEEDED'} |")

if big:
    d = os.path.join(data, big)
    hw = ["--gpu-memory", "80GiB", "--gpus", "8"]
    jobs = {"inspect --json": ([vramfit, "inspect", "--json", d], (0,)),
            "adapters --json --target all-linear": ([vramfit, "adapters", "--json", "--target", "all-linear", d], (0,)),
            "estimate --json --method all --max-tokens-per-gpu 4096": (
                [vramfit, "estimate", "--json", "--method", "all", "--max-tokens-per-gpu", "4096", *hw, d], (0,)),
            "plan --json": ([vramfit, "plan", "--json", *hw, d], (0,)),
            # exit 5: the generated adapter also targets the MTP layer transformers drops (a difference)
            "audit --json --base": ([vramfit, "audit", "--json", "--base", d, adapter], (0, 5))}
    # Timed with stdout to /dev/null: the command's own work. Through a pipe too: a 13 MB document
    # takes tens of ms to cross a pipe to a reader on this kind of VM by itself (BENCHMARKS.md).
    r = alternate(jobs, ("null", "pipe"))
    tensors = json.loads(r["inspect --json", "pipe"][1])["tensors"]
    ti, tip = r["inspect --json", "null"][0], r["inspect --json", "pipe"][0]
    print(f"\n{big} ({tensors} tensors); hardware {' '.join(hw)}; audit of a LoRA adapter of the attention "
          f"projections against it; target: each within 2x of inspect (stdout to /dev/null: the command's own "
          f"time; through a pipe read by this script: with the transport of its output)\n")
    print("| command | median (ms) | / inspect | through a pipe (ms) | / inspect | output | peak RSS | within 2x |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for k, (argv, ok) in jobs.items():
        t, tp, out = r[k, "null"][0], r[k, "pipe"][0], r[k, "pipe"][1]
        rss = peak_rss_kib(argv)
        print(f"| `{k}` | {ms(t)} | {t / ti:.2f}x | {ms(tp)} | {tp / tip:.2f}x | {len(out) / 1e6:.2f} MB | "
              f"{rss / 1024:.1f} MiB | {'yes' if t <= 2 * ti else 'NO'} |")
    # The transport alone: `cat` of a file as large as the adapters document, both ways.
    doc = r["adapters --json --target all-linear", "pipe"][1]
    with tempfile.NamedTemporaryFile(prefix="vf-bench-", suffix=".json") as f:
        f.write(doc)
        f.flush()
        c = alternate({"cat": (["/bin/cat", f.name], (0,))}, ("null", "pipe"))
    print(f"\nthe transport alone: `cat` of a {len(doc) / 1e6:.2f} MB file (the adapters document, page cache "
          f"warm): {ms(c['cat', 'null'][0])} ms to /dev/null, {ms(c['cat', 'pipe'][0])} ms through the same pipe")
PY

# The integrity reads in the same run: verify --data against cat, verify --sha256 against sha256sum
# (bench/hash.sh; VF_BENCH_HASH="RUNS FILES SIZE_MIB", default "5 2 1024": with 512 MiB files the
# 10 ms resolution of the timings is 10-15 % of a one-shard run; empty: skip).
hash_args=${VF_BENCH_HASH-5 2 1024}
if [ -n "$hash_args" ]; then
  echo
  # shellcheck disable=SC2086 # three numbers, split on purpose
  VF_BENCH_BUILD="$build" VF_BENCH_DATA="$data" bash "$root/bench/hash.sh" $hash_args
fi
