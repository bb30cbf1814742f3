"""Value types: addresses, network ids, MACs, frames, wire packets, events.

Every id and MAC parameter of the package goes through :func:`Address.parse`,
:func:`NetworkId.parse` or :func:`Mac.parse`, so ints, hex strings ("8fec3e8ae4", "0x8fec3e8ae4")
and, for MACs, "02:11:22:33:44:55" / "02-11-22-33-44-55" are accepted everywhere.
"""
from __future__ import annotations

import re
import time as _time
from dataclasses import dataclass, field
from typing import Optional, Union

from ._ffi import ffi, lib

IdLike = Union[int, str]

_HEX = re.compile(r"^(?:0x)?([0-9a-fA-F]+)$")


def _parse_hex(value, digits: int, what: str) -> int:
    if isinstance(value, bool):
        raise TypeError("%s: expected an int or a hex string, got a bool" % what)
    if isinstance(value, int):
        v = int(value)
    elif isinstance(value, str):
        m = _HEX.match(value.strip())
        if not m:
            raise ValueError("%s: %r is not a hex number (expected up to %d hex digits)" % (what, value, digits))
        if len(m.group(1)) > digits:
            raise ValueError("%s: %r has more than %d hex digits" % (what, value, digits))
        v = int(m.group(1), 16)
    else:
        raise TypeError("%s: expected an int or a hex string, got %s" % (what, type(value).__name__))
    if v < 0 or v >> (4 * digits):
        raise ValueError("%s: %#x does not fit in %d bits" % (what, v, 4 * digits))
    return v


def _format(value: int, spec: str) -> str:
    # f"{addr}" prints the canonical text; numeric format specs ("x", "d", "012x") still work.
    if spec and spec[-1] in "xXdobn":
        return int.__format__(int(value), spec)
    return format(str(value), spec)


class Address(int):
    """A 40-bit ZeroTier node address (a "ztid"). An int that prints as 10 hex digits."""

    def __new__(cls, value: IdLike) -> "Address":
        return int.__new__(cls, _parse_hex(value, 10, "ZeroTier address"))

    @classmethod
    def parse(cls, value) -> "Address":
        """Accepts an instance, an int or a string (see the module docstring)."""
        return value if type(value) is cls else cls(value)

    def __str__(self) -> str:
        return "%010x" % int(self)

    def __repr__(self) -> str:
        return "Address('%s')" % self

    def __format__(self, spec: str) -> str:
        return _format(self, spec)


class NetworkId(int):
    """A 64-bit network id. An int that prints as 16 hex digits."""

    def __new__(cls, value: IdLike) -> "NetworkId":
        return int.__new__(cls, _parse_hex(value, 16, "network id"))

    @classmethod
    def parse(cls, value) -> "NetworkId":
        """Accepts an instance, an int or a string (see the module docstring)."""
        return value if type(value) is cls else cls(value)

    @property
    def controller(self) -> Address:
        """The address of the controller serving this network (its top 40 bits)."""
        return Address(int(self) >> 24)

    def __str__(self) -> str:
        return "%016x" % int(self)

    def __repr__(self) -> str:
        return "NetworkId('%s')" % self

    def __format__(self, spec: str) -> str:
        return _format(self, spec)


_MAC_SEP = re.compile(r"^[0-9a-fA-F]{1,2}([:-][0-9a-fA-F]{1,2}){5}$")


