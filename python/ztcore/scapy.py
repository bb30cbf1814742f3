"""The Scapy lab console: ``python3 -m ztcore.scapy`` (or ``./dev repl``).

Starts nodes in this process and drops into a Scapy console with ``n1``..``nN`` and ``lab``
bound. By default it is the embedded lab (root + controller + private network on 127.0.0.1, see
:class:`ztcore.Lab`); with ``--planet FILE [--nwids ID,...]`` the nodes use an external planet
and join the given networks instead (authorize them on that network's controller).

Received frames are printed as Scapy summaries (``--quiet``: not); ``f.scapy()`` decodes a
:class:`Frame`, ``n2.packets()`` is a Scapy PacketList of everything n2 received, and
``n1.send_scapy(Ether()/IPv6(...)/ICMPv6EchoRequest(), to=n2)`` sends a Scapy packet (missing
Ether src/dst are filled from the nodes' MACs).

``--stack`` gives the lab's nodes userspace TCP/IP stacks (``n1.socket()``, ``await
n1.open_connection(...)``; they answer ARP, NDP and ping); ``--tcp`` implies it and first runs the
lab's TCP service, like ``ztcore lab --tcp``: n1 serves, every other node connects, sends its ztid,
gets an answer, and the timings are printed (``lab.tcp_demo()`` runs it again).

``--run CODE`` runs CODE in the console's namespace and exits instead of going interactive; when
stdin is not a terminal the lines read from it are run (``echo 'n1.online' | python3 -m ztcore.scapy``).
"""
from __future__ import annotations

import argparse
import code
import logging
import sys
import threading
import time
from typing import List, Optional

from .errors import LabError, ZtError
from .lab import Lab
from .node import Node, Runtime
from .types import Frame, NetworkId

_print_lock = threading.Lock()


class ReplNode(Node):
    """A Node that prints what it receives as Scapy summaries (unless ``show_frames`` is False)."""
    show_frames = True

    def on_frame(self, frame: Frame) -> None:
        if self.show_frames:
            try:
                summary = frame.scapy().summary()
            except Exception:  # a frame Scapy cannot decode is still worth a line
                summary = repr(frame)
            with _print_lock:
                print("[%s] %s" % (self.name, summary), flush=True)

    def on_user_message(self, msg) -> None:
        if self.show_frames:
            with _print_lock:
                print("[%s] %r" % (self.name, msg), flush=True)


class ExternalNodes:
    """The ``lab`` of the console with ``--planet``: nodes on an external planet."""

    def __init__(self, n: int, planet: str, nwids: List[NetworkId], bind: Optional[str], timeout: float):
        self.runtime = Runtime()
        self.nwids = nwids
        self.nwid = nwids[0] if len(nwids) == 1 else None
        self.nodes: List[Node] = []
        try:
            for i in range(n):
                self.nodes.append(ReplNode(self.runtime, "n%d" % (i + 1), planet=planet, join=nwids, bind=bind))
            if not self.runtime.wait_for(lambda: all(x.online for x in self.nodes), timeout):
                raise LabError("not every node came online within %.0f s (is the planet's root running?)" % timeout)
            # Wait for an answer from each network's controller (OK, ACCESS_DENIED, NOT_FOUND...).
            self.runtime.wait_for(lambda: all(net.status != "REQUESTING_CONFIGURATION"
                                              for x in self.nodes for net in x.list_networks()), timeout)
        except BaseException:
            self.close()
            raise

    def table(self) -> str:
        rows = ["  %-6s %-10s %-16s %-17s %-13s %s" % ("node", "ztid", "network", "mac", "status", "ips")]
        for x in self.nodes:
            nets = x.list_networks()
            if not nets:
                rows.append("  %-6s %-10s %s" % (x.name, x.ztid, "(no network)"))
            for net in nets:
                rows.append("  %-6s %-10s %-16s %-17s %-13s %s" % (x.name, x.ztid, net.nwid, net.mac, net.status,
                                                                 ", ".join(net.ips) or "-"))
        return "\n".join(rows)

    def close(self) -> None:
        self.runtime.close()

    def __repr__(self) -> str:
        return "<nodes %s on networks %s>" % (" ".join(x.name for x in self.nodes), ", ".join(map(str, self.nwids)))


