"""Structured traces and REMOTE_TRACE over real UDP on 127.0.0.1 (docs/TRACES.md): on the session lab,
a second network whose rules (rules language, compiled by the controller) drop IPv4 between
departments — tag `department` n1 = n2 = 100, n3 = 200 — except ICMP under capability 2000, which only n3
holds. Frames that may pass arrive; each drop is a structured TraceEvent naming rule 2; with the
controller as trace target at level 15 the drops reach GET /controller/network/<nwid>/trace. Members
exchange a frame first (as hosts ARP), so that each knows the others' tags: a frame to a member whose
tag is not known yet is judged as another department's.
(That dropped frames never arrive is asserted in virtual time: tests/sim/sim_trace_test.cpp.)"""
import pytest
from scapy.layers.inet import ICMP, IP, UDP

from conftest import retry_until

RULES = """
tag department id 1 default 0;
cap c_icmp id 2000
  accept ipprotocol icmp;
;
break ethertype ipv4 not tdiff department 0;
accept;
"""
BREAK_RULE = 2  # 0 ethertype, 1 not tdiff, 2 break, 3 accept


@pytest.fixture(scope="module")
def depts(lab):
    ctl = lab.controller
    nwid = ctl.create_network(lab.controller_node.ztid, {
        "name": "departments", "private": True, "rulesSource": RULES,
        "remoteTraceTarget": str(lab.controller_node.ztid), "remoteTraceLevel": 15})
    n1, n2, n3 = lab.nodes[:3]
    path = "/controller/network/%s/member/%s"
    ctl.call("POST", path % (nwid, n1.ztid), {"authorized": True, "tags": [[1, 100]]})
    ctl.call("POST", path % (nwid, n2.ztid), {"authorized": True, "tags": [[1, 100]]})
    ctl.call("POST", path % (nwid, n3.ztid), {"authorized": True, "tags": [[1, 200]], "capabilities": [2000]})
    for n in (n1, n2, n3):
        n.join(nwid)
    assert lab.runtime.wait_for(lambda: all(n.network(nwid).status == "OK" for n in (n1, n2, n3)), 30)
    # As hosts ARP before they talk (ARP passes every rule): members push their credentials to each
    # other with their first frames, so each knows the others' tags when IPv4 is judged.
    for src in (n1, n2, n3):
        for dst in (n1, n2, n3):
            if src is not dst:
                marker = b"arp %s>%s" % (str(src.ztid).encode(), str(dst.ztid).encode())
                got = lambda: [f for f in dst.vframes if f.ethertype == 0x0806 and f.data == marker]
                assert retry_until(lambda: src.send_eth(nwid, None, dst.network_mac(nwid), 0x0806, marker), got, 20)
    yield nwid
    for n in (n1, n2, n3):
        n.leave(nwid)


def arrived(node, marker):
    return [f for f in node.vframes if f.ethertype == 0x0800 and marker in f.data]


def drops(node, nwid, marker):
    return [t for t in node.traced if t.code == 2006 and t.nwid == nwid and marker in t.frame]


def test_departments_pass_drop_trace_and_report_to_the_controller(lab, depts):
    nwid = depts
    n1, n2, n3 = lab.nodes[:3]

    def send(src, dst, layer4, marker):
        pkt = IP(src="10.77.0.1", dst="10.77.0.2") / layer4 / marker
        src.send_eth(nwid, None, dst.network_mac(nwid), 0x0800, bytes(pkt))

    # Allowed: same department, and ICMP from n3 under its capability.
    assert retry_until(lambda: send(n1, n2, UDP(sport=5000, dport=1001), b"t-same-dept"),
                       lambda: arrived(n2, b"t-same-dept"), 20)
    assert retry_until(lambda: send(n3, n1, ICMP(), b"t-cap-icmp"), lambda: arrived(n1, b"t-cap-icmp"), 20)

    # Dropped at the sender, each with a structured trace naming the rule.
    cases = [(n1, n3, UDP(sport=5000, dport=1002), b"t-drop-1-3", 17),
             (n3, n1, UDP(sport=5000, dport=1004), b"t-drop-3-1", 17),
             (n1, n3, ICMP(), b"t-drop-icmp-1-3", 1)]
    for src, dst, l4, marker, proto in cases:
        assert retry_until(lambda: send(src, dst, l4, marker), lambda: drops(src, nwid, marker), 20), src.traced[-5:]
        t = drops(src, nwid, marker)[0]
        assert t.rule == BREAK_RULE and t.action == "BREAK" and t.capability is None
        assert "rule 2" in t.reason
        assert not t.inbound and t.peer == dst.ztid
        assert t.src_mac == src.network_mac(nwid) and t.dst_mac == dst.network_mac(nwid)
        assert t.ethertype == 0x0800 and t.ip_protocol == proto
        assert (t.src_ip, t.dst_ip) == ("10.77.0.1", "10.77.0.2")
        if proto == 17:
            assert (t.src_port, t.dst_port) == (5000, int(l4.dport))
        assert "<Trace " in repr(t) and t.name == "NETWORK_FILTER_TRACE"

    # REMOTE_TRACE: the drops reached the controller, decoded at .../<nwid>/trace.
    def remote_drops():
        st, data = lab.controller.request("GET", "/controller/network/%s/trace" % nwid)
        assert st == 200, data
        return [t for t in data if t.get("event") == "2006" and t.get("filterResult") == 0
                and t.get("etherType") == 0x0800]
    assert lab.runtime.wait_for(lambda: len(remote_drops()) >= 3, 20), remote_drops()
    origins = {t["origin"] for t in remote_drops()}
    assert {str(n1.ztid), str(n3.ztid)} <= origins
    t = remote_drops()[0]
    assert t["networkId"] == str(nwid) and t["name"] == "NETWORK_FILTER_TRACE"
    assert len(t["filterBaseRuleLog"]) == 1024  # 512 bytes as hex