class Mac(int):
    """A 48-bit Ethernet MAC. An int that prints as aa:bb:cc:dd:ee:ff."""

    BROADCAST: "Mac"

    def __new__(cls, value: Union[int, str, bytes]) -> "Mac":
        if isinstance(value, (bytes, bytearray)):
            if len(value) != 6:
                raise ValueError("MAC: expected 6 bytes, got %d" % len(value))
            return int.__new__(cls, int.from_bytes(value, "big"))
        if isinstance(value, str) and _MAC_SEP.match(value.strip()):
            parts = re.split(r"[:-]", value.strip())
            return int.__new__(cls, int("".join("%02x" % int(p, 16) for p in parts), 16))
        if isinstance(value, str) and not _HEX.match(value.strip()):
            raise ValueError("MAC: %r is neither aa:bb:cc:dd:ee:ff nor 12 hex digits" % value)
        return int.__new__(cls, _parse_hex(value, 12, "MAC"))

    @classmethod
    def parse(cls, value) -> "Mac":
        """Accepts an instance, an int or a string (see the module docstring)."""
        return value if type(value) is cls else cls(value)

    def __str__(self) -> str:
        return ":".join("%02x" % b for b in int(self).to_bytes(6, "big"))

    def __repr__(self) -> str:
        return "Mac('%s')" % self

    def __format__(self, spec: str) -> str:
        return _format(self, spec)

    @property
    def is_multicast(self) -> bool:
        return bool((int(self) >> 40) & 1)

    def to_bytes6(self) -> bytes:
        return int(self).to_bytes(6, "big")


Mac.BROADCAST = Mac(0xFFFFFFFFFFFF)


def _text(data: bytes) -> str:
    """Readable rendering of a payload: the text if it is printable, else hex."""
    try:
        s = data.decode("utf-8")
        if s.isprintable():
            return repr(s)
    except UnicodeDecodeError:
        pass
    return data[:32].hex() + ("..." if len(data) > 32 else "")


@dataclass(frozen=True)
class Frame:
    """An Ethernet frame received on (or sent to) a virtual network."""
    nwid: NetworkId
    src: Mac
    dst: Mac
    ethertype: int
    vlan: int
    data: bytes
    time: float = field(default_factory=_time.time, compare=False)

    def ether_bytes(self) -> bytes:
        """The frame as it would be on a wire: Ethernet header (with an 802.1Q tag if vlan) + data."""
        hdr = self.dst.to_bytes6() + self.src.to_bytes6()
        if self.vlan:
            hdr += b"\x81\x00" + (self.vlan & 0xFFF).to_bytes(2, "big")
        return hdr + self.ethertype.to_bytes(2, "big") + self.data

    def scapy(self):
        """The frame decoded by Scapy: ``Ether(...)`` with whatever layers Scapy recognizes."""
        from scapy.layers.l2 import Ether
        return Ether(self.ether_bytes())

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def __repr__(self) -> str:
        v = " vlan %d" % self.vlan if self.vlan else ""
        return "<Frame %s %s -> %s type 0x%04x%s %d bytes %s>" % (
            self.nwid, self.src, self.dst, self.ethertype, v, len(self.data), _text(self.data))


@dataclass(frozen=True)
class UserMessage:
    """A USER_MESSAGE received from another node."""
    source: Address
    type: int
    data: bytes
    time: float = field(default_factory=_time.time, compare=False)

    def __repr__(self) -> str:
        return "<UserMessage from %s type 0x%x %s>" % (self.source, self.type, _text(self.data))




