#!/usr/bin/env bash
# /fullcmc end to end (draft-04 §4.3, RFC 7030 §4.3): Full PKI Requests
# built with libestkit (the unit test binary tests/unit_lib_cmc doubles as
# the driver), posted with curl, answered by a real estd; the answers are
# checked by the library (status, fail info, echoed ids) and by openssl
# (the CA's signature, content type). Enroll in both dialects, revocation
# by the certificate's own key and by an RA, refusal of strangers, and the
# revoked certificates in `estd crl`. Malformed requests: garbage (400
# text), a bad signature (badMessageCheck), an unknown control, CRMF and a
# wrong content type (badRequest).
. "$E2E_LIB/server.sh"
CMC=$(dirname "$ESTD")/tests/unit_lib_cmc
[ -x "$CMC" ] || fail "needs $CMC (build target unit_lib_cmc)"
estd_init estuser 'estpwd'
estd_start "$DIR"

post_cmc() { # DER_FILE PATH [encoding: b64|pem|der] -> http code; $T/h, $T/body, $T/resp.der
  local in=$1 path=$2 enc=${3:-b64}
  case $enc in
    b64) base64 "$in" > "$T/req.body" ;;
    pem) { echo '-----BEGIN PKCS7-----'; base64 "$in"; echo '-----END PKCS7-----'; } > "$T/req.body" ;;
    der) cp "$in" "$T/req.body" ;;
  esac
  local code
  code=$(curl -s --cacert "$CA" --user estuser:estpwd -H 'Content-Type: application/pkcs7-mime' \
    --data-binary @"$T/req.body" "$URL/$path" -D "$T/h" -o "$T/body" -w '%{http_code}')
  rm -f "$T/resp.der"
  if grep -q 'BEGIN PKCS7' "$T/body"; then
    openssl base64 -d -in <(sed '/-----/d' "$T/body") -out "$T/resp.der"
  elif grep -qi '^Content-Type: application/pkcs7-mime' "$T/h"; then
    base64 -d "$T/body" > "$T/resp.der"
  fi
  echo "$code"
}

# --- enroll, RFC 7030 dialect: the CSR's key signs (no certificate yet) ---
new_csr c1 /CN=cmc-device-1 -addext "subjectAltName=DNS:cmc1.example"
"$CMC" enroll "$T/c1.key" "$T/c1.der" "$T/c1.req" "$T/c1.ids" || fail "building the request"
[ "$(post_cmc "$T/c1.req" fullcmc)" = 200 ] || fail "fullcmc enroll: $(cat "$T/body")"
grep -q $'^Content-Type: application/pkcs7-mime; smime-type=CMC-response\r$' "$T/h" || fail "RFC type: $(cat "$T/h")"
grep -q $'^Content-Transfer-Encoding: base64\r$' "$T/h" || fail "no CTE base64"
grep -q BEGIN "$T/body" && fail "RFC body armoured"
out=$("$CMC" response "$T/resp.der" "$CA" "$T/c1.ids" "$T/c1.key" "$T/c1.pem") || fail "response rejected: $out"
[[ $out == "status=success fail=none"* ]] || fail "status: $out"
openssl cms -verify -inform DER -in "$T/resp.der" -CAfile "$CA" -purpose any -binary -out /dev/null 2>/dev/null \
  || fail "openssl does not verify the CA's signature on the response"
openssl cms -cmsout -print -inform DER -in "$T/resp.der" | grep -q 'eContentType: id-cct-PKIResponse' \
  || fail "content type is not id-cct-PKIResponse"
openssl verify -CAfile "$CA" "$T/c1.pem" >/dev/null || fail "issued certificate does not verify"
openssl x509 -in "$T/c1.pem" -noout -ext subjectAltName | grep -q 'DNS:cmc1.example' || fail "SAN lost"
serial1=$(openssl x509 -in "$T/c1.pem" -noout -serial | cut -d= -f2)
[ "$(sqlite3 "$DIR/estd.db" "SELECT operation FROM certs WHERE serial='$serial1'")" = fullcmc ] || fail "not recorded as fullcmc"
pass "fullcmc enroll, RFC 7030 dialect (signed by the CSR key; ids echoed; CA-signed PKIResponse)"

