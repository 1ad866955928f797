#!/usr/bin/env bash
# The EST flows end to end with curl and openssl as the client:
# dialects and their exact headers, Basic and Digest (the seed's appendix
# flow: Digest, then a PEM CSR), re-enroll with a TLS client certificate
# (renew and rekey), /csrattrs, manual approval (202 -> approve -> 200;
# reject -> 403), and `openssl verify` of everything issued.
. "$E2E_LIB/server.sh"
estd_init
# Digest is opt-in (issue #12): the policy names it and the user has HA1.
printf 'estpwd\n' | "$ESTD" user add "$DIR" estuser --password-stdin --digest
sed -i 's/^csrattrs =.*/csrattrs = challengePassword, 1.3.6.1.1.1.1.22, secp384r1, sha384/' "$DIR/estd.conf"
sed -i 's/^enroll_auth = .*/enroll_auth = cert, basic, digest/' "$DIR/estd.conf"
estd_start "$DIR"

# --- /cacerts in both dialects, headers exactly as strict clients need ---
curl -sf --cacert "$CA" -D "$T/h" "$URL/cacerts" -o "$T/cacerts.b64"
grep -q $'^HTTP/1.1 200' "$T/h" || fail "status line is not HTTP/1.1 200"
grep -q $'^Content-Type: application/pkcs7-mime; smime-type=certs-only\r$' "$T/h" || fail "RFC content type: $(cat "$T/h")"
grep -q $'^Content-Transfer-Encoding: base64\r$' "$T/h" || fail "no Content-Transfer-Encoding"
grep -q '^Content-Length: [0-9]' "$T/h" || fail "no Content-Length"
grep -qi '^Transfer-Encoding: chunked' "$T/h" && fail "chunked response"
[ "$(head -c 1024 "$T/h" | grep -c 'Content-Length')" = 1 ] || fail "headers not within 1 KiB"
grep -q 'BEGIN' "$T/cacerts.b64" && fail "RFC body carries PEM armour"
p7_to_pem "$T/cacerts.b64" "$T/cacerts.pem"
cmp <(openssl x509 -in "$CA" -outform DER) <(openssl x509 -in "$T/cacerts.pem" -outform DER) \
  || fail "/cacerts does not serve the CA certificate"
curl -sf --cacert "$CA" -D "$T/h" "$URL/CACerts" -o "$T/cacerts.draft"
grep -q $'^Content-Type: application/pkcs7-mime\r$' "$T/h" || fail "draft content type"
grep -q -- '-----BEGIN PKCS7-----' "$T/cacerts.draft" || fail "draft body without PEM armour"
pass "/cacerts in both dialects"

# --- enroll: Basic sent up front, RFC dialect, DER-in-base64 body ---
new_csr dev1 /CN=device-1 -addext "subjectAltName=DNS:dev1.example"
base64 "$T/dev1.der" > "$T/dev1.b64"
curl -sf --cacert "$CA" --basic --user estuser:estpwd -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/dev1.b64" "$URL/simpleenroll" -D "$T/h" -o "$T/dev1.p7" || fail "enroll basic"
grep -q $'^Content-Type: application/pkcs7-mime; smime-type=certs-only\r$' "$T/h" || fail "enroll type"
p7_to_pem "$T/dev1.p7" "$T/dev1.pem"
openssl verify -CAfile "$T/cacerts.pem" "$T/dev1.pem" >/dev/null || fail "issued cert does not verify"
openssl x509 -in "$T/dev1.pem" -noout -ext subjectAltName | grep -q 'DNS:dev1.example' || fail "SAN not copied"
openssl x509 -in "$T/dev1.pem" -noout -ext extendedKeyUsage | grep -q 'TLS Web Client' || fail "no clientAuth EKU"
pass "enroll (Basic, RFC 7030 dialect)"

# --- the seed's appendix flow: Digest, draft spelling, PEM CSR body ---
new_csr dev2 /CN=device-2
openssl req -inform DER -in "$T/dev2.der" -out "$T/dev2.csr.pem"
curl -sf --cacert "$CA" --digest --user estuser:estpwd -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/dev2.csr.pem" "$URL/simpleEnroll" -D "$T/h" -o "$T/dev2.p7" || fail "enroll digest"
grep -q -- '-----BEGIN PKCS7-----' "$T/dev2.p7" || fail "draft enroll body not PEM"
p7_to_pem "$T/dev2.p7" "$T/dev2.pem"
openssl verify -CAfile "$T/cacerts.pem" "$T/dev2.pem" >/dev/null || fail "digest cert does not verify"
pass "enroll (Digest, draft dialect, PEM CSR)"

