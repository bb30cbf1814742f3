"""asyncio over a node's sockets: the standard library's streams on a ztcore transport.

    reader, writer = await node.open_connection("10.147.20.5", 7)     # asyncio.StreamReader/Writer
    server = await node.start_server(handle, port=7)                  # like asyncio.start_server

Design. asyncio cannot drive a ztcore socket itself (there is no kernel socket), but every
ztcore socket has a pollable eventfd (``zt_socket_fd``) that becomes readable whenever the
socket's readiness may have changed — data, a connection, an accepted peer, send space, an error
or a close — and stays readable until a socket call clears it. :class:`ZtTransport` is an
``asyncio.Transport`` that registers that eventfd with ``loop.add_reader`` and, on each wake-up,
reads the readiness with ``zt_socket_poll`` (which clears the eventfd) and then makes
non-blocking ``zt_socket_recv``/``zt_socket_send`` calls until they say ``ZT_ERR_AGAIN``. Since
other socket calls may clear the eventfd too (recv does, and re-arms it only for more data), a
call that might have swallowed a signal — ``write()`` sending straight away, reads while writes
are pending — schedules one more readiness check, so no wake-up is lost. The transport does what the
selector transports of asyncio do: a write buffer with high/low water marks that pauses and
resumes the protocol (so ``StreamWriter.drain()`` works), ``pause_reading``/``resume_reading``,
``write_eof`` (TCP half-close), ``close`` (after the buffer is flushed) and ``abort``.

Because it is a real transport, the streams are the standard library's own
``asyncio.StreamReader``, ``asyncio.StreamWriter`` and ``asyncio.StreamReaderProtocol``, and any
``asyncio.Protocol`` works with :func:`create_connection` / :func:`create_server`. The servers'
listening sockets are driven the same way (accept until ``ZT_ERR_AGAIN`` on each wake-up).
Everything but the connect runs on the event loop's thread; those C calls are non-blocking and
never wait for the network, so the loop is never blocked by ztcore. A connect is one bounded
blocking call in a thread of its own (see :func:`_connect` for why).
"""
from __future__ import annotations

import asyncio
import errno as _errno
import logging
import socket as _socket
import threading
from typing import TYPE_CHECKING, Callable, List, Optional, Set

from .sockets import POLLERR, POLLHUP, POLLIN, POLLOUT, Socket, _host_of

if TYPE_CHECKING:  # pragma: no cover
    from .node import Node

log = logging.getLogger("ztcore.aio")

_DEFAULT_LIMIT = 2 ** 16  # asyncio.streams' default StreamReader limit
_READ_CHUNK = 256 * 1024
_READS_PER_WAKEUP = 16    # then let other callbacks run (a check is rescheduled)


def _family_of(host, family: int) -> int:
    if family:
        return family
    if isinstance(host, str) and ":" in host:
        return _socket.AF_INET6
    return _socket.AF_INET