# --- enroll, draft dialect, PEM request body ---
new_csr c2 /CN=cmc-device-2
"$CMC" enroll "$T/c2.key" "$T/c2.der" "$T/c2.req" "$T/c2.ids"
[ "$(post_cmc "$T/c2.req" fullCMC pem)" = 200 ] || fail "fullCMC draft: $(cat "$T/body")"
grep -q $'^Content-Type: application/pkcs7-mime\r$' "$T/h" || fail "draft type: $(cat "$T/h")"
grep -q -- '-----BEGIN PKCS7-----' "$T/body" || fail "draft body not PEM"
out=$("$CMC" response "$T/resp.der" "$CA" "$T/c2.ids" "$T/c2.key" "$T/c2.pem") || fail "draft response: $out"
pass "fullCMC enroll, draft dialect (PEM armour)"

# --- revoke with the certificate's own key ---
"$CMC" revoke "$T/c1.pem" "$T/c1.pem" "$T/c1.key" 1 "$T/r1.req" "$T/r1.ids"
[ "$(post_cmc "$T/r1.req" fullcmc der)" = 200 ] || fail "self revoke: $(cat "$T/body")"
out=$("$CMC" response "$T/resp.der" "$CA" "$T/r1.ids") || fail "revoke response: $out"
[[ $out == "status=success"* ]] || fail "revoke status: $out"
[ "$(sqlite3 "$DIR/estd.db" "SELECT status FROM certs WHERE serial='$serial1'")" = 1 ] || fail "not revoked in the store"
"$ESTD" crl "$DIR" -o "$T/crl.pem" >/dev/null
openssl crl -in "$T/crl.pem" -noout -text > "$T/crl.txt"
grep -q "Serial Number: $serial1" "$T/crl.txt" || fail "revoked serial not in the CRL: $(cat "$T/crl.txt")"
grep -A4 "Serial Number: $serial1" "$T/crl.txt" | grep -q 'Key Compromise' || fail "reason not keyCompromise: $(cat "$T/crl.txt")"
pass "revokeRequest signed by the certificate's own key; in estd crl with its reason"

# revoking it again: badCertId
"$CMC" revoke "$T/c1.pem" "$T/c1.pem" "$T/c1.key" 1 "$T/r1b.req" "$T/r1b.ids"
code=$(post_cmc "$T/r1b.req" fullcmc)
out=$("$CMC" response "$T/resp.der" "$CA" "$T/r1b.ids" || true)
[[ $code =~ ^4 ]] || fail "second revoke answered $code"
[[ $out == "status=failed fail="* ]] || fail "second revoke: $out"
pass "revoking it again (its key's certificate now revoked) refused: $code, $out"

# --- a stranger's certificate may not revoke someone else's ---
new_csr c3 /CN=cmc-device-3
"$CMC" enroll "$T/c3.key" "$T/c3.der" "$T/c3.req" "$T/c3.ids"
[ "$(post_cmc "$T/c3.req" fullcmc)" = 200 ] || fail "enroll c3"
"$CMC" response "$T/resp.der" "$CA" "$T/c3.ids" "$T/c3.key" "$T/c3.pem" >/dev/null
"$CMC" revoke "$T/c2.pem" "$T/c3.pem" "$T/c3.key" 0 "$T/r3.req" "$T/r3.ids"
[ "$(post_cmc "$T/r3.req" fullcmc)" = 403 ] || fail "stranger revoke not 403: $(cat "$T/h")"
out=$("$CMC" response "$T/resp.der" "$CA" "$T/r3.ids")
[[ $out == "status=failed fail=badRequest"* ]] || fail "stranger revoke: $out"
serial2=$(openssl x509 -in "$T/c2.pem" -noout -serial | cut -d= -f2)
[ "$(sqlite3 "$DIR/estd.db" "SELECT status FROM certs WHERE serial='$serial2'")" = 0 ] || fail "stranger revoked it"
pass "a stranger's revokeRequest refused (403, badRequest); the certificate stays valid"

