#!/usr/bin/env bash
# A CA key on a PKCS#11 token (issue #14), SoftHSM2 in a temp dir
# (SOFTHSM2_CONF): for ec-p256, ec-p384 and rsa-2048 CAs, the key `estd
# init` made is imported into the token and deleted from disk, estd.conf
# names it with an RFC 7512 URI (module-path, pin-source), and estd serve's
# signer process signs through the token: enroll (Basic), re-enroll (TLS
# client certificate), /fullcmc with `est` (the CMC response is a CMS
# signature by the token key). The token failing mid-run (its files moved
# away): 503 + Retry-After, no crash, 200 again when it is back. A wrong
# PIN, a URI that names no key, a PIN file others may read: estd serve
# refuses to start with one line. `estd revoke` + `estd crl` sign the CRL
# through the token (openssl verifies it and sees the revocation);
# `estd ca rollover --new-key pkcs11:...` rolls over to another token key:
# NewWithOld signed by the old and OldWithNew by the new token key, checked
# by openssl, old device certificates verify through OldWithNew, serve
# issues under the new root.
# `estd init --ca-key pkcs11:...` makes a root for a key already on the token,
# with --generate-on-token for a key pair it first generates there, and with
# --ca-cert FILE a subordinate CA whose key is on the token.
. "$E2E_LIB/server.sh"
. "$E2E_LIB/softhsm.sh"

serve_refuses() {
  expect_status 1 "$ESTD" serve "$DIR" --listen "127.0.0.1:$(free_port)"
  one_line_error "^estd: serve: $1"
}

for kt in ec-p256 ec-p384 rsa-2048; do
  DIR=$T/$kt
  "$ESTD" init "$DIR" --key-type "$kt" >/dev/null
  printf 'pw\n' | "$ESTD" user add "$DIR" u --password-stdin
  softhsm2-util --init-token --free --label "ca-$kt" --pin 1234 --so-pin 5678 >/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$DIR/ca/ca.key" -out "$T/$kt.p8"
  softhsm2-util --import "$T/$kt.p8" --token "ca-$kt" --label ca-key --id 01 --pin 1234 >/dev/null
  rm -f "$DIR/ca/ca.key" "$T/$kt.p8"
  uri="pkcs11:token=ca-$kt;object=ca-key?module-path=$MODULE&pin-source=$T/pin"
  sed -i "s|^key = ca/ca.key|key = ${uri//&/\\&}|" "$DIR/estd.conf"  # & is sed's match
  estd_start "$DIR"
  enroll e "/CN=token-$kt" u pw
  openssl verify -CAfile "$DIR/ca/ca.pem" "$T/e.pem" >/dev/null || fail "$kt: enroll cert"
  new_csr r "/CN=token-$kt"
  curl -sf --cacert "$DIR/ca/ca.pem" --cert "$T/e.pem" --key "$T/e.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/r.der" "$URL/simplereenroll" \
    -o "$T/r.p7" || fail "$kt: re-enroll"
  p7_to_pem "$T/r.p7" "$T/r.pem"
  openssl verify -CAfile "$DIR/ca/ca.pem" "$T/r.pem" >/dev/null || fail "$kt: re-enroll cert"
  printf 'pw\n' | "$EST" fullcmc --server "$URL" --trust "$DIR/ca/ca.pem" --user u \
    --password-stdin --key "$T/f-$kt.key" --subject "/CN=cmc-$kt" -o "$T/f.pem" \
    || fail "$kt: fullcmc: $(tail -3 "$T/estd.log")"
  openssl verify -CAfile "$DIR/ca/ca.pem" "$T/f.pem" >/dev/null || fail "$kt: fullcmc cert"
  estd_stop
  pass "$kt CA key on the token: enroll, re-enroll, fullcmc (CMS response signed by the token)"
done

