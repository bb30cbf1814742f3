"""Sockets over a node's userspace IP stack (``zt_socket_*``, ABI 1.2), shaped like :mod:`socket`.

``node.socket(socket.AF_INET, socket.SOCK_STREAM)`` returns a :class:`Socket` whose methods take and
return what the standard library's do: addresses are ``(ip, port)`` tuples (``(ip, port, 0, 0)``
for IPv6), ``recv`` returns ``bytes`` (``b""`` at end of stream), timeouts follow
``settimeout`` (None blocks, 0.0 is non-blocking, a positive value bounds each call), and failures
raise the built-in exceptions with their errno (``BlockingIOError``, ``TimeoutError`` — which is
``socket.timeout`` —, ``ConnectionRefusedError``, ``ConnectionResetError``, ``BrokenPipeError``,
``OSError(ENOTCONN / EADDRINUSE / ENETUNREACH / EBADF ...)``); the library's message is the
exception's text and ``e.zt_code`` its ``zt_result``.

Host names are not resolved: a host is an IP literal or a :class:`~ztcore.Node` (its first address
of the socket's family on the only joined network).

Threads: every call is a cffi ABI-mode call, which releases the GIL, so a thread blocked in
``recv`` or ``accept`` does not stop the others. Never block in a ztcore callback (the library
refuses with ``ZT_ERR_STATE``); the Python hooks (``on_frame`` ...) run on dispatcher threads and
may use sockets. :meth:`Socket.close` from one thread while another is inside a call on the same
socket is safe but, as with a kernel socket on Linux, does not wake that call: new calls fail
at once with EBADF and the handle is freed when the call in progress returns (data, the peer
closing, or its timeout). lwIP (without ``LWIP_NETCONN_FULLDUPLEX``) does not support closing
or shutting down a socket under a blocked call, so the binding never does; give blocking calls
a timeout when another thread may want them to stop.

``fileno()`` is the socket's eventfd (``zt_socket_fd``): it becomes readable whenever the socket's
readiness may have changed and stays so until a socket call clears it. It is what
:mod:`ztcore.aio` hands to ``loop.add_reader``; it is not a kernel socket, so do not pass it to
``os.read`` or to the standard library's socket functions.
"""
from __future__ import annotations

import errno as _errno
import math
import socket as _socket
import threading
import time
from typing import TYPE_CHECKING, Optional, Tuple

from ._ffi import ffi, has, lib
from .errors import ZtStateError, error_for

if TYPE_CHECKING:  # pragma: no cover
    from .node import Node

# zt_result values of ABI 1.2 (the header is the authority; these are the agreed numbers and are
# checked against it below when the header defines them).
OK = 0
ERR_INVALID_ARGUMENT, ERR_NOT_FOUND, ERR_IO, ERR_STATE, ERR_TOO_LARGE, ERR_INTERNAL = -1, -2, -3, -4, -5, -6
ERR_AGAIN, ERR_CONN_REFUSED, ERR_CONN_RESET, ERR_NOT_CONNECTED = -7, -8, -9, -10
ERR_ADDR_IN_USE, ERR_TIMEOUT, ERR_UNREACHABLE = -11, -12, -13

POLLIN, POLLOUT, POLLERR, POLLHUP = 1, 4, 8, 16

_FAMILIES = {_socket.AF_INET: 4, _socket.AF_INET6: 6}
_TYPES = {_socket.SOCK_STREAM: 1, _socket.SOCK_DGRAM: 2}
_IP_CAP = 64  # >= INET6_ADDRSTRLEN (46)
_new_buffer = ffi.new_allocator(should_clear_after_alloc=False)  # recv buffers are overwritten anyway


def supported() -> bool:
    """True if the loaded libztcore.so has sockets (ABI 1.2)."""
    return has("zt_socket_new")


def _message() -> str:
    return ffi.string(lib.zt_last_error()).decode("utf-8", "replace")


