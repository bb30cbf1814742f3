"""Loading libztcore.so with cffi (ABI mode).

The declarations are read from ``include/ztcore/ztcore.h`` at import time, so the header stays the
only copy of the C ABI: comments and preprocessor lines are dropped (integer ``#define`` constants are kept,
cffi understands them), ``extern "C"`` guards and the ``ZT_API`` visibility macro are removed.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import sys
from pathlib import Path
from typing import Optional

import cffi

_PKG_DIR = Path(__file__).resolve().parent
_REPO = _PKG_DIR.parent.parent
_SOVERSION = 1  # the SONAME's number: ZTCORE_ABI_VERSION of the header


def _find_header(lib_path: str) -> Path:
    """The C header: $ZTCORE_HEADER, the source tree's, the copy installed with this package, or
    the one `cmake --install` put beside the library (<prefix>/include) or in sys.prefix."""
    candidates = []
    if os.environ.get("ZTCORE_HEADER"):
        candidates.append(Path(os.environ["ZTCORE_HEADER"]))
    candidates.append(_REPO / "include" / "ztcore" / "ztcore.h")
    candidates.append(_PKG_DIR / "ztcore.h")  # an installed copy next to the package
    if os.sep in lib_path:
        candidates.append(Path(lib_path).resolve().parent.parent / "include" / "ztcore" / "ztcore.h")
    candidates.append(Path(sys.prefix) / "include" / "ztcore" / "ztcore.h")
    for c in candidates:
        if c.is_file():
            return c
    raise ImportError("ztcore: cannot find include/ztcore/ztcore.h (looked in: %s); set ZTCORE_HEADER"
                      % ", ".join(str(c) for c in candidates))


def header_to_cdef(text: str) -> str:
    """Turns the C header into text that cffi's cdef() accepts."""
    # Comments go first (keeping the line breaks): one may start on a #define line and go on
    # over the next lines, which are then no directive.
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    out = []
    skip_depth = 0  # > 0 while inside an `#if...__cplusplus` block
    depth = 0
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            directive = s[1:].strip()
            if directive.startswith("if"):  # #if, #ifdef, #ifndef
                depth += 1
                if skip_depth == 0 and "__cplusplus" in directive:
                    skip_depth = depth
            elif directive.startswith("endif"):
                if skip_depth == depth:
                    skip_depth = 0
                depth -= 1
            elif skip_depth == 0:
                m = re.match(r"define\s+(\w+)\s+(\d+)\b", directive)
                if m:
                    out.append("#define %s %s" % m.groups())
            continue
        if skip_depth:
            continue
        out.append(re.sub(r"\bZT_API\b\s*", "", line))
    return "\n".join(out)


def _loaded_path(name: str) -> Optional[str]:
    """Loads `name` through the system loader (LD_LIBRARY_PATH, ld.so.cache, default dirs) and
    returns the file it resolved to, or None if it cannot be loaded."""
    try:
        ctypes.CDLL(name)
    except OSError:
        return None
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(None, 5)[-1].strip()
                if os.path.basename(path).startswith("libztcore.so"):
                    return path
    except OSError:
        pass
    return name


def _find_library() -> str:
    """libztcore.so, in this order: $ZTCORE_LIB; the source tree's build/ (a checkout); the system
    loader's search (ctypes.util.find_library, then the SONAME libztcore.so.1: LD_LIBRARY_PATH,
    ldconfig's cache, /usr/lib...); <sys.prefix>/lib (a venv or prefix it was installed into)."""
    env = os.environ.get("ZTCORE_LIB")
    if env:
        if not Path(env).is_file():
            raise ImportError("ztcore: ZTCORE_LIB=%s does not exist" % env)
        return env
    p = _REPO / "build" / "libztcore.so"
    if p.is_file():
        return str(p)
    looked = [str(p)]
    for name in (ctypes.util.find_library("ztcore"), "libztcore.so.%d" % _SOVERSION):
        if name:
            looked.append(name)
            found = _loaded_path(name)
            if found:
                return found
    for d in ("lib", "lib64"):
        p = Path(sys.prefix) / d / "libztcore.so"
        looked.append(str(p))
        if p.is_file():
            return str(p)
    raise ImportError(
        "ztcore: libztcore.so not found (looked: %s). Build it with\n"
        "    cmake -S %s -B %s/build -G Ninja && cmake --build %s/build --target ztcore_shared\n"
        "(or run ./dev build), install it (cmake --install build --prefix ...), or point ZTCORE_LIB at a "
        "libztcore.so." % (", ".join(looked), _REPO, _REPO, _REPO))


LIB_PATH = _find_library()
HEADER_PATH = _find_header(LIB_PATH)
ffi = cffi.FFI()
ffi.cdef(header_to_cdef(HEADER_PATH.read_text()))
lib = ffi.dlopen(LIB_PATH)


def has(name: str) -> bool:
    """True if the loaded library defines the C function `name` (ABI 1.1 functions may be missing
    from an older build)."""
    try:
        getattr(lib, name)
        return True
    except AttributeError:
        return False
