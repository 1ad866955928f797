#!/usr/bin/env bash
# CA key rollover as a client sees it (draft-04 §4.1.3): after `estd ca
# rollover`, /cacerts serves OldWithOld, OldWithNew, NewWithOld and
# NewWithNew; a device holding only the old root validates certificates
# issued by the new key through that response, a device holding only the
# new root still validates old certificates, and the old TLS chain works.
. "$E2E_LIB/server.sh"
estd_init u 'pw'
cp "$DIR/ca/ca.pem" "$T/old-root.pem"
estd_start "$DIR"
enroll before /CN=before-rollover u pw
estd_stop

"$ESTD" ca rollover "$DIR" >/dev/null
estd_start "$DIR" 2>/dev/null || true
[ -n "$ESTD_PID" ] || fail "estd does not start after rollover"
# The device still trusts only the old root: the TLS chain must satisfy it.
curl -sf --cacert "$T/old-root.pem" "$URL/cacerts" -o "$T/cacerts.b64" \
  || fail "a client holding the old root cannot reach the server after rollover"
p7_to_pem "$T/cacerts.b64" "$T/cacerts.pem"
n=$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts.pem")
[ "$n" = 4 ] || fail "/cacerts holds $n certificates, want 4"
cp "$DIR/ca/ca.pem" "$T/new-root.pem"
pass "/cacerts serves the four rollover certificates"

curl -sf --cacert "$T/old-root.pem" --user u:pw -H 'Content-Type: application/pkcs10' \
  --data-binary @<(new_csr after /CN=after-rollover; base64 "$T/after.der") \
  "$URL/simpleenroll" -o "$T/after.p7" || fail "enroll after rollover"
p7_to_pem "$T/after.p7" "$T/after.pem"
openssl verify -CAfile "$T/new-root.pem" "$T/after.pem" >/dev/null || fail "new cert not under the new root"
openssl verify -CAfile "$T/old-root.pem" -untrusted "$T/cacerts.pem" "$T/after.pem" >/dev/null \
  || fail "a device holding only the old root cannot validate a new certificate via /cacerts"
openssl verify -CAfile "$T/new-root.pem" -untrusted "$T/cacerts.pem" "$T/before.pem" >/dev/null \
  || fail "a device holding only the new root cannot validate an old certificate via /cacerts"
pass "old-root and new-root holders validate both generations through /cacerts"

# A certificate issued by the old key still re-enrolls.
openssl req -new -key "$T/before.key" -subj /CN=before-rollover -outform DER -out "$T/re.der"
curl -sf --cacert "$T/old-root.pem" --cert "$T/before.pem" --key "$T/before.key" \
  -H 'Content-Type: application/pkcs10' --data-binary @"$T/re.der" "$URL/simplereenroll" \
  -o "$T/re.p7" || fail "old-key certificate cannot re-enroll after rollover"
pass "re-enroll with a certificate from the old key"
estd_stop
