"""The seed's walkthrough, step by step, on the embedded lab (root, controller, n1..n3 on 127.0.0.1)."""
import re

import pytest

from conftest import retry_until
from test_types import py_mac
import ztcore
from ztcore import LAB_ETHERTYPE, Mac, NetworkId

HEX10 = re.compile(r"^[0-9a-f]{10}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def frames_with(node, text):
    return [f for f in node.vframes if f.data == text.encode()]


def test_three_nodes_initialize_and_come_online(lab):
    assert [n.name for n in lab.nodes] == ["n1", "n2", "n3"]
    assert lab.n1 is lab.nodes[0] and lab["n3"] is lab.nodes[2]
    addresses = {n.ztid for n in lab.nodes} | {lab.root.ztid, lab.controller_node.ztid}
    assert len(addresses) == 5  # five distinct identities
    for n in lab.nodes:
        assert n.online
        nets = n.list_networks()
        assert [net.nwid for net in nets] == [lab.nwid]
        net = nets[0]
        assert net.status == "OK" and net.name == "ztcore-lab" and net.private and net.broadcast
        v4 = [ip for ip in net.ips if "." in ip]
        v6 = [ip for ip in net.ips if ":" in ip]
        assert len(v4) == 1 and v4[0].startswith("10.147.20.") and v4[0].endswith("/24")
        assert len(v6) == 1 and v6[0].startswith("fd")  # RFC4193
        assert any(r.target == "10.147.20.0/24" for r in net.routes)
    # Each member got its own v4 address from the pool.
    assert len({n.list_networks()[0].ips for n in lab.nodes}) == 3


def test_ztid_and_network_ids_print_as_hex(lab):
    for n in lab.nodes:
        assert isinstance(n.ztid, int)
        assert HEX10.match(str(n.ztid)) and int(str(n.ztid), 16) == n.ztid
        assert str(n.ztid) in repr(n) and n.name in repr(n)
    assert isinstance(lab.nwid, NetworkId) and HEX16.match(str(lab.nwid))
    assert lab.nwid.controller == lab.controller_node.ztid  # a network id starts with its controller
    assert str(lab.nwid) in repr(lab.n1.list_networks()[0])
    assert lab.nodes[0].name in lab.table() and str(lab.nodes[0].ztid) in lab.table()


def test_mac_from_list_networks_equals_the_mac_computed_from_the_ztid(lab):
    for n in lab.nodes:
        listed = n.list_networks()[0].mac
        assert isinstance(listed, Mac) and re.match(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", str(listed))
        assert listed == n.mac_for(n.ztid, lab.nwid) == n.network_mac(lab.nwid)
        assert listed == n.mac_for(str(n.ztid), str(lab.nwid))  # hex strings work too
        assert listed == py_mac(n.ztid, lab.nwid)  # PROTOCOL.md §4.2, computed in Python
        assert lab.n1.mac_for(n.ztid, lab.nwid) == listed  # any node computes any node's MAC


def test_broadcast_ping_reaches_n2_and_n3_not_n1(lab):
    n1, n2, n3 = lab.nodes
    ping = "ping from ztid %s" % n1.ztid
    ok = retry_until(lambda: n1.broadcast_eth(lab.nwid, ping), lambda: frames_with(n2, ping) and frames_with(n3, ping))
    assert ok, "the broadcast did not reach n2 and n3"
    for n in (n2, n3):
        f = frames_with(n, ping)[0]
        assert f.src == n1.network_mac(lab.nwid) and f.dst == Mac.BROADCAST
        assert f.ethertype == LAB_ETHERTYPE and f.nwid == lab.nwid and f.vlan == 0
        assert str(f.dst) == "ff:ff:ff:ff:ff:ff"
    # n1 hears n2 (a later frame) but never its own broadcast.
    marker = "after the ping, from n2"
    assert retry_until(lambda: n2.send_eth(lab.nwid, None, n1.network_mac(lab.nwid), LAB_ETHERTYPE, marker),
                       lambda: frames_with(n1, marker))
    assert frames_with(n1, ping) == []


def test_on_frame_override_answers_pong(lab):
    n1, n2, n3 = lab.nodes

    def answer(node):
        def on_frame(frame):
            if frame.text.startswith("ping from ztid"):
                node.send_eth(frame.nwid, None, frame.src, frame.ethertype, "pong from ztid %s" % node.ztid)
        return on_frame

    n2.on_frame, n3.on_frame = answer(n2), answer(n3)
    try:
        pongs = ["pong from ztid %s" % n.ztid for n in (n2, n3)]
        ok = retry_until(lambda: n1.broadcast_eth(lab.nwid, "ping from ztid %s" % n1.ztid),
                         lambda: all(frames_with(n1, p) for p in pongs))
        assert ok, "pongs missing: %s" % [p for p in pongs if not frames_with(n1, p)]
        for n, p in zip((n2, n3), pongs):
            f = frames_with(n1, p)[0]
            assert f.src == n.network_mac(lab.nwid) and f.dst == n1.network_mac(lab.nwid)
    finally:
        del n2.on_frame, n3.on_frame


def test_icmpv6_echo_built_with_scapy_arrives_and_decodes_identically(lab):
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    from scapy.layers.l2 import Ether
    n1, n2 = lab.nodes[:2]
    a1 = [ip for ip in n1.list_networks()[0].ips if ":" in ip][0].split("/")[0]
    a2 = [ip for ip in n2.list_networks()[0].ips if ":" in ip][0].split("/")[0]
    pkt = IPv6(src=a1, dst=a2) / ICMPv6EchoRequest(id=0x2a, seq=7, data=b"ztcore scapy lab")
    sent = []

    def arrived():
        return [f for f in n2.vframes if f.ethertype == 0x86DD and b"ztcore scapy lab" in f.data]

    assert retry_until(lambda: sent.append(n1.send_scapy(pkt, to=n2)), arrived)
    rx = arrived()[0]
    assert rx.src == n1.network_mac(lab.nwid) and rx.dst == n2.network_mac(lab.nwid)
    decoded = rx.scapy()
    assert isinstance(decoded, Ether) and decoded.haslayer(IPv6) and decoded.haslayer(ICMPv6EchoRequest)
    assert bytes(decoded) == sent[0].ether_bytes()
    expected = Ether(src=str(n1.network_mac(lab.nwid)), dst=str(n2.network_mac(lab.nwid))) / pkt
    assert bytes(decoded) == bytes(expected)  # the very packet Scapy built, Ether header from the MACs
    assert decoded[IPv6].src == a1 and decoded[IPv6].dst == a2
    echo = decoded[ICMPv6EchoRequest]
    assert (echo.id, echo.seq, echo.data) == (0x2A, 7, b"ztcore scapy lab")
    assert decoded[Ether].src == str(n1.network_mac(lab.nwid))


def test_send_scapy_fills_addresses_from_the_nodes(lab):
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    n1, n3 = lab.nodes[0], lab.nodes[2]
    for layer, proto, v6 in ((IPv6, ICMPv6EchoRequest, True), (IP, ICMP, False)):
        tag = b"filled in v%d" % (6 if v6 else 4)
        arrived = lambda: [f for f in n3.vframes if tag in f.data]
        assert retry_until(lambda: n1.send_scapy(layer() / proto() / tag, to=n3), arrived)
        ip = arrived()[0].scapy()[layer]
        mine = [a.split("/")[0] for a in n1.list_networks()[0].ips if (":" in a) == v6]
        theirs = [a.split("/")[0] for a in n3.list_networks()[0].ips if (":" in a) == v6]
        assert (ip.src, ip.dst) == (mine[0], theirs[0])


def test_frame_with_foreign_source_mac_is_dropped_and_traced(lab):
    n1, n2 = lab.nodes[:2]
    foreign = Mac("02:11:22:33:44:55")
    n1.send_eth(lab.nwid, foreign, n2.network_mac(lab.nwid), LAB_ETHERTYPE, "from a foreign MAC")  # not an error
    traced = lambda: [t for t in n1.traced if str(foreign) in t.text]
    assert n1.wait_for(traced, 10), n1.traced
    assert "not a bridge" in traced()[0].text  # the reason (PROTOCOL.md §15, OUTGOING_NETWORK_FRAME_DROPPED)
    # A later frame from n1's own MAC arrives; the foreign one never did.
    marker = "own MAC after the foreign one"
    assert retry_until(lambda: n1.send_eth(lab.nwid, None, n2.network_mac(lab.nwid), LAB_ETHERTYPE, marker),
                       lambda: frames_with(n2, marker))
    assert frames_with(n2, "from a foreign MAC") == []
    assert all(f.src != foreign for f in n2.vframes)


def test_user_message_round_trips(lab):
    n1, n2 = lab.nodes[:2]
    n2.on_user_message = lambda m: n2.send_user_message(m.source, m.type + 1, m.data[::-1])
    try:
        got = lambda: [m for m in n1.user_messages if m.type == 0x1235 and m.data == b"olleh"]
        assert retry_until(lambda: n1.send_user_message(n2.ztid, 0x1234, b"hello"), got)
        m = got()[0]
        assert m.source == n2.ztid and str(m.source) == str(n2.ztid)
        assert any(x.source == n1.ztid and x.type == 0x1234 and x.data == b"hello" for x in n2.user_messages)
    finally:
        del n2.on_user_message


def test_wire_logs_have_sane_parsed_headers(lab):
    n1, n2 = lab.nodes[:2]
    # Other tests' nodes may share the planet (test_repl), so peers are not only the lab's.
    valid = lambda a: a is not None and 0 < a and (a >> 32) != 0xFF and a != n1.ztid
    sent, received = n1.wire_sent, n1.wire_received
    assert sent and received
    heads = [w for w in sent if w.kind == "packet"]
    assert heads
    for w in heads:
        assert w.source == n1.ztid  # every packet n1 sends comes from n1
        assert valid(w.destination) and w.direction == "sent"
        assert w.cipher in (0, 1, 3) and w.hops == 0  # n1 originates, it never relays
        assert re.match(r"^127\.0\.0\.1/\d+$", w.remote)
    assert {lab.root.ztid, lab.controller_node.ztid, n2.ztid} <= {w.destination for w in heads}
    assert any(w.verb == "HELLO" for w in heads)  # HELLO goes with cipher 0, its verb is readable
    assert any(w.cipher == 3 for w in heads)  # our peers speak protocol 12: AES-GMAC-SIV
    root_port = "127.0.0.1/%d" % lab.root_port
    # What arrives from the root's port but was sent by another node was relayed by it: hops > 0.
    relayed = [w for w in received if w.kind == "packet" and w.remote == root_port and w.source != lab.root.ztid]
    assert all(w.hops > 0 for w in relayed)
    for w in received:
        if w.kind in ("packet", "fragment"):
            assert w.destination == n1.ztid and 0 <= w.hops <= 7
        if w.kind == "packet":
            assert valid(w.source)
    assert {lab.root.ztid, n2.ztid} <= {w.source for w in received}
    assert all(w.time_ms > 0 for w in sent + received)


def test_multicast_subscription(lab):
    n1, n2, n3 = lab.nodes
    group = Mac("01:00:5e:00:2a:01")
    n2.subscribe(lab.nwid, group)
    try:
        assert group.is_multicast
        got = lambda: [f for f in n2.vframes if f.dst == group and f.data == b"to the group"]
        assert retry_until(lambda: n1.send_eth(lab.nwid, None, group, LAB_ETHERTYPE, "to the group"), got, timeout=20)
        assert got()[0].src == n1.network_mac(lab.nwid)
        assert not [f for f in n3.vframes if f.dst == group]  # n3 did not subscribe
    finally:
        n2.unsubscribe(lab.nwid, group)


def test_bad_input_raises_clear_exceptions(lab):
    n1 = lab.nodes[0]
    unknown = NetworkId("0123456789abcdef")
    with pytest.raises(ValueError, match="hex"):
        n1.join("not-a-network")
    with pytest.raises(ValueError, match="16 hex digits"):
        n1.network_mac("d5a72ff358c0ffee00")
    with pytest.raises(ValueError, match="MAC"):
        n1.send_eth(lab.nwid, None, "02:11:22", LAB_ETHERTYPE, b"x")
    with pytest.raises(ValueError):
        n1.send_user_message("zz", 1, b"x")
    with pytest.raises(ztcore.ZtNotFound) as e:
        n1.send_eth(unknown, n1.mac_for(n1.ztid, unknown), Mac.BROADCAST, LAB_ETHERTYPE, b"x")
    assert isinstance(e.value, LookupError) and str(e.value)
    with pytest.raises(LookupError):
        n1.leave(unknown)
    with pytest.raises(LookupError):
        n1.network_mac(unknown)
    with pytest.raises(ValueError):
        n1.send_eth(lab.nwid, None, Mac.BROADCAST, 0x10000, b"x")
    with pytest.raises(ztcore.ZtTooLarge):
        n1.send_eth(lab.nwid, None, Mac.BROADCAST, LAB_ETHERTYPE, b"x" * 20000)
    with pytest.raises(ztcore.ControllerError) as ce:
        lab.controller.call("POST", "/controller/network/%s/member/zz" % lab.nwid, {"authorized": True})
    assert 400 <= ce.value.status < 500


def test_leave_and_rejoin(lab):
    n3 = lab.nodes[2]
    n3.leave(lab.nwid)
    assert n3.wait_for(lambda: n3.list_networks() == [], 10)
    with pytest.raises(LookupError):
        n3.network(lab.nwid)
    n3.join(lab.nwid)  # still authorized: gets its config again
    assert n3.wait_for(lambda: [x.status for x in n3.list_networks()] == ["OK"], 20), n3.list_networks()
    assert n3.network_mac(lab.nwid) == py_mac(n3.ztid, lab.nwid)


def test_networks_list_host_like_subscriptions(lab):
    """Each node announces the ARP group of its IPv4 address (ADI = the address) and the
    solicited-node group of its IPv6 address, as a host would (issue 9 item 1)."""
    import ipaddress
    for n in lab.nodes:
        net = n.list_networks()[0]
        v4 = ipaddress.ip_interface([ip for ip in net.ips if "." in ip][0]).ip
        v6 = ipaddress.ip_interface([ip for ip in net.ips if ":" in ip][0]).ip
        assert (Mac("ff:ff:ff:ff:ff:ff"), int(v4)) in net.subscriptions
        solicited = Mac(0x3333ff000000 | (int(v6) & 0xffffff))
        assert (solicited, 0) in net.subscriptions
