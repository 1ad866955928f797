#!/usr/bin/env bash
# strongSwan's pki as the EST client (a real third-party implementation):
# --estca (cacerts), --est with Basic (enroll), --est with --cert/--key
# (re-enroll with the TLS client certificate).
. "$E2E_LIB/server.sh"
command -v pki >/dev/null || fail "strongSwan pki is not installed (scripts/deps installs it)"
estd_init pkiuser 'pki-pw'
estd_start "$DIR"
# pki appends the operation to the URL it is given.
BASE="https://127.0.0.1:$PORT"

pki --estca --url "$BASE" --cacert "$CA" --caout "$T/estca.pem" --outform pem --force \
  > "$T/pki.log" 2>&1 || fail "pki --estca: $(tail -5 "$T/pki.log")"
openssl x509 -in "$T/estca.pem" -noout >/dev/null 2>&1 || ls "$T"/estca* >/dev/null 2>&1 \
  || fail "pki --estca wrote no CA certificate"
pass "pki --estca"

pki --gen --type ecdsa --size 256 --outform pem > "$T/k1.pem" 2>/dev/null
pki --req --type priv --in "$T/k1.pem" --dn "CN=swan-1" --san swan-1.example --outform pem \
  > "$T/r1.pem" 2>/dev/null
pki --est --url "$BASE" --in "$T/r1.pem" --cacert "$CA" --userpass pkiuser:pki-pw \
  --outform pem > "$T/c1.pem" 2>"$T/pki.log" || fail "pki --est: $(tail -5 "$T/pki.log")"
openssl verify -CAfile "$CA" "$T/c1.pem" >/dev/null || fail "pki-enrolled cert does not verify"
openssl x509 -in "$T/c1.pem" -noout -subject | grep -q swan-1 || fail "wrong subject"
pass "pki --est (Basic enroll)"

pki --gen --type ecdsa --size 256 --outform pem > "$T/k2.pem" 2>/dev/null
pki --req --type priv --in "$T/k2.pem" --dn "CN=swan-1" --san swan-1.example --outform pem \
  > "$T/r2.pem" 2>/dev/null
pki --est --url "$BASE" --in "$T/r2.pem" --cacert "$CA" --cert "$T/c1.pem" --key "$T/k1.pem" \
  --outform pem > "$T/c2.pem" 2>"$T/pki.log" || fail "pki --est re-enroll: $(tail -5 "$T/pki.log")"
openssl verify -CAfile "$CA" "$T/c2.pem" >/dev/null || fail "re-enrolled cert does not verify"
sqlite3 "$DIR/estd.db" "SELECT operation FROM certs" | grep -q rekey || fail "re-enroll not recorded as rekey"
pass "pki --est --cert/--key (re-enroll)"
estd_stop