# --- estd init for a key already on the token ----------------------------------------
# token_root DIR URI: init made a self-signed root, no key file, estd.conf names URI.
token_root() {
  [ ! -e "$1/ca/ca.key" ] || fail "init wrote a key file for a token key ($1)"
  grep -qxF "key = $2" "$1/estd.conf" || fail "estd.conf does not name the token key ($1)"
  openssl verify -CAfile "$1/ca/ca.pem" "$1/ca/ca.pem" >/dev/null || fail "root self-signature ($1)"
}
# token_serves DIR NAME: estd serve in DIR issues a certificate under its root.
token_serves() {
  local saved=$DIR
  printf 'pw\n' | "$ESTD" user add "$1" u --password-stdin
  DIR=$1
  estd_start "$1"
  enroll "$2" "/CN=$2" u pw
  openssl verify -CAfile "$1/ca/ca.pem" "$T/$2.pem" >/dev/null || fail "enroll under the token root ($1)"
  estd_stop
  DIR=$saved
}
softhsm2-util --init-token --free --label ca-init --pin 1234 --so-pin 5678 >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/init.key" 2>/dev/null
openssl pkey -in "$T/init.key" -pubout -out "$T/init.pub"
softhsm2-util --import "$T/init.key" --token ca-init --label root --id 02 --pin 1234 >/dev/null
rm -f "$T/init.key"
IDIR=$T/init
uri="pkcs11:token=ca-init;object=root?module-path=$MODULE&pin-source=$T/pin"
"$ESTD" init "$IDIR" --ca-key "$uri" >/dev/null 2>"$T/err" || fail "init on the token: $(cat "$T/err")"
token_root "$IDIR" "$uri"
openssl x509 -in "$IDIR/ca/ca.pem" -noout -pubkey | cmp -s - "$T/init.pub" \
  || fail "the new root is not for the token's key"
token_serves "$IDIR" init-token
pass "estd init --ca-key pkcs11:...: a root for the token's P-384 key, no key file; serve issues"

# --- estd init --generate-on-token: the key pair is made on the token ---------------
softhsm2-util --init-token --free --label ca-gen --pin 1234 --so-pin 5678 >/dev/null
for kt in ec-p384 rsa-2048; do
  GDIR=$T/gen-$kt
  guri="pkcs11:token=ca-gen;object=root-$kt?module-path=$MODULE&pin-source=$T/pin"
  "$ESTD" init "$GDIR" --ca-key "$guri" --generate-on-token --key-type "$kt" >/dev/null 2>"$T/err" \
    || fail "init --generate-on-token $kt: $(cat "$T/err")"
  token_root "$GDIR" "$guri"
  case $kt in
    ec-p384) want='NIST CURVE: P-384' ;; rsa-2048) want='Public-Key: (2048 bit)' ;;
  esac
  openssl x509 -in "$GDIR/ca/ca.pem" -noout -text | grep -q "$want" || fail "$kt: root key is not $kt"
  p11tool --provider "$MODULE" --login --set-pin=1234 --list-all-privkeys "pkcs11:token=ca-gen;object=root-$kt" \
    2>/dev/null | grep -q 'CKA_NEVER_EXTRACTABLE' || fail "$kt: the generated key is extractable"
  token_serves "$GDIR" "gen-$kt"
done
expect_status 1 "$ESTD" init "$T/gen-again" --ca-key "$guri" --generate-on-token
one_line_error "^estd: init: .*pkcs11: the URI already names a private key$"
[ ! -e "$T/gen-again" ] || fail "a refused init left its directory"
expect_status 1 "$ESTD" init "$T/gen-nokey" --generate-on-token
one_line_error "^estd: init: --generate-on-token needs --ca-key pkcs11:URI"
pass "estd init --generate-on-token: P-384 and RSA-2048 pairs made on the token (never extractable), serve issues; an existing key is refused"

# --- estd init --ca-cert FILE --ca-key pkcs11:...: a subordinate CA, its key on the token
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/up.key" -out "$T/up.pem" \
  -subj /CN=Upstream-Root -days 30 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/sub.key" 2>/dev/null
openssl req -new -key "$T/sub.key" -subj /CN=Token-Sub-CA -out "$T/sub.csr"
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$T/sub.ext"
openssl x509 -req -in "$T/sub.csr" -CA "$T/up.pem" -CAkey "$T/up.key" -CAcreateserial -days 20 \
  -extfile "$T/sub.ext" -out "$T/sub.pem" 2>/dev/null
softhsm2-util --init-token --free --label ca-sub --pin 1234 --so-pin 5678 >/dev/null
softhsm2-util --import "$T/sub.key" --token ca-sub --label sub --id 04 --pin 1234 >/dev/null
rm -f "$T/sub.key"
SDIR=$T/sub
suri="pkcs11:token=ca-sub;object=sub?module-path=$MODULE&pin-source=$T/pin"
expect_status 1 "$ESTD" init "$T/sub-wrong" --ca-cert "$T/sub.pem" --chain "$T/up.pem" --ca-key "$guri"
one_line_error "^estd: init: .*the key does not match the certificate"
[ ! -e "$T/sub-wrong" ] || fail "a refused init left its directory"
"$ESTD" init "$SDIR" --ca-cert "$T/sub.pem" --chain "$T/up.pem" --ca-key "$suri" >/dev/null 2>"$T/err" \
  || fail "init --ca-cert with a token key: $(cat "$T/err")"
