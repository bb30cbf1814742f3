"""The local lab in Python: a root, a controller with a private network and N member nodes, all in
this process on 127.0.0.1 (the Python twin of ``ztcore lab``, tools/cmd_lab.cpp)."""
from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Type

from .errors import LabError, ZtError, ZtIOError
from .node import Controller, Node, Runtime, generate_identities, make_planet
from .types import NetworkId

log = logging.getLogger("ztcore.lab")

#: The lab network, as tools/cmd_lab.cpp creates it.
LAB_NETWORK = {
    "name": "ztcore-lab",
    "private": True,
    "enableBroadcast": True,
    "multicastLimit": 64,
    "v4AssignMode": {"zt": True},
    "v6AssignMode": {"rfc4193": True, "6plane": False, "zt": False},
    "ipAssignmentPools": [{"ipRangeStart": "10.147.20.1", "ipRangeEnd": "10.147.20.254"}],
    "routes": [{"target": "10.147.20.0/24", "via": None}],
}
LAB_WORLD_ID = 0x1AB


#: The port of the lab's TCP service, as ``ztcore lab --tcp`` (tools/cmd_lab.cpp) uses it.
TCP_PORT = 7000


@dataclass(frozen=True)
class TcpResult:
    """One client of :func:`tcp_demo`: times in milliseconds (``connect_ms`` until connected,
    ``rtt_ms`` from sending the ztid to the whole answer), ``answer`` the server's line, or
    ``error`` why it failed."""
    client: str
    ztid: str
    ip: str
    connect_ms: float = 0.0
    rtt_ms: float = 0.0
    answer: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def _serve_one(conn: "socket.socket", server: Node, timeout: float) -> None:
    try:
        _answer(conn, server, timeout)
    except OSError as e:  # the client's side reports the failure; this is for the log
        log.warning("tcp_demo: serving a client failed: %s", e)


def _answer(conn: "socket.socket", server: Node, timeout: float) -> None:
    # The lab service of `ztcore lab --tcp`: the client's ztid in, "hello <ztid> from <server
    # ztid>" out (plus a newline: the end of the answer), then the server closes once the
    # client closed. Unlike the C lab's server it does not close first: the side closing first
    # keeps the connection in TIME_WAIT (2 min in lwIP), which must not be on the server's
    # port, or the service could not start again meanwhile.
    with conn:
        conn.settimeout(timeout)
        got = conn.recv(64)
        if not got:
            return
        conn.sendall(b"hello " + got.strip() + (" from %s\n" % server.ztid).encode())
        while conn.recv(256):
            pass


def _tcp_client(node: Node, server_ip: str, port: int, deadline: float) -> TcpResult:
    # Connect (retried while the server's stack or its ARP group is not there yet), send the
    # ztid, read the answer line, close.
    ip, error = "", ""
    t0 = time.monotonic()
    try:
        ip = node.ip(socket.AF_INET)
        while True:
            s = node.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
            try:
                s.connect((server_ip, port))
                break
            except (ConnectionError, TimeoutError, OSError) as e:
                s.close()
                if time.monotonic() + 0.05 >= deadline:
                    raise
                error = str(e)
                time.sleep(0.05)
        with s:
            connected = time.monotonic()
            s.settimeout(max(0.05, deadline - connected))
            s.sendall(str(node.ztid).encode())
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                answer += chunk
            done = time.monotonic()
    except (OSError, ValueError) as e:
        return TcpResult(node.name, str(node.ztid), ip, error=str(e) or error or type(e).__name__)
    text = answer.decode("utf-8", "replace").strip()
    r = TcpResult(node.name, str(node.ztid), ip, (connected - t0) * 1000, (done - connected) * 1000, text)
    if not text.startswith("hello %s from " % node.ztid):
        r = TcpResult(r.client, r.ztid, r.ip, r.connect_ms, r.rtt_ms, text, "unexpected answer %r" % text)
    return r


