#!/usr/bin/env bash
# CLI contract test for `ztcore rules compile FILE` (docs/RULES.md): the docs' examples compile
# to the hand-checked JSON in tests/vectors/rules/, errors are FILE:LINE:COLUMN: message on
# stderr with exit 1 and nothing on stdout, usage errors exit 2.
# usage: rules.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: rules.sh ZTCORE VECTORS_DIR}
V=${2:?usage: rules.sh ZTCORE VECTORS_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
fails=0
checks=0
ok()   { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }

for ex in default caps_and_tags macros; do
  "$Z" rules compile "$V/rules/$ex.rules" >"$T/out" 2>"$T/err"
  same "$?" 0 "$ex: exit"
  same "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])))' \
          "$T/out" "$V/rules/$ex.json" 2>&1)" True "$ex: output equals the vector"
done

# stdin
"$Z" rules compile - <"$V/rules/default.rules" >"$T/out" 2>"$T/err"
same "$?" 0 "stdin: exit"
same "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])))' \
        "$T/out" "$V/rules/default.json" 2>&1)" True "stdin: output"

# An error: position and message on stderr, nothing on stdout.
printf 'accept;\ndrop\n  not ethertype ipv5\n;\n' >"$T/bad.rules"
"$Z" rules compile "$T/bad.rules" >"$T/out" 2>"$T/err"
same "$?" 1 "bad: exit"
same "$(cat "$T/err")" "$T/bad.rules:3:17: Invalid numeric value." "bad: stderr"
same "$(wc -c <"$T/out" | tr -d ' ')" 0 "bad: no stdout"

"$Z" rules compile "$T/nosuch.rules" >"$T/out" 2>"$T/err"
same "$?" 1 "missing file: exit"
"$Z" rules >"$T/out" 2>"$T/err"
same "$?" 2 "no subcommand: exit"
"$Z" rules compile a b >"$T/out" 2>"$T/err"
same "$?" 2 "two files: exit"
"$Z" rules --help >"$T/out" 2>"$T/err"
same "$?" 0 "help: exit"
grep -q "rules compile FILE" "$T/out" && ok || fail "help text"

echo "rules.sh: $((checks - fails))/$checks checks passed"
[ "$fails" = 0 ]
