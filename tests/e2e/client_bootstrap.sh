#!/usr/bin/env bash
# `est cacerts` against a real estd: the bootstrap of draft-04 §4.1.1 with
# a right and a wrong fingerprint and at a terminal (yes and no), nothing
# written unless accepted, no other command without trust, both dialects and
# URL forms, and a root rollover (§4.1.3: the newest root becomes the anchor,
# the links validate against it).
. "$E2E_LIB/client.sh"

der_of() { openssl x509 -in "$1" -outform DER; }
sha256_of() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

estd_init
estd_start "$DIR"
SERVER=https://127.0.0.1:$PORT
FP=$(sha256_of "$CA")

# --- the right fingerprint, in both spellings and both URL forms ---
run_est fp cacerts --server "$SERVER" --fingerprint "sha256:$FP" -o "$T/trust.pem"
expect_ok fp
cmp <(der_of "$CA") <(der_of "$T/trust.pem") || fail "bootstrap did not write the CA certificate"
[ ! -s "$T/fp.out" ] || fail "-o FILE but output on stdout"
FPC=$(openssl x509 -in "$CA" -noout -fingerprint -sha256 | cut -d= -f2)
run_est fp2 cacerts --server "$URL" --fingerprint "SHA256:$FPC"
expect_ok fp2
cmp <(der_of "$CA") <(openssl x509 -in "$T/fp2.out" -outform DER) || fail "PEM on stdout differs"
pass "bootstrap with the right fingerprint (hex or colon form, short or full URL)"

# --- a wrong fingerprint: refused, nothing written ---
WRONG=$(printf '%s' "$FP" | tr '0-9a-f' '1-9a-f0')
run_est wrongfp cacerts --server "$SERVER" --fingerprint "sha256:$WRONG" -o "$T/wrong.pem"
expect_err wrongfp 1 "127.0.0.1:$PORT: fingerprint mismatch"
grep -qi -- "$(openssl x509 -in "$CA" -noout -fingerprint -sha256 | cut -d= -f2)" "$T/wrongfp.err" \
  || fail "the mismatch message does not show the server's fingerprint"
[ ! -e "$T/wrong.pem" ] || fail "a refused bootstrap wrote its file"
run_est badfp cacerts --server "$SERVER" --fingerprint "sha256:abc" -o "$T/wrong.pem"
expect_err badfp 1 "expected 64 hex digits"
run_est sha1fp cacerts --server "$SERVER" --fingerprint "sha1:$FP" -o "$T/wrong.pem"
expect_err sha1fp 1 "fingerprint must be sha256:HEX"
[ ! -e "$T/wrong.pem" ] || fail "a malformed fingerprint wrote a file"
pass "bootstrap with a wrong or malformed fingerprint: exit 1, nothing written"

# --- --bootstrap asks a person: no terminal, yes, no ---
RC=0
setsid "$EST" cacerts --server "$SERVER" --bootstrap -o "$T/notty.pem" </dev/null \
  >"$T/notty.out" 2>"$T/notty.err" || RC=$?
expect_err notty 1 "no terminal to confirm the CA certificate"
[ ! -e "$T/notty.pem" ] || fail "bootstrap without a terminal wrote a file"
printf 'y\n' | script -qec "'$EST' cacerts --server '$SERVER' --bootstrap -o '$T/tty.pem'" /dev/null \
  >"$T/tty.out" || fail "bootstrap answered 'y' failed: $(cat "$T/tty.out")"
grep -q "SHA-256: $FPC" "$T/tty.out" || fail "the prompt does not show the SHA-256 fingerprint"
grep -q "SHA-1:" "$T/tty.out" || fail "the prompt does not show the SHA-1 fingerprint"
cmp <(der_of "$CA") <(der_of "$T/tty.pem") || fail "'y' did not write the CA certificate"
RC=0
printf 'n\n' | script -qec "'$EST' cacerts --server '$SERVER' --bootstrap -o '$T/no.pem'" /dev/null \
  >"$T/no.out" || RC=$?
grep -q "CA certificate not accepted" "$T/no.out" || fail "'n' was not refused: $(cat "$T/no.out")"
[ ! -e "$T/no.pem" ] || fail "'n' wrote the trust file"
pass "--bootstrap: refused without a terminal, 'y' writes, 'n' does not"

# --- with trust: both dialects; nothing else runs without trust ---
run_est rfc cacerts --server "$SERVER" --trust "$T/trust.pem" -o "$T/rfc.pem"
expect_ok rfc
run_est draft cacerts --server "$SERVER" --trust "$T/trust.pem" --dialect draft -o "$T/draft.pem"
expect_ok draft
cmp "$T/rfc.pem" "$T/draft.pem" || fail "the dialects gave different certificates"
grep -q '"GET /.well-known/est/CACerts"' "$T/estd.log" || fail "--dialect draft did not ask /CACerts"
run_est notrust csrattrs --server "$SERVER"
expect_err notrust 1 "--trust FILE is required"
run_est both cacerts --server "$SERVER" --trust "$T/trust.pem" --bootstrap
expect_err both 1 "drop --trust"
pass "cacerts with --trust in both dialects; no trust, no other command"

# --- rollover: the new root is the anchor; old trust still works ---
estd_stop
"$ESTD" ca rollover "$DIR" >/dev/null
estd_start "$DIR"
SERVER=https://127.0.0.1:$PORT
NEW_FP=$(sha256_of "$CA")
[ "$NEW_FP" != "$FP" ] || fail "rollover did not change the root"
run_est roll cacerts --server "$SERVER" --trust "$T/trust.pem" -o "$T/roll.pem"
expect_ok roll
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/roll.pem")" = 4 ] || fail "rollover set is not 4 certificates"
[ "$(sha256_of "$T/roll.pem")" = "$NEW_FP" ] || fail "the anchor (first) is not the new root"
run_est rollfp cacerts --server "$SERVER" --fingerprint "sha256:$NEW_FP" -o "$T/rollfp.pem"
expect_ok rollfp
cmp "$T/roll.pem" "$T/rollfp.pem" || fail "bootstrapped set differs from the authenticated one"
# The old root's fingerprint no longer names the anchor.
run_est oldfp cacerts --server "$SERVER" --fingerprint "sha256:$FP" -o "$T/oldfp.pem"
expect_err oldfp 1 "fingerprint mismatch"
run_est rolltrust cacerts --server "$SERVER" --trust "$T/roll.pem"
expect_ok rolltrust
pass "rollover: four certificates, newest root first, old and new trust both work"
