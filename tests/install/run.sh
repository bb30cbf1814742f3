#!/bin/bash
# `cmake --install` into a temporary prefix, then an out-of-tree consumer (tests/install/consumer)
# configured against it with find_package(ztcore) and pkg-config, built and run.
# usage: run.sh <build dir> <source root> [cmake flags for the consumer...]
set -eu
build=$1 root=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
lib=$(ls "$tmp"/prefix/lib*/libztcore.so.*.*.* "$tmp"/prefix/lib/*/libztcore.so.*.*.* 2>/dev/null | head -1)
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
echo "installed $lib (SONAME $soname)"
[ "$soname" = libztcore.so.1 ] || { echo "unexpected SONAME '$soname'"; exit 1; }
for f in include/ztcore/ztcore.h include/ztcore/ztcore.hpp; do [ -f "$tmp/prefix/$f" ] || { echo "missing $f"; exit 1; }; done
PKG_CONFIG_PATH=$(dirname "$(find "$tmp/prefix" -name ztcore.pc)") \
  cmake -S "$root/tests/install/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" "$@" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
# The consumers find the installed library without LD_LIBRARY_PATH (CMake's build RPATH).
for exe in consumer_c consumer_cmake consumer_pkgconfig; do
  ldd "$tmp/consumer/$exe" | grep -q "$tmp/prefix" || { echo "$exe does not load the installed library"; exit 1; }
  "$tmp/consumer/$exe"
done
echo "OK: installed ztcore used through find_package and pkg-config"
