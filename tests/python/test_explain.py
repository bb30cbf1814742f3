"""Node.explain (zt_node_explain, ABI 1.3): how the lab network's rules decide a frame, from bytes
or a Scapy Ether, outbound and inbound, and the errors."""
import pytest

import ztcore
from ztcore import _ffi

from conftest import require


def _needs_explain():
    require("zt_node_explain")


def test_explain_bytes_outbound_and_inbound(lab):
    _needs_explain()
    n1, n2 = lab.n1, lab.n2
    dst, src = n2.network_mac(lab.nwid), n1.network_mac(lab.nwid)
    # An IPv4/ICMP echo, built by hand (no Scapy needed).
    ip = bytes([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 147, 20, 1, 10, 147, 20, 2])
    frame = dst.to_bytes(6, "big") + src.to_bytes(6, "big") + b"\x08\x00" + ip + bytes([8, 0, 0, 0, 0, 1, 0, 1])
    x = n1.explain(frame)
    assert isinstance(x, ztcore.Explanation)
    assert x.verdict == "accept" and x.accepted
    assert x.capability is None
    assert isinstance(x.rule, int) and x.rule >= 0
    assert x.reason.startswith("rule %d ACCEPT" % x.rule)
    assert x.rules and all(r["capability"] is None for r in x.rules)
    assert x.raw["verdict"] == "accept"
    # Inbound from n1 as n2 sees it; the peer named explicitly.
    y = n2.explain(frame, inbound=True, peer=n1)
    assert y.verdict == "accept"
    assert y.rule == x.rule


def test_explain_scapy_ether(lab):
    _needs_explain()
    pytest.importorskip("scapy")
    from scapy.layers.inet import ICMP, IP, TCP
    from scapy.layers.l2 import Ether
    n1, n2 = lab.n1, lab.n2
    src, dst = str(n1.network_mac(lab.nwid)), str(n2.network_mac(lab.nwid))
    for p in (Ether(src=src, dst=dst) / IP(src="10.147.20.1", dst="10.147.20.2") / ICMP(),
              Ether(src=src, dst=dst) / IP() / TCP(dport=22, flags="S")):
        x = n1.explain(p, peer=n2.ztid)
        assert x.verdict in ("accept", "drop")
        assert x.reason


def test_explain_errors(lab):
    _needs_explain()
    n1 = lab.n1
    with pytest.raises(ztcore.ZtInvalidArgument):
        n1.explain(b"\x00" * 13)  # shorter than the Ethernet header
    with pytest.raises(ztcore.ZtNotFound):
        n1.explain(b"\x00" * 60, nwid=int(lab.nwid) ^ 1)
    with pytest.raises(ztcore.ZtInvalidArgument):
        n1.explain(b"\x00" * 60, peer=n1)  # not another member
