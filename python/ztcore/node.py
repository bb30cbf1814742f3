"""Runtimes, nodes, the embedded controller, identities and planets over the C ABI.

Threading: each :class:`Runtime` owns one C event-loop thread. The C callbacks of a node run on
that thread; here they only copy what they got into Python objects and put them on the node's
queue (they never call into ztcore, which the ABI forbids). One dispatcher thread per node takes
items off the queue, updates the logs (``vframes``, ``traced``, ``wire_sent``...) and runs the
hooks (``on_frame``, ``on_user_message``), so hooks may call any method, e.g. ``send_eth``.
"""
from __future__ import annotations

import asyncio
import atexit
import collections
import json
import logging
import os
import queue
import socket as _socket
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence, Union

from ._ffi import LIB_PATH as _LIB_PATH, ffi, has as _ffi_has, lib
from .errors import ControllerError, ZtError, ZtStateError, error_for
from .types import (Address, Explanation, Frame, IdLike, Mac, Network, NetworkId, Route, TraceEvent,
                    UserMessage, WirePacket)

log = logging.getLogger("ztcore")

#: Ethertype used by :meth:`Node.broadcast_eth` when none is given: 0x88B5, "IEEE Std 802 - Local
#: Experimental Ethertype 1", reserved for exactly this kind of private experiment (the C lab uses it).
LAB_ETHERTYPE = 0x88B5

EVENT_UP, EVENT_OFFLINE, EVENT_ONLINE, EVENT_DOWN = 0, 1, 2, 3
EVENT_IDENTITY_COLLISION, EVENT_TRACE, EVENT_USER_MESSAGE, EVENT_REMOTE_TRACE = 4, 5, 6, 7
EVENT_PEER_DIRECT = 100
_EVENT_NAMES = {0: "UP", 1: "OFFLINE", 2: "ONLINE", 3: "DOWN", 4: "IDENTITY_COLLISION", 5: "TRACE",
                6: "USER_MESSAGE", 7: "REMOTE_TRACE", 100: "PEER_DIRECT"}
_NETWORK_OPS = {1: "UP", 2: "CONFIG_UPDATE", 3: "DOWN", 4: "DESTROY"}


def _check(rc: int) -> None:
    if rc != 0:
        raise error_for(rc, ffi.string(lib.zt_last_error()).decode("utf-8", "replace") or "error %d" % rc)


def _cstr(s: Optional[str]):
    return ffi.NULL if s is None else ffi.new("char[]", s.encode())


def version() -> str:
    """The library's version string."""
    return ffi.string(lib.zt_version()).decode()


# ---- identities and worlds -------------------------------------------------------------------

def generate_identity() -> str:
    """A new identity, as its secret text form (the address is its first 10 characters)."""
    buf = ffi.new("char[]", 1024)
    _check(lib.zt_identity_generate(buf, 1024))
    return ffi.string(buf).decode()


