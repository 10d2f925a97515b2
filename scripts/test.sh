#!/usr/bin/env bash
# Every test: set up, build with warnings as errors and run the suite, then build again with
# AddressSanitizer + UndefinedBehaviorSanitizer and run the whole suite a second time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/setup.sh build
(cd build && ctest --output-on-failure -j"$jobs")

bash scripts/setup.sh build-asan -DVF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs")