def tcp_demo(server: Node, clients: Sequence[Node], port: int = TCP_PORT, timeout: float = 30.0,
             out=None) -> List[TcpResult]:
    """``server`` listens on TCP ``port`` of its stack; every client connects to the server's
    IPv4 address (up to 8 at a time), sends its ztid and reads the answer, "hello <ztid> from
    <server ztid>". Prints what ``ztcore lab --tcp`` prints (to ``out``, default stdout;
    ``out=False`` prints nothing) and returns one :class:`TcpResult` per client, in order."""
    out = sys.stdout if out is None else out
    say = (lambda text: print(text, file=out, flush=True)) if out else (lambda text: None)
    deadline = time.monotonic() + timeout
    server_ip = server.ip(socket.AF_INET)
    results: List[Optional[TcpResult]] = [None] * len(clients)
    stop = threading.Event()
    next_client = iter(range(len(clients)))
    lock = threading.Lock()

    def accept_loop(listener) -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not stop.is_set():
                    log.exception("tcp_demo: accept failed")
                return
            threading.Thread(target=_serve_one, args=(conn, server, timeout), daemon=True).start()

    def worker() -> None:
        while True:
            with lock:
                i = next(next_client, None)
            if i is None:
                return
            results[i] = _tcp_client(clients[i], server_ip, port, deadline)

    with server.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("", port))
        listener.listen(64)
        listener.settimeout(0.2)  # the accept loop looks at `stop` this often
        acceptor = threading.Thread(target=accept_loop, args=(listener,), name="tcp-demo-accept", daemon=True)
        acceptor.start()
        say("[lab] tcp: %s serves %s:%d; %d nodes connect, send their ztid, read the answer" % (
            server.name, server_ip, port, len(clients)))
        t0 = time.monotonic()
        workers = [threading.Thread(target=worker, daemon=True) for _ in range(min(8, len(clients)))]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        total = (time.monotonic() - t0) * 1000
        stop.set()
        acceptor.join()
    done: List[TcpResult] = [r for r in results if r is not None]
    for r in done:
        if r.ok:
            say("  %-6s connect %7.1f ms  round trip %7.1f ms  \"%s\"" % (r.client, r.connect_ms, r.rtt_ms, r.answer))
        else:
            say("  %-6s FAILED: %s" % (r.client, r.error))
    good = sum(r.ok for r in done)
    say("[lab] tcp %s: %d/%d nodes got their answer in %.1f ms" % (
        "OK" if good == len(clients) else "FAILED", good, len(clients), total))
    return done


