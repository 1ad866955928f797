#!/usr/bin/env bash
# /serverkeygen end to end with curl and openssl as the client
# (draft-04 §4.4, RFC 7030 §4.4): off by default (501 with a reason); both
# dialects' multipart/mixed (the key matches the certificate, the CSR's own
# key is ignored); the certificate in the store as "serverkeygen"; the key
# encrypted for a pre-shared key (openssl cms -decrypt -secretkey) and for
# the TLS client certificate (openssl cms -decrypt -recip); an unknown
# DecryptKeyIdentifier, a wrong AsymmetricDecryptKeyIdentifier and
# require-encryption refused with 400.
. "$E2E_LIB/server.sh"
# The unit test binary doubles as the CSR writer for the key identifier
# attributes (openssl req cannot write an OCTET STRING attribute).
KP_TOOL=$(dirname "$ESTD")/tests/unit_lib_key_package
[ -x "$KP_TOOL" ] || fail "needs $KP_TOOL (build target unit_lib_key_package)"
estd_init estuser 'estpwd'

post_skg() { # FILE PATH -> http code; body in $T/body, headers in $T/h
  curl -s --cacert "$CA" --user estuser:estpwd -H 'Content-Type: application/pkcs10' \
    --data-binary @"$1" "$URL/$2" -D "$T/h" -o "$T/body" -w '%{http_code}' "${@:3}"
}

# split_parts BODY: part N's headers in $T/part.N.h, body in $T/part.N (CRLF removed)
split_parts() {
  local boundary
  boundary=$(sed -n 's/^Content-Type: multipart\/mixed; boundary=\([^[:space:];]*\).*/\1/p' "$T/h" | tr -d '\r')
  [ -n "$boundary" ] || fail "no multipart boundary: $(cat "$T/h")"
  rm -f "$T"/part.*
  tr -d '\r' < "$1" | awk -v b="--$boundary" -v dir="$T" '
    $0 == b || $0 == b "--" { n++; inhdr = 1; next }
    n > 0 && inhdr && $0 == "" { inhdr = 0; next }
    n > 0 && inhdr { print > (dir "/part." n ".h"); next }
    n > 0 { print > (dir "/part." n) }'
  [ -f "$T/part.1" ] && [ -f "$T/part.2" ] || fail "expected two parts in $(cat "$1")"
}

key_matches_cert() { # KEYFILE(PEM) CERTFILE(PEM)
  cmp <(openssl pkey -in "$1" -pubout) <(openssl x509 -in "$2" -pubkey -noout) >/dev/null
}
# package_key_matches NAME WHAT: $T/NAME.signed.der (a decrypted key
# package) verifies against the CA; its first PrivateKeyInfo
# (AsymmetricKeyPackage = SEQUENCE OF PrivateKeyInfo) is the key that
# $T/part.2's certificate certifies. WHAT names the case in failures.
package_key_matches() {
  local n=$1 what=$2 off hl l
  openssl cms -verify -inform DER -in "$T/$n.signed.der" -CAfile "$CA" -purpose any -binary \
    -out "$T/$n.pkg.der" 2>/dev/null || fail "$what: key package signature does not verify against the CA"
  read -r off hl l < <(openssl asn1parse -inform DER -in "$T/$n.pkg.der" | awk -F'[:= ]+' '$3=="d" && $4==1 {print $2, $6, $8; exit}')
  dd if="$T/$n.pkg.der" of="$T/$n.p8.der" bs=1 skip="$off" count=$((hl + l)) 2>/dev/null
  openssl pkey -inform DER -in "$T/$n.p8.der" -out "$T/$n.gen.key" || fail "$what: no PrivateKeyInfo in the package"
  p7_to_pem "$T/part.2" "$T/$n.pem"
  key_matches_cert "$T/$n.gen.key" "$T/$n.pem" || fail "$what: enveloped key does not match the certificate"
}

# --- off by default ---
estd_start "$DIR"
new_csr off /CN=keygen-off
base64 "$T/off.der" > "$T/off.b64"
[ "$(post_skg "$T/off.b64" serverkeygen)" = 501 ] || fail "serverkeygen not 501 when off"
grep -q 'server key generation is not offered by this CA' "$T/body" || fail "no reason: $(cat "$T/body")"
pass "/serverkeygen off by default: 501 with a reason"
estd_stop

sed -i 's/^serverkeygen = no/serverkeygen = yes/' "$DIR/estd.conf"
estd_start "$DIR"

