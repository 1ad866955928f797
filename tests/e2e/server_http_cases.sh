#!/usr/bin/env bash
# Runs tests/e2e/data/http_cases.txt against a real estd with curl, then
# checks that the server still serves and that no refused request left a
# certificate in the store.
. "$E2E_LIB/server.sh"
DATA=$(cd "$(dirname "$0")/data" && pwd)
estd_init alice 'pw-good'
estd_start "$DIR"

# Inputs.
new_csr good /CN=device-1
base64 -w 64 "$T/good.der" > "$T/good.b64"
openssl req -inform DER -in "$T/good.der" -out "$T/good.pem"
python3 - "$T/good.der" "$T/badsig.der" <<'PY'
import sys; d = bytearray(open(sys.argv[1], 'rb').read()); d[-3] ^= 0x55
open(sys.argv[2], 'wb').write(d)
PY
base64 -w 64 "$T/badsig.der" > "$T/badsig.b64"
printf 'this is not base64 at all: %%$#@!\n' > "$T/garbage.txt"
head -c 70000 /dev/zero | base64 > "$T/big.b64"
openssl req -new -newkey rsa:1024 -nodes -keyout "$T/weak.key" -subj /CN=weak -outform DER \
  -out "$T/weak.der" 2>/dev/null
base64 "$T/weak.der" > "$T/weak.b64"
# openssl reads -config twice: it must be a real file, not a pipe.
printf '[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nCN=device-1\n[attrs]\nchallengePassword=%s\n' \
  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= > "$T/cb.cnf"
openssl req -new -key "$T/good.key" -config "$T/cb.cnf" -outform DER -out "$T/cb.der"
base64 "$T/cb.der" > "$T/cbmismatch.b64"
new_csr other /CN=someone-else
base64 "$T/other.der" > "$T/other.b64"
# good.der with other's key bits put in after signing (the signature is no
# longer by the key it names), and with a point off the curve (issue #19:
# the CSR's key is read without OpenSSL's decoders; both must still fail).
openssl pkey -in "$T/good.key" -pubout -outform DER -out "$T/good.spki"
openssl pkey -in "$T/other.key" -pubout -outform DER -out "$T/other.spki"
python3 - "$T/good.der" "$T/good.spki" "$T/other.spki" "$T/swapkey.der" "$T/offcurve.der" <<'PY'
import sys
d, a, b = (open(p, 'rb').read() for p in sys.argv[1:4])
assert d.count(a) == 1 and len(a) == len(b)
open(sys.argv[4], 'wb').write(d.replace(a, b))
off = bytearray(b); off[-1] ^= 0x01
open(sys.argv[5], 'wb').write(d.replace(a, bytes(off)))
PY
base64 "$T/swapkey.der" > "$T/swapkey.b64"
base64 "$T/offcurve.der" > "$T/offcurve.b64"

# A client certificate from this CA (enrolled with Basic) and a foreign one.
curl -sf --cacert "$CA" --user alice:pw-good -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/good.b64" "$URL/simpleenroll" -o "$T/client.p7" || fail "setup enroll"
p7_to_pem "$T/client.p7" "$T/client.pem"
cp "$T/good.key" "$T/client.key"
new_csr dup /CN=device-1
base64 "$T/dup.der" > "$T/dup.b64"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/foreign.key" \
  -subj /CN=device-1 -days 2 -out "$T/foreign.pem" 2>/dev/null
issued_before=$(store_count)

run_case() {
  local name=$1 method=$2 path=$3 auth=$4 body=$5 want=$6 regex=$7
  local args=(-s --cacert "$CA" -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method")
  case $auth in
    good) args+=(--user alice:pw-good) ;;
    bad) args+=(--user alice:wrong) ;;
    cert) args+=(--cert "$T/client.pem" --key "$T/client.key") ;;
    foreign) args+=(--cert "$T/foreign.pem" --key "$T/foreign.key") ;;
  esac
  if [ "$body" != - ]; then
    args+=(-H 'Content-Type: application/pkcs10' --data-binary @"$T/$body")
  elif [ "$method" = POST ]; then
    args+=(-H 'Content-Type: application/pkcs10' --data-binary '')
  fi
  local got
  got=$(curl "${args[@]}" "$URL$path") || true
  [[ $got =~ ^($want)$ ]] || fail "$name: status $got, want $want: $(head -c 300 "$T/body")"
  grep -Eq -- "$regex" "$T/body" || fail "$name: body does not match /$regex/: $(head -c 300 "$T/body")"
  grep -qi '^Content-Length:' "$T/headers" || fail "$name: no Content-Length"
  if [[ $got =~ ^[45] ]]; then
    grep -qi '^Content-Type: text/plain' "$T/headers" || fail "$name: error is not text/plain"
  fi
  if [ "$got" = 401 ]; then
    grep -qi '^WWW-Authenticate: ' "$T/headers" || fail "$name: 401 without WWW-Authenticate"
  fi
  pass "$name ($got)"
}

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }
while IFS='|' read -r name method path auth body want regex; do
  name=$(trim "$name")
  [ -z "$name" ] || [[ $name == \#* ]] && continue
  run_case "$name" "$(trim "$method")" "$(trim "$path")" "$(trim "$auth")" "$(trim "$body")" \
    "$(trim "$want")" "$(trim "$regex")"
done < "$DATA/http_cases.txt"

estd_alive
[ "$(store_count)" = "$issued_before" ] || fail "a refused request left a certificate in the store"
sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event IN ('reject','auth-fail')" | \
  grep -qv '^0$' || fail "refusals were not audited"
estd_stop
pass "all cases; server alive; store unchanged; SIGTERM exit 0"