@dataclass(frozen=True)
class TraceEvent:
    """A TRACE event: why the node dropped a packet or changed something.

    ``text`` is the human line; the rest is the structured record (docs/TRACES.md): ``code``
    (PROTOCOL.md §15 code, or ztcore's >= 9000; ``name`` spells it), ``nwid``, ``peer`` (remote
    node), the frame's ``src_mac``/``dst_mac``/``ethertype``/``vlan``/``frame_len``, when it is IP
    ``src_ip``/``dst_ip`` (text), ``ip_protocol`` and ``src_port``/``dst_port`` (0 when none),
    ``inbound``, the rules engine's ``rule`` (index, -1 none), ``action`` ("DROP", "ACCEPT"...)
    and ``capability`` (id or None), ``reason`` ("rule 2 DROP", "not a bridge"...) and ``frame``
    (the first <= 256 bytes of the Ethernet payload).
    """
    text: str
    peer: Optional[Address] = None
    time: float = field(default_factory=_time.time, compare=False)
    code: int = 0
    nwid: Optional[NetworkId] = None
    src_mac: Optional[Mac] = None
    dst_mac: Optional[Mac] = None
    ethertype: int = 0
    vlan: int = 0
    frame_len: int = 0
    src_ip: Optional[str] = None
    dst_ip: Optional[str] = None
    ip_protocol: int = 0
    src_port: int = 0
    dst_port: int = 0
    inbound: bool = False
    rule: int = -1
    action: str = ""
    capability: Optional[int] = None
    reason: str = ""
    frame: bytes = field(default=b"", repr=False)

    @property
    def name(self) -> str:
        return ffi.string(lib.zt_trace_code_name(self.code)).decode()  # the library's one table

    def __repr__(self) -> str:
        return "<Trace %s%s>" % (self.text, " (peer %s)" % self.peer if self.peer else "")


CIPHERS = {0: "POLY1305_NONE", 1: "POLY1305_SALSA2012", 2: "NO_CRYPTO_TRUSTED_PATH", 3: "AES_GMAC_SIV"}
VERBS = {0: "NOP", 1: "HELLO", 2: "ERROR", 3: "OK", 4: "WHOIS", 5: "RENDEZVOUS", 6: "FRAME",
         7: "EXT_FRAME", 8: "ECHO", 9: "MULTICAST_LIKE", 10: "NETWORK_CREDENTIALS",
         11: "NETWORK_CONFIG_REQUEST", 12: "NETWORK_CONFIG", 13: "MULTICAST_GATHER",
         14: "MULTICAST_FRAME", 16: "PUSH_DIRECT_PATHS", 18: "ACK", 19: "QOS_MEASUREMENT",
         20: "USER_MESSAGE", 21: "REMOTE_TRACE", 22: "PATH_NEGOTIATION_REQUEST"}


