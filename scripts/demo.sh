#!/usr/bin/env bash
# The main job until the local lab lands: show what ztcore reads from the reference vectors.
set -euo pipefail
ZT=$1
V="$(cd "$(dirname "$0")/.." && pwd)/tests/vectors"
echo "== identity validate (root)"; "$ZT" identity validate "$V/root.identity.public"
echo "== world show planet"; "$ZT" world show "$V/planet"
echo "== netconf show nodea.networkconfig.dict"; "$ZT" netconf show "$V/nodea.networkconfig.dict"
echo "== wire decode session.pcap (first 12 datagrams)"
"$ZT" wire decode --identity "$V/root.identity.secret" --identity "$V/controller.identity.secret" \
  --identity "$V/nodea.identity.secret" --identity "$V/nodeb.identity.secret" "$V/session.pcap" | head -12
