#!/bin/bash
# Compiles a Nim program against bindings/nim and the built libztcore.so, then runs it.
# usage: run.sh <nim> <source.nim> <output> <dir of libztcore.so> <source root>
# ZTCORE_RUN_PRELOAD (ASan builds): LD_PRELOAD for the program only (not for the compiler).
set -eu
nim=$1 src=$2 out=$3 libdir=$4 root=$5
"$nim" c --hints:off --warnings:off --threads:on --mm:orc -d:useMalloc \
  --nimcache:"$out.nimcache" --path:"$root/bindings/nim" --passC:"-I$root/include" \
  --passL:"-L$libdir -Wl,-rpath,$libdir" -o:"$out" "$src"
if [ -n "${ZTCORE_RUN_PRELOAD:-}" ]; then
  exec env LD_PRELOAD="$ZTCORE_RUN_PRELOAD" "$out"
fi
exec "$out"
