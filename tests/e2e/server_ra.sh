#!/usr/bin/env bash
# RA clients (draft-04 §3.7): a client certificate of this CA carrying
# id-kp-cmcRA may forward CSRs whose PoP linking belongs to the RA's own
# clients and re-enroll on their behalf; an ordinary client may not, and
# trust_ra = no turns the RA treatment off.
. "$E2E_LIB/server.sh"
estd_init
# The operator issues the RA certificate out of band with the CA key.
new_csr ra "/CN=Field RA"
openssl x509 -req -inform DER -in "$T/ra.der" -CA "$DIR/ca/ca.pem" -CAkey "$DIR/ca/ca.key" \
  -days 5 -set_serial 0x5A01 -out "$T/ra.pem" \
  -extfile <(printf 'extendedKeyUsage=cmcRA,clientAuth\nbasicConstraints=critical,CA:FALSE\n') 2>/dev/null
new_csr plain "/CN=plain client"
openssl x509 -req -inform DER -in "$T/plain.der" -CA "$DIR/ca/ca.pem" -CAkey "$DIR/ca/ca.key" \
  -days 5 -set_serial 0x5A02 -out "$T/plain.pem" -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null

# A device CSR whose challengePassword holds another session's binding.
printf '[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nCN=device-behind-ra\n[attrs]\nchallengePassword=%s\n' \
  QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo+Pz8/Pz8/Pz8= > "$T/dev.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/dev.key" \
  -config "$T/dev.cnf" -outform DER -out "$T/dev.der" 2>/dev/null

post() { # op cert key -> status
  curl -s --cacert "$DIR/ca/ca.pem" --cert "$T/$2.pem" --key "$T/$2.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/dev.der" "$URL/$1" -o "$T/body" -w '%{http_code}'
}
estd_start "$DIR"
[ "$(post simpleenroll ra)" = 200 ] || fail "RA enroll with its client's linking refused: $(cat "$T/body")"
[ "$(post simpleenroll plain)" = 400 ] && grep -q 'linking failed' "$T/body" \
  || fail "ordinary client with foreign linking accepted: $(cat "$T/body")"
[ "$(post simplereenroll ra)" = 200 ] || fail "RA re-enroll for its client refused: $(cat "$T/body")"
[ "$(post simplereenroll plain)" = 400 ] || fail "ordinary client re-enrolled another subject"
sqlite3 "$DIR/estd.db" "SELECT operation FROM certs" | grep -q renew-via-ra || fail "RA re-enroll not recorded"
pass "RA gets RA policy; ordinary clients do not"
estd_stop

sed -i 's/^trust_ra = yes/trust_ra = no/' "$DIR/estd.conf"
estd_start "$DIR"
[ "$(post simpleenroll ra)" = 400 ] || fail "trust_ra = no still exempts the RA"
pass "trust_ra = no"
estd_stop
