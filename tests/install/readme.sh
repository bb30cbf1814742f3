#!/bin/bash
# The README's "Bindings" snippets really run: its ```cpp block is compiled against the built
# libztcore.so and run, its ```nim block compiled with bindings/nim and run.
# usage: readme.sh <source root> <dir of libztcore.so> <c++ compiler> [nim]
# ZTCORE_NIM_SANITIZE (ASan builds): the nim program is compiled with -fsanitize (see tests/nim/run.sh).
set -eu
root=$1 libdir=$2 cxx=$3 nim=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
block() {  # the first ```$1 block after "## Bindings"
  awk -v lang="$1" '/^## Bindings/ {on=1} on && $0 == "```" lang {inb=1; next} inb && /^```/ {exit} inb {print}' \
    "$root/README.md"
}
block cpp > "$tmp/app.cpp"
block nim > "$tmp/app.nim"
[ -s "$tmp/app.cpp" ] && [ -s "$tmp/app.nim" ] || { echo "README has no cpp/nim block under ## Bindings"; exit 1; }
"$cxx" -std=c++20 ${ZTCORE_CXX_FLAGS:-} -I"$root/include" "$tmp/app.cpp" -L"$libdir" -Wl,-rpath,"$libdir" -lztcore \
  -o "$tmp/app_cpp"
timeout 60 "$tmp/app_cpp"
if [ -n "$nim" ]; then
  san=${ZTCORE_NIM_SANITIZE:+-fsanitize=$ZTCORE_NIM_SANITIZE}
  "$nim" c --hints:off --warnings:off --threads:on --mm:orc -d:useMalloc --nimcache:"$tmp/nimcache" \
    --path:"$root/bindings/nim" --passC:"-I$root/include $san" --passL:"$san -L$libdir -Wl,-rpath,$libdir" \
    -o:"$tmp/app_nim" "$tmp/app.nim"
  timeout 60 "$tmp/app_nim"
fi
echo "OK: README snippets ran"