# --- raw DER body is accepted too (RFC 8951 liberal reading) ---
new_csr dev3 /CN=device-3
curl -sf --cacert "$CA" --user estuser:estpwd -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/dev3.der" "$URL/simpleenroll" -o "$T/dev3.p7" || fail "enroll raw DER"
pass "enroll with a raw DER body"

# --- TLS session resumption (draft-04 §3.3; details in server_resumption.sh) ---
for v in -tls1_2 -tls1_3; do
  printf 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    openssl s_client -connect "127.0.0.1:$PORT" "$v" -CAfile "$CA" -sess_out "$T/sess$v" -ign_eof \
    >"$T/s1$v" 2>&1 || true # estd closes without close_notify: s_client says error
  grep -q 'TLS session ticket:' "$T/s1$v" || fail "$v: no session ticket"
  printf 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    openssl s_client -connect "127.0.0.1:$PORT" "$v" -CAfile "$CA" -sess_in "$T/sess$v" -ign_eof \
    >"$T/s2$v" 2>&1 || true
  grep -q '^Reused,' "$T/s2$v" || fail "$v session not resumed: $(grep -E '^(New|Reused)' "$T/s2$v")"
  grep -q '^HTTP/1.1 200' "$T/s2$v" || fail "$v: no answer on the resumed session"
done
pass "TLS 1.2 and 1.3 sessions resumed with tickets"

# --- re-enroll with the TLS client certificate: renew (same key), rekey ---
openssl req -new -key "$T/dev1.key" -subj /CN=device-1 -addext "subjectAltName=DNS:dev1.example" \
  -outform DER -out "$T/renew.der"
base64 "$T/renew.der" > "$T/renew.b64"
curl -sf --cacert "$CA" --cert "$T/dev1.pem" --key "$T/dev1.key" -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/renew.b64" "$URL/simplereenroll" -o "$T/renew.p7" || fail "renew"
p7_to_pem "$T/renew.p7" "$T/renew.pem"
openssl verify -CAfile "$T/cacerts.pem" "$T/renew.pem" >/dev/null || fail "renewed cert does not verify"
new_csr rekey /CN=device-1 -addext "subjectAltName=DNS:dev1.example"
base64 "$T/rekey.der" > "$T/rekey.b64"
curl -sf --cacert "$CA" --cert "$T/dev1.pem" --key "$T/dev1.key" -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/rekey.b64" "$URL/simpleReEnroll" -o "$T/rekey.p7" || fail "rekey"
[ "$(sqlite3 "$DIR/estd.db" "SELECT group_concat(operation) FROM certs WHERE subject='CN=device-1' ORDER BY issued_at")" ] || fail "no ops"
sqlite3 "$DIR/estd.db" "SELECT operation FROM certs" | sort | tr '\n' ' ' | grep -q 'enroll.*rekey renew' \
  || fail "renew/rekey not recorded: $(sqlite3 "$DIR/estd.db" 'SELECT operation FROM certs')"
pass "re-enroll with a client certificate (renew and rekey recorded)"

