#!/usr/bin/env bash
# TLS settings (docs/operator.md, "Limits"): by default TLS 1.2 offers only
# ECDHE with AEAD ciphers (a CBC-only client is refused); tls_ciphers,
# tls_ciphersuites and tls_groups change what is offered; a list that
# matches nothing stops estd serve with a one-line error naming the key.
. "$E2E_LIB/server.sh"
estd_init
estd_start "$DIR"

handshake() { # openssl s_client options... -> 0 when the handshake completes
  openssl s_client -connect "127.0.0.1:$PORT" "$@" </dev/null >"$T/s_client" 2>&1
}
handshake -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA && fail "CBC-only TLS 1.2 client accepted by default"
handshake -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384 \
  && fail "CBC (SHA-2) TLS 1.2 client accepted by default"
handshake -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 || fail "AES-GCM TLS 1.2 refused"
handshake -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305 || fail "ChaCha20-Poly1305 TLS 1.2 refused"
handshake -tls1_3 -groups X25519 || fail "TLS 1.3 with X25519 refused"
handshake -tls1_2 -cipher AES128-GCM-SHA256 && fail "TLS 1.2 without forward secrecy accepted"
pass "default: TLS 1.2 AEAD with ECDHE only; TLS 1.3 fine"
estd_stop

sed -i 's/^tls_ciphers = .*/tls_ciphers = ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA/; s/^tls_ciphersuites = .*/tls_ciphersuites = TLS_AES_256_GCM_SHA384/; s/^tls_groups = .*/tls_groups = P-384/' "$DIR/estd.conf"
estd_start "$DIR"
handshake -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA || fail "configured CBC suite refused"
grep -q 'Cipher is ECDHE-ECDSA-AES128-SHA$' "$T/s_client" || fail "not the configured suite: $(grep Cipher "$T/s_client")"
handshake -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305 && fail "suite left out of tls_ciphers accepted"
handshake -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 && fail "TLS 1.3 suite left out of tls_ciphersuites accepted"
handshake -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 || fail "configured TLS 1.3 suite refused"
handshake -tls1_3 -groups X25519 && fail "group left out of tls_groups accepted"
handshake -tls1_3 -groups P-384 || fail "configured group refused"
pass "tls_ciphers, tls_ciphersuites, tls_groups applied"
estd_stop

cp "$DIR/estd.conf" "$T/estd.conf.good"
for setting in 'tls_ciphers = NO-SUCH-CIPHER' 'tls_ciphersuites = TLS_NO_SUCH' 'tls_groups = no-such-group'; do
  key=${setting%% *}
  sed "s/^$key = .*/$setting/" "$T/estd.conf.good" >"$DIR/estd.conf"
  expect_status 1 "$ESTD" serve "$DIR" --listen "127.0.0.1:$(free_port)"
  one_line_error "^estd: serve: $key '"
done
pass "a TLS list matching nothing stops estd serve with one line naming the key"
