#!/usr/bin/env bash
# TLS-SRP (draft-04 §3.3.3, RFC 5054) with real clients: `estd user add
# --srp` stores a verifier, never the password; curl (--tlsauthtype SRP) and
# gnutls-cli log in and enroll with policy method `srp`; a wrong password
# and an unknown name fail the handshake alike and are audited; failures
# feed the guessing guard (a throttled login is refused before the
# exchange); an RSA server key gets SRP-RSA (certificate sent), an ECDSA one
# plain SRP; `enroll_auth = srp` refuses Basic; est bootstraps and enrolls
# over SRP without a trust anchor, with PoP linking on tls-unique.
. "$E2E_LIB/server.sh"
estd_init
printf 'sam-secret\n' | "$ESTD" user add "$DIR" sam --password-stdin --srp
printf 'bob-pw\n' | "$ESTD" user add "$DIR" bob --password-stdin
printf 'olga-secret\n' | "$ESTD" user add "$DIR" olga --password-stdin --srp
sed -i 's/^enroll_auth = .*/enroll_auth = cert, basic, digest, srp/; s/^guess_delay_after = .*/guess_delay_after = 2/' \
  "$DIR/estd.conf"
"$ESTD" user list "$DIR" | grep -Eq '^sam .* srp$' || fail "user list does not show the verifier"
row=$(sqlite3 "$DIR/estd.db" "SELECT srp_group || ' ' || length(srp_salt) || ' ' || length(srp_verifier) FROM users WHERE name='sam'")
[ "$row" = "3072 40 768" ] || fail "verifier row: $row (want group 3072, 160-bit salt, 3072-bit verifier)"
sqlite3 "$DIR/estd.db" .dump | grep -q 'sam-secret' && fail "the SRP password is in the store"
pass "user add --srp stores a 3072-bit verifier with a random salt, not the password"

