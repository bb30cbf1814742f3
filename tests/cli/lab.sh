#!/usr/bin/env bash
# The one-command lab: root + controller + members on 127.0.0.1, broadcast ping, unicast pongs.
# $1 = ztcore binary. Runs with 3 and with 50 members; checks the printed outcome.
set -euo pipefail
ZT=$1
run() {  # run the lab, print its whole output if it fails
  local rc=0
  out=$("$ZT" lab "$@" 2>&1) || rc=$?
  if [ $rc -ne 0 ]; then echo "$out"; echo "ztcore lab $* exited $rc"; exit 1; fi
}
run -n 3 --timeout 60
echo "$out"
grep -q '^\[lab\] OK: ping reached 2/2 nodes, 2/2 pongs reached n1' <<<"$out"
[ "$(grep -c 'received from .*"ping from ztid' <<<"$out")" -eq 2 ]
[ "$(grep -c 'n1   received from .*"pong from ztid' <<<"$out")" -eq 2 ]
run -n 50 --timeout 240
grep -q '^\[lab\] OK: ping reached 49/49 nodes, 49/49 pongs reached n1' <<<"$out" || { echo "$out"; exit 1; }
run -n 4 --timeout 60 --quiet
[ -z "$out" ] || { echo "--quiet printed: $out"; exit 1; }
# Bad input is a clear usage error.
if "$ZT" lab -n 1 2>/dev/null; then echo "lab -n 1 should fail"; exit 1; fi
echo "lab ok"
