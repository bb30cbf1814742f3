#!/usr/bin/env bash
# Our pcapng reader (tools/pcapng_reader.cpp) behind `ztcore wire decode` and `ztcore rules
# explain --pcap`:
#  * the reference session capture converted to pcapng by Wireshark's editcap decodes exactly
#    as the classic pcap does (a writer that is not ours);
#  * a big-endian pcapng with Simple and obsolete Packet blocks, a nanosecond interface and two
#    sections (built here byte by byte) gives the expected frames and timestamps;
#  * ztcore's own lab capture (raw IP + Ethernet interfaces, which libpcap refuses): wire
#    decode reads the wire interfaces only, --interface picks one, explain --pcap explains
#    every Ethernet frame with its interface and comment;
#  * a capture cut in the middle of a block: the packets before it, then exit 1 naming the offset.
# 127.0.0.1 only.  usage: pcapng_read.sh ZTCORE_BINARY VECTORS_DIR
set -u
Z=${1:?usage: pcapng_read.sh ZTCORE VECTORS_DIR}
V=${2:?usage: pcapng_read.sh ZTCORE VECTORS_DIR}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok()   { :; }
fail() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }
has()  { if grep -Eq -- "$2" "$1"; then ok; else fail "$3 ($(head -c 600 "$1"))"; fi; }

IDS=()
for r in root controller nodea nodeb; do IDS+=(--identity "$V/$r.identity.secret"); done

# ---- Wireshark's pcapng writer ----------------------------------------------------------------
editcap -F pcapng "$V/session.pcap" "$T/session.pcapng" 2>"$T/err" || fail "editcap: $(cat "$T/err")"
"$Z" wire decode "${IDS[@]}" "$V/session.pcap" >"$T/classic.jsonl" 2>"$T/err"; same "$?" 0 "decode classic"
"$Z" wire decode "${IDS[@]}" "$T/session.pcapng" >"$T/ng.jsonl" 2>"$T/err"; same "$?" 0 "decode editcap's pcapng ($(cat "$T/err"))"
# editcap names no interface, so the lines must be identical (timestamps included).
if cmp -s "$T/classic.jsonl" "$T/ng.jsonl"; then ok; else fail "pcapng decode differs: $(diff "$T/classic.jsonl" "$T/ng.jsonl" | head -5)"; fi
same "$(grep -c '"authentic":true' "$T/ng.jsonl")" "$(grep -c '"authentic":true' "$T/classic.jsonl")" "authentic lines"
[ "$(wc -l <"$T/ng.jsonl")" -gt 10 ] || fail "editcap pcapng: too few lines"

# ---- hand-built: big-endian, SPB, obsolete PB, ns resolution, two sections ----------------------
"$PY" - "$T/be.pcapng" <<'EOF'
import struct, sys

def ip_udp(payload, sport, dport):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                      bytes([127, 0, 0, 1]), bytes([127, 0, 0, 2]))
    return hdr + udp

def pad(b):
    return b + b"\0" * (-len(b) % 4)

def block(o, btype, body):
    n = 12 + len(body)
    return struct.pack(o + "II", btype, n) + body + struct.pack(o + "I", n)

def opt(o, code, value):
    return struct.pack(o + "HH", code, len(value)) + pad(value)

out = b""
o = ">"  # section 1: big-endian
out += block(o, 0x0A0D0D0A, struct.pack(o + "IHHq", 0x1A2B3C4D, 1, 0, -1))
out += block(o, 1, struct.pack(o + "HHI", 101, 0, 0) + opt(o, 2, b"be/udp") + opt(o, 9, bytes([9])) + opt(o, 0, b""))
p1 = ip_udp(b"\x01" * 30, 1111, 9993)
ts = 1796656827_123456789  # ns
out += block(o, 6, struct.pack(o + "IIIII", 0, ts >> 32, ts & 0xffffffff, len(p1), len(p1)) + pad(p1)
             + opt(o, 1, b"first\n") + opt(o, 0, b""))
p2 = ip_udp(b"\x02" * 31, 2222, 9993)
out += block(o, 3, struct.pack(o + "I", len(p2)) + pad(p2))           # Simple Packet Block
out += block(o, 0x00000BAD, b"\xde\xad\xbe\xef")                       # custom block: skipped
o = "<"  # section 2: little-endian; interface ids start again
out += block(o, 0x0A0D0D0A, struct.pack(o + "IHHq", 0x1A2B3C4D, 1, 0, -1))
out += block(o, 1, struct.pack(o + "HHI", 101, 0, 0))
p3 = ip_udp(b"\x03" * 32, 3333, 9993)
out += block(o, 2, struct.pack(o + "HHIIII", 0, 0, 0, 2_000_000, len(p3), len(p3)) + pad(p3))  # obsolete PB
open(sys.argv[1], "wb").write(out)
EOF
"$Z" wire decode "$T/be.pcapng" >"$T/be.jsonl" 2>"$T/err"; same "$?" 0 "decode hand-built pcapng ($(cat "$T/err"))"
"$PY" - "$T/be.jsonl" >"$T/check" 2>&1 <<'EOF' || fail "hand-built pcapng: $(cat "$T/check")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["frame"] for l in lines] == [1, 2, 3], lines
assert [l["src"] for l in lines] == ["127.0.0.1/1111", "127.0.0.1/2222", "127.0.0.1/3333"], lines
assert [l["len"] for l in lines] == [30, 31, 32], lines
assert lines[0]["interface"] == "be/udp" and lines[1]["interface"] == "be/udp", lines
assert "interface" not in lines[2], lines[2]
assert abs(lines[0]["ts"] - 1796656827.123456789) < 1e-6, lines[0]["ts"]
assert lines[1]["ts"] == 0 and abs(lines[2]["ts"] - 2.0) < 1e-9, lines
print("ok")
EOF

