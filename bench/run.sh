#!/usr/bin/env bash
# Side-by-side benchmark: `vramfit inspect --json` against bench/baseline.py (standard-library Python
# doing the same job) on header-faithful sparse checkpoints written by the project's generator.
# Runs both alternately RUNS times per model, prints median wall times, the ratio, vramfit's peak RSS
# and the header bytes, and checks that both report the same totals.
#   usage: bench/run.sh [RUNS (default 15)] [MODEL...]   (models: deepseek-v3 llama-3.1-8b llama-3.1-70b)
#   env:   VF_BENCH_BUILD (default /tmp/build-bench), VF_BENCH_DATA (default /tmp/vramfit-bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
shift || true
models=("$@")
((${#models[@]})) || models=(deepseek-v3 llama-3.1-8b llama-3.1-70b)
build=${VF_BENCH_BUILD:-/tmp/build-bench}
data=${VF_BENCH_DATA:-/tmp/vramfit-bench}

# Release build of the CLI and the generator (no sanitizers, no tests).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVF_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target vramfit vfgen -j"$(nproc)" >/dev/null
for m in "${models[@]}"; do
  [ -f "$data/$m/.complete" ] || { rm -rf "${data:?}/$m"; "$build/vfgen" model "$m" "$data/$m" >/dev/null && touch "$data/$m/.complete"; }
done

# The real interpreter: `python3` on PATH may be a pyenv shim that adds ~90 ms per start.
py=$(python3 -c 'import sys; print(sys.executable)')
"$py" - "$build/vramfit" "$root/bench/baseline.py" "$runs" "$data" "${models[@]}" <<'PY'
import json, os, platform, statistics, struct, subprocess, sys, time

vramfit, baseline, runs, data, models = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
py = sys.executable

def peak_rss_kib(argv):
    """Peak RSS of one run through GNU time: a child of this Python process would report at least
    Python's own RSS (Linux keeps the pre-exec high-water mark across exec). The small `time`
    process adds its own ~1 MiB, reported as the floor (the same measure of /bin/true)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, check=True).stderr
    return int(out.split()[-1])

def run(argv):
    """Wall seconds, peak RSS (KiB, see peak_rss_kib: not this one's) and stdout of one run."""
    r, w = os.pipe()
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)])
    os.close(w)
    out = b"".join(iter(lambda: os.read(r, 1 << 16), b""))
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    os.close(r)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(argv)}")
    return wall, ru.ru_maxrss, out

def header_bytes(d):
    total = 0
    for n in os.listdir(d):
        if n.endswith(".safetensors"):
            with open(os.path.join(d, n), "rb") as f:
                total += struct.unpack("<Q", f.read(8))[0]
    return total

print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
      f"python {platform.python_version()}; {runs} alternating runs per model, medians; "
      f"load average {os.getloadavg()[0]:.1f}; peak RSS floor of /usr/bin/time itself: "
      f"{peak_rss_kib(['/bin/true']) / 1024:.1f} MiB\n")
print("| checkpoint | shards | tensors | header bytes | baseline (s) | vramfit (s) | speed-up | "
      "vramfit peak RSS | RSS bound 3xH+8MiB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for m in models:
    d = os.path.join(data, m)
    vf_argv, py_argv = [vramfit, "inspect", "--json", d], [py, baseline, d]
    run(vf_argv), run(py_argv)  # warm the page cache
    vt, pt = [], []
    rss = [peak_rss_kib(vf_argv) for _ in range(3)]
    for _ in range(runs):
        t, _, vf_out = run(vf_argv)
        vt.append(t)
        t, _, py_out = run(py_argv)
        pt.append(t)
    a, b = json.loads(vf_out), json.loads(py_out)
    for k in ("files", "tensors", "bytes"):
        if a[k] != b[k]:
            sys.exit(f"{m}: {k} differs: vramfit {a[k]}, baseline {b[k]}")
    if a["parameters"] + a["buffers"] != b["parameters"]:
        sys.exit(f"{m}: parameters differ: vramfit {a['parameters']}+{a['buffers']}, baseline {b['parameters']}")
    hb = header_bytes(d)
    mv, mp, mr = statistics.median(vt), statistics.median(pt), max(rss)
    bound = 3 * hb + 8 * 1024 * 1024
    print(f"| {m} | {a['files']} | {a['tensors']} | {hb / 1e6:.2f} MB | {mp:.3f} | {mv:.3f} | "
          f"{mp / mv:.1f}x | {mr / 1024:.1f} MiB | {bound / 2**20:.1f} MiB {'ok' if mr * 1024 <= bound else 'EXCEEDED'} |")
PY
