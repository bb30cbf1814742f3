#!/usr/bin/env bash
# `ztcore bench`: smoke test only (no thresholds; the numbers live in docs/PERFORMANCE.md).
# Each benchmark runs briefly on 127.0.0.1 and must print one JSON object with the expected
# keys and sane, non-negative values. $1 = ztcore binary.
set -euo pipefail
ZT=$1
run() {  # run a benchmark; print its stderr if it fails; JSON (stdout) in $out
  local rc=0 err
  err=$(mktemp)
  out=$("$ZT" bench "$@" 2>"$err") || rc=$?
  if [ $rc -ne 0 ]; then cat "$err"; echo "$out"; echo "ztcore bench $* exited $rc"; rm -f "$err"; exit 1; fi
  rm -f "$err"
  echo "bench $*: $out"
}
# check KEY... : every key present; numbers non-negative; {median,max} objects ordered.
check() {
  python3 - "$out" "$@" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
assert isinstance(d, dict), "not a JSON object"
for k in sys.argv[2:]:
    assert k in d, f"missing key {k}"
    v = d[k]
    if isinstance(v, dict):
        assert v["median"] is not None and v["max"] is not None, f"{k}: no samples"
        assert 0 <= v["median"] <= v["max"], f"{k}: {v}"
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        assert v >= 0, f"{k} = {v} is negative"
EOF
}

run frames --seconds 1
check frames_per_s gbit_per_s limit_frames_per_s limit_gbit_per_s ratio loss size seconds cipher
python3 - "$out" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
assert d["size"] == 1400 and d["cipher"] == "AES-GMAC-SIV", d
assert d["frames_per_s"] > 0 and d["limit_frames_per_s"] > 0 and d["ratio"] > 0, d
assert d["loss"] <= d["sent"], d
EOF
run frames --seconds 0.5 --size 200
check frames_per_s ratio loss size
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["size"]==200 and d["wire_datagrams_per_frame"]==[d["packet_bytes"]], d' "$out"

run join -n 3
check members join_ms join_all_at_once_ms configs_ok
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["members"]==3 and d["configs_ok"]==6, d' "$out"

run online -n 5 --idle 5
check nodes online_ms hello_rtt_ms idle_nodes rss_per_node_kib online
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["online"]==5 and d["idle_online"]==5, d' "$out"

run rules --seconds 0.05
check load_1min_before cases
python3 - "$out" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
got = sorted((c["rules"], c["direction"]) for c in d["cases"])
assert got == sorted((n, w) for n in (0, 10, 100) for w in ("outbound", "inbound")), got
for c in d["cases"]:
    assert c["ns_per_frame"] > 0 and c["frames"] > 0, c
    assert c["verdict"] == ("drop" if c["rules"] == 0 else "accept"), c  # the last rule decides
EOF

# Help works; bad arguments are usage errors (exit 2).
"$ZT" bench --help | grep -q 'ztcore bench frames'
"$ZT" --help | grep -q 'bench'
for bad in "" "nosuch" "frames --size 0" "frames --size 99999" "frames --seconds 0" "frames --seconds x" \
           "frames --bogus" "join -n 0" "join -n" "online -n 0" "online --idle x" "rules --seconds 0" "rules --bogus"; do
  rc=0
  # shellcheck disable=SC2086
  "$ZT" bench $bad >/dev/null 2>&1 || rc=$?
  [ $rc -eq 2 ] || { echo "ztcore bench $bad: exit $rc, expected 2"; exit 1; }
done
echo "bench ok"
