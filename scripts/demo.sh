#!/usr/bin/env bash
# The main job on bundled data: set up, build, then estimate SFT memory for Granite 3.3 2B Instruct
# from its bundled header snapshot (the Training Hub article's example: 2 GPUs x 48 GiB, 8192 tokens
# per GPU). Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
./build/vramfit estimate testdata/snapshots/granite-3.3-2b-instruct.vfsnap \
  --method sft --gpus 2 --gpu-memory 48GiB --max-tokens-per-gpu 8192
