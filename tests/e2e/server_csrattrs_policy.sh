#!/usr/bin/env bash
# /csrattrs enforcement: with enforce_csrattrs = yes a CSR must use the
# curve and hash /csrattrs names and carry the attributes it lists; the
# refusal names what is missing. With pop_linking = required, /csrattrs
# lists challengePassword even when the operator did not.
. "$E2E_LIB/server.sh"
estd_init u 'pw'
sed -i 's/^csrattrs =.*/csrattrs = secp384r1, sha384, 1.3.6.1.1.1.1.22/; s/^enforce_csrattrs = .*/enforce_csrattrs = yes/' "$DIR/estd.conf"
estd_start "$DIR"
post() {
  curl -s --cacert "$DIR/ca/ca.pem" --user u:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/$1" "$URL/simpleenroll" -o "$T/body" -w '%{http_code}'
}
mac_cnf() { # subject -> config with the macAddress attribute (1.3.6.1.1.1.1.22)
  printf 'oid_section=o\n[o]\nmacAddress=1.3.6.1.1.1.1.22\n[req]\ndistinguished_name=dn\nattributes=a\nprompt=no\n[dn]\nCN=%s\n[a]\nmacAddress=ASN1:IA5STRING:00-11-22-33-44-55\n' "$1"
}
mac_cnf p256 > "$T/p256.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -sha384 \
  -config "$T/p256.cnf" -outform DER -out "$T/p256.der" 2>/dev/null
[ "$(post p256.der)" = 400 ] && grep -q 'curve secp384r1' "$T/body" || fail "P-256 accepted: $(cat "$T/body")"
mac_cnf p384sha256 > "$T/p384a.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout /dev/null -sha256 \
  -config "$T/p384a.cnf" -outform DER -out "$T/p384a.der" 2>/dev/null
[ "$(post p384a.der)" = 400 ] && grep -q 'sha384' "$T/body" || fail "SHA-256 signature accepted: $(cat "$T/body")"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout /dev/null -sha384 \
  -subj /CN=nomac -outform DER -out "$T/nomac.der" 2>/dev/null
[ "$(post nomac.der)" = 400 ] && grep -q '1.3.6.1.1.1.1.22' "$T/body" || fail "missing macAddress accepted: $(cat "$T/body")"
mac_cnf good > "$T/good.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout /dev/null -sha384 \
  -config "$T/good.cnf" -outform DER -out "$T/good.der" 2>/dev/null
[ "$(post good.der)" = 200 ] || fail "conforming CSR refused: $(cat "$T/body")"
pass "enforce_csrattrs: curve, hash and attribute demands, each refusal named"
estd_stop

sed -i 's/^pop_linking = .*/pop_linking = required/; s/^csrattrs =.*/csrattrs =/' "$DIR/estd.conf"
estd_start "$DIR"
curl -sf --cacert "$DIR/ca/ca.pem" --user u:pw "$URL/csrattrs" -o "$T/attrs.b64" || fail "csrattrs"
base64 -d "$T/attrs.b64" | openssl asn1parse -inform DER | grep -q challengePassword \
  || fail "pop_linking = required but /csrattrs does not list challengePassword"
pass "/csrattrs lists challengePassword when linking is required"
estd_stop