# --- revoked client certificates cannot re-enroll ---
serial=$(openssl x509 -in "$T/dev1.pem" -noout -serial | cut -d= -f2)
"$ESTD" revoke "$DIR" "$serial" --reason keyCompromise >/dev/null
code=$(curl -s --cacert "$CA" --cert "$T/dev1.pem" --key "$T/dev1.key" -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/renew.b64" "$URL/simplereenroll" -o "$T/body" -w '%{http_code}')
[[ $code =~ ^40[13]$ ]] && grep -q revoked "$T/body" || fail "revoked cert re-enrolled: $code $(cat "$T/body")"
pass "revoked client certificate refused"

# --- /csrattrs in both dialects ---
curl -sf --cacert "$CA" --user estuser:estpwd "$URL/csrattrs" -D "$T/h" -o "$T/attrs.b64" || fail "csrattrs"
grep -q $'^Content-Type: application/csrattrs\r$' "$T/h" || fail "csrattrs type"
base64 -d "$T/attrs.b64" | openssl asn1parse -inform DER > "$T/attrs.txt"
for oid in challengePassword 1.3.6.1.1.1.1.22 secp384r1 sha384; do
  grep -q "$oid" "$T/attrs.txt" || fail "csrattrs lacks $oid: $(cat "$T/attrs.txt")"
done
curl -sf --cacert "$CA" --user estuser:estpwd "$URL/CSRAttrs" -o "$T/attrs.draft" || fail "CSRAttrs"
grep -q 'BEGIN' "$T/attrs.draft" || fail "draft csrattrs not armoured"
pass "/csrattrs"
estd_stop

# --- manual approval: 202 + Retry-After, approve, same request -> cert ---
sed -i 's/^approval = auto/approval = manual/; s/^retry_after_seconds = .*/retry_after_seconds = 7/' "$DIR/estd.conf"
estd_start "$DIR"
new_csr wait /CN=waiting-device
base64 "$T/wait.der" > "$T/wait.b64"
enroll_wait() {
  curl -s --cacert "$CA" --user estuser:estpwd -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/$1" "$URL/simpleenroll" -D "$T/h" -o "$T/body" -w '%{http_code}'
}
[ "$(enroll_wait wait.b64)" = 202 ] || fail "manual approval did not answer 202"
grep -q $'^Retry-After: 7\r$' "$T/h" || fail "202 without integer Retry-After"
[ "$(enroll_wait wait.b64)" = 202 ] || fail "retry before approval not 202"
id=$("$ESTD" pending list "$DIR" | awk '/waiting-device/ {print $1; exit}')
[ -n "$id" ] || fail "pending list does not show the request"
"$ESTD" pending approve "$DIR" "$id" >/dev/null
[ "$(enroll_wait wait.b64)" = 200 ] || fail "approved retry not 200: $(cat "$T/body")"
p7_to_pem "$T/body" "$T/wait.pem"
openssl x509 -in "$T/wait.pem" -noout -subject | grep -q waiting-device || fail "wrong cert"
new_csr nope /CN=rejected-device
base64 "$T/nope.der" > "$T/nope.b64"
[ "$(enroll_wait nope.b64)" = 202 ] || fail "second pending not 202"
id=$("$ESTD" pending list "$DIR" | awk '/rejected-device/ {print $1; exit}')
"$ESTD" pending reject "$DIR" "$id" --reason "unknown device" >/dev/null
[ "$(enroll_wait nope.b64)" = 403 ] && grep -q 'unknown device' "$T/body" || fail "rejected not 403"
pass "manual approval (202 Retry-After, approve -> 200, reject -> 403)"
estd_stop

# --- Digest with SHA-256 (RFC 7616) when configured ---
sed -i 's/^approval = manual/approval = auto/; s/^digest_algorithm = .*/digest_algorithm = SHA-256/' "$DIR/estd.conf"
estd_start "$DIR"
code=$(curl -s --cacert "$CA" -H 'Content-Type: application/pkcs10' --data-binary @"$T/dev3.der" \
  "$URL/simpleenroll" -D "$T/h" -o /dev/null -w '%{http_code}')
[ "$code" = 401 ] && grep -q 'algorithm=SHA-256' "$T/h" || fail "SHA-256 Digest challenge: $code $(cat "$T/h")"
new_csr dev4 /CN=device-4
curl -sf --cacert "$CA" --digest --user estuser:estpwd -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/dev4.der" "$URL/simpleenroll" -o "$T/dev4.p7" || fail "enroll with SHA-256 Digest"
pass "Digest SHA-256"

# --- the Basic credential cache never outlives a password change ---
basic() { new_csr "$1" "/CN=$1"; curl -s --cacert "$CA" --user "estuser:$2" -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/$1.der" "$URL/simpleenroll" -o /dev/null -w '%{http_code}'; }
[ "$(basic cache1 estpwd)" = 200 ] && [ "$(basic cache2 estpwd)" = 200 ] || fail "Basic enroll"
printf 'changed\n' | "$ESTD" user add "$DIR" estuser --password-stdin --force --digest >/dev/null
[ "$(basic cache3 estpwd)" = 401 ] || fail "old password still accepted after a change (cached)"
[ "$(basic cache4 changed)" = 200 ] || fail "new password refused"
printf 'estpwd\n' | "$ESTD" user add "$DIR" estuser --password-stdin --force --digest >/dev/null
pass "password change applies at once despite the credential cache"

# --- SIGTERM while requests are in flight: they finish, exit status 0 ---
for i in 1 2 3 4 5 6; do new_csr "term$i" "/CN=term-$i"; done
for i in 1 2 3 4 5 6; do
  curl -s --cacert "$CA" --digest --user estuser:estpwd -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/term$i.der" "$URL/simpleenroll" -o "$T/term$i.p7" -w '%{http_code}' \
    > "$T/term$i.code" &
done
sleep 0.3
estd_stop
wait
for i in 1 2 3 4 5 6; do
  if [ "$(cat "$T/term$i.code")" = 200 ]; then
    p7_to_pem "$T/term$i.p7" "$T/term$i.pem"
    s=$(serial_of "$T/term$i.pem")
    [ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM certs WHERE serial='$s'")" = 1 ] || fail "sent but not stored"
  fi
done
[ "$(sqlite3 "$DIR/estd.db" 'PRAGMA integrity_check')" = ok ] || fail "store damaged by SIGTERM"
pass "graceful SIGTERM with requests in flight"
