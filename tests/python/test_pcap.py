"""node.pcap(path): a pcapng of both layers, read back with Scapy (issue 10 item 5)."""
import os
import stat

import pytest

from conftest import require, retry_until
import ztcore
from ztcore import LAB_ETHERTYPE


def read_pcapng(path):
    """(linktypes of the interfaces, [(linktype, packet, comment)]) via Scapy's pcapng reader."""
    from scapy.utils import PcapNgReader
    out = []
    with PcapNgReader(str(path)) as r:
        for p in r:
            out.append(p)
        linktypes = [i[0] for i in r.interfaces]
    return linktypes, out


def comment(p):
    """The comment without the trailing line separator (Scapy 2.5 cuts it; newer versions keep it)."""
    c = getattr(p, "comment", None)
    return (c.decode() if isinstance(c, bytes) else c or "").rstrip("\n")


def test_pcap_of_both_layers(lab, tmp_path):
    require("zt_node_pcap_start", "zt_node_pcap_stop")
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import rdpcap

    n1, n2 = lab.n1, lab.n2
    f1, f2 = tmp_path / "n1.pcapng", tmp_path / "n2.pcapng"
    n1.pcap(f1)
    n2.pcap(str(f2))
    ping, pong = b"pcap ping from %s" % str(n1.ztid).encode(), b"pcap pong from %s" % str(n2.ztid).encode()
    try:
        assert retry_until(lambda: n1.send_eth(lab.nwid, None, n2, LAB_ETHERTYPE, ping),
                           lambda: any(f.data == ping for f in n2.vframes))
        assert retry_until(lambda: n2.send_eth(lab.nwid, None, n1, LAB_ETHERTYPE, pong),
                           lambda: any(f.data == pong for f in n1.vframes))
        marker = b"icmp in pcap"
        assert retry_until(lambda: n1.send_scapy(IP(src="10.147.20.250", dst="10.147.20.251") / ICMP() / marker, to=n2),
                           lambda: any(marker in f.data for f in n2.vframes))
    finally:
        n1.pcap(None)
        n2.pcap_stop()
    n1.pcap_stop()  # no capture running: nothing to do

    assert stat.S_IMODE(os.stat(f1).st_mode) == 0o644
    for node, path, sent, received in ((n1, f1, ping, pong), (n2, f2, pong, ping)):
        linktypes, pkts = read_pcapng(path)
        assert linktypes == [101, 1], linktypes  # the wire (LINKTYPE_RAW), then the network
        wire = [p for p in pkts if p.haslayer(UDP)]
        frames = [p for p in pkts if isinstance(p, Ether)]
        assert wire and frames and len(wire) + len(frames) == len(pkts)
        port = node.port
        for p in wire:
            assert p[IP].src == "127.0.0.1" and p[IP].dst == "127.0.0.1"
            assert port in (p[UDP].sport, p[UDP].dport), p.summary()
            c = comment(p)
            assert c and c.startswith("in from 127.0.0.1/" if p[UDP].dport == port else "out to 127.0.0.1/"), c
        assert any(p[UDP].sport == port for p in wire) and any(p[UDP].dport == port for p in wire)
        # The encrypted datagrams to the peer's port: the other node's.
        other = n2 if node is n1 else n1
        assert any(p[UDP].dport == other.port for p in wire)

        mine, theirs = node.network_mac(lab.nwid), other.network_mac(lab.nwid)
        out = [p for p in frames if p[Ether].type == LAB_ETHERTYPE and bytes(p[Ether].payload) == sent]
        inc = [p for p in frames if p[Ether].type == LAB_ETHERTYPE and bytes(p[Ether].payload) == received]
        assert out and inc
        assert out[0].src == str(mine) and out[0].dst == str(theirs)
        assert comment(out[0]) == "out to %s sent" % other.ztid
        assert inc[0].src == str(theirs) and inc[0].dst == str(mine)
        assert comment(inc[0]) == "in from %s accepted" % other.ztid
        for p in frames:
            assert comment(p), p.summary()
        icmp = [p for p in frames if p.haslayer(ICMP) and marker in bytes(p[ICMP].payload)]
        assert icmp and icmp[0][Ether].type == 0x0800 and icmp[0][IP].dst == "10.147.20.251"
        # rdpcap reads the same file (the "opens in Scapy").
        assert len(rdpcap(str(path))) == len(pkts)


def test_pcap_bad_path_is_an_error(lab, tmp_path):
    require("zt_node_pcap_start", "zt_node_pcap_stop")
    with pytest.raises(OSError) as e:
        lab.n3.pcap(tmp_path / "no-such-dir" / "x.pcapng")
    assert isinstance(e.value, ztcore.ZtError) and "no-such-dir" in str(e.value)
    assert lab.n3.online  # the node is unaffected