def test_inbound_drop_is_traced_and_captured(lab, tmp_path):
    """A frame the receiver's rules drop (`chr inbound`): the sender sends it, the receiver traces
    2006 with inbound set, and the receiver's pcapng holds it with a "dropped: rule 2 DROP" comment."""
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapNgReader
    ctl = lab.controller
    nwid = ctl.create_network(lab.controller_node.ztid, {
        "name": "inbound-drop", "private": True,
        "rulesSource": "drop chr inbound ethertype 0x88b6;\naccept;\n"})
    n1, n2 = lab.nodes[:2]
    for n in (n1, n2):
        ctl.call("POST", "/controller/network/%s/member/%s" % (nwid, n.ztid), {"authorized": True})
        n.join(nwid)
    cap = tmp_path / "n2.pcapng"
    mac1, mac2 = n1.network_mac(nwid), n2.network_mac(nwid)
    try:
        assert lab.runtime.wait_for(lambda: all(n.network(nwid).status == "OK" for n in (n1, n2)), 30)
        n2.pcap(cap)
        marker = b"dropped on the way in"
        got = lambda: [t for t in n2.traced if t.code == 2006 and t.nwid == nwid and marker in t.frame]
        assert retry_until(lambda: n1.send_eth(nwid, None, n2.network_mac(nwid), 0x88b6, marker), got, 20), n2.traced[-5:]
        t = got()[0]
        assert t.inbound and t.rule == 2 and t.action == "DROP"  # 0 chr, 1 ethertype, 2 drop and t.peer == n1.ztid
        assert not [f for f in n2.vframes if f.data == marker]
        assert not [x for x in n1.traced if x.code == 2006 and x.nwid == nwid and marker in x.frame]
    finally:
        n2.pcap(None)
        for n in (n1, n2):
            n.leave(nwid)
    with PcapNgReader(str(cap)) as r:
        frames = [p for p in r if isinstance(p, Ether) and p[Ether].type == 0x88b6 and bytes(p.payload) == marker]
    assert frames, "the dropped frame is not in the capture"
    c = frames[0].comment
    c = (c.decode() if isinstance(c, bytes) else c).rstrip("\n")
    assert c.startswith("in from %s dropped: rule 2 DROP" % n1.ztid), c
    assert frames[0].src == str(mac1) and frames[0].dst == str(mac2)


def test_departments_explain_gives_the_same_verdicts_without_sending(lab, depts):
    """explain() on the department network: the verdicts of the scenario above (accept within a
    department, accept by capability 2000 for n3's ICMP, drop by rule 2 across departments), and
    nothing is sent: no frame arrives and no trace is made."""
    from scapy.layers.l2 import Ether
    nwid = depts
    n1, n2, n3 = lab.nodes[:3]

    def frame(src, dst, layer4, marker):
        return Ether(src=str(src.network_mac(nwid)), dst=str(dst.network_mac(nwid))) / \
            IP(src="10.77.0.1", dst="10.77.0.2") / layer4 / marker

    before = {n: (len(n.vframes), len(n.traced)) for n in (n1, n2, n3)}
    e = n1.explain(frame(n1, n2, UDP(sport=5000, dport=1001), b"x-same"), peer=n2, nwid=nwid)
    assert e.verdict == "accept" and e.capability is None and e.rule == 3, e
    e = n3.explain(frame(n3, n1, ICMP(), b"x-cap"), peer=n1, nwid=nwid)
    assert e.verdict == "accept" and e.capability == 2000, e
    for src, dst, l4 in ((n1, n3, UDP(sport=5000, dport=1002)), (n3, n1, UDP(sport=5000, dport=1004)),
                         (n1, n3, ICMP())):
        e = src.explain(frame(src, dst, l4, b"x-drop"), peer=dst, nwid=nwid)
        assert e.verdict == "drop" and e.rule == BREAK_RULE and e.capability is None, e
        assert "rule %d BREAK" % BREAK_RULE in e.reason, e.reason
        base = [r for r in e.rules if r.get("capability") is None]
        assert base[BREAK_RULE]["decided"] and base[BREAK_RULE]["action"], base
    # The receiving side agrees: n1 explains n3's ICMP inbound as accepted by n3's capability.
    e = n1.explain(frame(n3, n1, ICMP(), b"x-cap-in"), inbound=True, peer=n3, nwid=nwid)
    assert e.accepted and e.capability == 2000, e
    lab.runtime.wait_for(lambda: False, 1)  # anything explain had sent would arrive within this
    for n in (n1, n2, n3):
        assert not [f for f in n.vframes[before[n][0]:] if b"x-" in f.data], "explain sent a frame"
        assert not [t for t in n.traced[before[n][1]:] if t.nwid == nwid and b"x-" in (t.frame or b"")]