class ZtTransport(asyncio.Transport):
    """An asyncio transport over a connected ztcore stream :class:`~ztcore.Socket` (see the
    module docstring). Created by :func:`create_connection` and by servers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: Socket, protocol: asyncio.BaseProtocol,
                 server: Optional["Server"] = None):
        extra = {"socket": sock}
        for key, fn in (("sockname", sock.getsockname), ("peername", sock.getpeername)):
            try:
                extra[key] = fn()
            except OSError:
                extra[key] = None
        super().__init__(extra)
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._server = server
        self._buffer = bytearray()
        self._high, self._low = 64 * 1024, 16 * 1024
        self._protocol_paused = False
        self._reading_paused = False
        self._closing = False        # close() or a fatal error: no more writes
        self._conn_lost = 0          # connection_lost scheduled
        self._eof_received = False
        self._eof_requested = False  # write_eof() called; shut down once the buffer is empty
        self._eof_sent = False
        self._check_scheduled = False
        sock.setblocking(False)
        if server is not None:
            server._attach(self)
        loop.add_reader(self._fd, self._on_ready)
        loop.call_soon(protocol.connection_made, self)
        self._schedule_check()  # bytes may have arrived before the eventfd was registered

    # ---- readiness ----

    def _schedule_check(self) -> None:
        if not self._check_scheduled and not self._conn_lost:
            self._check_scheduled = True
            self._loop.call_soon(self._on_ready)

    def _on_ready(self) -> None:
        self._check_scheduled = False
        if self._conn_lost:
            return
        try:
            events = self._sock.poll()
        except OSError as e:
            self._fatal(e)
            return
        if self._buffer and events & (POLLOUT | POLLERR | POLLHUP):
            self._flush()
        if (not self._conn_lost and not self._reading_paused and not self._eof_received and not self._closing
                and events & (POLLIN | POLLERR | POLLHUP)):
            self._read()

    def _read(self) -> None:
        self._read_some()
        if self._buffer:
            # recv clears the eventfd and re-arms it only for more data: a send-space signal
            # that came since our poll() would be lost, and with it the wake-up for the
            # pending writes. Look again.
            self._schedule_check()

    def _read_some(self) -> None:
        for _ in range(_READS_PER_WAKEUP):
            try:
                data = self._sock.recv(_READ_CHUNK)
            except BlockingIOError:
                return
            except OSError as e:
                self._fatal(e)
                return
            if not data:
                self._on_eof()
                return
            self._protocol.data_received(data)
            if self._reading_paused or self._closing or self._conn_lost:
                return
        self._schedule_check()  # more may be waiting and the recv calls cleared the eventfd

    def _on_eof(self) -> None:
        self._eof_received = True
        keep_open = self._protocol.eof_received()
        if not keep_open:
            self.close()

    def _flush(self) -> None:
        while self._buffer:
            try:
                n = self._sock.send(self._buffer)
            except BlockingIOError:
                break
            except OSError as e:
                self._fatal(e)
                return
            if n == 0:
                break
            del self._buffer[:n]
        self._maybe_resume_protocol()
        if not self._buffer:
            if self._closing:
                self._lose_connection(None)
            elif self._eof_requested:
                self._send_eof()

    # ---- asyncio.Transport ----

    def write(self, data) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data argument must be a bytes-like object, not %r" % type(data).__name__)
        if self._eof_requested:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data:
            return
        if self._closing or self._conn_lost:
            return  # as asyncio's transports: writes after close are dropped
        if not self._buffer:
            try:
                n = self._sock.send(data)
            except BlockingIOError:
                n = 0
            except OSError as e:
                self._fatal(e)
                return
            self._schedule_check()  # the send may have cleared the eventfd
            if n == len(data):
                return
            data = memoryview(data)[n:]
        self._buffer += data
        self._maybe_pause_protocol()
        self._schedule_check()

    def writelines(self, list_of_data) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing or self._eof_requested:
            return
        self._eof_requested = True
        if not self._buffer:
            self._send_eof()

    def _send_eof(self) -> None:
        if self._eof_sent:
            return
        self._eof_sent = True
        try:
            self._sock.shutdown(_socket.SHUT_WR)
        except OSError as e:
            self._fatal(e)
            return
        self._schedule_check()

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self):
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: Optional[int] = None, low: Optional[int] = None) -> None:
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError("high (%r) must be >= low (%r) must be >= 0" % (high, low))
        self._high, self._low = high, low
        self._maybe_pause_protocol()

    def _maybe_pause_protocol(self) -> None:
        if len(self._buffer) > self._high and not self._protocol_paused:
            self._protocol_paused = True
            try:
                self._protocol.pause_writing()
            except Exception:
                log.exception("protocol.pause_writing() failed")

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and len(self._buffer) <= self._low:
            self._protocol_paused = False
            try:
                self._protocol.resume_writing()
            except Exception:
                log.exception("protocol.resume_writing() failed")

    def is_reading(self) -> bool:
        return not self._reading_paused and not self._closing

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            self._schedule_check()

    def is_closing(self) -> bool:
        return self._closing

    def set_protocol(self, protocol) -> None:
        self._protocol = protocol

    def get_protocol(self):
        return self._protocol

    def close(self) -> None:
        """Closes after the write buffer is flushed (then the stack sends FIN)."""
        if self._closing:
            return
        self._closing = True
        if not self._buffer:
            self._lose_connection(None)

    def abort(self) -> None:
        self._force_close(None)

    # ---- ending ----

    def _fatal(self, exc: BaseException) -> None:
        if not isinstance(exc, (ConnectionError, TimeoutError)) and getattr(exc, "errno", None) != _errno.EBADF:
            log.error("ztcore transport error on %s: %r", self._extra.get("peername"), exc)
        self._force_close(exc)

    def _force_close(self, exc: Optional[BaseException]) -> None:
        if self._conn_lost:
            return
        self._buffer.clear()
        self._closing = True
        self._lose_connection(exc)

    def _lose_connection(self, exc: Optional[BaseException]) -> None:
        if self._conn_lost:
            return
        self._conn_lost += 1
        self._loop.remove_reader(self._fd)
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: Optional[BaseException]) -> None:
        try:
            if self._protocol_paused:
                self._protocol_paused = False
            self._protocol.connection_lost(exc)
        finally:
            self._sock.close()
            self._protocol = None
            server, self._server = self._server, None
            if server is not None:
                server._detach(self)

    def __del__(self):
        if getattr(self, "_conn_lost", 1) == 0 and self._sock is not None:
            try:
                if not self._loop.is_closed():
                    self._loop.remove_reader(self._fd)
            except Exception:
                pass
            self._sock.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn_lost else ("closing" if self._closing else "open")
        return "<ZtTransport %s %s -> %s buffer=%d>" % (state, self._extra.get("sockname"),
                                                         self._extra.get("peername"), len(self._buffer))


async def _connect(loop: asyncio.AbstractEventLoop, sock: Socket, host: str, port: int, timeout: float) -> None:
    """Connects with a bounded blocking ``zt_socket_connect`` in a thread of its own (the C call
    releases the GIL), then the socket goes non-blocking for the transport.

    Why not a non-blocking connect: the C ABI reports the outcome of a blocking connect
    precisely (refused, unreachable, timed out) but has no ``SO_ERROR`` to read it after a
    non-blocking one. One short-lived thread per connection attempt, not a pool, so slow
    connects (SYN retransmissions) never queue behind each other. If the awaiting task is
    cancelled, the thread finishes within ``timeout`` and the socket is freed then."""
    fut = loop.create_future()

    def work():
        try:
            sock.connect((host, port))
            outcome = lambda: fut.done() or fut.set_result(None)  # noqa: E731
        except BaseException as e:  # handed to the loop
            outcome = lambda e=e: fut.done() or fut.set_exception(e)  # noqa: E731
        try:
            loop.call_soon_threadsafe(outcome)
        except RuntimeError:  # the loop was closed meanwhile: nobody waits any more
            sock.close()

    sock.settimeout(timeout)
    threading.Thread(target=work, name="ztcore-connect", daemon=True).start()
    await fut


async def create_connection(node: "Node", protocol_factory: Callable[[], asyncio.BaseProtocol], host, port: int, *,
                            family: int = 0, connect_timeout: float = 60.0):
    """Like ``loop.create_connection``: connects a TCP socket of ``node`` to ``host`` (an IP
    literal or a :class:`~ztcore.Node`) and returns ``(transport, protocol)``. The connection
    attempt gives up with TimeoutError after ``connect_timeout`` seconds."""
    loop = asyncio.get_running_loop()
    family = _family_of(host, family)
    ip = _host_of(host, family)
    if ip is None:
        raise OSError(_errno.EINVAL, "create_connection needs a host")
    sock = node.socket(family, _socket.SOCK_STREAM)
    try:
        await _connect(loop, sock, ip, port, connect_timeout)
    except BaseException:
        sock.close()
        raise
    protocol = protocol_factory()
    transport = ZtTransport(loop, sock, protocol)
    return transport, protocol


async def open_connection(node: "Node", host, port: int, *, limit: int = _DEFAULT_LIMIT, family: int = 0,
                          connect_timeout: float = 60.0):
    """Like ``asyncio.open_connection``: returns ``(asyncio.StreamReader, asyncio.StreamWriter)``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await create_connection(node, lambda: protocol, host, port, family=family,
                                           connect_timeout=connect_timeout)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer


