#!/bin/bash
# The Python package installed the ordinary way, offline: a venv (Debian's python3, system site
# packages for cffi), the library installed into the venv's prefix (`cmake --install --prefix`),
# `pip install --no-build-isolation --no-index` of python/, then a ping/pong run from outside the
# source tree with no ZTCORE_* variable: the package finds <sys.prefix>/lib/libztcore.so itself.
# usage: venv.sh <build dir> <source root>
# ZTCORE_RUN_PRELOAD (ASan builds): LD_PRELOAD for the python run only.
set -eu
build=$(realpath "$1") root=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
cmake --install "$build" --prefix "$tmp/venv" >/dev/null
cp -rL "$root/python" "$tmp/src"  # pip builds in place: keep the source tree clean; -L: the header link
"$tmp/venv/bin/pip" install -q --no-cache-dir --no-build-isolation --no-index --disable-pip-version-check "$tmp/src"
cp "$root/tests/install/pingpong.py" "$tmp/pingpong.py"
rm -rf "$tmp/src"
cd "$tmp"
unset ZTCORE_LIB ZTCORE_HEADER PYTHONPATH
env ${ZTCORE_RUN_PRELOAD:+LD_PRELOAD="$ZTCORE_RUN_PRELOAD"} "$tmp/venv/bin/python" pingpong.py "$tmp/venv"
