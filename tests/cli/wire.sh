#!/usr/bin/env bash
# CLI contract test for `ztcore wire decode` against the reference captures.
# usage: wire.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
#
# Both captures, decoded with the four session secrets: every ZeroTier datagram line is
# authentic, nothing fails, the verb counts are PROTOCOL.md §14.1's, the fragmented capture
# shows 10 reassembled packets. Then: unreadable captures exit 1, a capture of random and
# malformed datagrams prints error lines (one per UDP datagram) and exits 0.
set -u
Z=${1:?usage: wire.sh ZTCORE VECTORS_DIR}
V=${2:?usage: wire.sh ZTCORE VECTORS_DIR}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
checks=0

ok()   { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
# expect CODE DESCRIPTION -- CMD...   (stdout -> $T/out, stderr -> $T/err)
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok; else fail "$what: exit $got, want $want ($(head -c 300 "$T/err"))"; fi
}
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }
count() { grep -c -- "$1" "$2"; }

IDS=()
for r in root controller nodea nodeb; do IDS+=(--identity "$V/$r.identity.secret"); done

# ---- help and usage ----------------------------------------------------------------------------
expect 0 "wire --help" -- "$Z" wire --help
grep -q "usage: ztcore wire decode" "$T/out" && ok || fail "wire --help text"
expect 0 "wire decode --help" -- "$Z" wire decode --help
expect 2 "wire (no subcommand)" -- "$Z" wire
expect 2 "wire bogus" -- "$Z" wire bogus
expect 2 "decode without capture" -- "$Z" wire decode
expect 2 "unknown option" -- "$Z" wire decode --frobnicate "$V/session.pcap"
expect 2 "--identity without file" -- "$Z" wire decode "$V/session.pcap" --identity
expect 1 "missing identity file" -- "$Z" wire decode --identity "$T/nope" "$V/session.pcap"
grep -q "error" "$T/err" && ok || fail "missing identity: no message"

# ---- session.pcap --------------------------------------------------------------------------------
expect 0 "decode session.pcap" -- "$Z" wire decode "${IDS[@]}" "$V/session.pcap"
cp "$T/out" "$T/session.jsonl"
S="$T/session.jsonl"
same "$(wc -l <"$S" | tr -d ' ')" 256 "session: one line per UDP datagram"
same "$(count '"authentic":true' "$S")" 253 "session: authentic lines"
same "$(count '"authentic":false' "$S")" 0 "session: unauthentic lines"
same "$(count '"kind":"junk"' "$S")" 3 "session: junk (4-byte NAT openers)"
same "$(count '"error"' "$S")" 0 "session: error lines"
same "$(count '"fragment":true' "$S")" 0 "session: reassembled"
same "$(count '"verb":"HELLO"' "$S")" 21 "session: HELLO"
same "$(count '"in_re_verb":"HELLO"' "$S")" 20 "session: OK(HELLO)"
same "$(count '"moons":\[\]' "$S")" 21 "session: HELLO moons decrypted (0 moons)"
same "$(count '"signature_valid":false' "$S")" 0 "session: invalid signatures"
same "$(count '"in_re_frame":null' "$S")" 0 "session: OK/ERROR without a matching request"
same "$(count '"network_config_ack":true' "$S")" 2 "session: NETWORK_CONFIG acks"

# ---- frames_fragmented.pcap ----------------------------------------------------------------------
expect 0 "decode frames_fragmented.pcap" -- "$Z" wire decode "${IDS[@]}" "$V/frames_fragmented.pcap"
cp "$T/out" "$T/frag.jsonl"
F="$T/frag.jsonl"
same "$(wc -l <"$F" | tr -d ' ')" 20 "fragmented: one line per packet (pieces print nothing)"
same "$(count '"authentic":true' "$F")" 20 "fragmented: authentic lines"
same "$(count '"fragment":true' "$F")" 10 "fragmented: reassembled packets"
same "$(count '"packet_len":2086' "$F")" 6 "fragmented: 2086-byte ping6 packets"
same "$(count '"packet_len":2566' "$F")" 4 "fragmented: 2566-byte ping packets"
same "$(count '"error"' "$F")" 0 "fragmented: error lines"

