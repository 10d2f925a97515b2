#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds examples/consumer.c against it twice:
# with pkg-config (shared library, SONAME) and with find_package(vramfit) -> vramfit::vramfit.
# Usage: install_consumer.sh BUILD_DIR SOURCE_DIR CHECKPOINT
set -euo pipefail
build=$1 src=$2 ckpt=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name 'libvramfit.so.*' -printf '%h\n' | head -n1)
soname=$(objdump -p "$libdir"/libvramfit.so.*.*.* | awk '/SONAME/ {print $2}')
[ "$soname" = "libvramfit.so.0" ] || { echo "unexpected SONAME '$soname'"; exit 1; }
test -x "$prefix/bin/vramfit"
test -f "$prefix/include/vramfit/vramfit.h"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$prefix/consumer" "$src/examples/consumer.c" $(pkg-config --cflags --libs vramfit)
out=$(LD_LIBRARY_PATH="$libdir" "$prefix/consumer" "$ckpt")
echo "pkg-config consumer: $out"
case "$out" in "vramfit "*" parameters, "*" layers") ;; *) echo "unexpected output"; exit 1 ;; esac

mkdir -p "$prefix/cm"
cat > "$prefix/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(vramfit REQUIRED)
add_executable(consumer "${src}/examples/consumer.c")
target_link_libraries(consumer PRIVATE vramfit::vramfit)
CM
cmake -S "$prefix/cm" -B "$prefix/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cm/build" >/dev/null
out2=$("$prefix/cm/build/consumer" "$ckpt")
echo "find_package consumer: $out2"
[ "$out" = "$out2" ]
echo "1 passed, 0 failed"
