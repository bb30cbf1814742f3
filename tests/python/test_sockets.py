"""Sockets over the nodes' userspace stacks, used like the standard library's (ztcore.Socket)."""
import errno
import hashlib
import os
import select
import socket
import threading

import pytest

import ztcore


def tcp_listener(node, family=socket.AF_INET):
    s = node.socket(family, socket.SOCK_STREAM)
    s.bind(("", 0))
    s.listen(8)
    return s, s.getsockname()[1]


def recv_all(s):
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def in_thread(fn, *args):
    """Runs fn(*args) in a thread; the returned function joins it and returns (or re-raises) its result."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # handed to the test thread
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=60):
        t.join(timeout)
        assert not t.is_alive(), "the thread did not finish"
        if "error" in box:
            raise box["error"]
        return box.get("value")

    return join


def connected_pair(lab, family=socket.AF_INET):
    """(server-side socket, client socket): n2 connected to a listener of n1."""
    listener, port = tcp_listener(lab.n1, family)
    with listener:
        listener.settimeout(30)
        accepted = in_thread(listener.accept)
        client = lab.n2.socket(family, socket.SOCK_STREAM)
        client.settimeout(30)
        client.connect((lab.n1.ip(family), port))
        conn, _ = accepted()
    return conn, client


def test_tcp_one_megabyte_both_ways_with_eof(stack_lab):
    n1, n2 = stack_lab.n1, stack_lab.n2
    upload, download = os.urandom(1 << 20), os.urandom(300_000)
    listener, port = tcp_listener(n1)

    def serve():
        conn, addr = listener.accept()
        with conn:
            assert conn.getpeername() == addr
            got = recv_all(conn)  # until the client's shutdown(SHUT_WR)
            conn.sendall(download)
            return addr, conn.getsockname(), hashlib.sha256(got).hexdigest(), len(got)

    with listener:
        # A bind to "any" binds the node's own address on the network (one lwIP port table per process).
        assert listener.getsockname() == (n1.ip(), port) and port > 0
        server = in_thread(serve)
        with n2.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
            c.settimeout(60)
            c.connect((n1.ip(), port))
            assert c.getpeername() == (n1.ip(), port)
            assert c.getsockname()[0] == n2.ip()
            c.sendall(upload)
            c.shutdown(socket.SHUT_WR)
            reply = recv_all(c)
            assert c.recv(10) == b""  # EOF stays EOF
            local = c.getsockname()
        addr, server_side, digest, size = server()
    assert size == len(upload) and digest == hashlib.sha256(upload).hexdigest()
    assert hashlib.sha256(reply).hexdigest() == hashlib.sha256(download).hexdigest()
    assert addr == local and server_side == (n1.ip(), port)


def test_connect_by_node_and_recv_into(stack_lab):
    conn, client = connected_pair(stack_lab)
    with conn, client:
        conn.sendall(b"0123456789")
        buf = bytearray(32)
        got = 0
        while got < 10:
            got += client.recv_into(memoryview(buf)[got:], 10 - got)
        assert bytes(buf[:10]) == b"0123456789"
    # A Node is accepted as the host: its IPv4 address.
    listener, port = tcp_listener(stack_lab.n1)
    with listener, stack_lab.n3.socket() as c:
        listener.settimeout(30)
        accepted = in_thread(listener.accept)
        c.settimeout(30)
        c.connect((stack_lab.n1, port))
        conn, addr = accepted()
        conn.close()
        assert addr[0] == stack_lab.n3.ip()


def test_timeout_nonblocking_and_eventfd(stack_lab):
    conn, client = connected_pair(stack_lab)
    with conn, client:
        client.settimeout(0.2)
        assert client.gettimeout() == 0.2
        with pytest.raises(socket.timeout):
            client.recv(100)  # nothing was sent
        client.setblocking(False)
        assert client.gettimeout() == 0.0 and not client.getblocking()
        with pytest.raises(BlockingIOError) as e:
            client.recv(100)
        assert e.value.errno == errno.EAGAIN
        conn.sendall(b"wake up")
        # fileno() is the eventfd: select() says when to try again.
        got = b""
        for _ in range(100):
            if got == b"wake up":
                break
            select.select([client.fileno()], [], [], 5)
            client.poll()  # clears the eventfd
            try:
                got += client.recv(100)
            except BlockingIOError:
                pass
        assert got == b"wake up"
        assert client.poll() & ztcore.sockets.POLLOUT


def test_connection_refused_and_address_in_use(stack_lab):
    n1, n2 = stack_lab.n1, stack_lab.n2
    listener, port = tcp_listener(n1)
    listener.close()  # nothing listens on `port` now
    with n2.socket() as c:
        c.settimeout(30)
        with pytest.raises(ConnectionRefusedError) as e:
            c.connect((n1.ip(), port))
        assert e.value.errno == errno.ECONNREFUSED
    with n2.socket() as c:
        c.settimeout(30)
        assert c.connect_ex((n1.ip(), port)) == errno.ECONNREFUSED
    a, port = tcp_listener(n1)
    with a, n1.socket() as b:
        with pytest.raises(OSError) as e:
            b.bind(("", port))
        assert e.value.errno == errno.EADDRINUSE


def test_not_connected_and_broken_pipe(stack_lab):
    with stack_lab.n2.socket() as s:
        with pytest.raises(OSError) as e:
            s.recv(10)
        assert e.value.errno == errno.ENOTCONN
    conn, client = connected_pair(stack_lab)
    with conn, client:
        client.shutdown(socket.SHUT_WR)
        with pytest.raises(BrokenPipeError):
            client.send(b"after shutdown")
        assert conn.recv(10) == b""  # the peer saw our FIN
        conn.sendall(b"half-closed, still readable")
        conn.close()
        assert recv_all(client) == b"half-closed, still readable"


def udp_round_trip(lab, family):
    """n2 sends datagrams to n1's UDP socket, n1 answers to the sender's address. UDP may drop a
    datagram (the first one can also wait for ARP/NDP), so it is sent again until answered."""
    n1, n2 = lab.n1, lab.n2
    with n1.socket(family, socket.SOCK_DGRAM) as server, n2.socket(family, socket.SOCK_DGRAM) as client:
        server.bind(("", 0))
        port = server.getsockname()[1]
        client.bind(("", 0))
        server.settimeout(1.0)
        client.settimeout(1.0)
        for attempt in range(20):
            client.sendto(b"ping %d" % attempt, (n1.ip(family), port))
            try:
                data, addr = server.recvfrom(2048)
            except TimeoutError:
                continue
            assert data.startswith(b"ping ")
            assert addr[0] == n2.ip(family) and addr[1] == client.getsockname()[1]
            server.sendto(b"pong " + data[5:], addr)
            try:
                answer, from_addr = client.recvfrom(2048)
            except TimeoutError:
                continue
            assert answer.startswith(b"pong ")
            assert from_addr[:2] == (n1.ip(family), port)
            if family == socket.AF_INET6:
                assert len(addr) == 4 and len(from_addr) == 4
            return
        pytest.fail("no UDP answer in 20 attempts")


def test_udp_sendto_recvfrom_ipv4(stack_lab):
    udp_round_trip(stack_lab, socket.AF_INET)


def test_udp_sendto_recvfrom_ipv6(stack_lab):
    udp_round_trip(stack_lab, socket.AF_INET6)


def test_tcp_over_ipv6(stack_lab):
    conn, client = connected_pair(stack_lab, socket.AF_INET6)
    with conn, client:
        assert client.getpeername()[0] == stack_lab.n1.ip(socket.AF_INET6)
        client.sendall(b"over IPv6")
        client.shutdown(socket.SHUT_WR)
        assert recv_all(conn) == b"over IPv6"


def test_context_manager_close_and_errors_after_close(stack_lab):
    n1 = stack_lab.n1
    with n1.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("", 0))
        port = s.getsockname()[1]
        assert s.fileno() >= 0 and "laddr=" in repr(s)
    assert s.closed and s.fileno() == -1 and "[closed]" in repr(s)
    s.close()  # idempotent
    with pytest.raises(OSError) as e:
        s.sendto(b"x", ("10.147.20.1", 9))
    assert e.value.errno == errno.EBADF
    with n1.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("", port))  # the port was released by close()


def test_close_during_a_blocked_recv_frees_when_it_returns(stack_lab):
    """close() from another thread does not pull the handle from under a blocked call (lwIP does
    not support that): new calls fail with EBADF, the blocked one returns normally."""
    conn, client = connected_pair(stack_lab)
    with conn:
        client.settimeout(None)
        blocked = in_thread(lambda: client.recv(100))
        for _ in range(500):  # until the thread is inside the C call
            if client._handle._calls:
                break
            threading.Event().wait(0.01)
        client.close()
        assert client.closed and client.fileno() == -1
        with pytest.raises(OSError) as e:
            client.send(b"x")
        assert e.value.errno == errno.EBADF
        conn.sendall(b"still delivered")
        assert blocked(timeout=30) == b"still delivered"
        assert client._handle.ptr is None  # freed by the returning call


def test_socket_needs_a_stack_node(lab):
    with pytest.raises(ztcore.ZtStateError, match="stack=True"):
        lab.n1.socket()