estd_start "$DIR"
audit_count() { sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event = '$1' AND subject = '$2'"; }
# srp_curl USER PASSWORD [ARGS...]: curl over TLS-SRP (TLS 1.2: SRP has no 1.3).
# SRP authenticates the server as well, hence no --cacert (-k).
srp_curl() {
  local user=$1 password=$2; shift 2
  curl -s -k --tls-max 1.2 --tlsauthtype SRP --tlsuser "$user" --tlspassword "$password" "$@"
}

# --- curl logs in and enrolls with SRP alone ----------------------------------------------
[ "$(srp_curl sam sam-secret -o /dev/null -w '%{http_code}' "$URL/csrattrs")" = 204 ] \
  || fail "curl TLS-SRP login refused"
new_csr srp1 /CN=srp-device
base64 "$T/srp1.der" >"$T/srp1.b64"
srp_curl sam sam-secret -H 'Content-Type: application/pkcs10' --data-binary @"$T/srp1.b64" \
  "$URL/simpleenroll" -o "$T/srp1.p7" -w '%{http_code}' >"$T/code"
[ "$(cat "$T/code")" = 200 ] || fail "SRP enrollment: $(cat "$T/code") $(cat "$T/srp1.p7")"
p7_to_pem "$T/srp1.p7" "$T/srp1.pem"
[ "$(sqlite3 "$DIR/estd.db" "SELECT requester || ' ' || auth_method FROM certs WHERE subject='CN=srp-device'")" = "sam srp" ] \
  || fail "certificate not recorded as issued to sam via srp"
srp_curl sam sam-secret -v -o /dev/null "$URL/csrattrs" 2>&1 | grep -q 'SRP-AES-256-CBC-SHA' \
  || fail "ECDSA server key: expected the plain SRP suite"
pass "curl enrolls over TLS-SRP (ECDSA server key: SRP-AES-256-CBC-SHA), recorded as srp"

# --- gnutls-cli: an independent SRP implementation ----------------------------------------
printf 'GET /.well-known/est/csrattrs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
  timeout 20 gnutls-cli --insecure --priority 'NORMAL:-KX-ALL:+SRP:+SRP-RSA:-VERS-TLS1.3' \
    --srpusername sam --srppasswd sam-secret -p "$PORT" 127.0.0.1 >"$T/gnutls" 2>&1 || true
grep -q '^HTTP/1.1 204' "$T/gnutls" || fail "gnutls-cli SRP login: $(tail -5 "$T/gnutls")"
pass "gnutls-cli logs in with TLS-SRP"

# --- openssl s_client -srpuser ------------------------------------------------------------
# Debian's OpenSSL 3.0 s_client crashes in its own SRP password callback
# (openssl/openssl#32565: the callback argument points at a dead stack
# slot) before our server is involved; run it, and say so if it still does.
rc=0
printf 'GET /.well-known/est/csrattrs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
  timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher 'SRP:@SECLEVEL=0' \
    -srpuser olga -srppass pass:olga-secret -ign_eof >"$T/s_client" 2>&1 || rc=$?
if grep -q '^HTTP/1.1 204' "$T/s_client"; then
  pass "openssl s_client -srpuser logs in"
elif [ "$rc" -ge 128 ]; then
  echo "skip: openssl s_client -srpuser crashed (status $rc, openssl/openssl#32565), not a server failure"
else
  fail "openssl s_client -srpuser: $(tail -5 "$T/s_client")"
fi

# --- wrong password and unknown name: the same TLS failure, audited -----------------------
rc_wrong=0 rc_unknown=0
srp_curl sam wrong-secret -o /dev/null "$URL/csrattrs" --interface 127.0.0.2 || rc_wrong=$?
srp_curl nobody whatever -o /dev/null "$URL/csrattrs" --interface 127.0.0.3 || rc_unknown=$?
[ "$rc_wrong" != 0 ] && [ "$rc_wrong" = "$rc_unknown" ] \
  || fail "wrong password ($rc_wrong) and unknown name ($rc_unknown) differ or succeed"
sleep 0.5 # the audit is written by a worker
[ "$(audit_count auth-fail sam)" = 1 ] || fail "failed SRP login not audited"
[ "$(audit_count auth-fail nobody)" = 1 ] || fail "failed SRP login of an unknown name not audited"
pass "wrong password and unknown name: same TLS failure (curl $rc_wrong), both audited"

# --- failures feed the guessing guard (guess_delay_after = 2) -----------------------------
srp_curl sam wrong-secret -o /dev/null "$URL/csrattrs" --interface 127.0.0.4 || true
# sam has 2 failures: the next login within 1 s is refused before the exchange,
# even with the right password.
rc=0
srp_curl sam sam-secret -o /dev/null "$URL/csrattrs" --interface 127.0.0.5 -v 2>"$T/throttled" || rc=$?
[ "$rc" != 0 ] || fail "a throttled SRP login succeeded"
grep -qi 'access denied' "$T/throttled" || fail "throttled login without an access_denied alert: $(tail -3 "$T/throttled")"
sleep 0.5
[ "$(audit_count auth-throttled sam)" -ge 1 ] || fail "throttled SRP login not audited"
sleep 1.5
[ "$(srp_curl sam sam-secret -o /dev/null -w '%{http_code}' "$URL/csrattrs" --interface 127.0.0.5)" = 204 ] \
  || fail "right password refused after the back-off"
pass "SRP failures feed the guard: a throttled login gets access_denied, later the right one works"
estd_alive
estd_stop

# --- enroll_auth = srp: Basic is not enough; est over SRP; tls-unique on SRP ---------------
sed -i 's/^enroll_auth = .*/enroll_auth = srp/; s/^pop_linking = .*/pop_linking = required/' "$DIR/estd.conf"
estd_start "$DIR"
code=$(curl -s --cacert "$DIR/ca/ca.pem" --user bob:bob-pw -o /dev/null -w '%{http_code}' "$URL/csrattrs")
[ "$code" = 403 ] || fail "Basic accepted under enroll_auth = srp ($code)"
[ "$(srp_curl sam sam-secret -o /dev/null -w '%{http_code}' "$URL/csrattrs")" = 200 ] \
  || fail "SRP refused under enroll_auth = srp"
pass "enroll_auth = srp: SRP admits, Basic does not"

# est bootstraps with nothing but the SRP login: no --trust, no fingerprint.
printf 'sam-secret\n' | "$EST" cacerts --server "https://127.0.0.1:$PORT" --srp-user sam \
  --password-stdin -o "$T/cas.pem" || fail "est cacerts over TLS-SRP without a trust anchor"
cmp <(openssl x509 -in "$DIR/ca/ca.pem" -outform DER) <(openssl x509 -in "$T/cas.pem" -outform DER) \
  || fail "est cacerts over SRP did not get the CA certificate"
expect_status 1 sh -c "printf 'not-it\n' | '$EST' cacerts --server https://127.0.0.1:$PORT --srp-user sam --password-stdin -o '$T/bad.pem'"
one_line_error "TLS handshake failed"
[ ! -e "$T/bad.pem" ] || fail "a failed SRP login wrote a trust file"
pass "est cacerts --srp-user: the SRP login stands in for a trust anchor; a wrong password gets nothing"

# pop_linking = required: est puts the SRP connection's tls-unique in the
# CSR and the server checks it against its own view of the connection.
printf 'sam-secret\n' | "$EST" enroll --server "https://127.0.0.1:$PORT" --srp-user sam --password-stdin \
  --key "$T/estsrp.key" --subject CN=est-srp -o "$T/estsrp.pem" || fail "est enroll over TLS-SRP with PoP linking"
openssl verify -CAfile "$DIR/ca/ca.pem" "$T/estsrp.pem" >/dev/null || fail "SRP-enrolled certificate does not verify"
# The same linking with another connection's binding, and with none, is refused.
printf '[req]\ndistinguished_name=dn\nattributes=a\nprompt=no\n[dn]\nCN=srp-forged\n[a]\nchallengePassword=%s\n' \
  "$(head -c 12 /dev/urandom | base64)" >"$T/forged.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/forged.key" \
  -config "$T/forged.cnf" -outform DER -out "$T/forged.der" 2>/dev/null
base64 "$T/forged.der" >"$T/forged.b64"
srp_curl sam sam-secret -H 'Content-Type: application/pkcs10' --data-binary @"$T/forged.b64" \
  "$URL/simpleenroll" -o "$T/forged.body" -w '%{http_code}' >"$T/code"
[ "$(cat "$T/code")" = 400 ] && grep -q 'does not match' "$T/forged.body" \
  || fail "a foreign tls-unique was accepted on an SRP session: $(cat "$T/code") $(cat "$T/forged.body")"
pass "tls-unique on TLS-SRP sessions: est's PoP linking passes, a foreign binding is refused"
estd_stop

# --- an RSA server key: SRP-RSA, the server certificate is sent and verifiable ------------
D2=$T/rsa
"$ESTD" init "$D2" --key-type rsa-2048 >/dev/null
printf 'sam-secret\n' | "$ESTD" user add "$D2" sam --password-stdin --srp
sed -i 's/^enroll_auth = .*/enroll_auth = srp/' "$D2/estd.conf"
DIR=$D2 estd_start "$D2"
curl -s --cacert "$D2/ca/ca.pem" --tls-max 1.2 --tlsauthtype SRP --tlsuser sam --tlspassword sam-secret \
  -v -o /dev/null -w '%{http_code}' "$URL/csrattrs" >"$T/code" 2>"$T/rsa.v"
[ "$(cat "$T/code")" = 204 ] || fail "SRP-RSA login: $(tail -3 "$T/rsa.v")"
grep -q 'SRP-RSA-AES-256-CBC-SHA' "$T/rsa.v" || fail "RSA server key: expected SRP-RSA: $(grep 'SSL connection' "$T/rsa.v")"
pass "RSA server key: SRP-RSA-AES-256-CBC-SHA, server certificate verified by curl"
estd_stop

# --- srp with tls_min_version = 1.3 cannot work: refused at start --------------------------
sed -i 's/^tls_min_version = .*/tls_min_version = 1.3/' "$D2/estd.conf"
expect_status 1 timeout 20 "$ESTD" serve "$D2" --listen "127.0.0.1:$(free_port)"
one_line_error "^estd: serve: a policy names srp, but TLS-SRP needs TLS 1.2"
pass "a policy naming srp with tls_min_version = 1.3 is refused at start"
