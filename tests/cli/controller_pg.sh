#!/usr/bin/env bash
# Scale-out of `ztcore controller --db postgresql://...`: two controller processes A and B
# share one PostgreSQL database (a throwaway server, tests/support/pg_server.sh). A member
# node joins A's network; B's HTTP API authorizes it and A pushes the config: the node has
# it within a second (no new request from the node needed). Restarting A, then B, loses
# nothing: the records are in the database, and a change through B still reaches the node.
# Without a PostgreSQL server this FAILS (CI installs postgresql-15).
# Usage: controller_pg.sh ZTCORE_BINARY VECTORS_DIR
set -u
Z=${1:?usage: controller_pg.sh ZTCORE VECTORS_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d)
PGDIR=$(mktemp -d -u /tmp/ztpgcli-XXXXXX)
RPID= APID= BPID= MPID=
cleanup() {
  for p in $RPID $APID $BPID $MPID; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  bash "$HERE/../support/pg_server.sh" stop "$PGDIR" >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
die() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do echo "== $f"; tail -20 "$f"; done >&2; exit 1; }

free_port() {
  "$PY" - <<'PYEOF'
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
PYEOF
}
# api PORT TOKEN METHOD PATH [BODY] -> "status body"
api() {
  "$PY" - "$@" <<'PYEOF'
import sys, urllib.request, urllib.error
port, token, method, path = sys.argv[1:5]
body = sys.argv[5].encode() if len(sys.argv) > 5 else None
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), data=body, method=method)
req.add_header("X-ZT1-Auth", token)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode().replace("\n", " "))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().replace("\n", " "))
PYEOF
}

URL=$(bash "$HERE/../support/pg_server.sh" start "$PGDIR" $$) || die "cannot start a PostgreSQL server"

RP=$(free_port); AP=$(free_port); BP=$(free_port); MP=$(free_port); AH=$(free_port); BH=$(free_port); MH=$(free_port)
# The member's view of the network: "<name> <status>" from its local API.
net_state() { "$Z" cli --home "$T/m" listnetworks 2>/dev/null | awk -v n="$NWID" '$3 == n {print $4, $6}'; }
"$Z" root --home "$T/root" --port "$RP" --bind 127.0.0.1 --planet-out "$T/planet" >"$T/root.log" 2>&1 &
RPID=$!
for _ in $(seq 100); do [ -s "$T/planet" ] && break; sleep 0.1; done
[ -s "$T/planet" ] || die "no planet"

start_ctl() {  # start_ctl NAME UDPPORT HTTPPORT -> sets pid var
  local name=$1 port=$2 hport=$3
  "$Z" controller --home "$T/$name" --port "$port" --bind 127.0.0.1 --http "127.0.0.1:$hport" --allow-loopback \
    --planet "$T/planet" --db "$URL" >"$T/$name.log" 2>&1 &
  local p=$!
  for _ in $(seq 100); do grep -q '^api ' "$T/$name.log" 2>/dev/null && break; sleep 0.1; done
  grep -q '^api ' "$T/$name.log" || die "controller $name did not start"
  eval "${name^^}PID=$p"
}
stop_pid() {
  kill -INT "$1"
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$1" 2>/dev/null && die "pid $1 still running after SIGINT"
  wait "$1" || die "exit status $? after SIGINT"
}

start_ctl a "$AP" "$AH"
start_ctl b "$BP" "$BH"
A=$(awk '/^controller /{print $2}' "$T/a.log")
TA=$(cat "$T/a/authtoken.secret")
TB=$(cat "$T/b/authtoken.secret")

read -r code body < <(api "$AH" "$TA" POST "/controller/network/${A}______" '{"name":"pgnet","private":true}')
[ "$code" = 200 ] || die "create network on A: $code $body"
NWID=$(echo "$body" | sed -n 's/.*"id": "\([0-9a-f]\{16\}\)".*/\1/p' | head -1)
[[ $NWID == ${A}* ]] || die "bad nwid '$NWID'"
# B sees A's network (same database).
read -r code body < <(api "$BH" "$TB" GET "/controller/network/$NWID")
[ "$code" = 200 ] || die "B does not see A's network: $code"

