#!/usr/bin/env bash
# `ztcore controller --bind 127.0.0.1` behaves as `ztcore root` and `ztcore node` do: a loopback
# bind turns on loopback paths, so a node on 127.0.0.1 gets its network config. Also checks
# the node paths the controller's HTTP port serves beside /controller (GET /status, /peer,
# /peer/<address>, as zerotier-one does) and that form-style string booleans are accepted.
# A root, a controller and a node on 127.0.0.1 (random ports) in a temp dir.
# usage: controller_bind.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: controller_bind.sh ZTCORE VECTORS_DIR}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d)
RPID= CPID= NPID=
cleanup() {
  for p in $RPID $CPID $NPID; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
checks=0
ok()   { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }
has()  { if grep -Eq -- "$2" "$1"; then ok; else fail "$3 ($(head -c 400 "$1"))"; fi; }
# http METHOD URL TOKEN [BODY] -> the body into $T/body, prints the status
http() {
  "$PY" - "$@" "$T/body" <<'EOF'
import sys, urllib.request, urllib.error
method, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
body = sys.argv[4].encode() if len(sys.argv) > 5 else None
out = sys.argv[-1]
req = urllib.request.Request(url, data=body, method=method)
req.add_header("X-ZT1-Auth", token)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        status, text = r.status, r.read().decode()
except urllib.error.HTTPError as e:
    status, text = e.code, e.read().decode()
open(out, "w").write(text)
print(status)
EOF
}
# A port free for UDP on 127.0.0.1 (the root's planet names it).
free_port() {
  "$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
die() { echo "FAIL: $*" >&2; exit 1; }
jget() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>&1; }
wait_for() {  # wait_for FILE REGEX: up to 10 s
  for _ in $(seq 1 100); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

"$Z" root --home "$T/root" --port "$(free_port)" --bind 127.0.0.1 --no-api --planet-out "$T/planet" \
  >"$T/root.log" 2>&1 &
RPID=$!
for _ in $(seq 1 100); do [ -s "$T/planet" ] && break; sleep 0.1; done
[ -s "$T/planet" ] || die "root wrote no planet ($(cat "$T/root.log"))"
ROOT=$(head -c 10 "$T/root/identity.public")

# No --allow-loopback: the loopback bind alone must turn it on, as for root and node.
"$Z" controller --home "$T/ctl" --port 0 --bind 127.0.0.1 --http 127.0.0.1:0 --planet "$T/planet" \
  >"$T/ctl.log" 2>&1 &
CPID=$!
wait_for "$T/ctl.log" '^api ' || die "controller printed no API line ($(cat "$T/ctl.log"))"
has "$T/ctl.log" "^note: bound to loopback only: allowing loopback paths$" "controller notes the loopback bind"
CTL=$(awk '/^controller /{print $2}' "$T/ctl.log")
API=$(awk '/^api /{print $2}' "$T/ctl.log")
BASE=${API%/controller}
TOKEN=$(cat "$T/ctl/authtoken.secret")

same "$(http GET "$BASE/status" "$TOKEN")" 200 "GET /status on the controller port"
same "$(jget "$T/body" "j['address']")" "$CTL" "/status address"
same "$(jget "$T/body" "j['version'].count('.')")" 2 "/status version"
same "$(jget "$T/body" "j['config']['settings']['allowLoopback']")" True "/status allowLoopback"
same "$(http GET "$BASE/status" wrong-token)" 401 "/status needs the token"
same "$(http GET "$BASE/peer" "$TOKEN")" 200 "GET /peer on the controller port"
same "$(jget "$T/body" "type(j).__name__")" list "/peer is an array"
same "$(http GET "$BASE/peer/0000000001" "$TOKEN")" 404 "GET /peer/<unknown>"

# A network made the way ztncui makes one: form values as strings.
same "$(http POST "$API/network/${CTL}______" "$TOKEN" '{"name":"cli-bind"}')" 200 "create"
NWID=$(jget "$T/body" "j['id']")
BODY='{"private":"false","v4AssignMode":{"zt":"true"},"routes":[{"target":"10.147.20.0/24","via":null}],"ipAssignmentPools":[{"ipRangeStart":"10.147.20.10","ipRangeEnd":"10.147.20.20"}]}'
same "$(http POST "$API/network/$NWID" "$TOKEN" "$BODY")" 200 "string booleans"
same "$(jget "$T/body" "(j['private'], j['v4AssignMode'])")" "(False, {'zt': True})" "string booleans read"

"$Z" node --home "$T/node" --port 0 --bind 127.0.0.1 --planet "$T/planet" --join "$NWID" >"$T/node.log" 2>&1 &
NPID=$!
got=no
for _ in $(seq 1 150); do
  "$Z" cli --home "$T/node" listnetworks >"$T/nets" 2>/dev/null
  if grep -Eq "^200 listnetworks $NWID cli-bind .* OK PUBLIC .*10\.147\.20\.(1[0-9]|20)/24" "$T/nets"; then got=yes; break; fi
  sleep 0.2
done
same "$got" yes "the node on 127.0.0.1 got its config and an address ($(cat "$T/nets"))"

# The controller now knows the root and the node as peers.
NODE=$(head -c 10 "$T/node/identity.public")
same "$(http GET "$BASE/peer" "$TOKEN")" 200 "GET /peer"
same "$(jget "$T/body" "sorted(p['role'] for p in j if p['address'] in ('$ROOT', '$NODE'))")" "['LEAF', 'PLANET']" \
  "/peer lists the root and the node"
same "$(http GET "$BASE/peer/$NODE" "$TOKEN")" 200 "GET /peer/<node>"
same "$(jget "$T/body" "(j['address'], len(j['paths']) > 0)")" "('$NODE', True)" "/peer/<node> has paths"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ] && echo "OK controller_bind"
[ "$fails" -eq 0 ]