def generate_identities(n: int) -> List[str]:
    """``n`` new identities, generated in parallel (the C call runs without the GIL)."""
    out: List[Optional[str]] = [None] * n
    errors = []

    def work(i):
        try:
            out[i] = generate_identity()
        except Exception as e:  # pragma: no cover - only on a library failure
            errors.append(e)

    workers = max(1, min(n, os.cpu_count() or 1))
    for start in range(0, n, workers):
        ts = [threading.Thread(target=work, args=(i,)) for i in range(start, min(n, start + workers))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    if errors:
        raise errors[0]
    return out  # type: ignore[return-value]


def identity_address(identity: str) -> Address:
    """Validates an identity text (public or secret) and returns its address."""
    a = ffi.new("uint64_t*")
    _check(lib.zt_identity_validate(identity.strip().encode(), a))
    return Address(a[0])


def make_planet(world_id: int, timestamp_ms: int, root_identity: str, endpoints: Union[str, Sequence[str]]) -> bytes:
    """A signed planet with one root (``root_identity``, secret text form, also signs it) reachable
    at ``endpoints`` ("127.0.0.1/9993" or a list of them)."""
    if not isinstance(endpoints, str):
        endpoints = ",".join(endpoints)
    n = ffi.new("size_t*")
    cap = 4096
    while True:
        out = ffi.new("uint8_t[]", cap)
        rc = lib.zt_planet_make(world_id, timestamp_ms, root_identity.encode(), endpoints.encode(), out, cap, n)
        if rc == -5 and n[0] > cap:
            cap = n[0]
            continue
        _check(rc)
        return bytes(ffi.buffer(out, n[0]))


def network_mac(address: IdLike, nwid: IdLike) -> Mac:
    """The MAC the node ``address`` has on network ``nwid`` (PROTOCOL.md §4.2, computed by the library)."""
    return Mac(lib.zt_network_mac(Address.parse(address), NetworkId.parse(nwid)))


# ---- the embedded controller -------------------------------------------------------------------

class Controller:
    """An embedded network controller (``zt_controller``). Give it to a node with
    ``Node(..., controller=c)``; that node then serves the networks ``<its address>xxxxxx``.
    Managed with zerotier-one's controller API requests (paths and JSON), without HTTP."""

    def __init__(self, db_path: Optional[str] = None):
        out = ffi.new("zt_controller**")
        _check(lib.zt_controller_new(_cstr(db_path) if db_path else ffi.NULL, out))
        self._c = out[0]
        self._lock = threading.Lock()

    def request(self, method: str, path: str, body=None):
        """Sends one request; returns ``(http_status, parsed JSON answer)``. ``body`` may be a
        dict/list (sent as JSON) or a JSON string."""
        if self._c is None:
            raise ZtError("controller is closed")
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        status = ffi.new("int*")
        n = ffi.new("size_t*")
        read_only = method.upper() == "GET"
        cap = 65536 if read_only else 1 << 20
        while True:
            out = ffi.new("char[]", cap)
            rc = lib.zt_controller_request(self._c, method.encode(), path.encode(),
                                           body if body is not None else ffi.NULL, out, cap, n, status)
            if rc == -5 and n[0] > cap:
                if read_only:
                    cap = n[0]
                    continue
                # The write was carried out; repeating it could e.g. create a second network.
                log.warning("%s %s: answer of %d bytes not read (too large)", method, path, n[0])
                return status[0], None
            _check(rc)
            text = ffi.string(out).decode("utf-8", "replace")
            try:
                data = json.loads(text) if text.strip() else None
            except ValueError:
                data = text
            return status[0], data

    def call(self, method: str, path: str, body=None):
        """Like :meth:`request` but raises :class:`ControllerError` on a 4xx/5xx answer."""
        st, data = self.request(method, path, body)
        if st >= 400:
            msg = data.get("error") if isinstance(data, dict) else data
            raise ControllerError("%s %s: HTTP %d: %s" % (method, path, st, msg), st, data)
        return data

    def create_network(self, controller_address: IdLike, config: dict) -> NetworkId:
        """Creates a network with a random id under ``controller_address``; returns its id."""
        data = self.call("POST", "/controller/network/%s______" % Address.parse(controller_address), config)
        return NetworkId(data.get("nwid") or data["id"])

    def authorize(self, nwid: IdLike, address: IdLike, authorized: bool = True) -> dict:
        return self.call("POST", "/controller/network/%s/member/%s" % (NetworkId.parse(nwid), Address.parse(address)),
                         {"authorized": bool(authorized)})

    def network(self, nwid: IdLike) -> dict:
        return self.call("GET", "/controller/network/%s" % NetworkId.parse(nwid))

    def members(self, nwid: IdLike) -> dict:
        return self.call("GET", "/controller/network/%s/member" % NetworkId.parse(nwid))

    def close(self) -> None:
        """Frees the controller; only after every node using it was closed."""
        if self._c is not None:
            lib.zt_controller_free(self._c)
            self._c = None


# ---- C callbacks: copy, enqueue, return --------------------------------------------------------

def _sink(user):
    try:
        return ffi.from_handle(user)
    except Exception:
        return None


@ffi.callback("void(zt_node*, void*, const zt_event*)")
def _on_event(node, user, ev):
    q = _sink(user)
    if q is None:
        return
    data = bytes(ffi.buffer(ev.data, ev.len)) if ev.data != ffi.NULL and ev.len else b""
    text = ffi.string(ev.text).decode("utf-8", "replace") if ev.text != ffi.NULL else ""
    trace = _trace_fields(ev.trace) if ev.type == EVENT_TRACE and ev.trace != ffi.NULL else {}
    q.put(("event", (ev.type, ev.peer, ev.type_id, data, text, trace)))


def _trace_fields(t) -> dict:
    """A zt_trace (ABI 1.3) as TraceEvent keyword arguments (copied: valid only in the callback)."""
    def s(p):
        return ffi.string(p).decode("utf-8", "replace") if p != ffi.NULL else ""
    has_frame = t.ethertype != 0 or t.frame_len != 0
    has_ip = t.ip_version in (4, 6)
    return dict(
        code=t.code, nwid=NetworkId(t.nwid) if t.nwid else None,
        src_mac=Mac(t.src_mac) if has_frame else None, dst_mac=Mac(t.dst_mac) if has_frame else None,
        ethertype=t.ethertype, vlan=t.vlan, frame_len=t.frame_len,
        src_ip=ffi.string(t.src_ip).decode() if has_ip else None,
        dst_ip=ffi.string(t.dst_ip).decode() if has_ip else None,
        ip_protocol=t.ip_protocol, src_port=t.src_port, dst_port=t.dst_port, inbound=bool(t.inbound),
        rule=t.rule, action=s(t.action), capability=t.capability if t.has_capability else None,
        reason=s(t.reason),
        frame=bytes(ffi.buffer(t.frame, t.frame_captured)) if t.frame != ffi.NULL and t.frame_captured else b"")


@ffi.callback("void(zt_node*, void*, const zt_frame*)")
def _on_frame(node, user, f):
    q = _sink(user)
    if q is None:
        return
    data = bytes(ffi.buffer(f.data, f.len)) if f.data != ffi.NULL and f.len else b""
    q.put(("frame", Frame(NetworkId(f.nwid), Mac(f.src_mac), Mac(f.dst_mac), f.ethertype, f.vlan, data)))


def _network_from_info(info) -> Network:
    ips = tuple(ffi.string(info.addresses[i]).decode() for i in range(min(info.address_count, 16)))
    routes = tuple(Route(ffi.string(r.target).decode(), ffi.string(r.via).decode() or None, r.flags, r.metric)
                   for r in (info.routes[i] for i in range(min(info.route_count, 32))))
    subs = tuple((Mac(g.mac), int(g.adi))
                 for g in (info.subscriptions[i] for i in range(min(info.subscription_count, 64))))
    status = ffi.string(info.status_name).decode() if info.status_name != ffi.NULL else str(info.status)
    return Network(NetworkId(info.nwid), ffi.string(info.name).decode("utf-8", "replace"), Mac(info.mac), ips,
                   status, info.mtu, bool(info.broadcast), not info.is_public, info.revision, routes, subs)


@ffi.callback("void(zt_node*, void*, int, const zt_network_info*)")
def _on_network(node, user, op, info):
    q = _sink(user)
    if q is None:
        return
    q.put(("network", (op, _network_from_info(info))))


@ffi.callback("void(zt_node*, void*, const zt_wire*)")
def _on_wire(node, user, w):
    q = _sink(user)
    if q is None:
        return
    raw = bytes(ffi.buffer(w.data, w.len)) if w.data != ffi.NULL and w.len else b""
    q.put(("wire", WirePacket("sent" if w.direction == 1 else "received", ffi.string(w.remote).decode(),
                              w.time_ms, raw)))


# ---- runtime ------------------------------------------------------------------------------------

# Strong references: a runtime (and its nodes, whose handles the C callbacks use) lives until it
# is closed, or until exit; a garbage-collected node under a running C node would crash.
_open_runtimes: "set[Runtime]" = set()


@atexit.register
def _close_all() -> None:
    # A runtime thread must not call into Python while the interpreter is being torn down.
    for rt in list(_open_runtimes):
        try:
            rt.close()
        except Exception:
            pass


class Runtime:
    """One ztcore event-loop thread hosting any number of nodes."""

    def __init__(self):
        out = ffi.new("zt_runtime**")
        _check(lib.zt_runtime_new(out))
        self._rt = out[0]
        self.nodes: List["Node"] = []
        #: notified whenever any node of this runtime handled an event (see :meth:`wait_for`)
        self.changed = threading.Condition()
        _open_runtimes.add(self)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Waits until ``predicate()`` is true (re-checked after every event of any node, and at
        least every 0.1 s); returns its last value."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if predicate():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return bool(predicate())
                self.changed.wait(min(left, 0.1))

    def close(self) -> None:
        """Closes every node, then stops the thread."""
        for n in list(self.nodes):
            n.close()
        if self._rt is not None:
            lib.zt_runtime_free(self._rt)
            self._rt = None
        _open_runtimes.discard(self)

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class NodeStatus:
    address: Address
    online: bool
    port: int
    planet_id: int
    planet_timestamp: int
    public_identity: str


@dataclass(frozen=True)
class Peer:
    address: Address
    role: str
    latency_ms: int
    version: str
    direct: bool
    paths: tuple


class Node:
    """A ZeroTier node in a :class:`Runtime`.

    Ids and MACs may be given as ints or hex strings everywhere (MACs also as "02:11:22:33:44:55").

    Hooks (override in a subclass, or assign on the instance: ``n2.on_frame = fn``) run on the
    node's dispatcher thread and may call any method of any node:

    * ``on_frame(frame)`` — every Ethernet frame received (a :class:`Frame`)
    * ``on_user_message(msg)`` — every USER_MESSAGE received (a :class:`UserMessage`)

    Logs (bounded, newest last; the properties return snapshots): ``vframes`` (received frames),
    ``wire_sent`` / ``wire_received`` (UDP datagrams as :class:`WirePacket`), ``traced``
    (TRACE events), ``user_messages``.
    """

    def __init__(self, runtime: Runtime, name: Optional[str] = None, *, home: Optional[str] = None, port: int = 0,
                 bind: Optional[str] = "127.0.0.1", planet: Union[bytes, str, Path, None] = None,
                 identity: Optional[str] = None, allow_loopback: bool = True, join: Iterable[IdLike] = (),
                 controller: Optional[Controller] = None, wire_log: bool = True, log_size: int = 1000,
                 stack: bool = False):
        self.runtime = runtime
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._handle = ffi.new_handle(self._queue)
        self._lock = threading.Lock()
        self._vframes = collections.deque(maxlen=log_size)
        self._traced = collections.deque(maxlen=log_size)
        self._user_messages = collections.deque(maxlen=log_size)
        self._wire_sent = collections.deque(maxlen=2 * log_size)
        self._wire_received = collections.deque(maxlen=2 * log_size)
        self._networks = {}
        self._subscribers = []
        self._online_event = False
        self.controller = controller
        #: True if the node runs a userspace TCP/IP stack on its networks (:meth:`socket`)
        self.stack = bool(stack)
        self._sockets: "weakref.WeakSet" = weakref.WeakSet()

        o = ffi.new("zt_node_options*")
        lib.zt_node_options_init(o)
        keep = []  # C buffers that must live until zt_node_new returns

        def c(s):
            b = _cstr(s)
            keep.append(b)
            return b

        if home is not None:
            o.home = c(str(home))
        o.port = port
        if bind:
            o.bind = c(bind)
        if isinstance(planet, (bytes, bytearray)):
            pb = ffi.new("uint8_t[]", bytes(planet))
            keep.append(pb)
            o.planet, o.planet_len = pb, len(planet)
        elif planet is not None:
            o.planet_file = c(str(planet))
        if identity is not None:
            o.identity = c(identity)
        o.allow_loopback = 1 if allow_loopback else 0
        o.on_event = _on_event
        o.user = self._handle
        o.on_frame = _on_frame
        o.on_network = _on_network
        if wire_log:
            o.on_wire = _on_wire
        nwids = [NetworkId.parse(n) for n in join]
        if nwids:
            arr = ffi.new("uint64_t[]", nwids)
            keep.append(arr)
            o.join, o.join_count = arr, len(nwids)
        if controller is not None:
            o.controller = controller._c
        if stack:
            if not hasattr(o, "stack") or not _ffi_has("zt_socket_new"):
                raise ZtStateError("this libztcore.so (%s) has no IP stack (ABI 1.2 `stack` option and "
                                   "zt_socket_* are missing)" % _LIB_PATH, -4)
            o.stack = 1
        out = ffi.new("zt_node**")
        _check(lib.zt_node_new(runtime._rt, o, out))
        self._n = out[0]
        self.ztid: Address = Address(lib.zt_node_address(self._n))
        self.name: str = name or str(self.ztid)
        self.log = logging.getLogger("ztcore." + self.name)
        self._dispatcher = threading.Thread(target=self._dispatch, name="ztcore-" + self.name, daemon=True)
        self._dispatcher.start()
        runtime.nodes.append(self)
        self.log.info("started %s on UDP port %d", self.ztid, self.port)

    # ---- dispatcher ----

    def _dispatch(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, payload = item
            try:
                if kind == "frame":
                    self._handle_frame(payload)
                elif kind == "event":
                    self._handle_event(*payload)
                elif kind == "network":
                    self._handle_network(*payload)
                elif kind == "wire":
                    (self._wire_sent if payload.direction == "sent" else self._wire_received).append(payload)
            except Exception:
                self.log.exception("error while handling a %s", kind)
            with self.runtime.changed:
                self.runtime.changed.notify_all()

    def _handle_frame(self, frame: Frame) -> None:
        self._vframes.append(frame)
        self.log.debug("frame %r", frame)
        with self._lock:
            subs = list(self._subscribers)
        for loop, q in subs:
            try:
                loop.call_soon_threadsafe(q.put_nowait, frame)
            except RuntimeError:  # loop closed
                pass
        self.on_frame(frame)

    def _handle_event(self, etype: int, peer: int, type_id: int, data: bytes, text: str, trace: dict) -> None:
        name = _EVENT_NAMES.get(etype, str(etype))
        if etype == EVENT_TRACE:
            ev = TraceEvent(text, Address(peer) if peer else None, **trace)
            self._traced.append(ev)
            self.log.debug("TRACE %s", text)
        elif etype == EVENT_USER_MESSAGE:
            msg = UserMessage(Address(peer), type_id, data)
            self._user_messages.append(msg)
            self.log.debug("user message %r", msg)
            self.on_user_message(msg)
        elif etype in (EVENT_ONLINE, EVENT_OFFLINE):
            self._online_event = etype == EVENT_ONLINE
            self.log.info("%s", name)
        else:
            self.log.info("%s%s%s", name, " " + str(Address(peer)) if peer else "", " " + text if text else "")

    def _handle_network(self, op: int, net: Network) -> None:
        old = self._networks.get(net.nwid)
        if op in (3, 4):
            self._networks.pop(net.nwid, None)
        else:
            self._networks[net.nwid] = net
        if old is None or old.status != net.status or old.ips != net.ips or op in (3, 4):
            self.log.info("network %s %s %s %s", net.nwid, _NETWORK_OPS.get(op, op), net.status,
                          ", ".join(net.ips) or "-")

    # ---- hooks ----

    def on_frame(self, frame: Frame) -> None:
        """Hook: called on the dispatcher thread for every received frame. Default: nothing."""

    def on_user_message(self, msg: UserMessage) -> None:
        """Hook: called on the dispatcher thread for every received USER_MESSAGE. Default: nothing."""

    # ---- state ----

    def _h(self):
        if self._n is None:
            raise ZtError("node %s is closed" % self.name, -4)
        return self._n

    def status(self) -> NodeStatus:
        s = ffi.new("zt_node_status*")
        _check(lib.zt_node_status_get(self._h(), s))
        return NodeStatus(Address(s.address), bool(s.online), s.port, s.planet_id, s.planet_timestamp,
                          ffi.string(s.public_identity).decode())

    @property
    def online(self) -> bool:
        """True while the node can reach a root."""
        return self._n is not None and self.status().online

    @property
    def port(self) -> int:
        return self.status().port

    def peers(self) -> List[Peer]:
        cap = 64
        while True:
            arr = ffi.new("zt_peer[]", cap)
            n = ffi.new("size_t*")
            _check(lib.zt_node_peers(self._h(), arr, cap, n))
            if n[0] <= cap:
                break
            cap = n[0]
        roles = {0: "LEAF", 1: "MOON", 2: "PLANET"}
        out = []
        for p in arr[0:n[0]]:
            ver = "-" if p.version_major < 0 else "%d.%d.%d" % (p.version_major, p.version_minor, p.version_revision)
            paths = tuple(ffi.string(p.paths[i].address).decode() for i in range(min(p.path_count, 8)))
            out.append(Peer(Address(p.address), roles.get(p.role, str(p.role)), p.latency_ms, ver, bool(p.direct), paths))
        return out

    def counters(self) -> dict:
        c = ffi.new("zt_counters*")
        _check(lib.zt_node_counters(self._h(), c))
        return {k: getattr(c, k) for k in ("datagrams_in", "datagrams_out", "packets_in", "relayed",
                                           "dropped_malformed", "dropped_auth", "dropped_unknown_peer",
                                           "dropped_policy", "whois_sent")}

    @property
    def vframes(self) -> List[Frame]:
        """Received frames (snapshot of a bounded log, newest last)."""
        return list(self._vframes)

    @property
    def traced(self) -> List[TraceEvent]:
        """TRACE events with their reason text (snapshot of a bounded log)."""
        return list(self._traced)

    @property
    def user_messages(self) -> List[UserMessage]:
        return list(self._user_messages)

    @property
    def wire_sent(self) -> List[WirePacket]:
        """UDP datagrams this node sent, headers parsed (snapshot of a bounded log)."""
        return list(self._wire_sent)

    @property
    def wire_received(self) -> List[WirePacket]:
        """UDP datagrams this node received, headers parsed (snapshot of a bounded log)."""
        return list(self._wire_received)

    def packets(self):
        """The received frames decoded by Scapy, as a Scapy PacketList."""
        from scapy.plist import PacketList
        return PacketList([f.scapy() for f in self.vframes], name=self.name)

    def clear_logs(self) -> None:
        for d in (self._vframes, self._traced, self._user_messages, self._wire_sent, self._wire_received):
            d.clear()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Waits until ``predicate()`` is true or ``timeout`` seconds passed; returns its value."""
        return self.runtime.wait_for(predicate, timeout)

    # ---- networks ----

    def list_networks(self) -> List[Network]:
        """The networks this node joined (id, name, MAC, assigned IPs, status...)."""
        cap = 8
        while True:
            arr = ffi.new("zt_network_info[]", cap)
            n = ffi.new("size_t*")
            _check(lib.zt_node_networks(self._h(), arr, cap, n))
            if n[0] <= cap:
                return [_network_from_info(arr[i]) for i in range(n[0])]
            cap = n[0]

    def network(self, nwid: IdLike) -> Network:
        """One joined network; :class:`ZtNotFound` if not joined."""
        info = ffi.new("zt_network_info*")
        _check(lib.zt_node_network(self._h(), NetworkId.parse(nwid), info))
        return _network_from_info(info)

    def network_mac(self, nwid: IdLike) -> Mac:
        """This node's MAC on a joined network (:class:`ZtNotFound` if not joined)."""
        return self.network(nwid).mac

    @staticmethod
    def mac_for(ztid: IdLike, nwid: IdLike) -> Mac:
        """The MAC node ``ztid`` has on network ``nwid`` (pure computation, PROTOCOL.md §4.2)."""
        return network_mac(ztid, nwid)

    def join(self, nwid: IdLike) -> None:
        _check(lib.zt_node_join(self._h(), NetworkId.parse(nwid)))

    def leave(self, nwid: IdLike) -> None:
        """Leaves a network (:class:`ZtNotFound` if not joined)."""
        _check(lib.zt_node_leave(self._h(), NetworkId.parse(nwid)))

    def subscribe(self, nwid: Optional[IdLike], mac: IdLike, adi: int = 0) -> None:
        """Subscribes to a multicast group (MAC + ADI) so frames sent to it arrive here."""
        _check(lib.zt_node_multicast_subscribe(self._h(), self._nw(nwid), Mac.parse(mac), adi))

    def unsubscribe(self, nwid: Optional[IdLike], mac: IdLike, adi: int = 0) -> None:
        _check(lib.zt_node_multicast_unsubscribe(self._h(), self._nw(nwid), Mac.parse(mac), adi))

    @property
    def nwid(self) -> NetworkId:
        """The only joined network (ValueError if there are none or several)."""
        nets = self.list_networks()
        if len(nets) != 1:
            raise ValueError("node %s has joined %d networks; say which one" % (self.name, len(nets)))
        return nets[0].nwid

    def _nw(self, nwid: Optional[IdLike]) -> NetworkId:
        return self.nwid if nwid is None else NetworkId.parse(nwid)

    # ---- sending ----

    def send_eth(self, nwid: Optional[IdLike], src_mac: Union[IdLike, None], dst_mac: Union[IdLike, "Node"],
                 ethertype: int, data: Union[bytes, str], vlan: int = 0) -> None:
        """Sends an Ethernet frame (``data`` is the payload after the 14-byte header; str is sent
        as UTF-8). ``nwid`` None = the only joined network; ``src_mac`` None = this node's MAC;
        ``dst_mac`` may be a :class:`Node`. A foreign source MAC is dropped by the node (see
        ``traced``); like a NIC, that is not an error. ``vlan`` is seen by the network's rules
        only: ZeroTier frames carry no VLAN tag, so receivers get vlan 0."""
        nw = self._nw(nwid)
        src = self.network_mac(nw) if src_mac is None else Mac.parse(src_mac)
        dst = self.mac_for(dst_mac.ztid, nw) if isinstance(dst_mac, Node) else Mac.parse(dst_mac)
        if isinstance(data, str):
            data = data.encode()
        if not 0 <= ethertype <= 0xFFFF:
            raise ValueError("ethertype %r out of range" % ethertype)
        if not 0 <= vlan <= 0xFFF:
            raise ValueError("vlan %r out of range" % vlan)
        data = bytes(data)
        _check(lib.zt_node_send_frame(self._h(), nw, src, dst, ethertype, vlan, data, len(data)))
        self.log.debug("sent frame %s -> %s type 0x%04x %d bytes", src, dst, ethertype, len(data))

    def explain(self, frame, inbound: bool = False, peer: Union[IdLike, "Node", None] = None,
                nwid: Optional[IdLike] = None) -> Explanation:
        """Explains how the network's rules (this node's current config and what it holds of the
        peer's credentials) decide ``frame``: a whole Ethernet frame as bytes, or a Scapy
        ``Ether`` packet. ``inbound`` False: this node sends it to ``peer``; True: ``peer`` sent
        it here. ``peer`` None = the member whose MAC the frame carries (destination outbound,
        source inbound). ``nwid`` None = the only joined network. Nothing is sent.
        :class:`ZtNotFound` if not joined, :class:`ZtStateError` before the network has a config."""
        nw = self._nw(nwid)
        data = bytes(frame)
        p = 0 if peer is None else (peer.ztid if isinstance(peer, Node) else Address.parse(peer))
        n = ffi.new("size_t*")
        cap = 16384
        while True:
            out = ffi.new("char[]", cap)
            rc = lib.zt_node_explain(self._h(), nw, data, len(data), 1 if inbound else 0, p, out, cap, n)
            if rc == -5 and n[0] > cap:
                cap = n[0]
                continue
            _check(rc)
            return Explanation.from_json(json.loads(ffi.string(out).decode("utf-8", "replace")))

    def broadcast_eth(self, nwid: Optional[IdLike], data: Union[bytes, str], ethertype: int = 0) -> None:
        """Broadcasts ``data`` (to ff:ff:ff:ff:ff:ff) from this node's MAC. ``ethertype`` 0 means
        :data:`LAB_ETHERTYPE` (0x88B5, IEEE 802 local experimental), what the C lab uses."""
        self.send_eth(nwid, None, Mac.BROADCAST, ethertype or LAB_ETHERTYPE, data)

    def send_user_message(self, ztid: Union[IdLike, "Node"], type: int, data: Union[bytes, str]) -> None:
        """Sends a USER_MESSAGE (no delivery guarantee, like UDP)."""
        dest = ztid.ztid if isinstance(ztid, Node) else Address.parse(ztid)
        if isinstance(data, str):
            data = data.encode()
        data = bytes(data)
        _check(lib.zt_node_send_user_message(self._h(), dest, type, data, len(data)))

    def ping(self, ztid: Union[IdLike, "Node"]) -> None:
        """Sends an ECHO (updates the peer's latency)."""
        _check(lib.zt_node_ping(self._h(), ztid.ztid if isinstance(ztid, Node) else Address.parse(ztid)))

    def _address(self, nwid: NetworkId, v6: bool) -> Optional[str]:
        """This node's first assigned IPv6 (or IPv4) address on the network, without the /bits."""
        try:
            ips = self.network(nwid).ips
        except ZtError:
            return None
        for ip in ips:
            if (":" in ip) == v6:
                return ip.split("/")[0]
        return None

    def send_scapy(self, pkt, to: Union["Node", IdLike, None] = None, nwid: Optional[IdLike] = None) -> Frame:
        """Sends a Scapy packet as a frame. Without an ``Ether`` layer one is added. A missing
        Ether src is this node's MAC; a missing dst is the MAC of ``to`` (a Node or address),
        or broadcast without ``to``. A missing IPv6/IP src is this node's assigned address, a
        missing dst the one of ``to`` (a Node). An 802.1Q layer becomes the frame's VLAN.
        Returns the Frame sent."""
        from scapy.layers.l2 import Ether
        nw = self._nw(nwid)
        if not pkt.haslayer(Ether):
            pkt = Ether() / pkt
        else:
            pkt = pkt.copy()
        eth = pkt[Ether]
        # Missing IP addresses come from the nodes' assigned ones (else Scapy would pick the
        # host's, which mean nothing on the virtual network).
        from scapy.layers.inet import IP
        from scapy.layers.inet6 import IPv6
        peer = to if isinstance(to, Node) else None
        for layer, v6 in ((IPv6, True), (IP, False)):
            if pkt.haslayer(layer):
                ip = pkt[layer]
                if ip.fields.get("src") is None and self._address(nw, v6):
                    ip.src = self._address(nw, v6)
                if ip.fields.get("dst") is None and peer is not None and peer._address(nw, v6):
                    ip.dst = peer._address(nw, v6)
        if eth.fields.get("src") is None:
            eth.src = str(self.network_mac(nw))
        if eth.fields.get("dst") is None:
            if to is None:
                eth.dst = str(Mac.BROADCAST)
            else:
                eth.dst = str(self.mac_for(to.ztid if isinstance(to, Node) else to, nw))
        raw = bytes(eth)
        dst, src, et, off, vlan = Mac(raw[0:6]), Mac(raw[6:12]), int.from_bytes(raw[12:14], "big"), 14, 0
        if et == 0x8100 and len(raw) >= 18:
            vlan = int.from_bytes(raw[14:16], "big") & 0xFFF
            et, off = int.from_bytes(raw[16:18], "big"), 18
        self.send_eth(nw, src, dst, et, raw[off:], vlan)
        return Frame(nw, src, dst, et, vlan, raw[off:])

    # ---- packet capture ----

    def pcap(self, path: Union[str, "os.PathLike", None]) -> None:
        """Writes what this node sees into a pcapng file at ``path`` (created or truncated, 0644)
        until :meth:`pcap_stop` (or ``pcap(None)``) or :meth:`close`: interface ``udp`` holds every
        UDP datagram sent or received (IPv4/IPv6 + UDP headers synthesized from the real addresses
        and ports; encrypted ZeroTier packets), one interface ``zt-<nwid>`` per network the
        decrypted Ethernet frames in and out, each with a comment such as
        ``"in from 89e92cee01 accepted"``. Read it with ``scapy.utils.rdpcap`` or Wireshark.
        Calling it again switches to a new file. :class:`ZtIOError` (an ``OSError``) if the file
        cannot be created."""
        if path is None:
            self.pcap_stop()
            return
        if not _ffi_has("zt_node_pcap_start"):
            raise ZtStateError("this libztcore.so (%s) has no packet capture (ABI 1.3 zt_node_pcap_start "
                               "is missing)" % _LIB_PATH, -4)
        _check(lib.zt_node_pcap_start(self._h(), os.fsencode(os.fspath(path))))

    def pcap_stop(self) -> None:
        """Stops the capture started by :meth:`pcap` and closes its file (nothing without one);
        :class:`ZtIOError` if writing it failed meanwhile."""
        if not _ffi_has("zt_node_pcap_stop"):
            return
        _check(lib.zt_node_pcap_stop(self._h()))

    # ---- sockets over the node's IP stack (Node(..., stack=True)) ----

    def ip(self, family: int = _socket.AF_INET, nwid: Optional[IdLike] = None) -> str:
        """This node's first assigned address of ``family`` (``socket.AF_INET`` or ``AF_INET6``)
        on a network (None = the only joined one), without the /bits; ValueError if it has none."""
        nw = self._nw(nwid)
        ip = self._address(nw, family == _socket.AF_INET6)
        if ip is None:
            raise ValueError("node %s has no %s address on network %s" % (
                self.name, "IPv6" if family == _socket.AF_INET6 else "IPv4", nw))
        return ip

    def stack_ready(self, nwid: Optional[IdLike] = None) -> bool:
        """True once this node's stack holds every address the network's config assigned (the
        stack takes a new config a moment after the node does). Probed with a UDP bind to each
        address, which the stack refuses until it has it."""
        if not self.stack:
            return False
        try:
            ips = self.network(self._nw(nwid)).ips
        except ZtError:
            return False
        if not ips:
            return False
        for cidr in ips:
            ip = cidr.split("/")[0]
            try:
                with self.socket(_socket.AF_INET6 if ":" in ip else _socket.AF_INET, _socket.SOCK_DGRAM) as s:
                    s.bind((ip, 0))
            except OSError:
                return False
        return True

    def socket(self, family: int = _socket.AF_INET, type: int = _socket.SOCK_STREAM, proto: int = 0):
        """A TCP or UDP socket on this node's stack, used like the standard library's
        (:class:`ztcore.Socket`, see :mod:`ztcore.sockets`). Needs ``Node(..., stack=True)``."""
        from .sockets import Socket
        if not self.stack:
            raise ZtStateError("node %s has no IP stack: create it with Node(..., stack=True)" % self.name, -4)
        return Socket(self, family, type, proto)

    async def open_connection(self, host, port: int, **kwargs):
        """``asyncio.open_connection`` over this node's stack: ``(StreamReader, StreamWriter)``.
        ``host``: an IP literal or a Node. See :mod:`ztcore.aio`."""
        from . import aio
        return await aio.open_connection(self, host, port, **kwargs)

    async def start_server(self, client_connected_cb, host=None, port: int = 0, **kwargs):
        """``asyncio.start_server`` over this node's stack; returns a :class:`ztcore.aio.Server`."""
        from . import aio
        return await aio.start_server(self, client_connected_cb, host, port, **kwargs)

    async def create_connection(self, protocol_factory, host, port: int, **kwargs):
        """``loop.create_connection`` over this node's stack: ``(transport, protocol)``."""
        from . import aio
        return await aio.create_connection(self, protocol_factory, host, port, **kwargs)

    async def create_server(self, protocol_factory, host=None, port: int = 0, **kwargs):
        """``loop.create_server`` over this node's stack."""
        from . import aio
        return await aio.create_server(self, protocol_factory, host, port, **kwargs)

    # ---- async ----

    async def frames(self):
        """``async for f in node.frames():`` — every frame received from now on."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue()
        sub = (loop, q)
        with self._lock:
            self._subscribers.append(sub)
        try:
            while True:
                yield await q.get()
        finally:
            with self._lock:
                if sub in self._subscribers:
                    self._subscribers.remove(sub)

    # ---- life cycle ----

    def close(self) -> None:
        """Stops the node and its dispatcher."""
        if self._n is None:
            return
        for s in list(self._sockets):  # wakes threads blocked on them; zt_node_free frees the rest
            s.close()
        lib.zt_node_free(self._n)
        self._n = None
        self._queue.put(None)
        if threading.current_thread() is not self._dispatcher:
            self._dispatcher.join(5)
        if self in self.runtime.nodes:
            self.runtime.nodes.remove(self)
        self.log.info("stopped")

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._n is None:
            return "<Node %s ztid %s closed>" % (self.name, self.ztid)
        try:
            st = self.status()
            nets = ", ".join("%s %s %s" % (n.nwid, n.status, n.mac) for n in self.list_networks())
            return "<Node %s ztid %s port %d %s%s>" % (self.name, self.ztid, st.port,
                                                     "ONLINE" if st.online else "OFFLINE",
                                                     " networks: " + nets if nets else "")
        except (ZtError, AttributeError):  # AttributeError: a library without ABI 1.1
            return "<Node %s ztid %s>" % (self.name, self.ztid)
