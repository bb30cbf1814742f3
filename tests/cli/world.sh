#!/usr/bin/env bash
# CLI contract test for `ztcore world` against the reference vectors.
# usage: world.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: world.sh ZTCORE VECTORS_DIR}
V=${2:?usage: world.sh ZTCORE VECTORS_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
fails=0
checks=0

ok()   { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
# expect CODE DESCRIPTION -- CMD...   (stdout -> $T/out, stderr -> $T/err)
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok; else fail "$what: exit $got, want $want ($(head -c 300 "$T/err"))"; fi
}
same() { if [ "$1" = "$2" ]; then ok; else fail "$3: got '$1', want '$2'"; fi; }
# jq-like field access on $T/out with a Python expression over `j`: jget 'j["roots"][0]["identity"]'
jget() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v) if not isinstance(v,str) else v)' "$T/out" "$1"; }

ROOT_PUB=$(tr -d '\r\n' <"$V/root.identity.public")

# ---- help and usage -----------------------------------------------------------------------
expect 0 "world --help" -- "$Z" world --help
grep -q "usage: ztcore world" "$T/out" && ok || fail "world --help text"
expect 0 "make --help" -- "$Z" world make --help
grep -q "usage: ztcore world make" "$T/out" && ok || fail "make --help text"
expect 0 "show --help" -- "$Z" world show --help
grep -q "usage: ztcore world show" "$T/out" && ok || fail "show --help text"
expect 2 "no subcommand" -- "$Z" world
expect 2 "unknown subcommand" -- "$Z" world frobnicate
expect 2 "show without file" -- "$Z" world show
expect 2 "make without --root" -- "$Z" world make --id 1 --signing-key "$V/planet_signing_keypair.c25519" "$T/w"
expect 2 "make without --id" -- "$Z" world make --signing-key "$V/planet_signing_keypair.c25519" --root "$V/root.identity.public" "$T/w"
expect 2 "make bad --type" -- "$Z" world make --type sun --id 1 --signing-key "$V/planet_signing_keypair.c25519" --root "$V/root.identity.public" "$T/w"

# ---- show: planet -------------------------------------------------------------------------
expect 0 "show planet" -- "$Z" world show "$V/planet"
same "$(jget 'j["type"]')" "planet" "planet type"
same "$(jget 'j["id"]')" "7777777" "planet id"
same "$(jget 'j["timestamp"]')" "1795605682582" "planet timestamp"
same "$(jget 'j["signatureValid"]')" "true" "planet signatureValid"
same "$(jget 'len(j["roots"])')" "1" "planet root count"
same "$(jget 'j["roots"][0]["identity"]')" "$ROOT_PUB" "planet root identity"
same "$(jget 'j["roots"][0]["stableEndpoints"]')" '["10.77.0.1/9993"]' "planet endpoints"
KEYHEX=$(head -c 64 "$V/planet_signing_keypair.c25519" | od -An -tx1 -v | tr -d ' \n')
same "$(jget 'j["updatesMustBeSignedBy"]')" "$KEYHEX" "planet update key = keypair public half"

# ---- show: moon ---------------------------------------------------------------------------
expect 0 "show moon" -- "$Z" world show "$V/moon_000000765ad94991.moon"
same "$(jget 'j["type"]')" "moon" "moon type"
same "$(jget 'j["idHex"]')" "000000765ad94991" "moon id"
same "$(jget 'j["signatureValid"]')" "true" "moon signatureValid"
same "$(jget 'j["roots"][0]["identity"]')" "$ROOT_PUB" "moon root identity"
MOON_KEY=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["updatesMustBeSignedBy"])' "$V/moon.json")
same "$(jget 'j["updatesMustBeSignedBy"]')" "$MOON_KEY" "moon update key"

# ---- make reproduces the vector planet byte for byte ----------------------------------------
expect 0 "make planet (secret identity file)" -- "$Z" world make --id 7777777 --timestamp 1795605682582 \
  --signing-key "$V/planet_signing_keypair.c25519" --root "$V/root.identity.secret=10.77.0.1/9993" "$T/planet"
cmp -s "$T/planet" "$V/planet" && ok || fail "made planet differs from vector"
expect 0 "make planet (public identity file, explicit type)" -- "$Z" world make --type planet --id 0x76adf1 \
  --timestamp 1795605682582 --signing-key "$V/planet_signing_keypair.c25519" \
  --root "$V/root.identity.public=10.77.0.1/9993" "$T/planet2"
cmp -s "$T/planet2" "$V/planet" && ok || fail "made planet (hex id) differs from vector"

# A moon with two roots and several endpoints round-trips through show.
expect 0 "make moon" -- "$Z" world make --type moon --id 0x765ad94991 --timestamp 42 \
  --signing-key "$V/planet_signing_keypair.c25519" \
  --root "$V/root.identity.public=10.77.0.1/9993,[fd00::1]/9993" --root "$V/controller.identity.public" "$T/moon"
expect 0 "show made moon" -- "$Z" world show "$T/moon"
same "$(jget 'j["type"]')" "moon" "made moon type"
same "$(jget 'j["timestamp"]')" "42" "made moon timestamp"
same "$(jget 'j["signatureValid"]')" "true" "made moon signatureValid"
same "$(jget 'j["roots"][0]["stableEndpoints"]')" '["10.77.0.1/9993", "fd00::1/9993"]' "made moon endpoints"
same "$(jget 'j["roots"][1]["stableEndpoints"]')" '[]' "made moon second root endpoints"

# ---- failures -----------------------------------------------------------------------------
head -c 100 "$V/planet" >"$T/short"
expect 1 "truncated world" -- "$Z" world show "$T/short"
expect 1 "not a world" -- "$Z" world show "$V/nodea.networkconfig.dict"
expect 1 "missing file" -- "$Z" world show "$T/nope"
# Flip a byte in the timestamp: parses, but the signature no longer verifies.
cp "$V/planet" "$T/tampered"
printf '\x00' | dd of="$T/tampered" bs=1 seek=16 conv=notrunc 2>/dev/null
expect 0 "show tampered" -- "$Z" world show "$T/tampered"
same "$(jget 'j["signatureValid"]')" "false" "tampered signatureValid"
head -c 100 "$V/planet_signing_keypair.c25519" >"$T/badkey"
expect 1 "bad signing key" -- "$Z" world make --id 1 --signing-key "$T/badkey" --root "$V/root.identity.public" "$T/w"
expect 1 "bad identity file" -- "$Z" world make --id 1 --signing-key "$V/planet_signing_keypair.c25519" --root "$V/planet=1.2.3.4/5" "$T/w"
expect 1 "bad endpoint" -- "$Z" world make --id 1 --signing-key "$V/planet_signing_keypair.c25519" --root "$V/root.identity.public=nonsense" "$T/w"

echo "world.sh: $checks checks, $fails failures"
[ "$fails" = 0 ]