def socket_error(rc: int, message: str, *, timeout: Optional[float] = None, sending: bool = False,
                 shut_wr: bool = False) -> BaseException:
    """The built-in exception for a failed zt_socket call (see the module docstring)."""
    message = message or "zt_socket error %d" % rc
    if sending and shut_wr and rc in (ERR_NOT_CONNECTED, ERR_CONN_RESET):
        # Writing after our own shutdown(SHUT_WR) is EPIPE for a kernel socket too.
        e = BrokenPipeError(_errno.EPIPE, message)
        e.zt_code = rc
        return e
    if rc == ERR_AGAIN and timeout:  # a bounded blocking call that ran out of time
        rc = ERR_TIMEOUT
    if rc == ERR_AGAIN:
        e = BlockingIOError(_errno.EAGAIN, message)
    elif rc == ERR_TIMEOUT:
        e = TimeoutError(_errno.ETIMEDOUT, "timed out (%s)" % message)
    elif rc == ERR_CONN_REFUSED:
        e = ConnectionRefusedError(_errno.ECONNREFUSED, message)
    elif rc == ERR_CONN_RESET:
        e = ConnectionResetError(_errno.ECONNRESET, message)
    elif rc == ERR_NOT_CONNECTED:
        e = OSError(_errno.ENOTCONN, message)
    elif rc == ERR_ADDR_IN_USE:
        e = OSError(_errno.EADDRINUSE, message)
    elif rc == ERR_UNREACHABLE:
        e = OSError(_errno.ENETUNREACH, message)
    elif rc == ERR_STATE:
        e = OSError(_errno.EBADF, message)
    elif rc == ERR_TOO_LARGE:
        e = OSError(_errno.EMSGSIZE, message)
    elif rc == ERR_INVALID_ARGUMENT:
        e = OSError(_errno.EINVAL, message)
    else:
        e = error_for(rc, message)
    e.zt_code = rc
    return e