def _parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m ztcore.scapy", description=(
        "Starts ZeroTier nodes in this process and opens a Scapy console with n1..nN and lab bound. "
        "Default: the embedded lab (root, controller, private network, all on 127.0.0.1)."))
    p.add_argument("-n", "--nodes", type=int, default=3, help="number of member nodes (default 3)")
    p.add_argument("--nwids", default="", help="with --planet: comma-separated networks to join")
    p.add_argument("--planet", help="use this planet file (an external root) instead of the embedded lab")
    p.add_argument("--bind", default=None,
                   help="with --planet: IPs to bind (comma-separated; default 127.0.0.1)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the nodes (default 30)")
    p.add_argument("--run", metavar="CODE", action="append",
                   help="run CODE (Python, in the console's namespace) and exit; may be repeated")
    p.add_argument("--shell", choices=("auto", "ipython", "python"), default="auto",
                   help="Scapy's console flavour: IPython if installed (auto), or the plain Python one")
    p.add_argument("--stack", action="store_true",
                   help="give the lab's nodes userspace TCP/IP stacks (n1.socket(), open_connection...)")
    p.add_argument("--tcp", action="store_true",
                   help="with --stack implied: n1 serves TCP, every other node connects, timings printed")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print received frames")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log node events (-vv: debug)")
    a = p.parse_args(argv)
    if a.nodes < 1 or a.nodes > 500:
        p.error("-n must be between 1 and 500")
    try:
        a.nwid_list = [NetworkId(x) for x in a.nwids.split(",") if x.strip()]
    except ValueError as e:
        p.error(str(e))
    if a.nwid_list and not a.planet:
        p.error("--nwids needs --planet (the embedded lab creates its own network)")
    if (a.stack or a.tcp) and a.planet:
        p.error("--stack/--tcp are for the embedded lab (not with --planet)")
    if a.tcp and a.nodes < 2:
        p.error("--tcp needs at least 2 nodes")
    a.stack = a.stack or a.tcp
    return a


def _namespace(lab, nodes: List[Node]) -> dict:
    import scapy.all as scapy_all
    import ztcore
    ns = {k: v for k, v in vars(scapy_all).items() if not k.startswith("_")}
    # ztcore's names, where they do not shadow Scapy's (Scapy has its own `Route`, for one)
    ns.update({k: getattr(ztcore, k) for k in ztcore.__all__ if k not in ns})
    ns["ztcore"] = ztcore
    ns["lab"] = lab
    ns["nwid"] = lab.nwid
    for x in nodes:
        ns[x.name] = x
    return ns


def main(argv: Optional[List[str]] = None) -> int:
    a = _parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(a.verbose, 2)],
                        format="%(asctime)s %(name)s %(message)s")
    t0 = time.monotonic()
    try:
        if a.planet:
            lab = ExternalNodes(a.nodes, a.planet, a.nwid_list, a.bind or "127.0.0.1", a.timeout)
            print("[ztcore] %d nodes on planet %s, networks: %s" % (
                a.nodes, a.planet, ", ".join(map(str, a.nwid_list)) or "none"))
        else:
            lab = Lab(a.nodes, timeout=a.timeout, node_class=ReplNode, stack=a.stack)
            print("[ztcore] root        %s at 127.0.0.1/%d" % (lab.root.ztid, lab.root_port))
            print("[ztcore] controller  %s, private network %s (%s)" % (
                lab.controller_node.ztid, lab.nwid, lab.network_config.get("name")))
    except (ZtError, LabError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    try:
        print("[ztcore] up in %.1f s\n" % (time.monotonic() - t0))
        print(lab.table())
        print()
        if a.tcp:
            results = lab.tcp_demo()
            print()
            if not all(r.ok for r in results):
                return 1
        if a.quiet:
            for x in lab.nodes:
                x.show_frames = False
        ns = _namespace(lab, lab.nodes)
        names = ", ".join(x.name for x in lab.nodes[:6]) + (", ..." if len(lab.nodes) > 6 else "")
        banner = ("Names: %s, lab, nwid, and Scapy's (Ether, IPv6, ICMPv6EchoRequest, ...).\n"
                  "Try: n1.broadcast_eth(nwid, 'ping');  n1.send_scapy(IPv6(dst=...)/ICMPv6EchoRequest(), to=n2);\n"
                  "     n2.vframes[-1].scapy();  n2.packets();  n1.wire_sent[-3:];  n1.traced" % names)
        if a.stack:
            banner += "\nStacks: lab.tcp_demo();  s = n2.socket();  s.connect((n1.ip(), port));  n1.ip(socket.AF_INET6)"
        if a.run:
            for src in a.run:
                _run(src, ns)
            _settle(lab)
            return 0
        if not sys.stdin.isatty():
            console = code.InteractiveConsole(ns)
            for line in sys.stdin:
                console.push(line.rstrip("\n"))
            console.push("")
            _settle(lab)
            return 0
        print(banner)
        try:
            from scapy.config import conf
            from scapy.main import interact
            conf.interactive_shell = a.shell
            interact(mydict=ns, argv=[sys.argv[0]], mybanner="ztcore lab")
        except ImportError:  # pragma: no cover
            code.interact(banner="", local=ns)
        return 0
    finally:
        lab.close()


def _run(src: str, ns: dict) -> None:
    # An expression's value is printed, as in the console.
    try:
        compiled = compile(src, "<--run>", "eval")
    except SyntaxError:
        exec(compile(src, "<--run>", "exec"), ns)
        return
    value = eval(compiled, ns)
    if value is not None:
        print(repr(value))


def _settle(lab) -> None:
    # Let the dispatchers print what already arrived before the nodes stop.
    time.sleep(0.2)
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
