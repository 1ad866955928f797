#!/usr/bin/env bash
# `estd ca rollover` (RFC 4210 §4.4): the files afterwards (new root in
# ca.pem, new key, old key kept 0600, extra.pem = OldWithOld, OldWithNew,
# NewWithOld), the links checked with `openssl verify` in both directions,
# /cacerts serving all four with NewWithNew first, issuance under the new
# key, the old TLS certificate still accepted by devices holding either
# root, and a refused rollover (subordinate CA) changing nothing.
. "$E2E_LIB/common.sh"
DIR=$T/estd
"$ESTD" init "$DIR" --key-type ec-p384 >/dev/null
printf 'pw\n' | "$ESTD" user add "$DIR" dev --password-stdin
cp "$DIR/ca/ca.pem" "$T/old.pem"
cp "$DIR/ca/ca.key" "$T/old.key"
estd_start "$DIR"
enroll before /CN=before-rollover dev pw
estd_stop

"$ESTD" ca rollover "$DIR" >"$T/out" || fail "rollover"
cp "$DIR/ca/ca.pem" "$T/nwn.pem"
backup=$(compgen -G "$DIR/ca/ca-old-*.key" | head -1)
[ -n "$backup" ] || fail "old key not kept as ca/ca-old-DATE.key"
[ "$(stat -c %a "$backup")" = 600 ] && [ "$(stat -c %a "$DIR/ca/ca.key")" = 600 ] || fail "key modes"
cmp <(openssl pkey -in "$backup" -pubout) <(openssl pkey -in "$T/old.key" -pubout) || fail "backup is not the old key"
cmp -s <(openssl pkey -in "$DIR/ca/ca.key" -pubout) <(openssl pkey -in "$T/old.key" -pubout) && fail "key unchanged"
cmp <(openssl pkey -in "$DIR/ca/ca.key" -pubout) <(openssl x509 -in "$T/nwn.pem" -noout -pubkey) \
  || fail "ca.key does not match the new ca.pem"
openssl pkey -in "$DIR/ca/ca.key" -noout -text | grep -q 'P-384' || fail "new key lost the old key type"
[ "$(openssl x509 -in "$T/nwn.pem" -noout -subject)" = "$(openssl x509 -in "$T/old.pem" -noout -subject)" ] \
  || fail "the new root changed the subject by default"
openssl verify -CAfile "$T/nwn.pem" "$T/nwn.pem" >/dev/null || fail "NewWithNew is not self-signed"
! compgen -G "$DIR/ca/*.rollover" >/dev/null || fail "staged files left behind"

# extra.pem: OldWithOld, OldWithNew, NewWithOld in that order.
awk -v d="$T" '/BEGIN CERT/{n++} {print > (d "/extra" n ".pem")}' "$DIR/ca/extra.pem"
[ -s "$T/extra3.pem" ] && [ ! -e "$T/extra4.pem" ] || fail "extra.pem does not hold three certificates"
cmp <(openssl x509 -in "$T/extra1.pem" -outform DER) <(openssl x509 -in "$T/old.pem" -outform DER) \
  || fail "extra.pem does not start with the old root"
OWN=$T/extra2.pem NWO=$T/extra3.pem
cmp <(openssl x509 -in "$OWN" -noout -pubkey) <(openssl x509 -in "$T/old.pem" -noout -pubkey) || fail "OldWithNew key"
cmp <(openssl x509 -in "$NWO" -noout -pubkey) <(openssl x509 -in "$T/nwn.pem" -noout -pubkey) || fail "NewWithOld key"
pass "files after the rollover"

# --- the links, checked by openssl ----------------------------------------------
# A device holding only the old root reaches the new key through NewWithOld.
openssl verify -CAfile "$T/old.pem" "$NWO" >/dev/null || fail "NewWithOld does not verify under the old root"
openssl verify -CAfile "$T/old.pem" "$OWN" >/dev/null 2>&1 && fail "OldWithNew verified under the old root"
# A device holding only the new root reaches the old key through OldWithNew.
openssl verify -CAfile "$T/nwn.pem" "$OWN" >/dev/null || fail "OldWithNew does not verify under the new root"
openssl verify -CAfile "$T/nwn.pem" -untrusted "$OWN" "$T/before.pem" >/dev/null \
  || fail "an old certificate does not verify under the new root through OldWithNew"
openssl verify -CAfile "$T/nwn.pem" "$T/before.pem" >/dev/null 2>&1 && fail "old cert verified without the link"
pass "links: NewWithOld under the old root, OldWithNew under the new root"

