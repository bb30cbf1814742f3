"""Shared fixtures: one lab (root, controller, n1..n3 on 127.0.0.1) for the whole session."""
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# ctest sets PYTHONPATH; this keeps `python3 -m pytest tests/python` working without it.
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

import ztcore  # noqa: E402
from ztcore import _ffi  # noqa: E402


def require(*functions):
    """Skips (with the reason) while the loaded libztcore.so lacks an ABI 1.1 function."""
    missing = [f for f in functions if not _ffi.has(f)]
    if missing:
        pytest.skip("libztcore.so (%s) does not define %s yet" % (_ffi.LIB_PATH, ", ".join(missing)))


LAB_FUNCTIONS = ("zt_planet_make", "zt_controller_new", "zt_controller_request", "zt_node_networks",
                 "zt_node_network", "zt_node_send_frame", "zt_node_join", "zt_network_mac")


@pytest.fixture(scope="session")
def lab():
    require(*LAB_FUNCTIONS)
    with ztcore.Lab(3, timeout=30) as lab:
        yield lab


def retry_until(action, done, timeout=15.0, every=1.0):
    """Repeats `action()` every `every` seconds until `done()` (UDP may drop a datagram; a lost copy
    is sent again, as the C lab does). Returns done()'s final value."""
    deadline = time.monotonic() + timeout
    while True:
        action()
        end = min(deadline, time.monotonic() + every)
        while time.monotonic() < end:
            if done():
                return True
            time.sleep(0.02)
        if time.monotonic() >= deadline:
            return bool(done())


SOCKET_FUNCTIONS = ("zt_socket_new", "zt_socket_bind", "zt_socket_listen", "zt_socket_accept", "zt_socket_connect",
                    "zt_socket_send", "zt_socket_recv", "zt_socket_sendto", "zt_socket_recvfrom",
                    "zt_socket_shutdown", "zt_socket_set_timeout", "zt_socket_poll", "zt_socket_fd",
                    "zt_socket_close")


def require_sockets():
    """Skips (with the reason) while the loaded libztcore.so has no IP stack (ABI 1.2)."""
    require(*LAB_FUNCTIONS)
    if not _ffi.has("zt_socket_new"):
        pytest.skip("libztcore.so (%s) has no sockets yet (ABI 1.2 zt_socket_new is missing)" % _ffi.LIB_PATH)
    require(*SOCKET_FUNCTIONS)


@pytest.fixture(scope="session")
def stack_lab():
    """A second session lab whose members n1..n3 run userspace TCP/IP stacks."""
    require_sockets()
    with ztcore.Lab(3, timeout=30, stack=True) as lab:
        yield lab
