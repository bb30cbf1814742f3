#!/usr/bin/env bash
# CLI contract test for `ztcore identity` against the reference vectors.
# usage: identity.sh ZTCORE_BINARY VECTORS_DIR   (exit non-zero on failure)
set -u
Z=${1:?usage: identity.sh ZTCORE VECTORS_DIR}
V=${2:?usage: identity.sh ZTCORE VECTORS_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
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
hex2file() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')" >"$2"; }

# identities.txt accessors: field LABEL KEY
field() {
  awk -v sec="[$1]" -v key="$2" '
    $0 == sec { in_sec = 1; next }
    /^\[/ { in_sec = 0 }
    in_sec && index($0, key " =") == 1 { v = substr($0, length(key) + 4); sub(/^ /, "", v); print v; exit }
  ' "$V/identities.txt"
}

# ---- help and usage -----------------------------------------------------------------------
expect 0 "identity --help" -- "$Z" identity --help
grep -q "usage: ztcore identity" "$T/out" && ok || fail "identity --help text"
for sub in generate validate public sign verify; do
  expect 0 "$sub --help" -- "$Z" identity "$sub" --help
  grep -q "usage: ztcore identity $sub" "$T/out" && ok || fail "$sub --help text"
done
expect 2 "no subcommand" -- "$Z" identity
expect 2 "unknown subcommand" -- "$Z" identity frobnicate
expect 2 "validate without ID" -- "$Z" identity validate
expect 2 "validate with two IDs" -- "$Z" identity validate a b
expect 2 "public without ID" -- "$Z" identity public
expect 2 "sign with one arg" -- "$Z" identity sign "$V/root.identity.secret"
expect 2 "verify with two args" -- "$Z" identity verify "$V/root.identity.public" "$T/x"
expect 2 "generate with three args" -- "$Z" identity generate "$T/a" "$T/b" "$T/c"

# ---- validate / public on the vector files and literal strings ----------------------------
for f in root controller nodea nodeb; do
  for kind in public secret; do
    file="$V/$f.identity.$kind"
    addr=$(head -c 10 "$file")
    expect 0 "validate $f.$kind" -- "$Z" identity validate "$file"
    same "$(cat "$T/out")" "$addr" "validate $f.$kind prints the address"
  done
  expect 0 "public $f" -- "$Z" identity public "$V/$f.identity.secret"
  same "$(cat "$T/out")" "$(cat "$V/$f.identity.public")" "public of $f.secret"
done
for label in root ctrl nodea nodeb extra1 extra2 extra3 extra4 extra5 extra6; do
  addr=$(field "$label" address)
  secret=$(field "$label" secret)
  public=$(field "$label" public)
  [ -n "$addr" ] && [ -n "$secret" ] && ok || fail "identities.txt: $label missing"
  expect 0 "validate literal $label public" -- "$Z" identity validate "$public"
  same "$(cat "$T/out")" "$addr" "validate literal $label"
  expect 0 "validate literal $label secret" -- "$Z" identity validate "$secret"
  same "$(cat "$T/out")" "$addr" "validate literal $label secret"
  expect 0 "public literal $label" -- "$Z" identity public "$secret"
  same "$(cat "$T/out")" "$public" "public of literal $label"
  # The private key never appears outside `generate`.
  priv=${secret##*:}
  if grep -q "$priv" "$T/out" "$T/err"; then fail "public leaked the private key ($label)"; else ok; fi
done

# ---- invalid identities: exit 1, reason on stderr -----------------------------------------
pub=$(field nodea public)
body=${pub:13}
first=${body:0:1}
flipped_first=$(printf '%x' $(( 0x$first ^ 1 )))
expect 1 "validate one flipped public-key bit" -- "$Z" identity validate "${pub:0:13}${flipped_first}${body:1}"
[ -s "$T/err" ] && ok || fail "flipped bit: no reason on stderr"
[ -s "$T/out" ] && fail "flipped bit: printed something on stdout" || ok
last=${body:127:1}
flipped_last=$(printf '%x' $(( 0x$last ^ 8 )))
expect 1 "validate flipped last public-key bit" -- "$Z" identity validate "${pub:0:13}${body:0:127}${flipped_last}"
expect 1 "validate wrong address" -- "$Z" identity validate "8fec3e8ae5${pub:10}"
expect 1 "validate type 1" -- "$Z" identity validate "8fec3e8ae4:1:$body"
expect 1 "validate reserved address" -- "$Z" identity validate "0000000000:0:$body"
expect 1 "validate bad hex" -- "$Z" identity validate "8fec3e8ae4:0:${body:0:127}g"
expect 1 "validate short key" -- "$Z" identity validate "8fec3e8ae4:0:${body:0:126}"
expect 1 "validate missing file" -- "$Z" identity validate "$T/does-not-exist"
printf 'not an identity\n' >"$T/garbage"
expect 1 "validate garbage file" -- "$Z" identity validate "$T/garbage"
[ -s "$T/err" ] && ok || fail "garbage file: no reason on stderr"
# Secret whose private key belongs to another identity.
mixed="$(field nodeb public):$(field nodea secret | sed 's/.*://')"
expect 1 "validate mismatched private key" -- "$Z" identity validate "$mixed"
if grep -q "$(field nodea secret | sed 's/.*://')" "$T/err"; then fail "error echoed the private key"; else ok; fi

# ---- sign / verify: reproduce the idtool signatures byte for byte -------------------------
nsig=0
while IFS= read -r section; do
  label=$(printf '%s' "$section" | awk '{print $2}')
  msg=$(printf '%s' "$section" | awk '{print $3}')
  name="sign $label $msg"
  msghex=$(field "$name" message_hex)
  want=$(field "$name" signature)
  hex2file "$msghex" "$T/$label.$msg.bin"
  same "$(wc -c <"$T/$label.$msg.bin" | tr -d ' ')" "$(( ${#msghex} / 2 ))" "$name: message length"
  # Sign with the secret as a file and as a literal string.
  printf '%s' "$(field "$label" secret)" >"$T/$label.secret"
  expect 0 "$name: sign (file)" -- "$Z" identity sign "$T/$label.secret" "$T/$label.$msg.bin"
  same "$(cat "$T/out")" "$want" "$name: signature bytes"
  expect 0 "$name: sign (literal)" -- "$Z" identity sign "$(field "$label" secret)" "$T/$label.$msg.bin"
  same "$(cat "$T/out")" "$want" "$name: signature bytes (literal)"
  expect 0 "$name: verify with public" -- "$Z" identity verify "$(field "$label" public)" "$T/$label.$msg.bin" "$want"
  # Tampered signature: flip a hex digit in the Ed25519 half, and in the digest half.
  t1="$(printf '%x' $(( 0x${want:0:1} ^ 1 )))${want:1}"
  expect 1 "$name: verify tampered (R)" -- "$Z" identity verify "$(field "$label" public)" "$T/$label.$msg.bin" "$t1"
  t2="${want:0:150}$(printf '%x' $(( 0x${want:150:1} ^ 4 )))${want:151}"
  expect 1 "$name: verify tampered (digest)" -- "$Z" identity verify "$(field "$label" public)" "$T/$label.$msg.bin" "$t2"
  other=nodea; [ "$label" = nodea ] && other=root
  expect 1 "$name: verify wrong identity" -- "$Z" identity verify "$(field "$other" public)" "$T/$label.$msg.bin" "$want"
  expect 1 "$name: verify short signature" -- "$Z" identity verify "$(field "$label" public)" "$T/$label.$msg.bin" "${want:0:190}"
  expect 1 "$name: verify non-hex signature" -- "$Z" identity verify "$(field "$label" public)" "$T/$label.$msg.bin" "zz${want:2}"
  nsig=$((nsig + 1))
done < <(grep -o '^\[sign [a-z0-9]* [a-z0-9]*\]' "$V/identities.txt" | tr -d '[]')
same "$nsig" 6 "number of idtool signatures checked"
expect 1 "sign with a public identity" -- "$Z" identity sign "$V/root.identity.public" "$T/root.msg1.bin"
expect 1 "sign a missing message file" -- "$Z" identity sign "$V/root.identity.secret" "$T/nope"
expect 1 "verify a missing message file" -- "$Z" identity verify "$V/root.identity.public" "$T/nope" "$(field 'sign root msg1' signature)"

# ---- generate -----------------------------------------------------------------------------
expect 0 "generate to stdout" -- "$Z" identity generate
gen=$(cat "$T/out")
IFS=: read -r gaddr gtype gpub gpriv <<<"$gen"
same "${#gaddr}:${gtype}:${#gpub}:${#gpriv}" "10:0:128:128" "generated secret form"
expect 0 "validate generated" -- "$Z" identity validate "$gen"
same "$(cat "$T/out")" "$gaddr" "generated address"

printf 'old contents, world readable\n' >"$T/id.secret"
chmod 0644 "$T/id.secret"
expect 0 "generate to files" -- "$Z" identity generate "$T/id.secret" "$T/id.public"
gaddr=$(cat "$T/out")
same "${#gaddr}" 10 "generate prints the address"
same "$(stat -c %a "$T/id.secret")" 600 "secret file mode (pre-existing file)"
same "$(head -c 10 "$T/id.secret")" "$gaddr" "secret file address"
if grep -q "$(cut -d: -f4 "$T/id.secret")" "$T/out" "$T/err"; then fail "generate to files printed the secret"; else ok; fi
expect 0 "validate generated secret file" -- "$Z" identity validate "$T/id.secret"
expect 0 "public of generated" -- "$Z" identity public "$T/id.secret"
same "$(cat "$T/out")" "$(cat "$T/id.public")" "generated public file"
expect 0 "generate secret file only" -- "$Z" identity generate "$T/id2.secret"
same "$(stat -c %a "$T/id2.secret")" 600 "secret file mode (new file)"
[ -e "$T/id2.public" ] && fail "generate wrote an unrequested public file" || ok
# Sign and verify with the fresh identity.
printf 'fresh\n' >"$T/fresh.msg"
expect 0 "sign with generated" -- "$Z" identity sign "$T/id.secret" "$T/fresh.msg"
fsig=$(cat "$T/out")
same "${#fsig}" 192 "signature hex length"
expect 0 "verify with generated public" -- "$Z" identity verify "$T/id.public" "$T/fresh.msg" "$fsig"
expect 1 "generate into a missing directory" -- "$Z" identity generate "$T/missing/dir/id.secret"

echo "identity.sh: $checks checks, $fails failed"
[ "$fails" = 0 ]