class Server:
    """What :func:`create_server` / :func:`start_server` return, shaped like ``asyncio.Server``
    (of Python 3.12+: ``wait_closed()`` waits for the listeners and every connection to close;
    ``close_clients()`` / ``abort_clients()`` end the connections)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, node: "Node", sockets: List[Socket],
                 protocol_factory: Callable[[], asyncio.BaseProtocol], backlog: int):
        self._loop = loop
        self.node = node
        self._sockets: Optional[List[Socket]] = sockets
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._transports: Set[ZtTransport] = set()
        self._waiters: Optional[List[asyncio.Future]] = []
        self._serving = False
        self._serving_forever_fut: Optional[asyncio.Future] = None

    # ---- connections ----

    def _attach(self, transport: ZtTransport) -> None:
        self._transports.add(transport)

    def _detach(self, transport: ZtTransport) -> None:
        self._transports.discard(transport)
        if not self._transports and self._sockets is None:
            self._wakeup()

    def _wakeup(self) -> None:
        waiters, self._waiters = self._waiters, None
        for w in waiters or ():
            if not w.done():
                w.set_result(None)

    def _accept_ready(self, listener: Socket) -> None:
        if self._sockets is None or listener.closed:
            return
        try:
            listener.poll()  # clears the eventfd before the accepts below
        except OSError:
            return
        for _ in range(self._backlog):
            try:
                conn, _addr = listener.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if not listener.closed:
                    log.error("accept on %s failed: %r", listener, e)
                return
            try:
                ZtTransport(self._loop, conn, self._protocol_factory(), server=self)
            except Exception:
                log.exception("cannot set up a connection from %s", _addr)
                conn.close()
        self._loop.call_soon(self._accept_ready, listener)  # more may be queued

    # ---- asyncio.Server ----

    def _start_serving(self) -> None:
        if self._serving or self._sockets is None:
            return
        self._serving = True
        for s in self._sockets:
            s.listen(self._backlog)
            s.setblocking(False)
            self._loop.add_reader(s.fileno(), self._accept_ready, s)
            self._loop.call_soon(self._accept_ready, s)

    async def start_serving(self) -> None:
        self._start_serving()
        await asyncio.sleep(0)

    def is_serving(self) -> bool:
        return self._serving

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def sockets(self) -> tuple:
        """The listening :class:`~ztcore.Socket` objects (``getsockname()`` tells the port)."""
        return tuple(self._sockets or ())

    def close(self) -> None:
        """Stops listening (existing connections stay; see close_clients/abort_clients)."""
        sockets, self._sockets = self._sockets, None
        if sockets is None:
            return
        for s in sockets:
            if self._serving:
                self._loop.remove_reader(s.fileno())
            s.close()
        self._serving = False
        if self._serving_forever_fut is not None and not self._serving_forever_fut.done():
            self._serving_forever_fut.cancel()
            self._serving_forever_fut = None
        if not self._transports:
            self._wakeup()

    def close_clients(self) -> None:
        for t in list(self._transports):
            t.close()

    def abort_clients(self) -> None:
        for t in list(self._transports):
            t.abort()

    async def wait_closed(self) -> None:
        """Returns once the server is closed and every connection it accepted has ended."""
        if self._waiters is None:
            return
        fut = self._loop.create_future()
        self._waiters.append(fut)
        await fut

    async def serve_forever(self) -> None:
        if self._serving_forever_fut is not None:
            raise RuntimeError("server %r is already being awaited on serve_forever()" % self)
        if self._sockets is None:
            raise RuntimeError("server %r is closed" % self)
        self._start_serving()
        self._serving_forever_fut = self._loop.create_future()
        try:
            await self._serving_forever_fut
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever_fut = None

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()
        await self.wait_closed()

    def __repr__(self) -> str:
        return "<ztcore.aio.Server node=%s sockets=%r>" % (getattr(self.node, "name", "?"), list(self.sockets))


def _listen_addresses(node: "Node", host, family: int) -> List[tuple]:
    """The (family, ip) pairs a server listens on; ip "" is the stack's "any"."""
    if host is not None and host != "":
        fam = _family_of(host, family)
        return [(fam, _host_of(host, fam) or "")]
    families = [family] if family else [_socket.AF_INET, _socket.AF_INET6]
    out = []
    for net in node.list_networks():
        for cidr in net.ips:
            ip = cidr.split("/")[0]
            fam = _socket.AF_INET6 if ":" in ip else _socket.AF_INET
            if fam in families and (fam, ip) not in out:
                out.append((fam, ip))
    out.sort(key=lambda a: families.index(a[0]))  # IPv4 first, as asyncio lists them
    return out or [(families[0], "")]  # no address yet: the stack's "any"


