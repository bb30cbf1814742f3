#!/usr/bin/env bash
# CLI contract test for `ztcore root`, `ztcore node` and `ztcore cli` (the local JSON API).
# A root and two nodes on 127.0.0.1 (random free ports) in a temp dir; all background
# processes are stopped on exit.
# usage: node_api.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: node_api.sh ZTCORE VECTORS_DIR}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d)
RPID= APID= BPID=
cleanup() {
  for p in $RPID $APID $BPID; do kill -TERM "$p" 2>/dev/null; done
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

# A port free for both UDP and TCP on 127.0.0.1 (the API listens on the UDP port number).
free_port() {
  "$PY" - <<'EOF'
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
EOF
}
# http METHOD PORT PATH [TOKEN|-] [BODY] -> prints "<status> <body>"
http() {
  "$PY" - "$@" <<'EOF'
import sys, urllib.request, urllib.error
method, port, path = sys.argv[1], sys.argv[2], sys.argv[3]
token = sys.argv[4] if len(sys.argv) > 4 else "-"
body = sys.argv[5].encode() if len(sys.argv) > 5 else None
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=body, method=method)
if token != "-":
    req.add_header("X-ZT1-Auth", token)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode().replace("\n", " "))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().replace("\n", " "))
EOF
}
# jget FILE EXPR: evaluates EXPR with j = the JSON in FILE; prints the result
jget() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>&1; }
mode() { stat -c %a "$1" 2>/dev/null; }
# wait_online HOME: until `cli info` says ONLINE (20 s)
wait_online() {
  for _ in $(seq 1 100); do
    "$Z" cli --home "$1" info >"$T/info" 2>/dev/null && grep -q " ONLINE$" "$T/info" && return 0
    sleep 0.2
  done
  return 1
}

RP=$(free_port); AP=$(free_port); BP=$(free_port)

# ---- usage ----------------------------------------------------------------------------------
"$Z" node --help >"$T/out" 2>&1 && has "$T/out" "usage: ztcore node" "node --help" || fail "node --help exit"
"$Z" root --help >"$T/out" 2>&1 && has "$T/out" "usage: ztcore root" "root --help" || fail "root --help exit"
"$Z" cli --help >"$T/out" 2>&1 && has "$T/out" "usage: ztcore cli" "cli --help" || fail "cli --help exit"
"$Z" node --port 1 >/dev/null 2>&1; same "$?" 2 "node without --home"
"$Z" node --home "$T/x" --join 123 >/dev/null 2>&1; same "$?" 2 "node --join with a bad network id"
"$Z" node --home "$T/noplanet" --port 0 --bind 127.0.0.1 >"$T/out" 2>&1; same "$?" 1 "node without any planet"
has "$T/out" "no planet" "node without a planet explains why"
"$Z" cli --home "$T/nothing" info >"$T/out" 2>&1; same "$?" 1 "cli when no node ever ran"
has "$T/out" "is .ztcore node --home" "cli explains that the node is not running"

# ---- a root and two nodes -------------------------------------------------------------------
"$Z" root --home "$T/root" --port "$RP" --bind 127.0.0.1 --planet-out "$T/planet" >"$T/root.log" 2>&1 &
RPID=$!
for _ in $(seq 1 100); do [ -s "$T/planet" ] && break; sleep 0.1; done
[ -s "$T/planet" ] && ok || fail "root wrote no planet ($(cat "$T/root.log"))"
ROOT=$(head -c 10 "$T/root/identity.public")
has "$T/root.log" "created planet .*127\.0\.0\.1/$RP" "root reports the planet it made"
has "$T/root.log" "root $ROOT started" "root prints its address"
same "$(mode "$T/root/planet.signing.secret")" 600 "planet.signing.secret mode"
same "$(stat -c %s "$T/root/planet.signing.secret")" 128 "planet.signing.secret size"
cmp -s "$T/planet" "$T/root/planet" && ok || fail "--planet-out is a copy of DIR/planet"

