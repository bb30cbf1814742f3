#!/usr/bin/env bash
# CLI contract test for structured traces (docs/TRACES.md): `ztcore node -v` prints each trace
# as one line, and `ztcore cli trace` follows a running node's traces through GET /trace
# (human lines, -j JSON lines, --count, --seconds). A root and one node on 127.0.0.1; the node
# joins a network nobody controls, which is trace 9000 NETWORK_JOINED.
# usage: trace.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: trace.sh ZTCORE VECTORS_DIR}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d)
RPID= APID=
cleanup() {
  for p in $RPID $APID; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
checks=0
ok()   { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }
has()  { if grep -Eq -- "$2" "$1"; then ok; else fail "$3 ($(head -c 600 "$1"))"; fi; }
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

RP=$(free_port); AP=$(free_port)
NWID=8056c2e21c000001
"$Z" root --home "$T/root" --port "$RP" --bind 127.0.0.1 --planet-out "$T/planet" >"$T/root.log" 2>&1 &
RPID=$!
for _ in $(seq 1 100); do [ -s "$T/planet" ] && break; sleep 0.1; done
[ -s "$T/planet" ] && ok || fail "root wrote no planet ($(cat "$T/root.log"))"
"$Z" node -v --home "$T/a" --port "$AP" --bind 127.0.0.1 --planet "$T/planet" --join "$NWID" >"$T/a.log" 2>&1 &
APID=$!
for _ in $(seq 1 100); do [ -s "$T/a/zerotier-one.port" ] && grep -q "TRACE 9000" "$T/a.log" && break; sleep 0.2; done

# node -v: one line per structured trace, "<time> TRACE <code> <NAME> <nwid>...: <reason>"
has "$T/a.log" "^[0-9-]+T[0-9:.]+Z TRACE 9000 NETWORK_JOINED $NWID: joined$" "node -v prints the structured line"

# cli trace: human lines, from the start of the node's trace log
timeout 20 "$Z" cli --home "$T/a" trace --count 1 >"$T/out" 2>&1
same "$?" 0 "cli trace --count 1 exit"
has "$T/out" "^[0-9-]+T[0-9:.]+Z TRACE 9000 NETWORK_JOINED $NWID: joined$" "cli trace human line"
same "$(wc -l <"$T/out")" 1 "cli trace --count 1 prints one line"

# -j: JSON lines with the structured fields
timeout 20 "$Z" cli --home "$T/a" -j trace --count 1 >"$T/out" 2>&1
same "$?" 0 "cli -j trace exit"
same "$("$PY" -c 'import json,sys; j=json.loads(open(sys.argv[1]).readline()); print(j["code"], j["name"], j["nwid"], j["reason"], j["rule"], j["seq"])' "$T/out" 2>&1)" \
  "9000 NETWORK_JOINED $NWID joined -1 1" "cli -j trace fields"

# --seconds: follows, then stops by itself (exit 0)
start=$(date +%s)
timeout 20 "$Z" cli --home "$T/a" trace --seconds 2 >"$T/out" 2>&1
same "$?" 0 "cli trace --seconds exit"
el=$(( $(date +%s) - start ))
[ "$el" -ge 1 ] && [ "$el" -le 10 ] && ok || fail "cli trace --seconds 2 took ${el}s"
has "$T/out" "TRACE 9000" "cli trace --seconds prints what is in the log"

# usage errors
"$Z" cli --home "$T/a" trace extra >/dev/null 2>&1; same "$?" 2 "cli trace with an argument"
"$Z" cli --home "$T/a" trace --count x >/dev/null 2>&1; same "$?" 2 "cli trace --count x"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