class _Handle:
    """The C handle with a count of calls in progress, so that close() never frees it under a
    call another thread is making (the last call out frees it)."""
    __slots__ = ("ptr", "fd", "_calls", "_closing", "_lock")

    def __init__(self, ptr):
        self.ptr = ptr
        self.fd = lib.zt_socket_fd(ptr)
        self._calls = 0
        self._closing = False
        self._lock = threading.Lock()

    def enter(self):
        with self._lock:
            if self._closing or self.ptr is None:
                raise OSError(_errno.EBADF, "socket is closed")
            self._calls += 1
            return self.ptr

    def leave(self) -> None:
        ptr = None
        with self._lock:
            self._calls -= 1
            if self._closing and self._calls == 0:
                ptr, self.ptr = self.ptr, None
        if ptr is not None:  # close() came while this call was running: free now
            lib.zt_socket_close(ptr)

    def close(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            if self._calls > 0:
                return  # the call in progress frees the handle when it returns (leave())
            ptr, self.ptr = self.ptr, None
        if ptr is not None:
            lib.zt_socket_close(ptr)

    @property
    def closed(self) -> bool:
        return self._closing


def _host_of(host, family: int) -> Optional[str]:
    """An IP literal for the C ABI: '' / None stay None (any), a Node gives its address."""
    from .node import Node
    if isinstance(host, Node):
        return host.ip(family)
    if host is None or host == "":
        return None
    if not isinstance(host, str):
        raise TypeError("host must be an IP address string or a ztcore.Node, not %s" % type(host).__name__)
    if host in ("0.0.0.0", "::"):
        return None
    return host


def _split(address, family: int) -> Tuple[Optional[str], int]:
    if not isinstance(address, tuple) or len(address) < 2:
        raise TypeError("%s address must be a tuple (host, port)" % ("AF_INET6" if family == _socket.AF_INET6 else "AF_INET"))
    host, port = address[0], address[1]
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise OverflowError("port must be 0-65535.")
    return _host_of(host, family), port


class Socket:
    """A TCP or UDP socket on a node's userspace stack; see the module docstring."""

    def __init__(self, node: "Node", family: int = _socket.AF_INET, type: int = _socket.SOCK_STREAM, proto: int = 0,
                 *, _ptr=None):
        if family not in _FAMILIES:
            raise OSError(_errno.EAFNOSUPPORT, "family must be socket.AF_INET or socket.AF_INET6")
        if type not in _TYPES:
            raise OSError(_errno.ESOCKTNOSUPPORT, "type must be socket.SOCK_STREAM or socket.SOCK_DGRAM")
        self.node = node
        self.family = _socket.AddressFamily(family)
        self.type = _socket.SocketKind(type)
        self.proto = proto
        self._timeout: Optional[float] = None
        self._shut_wr = False
        self._eof = False  # a stream recv returned end of stream
        self._connected = _ptr is not None  # a stream socket from accept() is connected
        if _ptr is None:
            if not supported():
                raise ZtStateError("this libztcore.so has no sockets (ABI 1.2 zt_socket_new is missing)", ERR_STATE)
            out = ffi.new("zt_socket**")
            rc = lib.zt_socket_new(node._h(), _FAMILIES[family], _TYPES[type], out)
            if rc != OK:
                raise error_for(rc, _message() or "zt_socket_new failed")
            _ptr = out[0]
        self._handle = _Handle(_ptr)
        node._sockets.add(self)

    # ---- plumbing ----

    def _call(self, fn, *args, sending: bool = False):
        ptr = self._handle.enter()
        try:
            rc = fn(ptr, *args)
            if rc != OK:
                raise socket_error(rc, _message(), timeout=self._timeout, sending=sending, shut_wr=self._shut_wr)
        finally:
            self._handle.leave()

    def _address(self, ip_buf, port_ptr) -> tuple:
        ip = ffi.string(ip_buf).decode()
        if self.family == _socket.AF_INET6:
            return (ip, port_ptr[0], 0, 0)
        return (ip, port_ptr[0])

    # ---- the socket module's methods ----

    def bind(self, address) -> None:
        host, port = _split(address, self.family)
        self._call(lib.zt_socket_bind, host.encode() if host else ffi.NULL, port)

    def listen(self, backlog: int = 128) -> None:
        self._call(lib.zt_socket_listen, max(0, int(backlog)))

    def accept(self) -> Tuple["Socket", tuple]:
        """Returns ``(socket, address)`` like :meth:`socket.socket.accept`; the new socket is
        blocking, as the standard library's is when no default timeout is set."""
        out = ffi.new("zt_socket**")
        ip = ffi.new("char[]", _IP_CAP)
        port = ffi.new("uint16_t*")
        self._call(lib.zt_socket_accept, out, ip, _IP_CAP, port)
        s = Socket(self.node, self.family, self.type, self.proto, _ptr=out[0])
        s._set_c_timeout(None)
        return s, s._address(ip, port)

    def connect(self, address) -> None:
        host, port = _split(address, self.family)
        if host is None:
            raise OSError(_errno.EINVAL, "connect needs a host")
        try:
            self._call(lib.zt_socket_connect, host.encode(), port)
        except ConnectionResetError as e:
            # A reset while connecting is the peer refusing (RST to our SYN): ECONNREFUSED
            # for a kernel socket; lwIP says ECONNRESET.
            refused = ConnectionRefusedError(_errno.ECONNREFUSED, str(e.strerror or e))
            refused.zt_code = ERR_CONN_REFUSED
            raise refused from None
        self._connected = True

    def connect_ex(self, address) -> int:
        """Like :meth:`connect`, but returns 0 or the errno instead of raising an OSError."""
        try:
            self.connect(address)
        except OSError as e:
            return e.errno or _errno.EIO
        return 0

    def send(self, data, flags: int = 0) -> int:
        """Sends what fits; returns the number of bytes sent (may be less than ``len(data)``)."""
        buf = ffi.from_buffer(data)
        n = ffi.new("size_t*")
        self._call(lib.zt_socket_send, buf, len(buf), n, sending=True)
        return n[0]

    def sendall(self, data, flags: int = 0) -> None:
        """Sends everything; with a timeout, it bounds the whole call (as in CPython >= 3.5)."""
        view = memoryview(data).cast("B")
        deadline = None if not self._timeout else time.monotonic() + self._timeout
        total = len(view)
        sent = 0
        try:
            while sent < total:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise socket_error(ERR_TIMEOUT, "sendall: %d of %d bytes sent" % (sent, total))
                    self._set_c_timeout(left)
                sent += self.send(view[sent:])
        finally:
            if deadline is not None:
                self._set_c_timeout(self._timeout)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes; ``b""`` when the peer closed (stream) or for an empty datagram."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        buf = _new_buffer("char[]", max(1, bufsize))
        n = ffi.new("size_t*")
        self._recv(buf, bufsize, n)
        return ffi.buffer(buf, n[0])[:]

    def _recv(self, buf, cap: int, n) -> None:
        if self.type == _socket.SOCK_STREAM and not self._connected:
            # lwIP would block (forever, without a timeout) on a stream never connected
            raise socket_error(ERR_NOT_CONNECTED, "recv: the socket is not connected")
        try:
            self._call(lib.zt_socket_recv, buf, cap, n)
        except OSError as e:
            # lwIP reports ENOTCONN on a stream after its end was read; a kernel socket keeps
            # saying b"" (EOF), and callers reading "until b''" rely on it.
            if not (self._eof and getattr(e, "zt_code", 0) == ERR_NOT_CONNECTED):
                raise
            n[0] = 0
        if n[0] == 0 and cap and self.type == _socket.SOCK_STREAM:
            self._eof = True

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        view = ffi.from_buffer(buffer, require_writable=True)
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        cap = len(view) if nbytes == 0 else min(nbytes, len(view))
        n = ffi.new("size_t*")
        self._recv(view, cap, n)
        return n[0]

    def sendto(self, data, address) -> int:
        host, port = _split(address, self.family)
        if host is None:
            raise OSError(_errno.EINVAL, "sendto needs a host")
        buf = ffi.from_buffer(data)
        self._call(lib.zt_socket_sendto, buf, len(buf), host.encode(), port, sending=True)
        return len(buf)

    def recvfrom(self, bufsize: int, flags: int = 0) -> Tuple[bytes, tuple]:
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        buf = _new_buffer("char[]", max(1, bufsize))
        n = ffi.new("size_t*")
        ip = ffi.new("char[]", _IP_CAP)
        port = ffi.new("uint16_t*")
        self._call(lib.zt_socket_recvfrom, buf, bufsize, n, ip, _IP_CAP, port)
        return ffi.buffer(buf, n[0])[:], self._address(ip, port)

    def shutdown(self, how: int) -> None:
        if how not in (_socket.SHUT_RD, _socket.SHUT_WR, _socket.SHUT_RDWR):
            raise OSError(_errno.EINVAL, "how must be SHUT_RD, SHUT_WR or SHUT_RDWR")
        self._call(lib.zt_socket_shutdown, how)  # SHUT_RD/WR/RDWR are 0/1/2 in both
        if how in (_socket.SHUT_WR, _socket.SHUT_RDWR):
            self._shut_wr = True

    def _set_c_timeout(self, seconds: Optional[float]) -> None:
        ms = -1 if seconds is None else (0 if seconds == 0 else max(1, math.ceil(seconds * 1000)))
        self._call(lib.zt_socket_set_timeout, ms)

    def settimeout(self, value: Optional[float]) -> None:
        """None: block; 0.0: non-blocking (BlockingIOError); > 0: each call gives up with
        TimeoutError after that many seconds."""
        if value is not None:
            value = float(value)
            if value < 0 or math.isnan(value):
                raise ValueError("Timeout value out of range")
        self._set_c_timeout(value)
        self._timeout = value

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self.settimeout(None if flag else 0.0)

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    @property
    def timeout(self) -> Optional[float]:
        return self._timeout

    def getsockname(self) -> tuple:
        ip = ffi.new("char[]", _IP_CAP)
        port = ffi.new("uint16_t*")
        self._call(lib.zt_socket_local_address, ip, _IP_CAP, port)
        return self._address(ip, port)

    def getpeername(self) -> tuple:
        ip = ffi.new("char[]", _IP_CAP)
        port = ffi.new("uint16_t*")
        self._call(lib.zt_socket_peer_address, ip, _IP_CAP, port)
        return self._address(ip, port)

    def poll(self) -> int:
        """Current readiness, a mask of ``POLLIN | POLLOUT | POLLERR | POLLHUP`` (never blocks);
        also clears the :meth:`fileno` eventfd."""
        r = ffi.new("int*")
        self._call(lib.zt_socket_poll, r)
        return r[0]

    def fileno(self) -> int:
        """The socket's eventfd (readable when its readiness may have changed), -1 once closed."""
        return -1 if self._handle.closed else self._handle.fd

    def close(self) -> None:
        """Closes the socket (idempotent). Safe while another thread is blocked in a call on it."""
        self._handle.close()
        self.node._sockets.discard(self)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def detach(self):  # pragma: no cover - there is no kernel descriptor to hand out
        raise OSError(_errno.EOPNOTSUPP, "a ztcore socket has no kernel descriptor to detach")

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and not handle.closed:
            handle.close()

    def __repr__(self) -> str:
        parts = ["<ztcore.Socket node=%s" % getattr(self.node, "name", "?")]
        if self.closed:
            parts.append("[closed]")
        parts.append("family=%s type=%s" % (self.family.name, self.type.name))
        if not self.closed:
            for what, fn in (("laddr", self.getsockname), ("raddr", self.getpeername)):
                try:
                    parts.append("%s=%s" % (what, fn()))
                except OSError:
                    pass
        return " ".join(parts) + ">"


def check_header_constants() -> None:
    """The numbers above must be the header's (a drift would mis-map errors)."""
    for name, value in (("ZT_POLLIN", POLLIN), ("ZT_POLLOUT", POLLOUT), ("ZT_POLLERR", POLLERR),
                        ("ZT_POLLHUP", POLLHUP)):
        got = getattr(lib, name, value)
        if got != value:  # pragma: no cover
            raise ImportError("ztcore.h: %s is %r, the Python binding expects %r" % (name, got, value))
    for name, value in (("ZT_ERR_AGAIN", ERR_AGAIN), ("ZT_ERR_CONN_REFUSED", ERR_CONN_REFUSED),
                        ("ZT_ERR_CONN_RESET", ERR_CONN_RESET), ("ZT_ERR_NOT_CONNECTED", ERR_NOT_CONNECTED),
                        ("ZT_ERR_ADDR_IN_USE", ERR_ADDR_IN_USE), ("ZT_ERR_TIMEOUT", ERR_TIMEOUT),
                        ("ZT_ERR_UNREACHABLE", ERR_UNREACHABLE)):
        got = getattr(lib, name, value)
        if got != value:  # pragma: no cover
            raise ImportError("ztcore.h: %s is %r, the Python binding expects %r" % (name, got, value))


check_header_constants()