"$Z" node --home "$T/a" --port "$AP" --bind 127.0.0.1 --planet "$T/planet" >"$T/a.log" 2>&1 &
APID=$!
"$Z" node --home "$T/b" --port "$BP" --bind 127.0.0.1 --planet "$T/planet" --join 8056c2e21c000001 >"$T/b.log" 2>&1 &
BPID=$!
wait_online "$T/a" && ok || fail "node a not ONLINE within 20 s ($(cat "$T/a.log"))"
wait_online "$T/b" && ok || fail "node b not ONLINE within 20 s ($(cat "$T/b.log"))"
A=$(head -c 10 "$T/a/identity.public")
TOKEN=$(cat "$T/a/authtoken.secret")

"$Z" cli --home "$T/a" info >"$T/out" 2>&1
has "$T/out" "^200 info $A [0-9]+\.[0-9]+\.[0-9]+ ONLINE$" "cli info line"
has "$T/a.log" "ONLINE" "node prints its ONLINE event"
has "$T/a.log" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z UP" "events carry timestamps"
has "$T/b.log" "^joined network 8056c2e21c000001$" "--join joins"
[ -e "$T/b/networks.d/8056c2e21c000001.local.conf" ] && ok || fail "--join is remembered in networks.d"
same "$(cat "$T/a/zerotier-one.port")" "$AP" "API port file holds the UDP port number"
same "${#TOKEN}" 24 "auth token length"
same "$(mode "$T/a/authtoken.secret")" 600 "authtoken.secret mode"
same "$(mode "$T/a/identity.secret")" 600 "identity.secret mode"

"$Z" cli --home "$T/a" peers >"$T/out" 2>&1
has "$T/out" "^200 peers$" "peers first line"
has "$T/out" "^<ztaddr> <ver> <role> <lat> <link> <lastTX> <lastRX> <path>$" "peers header"
has "$T/out" "^$ROOT [0-9.-]+ PLANET -?[0-9]+ DIRECT -?[0-9]+ -?[0-9]+ 127\.0\.0\.1/$RP$" "peers lists the root as PLANET"
"$Z" cli --home "$T/a" listpeers >"$T/out" 2>&1
has "$T/out" "^200 listpeers <ztaddr> <path> <latency> <version> <role>$" "listpeers header"
has "$T/out" "^200 listpeers $ROOT 127\.0\.0\.1/$RP;-?[0-9]+;-?[0-9]+ -?[0-9]+ [0-9.-]+ PLANET$" "listpeers row"

"$Z" cli --home "$T/a" -j info >"$T/info.json" 2>&1
same "$(jget "$T/info.json" "j['address']")" "$A" "-j info address"
same "$(jget "$T/info.json" "j['online']")" True "-j info online"
same "$(jget "$T/info.json" "j['tcpFallbackActive']")" False "-j info tcpFallbackActive"
same "$(jget "$T/info.json" "j['publicIdentity']")" "$(cat "$T/a/identity.public")" "-j info publicIdentity"
same "$(jget "$T/info.json" "j['planetWorldId'] > 0 and j['planetWorldTimestamp'] > 0")" True "-j info planet"
same "$(jget "$T/info.json" "j['version'] == '%d.%d.%d' % (j['versionMajor'], j['versionMinor'], j['versionRev'])")" True "-j info version"
"$Z" cli --home "$T/a" -j peers >"$T/peers.json" 2>&1
same "$(jget "$T/peers.json" "[p['role'] for p in j if p['address'] == '$ROOT']")" "['PLANET']" "-j peers root role"
same "$(jget "$T/peers.json" "[x['address'] for p in j if p['address'] == '$ROOT' for x in p['paths'] if x['preferred']]")" "['127.0.0.1/$RP']" "-j peers root path"
same "$(jget "$T/peers.json" "all(p['isBonded'] is False and isinstance(p['latency'], int) for p in j)")" True "-j peers fields"

