#!/usr/bin/env bash
# `ztcore controller` contract: starts on 127.0.0.1, prints its address and API URL, serves
# the controller API with the token from HOME/authtoken.secret (401 without it), keeps its
# records in HOME/controller.db across restarts, and stops cleanly on SIGINT.
# Usage: controller.sh ZTCORE_BINARY VECTORS_DIR
set -euo pipefail
bin=$1
# curl is a test dependency (scripts/install-deps.sh): missing it is a failure, not a skip.
command -v curl >/dev/null || { echo "FAIL: curl not installed (run scripts/install-deps.sh)"; exit 1; }
home=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  rm -rf "$home"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$home/out" ] && cat "$home/out" "$home/err"; exit 1; }

start() {
  "$bin" controller --home "$home" --port 0 --bind 127.0.0.1 --http 127.0.0.1:0 --allow-loopback \
    >"$home/out" 2>"$home/err" &
  pid=$!
  for _ in $(seq 100); do grep -q '^api ' "$home/out" 2>/dev/null && break; sleep 0.1; done
  grep -q '^api ' "$home/out" || fail "no API line"
  addr=$(awk '/^controller /{print $2}' "$home/out")
  api=$(awk '/^api /{print $2}' "$home/out")
  [[ $addr =~ ^[0-9a-f]{10}$ ]] || fail "bad controller address '$addr'"
  [[ $api =~ ^http://127\.0\.0\.1:[0-9]+/controller$ ]] || fail "bad API URL '$api'"
}
stop() {
  kill -INT "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$pid" 2>/dev/null || fail "still running after SIGINT"
  wait "$pid" || fail "exit status $? after SIGINT"
  pid=
}

start
token=$(cat "$home/authtoken.secret")
[ "$(stat -c %a "$home/authtoken.secret")" = 600 ] || fail "token file mode"
code=$(curl -s -o /dev/null -w '%{http_code}' "$api")
[ "$code" = 401 ] || fail "no token: HTTP $code"
curl -sf -H "X-ZT1-Auth: $token" "$api" | grep -q '"controller": true' || fail "GET /controller"
created=$(curl -sf -X POST -H "X-ZT1-Auth: $token" -d '{"name":"clitest"}' "$api/network/${addr}______")
nwid=$(echo "$created" | sed -n 's/.*"id": "\([0-9a-f]\{16\}\)".*/\1/p' | head -1)
[[ $nwid == ${addr}* ]] || fail "created id '$nwid' does not start with $addr"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-ZT1-Auth: $token" -d '{"name":' "$api/network/$nwid")
[ "$code" = 400 ] || fail "malformed JSON: HTTP $code"
stop

start  # same home: same identity, same records
curl -sf -H "X-ZT1-Auth: $token" "$api/network/$nwid" | grep -q '"name": "clitest"' || fail "record lost on restart"
stop
echo "OK controller"
