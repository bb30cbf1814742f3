#!/usr/bin/env bash
# `ztcore lab --tcp`: every member runs the IP stack; n1 serves TCP 7000, every other node
# connects to n1's IPv4 address, sends its ztid and gets "hello <ztid> from <n1 ztid>".
# $1 = ztcore binary. Checks the printed outcome and that a node's answer names that node.
set -euo pipefail
ZT=$1
rc=0
out=$("$ZT" lab -n 5 --tcp --timeout 60 2>&1) || rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "ztcore lab --tcp exited $rc"; exit 1; }
grep -q '^\[lab\] OK: ping reached 4/4 nodes, 4/4 pongs reached n1' <<<"$out"
grep -q '^\[lab\] tcp OK: 4/4 nodes got their answer' <<<"$out"
n1=$(awk '$1 == "n1" {print $2}' <<<"$out")
[ -n "$n1" ]
# Each answering line: "nK connect X ms round trip Y ms "hello <nK ztid> from <n1 ztid>"".
for k in 2 3 4 5; do
  id=$(awk -v n="n$k" '$1 == n && NF >= 4 {print $2; exit}' <<<"$out")
  grep -q "^  n$k .*connect .* ms  round trip .* ms  \"hello $id from $n1\"" <<<"$out" \
    || { echo "no answer line for n$k ($id)"; exit 1; }
done
# Without the stack, --tcp is a usage error.
if "$ZT" lab -n 2 --tcp --no-stack --timeout 30 >/dev/null 2>&1; then echo "--tcp --no-stack should fail"; exit 1; fi
echo "lab tcp ok"