# Every line is one JSON object; verb counts over both captures = §14.1.
"$PY" - "$S" "$F" >"$T/counts" 2>"$T/pyerr" <<'EOF'
import json, sys, collections
c = collections.Counter()
for path in sys.argv[1:]:
    for line in open(path):
        j = json.loads(line)
        if j.get("kind") != "packet":
            continue
        v = j["verb"]
        if v == "OK":
            v = "OK(%s)" % j["in_re_verb"]
        c[v] += 1
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))
EOF
same "$(cat "$T/counts")" \
  "ECHO=4 ERROR=4 FRAME=38 HELLO=21 MULTICAST_FRAME=1 MULTICAST_GATHER=38 MULTICAST_LIKE=29 NETWORK_CONFIG=2 NETWORK_CONFIG_REQUEST=6 NETWORK_CREDENTIALS=5 OK(ECHO)=6 OK(HELLO)=20 OK(MULTICAST_GATHER)=2 OK(NETWORK_CONFIG_REQUEST)=2 OK(WHOIS)=43 PUSH_DIRECT_PATHS=3 RENDEZVOUS=6 WHOIS=43" \
  "verb counts (§14.1)"

# ---- without keys: only cleartext (HELLO) is decoded ----------------------------------------------
expect 0 "decode session.pcap without identities" -- "$Z" wire decode "$V/session.pcap"
same "$(count '"authentic":null' "$T/out")" 253 "no keys: authentic null on every packet"
same "$(count '"decoded"' "$T/out")" 21 "no keys: only the cleartext HELLOs decoded"
# One secret (node A) plus identities learned from HELLO / OK(WHOIS): all of A's traffic
# authenticates except its very first HELLO (to the root, whose identity is not known yet).
expect 0 "decode with node A's secret only" -- "$Z" wire decode --identity "$V/nodea.identity.secret" "$V/session.pcap"
same "$(count '"authentic":false' "$T/out")" 0 "node A only: nothing unauthentic"
a_lines=$(grep -c '"source":"8fec3e8ae4"' "$T/out")
a_auth=$(grep '"source":"8fec3e8ae4"' "$T/out" | grep -c '"authentic":true')
same "$a_auth" "$((a_lines - 1))" "node A only: every packet from A but the first authenticates"

# ---- unreadable captures ---------------------------------------------------------------------------
head -c 1000 /dev/urandom >"$T/garbage.pcap"
expect 1 "garbage file" -- "$Z" wire decode "$T/garbage.pcap"
grep -q "error" "$T/err" && ok || fail "garbage file: no error message"
expect 1 "missing capture" -- "$Z" wire decode "$T/does-not-exist.pcap"
grep -q "error" "$T/err" && ok || fail "missing capture: no error message"
: >"$T/empty.pcap"
expect 1 "empty file" -- "$Z" wire decode "$T/empty.pcap"

# ---- random and malformed datagrams ----------------------------------------------------------------
"$PY" - "$T/random.pcap" >/dev/null <<'EOF'
import random, struct, sys
random.seed(1234)
frames = []
def ip4_udp(payload, sport=9993, dport=9994, ulen=None, trunc=None):
    udp = struct.pack(">HHHH", sport, dport, ulen if ulen is not None else 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([10, 77, 0, 9]), bytes([10, 77, 0, 1])) + udp
    eth = b"\x00" * 12 + b"\x08\x00" + ip
    return eth[:trunc] if trunc else eth
def ip6_udp(payload):
    udp = struct.pack(">HHHH", 9993, 9993, 8 + len(payload), 0) + payload
    ip = struct.pack(">IHBB16s16s", 6 << 28, len(udp), 17, 64, b"\xfd" + b"\x00" * 14 + b"\x01",
                     b"\xfd" + b"\x00" * 14 + b"\x02") + udp
    return b"\x00" * 12 + b"\x86\xdd" + ip
