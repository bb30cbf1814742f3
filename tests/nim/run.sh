#!/bin/bash
# Compiles a Nim program against bindings/nim and the built libztcore.so, then runs it.
# usage: run.sh <nim> <source.nim> <output> <dir of libztcore.so> <source root>
# ZTCORE_NIM_SANITIZE (ASan builds, e.g. "address,undefined"): the program is compiled with
# -fsanitize too. Not LD_PRELOAD of libasan into an uninstrumented program: libztcore.so pulls in
# libp11-kit (through libpq), whose constructor then runs before glibc's locale lock is usable and
# the program hangs at exit in p11-kit's destructor (seen in CI: nim_binding_test timed out).
set -eu
nim=$1 src=$2 out=$3 libdir=$4 root=$5
san=${ZTCORE_NIM_SANITIZE:+-fsanitize=$ZTCORE_NIM_SANITIZE}
"$nim" c --hints:off --warnings:off --threads:on --mm:orc -d:useMalloc \
  --nimcache:"$out.nimcache" --path:"$root/bindings/nim" --passC:"-I$root/include $san" \
  --passL:"$san -L$libdir -Wl,-rpath,$libdir" -o:"$out" "$src"
exec "$out"