# --- RFC 7030 dialect: base64 DER parts, CTE base64, smime-type ---
new_csr k1 /CN=keygen-1 -addext "subjectAltName=DNS:keygen1.example"
base64 "$T/k1.der" > "$T/k1.b64"
[ "$(post_skg "$T/k1.b64" serverkeygen)" = 200 ] || fail "serverkeygen: $(cat "$T/body")"
grep -q $'^Content-Type: multipart/mixed; boundary=' "$T/h" || fail "not multipart: $(cat "$T/h")"
split_parts "$T/body"
grep -qx 'Content-Type: application/pkcs8' "$T/part.1.h" || fail "key part type: $(cat "$T/part.1.h")"
grep -qx 'Content-Transfer-Encoding: base64' "$T/part.1.h" || fail "key part CTE"
grep -qx 'Content-Type: application/pkcs7-mime; smime-type=certs-only' "$T/part.2.h" || fail "cert part type"
grep -qx 'Content-Transfer-Encoding: base64' "$T/part.2.h" || fail "cert part CTE"
grep -q BEGIN "$T/part.1" "$T/part.2" && fail "RFC parts carry PEM armour"
base64 -d "$T/part.1" | openssl pkey -inform DER -out "$T/k1.gen.key" || fail "key part is no PKCS#8"
p7_to_pem "$T/part.2" "$T/k1.pem"
key_matches_cert "$T/k1.gen.key" "$T/k1.pem" || fail "generated key does not match the certificate"
key_matches_cert "$T/k1.key" "$T/k1.pem" && fail "the certificate certifies the CSR's key"
openssl verify -CAfile "$CA" "$T/k1.pem" >/dev/null || fail "certificate does not verify"
openssl x509 -in "$T/k1.pem" -noout -subject | grep -q keygen-1 || fail "subject not taken from the CSR"
openssl x509 -in "$T/k1.pem" -noout -ext subjectAltName | grep -q 'DNS:keygen1.example' || fail "SAN not copied"
openssl pkey -in "$T/k1.gen.key" -noout -text | grep -q 'prime256v1\|P-256' || fail "not the configured ec-p256"
serial=$(openssl x509 -in "$T/k1.pem" -noout -serial | cut -d= -f2)
[ "$(sqlite3 "$DIR/estd.db" "SELECT operation FROM certs WHERE serial='$serial'")" = serverkeygen ] \
  || fail "not recorded as serverkeygen"
pass "serverkeygen, RFC 7030 dialect (PKCS#8 part + certs-only part, key matches)"

# --- draft dialect: PEM parts; the CSR signature is ignored (a broken one) ---
new_csr k2 /CN=keygen-2
openssl req -inform DER -in "$T/k2.der" -out "$T/k2.csr.pem"
[ "$(post_skg "$T/k2.csr.pem" serverKeyGen)" = 200 ] || fail "serverKeyGen: $(cat "$T/body")"
split_parts "$T/body"
grep -qx 'Content-Type: application/pkcs8' "$T/part.1.h" || fail "draft key part type"
grep -qx 'Content-Type: application/pkcs7-mime' "$T/part.2.h" || fail "draft cert part type"
grep -q -- '-----BEGIN PRIVATE KEY-----' "$T/part.1" || fail "draft key part not PEM"
grep -q -- '-----BEGIN PKCS7-----' "$T/part.2" || fail "draft cert part not PEM"
openssl pkey -in "$T/part.1" -out "$T/k2.gen.key" || fail "draft key part unreadable"
p7_to_pem "$T/part.2" "$T/k2.pem"
key_matches_cert "$T/k2.gen.key" "$T/k2.pem" || fail "draft: key does not match the certificate"
# flip a byte of the CSR signature: /serverkeygen must still answer
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-2] ^= 1; open(sys.argv[2], "wb").write(d)' \
  "$T/k2.der" "$T/k2.bad.der"
openssl req -inform DER -in "$T/k2.bad.der" -noout -verify 2>&1 | grep -q "verify failure" \
  || fail "the CSR signature is still good"
[ "$(post_skg "$T/k2.bad.der" serverkeygen)" = 200 ] || fail "bad CSR signature not ignored: $(cat "$T/body")"
pass "serverKeyGen, draft dialect (PEM parts); CSR signature ignored"

