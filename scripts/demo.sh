#!/usr/bin/env bash
# The main job on bundled data: set up, build, then analyse a header-faithful Granite 3.3 2B.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
./build/vfgen model granite-3.3-2b-instruct build/demo/granite-3.3-2b-instruct >/dev/null
./build/vramfit inspect build/demo/granite-3.3-2b-instruct
