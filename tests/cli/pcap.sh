#!/usr/bin/env bash
# `ztcore lab --pcap FILE` and `ztcore root/node --pcap FILE`: the pcapng files open in Scapy
# (rdpcap) and Wireshark (tshark), hold both layers (UDP datagrams with synthesized IP headers, decrypted Ethernet
# frames with comments), and a bad path is a clear error. 127.0.0.1 only.
# usage: pcap.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: pcap.sh ZTCORE VECTORS_DIR}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d)
RPID= NPID=
cleanup() {
  for p in $RPID $NPID; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
ok()   { :; }
fail() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }
has()  { if grep -Eq -- "$2" "$1"; then ok; else fail "$3 ($(head -c 600 "$1"))"; fi; }

# ---- usage and errors -------------------------------------------------------------------------
"$Z" lab --help >"$T/out" 2>&1; has "$T/out" "--pcap FILE" "lab --help names --pcap"
"$Z" node --help >"$T/out" 2>&1; has "$T/out" "--pcap FILE" "node --help names --pcap"
"$Z" lab -n 2 --pcap "$T/no-such-dir/lab.pcapng" >"$T/out" 2>&1; same "$?" 1 "lab --pcap into a missing directory"
has "$T/out" "^error: pcap: cannot create $T/no-such-dir/lab.pcapng: No such file or directory" "the error names the file"

# ---- the lab: one file, interfaces per node ---------------------------------------------------
"$Z" lab -n 2 --timeout 60 --pcap "$T/lab.pcapng" >"$T/lab.log" 2>&1; same "$?" 0 "lab --pcap exit ($(tail -5 "$T/lab.log"))"
has "$T/lab.log" "capturing every node to $T/lab.pcapng" "lab says where it captures"
same "$(stat -c %a "$T/lab.pcapng" 2>/dev/null)" 644 "pcapng mode"
N1=$(sed -nE 's/^  n1 +([0-9a-f]{10}) .*/\1/p' "$T/lab.log")
"$PY" - "$T/lab.pcapng" "$N1" >"$T/check" 2>&1 <<'EOF' || fail "lab pcapng check: $(cat "$T/check")"
import struct, sys
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgReader, rdpcap

path, n1 = sys.argv[1], sys.argv[2]
# The interfaces' names (if_name), walking the blocks (Scapy 2.5 does not keep them).
names, data, off = [], open(path, "rb").read(), 0
while off < len(data):
    btype, blen = struct.unpack_from("<II", data, off)
    assert blen % 4 == 0 and struct.unpack_from("<I", data, off + blen - 4)[0] == blen
    if btype == 1:
        linktype = struct.unpack_from("<H", data, off + 8)[0]
        p = off + 16
        while p < off + blen - 4:
            code, length = struct.unpack_from("<HH", data, p)
            if code == 0:
                break
            if code == 2:
                names.append((data[p + 4:p + 4 + length].decode(), linktype))
            p += 4 + (length + 3) // 4 * 4
    off += blen
nw = [n for n, lt in names if n.startswith("n1/zt-")]
assert len(nw) == 1, names
for node in ("root", "controller", "n1", "n2"):
    assert (node + "/udp", 101) in names, names
assert ("n2/" + nw[0][3:], 1) in names, names

pkts = rdpcap(path)
wire = [p for p in pkts if p.haslayer(UDP)]
frames = [p for p in pkts if isinstance(p, Ether)]
assert len(wire) > 10 and frames, (len(wire), len(frames))
for p in wire:
    assert p[IP].src == "127.0.0.1" and p[IP].dst == "127.0.0.1", p.summary()
comments = [(p.comment or b"").decode().rstrip("\n") for p in PcapNgReader(path) if isinstance(p, Ether)]
assert all(comments), "every frame has a comment"
ping = [p for p in frames if p.type == 0x88B5 and bytes(p.payload).startswith(b"ping from ztid " + n1.encode())]
pong = [p for p in frames if p.type == 0x88B5 and bytes(p.payload).startswith(b"pong from ztid ")]
assert ping and pong, (len(ping), len(pong))
assert ping[0].dst == "ff:ff:ff:ff:ff:ff"
assert "out to broadcast sent" in comments, comments[:20]
assert "in from %s accepted" % n1 in comments, comments[:20]
print("ok", len(wire), "datagrams,", len(frames), "frames,", len(names), "interfaces")
EOF
cat "$T/check"

# Wireshark's reader (tshark): the file is read to the end without complaint, every packet is
# there, interfaces keep their names and frames their comments.
TS=(tshark -o gui.console_open:NEVER -n -r "$T/lab.pcapng")
"${TS[@]}" -T fields -e frame.interface_name -e frame.comment >"$T/tshark" 2>"$T/tshark.err"
same "$?" 0 "tshark reads the lab pcapng ($(cat "$T/tshark.err"))"
if grep -Eiq "damaged|corrupt|cut short|isn't|unknown" "$T/tshark.err"; then fail "tshark complains: $(cat "$T/tshark.err")"; fi
same "$(wc -l <"$T/tshark")" "$("$PY" -c 'import sys; from scapy.utils import rdpcap; print(len(rdpcap(sys.argv[1])))' "$T/lab.pcapng")" "tshark and Scapy count the same packets"
has "$T/tshark" "^n1/zt-[0-9a-f]{16}	out to broadcast sent" "tshark: n1's network interface and its broadcast comment"
has "$T/tshark" "^n2/udp	" "tshark: n2's wire interface"

# ---- root and node processes ------------------------------------------------------------------
free_port() {
  "$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
RP=$(free_port)
"$Z" root --home "$T/root" --port "$RP" --bind 127.0.0.1 --planet-out "$T/planet" --no-api >"$T/root.log" 2>&1 &
RPID=$!
for _ in $(seq 1 100); do [ -s "$T/planet" ] && break; sleep 0.1; done
"$Z" node --home "$T/n" --port 0 --bind 127.0.0.1 --planet "$T/planet" --no-api --pcap "$T/node.pcapng" >"$T/node.log" 2>&1 &
NPID=$!
for _ in $(seq 1 100); do grep -q ONLINE "$T/node.log" && break; sleep 0.1; done
has "$T/node.log" "ONLINE" "node came online ($(cat "$T/node.log"))"
has "$T/node.log" "capturing to $T/node.pcapng" "node says where it captures"
kill -TERM "$NPID"; wait "$NPID"; same "$?" 0 "node stops cleanly with a capture"
NPID=
"$PY" - "$T/node.pcapng" "$RP" >"$T/check" 2>&1 <<'EOF' || fail "node pcapng check: $(cat "$T/check")"
import sys
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap
pkts = rdpcap(sys.argv[1])
root = int(sys.argv[2])
to_root = [p for p in pkts if p[UDP].dport == root]
from_root = [p for p in pkts if p[UDP].sport == root]
assert to_root and from_root, [p.summary() for p in pkts]
assert all(p[IP].src == "127.0.0.1" for p in pkts)
print("ok", len(to_root), "to the root,", len(from_root), "from it")
EOF
cat "$T/check"

if [ "$fails" -ne 0 ]; then echo "pcap: $fails check(s) failed"; exit 1; fi
echo "pcap ok"