# --- encrypted for a pre-shared key (DecryptKeyIdentifier) ---
KEK=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
KEKID=6b656b2d6f6e65
printf '# id key\n%s %s\n' "$KEKID" "$KEK" > "$DIR/kek.txt"
chmod 600 "$DIR/kek.txt"
sed -i 's/^kek_file =.*/kek_file = kek.txt/' "$DIR/estd.conf"
estd_stop
estd_start "$DIR"
"$KP_TOOL" csr "$T/k3.key" /CN=keygen-3 sym "$KEKID" "$T/k3.der" || fail "writing a CSR with DecryptKeyIdentifier"
[ "$(post_skg "$T/k3.der" serverkeygen)" = 200 ] || fail "encrypted serverkeygen: $(cat "$T/body")"
split_parts "$T/body"
grep -qx 'Content-Type: application/pkcs7-mime; smime-type=server-generated-key' "$T/part.1.h" \
  || fail "encrypted key part type: $(cat "$T/part.1.h")"
base64 -d "$T/part.1" > "$T/k3.env.der"
openssl cms -decrypt -inform DER -in "$T/k3.env.der" -secretkey "$KEK" -secretkeyid "$KEKID" \
  -out "$T/k3.signed.der" || fail "openssl cannot decrypt the key package with the KEK"
package_key_matches k3 "pre-shared key"
openssl cms -decrypt -inform DER -in "$T/k3.env.der" -secretkey "${KEK%??}00" -secretkeyid "$KEKID" \
  -out /dev/null 2>/dev/null && fail "a wrong KEK decrypts the package"
pass "serverkeygen encrypted for a pre-shared key (openssl cms -decrypt -secretkey)"

"$KP_TOOL" csr "$T/k4.key" /CN=keygen-4 sym 0badc0de "$T/k4.der"
[ "$(post_skg "$T/k4.der" serverkeygen)" = 400 ] || fail "unknown DecryptKeyIdentifier not 400"
grep -q 'unknown DecryptKeyIdentifier' "$T/body" || fail "unknown id reason: $(cat "$T/body")"
pass "unknown DecryptKeyIdentifier refused (400)"

# --- encrypted for the TLS client certificate (AsymmetricDecryptKeyIdentifier) ---
new_csr tlsc /CN=tls-client
base64 "$T/tlsc.der" > "$T/tlsc.b64"
curl -sf --cacert "$CA" --user estuser:estpwd -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/tlsc.b64" "$URL/simpleenroll" -o "$T/tlsc.p7" || fail "enroll TLS client"
p7_to_pem "$T/tlsc.p7" "$T/tlsc.pem"
skid=$(openssl x509 -in "$T/tlsc.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :\n')
"$KP_TOOL" csr "$T/k5.key" /CN=keygen-5 asym "$skid" "$T/k5.der"
[ "$(post_skg "$T/k5.der" serverkeygen --cert "$T/tlsc.pem" --key "$T/tlsc.key")" = 200 ] \
  || fail "asymmetric serverkeygen: $(cat "$T/body")"
split_parts "$T/body"
base64 -d "$T/part.1" > "$T/k5.env.der"
openssl cms -decrypt -inform DER -in "$T/k5.env.der" -recip "$T/tlsc.pem" -inkey "$T/tlsc.key" \
  -out "$T/k5.signed.der" || fail "openssl cannot decrypt with the client certificate's key"
package_key_matches k5 asymmetric
"$KP_TOOL" csr "$T/k6.key" /CN=keygen-6 asym 00112233 "$T/k6.der"
[ "$(post_skg "$T/k6.der" serverkeygen --cert "$T/tlsc.pem" --key "$T/tlsc.key")" = 400 ] \
  || fail "AsymmetricDecryptKeyIdentifier of another key not 400"
pass "serverkeygen encrypted for the TLS client certificate (openssl cms -decrypt -recip)"

# --- policy: encryption required ---
sed -i 's/^serverkeygen_require_encryption = no/serverkeygen_require_encryption = yes/' "$DIR/estd.conf"
estd_stop
estd_start "$DIR"
[ "$(post_skg "$T/k1.b64" serverkeygen)" = 400 ] || fail "plain key returned although encryption is required"
grep -q 'only encrypted' "$T/body" || fail "require-encryption reason: $(cat "$T/body")"
[ "$(post_skg "$T/k3.der" serverkeygen)" = 200 ] || fail "encrypted request refused under require-encryption"
pass "serverkeygen_require_encryption refuses plain keys, serves encrypted ones"
estd_alive
estd_stop