# --- the server after the rollover -------------------------------------------------
estd_start "$DIR"
curl -sf --cacert "$T/old.pem" "$URL/cacerts" -o "$T/cacerts.b64" || fail "TLS with the old root"
curl -sf --cacert "$T/nwn.pem" "$URL/cacerts" -o /dev/null || fail "TLS with only the new root"
p7_to_pem "$T/cacerts.b64" "$T/cacerts.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts.pem")" = 4 ] || fail "/cacerts does not serve four certificates"
openssl crl2pkcs7 -nocrl -certfile "$T/cacerts.pem" | openssl pkcs7 -print_certs -noout \
  >/dev/null || fail "/cacerts certificates unreadable"
grep -q "$(sed -n 2p "$T/nwn.pem")" "$T/cacerts.pem" || fail "/cacerts lacks NewWithNew"
enroll after /CN=after-rollover dev pw
openssl verify -CAfile "$T/nwn.pem" "$T/after.pem" >/dev/null || fail "new issuance is not under the new key"
openssl verify -CAfile "$T/old.pem" -untrusted "$NWO" "$T/after.pem" >/dev/null \
  || fail "a device with only the old root cannot verify a new certificate through NewWithOld"
openssl verify -CAfile "$T/old.pem" "$T/after.pem" >/dev/null 2>&1 && fail "new cert verified by the old root alone"
# A certificate the old key issued still re-enrolls (its issuer is in extra.pem).
openssl req -new -key "$T/before.key" -subj /CN=before-rollover -outform DER | base64 >"$T/renew.b64"
curl -sf --cacert "$T/old.pem" --cert "$T/before.pem" --key "$T/before.key" -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/renew.b64" "$URL/simplereenroll" -o "$T/renew.p7" || fail "re-enroll with an old certificate"
estd_stop
"$ESTD" crl "$DIR" -o "$T/crl.pem" || fail "crl after rollover"
openssl crl -in "$T/crl.pem" -CAfile "$T/nwn.pem" -verify -noout 2>&1 | grep -q 'verify OK' || fail "CRL not signed by the new key"
pass "server: /cacerts serves four (NewWithNew first), TLS for either root, issuance under the new key"

# --- a second rollover keeps the older links ----------------------------------------
"$ESTD" ca rollover "$DIR" --key-type ec-p256 --ca-subject 'CN=estkit CA G3' >/dev/null || fail "second rollover"
[ "$(grep -c 'BEGIN CERTIFICATE' "$DIR/ca/extra.pem")" = 6 ] || fail "second rollover dropped the older links"
openssl x509 -in "$DIR/ca/ca.pem" -noout -subject | grep -q 'estkit CA G3' || fail "--ca-subject"
openssl pkey -in "$DIR/ca/ca.key" -noout -text | grep -q 'P-256' || fail "--key-type"
[ "$(compgen -G "$DIR/ca/ca-old-*.key" | wc -l)" = 2 ] || fail "second old key not kept beside the first"
estd_start "$DIR"
curl -sf --cacert "$T/old.pem" "$URL/cacerts" -o /dev/null || fail "TLS with the first root after two rollovers"
curl -sf --cacert "$DIR/ca/ca.pem" "$URL/cacerts" -o /dev/null || fail "TLS with the newest root only"
estd_stop
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event='ca-rollover'")" = 2 ] || fail "rollover audit"
pass "second rollover (--key-type, --ca-subject) keeps the older links"

# --- a subordinate CA does not roll over; nothing changes ---------------------------
S=$T/pki; mkdir "$S"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/root.key" \
  -subj /CN=Root -days 100 -out "$S/root.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/int.key" -subj /CN=Int \
  -out "$S/int.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$S/ext"
openssl x509 -req -in "$S/int.csr" -CA "$S/root.pem" -CAkey "$S/root.key" -CAcreateserial -days 50 \
  -extfile "$S/ext" -out "$S/int.pem" 2>/dev/null
"$ESTD" init "$T/sub" --ca-cert "$S/int.pem" --ca-key "$S/int.key" --chain "$S/root.pem" >/dev/null
before=$(cd "$T/sub" && find . -type f ! -name 'estd.db*' -exec sha256sum {} + | sort)
expect_status 1 "$ESTD" ca rollover "$T/sub"
one_line_error 'ca.pem is a subordinate CA: only a root rolls over'
[ "$(cd "$T/sub" && find . -type f ! -name 'estd.db*' -exec sha256sum {} + | sort)" = "$before" ] \
  || fail "a refused rollover changed files"
expect_status 1 "$ESTD" ca rollover "$DIR" --key-type dsa
expect_status 1 "$ESTD" ca rollover "$DIR" --label nosuch
one_line_error "no CA with label 'nosuch'"
expect_status 1 "$ESTD" ca spin "$DIR"
pass "refused rollovers change nothing"
