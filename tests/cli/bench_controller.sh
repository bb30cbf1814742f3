#!/usr/bin/env bash
# `ztcore bench controller`: smoke test (no thresholds; numbers in docs/PERFORMANCE.md). Runs
# briefly on SQLite and on a throwaway PostgreSQL server (tests/support/pg_server.sh; FAILS
# without one: CI installs postgresql-15) and checks the JSON: one result per backend with
# sane values, the indexed config path faster than copying every member record.
# Usage: bench_controller.sh ZTCORE_BINARY VECTORS_DIR
set -euo pipefail
ZT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PGDIR=$(mktemp -d -u /tmp/ztpgbench-XXXXXX)
trap 'bash "$HERE/../support/pg_server.sh" stop "$PGDIR" >/dev/null 2>&1 || true' EXIT
URL=$(bash "$HERE/../support/pg_server.sh" start "$PGDIR" $$) || { echo "FAIL: no PostgreSQL server"; exit 1; }
err=$(mktemp)
out=$("$ZT" bench controller -n 2000 --seconds 0.5 --samples 5 --db "" --db "$URL" 2>"$err") ||
  { cat "$err"; echo "$out"; echo "FAIL: bench controller exited nonzero"; rm -f "$err"; exit 1; }
rm -f "$err"
echo "bench controller: $out"
python3 - "$out" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
assert d["members"] == 2000, d
r = d["results"]
assert [x["backend"] for x in r] == ["sqlite", "postgresql"], r
for x in r:
    assert "error" not in x, x
    assert x["requests_per_s"] > 0 and x["requests_per_s_members_of"] >= 0, x
    assert x["requests_per_s"] > x["requests_per_s_members_of"], x
    c = x["change_to_config_ms"]
    assert x["change_samples"] == 5 and 0 <= c["median"] <= c["max"], x
for x in r:
    for k in ("loop_direct", "loop_thread"):
        l = x[k]
        assert l["requests_per_s"] > 0 and l["probes"] > 0 and l["loop_us_per_request"] > 0, (k, x)
        assert 0 <= l["loop_wait_ms"]["median"] <= l["loop_wait_ms"]["max"], (k, x)
n = r[1]["notify_to_config_ms"]
assert r[1]["notify_samples"] == 5 and 0 <= n["median"] <= n["max"], r[1]
PYEOF
echo "OK bench_controller"