@dataclass(frozen=True)
class WirePacket:
    """One UDP datagram a node sent or received, with its cleartext ZeroTier header parsed
    (PROTOCOL.md §2.1 for a packet head, §2.3 for a fragment).

    ``kind`` is "packet" (a head: packet id, destination, source, flags), "fragment" (byte 13 is
    0xff: packet id, destination, fragment number/total, hops), "beacon" (13 bytes) or "short".
    ``fragmented`` is the head's flag saying fragments follow. ``verb`` is known only for cipher 0
    (the verb byte is inside the encryption envelope otherwise).
    """
    direction: str  # "sent" | "received"
    remote: str     # "ip/port"
    time_ms: int
    raw: bytes

    @property
    def kind(self) -> str:
        n = len(self.raw)
        if n == 13:
            return "beacon"
        if n > 16 and self.raw[13] == 0xFF:
            return "fragment"
        if n >= 28:
            return "packet"
        return "short"

    @property
    def packet_id(self) -> Optional[int]:
        return int.from_bytes(self.raw[0:8], "big") if self.kind in ("packet", "fragment") else None

    @property
    def destination(self) -> Optional[Address]:
        return Address(int.from_bytes(self.raw[8:13], "big")) if self.kind in ("packet", "fragment") else None

    @property
    def source(self) -> Optional[Address]:
        if self.kind == "packet":
            return Address(int.from_bytes(self.raw[13:18], "big"))
        if self.kind == "beacon":
            return Address(int.from_bytes(self.raw[8:13], "big"))
        return None

    @property
    def flags(self) -> Optional[int]:
        return self.raw[18] if self.kind == "packet" else None

    @property
    def fragmented(self) -> bool:
        """Head of a fragmented packet (flag 0x40), or a fragment itself."""
        if self.kind == "fragment":
            return True
        return self.kind == "packet" and bool(self.raw[18] & 0x40)

    @property
    def cipher(self) -> Optional[int]:
        return (self.raw[18] >> 3) & 7 if self.kind == "packet" else None

    @property
    def cipher_name(self) -> Optional[str]:
        c = self.cipher
        return None if c is None else CIPHERS.get(c, "UNKNOWN_%d" % c)

    @property
    def hops(self) -> Optional[int]:
        if self.kind == "packet":
            return self.raw[18] & 7
        if self.kind == "fragment":
            return self.raw[15] & 7
        return None

    @property
    def fragment_number(self) -> Optional[int]:
        return self.raw[14] & 0x0F if self.kind == "fragment" else None

    @property
    def fragment_total(self) -> Optional[int]:
        return self.raw[14] >> 4 if self.kind == "fragment" else None

    @property
    def verb(self) -> Optional[str]:
        if self.kind != "packet" or self.cipher != 0:
            return None
        v = self.raw[27] & 0x1F
        return VERBS.get(v, "VERB_%d" % v)

    def __len__(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        arrow = "->" if self.direction == "sent" else "<-"
        k = self.kind
        if k == "packet":
            extra = " %s %s" % (self.cipher_name, self.verb) if self.verb else " %s" % self.cipher_name
            return "<Wire %s %s %d bytes id %016x %s->%s%s hops %d%s>" % (
                arrow, self.remote, len(self.raw), self.packet_id, self.source, self.destination, extra,
                self.hops, " fragmented" if self.fragmented else "")
        if k == "fragment":
            return "<Wire %s %s %d bytes fragment %d/%d of %016x to %s hops %d>" % (
                arrow, self.remote, len(self.raw), self.fragment_number, self.fragment_total,
                self.packet_id, self.destination, self.hops)
        return "<Wire %s %s %d bytes %s>" % (arrow, self.remote, len(self.raw), k)


@dataclass(frozen=True)
class Route:
    target: str
    via: Optional[str]
    flags: int
    metric: int


@dataclass(frozen=True)
class Network:
    """A joined network as ``list_networks()`` reports it."""
    nwid: NetworkId
    name: str
    mac: Mac
    ips: tuple
    status: str
    mtu: int = 0
    broadcast: bool = False
    private: bool = True
    revision: int = 0
    routes: tuple = ()
    # Multicast groups the node announces on the network, as (Mac, adi) pairs: the host-like
    # address-resolution groups (ARP: ff:ff:ff:ff:ff:ff with the IPv4 address as ADI; IPv6
    # solicited-node 33:33:ff:xx:xx:xx) and the groups subscribed with Node.subscribe().
    subscriptions: tuple = ()

    def __repr__(self) -> str:
        return "<Network %s %r mac %s %s ips %s>" % (self.nwid, self.name, self.mac, self.status,
                                                    ", ".join(self.ips) or "-")


@dataclass(frozen=True)
class Explanation:
    """How a network's rules decide a frame (:meth:`ztcore.Node.explain`, ``zt_node_explain``).

    ``verdict`` is "accept", "drop", "super-accept" or "redirect"; ``rule`` the index of the
    deciding action in its list (None: no rule matched, the default is to drop); ``capability``
    the ID of the capability whose rules decided (None: the base rules); ``reason`` one line in
    words; ``rules`` one dict per rule of the base list and of each capability evaluated
    (keys capability, index, text, type, action, reached, evaluated, match, state, decided,
    detail); ``raw`` the whole JSON object."""
    verdict: str
    rule: Optional[int]
    capability: Optional[int]
    reason: str
    redirect_to: Optional[str] = None
    rules: tuple = ()
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def accepted(self) -> bool:
        """True if the frame passes (accept or super-accept)."""
        return self.verdict in ("accept", "super-accept")

    @classmethod
    def from_json(cls, d: dict) -> "Explanation":
        return cls(d["verdict"], d.get("rule"), d.get("capability"), d.get("reason", ""), d.get("redirect_to"),
                   tuple(d.get("rules", ())), d)