async def create_server(node: "Node", protocol_factory: Callable[[], asyncio.BaseProtocol], host=None,
                        port: int = 0, *, family: int = 0, backlog: int = 100, start_serving: bool = True) -> Server:
    """Like ``loop.create_server`` on ``node``'s stack. ``host`` None (or "") listens on every
    address the node holds on its joined networks now (one socket per address, all on the same
    port, IPv4 first; ``family`` limits it to one family); an IP literal or a
    :class:`~ztcore.Node` listens there only.

    Why not one socket bound to "any" per family: the C ABI's "any" is the node's own address
    on one network (lwIP keeps one port table for the whole process, so a true wildcard would
    take the port from every node), and a node may hold addresses on several networks."""
    loop = asyncio.get_running_loop()
    sockets: List[Socket] = []
    try:
        for fam, ip in _listen_addresses(node, host, family):
            s = node.socket(fam, _socket.SOCK_STREAM)
            sockets.append(s)
            # port 0: the first socket gets a free port, the others take the same one
            s.bind((ip, sockets[0].getsockname()[1] if len(sockets) > 1 else port))
    except BaseException:
        for s in sockets:
            s.close()
        raise
    server = Server(loop, node, sockets, protocol_factory, backlog)
    if start_serving:
        server._start_serving()
        await asyncio.sleep(0)
    return server


async def start_server(node: "Node", client_connected_cb, host=None, port: int = 0, *, limit: int = _DEFAULT_LIMIT,
                       family: int = 0, backlog: int = 100, start_serving: bool = True) -> Server:
    """Like ``asyncio.start_server``: ``client_connected_cb(reader, writer)`` (a function or a
    coroutine function) runs for every accepted connection."""
    loop = asyncio.get_running_loop()

    def factory():
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

    return await create_server(node, factory, host, port, family=family, backlog=backlog,
                               start_serving=start_serving)