# The member's identity first, so that B can authorize it before it ever asks. (Authorizing
# a member that is waiting unauthorized is not pushed, by the protocol: §10.1 step 9 keeps
# request metadata for authorized members only; such a member gets its config at its next
# request, <= 60 s. Every change to an authorized, online member is pushed at once.)
mkdir -p "$T/m" && chmod 700 "$T/m"
"$Z" identity generate "$T/m/identity.secret" "$T/m/identity.public" >/dev/null 2>&1 || die "identity generate"
M=$(head -c 10 "$T/m/identity.public")
read -r code body < <(api "$BH" "$TB" POST "/controller/network/$NWID/member/$M" '{"authorized":true}')
[ "$code" = 200 ] || die "authorize through B: $code $body"

"$Z" node --home "$T/m" --port "$MP" --bind 127.0.0.1 --planet "$T/planet" --join "$NWID" --api-port "$MH" >"$T/m.log" 2>&1 &
MPID=$!
got=
for _ in $(seq 300); do
  case "$(net_state)" in "pgnet OK") got=1; break ;; esac
  sleep 0.1
done
[ -n "$got" ] || die "member got no config from A (state: $(net_state))"

# A change through B reaches the member through A (NOTIFY -> push) within a second.
wait_state() {  # wait_state "NAME OK" -> ms taken (printed for the log, not asserted), or fail after 20 s
  local want=$1 t0 t1
  t0=$(date +%s%N)
  while :; do
    t1=$(date +%s%N)
    if [ "$(net_state)" = "$want" ]; then
      echo $(((t1 - t0) / 1000000))
      return 0
    fi
    [ $(((t1 - t0) / 1000000)) -lt 20000 ] || return 1
    sleep 0.005
  done
}
read -r code body < <(api "$BH" "$TB" POST "/controller/network/$NWID" '{"name":"viab"}')
[ "$code" = 200 ] || die "rename through B: $code $body"
ms=$(wait_state "viab OK") || die "the change through B did not reach the member (state: $(net_state))"
echo "config reached the member ${ms} ms after B's write"

# Restart B: a change through the new B still reaches the member through A.
stop_pid "$BPID"; BPID=
start_ctl b "$BP" "$BH"
read -r code body < <(api "$BH" "$TB" GET "/controller/network/$NWID")
[ "$code" = 200 ] && echo "$body" | grep -q '"name": "viab"' || die "network lost after B restart: $code $body"
read -r code body < <(api "$BH" "$TB" POST "/controller/network/$NWID" '{"name":"renamed"}')
[ "$code" = 200 ] || die "rename through B: $code $body"
ms=$(wait_state "renamed OK") || die "the rename through the restarted B did not reach the member"
echo "config reached the member ${ms} ms after the restarted B's write"

# Restart A: the records are all there, and the member keeps its config.
stop_pid "$APID"; APID=
start_ctl a "$AP" "$AH"
read -r code body < <(api "$AH" "$TA" GET "/controller/network/$NWID/member/$M")
[ "$code" = 200 ] && echo "$body" | grep -q '"authorized": true' || die "member record lost after A restart: $code $body"
read -r code body < <(api "$AH" "$TA" GET "/controller/network/$NWID")
echo "$body" | grep -q '"name": "renamed"' || die "network change lost after A restart: $body"
case "$(net_state)" in "renamed OK") ;; *) die "member lost its config: $(net_state)" ;; esac
# The restarted A knows its online members again (member_status, written in batches every
# 5 s; the member asked long enough ago) and pushes a change through B at once.
sleep 1.5
read -r code body < <(api "$BH" "$TB" POST "/controller/network/$NWID" '{"name":"afterrestart"}')
[ "$code" = 200 ] || die "rename through B after A's restart: $code $body"
ms=$(wait_state "afterrestart OK") || die "the change through B did not reach the member after A restarted"
echo "config reached the member ${ms} ms after B's write, A restarted"
echo "OK controller_pg"