class Lab:
    """A root, a controller with a private network and ``n`` member nodes named n1..nN, all on
    127.0.0.1. The members join, are authorized, and the lab waits until every one is ONLINE with
    network status OK.

    ``Lab(3)`` starts right away, except when created inside a running asyncio loop (then
    ``async with Lab(3) as lab:`` starts it in a worker thread, not blocking the loop);
    ``start=True/False`` forces either. Use it as a context manager, or call :meth:`close`.

    ``stack=True`` gives every member a userspace TCP/IP stack (``Node(..., stack=True)``), so
    ``lab.n1.socket()``, ``open_connection`` and ``start_server`` work and the nodes answer ARP,
    NDP and ping; :meth:`tcp_demo` shows it (what ``ztcore lab --tcp`` does). Off by default: a
    frame-level lab sees exactly the frames it sends.

    Attributes: ``nodes`` (the members), ``n1``.. (also ``lab["n1"]``), ``nwid``, ``root``,
    ``controller_node``, ``controller`` (the :class:`Controller`), ``planet`` (bytes), ``runtime``.
    """

    def __init__(self, n: int = 3, *, timeout: float = 30.0, node_class: Type[Node] = Node, wire_log: bool = True,
                 network: Optional[dict] = None, start: Optional[bool] = None, stack: bool = False):
        if n < 1:
            raise ValueError("a lab needs at least one member node")
        self.n = n
        self.timeout = timeout
        self.node_class = node_class
        self.wire_log = wire_log
        self.stack = bool(stack)
        self.network_config = dict(network or LAB_NETWORK)
        self.runtime: Optional[Runtime] = None
        self.controller: Optional[Controller] = None
        self.root: Optional[Node] = None
        self.controller_node: Optional[Node] = None
        self.nodes: List[Node] = []
        self.nwid: Optional[NetworkId] = None
        self.planet: Optional[bytes] = None
        self.root_port = 0
        self.timings: Dict[str, float] = {}
        if start is None:
            try:
                asyncio.get_running_loop()
                start = False
            except RuntimeError:
                start = True
        if start:
            self.start()

    @property
    def started(self) -> bool:
        return self.runtime is not None

    def start(self) -> "Lab":
        """Brings the lab up (no-op if it is up). Raises :class:`LabError` on failure (and cleans up)."""
        if self.started:
            return self
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        t = time.monotonic()
        ids = generate_identities(self.n + 2)
        self.timings["identities"] = time.monotonic() - t
        self.runtime = Runtime()
        t = time.monotonic()
        self._start_root(ids[0])

        self.controller = Controller()
        self.controller_node = Node(self.runtime, "controller", identity=ids[1], planet=self.planet,
                                    controller=self.controller, wire_log=self.wire_log)
        self.nwid = self.controller.create_network(self.controller_node.ztid, self.network_config)
        log.info("controller %s, private network %s", self.controller_node.ztid, self.nwid)

        for i in range(self.n):
            self.nodes.append(self.node_class(self.runtime, "n%d" % (i + 1), identity=ids[i + 2], planet=self.planet,
                                              join=[self.nwid], wire_log=self.wire_log, stack=self.stack))
        self.timings["start"] = time.monotonic() - t

        t = time.monotonic()
        if not self.runtime.wait_for(lambda: all(n.online for n in self.nodes), self.timeout):
            raise LabError("not every node came online within %.0f s: %s" % (
                self.timeout, ", ".join("%s %s" % (n.name, "ONLINE" if n.online else "OFFLINE") for n in self.nodes)))
        self.timings["online"] = time.monotonic() - t

        t = time.monotonic()
        for n in self.nodes:
            self.controller.authorize(self.nwid, n.ztid)
        if not self.runtime.wait_for(self._all_ok, self.timeout):
            raise LabError("not every node got its network config within %.0f s: %s" % (self.timeout, ", ".join(
                "%s %s" % (n.name, self._status(n)) for n in self.nodes)))
        ready = set()  # nodes whose stack was seen ready (the probe makes sockets: not again)

        def stacks_ready() -> bool:
            ready.update(n for n in self.nodes if n not in ready and n.stack_ready(self.nwid))
            return len(ready) == len(self.nodes)

        if self.stack and not self.runtime.wait_for(stacks_ready, self.timeout):
            raise LabError("not every node's IP stack took its addresses within %.0f s: %s" % (
                self.timeout, ", ".join(n.name for n in self.nodes if not n.stack_ready(self.nwid))))
        self.timings["config"] = time.monotonic() - t
        log.info("lab up: %s", ", ".join("%s=%s" % (n.name, n.ztid) for n in self.nodes))

    def _start_root(self, identity: str) -> None:
        # The planet names the root's port, so a free port is found with a probe node which is
        # closed again; another process may take the port in between: retry.
        last = None
        for attempt in range(5):
            probe = Node(self.runtime, "probe", identity=identity, wire_log=False)
            port = probe.port
            probe.close()
            self.planet = make_planet(LAB_WORLD_ID, int(time.time() * 1000), identity, "127.0.0.1/%d" % port)
            try:
                self.root = Node(self.runtime, "root", identity=identity, port=port, planet=self.planet,
                                 wire_log=self.wire_log)
                self.root_port = port
                log.info("root %s at 127.0.0.1/%d", self.root.ztid, port)
                return
            except ZtIOError as e:
                last = e
                log.warning("root port %d taken (%s), retrying", port, e)
        raise LabError("cannot start the root: %s" % last)

    def _status(self, n: Node) -> str:
        try:
            return "%s %s" % ("ONLINE" if n.online else "OFFLINE", n.network(self.nwid).status)
        except ZtError as e:
            return str(e)

    def _all_ok(self) -> bool:
        for n in self.nodes:
            try:
                if n.network(self.nwid).status != "OK":
                    return False
            except ZtError:
                return False
        return True

    def add_node(self, name: Optional[str] = None, authorize: bool = True, wait: bool = True) -> Node:
        """Starts one more member (named n<k+1> by default), joins it, authorizes it and waits for
        status OK."""
        if not self.started:
            raise LabError("the lab is not started")
        node = self.node_class(self.runtime, name or "n%d" % (len(self.nodes) + 1), planet=self.planet,
                               join=[self.nwid], wire_log=self.wire_log, stack=self.stack)
        self.nodes.append(node)
        if authorize:
            self.controller.authorize(self.nwid, node.ztid)
        if wait and authorize and not self.runtime.wait_for(
                lambda: node.online and node.network(self.nwid).status == "OK"
                and (not self.stack or node.stack_ready(self.nwid)), self.timeout):
            raise LabError("%s did not get its network config within %.0f s" % (node.name, self.timeout))
        return node

    def tcp_demo(self, port: int = TCP_PORT, timeout: float = 30.0, out=None) -> List[TcpResult]:
        """The TCP service of the lab, as ``ztcore lab --tcp``: n1 serves on ``port`` (7000),
        every other member connects to n1's IPv4 address, sends its ztid and reads the answer.
        Prints one line per client with its timings (to ``out``, default stdout; ``out=False``
        prints nothing) and returns the :class:`TcpResult` list (see :func:`tcp_demo`).
        Needs ``Lab(..., stack=True)``."""
        if not self.stack:
            raise LabError("tcp_demo needs the nodes' IP stacks: Lab(..., stack=True)")
        return tcp_demo(self.nodes[0], self.nodes[1:], port=port, timeout=timeout, out=out)

    def table(self) -> str:
        """The node table: name, ztid, MAC and IPs of every member."""
        rows = ["  %-6s %-10s %-17s %s" % ("node", "ztid", "mac", "ips")]
        for n in self.nodes:
            try:
                net = n.network(self.nwid)
                rows.append("  %-6s %-10s %-17s %s" % (n.name, n.ztid, net.mac, ", ".join(net.ips)))
            except ZtError as e:
                rows.append("  %-6s %-10s %s" % (n.name, n.ztid, e))
        return "\n".join(rows)

    def __getattr__(self, name: str) -> Node:
        # lab.n1, lab.n2 ... (only called for attributes not found normally)
        if name.startswith("n") and name[1:].isdigit():
            for n in self.__dict__.get("nodes", []):
                if n.name == name:
                    return n
        raise AttributeError(name)

    def __getitem__(self, name: str) -> Node:
        for n in self.nodes + [x for x in (self.root, self.controller_node) if x]:
            if n.name == name:
                return n
        raise KeyError(name)

    def close(self) -> None:
        """Stops every node, the controller and the runtime."""
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
        if self.controller is not None:
            self.controller.close()
            self.controller = None

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    async def __aenter__(self) -> "Lab":
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        if not self.started:
            return "<Lab n=%d (not started)>" % self.n
        return "<Lab network %s root %s controller %s nodes %s>" % (
            self.nwid, self.root.ztid if self.root else "-",
            self.controller_node.ztid if self.controller_node else "-", " ".join(n.name for n in self.nodes))