[ ! -e "$SDIR/ca/ca.key" ] || fail "subordinate: init wrote a key file for a token key"
grep -qxF "key = $suri" "$SDIR/estd.conf" || fail "subordinate: estd.conf does not name the token key"
cmp -s "$SDIR/ca/ca.pem" "$T/sub.pem" || fail "subordinate: ca.pem is not the given certificate"
printf 'pw\n' | "$ESTD" user add "$SDIR" u --password-stdin
SAVED_DIR=$DIR; DIR=$SDIR
estd_start "$SDIR"
enroll s "/CN=under-token-sub" u pw
estd_stop
DIR=$SAVED_DIR
openssl verify -CAfile "$T/up.pem" -untrusted "$T/sub.pem" "$T/s.pem" >/dev/null \
  || fail "subordinate: the issued certificate does not chain to the upstream root"
openssl verify -CAfile "$T/up.pem" -untrusted "$T/sub.pem" "$SDIR/tls/server.pem" >/dev/null \
  || fail "subordinate: the TLS certificate (signed on the token) does not chain"
pass "estd init --ca-cert FILE --ca-key pkcs11:...: subordinate CA whose key is on the token issues; a key that is not the certificate's is refused"

# --- the token fails mid-run (its files vanish: SoftHSM's C_Sign errors) -------------
estd_start "$DIR"
post() {
  new_csr m /CN=mid-run
  curl -s --max-time 20 --cacert "$DIR/ca/ca.pem" --user u:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/m.der" "$URL/simpleenroll" -D "$T/m.h" -o /dev/null -w '%{http_code}'
}
[ "$(post)" = 200 ] || fail "before the token fails"
mv "$T/tokens" "$T/tokens.away"
# SoftHSM may answer from memory for a moment; from its first error on,
# every request must get 503 + Retry-After while the token is away.
codes=
for i in 1 2 3 4; do
  code=$(post)
  codes="$codes $code"
  case "$codes" in *503*) [ "$code" = 503 ] || fail "token gone: after a 503, got $code ($codes)"
    grep -qi '^Retry-After: ' "$T/m.h" || fail "503 without Retry-After" ;; esac
  [ "$code" = 200 ] || [ "$code" = 503 ] || fail "token gone: got $code ($codes)"
  sleep 1.1 # restarts are at most one a second
done
case "$codes" in *503\ 503*) ;; *) fail "token gone: not 503 twice in a row ($codes)" ;; esac
estd_alive
mv "$T/tokens.away" "$T/tokens"
# Restarts are paced (one a second, a few per minute: keyproc_client.c); the
# failed ones during the outage may have used the minute's budget, so
# recovery may take until the window ends. Only 503s are allowed meanwhile.
code=503
for _ in $(seq 1 70); do
  sleep 1.1
  code=$(post)
  [ "$code" = 503 ] || break
done
[ "$code" = 200 ] || fail "no recovery when the token came back: $code"
grep -q 'signer: token failed: pkcs11: C_Sign' "$T/estd.log" || fail "token failure not logged"
grep -q 'signer: restart [0-9]* failed: pkcs11:' "$T/estd.log" || fail "failed restart not logged"
grep -q 'signer: restarted as process' "$T/estd.log" || fail "restart not logged"
estd_stop
pass "token failing mid-run: 503 + Retry-After, logged, estd alive; 200 again when it returns"

sed -i "s|pin-source=$T/pin|pin-value=4321|" "$DIR/estd.conf"
serve_refuses "pkcs11: C_Login: wrong PIN$"
sed -i "s|pin-value=4321|pin-source=$T/pin|; s|object=ca-key|object=no-such-key|" "$DIR/estd.conf"
serve_refuses "pkcs11: the URI names no private key$"
sed -i "s|object=no-such-key|object=ca-key|" "$DIR/estd.conf"
chmod 644 "$T/pin"
serve_refuses "pkcs11: pin-source: .*/pin: mode 0644 .*chmod 600"
chmod 600 "$T/pin"
pass "wrong PIN, no such key, a PIN file others may read: estd serve refuses with one line"

