#!/usr/bin/env bash
# One-time enrollment codes (challenge_password = one-time-code, docs/design.md §2):
# `estd otp add` prints a code once and stores only its hash; a CSR whose
# challengePassword is that code enrolls once. A second use, a wrong,
# missing or expired code, and a subject-bound code used for another
# subject are refused with 403, audited, and leave no certificate behind.
. "$E2E_LIB/server.sh"
estd_init alice 'pw'
sed -i 's/^challenge_password = .*/challenge_password = one-time-code/' "$DIR/estd.conf"
estd_start "$DIR"

# otp_csr NAME CN [CODE]: a CSR for a fresh key, CODE in challengePassword.
# openssl reads -config twice: it must be a real file, not a pipe.
otp_csr() {
  local name=$1 cn=$2 code=${3:-}
  {
    printf '[req]\ndistinguished_name=dn\nprompt=no\n'
    [ -n "$code" ] && printf 'attributes=attrs\n[attrs]\nchallengePassword=%s\n' "$code"
    printf '[dn]\nCN=%s\n' "$cn"
  } >"$T/$name.cnf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$name.key" \
    -config "$T/$name.cnf" -outform DER -out "$T/$name.der" 2>/dev/null || fail "csr $name"
  base64 "$T/$name.der" >"$T/$name.b64"
}

# post NAME: /simpleenroll with Basic; prints the HTTP status, body in $T/NAME.p7.
post() {
  curl -s --cacert "$CA" --user alice:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/$1.b64" "$URL/simpleenroll" -o "$T/$1.p7" -w '%{http_code}'
}

# refused NAME PATTERN: 403 with PATTERN in the body and no new certificate.
refused() {
  local before status
  before=$(store_count)
  status=$(post "$1")
  [ "$status" = 403 ] || fail "$1: status $status, expected 403: $(cat "$T/$1.p7")"
  grep -q -- "$2" "$T/$1.p7" || fail "$1: body '$(cat "$T/$1.p7")' lacks '$2'"
  [ "$(store_count)" = "$before" ] || fail "$1: a refused request left a certificate"
}

# --- a code works once ---
code=$("$ESTD" otp add "$DIR")
[[ "$code" =~ ^[A-Z2-7]{20}$ ]] || fail "code '$code' is not 20 base32 characters"
otp_csr first device-1 "$code"
[ "$(post first)" = 200 ] || fail "enroll with a fresh code: $(cat "$T/first.p7")"
p7_to_pem "$T/first.p7" "$T/first.pem"
openssl verify -CAfile "$CA" "$T/first.pem" >/dev/null || fail "issued cert does not verify"
otp_csr again device-2 "$code"
refused again "one-time enrollment code not valid"
pass "a code enrolls once; its second use is refused"

# --- the code is nowhere in the store; list shows who used it ---
! grep -qa -- "$code" "$DIR"/estd.db* || fail "the code itself is in the store"
serial=$(serial_of "$T/first.pem")
"$ESTD" otp list "$DIR" >"$T/list"
grep -Eq "^1 - any [0-9T:-]+Z used:[0-9T:-]+Z:$serial\$" "$T/list" || fail "list: $(cat "$T/list")"
pass "only a hash is stored; otp list names the certificate the code bought"

# --- wrong and missing codes ---
otp_csr wrong device-3 ABCDEFGHIJKLMNOPQRST
refused wrong "one-time enrollment code not valid"
otp_csr missing device-3
refused missing "one-time enrollment code missing"
pass "wrong and missing codes are refused"

# --- expired: a code whose expiry has passed ---
code2=$("$ESTD" otp add "$DIR" --days 1)
sqlite3 "$DIR/estd.db" 'UPDATE otp SET expires_at = strftime("%s", "now") - 1 WHERE id = 2'
otp_csr expired device-4 "$code2"
refused expired "one-time enrollment code not valid"
"$ESTD" otp list "$DIR" | grep -Eq '^2 - any .* expired$' || fail "list does not say expired"
pass "an expired code is refused"

# --- a subject-bound code: refused for another subject, and stays unused ---
code3=$("$ESTD" otp add "$DIR" --subject "CN=device-5" --days 30)
otp_csr other device-6 "$code3"
refused other "one-time enrollment code not valid"
"$ESTD" otp list "$DIR" | grep -Eq '^3 - CN=device-5 .* unused$' || fail "bound code not unused"
otp_csr bound device-5 "$code3"
[ "$(post bound)" = 200 ] || fail "enroll with a subject-bound code: $(cat "$T/bound.p7")"
pass "a subject-bound code enrolls only that subject"

# --- the refusals and additions are audited, with the reason ---
audit() { sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event = '$1' AND detail LIKE '$2'"; }
[ "$(audit otp-add 'code %, expires %')" = 3 ] || fail "otp add not audited"
[ "$(audit otp-refused '%already used%')" = 1 ] || fail "reuse not audited"
[ "$(audit otp-refused '%no such code%')" = 1 ] || fail "wrong code not audited"
[ "$(audit otp-refused '%expired%')" = 1 ] || fail "expiry not audited"
[ "$(audit otp-refused '%valid only for subject%')" = 1 ] || fail "subject not audited"
[ "$(audit otp-use 'code %: issued')" = 2 ] || fail "use not audited"
[ "$(audit reject '%one-time enrollment code missing%')" = 1 ] || fail "missing not audited"
pass "additions, uses and refusals are audited"

# --- admin errors ---
expect_status 1 "$ESTD" otp add "$DIR" --label nosuch
one_line_error "no CA with label 'nosuch'"
expect_status 1 "$ESTD" otp add "$DIR" --days 0
one_line_error "--days: '0' is not a whole number from 1 to 3650"
expect_status 1 "$ESTD" otp add "$DIR" --subject "nonsense"
one_line_error "--subject"
[ "$(sqlite3 "$DIR/estd.db" 'SELECT count(*) FROM otp')" = 3 ] || fail "a failed add stored a code"
pass "otp add refuses unknown labels, bad --days and bad subjects"

estd_stop