# ---- the API directly: auth, shapes, errors -------------------------------------------------
read -r code _ < <(http GET "$AP" /status wrong-token-wrong-token-xx); same "$code" 401 "wrong token"
read -r code _ < <(http GET "$AP" /status -); same "$code" 401 "missing token"
read -r code _ < <(http GET "$AP" "/status?auth=$TOKEN" -); same "$code" 200 "?auth= token"
read -r code body < <(http GET "$AP" /status wrong-token-wrong-token-xx)
case "$body" in *'"error"'*) ok ;; *) fail "401 body is a JSON error: $body" ;; esac
"$Z" cli --home "$T/a" -T wrong-token info >"$T/out" 2>&1; same "$?" 1 "cli with a wrong token exits 1"
has "$T/out" "^401 info " "cli with a wrong token prints the 401"
read -r code _ < <(http GET "$AP" "/peer/$ROOT" "$TOKEN"); same "$code" 200 "GET /peer/<root>"
read -r code _ < <(http GET "$AP" /peer/nothex "$TOKEN"); same "$code" 400 "GET /peer/<bad>"
read -r code _ < <(http GET "$AP" /peer/0123456789 "$TOKEN"); same "$code" 404 "GET /peer/<unknown>"
read -r code _ < <(http GET "$AP" /nope "$TOKEN"); same "$code" 404 "GET /nope"
read -r code body < <(http GET "$AP" /network "$TOKEN"); same "$code $body" "200 []" "GET /network"
read -r code body < <(http GET "$AP" /moon "$TOKEN"); same "$code $body" "200 []" "GET /moon"
read -r code _ < <(http GET "$AP" /network/8056c2e21c000001 "$TOKEN"); same "$code" 404 "GET /network/<not joined>"
read -r code _ < <(http DELETE "$AP" /network/8056c2e21c000001 "$TOKEN"); same "$code" 404 "DELETE /network/<not joined>"
read -r code _ < <(http POST "$AP" /network/xyz "$TOKEN" "{}"); same "$code" 400 "POST /network/<bad>"
read -r code _ < <(http POST "$AP" /network/8056c2e21c000001 "$TOKEN" "[1"); same "$code" 400 "POST /network with a bad body"
read -r code _ < <(http POST "$AP" /moon/1234 "$TOKEN" "not json"); same "$code" 400 "POST /moon with a bad body"
read -r code _ < <(http DELETE "$AP" /moon/1234 "$TOKEN"); same "$code" 404 "DELETE /moon/<not orbited>"
read -r code _ < <(http PATCH "$AP" /status "$TOKEN"); same "$code" 405 "PATCH /status"

