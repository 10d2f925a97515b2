#!/usr/bin/env bash
# test_layers.sh - the library's layers depend only downward, checked on the built objects:
# every vf_ symbol a layer's archive leaves undefined must be defined in a layer below it (or in
# itself). A call that points up (format calling checkpoint, tensors calling the estimator, ...)
# fails here even where the static link order would happen to resolve it.
# Usage: test_layers.sh ARCHIVE...   (lowest layer first)
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 ARCHIVE... (lowest layer first)" >&2; exit 2; }
defined=$(mktemp)
trap 'rm -f "$defined"' EXIT
status=0
for lib in "$@"; do
  [ -f "$lib" ] || { echo "test_layers: $lib: no such archive" >&2; exit 2; }
  nm --defined-only -g "$lib" 2>/dev/null | awk 'NF == 3 && $3 ~ /^vf_/ { print $3 }' >>"$defined"
  sort -u -o "$defined" "$defined"
  while read -r sym; do
    echo "test_layers: $(basename "$lib") uses $sym, which no layer at or below it defines" >&2
    status=1
  done < <(nm -u "$lib" 2>/dev/null | awk '$1 == "U" && $2 ~ /^vf_/ { print $2 }' | sort -u | comm -23 - "$defined")
done
[ $status -eq 0 ] && echo "test_layers: $# layers, every dependency points down"
exit $status
