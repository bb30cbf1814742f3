#!/usr/bin/env bash
# CLI contract test for `ztcore rules explain` (docs/RULES.md "Explaining a decision"): a JSON
# config from `ztcore rules compile`, frames as hex and in a pcap; a drop by tag, an accept by
# capability (own outbound, the peer's inbound), the default drop, the dictionary config of a
# node, the JSON line's shape, and bad input (exit 1) / usage errors (exit 2).
# usage: rules_explain.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: rules_explain.sh ZTCORE VECTORS_DIR}
V=${2:?usage: rules_explain.sh ZTCORE VECTORS_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
fails=0
checks=0
ok()   { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok; else fail "$what: exit $got, want $want ($(head -c 300 "$T/err"))"; fi
}
# A Python expression over the LAST line of stdout parsed as JSON (j).
jlast() { "$PY" -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); v=eval(sys.argv[2]); print(json.dumps(v) if not isinstance(v,str) else v)' "$T/out" "$1"; }

# The rules: department tags must be equal, ICMP is accepted, the rest (e.g. TCP) falls to the
# capabilities: ssh (2000) accepts TCP port 22.
cat >"$T/net.rules" <<'EOF'
tag department id 1000 enum 10 sales enum 20 engineering default sales;
cap ssh id 2000 accept ipprotocol tcp dport 22; ;
drop not ethertype ipv4 and not ethertype arp;
drop not tdiff department 0;
accept ipprotocol icmp;
EOF
"$Z" rules compile "$T/net.rules" >"$T/net.json" || { echo "FAIL: compile" >&2; exit 1; }

# Frames (whole Ethernet frames as hex): ICMP echo, TCP SYN to port 22, TCP to port 80, IPv6.
"$PY" - "$T" <<'EOF'
import struct, sys
d = sys.argv[1]
eth = bytes.fromhex("022222222222" "021111111111")
def ip4(proto, l4):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return eth + b"\x08\x00" + h + l4
def tcp(dport):
    return struct.pack("!HHIIBBHHH", 40000, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)
frames = {
    "icmp": ip4(1, b"\x08\x00\x00\x00\x00\x01\x00\x01"),
    "ssh": ip4(6, tcp(22)),
    "http": ip4(6, tcp(80)),
    "v6": eth + b"\x86\xdd" + bytes(40),
}
for k, v in frames.items():
    open("%s/%s.hex" % (d, k), "w").write(v.hex())
# A classic pcap (Ethernet) with the ICMP and the SSH frame.
with open(d + "/two.pcap", "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for v in (frames["icmp"], frames["ssh"]):
        f.write(struct.pack("<IIII", 1, 0, len(v), len(v)) + v)
with open(d + "/raw.pcap", "wb") as f:  # link type 101 (raw IP), one packet: nothing to explain
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
    ip = frames["icmp"][14:]
    f.write(struct.pack("<IIII", 1, 0, len(ip), len(ip)) + ip)
EOF
icmp=$(cat "$T/icmp.hex"); ssh=$(cat "$T/ssh.hex"); http=$(cat "$T/http.hex"); v6=$(cat "$T/v6.hex")

# ---- help and usage ----
expect 0 "--help" -- "$Z" rules explain --help
grep -q "usage: ztcore rules explain --netconf FILE" "$T/out" && ok || fail "help text"
grep -q "memberTags" "$T/out" && ok || fail "help documents the JSON config"
expect 2 "no arguments" -- "$Z" rules explain
expect 2 "no frame" -- "$Z" rules explain --netconf "$T/net.json"
expect 2 "frame and pcap" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --pcap "$T/two.pcap"
expect 2 "bad --tag" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --tag 1000
expect 2 "bad --sender" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --sender xyz
expect 2 "unknown option" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --bogus

# ---- a drop by tag (outbound: we are sales 10, the peer engineering 20) ----
expect 0 "drop by tag" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --tag 1000=20 --json
same "$(jlast 'j["verdict"]')" drop "drop by tag: verdict"
same "$(jlast 'j["rule"]')" 4 "drop by tag: rule"
same "$(jlast 'j["capability"]')" null "drop by tag: capability"
same "$(jlast 'j["reason"]')" "rule 4 DROP: tag 1000 differs, sender 10 ≠ receiver 20" "drop by tag: reason"
same "$(jlast '[r["match"] for r in j["rules"] if r["evaluated"] and not r["action"]]')" "[true, false]" "drop by tag: raw matches"
same "$(jlast 'sorted(j.keys())')" '["capability", "reason", "redirect_to", "rule", "rules", "verdict"]' "json keys"
# The same inbound: the peer (20) sends to us (10).
expect 0 "drop by tag inbound" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --tag 1000=20 --inbound --json
same "$(jlast 'j["reason"]')" "rule 4 DROP: tag 1000 differs, sender 20 ≠ receiver 10" "inbound: reason"
# Text output: every rule, the verdict and the reason.
expect 0 "text output" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --tag 1000=20
grep -q "^base rules:" "$T/out" && ok || fail "text: base rules heading"
grep -q "not tdiff 1000 0" "$T/out" && ok || fail "text: rule in the rules language"
grep -q "^verdict: drop by rule 4" "$T/out" && ok || fail "text: verdict line ($(cat "$T/out"))"

# ---- accepts ----
expect 0 "accept icmp" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --tag 1000=10 --json
same "$(jlast '[j["verdict"], j["rule"], j["capability"]]')" '["accept", 6, null]' "accept by base rule"
# TCP/22 outbound: only with capability ssh (not a default capability: --cap gives it to us).
expect 0 "accept by capability" -- "$Z" rules explain --netconf "$T/net.json" --frame "$ssh" --tag 1000=10 --cap 2000 --json
same "$(jlast '[j["verdict"], j["rule"], j["capability"]]')" '["accept", 2, 2000]' "accept by capability"
same "$(jlast 'j["reason"]')" "rule 2 ACCEPT (capability 2000): ipprotocol 6 = 6, dport 22 in 22-22" "capability reason"
same "$(jlast 'sorted(set(r["capability"] for r in j["rules"] if r["capability"]))')" "[2000]" "capability rules listed"
# ... or held through memberCapabilities in the JSON.
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); j["memberCapabilities"]=[2000]; j["issuedTo"]="aaaaaaaaaa"; json.dump(j, open(sys.argv[2],"w"))' "$T/net.json" "$T/member.json"
expect 0 "memberCapabilities" -- "$Z" rules explain --netconf "$T/member.json" --frame "$ssh" --tag 1000=10 --json
same "$(jlast 'j["capability"]')" 2000 "memberCapabilities: capability"
# Without it: nothing matches, the default drop.
expect 0 "default drop" -- "$Z" rules explain --netconf "$T/net.json" --frame "$ssh" --tag 1000=10 --json
same "$(jlast '[j["verdict"], j["rule"], j["reason"]]')" '["drop", null, "no rule matched: default DROP"]' "default drop"
expect 0 "port 80" -- "$Z" rules explain --netconf "$T/net.json" --frame "$http" --tag 1000=10 --cap 2000 --json
same "$(jlast 'j["verdict"]')" drop "port 80 not accepted by ssh"
# Inbound: the sender's capabilities count (--peer-cap).
expect 0 "inbound peer capability" -- "$Z" rules explain --netconf "$T/net.json" --frame "$ssh" --tag 1000=10 --inbound --peer-cap 2000 --json
same "$(jlast '[j["verdict"], j["rule"], j["capability"]]')" '["accept", 2, 2000]' "inbound: peer's capability"
# Non-IPv4: dropped by rule 2.
expect 0 "ipv6" -- "$Z" rules explain --netconf "$T/net.json" --frame "$v6" --json
same "$(jlast '[j["verdict"], j["rule"]]')" '["drop", 2]' "ipv6 dropped"

# ---- pcap: one JSON line per frame ----
expect 0 "pcap" -- "$Z" rules explain --netconf "$T/net.json" --pcap "$T/two.pcap" --tag 1000=10 --cap 2000 --json
same "$(wc -l <"$T/out" | tr -d ' ')" 2 "pcap: two lines"
same "$(head -1 "$T/out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rule"])')" 6 "pcap: first frame"
same "$(jlast 'j["capability"]')" 2000 "pcap: last line is the last frame"
expect 1 "pcap not Ethernet" -- "$Z" rules explain --netconf "$T/net.json" --pcap "$T/raw.pcap"
grep -q "no Ethernet frames (1 packets of other link types)" "$T/err" && ok || fail "pcap link type message"
expect 1 "pcap missing" -- "$Z" rules explain --netconf "$T/net.json" --pcap "$T/nosuch.pcap"

# ---- a node's dictionary config ----
expect 0 "dictionary config" -- "$Z" rules explain --netconf "$V/nodea.networkconfig.dict" --frame "$icmp" --json
same "$(jlast 'j["verdict"] in ("accept", "drop")')" true "dictionary: a verdict"
same "$(jlast 'len(j["rules"]) > 0')" true "dictionary: its rules"

# ---- bad input: exit 1, a message, no crash ----
expect 1 "short frame" -- "$Z" rules explain --netconf "$T/net.json" --frame 0011223344
grep -q "not an Ethernet frame" "$T/err" && ok || fail "short frame message"
expect 1 "not hex" -- "$Z" rules explain --netconf "$T/net.json" --frame zz
expect 1 "odd hex" -- "$Z" rules explain --netconf "$T/net.json" --frame "${icmp}0"
printf '{"rules": [{"type": "NOPE"}]}' >"$T/bad.json"
expect 1 "bad rule" -- "$Z" rules explain --netconf "$T/bad.json" --frame "$icmp"
grep -q "NOPE" "$T/err" && ok || fail "bad rule message"
printf '{"rules": [], ' >"$T/trunc.json"
expect 1 "truncated JSON" -- "$Z" rules explain --netconf "$T/trunc.json" --frame "$icmp"
printf 'garbage\x00\x01' >"$T/garbage"
expect 1 "garbage config" -- "$Z" rules explain --netconf "$T/garbage" --frame "$icmp"
expect 1 "unknown cap" -- "$Z" rules explain --netconf "$T/net.json" --frame "$icmp" --cap 9
expect 1 "missing config" -- "$Z" rules explain --netconf "$T/nosuch.json" --frame "$icmp"

echo "rules_explain: $checks checks, $fails failed"
[ "$fails" = 0 ]