# Networks: join/leave through the cli (no controller answers for this id: the network stays
# REQUESTING_CONFIGURATION; its controller 8056c2e21c is asked for through our local root only).
"$Z" cli --home "$T/a" join 8056c2e21c000001 >"$T/out" 2>&1; same "$(cat "$T/out")" "200 join OK" "cli join"
"$Z" cli --home "$T/a" listnetworks >"$T/out" 2>&1
has "$T/out" "^200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>$" "listnetworks header"
has "$T/out" "^200 listnetworks 8056c2e21c000001 - ([0-9a-f]{2}:){5}[0-9a-f]{2} REQUESTING_CONFIGURATION PRIVATE - -$" "listnetworks row"
"$Z" cli --home "$T/a" -j listnetworks >"$T/nets.json" 2>&1
same "$(jget "$T/nets.json" "[(n['id'], n['nwid'], n['status']) for n in j]")" "[('8056c2e21c000001', '8056c2e21c000001', 'REQUESTING_CONFIGURATION')]" "-j listnetworks"
read -r code _ < <(http GET "$AP" /network/8056c2e21c000001 "$TOKEN"); same "$code" 200 "GET /network/<joined>"
[ -e "$T/a/networks.d/8056c2e21c000001.local.conf" ] && ok || fail "join is remembered in networks.d"
"$Z" cli --home "$T/a" join 8056c2e21c00000 >"$T/out" 2>&1; same "$?" 1 "cli join with a bad id"
has "$T/out" "^400 join " "cli join with a bad id prints the 400"
"$Z" cli --home "$T/b" leave 8056c2e21c000001 >"$T/out" 2>&1; same "$(cat "$T/out")" "200 leave OK" "cli leave (b joined by flag)"
[ -e "$T/b/networks.d/8056c2e21c000001.local.conf" ] && fail "leave forgets the membership" || ok
"$Z" cli --home "$T/b" leave 8056c2e21c000001 >"$T/out" 2>&1; same "$?" 1 "cli leave of a network not joined"
has "$T/out" "^404 leave " "cli leave of a network not joined prints the 404"
"$Z" cli --home "$T/a" listmoons >"$T/out" 2>&1; same "$(tr -d ' \n' <"$T/out")" "[]" "listmoons"
# Orbit/deorbit through the API (the moon need not exist: it is listed as waiting until fetched).
"$Z" cli --home "$T/a" orbit 000000deadbeef00 deadbeef00 >"$T/out" 2>&1; same "$(cat "$T/out")" "200 orbit OK" "cli orbit"
"$Z" cli --home "$T/a" listmoons >"$T/moons.json" 2>&1
same "$(jget "$T/moons.json" "[(m['id'], m['waiting']) for m in j]")" "[('000000deadbeef00', True)]" "listmoons after orbit"
"$Z" cli --home "$T/a" orbit 1234 nothex >"$T/out" 2>&1; same "$?" 1 "cli orbit with a bad seed"
has "$T/out" "^400 orbit " "cli orbit with a bad seed prints the 400"
"$Z" cli --home "$T/a" deorbit deadbeef00 >"$T/out" 2>&1; same "$(cat "$T/out")" "200 deorbit OK" "cli deorbit"
"$Z" cli --home "$T/a" listmoons >"$T/out" 2>&1; same "$(tr -d ' \n' <"$T/out")" "[]" "listmoons after deorbit"
"$Z" cli --home "$T/a" deorbit deadbeef00 >"$T/out" 2>&1; same "$?" 1 "cli deorbit of a moon not orbited"

# ---- SIGINT stops cleanly; the identity persists across a restart ---------------------------
kill -INT "$APID"
wait "$APID"; same "$?" 0 "node exits 0 on SIGINT"
APID=
has "$T/a.log" "SIGINT, stopping" "node says it is stopping"
[ -e "$T/a/zerotier-one.port" ] && fail "port file left after a clean stop" || ok
"$Z" cli --home "$T/a" info >"$T/out" 2>&1; same "$?" 1 "cli when the node is stopped"
"$Z" node --home "$T/a" --port "$AP" --bind 127.0.0.1 >"$T/a2.log" 2>&1 &
APID=$!
wait_online "$T/a" && ok || fail "node a not ONLINE again after restart ($(cat "$T/a2.log"))"
"$Z" cli --home "$T/a" info >"$T/out" 2>&1
has "$T/out" "^200 info $A " "same address after restart (planet and identity from DIR)"
same "$(cat "$T/a/authtoken.secret")" "$TOKEN" "same token after restart"
has "$T/a2.log" "^joined network 8056c2e21c000001$" "the network is rejoined after restart"
"$Z" cli --home "$T/a" listnetworks >"$T/out" 2>&1
has "$T/out" "^200 listnetworks 8056c2e21c000001 " "listnetworks after restart"

# The root serves the API too and sees both nodes as leaves.
"$Z" cli --home "$T/root" peers >"$T/out" 2>&1
has "$T/out" "^$A [0-9.-]+ LEAF " "root lists node a as LEAF"

kill -TERM "$BPID"; wait "$BPID"; same "$?" 0 "node exits 0 on SIGTERM"; BPID=
kill -INT "$RPID"; wait "$RPID"; same "$?" 0 "root exits 0 on SIGINT"; RPID=

echo "node_api: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
