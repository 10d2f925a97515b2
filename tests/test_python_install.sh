#!/bin/bash
# The Python package installs offline with Debian's tooling and works from anywhere with no
# environment variable: `pip install` of the source into a fresh virtual environment, and the
# air-gap workflow (`pip wheel`, then installing only that wheel into another environment). Both run
# Training Hub's example notebook cells (examples/notebooks/memory_estimator_example.ipynb at
# 04ec040, through vramfit.training_hub) on a generated checkpoint from a directory outside the tree.
# usage: test_python_install.sh PYTHON SOURCE_DIR LIBVRAMFIT GEN_DIR
set -euo pipefail
py=$1 src=$2 lib=$3 gen=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_python_install: $*" >&2; exit 1; }

"$py" -c 'import setuptools, wheel, venv, pip' 2>/dev/null ||
    fail "$py lacks setuptools/wheel/venv/pip: install python3-setuptools python3-wheel python3-venv python3-pip"
# a copy of the package sources, so that the in-tree build leaves the checkout untouched
mkdir -p "$tmp/src"
cp -r "$src/python" "$tmp/src/python"
cp "$src/CMakeLists.txt" "$tmp/src/"
rm -rf "$tmp/src/python/tests"
export VRAMFIT_BUNDLE_LIBRARY=$lib PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1

notebook() { # $1 = the venv's python; runs from $tmp/elsewhere with a clean environment
    mkdir -p "$tmp/elsewhere"
    (cd "$tmp/elsewhere" && env -u VRAMFIT_LIBRARY -u VRAMFIT_BUNDLE_LIBRARY -u PYTHONPATH -u LD_LIBRARY_PATH \
        GRANITE="$gen/granite-3.3-2b-instruct" "$1" - <<'PY'
import os, sys
from vramfit.training_hub import BasicEstimator, OSFTEstimator, LoRAEstimator, QLoRAEstimator, estimate
import vramfit, vramfit._core

assert vramfit.__file__.startswith(sys.prefix), vramfit.__file__
assert os.path.dirname(vramfit._core._lib._name) == os.path.dirname(vramfit.__file__), vramfit._core._lib._name
model_path = os.environ["GRANITE"]
num_gpus = 2
gpu_memory = 48 * (2**30)
max_tokens_per_gpu = 8192
unfreeze_rank_ratio = 0.25
lora_r = 32
batch_size = 4
max_seq_len = 4096
sft = BasicEstimator(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path,
                     max_tokens_per_gpu=max_tokens_per_gpu, verbose=2).estimate()
osft = OSFTEstimator(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path,
                     max_tokens_per_gpu=max_tokens_per_gpu, verbose=2,
                     unfreeze_rank_ratio=unfreeze_rank_ratio).estimate()
lora = LoRAEstimator(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path, batch_size=batch_size,
                     max_seq_len=max_seq_len, verbose=2, lora_r=lora_r).estimate()
qlora = QLoRAEstimator(num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path, batch_size=batch_size,
                       max_seq_len=max_seq_len, verbose=2, lora_r=lora_r).estimate()
conv = [estimate(training_method=m, num_gpus=num_gpus, gpu_memory=gpu_memory, model_path=model_path,
                 max_tokens_per_gpu=max_tokens_per_gpu, batch_size=batch_size, max_seq_len=max_seq_len,
                 verbose=2, unfreeze_rank_ratio=unfreeze_rank_ratio, lora_r=lora_r)
        for m in ("sft", "osft", "lora", "qlora")]
assert conv == [sft, osft, lora, qlora], (conv, sft, osft, lora, qlora)
# the article's figures (Training Hub's own numbers for this notebook)
assert [round(x / 2**30, 1) for x in sft] == [25.4, 27.9, 33.0], sft
print("RESULTS", sft, osft, lora, qlora)
PY
    ) > "$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt" >&2; fail "notebook run with $1 failed"; }
    grep -qx "The expected amount of memory needed to run this model is about 55.8 GB" "$tmp/out.txt" ||
        fail "the article's line is missing from the notebook output"
    grep -q "^RESULTS " "$tmp/out.txt" || fail "no results line"
}

# 1. pip install of the source tree into a fresh virtual environment
"$py" -m venv --without-pip --system-site-packages "$tmp/venv1"
"$tmp/venv1/bin/python" -m pip install -q --no-build-isolation "$tmp/src/python" ||
    fail "pip install of the source failed"
notebook "$tmp/venv1/bin/python"

# 2. air gap: build a wheel, install only that wheel elsewhere
"$tmp/venv1/bin/python" -m pip wheel -q --no-build-isolation --no-deps -w "$tmp/wheels" "$tmp/src/python" ||
    fail "pip wheel failed"
whl=$(ls "$tmp/wheels"/vramfit-*.whl)
case $whl in *linux*) ;; *) fail "the wheel bundles a shared library but is not platform-tagged: $whl" ;; esac
"$py" -m venv --without-pip --system-site-packages "$tmp/venv2"
"$tmp/venv2/bin/python" -m pip install -q "$whl" || fail "pip install of the wheel failed"
notebook "$tmp/venv2/bin/python"
echo "test_python_install: ok ($(basename "$whl"))"
