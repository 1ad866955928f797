#!/usr/bin/env bash
# RSASSA-PSS CA signatures (issue #14, `[ca] signature = pss`): an RSA CA
# whose key is a file, signing through the signer process (the default) and
# with `signer = in-process`, and an RSA CA whose key is on a SoftHSM2
# token: enroll and re-enroll give certificates that `openssl verify`
# accepts and whose signature is rsassaPss (SHA-256, MGF1-SHA-256, salt 32,
# RFC 4055); /fullcmc works (`est` verifies the CMC response, whose
# SignerInfo is rsassaPss, RFC 4056: unit/lib/cmc_response checks that);
# `estd crl` signs an rsassaPss CRL that verifies. An EC CA with
# signature = pss: estd serve refuses to start with one line.
. "$E2E_LIB/server.sh"
. "$E2E_LIB/softhsm.sh"

# is_pss FILE KIND (x509 | crl): the signature is RSASSA-PSS with the RFC 4055 parameters.
is_pss() {
  openssl "$2" -in "$1" -noout -text >"$T/text" || fail "openssl $2 $1"
  grep -q 'Signature Algorithm: rsassaPss' "$T/text" || fail "$1: not rsassaPss: $(grep -m1 'Signature Algorithm' "$T/text")"
  grep -q 'Hash Algorithm: sha256' "$T/text" || fail "$1: PSS hash is not SHA-256"
  grep -q 'Mask Algorithm: mgf1 with sha256' "$T/text" || fail "$1: PSS MGF is not MGF1-SHA-256"
  grep -q 'Salt Length: 0x20' "$T/text" || fail "$1: PSS salt length is not 32"
}

# pss_ca NAME [KEY_URI]: an RSA CA with signature = pss (key file, or KEY_URI on the token).
pss_ca() {
  DIR=$T/$1
  "$ESTD" init "$DIR" --key-type rsa-2048 >/dev/null
  printf 'pw\n' | "$ESTD" user add "$DIR" u --password-stdin
  sed -i 's|^key = ca/ca.key$|&\nsignature = pss|' "$DIR/estd.conf"
  grep -qx 'signature = pss' "$DIR/estd.conf" || fail "$1: no [ca] key line in estd.conf"
  [ -z "${2:-}" ] && return
  softhsm2-util --init-token --free --label "ca-$1" --pin 1234 --so-pin 5678 >/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$DIR/ca/ca.key" -out "$T/$1.p8"
  softhsm2-util --import "$T/$1.p8" --token "ca-$1" --label ca-key --id 01 --pin 1234 >/dev/null
  rm -f "$DIR/ca/ca.key" "$T/$1.p8"
  sed -i "s|^key = ca/ca.key|key = ${2//&/\\&}|" "$DIR/estd.conf"
}

# pss_serves NAME: enroll, re-enroll, fullcmc, CRL; all PSS-signed and verified.
pss_serves() {
  estd_start "$DIR"
  enroll e "/CN=pss-$1" u pw
  openssl verify -CAfile "$DIR/ca/ca.pem" "$T/e.pem" >/dev/null || fail "$1: enroll cert does not verify"
  is_pss "$T/e.pem" x509
  new_csr r "/CN=pss-$1"
  curl -sf --cacert "$DIR/ca/ca.pem" --cert "$T/e.pem" --key "$T/e.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/r.der" "$URL/simplereenroll" \
    -o "$T/r.p7" || fail "$1: re-enroll"
  p7_to_pem "$T/r.p7" "$T/r.pem"
  openssl verify -CAfile "$DIR/ca/ca.pem" "$T/r.pem" >/dev/null || fail "$1: re-enroll cert"
  is_pss "$T/r.pem" x509
  printf 'pw\n' | "$EST" fullcmc --server "$URL" --trust "$DIR/ca/ca.pem" --user u \
    --password-stdin --key "$T/f-$1.key" --subject "/CN=cmc-$1" -o "$T/f.pem" \
    || fail "$1: fullcmc: $(tail -3 "$T/estd.log")"
  openssl verify -CAfile "$DIR/ca/ca.pem" "$T/f.pem" >/dev/null || fail "$1: fullcmc cert"
  is_pss "$T/f.pem" x509
  estd_stop
  "$ESTD" revoke "$DIR" "$(serial_of "$T/e.pem")" >/dev/null 2>"$T/err" || fail "$1: revoke: $(cat "$T/err")"
  "$ESTD" crl "$DIR" -o "$T/crl.pem" 2>"$T/err" || fail "$1: crl: $(cat "$T/err")"
  openssl crl -in "$T/crl.pem" -noout -CAfile "$DIR/ca/ca.pem" 2>&1 | grep -q 'verify OK' \
    || fail "$1: the PSS CRL does not verify"
  is_pss "$T/crl.pem" crl
}

pss_ca file
pss_serves file
pass "RSA key file, signer process: enroll, re-enroll, fullcmc certificates and the CRL are rsassaPss (SHA-256, MGF1-SHA-256, salt 32) and verify"

pss_ca inproc
sed -i 's|^signer = process$|signer = in-process|' "$DIR/estd.conf"
grep -qx 'signer = in-process' "$DIR/estd.conf" || fail "no signer key in estd.conf"
pss_serves inproc
pass "RSA key file, signer = in-process: the same, rsassaPss and verified"

pss_ca token "pkcs11:token=ca-token;object=ca-key?module-path=$MODULE&pin-source=$T/pin"
pss_serves token
pass "RSA key on a PKCS#11 token (CKM_SHA256_RSA_PKCS_PSS): the same, rsassaPss and verified"

DIR=$T/ec
"$ESTD" init "$DIR" --key-type ec-p256 >/dev/null
sed -i 's|^key = ca/ca.key$|&\nsignature = pss|' "$DIR/estd.conf"
expect_status 1 "$ESTD" serve "$DIR" --listen "127.0.0.1:$(free_port)"
one_line_error "^estd: serve: .*signature = pss needs an RSA CA key$"
sed -i 's|^signer = process$|signer = in-process|' "$DIR/estd.conf"
expect_status 1 "$ESTD" serve "$DIR" --listen "127.0.0.1:$(free_port)"
one_line_error "^estd: serve: .*signature = pss needs an RSA CA key$"
sed -i 's|^signature = pss$|signature = rsa-pss|' "$DIR/estd.conf"
expect_status 1 "$ESTD" serve "$DIR" --listen "127.0.0.1:$(free_port)"
one_line_error "^estd: serve: .*estd.conf:[0-9]+: 'rsa-pss' is not one of the allowed values \(pkcs1, "
pass "signature = pss for an EC CA (either signer) and an unknown scheme: estd serve refuses with one line"
