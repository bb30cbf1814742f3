"""ztcore for Python: embeddable ZeroTier-compatible nodes, over libztcore.so's C ABI (cffi).

    from ztcore import Lab
    with Lab(3) as lab:                       # root + controller + n1..n3 on 127.0.0.1
        lab.n1.broadcast_eth(lab.nwid, "ping")
        lab.n2.wait_for(lambda: lab.n2.vframes)
        print(lab.n2.vframes[-1])

With ``Lab(3, stack=True)`` every node has a userspace TCP/IP stack: ``n1.socket()`` is used like
the standard library's sockets, ``await n1.open_connection(ip, port)`` / ``await
n1.start_server(cb, port=...)`` give asyncio's own streams (see :mod:`ztcore.sockets`,
:mod:`ztcore.aio`).

The library is found through $ZTCORE_LIB, else the repository's build/libztcore.so, else the system
loader's search (libztcore.so.1), else <sys.prefix>/lib (see :mod:`ztcore._ffi`). The Scapy
console: ``python3 -m ztcore.scapy`` (or ``./dev repl``).
"""
from ._ffi import LIB_PATH, HEADER_PATH
from .errors import (ControllerError, LabError, ZtError, ZtInternalError, ZtInvalidArgument, ZtIOError,
                     ZtNotFound, ZtStateError, ZtTooLarge)
from .types import Address, Explanation, Frame, Mac, Network, NetworkId, Route, TraceEvent, UserMessage, WirePacket
from .node import (LAB_ETHERTYPE, Controller, Node, NodeStatus, Peer, Runtime, generate_identities,
                   generate_identity, identity_address, make_planet, network_mac, version)
from .lab import LAB_NETWORK, TCP_PORT, Lab, TcpResult, tcp_demo
from .sockets import Socket
from . import aio  # noqa: F401  (ztcore.aio, the asyncio layer)

__all__ = [
    "Address", "Controller", "ControllerError", "Explanation", "Frame", "generate_identities", "generate_identity",
    "HEADER_PATH", "identity_address", "Lab", "LAB_ETHERTYPE", "LAB_NETWORK", "LabError", "LIB_PATH", "Mac",
    "make_planet", "Network", "network_mac", "NetworkId", "Node", "NodeStatus", "Peer", "Route", "Runtime",
    "Socket", "tcp_demo", "TCP_PORT", "TcpResult", "TraceEvent", "UserMessage", "version", "WirePacket",
    "ZtError", "ZtInternalError", "ZtInvalidArgument", "ZtIOError", "ZtNotFound", "ZtStateError",
    "ZtTooLarge",
]