rnd = lambda n: bytes(random.getrandbits(8) for _ in range(n))
for n in [0, 1, 4, 12, 13, 16, 17, 27, 28, 29, 64, 200, 1432, 1500]:
    frames.append(ip4_udp(rnd(n)))
for n in [30, 300]:
    frames.append(ip6_udp(rnd(n)))
head = rnd(8) + bytes.fromhex("765ad94991" "8fec3e8ae4")
# Cleartext HELLO heads (cipher 0, verb 1) with truncated / garbage payloads: decode errors.
for body in [b"", b"\x0c\x01", rnd(40), rnd(100)]:
    frames.append(ip4_udp(head + b"\x00" + rnd(8) + b"\x01" + body))
# Cleartext heads of other verbs with short payloads (unknown source: decoded, errors).
for verb in [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 16, 20]:
    frames.append(ip4_udp(head + b"\x00" + rnd(8) + bytes([verb]) + rnd(3)))
# Fragments with bad counts, and a lone valid fragment (prints nothing: never completes).
frames.append(ip4_udp(rnd(8) + bytes.fromhex("765ad94991") + b"\xff\x00\x00" + rnd(20)))
frames.append(ip4_udp(rnd(8) + bytes.fromhex("765ad94991") + b"\xff\xf9\x00" + rnd(20)))
frames.append(ip4_udp(rnd(8) + bytes.fromhex("765ad94991") + b"\xff\x21\x00" + rnd(20)))
# A fragmented head that never completes (prints nothing).
frames.append(ip4_udp(head + b"\x58" + rnd(8) + rnd(100)))
# Malformed IP/UDP: bad UDP length, truncated UDP header, truncated IPv4 header.
frames.append(ip4_udp(rnd(50), ulen=200))
frames.append(ip4_udp(rnd(50), trunc=14 + 20 + 4))
frames.append(ip4_udp(rnd(50), trunc=14 + 10))
# Non-UDP traffic (ARP): skipped.
frames.append(b"\x00" * 12 + b"\x08\x06" + rnd(28))
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, fr in enumerate(frames):
        f.write(struct.pack("<IIII", 1795605700 + i, 0, len(fr), len(fr)))
        f.write(fr)
print(len(frames))
EOF
# With the session keys, the forged non-HELLO heads "from" node A to the root (14) fail
# authentication (the forged HELLOs carry no parsable identity, so no key: null).
expect 0 "random datagrams with keys" -- "$Z" wire decode "${IDS[@]}" "$T/random.pcap"
same "$(count '"authentic":true' "$T/out")" 0 "random with keys: nothing authentic"
forged=$(count '"authentic":false' "$T/out")
[ "$forged" -ge 14 ] && ok || fail "random with keys: forged heads not rejected ($forged)"
# Without keys the cleartext heads are decoded and fail as malformed payloads.
expect 0 "random datagrams" -- "$Z" wire decode "$T/random.pcap"
lines=$(wc -l <"$T/out" | tr -d ' ')
# 42 frames, 1 ARP skipped: one line per UDP datagram (pieces of packets that never complete
# are reported at the end as "fragmented" with an error).
same "$lines" 41 "random: one line per UDP datagram"
errs=$(count '"error"' "$T/out")
[ "$errs" -ge 20 ] && ok || fail "random: expected many error lines, got $errs"
same "$(count '"authentic":true' "$T/out")" 0 "random: nothing authentic"
"$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/out" && ok || fail "random: invalid JSON line"
grep -q '"error":"bad UDP length 200"' "$T/out" && ok || fail "random: bad UDP length reported"
grep -q '"kind":"junk"' "$T/out" && ok || fail "random: junk reported"
grep -q '"kind":"beacon"' "$T/out" && ok || fail "random: beacon reported"
grep -q 'invalid fragment header' "$T/out" && ok || fail "random: invalid fragment reported"

echo "wire.sh: $checks checks, $fails failed"
[ "$fails" = 0 ]