# ---- ztcore's own lab capture -----------------------------------------------------------------
"$Z" lab -n 2 --timeout 60 --pcap "$T/lab.pcapng" >"$T/lab.log" 2>&1; same "$?" 0 "lab --pcap ($(tail -3 "$T/lab.log"))"
"$Z" wire decode "$T/lab.pcapng" >"$T/lab.jsonl" 2>"$T/err"; same "$?" 0 "wire decode of the lab pcapng ($(cat "$T/err"))"
"$Z" wire decode --interface n1/udp "$T/lab.pcapng" >"$T/n1.jsonl" 2>"$T/err"; same "$?" 0 "--interface n1/udp"
"$Z" wire decode --interface nope "$T/lab.pcapng" >"$T/out" 2>"$T/err"; same "$?" 1 "--interface of no interface"
has "$T/err" "no packet on an interface named 'nope'" "--interface nope says why"
printf 'drop not ethertype ipv4 and not ethertype arp and not ethertype ipv6;\naccept;\n' >"$T/r.rules"
"$Z" rules compile "$T/r.rules" >"$T/r.json" 2>"$T/err"; same "$?" 0 "rules compile"
"$Z" rules explain --netconf "$T/r.json" --pcap "$T/lab.pcapng" >"$T/explain.txt" 2>"$T/err"; same "$?" 0 "explain --pcap of the lab pcapng ($(cat "$T/err"))"
"$Z" rules explain --netconf "$T/r.json" --pcap "$T/lab.pcapng" --json >"$T/explain.jsonl" 2>"$T/err"; same "$?" 0 "explain --pcap --json"
"$PY" - "$T/lab.pcapng" "$T/lab.jsonl" "$T/n1.jsonl" "$T/explain.txt" "$T/explain.jsonl" >"$T/check" 2>&1 <<'EOF' || fail "lab pcapng read back: $(cat "$T/check")"
import json, re, sys
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgReader
path, wire, n1, text, js = sys.argv[1:]
pk = list(PcapNgReader(path))
# Scapy 2.5 keeps no interface names; count by link layer: raw IP = wire, Ether = frames.
n_wire = sum(1 for p in pk if not isinstance(p, Ether))
n_eth = sum(1 for p in pk if isinstance(p, Ether))
lines = [json.loads(l) for l in open(wire)]
assert len(lines) == n_wire, (len(lines), n_wire)
assert all(l["interface"].endswith("/udp") for l in lines), {l["interface"] for l in lines}
assert {l["interface"] for l in lines} >= {"root/udp", "controller/udp", "n1/udp", "n2/udp"}
assert any(l.get("verb") == "HELLO" for l in lines)
mine = [json.loads(l) for l in open(n1)]
assert mine and all(l["interface"] == "n1/udp" for l in mine)
assert len(mine) == sum(1 for l in lines if l["interface"] == "n1/udp")
labels = [l for l in open(text) if l.startswith("frame ")]
assert len(labels) == n_eth, (len(labels), n_eth)
assert any(re.match(r"frame \d+ on n1/zt-[0-9a-f]{16} \(out to broadcast sent\)$", l) for l in labels), labels[:5]
verdicts = [json.loads(l)["verdict"] for l in open(js)]
# The rules let IPv4, ARP and IPv6 through; the lab's ping/pong (ethertype 0x88b5) is dropped.
want = ["accept" if p.type in (0x0800, 0x0806, 0x86DD) else "drop" for p in pk if isinstance(p, Ether)]
assert verdicts == want and "drop" in want and "accept" in want, (verdicts, want)
print("ok", n_wire, "datagrams", n_eth, "frames")
EOF

# ---- a cut capture ----------------------------------------------------------------------------
head -c 3000 "$T/lab.pcapng" >"$T/cut.pcapng"
"$Z" wire decode "$T/cut.pcapng" >"$T/cut.jsonl" 2>"$T/err"; same "$?" 1 "cut capture exits 1"
has "$T/err" "cut.pcapng: pcapng block at offset [0-9]+: truncated block" "the error names the block offset"
[ -s "$T/cut.jsonl" ] || fail "the packets before the cut are decoded"
printf 'not a capture at all' >"$T/junk"
"$Z" wire decode "$T/junk" >"$T/out" 2>"$T/err"; same "$?" 1 "junk file exits 1"

if [ "$fails" -ne 0 ]; then echo "pcapng_read: $fails check(s) failed"; exit 1; fi
echo "pcapng_read ok"