# --- an RA (id-kp-cmcRA, issued by this CA) revokes and enrolls for others ---
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ra.key" \
  -subj /CN=cmc-ra -out "$T/ra.csr" 2>/dev/null
openssl x509 -req -in "$T/ra.csr" -CA "$CA" -CAkey "$DIR/ca/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf 'extendedKeyUsage=cmcRA,clientAuth\nsubjectKeyIdentifier=hash\n') \
  -out "$T/ra.pem" 2>/dev/null || fail "making the RA certificate"
"$CMC" revoke "$T/c2.pem" "$T/ra.pem" "$T/ra.key" 4 "$T/r4.req" "$T/r4.ids"
[ "$(post_cmc "$T/r4.req" fullcmc)" = 200 ] || fail "RA revoke: $(cat "$T/body")"
"$CMC" response "$T/resp.der" "$CA" "$T/r4.ids" >/dev/null || fail "RA revoke response"
[ "$(sqlite3 "$DIR/estd.db" "SELECT status FROM certs WHERE serial='$serial2'")" = 1 ] || fail "RA revoke not done"
new_csr c4 /CN=cmc-device-4
"$CMC" enroll "$T/c4.key" "$T/c4.der" "$T/c4.req" "$T/c4.ids" "$T/ra.pem" "$T/ra.key"
[ "$(post_cmc "$T/c4.req" fullcmc)" = 200 ] || fail "RA enroll: $(cat "$T/body")"
"$CMC" response "$T/resp.der" "$CA" "$T/c4.ids" "$T/c4.key" "$T/c4.pem" >/dev/null || fail "RA enroll response"
openssl x509 -in "$T/c4.pem" -noout -subject | grep -q cmc-device-4 || fail "RA enroll subject"
"$ESTD" crl "$DIR" -o "$T/crl.pem" >/dev/null
openssl crl -in "$T/crl.pem" -noout -text | grep -A4 "Serial Number: $serial2" | grep -q 'Superseded' \
  || fail "RA-revoked serial not in the CRL as superseded"
pass "RA revokes (superseded, in the CRL) and enrolls on behalf of a device"

# --- malformed requests ---
printf 'this is not CMS' > "$T/junk"
[ "$(post_cmc "$T/junk" fullcmc der)" = 400 ] || fail "garbage not 400"
grep -qi '^Content-Type: text/plain' "$T/h" || fail "garbage answered without text/plain"
grep -q 'not a valid Full PKI Request' "$T/body" || fail "garbage reason: $(cat "$T/body")"
pass "garbage: 400 text/plain with a reason"

new_csr c5 /CN=cmc-device-5
"$CMC" enroll "$T/c5.key" "$T/c5.der" "$T/c5.req" "$T/c5.ids"
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-1] ^= 1; open(sys.argv[1], "wb").write(d)' "$T/c5.req"
[ "$(post_cmc "$T/c5.req" fullcmc)" = 400 ] || fail "bad signature not 400"
out=$("$CMC" response "$T/resp.der" "$CA" "$T/c5.ids") || fail "bad signature response: $out"
[[ $out == "status=failed fail=badMessageCheck"* ]] || fail "bad signature: $out"
pass "bad signature: 400 with failInfo badMessageCheck, ids echoed"

for kind in unknown-control crmf wrong-content-type; do
  "$CMC" odd "$kind" "$T/c5.key" "$T/c5.der" "$T/odd.req" "$T/odd.ids" || fail "building $kind"
  ids=$T/odd.ids
  [ "$kind" = wrong-content-type ] && ids=-
  [ "$(post_cmc "$T/odd.req" fullcmc)" = 400 ] || fail "$kind not 400: $(cat "$T/h")"
  out=$("$CMC" response "$T/resp.der" "$CA" "$ids") || fail "$kind response: $out"
  [[ $out == "status=failed fail=badRequest"* ]] || fail "$kind: $out"
  echo "  $kind: $out"
done
pass "unknown control, CRMF, wrong content type: 400 with failInfo badRequest"

[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM certs WHERE subject='CN=cmc-device-5'")" = 0 ] \
  || fail "a refused request issued a certificate"
estd_alive
estd_stop