# --- administration commands sign in-process through the token --------------------
serial=$(serial_of "$T/e.pem")
"$ESTD" revoke "$DIR" "$serial" >/dev/null 2>"$T/err" || fail "revoke: $(cat "$T/err")"
"$ESTD" crl "$DIR" -o "$T/crl.pem" 2>"$T/err" || fail "crl with a token key: $(cat "$T/err")"
openssl crl -in "$T/crl.pem" -noout -CAfile "$DIR/ca/ca.pem" 2>&1 | grep -q 'verify OK' \
  || fail "the token-signed CRL does not verify"
openssl crl -in "$T/crl.pem" -noout -text | grep -qi "serial number: *$serial" \
  || fail "the CRL lacks the revoked serial"
verdict=$(openssl verify -crl_check -CAfile "$DIR/ca/ca.pem" -CRLfile "$T/crl.pem" "$T/e.pem" 2>&1 || true)
grep -q 'certificate revoked' <<<"$verdict" || fail "openssl does not see the revocation: $verdict"
pass "estd revoke + estd crl with the token key (rsa-2048): the CRL verifies and revokes"

# --- estd ca rollover to another token key -----------------------------------------
expect_status 1 "$ESTD" ca rollover "$DIR"
one_line_error "^estd: ca rollover: the CA key .* is on a PKCS#11 token: name the new token key with --new-key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/new.key" 2>/dev/null
openssl pkey -in "$T/new.key" -pubout -out "$T/new.pub"
softhsm2-util --import "$T/new.key" --token ca-rsa-2048 --label ca-key-2 --id 03 --pin 1234 >/dev/null
rm -f "$T/new.key"
new_uri="pkcs11:token=ca-rsa-2048;object=ca-key-2?module-path=$MODULE&pin-source=$T/pin"
cp "$DIR/ca/ca.pem" "$T/old.pem"
cp "$DIR/estd.conf" "$T/estd.conf.before"
"$ESTD" ca rollover "$DIR" --new-key "$new_uri" --ca-subject 'CN=Token Root G2' >"$T/out" 2>"$T/err" \
  || fail "rollover to a token key: $(cat "$T/err")"
[ ! -e "$DIR/ca/ca.key" ] && ! compgen -G "$DIR/ca/ca-old-*" >/dev/null && ! compgen -G "$DIR/*.rollover" \
  >/dev/null && ! compgen -G "$DIR/ca/*.rollover" >/dev/null || fail "rollover wrote key files or left staged files"
grep -qxF "key = $new_uri" "$DIR/estd.conf" || fail "estd.conf does not name the new token key"
diff <(grep -v '^key = ' "$T/estd.conf.before") <(grep -v '^key = ' "$DIR/estd.conf") >/dev/null \
  || fail "the rollover changed more of estd.conf than the key"
openssl x509 -in "$DIR/ca/ca.pem" -noout -pubkey | cmp -s - "$T/new.pub" || fail "the new root is not for the new token key"
openssl verify -CAfile "$DIR/ca/ca.pem" "$DIR/ca/ca.pem" >/dev/null || fail "NewWithNew self-signature"
awk -v d="$T" '/BEGIN CERT/{n++} {print > (d "/x" n ".pem")}' "$DIR/ca/extra.pem"
OWN=$T/x2.pem NWO=$T/x3.pem
openssl verify -CAfile "$T/old.pem" "$NWO" >/dev/null || fail "NewWithOld (old token key) does not verify under the old root"
openssl verify -CAfile "$DIR/ca/ca.pem" "$OWN" >/dev/null || fail "OldWithNew (new token key) does not verify under the new root"
openssl verify -CAfile "$DIR/ca/ca.pem" -untrusted "$OWN" "$T/r.pem" >/dev/null \
  || fail "an old device certificate does not verify under the new root through OldWithNew"
openssl verify -CAfile "$DIR/ca/ca.pem" "$T/r.pem" >/dev/null 2>&1 && fail "old cert verified without the link"
estd_start "$DIR"
enroll n "/CN=after-token-rollover" u pw
openssl verify -CAfile "$DIR/ca/ca.pem" "$T/n.pem" >/dev/null || fail "enroll after the rollover: not under the new root"
openssl verify -CAfile "$T/old.pem" -untrusted "$NWO" "$T/n.pem" >/dev/null \
  || fail "a device with only the old root cannot verify a new certificate through NewWithOld"
estd_stop
expect_status 1 "$ESTD" ca rollover "$DIR" --new-key "$new_uri"
one_line_error "^estd: ca rollover: the new key is the old key$"
pass "ca rollover to a token key: links signed by the old and new token keys, estd.conf names the new key, serve issues under it"
