#!/usr/bin/env bash
# CLI contract test for `ztcore netconf show` against the cached configs and the nodes'
# listnetworks output.
# usage: netconf.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: netconf.sh ZTCORE VECTORS_DIR}
V=${2:?usage: netconf.sh ZTCORE VECTORS_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
fails=0
checks=0

ok()   { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok; else fail "$what: exit $got, want $want ($(head -c 300 "$T/err"))"; fi
}
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }
jget() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v, sort_keys=True) if not isinstance(v,str) else v)' "$T/out" "$1"; }
# The same expression over a listnetworks file's first network.
lget() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1]))[0]; v=eval(sys.argv[2]); print(json.dumps(v, sort_keys=True) if not isinstance(v,str) else v)' "$1" "$2"; }

expect 0 "netconf --help" -- "$Z" netconf --help
grep -q "usage: ztcore netconf show" "$T/out" && ok || fail "netconf --help text"
expect 0 "show --help" -- "$Z" netconf show --help
expect 2 "no subcommand" -- "$Z" netconf
expect 2 "unknown subcommand" -- "$Z" netconf frob
expect 2 "show without file" -- "$Z" netconf show
expect 2 "unknown option" -- "$Z" netconf show --bogus "$V/nodea.networkconfig.dict"

for node in nodea nodeb; do
  L="$V/${node}_listnetworks.json"
  expect 0 "$node show" -- "$Z" netconf show --controller "$V/controller.identity.public" "$V/$node.networkconfig.dict"
  # Values shared with listnetworks, same key names.
  for key in nwid id name mac mtu broadcastEnabled assignedAddresses routes netconfRevision dns bridge type; do
    same "$(jget "j[\"$key\"]")" "$(lget "$L" "j[\"$key\"]")" "$node $key vs listnetworks"
  done
  same "$(jget 'j["staticIps"]')" "$(lget "$L" 'j["assignedAddresses"]')" "$node staticIps"
  same "$(jget 'j["multicastLimit"]')" "32" "$node multicastLimit"
  same "$(jget 'j["flags"]')" "6" "$node flags"
  same "$(jget 'j["flagNames"]')" '["enableBroadcast", "ndpEmulation"]' "$node flag names"
  same "$(jget 'j["revision"]')" "1" "$node revision"
  same "$(jget 'j["issuedTo"]')" "$(cut -d: -f1 "$V/$node.identity.public")" "$node issuedTo"
  same "$(jget '[r["type"] for r in j["rules"]]')" '["ACTION_ACCEPT"]' "$node rules"
  same "$(jget 'j["rules"]')" '[{"description": "ACTION_ACCEPT", "type": "ACTION_ACCEPT"}]' "$node rule objects"
  same "$(jget 'j["com"]["signedBy"]')" "d5a72ff358" "$node com signedBy"
  same "$(jget 'j["com"]["timestamp"] == j["timestamp"]')" "true" "$node com timestamp"
  same "$(jget 'len(j["com"]["qualifiers"])')" "7" "$node com qualifiers"
  same "$(jget 'j["com"]["signatureValid"]')" "true" "$node com signature"
  same "$(jget 'len(j["certificatesOfOwnership"])')" "1" "$node COO count"
  same "$(jget 'j["certificatesOfOwnership"][0]["signatureValid"]')" "true" "$node COO signature"
  same "$(jget '[t["value"] + "/" + a.split("/")[1] for t, a in zip(j["certificatesOfOwnership"][0]["things"], j["assignedAddresses"])]')" \
       "$(jget 'j["assignedAddresses"]')" "$node COO lists the static IPs"
  same "$(jget 'j["capabilities"]')" '[]' "$node capabilities"
  same "$(jget 'j["tags"]')" '[]' "$node tags"
  same "$(jget 'j["specialists"]')" '[]' "$node specialists"
  # Without --controller no signature verdicts are printed but decoding is the same.
  expect 0 "$node show (no controller)" -- "$Z" netconf show "$V/$node.networkconfig.dict"
  same "$(jget '"signatureValid" in j["com"]')" "false" "$node no verdict without controller"
done

# Rules in the reference controller's JSON form (PROTOCOL.md §10.3): the same config with an
# R key of INTEGER_RANGE (start/end as 16 hex digits, not numbers), ICMP any-code and ACCEPT.
"$PY" - "$V/nodea.networkconfig.dict" "$T/rules.dict" <<'PYEOF'
import sys
d = open(sys.argv[1], 'rb').read()
raw = bytes.fromhex('3313000000000000000a0000000000000014000e8f' '2603080000' '0100')
esc = raw.replace(b'\\', b'\\\\').replace(b'\0', b'\\0').replace(b'\r', b'\\r').replace(b'\n', b'\\n').replace(b'=', b'\\e')
open(sys.argv[2], 'wb').write(b'\n'.join(b'R=' + esc if l.startswith(b'R=') else l for l in d.split(b'\n')))
PYEOF
expect 0 "show rules" -- "$Z" netconf show "$T/rules.dict"
same "$(jget 'j["rules"][0]')" '{"bits": 16, "description": "INTEGER_RANGE start=000000000000000a end=0000000000000014 idx=14 bits=16 little", "end": "0000000000000014", "idx": 14, "little": true, "not": false, "or": false, "start": "000000000000000a", "type": "INTEGER_RANGE"}' "integer range rule"
same "$(jget 'j["rules"][1]')" '{"description": "MATCH_ICMP icmpType=8 icmpCode=any", "icmpCode": null, "icmpType": 8, "not": false, "or": false, "type": "MATCH_ICMP"}' "icmp rule"
same "$(jget 'len(j["rules"])')" "3" "rule count"

# Wrong controller identity: signatures reported invalid.
expect 0 "wrong controller" -- "$Z" netconf show --controller "$V/root.identity.public" "$V/nodea.networkconfig.dict"
same "$(jget 'j["com"]["signatureValid"]')" "false" "wrong controller com"

# Malformed configs.
expect 1 "missing file" -- "$Z" netconf show "$T/nope"
expect 1 "not a config" -- "$Z" netconf show "$V/planet"
head -c 600 "$V/nodea.networkconfig.dict" >"$T/trunc"   # cuts the COM/COO blobs
expect 1 "truncated config" -- "$Z" netconf show "$T/trunc"
grep -a -v '^nwid=' "$V/nodea.networkconfig.dict" >"$T/nonwid" || true
expect 1 "config without nwid" -- "$Z" netconf show "$T/nonwid"

echo "netconf.sh: $checks checks, $fails failures"
[ "$fails" = 0 ]
