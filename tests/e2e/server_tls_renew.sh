# The server's own TLS certificate, renewed from its CA: `estd tls renew`
# leaves a certificate that is not due alone (exit 2) and renews one that
# is (same key, subject and names, serverAuth, chains to the CA, file
# replaced atomically); `estd serve` renews a certificate due within
# tls_renew_days at start, and serves a certificate renewed by hand to new
# connections without a restart.
. "$E2E_LIB/server.sh"
estd_init
TLS=$DIR/tls/server.pem

# short_lived: a 2-day TLS certificate for the instance's own key.
short_lived() {
  openssl req -new -key "$DIR/tls/server.key" -subj /CN=localhost -out "$T/short.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:est.test\nextendedKeyUsage=serverAuth\n' >"$T/ext"
  openssl x509 -req -in "$T/short.csr" -CA "$CA" -CAkey "$DIR/ca/ca.key" -set_serial 0x2da1 \
    -days 2 -extfile "$T/ext" -out "$T/short.pem" 2>/dev/null
  cat "$T/short.pem" "$CA" >"$TLS"
}
check_renewed() { # the certificate in $TLS is a proper renewal of the short one
  local serial; serial=$(openssl x509 -in "$TLS" -noout -serial)
  [ "$serial" != "serial=2DA1" ] || fail "$TLS was not renewed"
  openssl x509 -in "$TLS" -noout -checkend $((800 * 86400)) >/dev/null || fail "renewed for less than 800 days"
  [ "$(openssl x509 -in "$TLS" -noout -pubkey)" = "$(openssl pkey -in "$DIR/tls/server.key" -pubout)" ] ||
    fail "renewal changed the key"
  [ "$(openssl x509 -in "$TLS" -noout -subject)" = "subject=CN = localhost" ] || fail "subject changed"
  openssl x509 -in "$TLS" -noout -ext subjectAltName | grep -q 'DNS:localhost, IP Address:127.0.0.1, DNS:est.test' ||
    fail "names changed: $(openssl x509 -in "$TLS" -noout -ext subjectAltName)"
  openssl verify -CAfile "$CA" -purpose sslserver "$TLS" >/dev/null || fail "renewed certificate does not verify"
  [ "$(grep -c 'BEGIN CERTIFICATE' "$TLS")" = 2 ] || fail "$TLS lacks the CA certificate after the leaf"
}
served_serial() {
  openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" </dev/null 2>/dev/null | openssl x509 -noout -serial
}

# --- by hand ---
expect_status 2 "$ESTD" tls renew "$DIR"
grep -q 'not due: valid until' "$T/out" || fail "not-due message: $(cat "$T/out")"
short_lived
expect_status 0 "$ESTD" tls renew "$DIR"
grep -q 'renewed, valid until' "$T/out" || fail "renewed message: $(cat "$T/out")"
check_renewed
ls "$DIR/tls" | grep -q tmp && fail "temporary file left in $DIR/tls"
pass "estd tls renew: not due = exit 2; due = renewed (same key and names, 825 days, chain)"
expect_status 1 "$ESTD" tls renew "$DIR" --within 826
one_line_error '^estd: tls renew: '

# --- at start, when due within tls_renew_days ---
short_lived
estd_start "$DIR"
for _ in $(seq 1 50); do
  grep -q 'estd: TLS certificate renewed' "$T/estd.log" && break
  sleep 0.1
done
grep -q 'estd: TLS certificate renewed (due within 30 days)' "$T/estd.log" || fail "serve did not renew"
check_renewed
want=$(openssl x509 -in "$TLS" -noout -serial)
for _ in $(seq 1 50); do [ "$(served_serial)" = "$want" ] && break; sleep 0.1; done
[ "$(served_serial)" = "$want" ] || fail "serve renewed but serves $(served_serial), not $want"
pass "serve renews a due certificate at start and serves it"

# --- by hand while serving: picked up without a restart ---
pid=$ESTD_PID
expect_status 0 "$ESTD" tls renew "$DIR" --force
want=$(openssl x509 -in "$TLS" -noout -serial)
for _ in $(seq 1 50); do [ "$(served_serial)" = "$want" ] && break; sleep 0.1; done
[ "$(served_serial)" = "$want" ] || fail "running estd still serves $(served_serial), not $want"
[ "$ESTD_PID" = "$pid" ] && kill -0 "$pid" || fail "estd restarted"
curl -sf -o /dev/null --cacert "$CA" "$URL/cacerts" || fail "curl against the renewed certificate"
pass "renewed by hand while serving: new connections get it, no restart"
estd_stop
