#!/usr/bin/env bash
# `estd pending list|approve|reject` with a running estd in manual approval
# mode: the 202 request is listed, approve issues it (the client's retry
# gets exactly that certificate), reject makes the retry a 403 with the
# reason; repeats are exit 2, contradictions exit 1; the stored CSR is
# checked again against the profile at approval time; bad IDs and reasons.
. "$E2E_LIB/common.sh"
estd_init dev 'pw'
sed -i 's/^approval = auto/approval = manual/' "$DIR/estd.conf"
estd_start "$DIR"
request() { # request NAME: POST $T/NAME.b64; prints the HTTP status, body in $T/NAME.body
  curl -s --cacert "$DIR/ca/ca.pem" --user dev:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/$1.b64" "$URL/simpleenroll" -o "$T/$1.body" -w '%{http_code}'
}
csr() { new_csr "$1" "/CN=$1" "${@:2}"; base64 "$T/$1.der" >"$T/$1.b64"; }

csr alpha
[ "$(request alpha)" = 202 ] || fail "manual approval did not answer 202"
"$ESTD" pending list "$DIR" >"$T/list"
[ "$(wc -l <"$T/list")" = 1 ] || fail "pending list: $(cat "$T/list")"
read -r id status created label requester subject <"$T/list"
[ "$status" = waiting ] && [ "$label" = - ] && [ "$requester" = dev ] && [[ $subject == *CN=alpha* ]] \
  && [[ $created =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] || fail "pending line: $(cat "$T/list")"
"$ESTD" pending approve "$DIR" "$id" >"$T/out" || fail "approve"
serial=$(sed -n 's/^approved request [0-9]*: certificate \([0-9A-F]*\)$/\1/p' "$T/out")
[ -n "$serial" ] || fail "approve output: $(cat "$T/out")"
"$ESTD" cert show "$DIR" "$serial" | grep -q '^requester: dev$' || fail "issued cert lacks the requester"
[ "$(request alpha)" = 200 ] || fail "retry after approval not 200"
p7_to_pem "$T/alpha.body" "$T/alpha.pem"
[ "$(serial_of "$T/alpha.pem")" = "$serial" ] || fail "the retry got another certificate"
[ -z "$("$ESTD" pending list "$DIR")" ] || fail "approved request still listed as waiting"
"$ESTD" pending list "$DIR" --all | grep -q "^$id approved " || fail "--all lacks the approved request"
expect_status 2 "$ESTD" pending approve "$DIR" "$id"
one_line_error "^estd: pending approve: request $id is already approved \(certificate $serial\)$"
expect_status 1 "$ESTD" pending reject "$DIR" "$id"
one_line_error "already approved; revoke certificate $serial instead"
[ "$("$ESTD" certs list "$DIR" | wc -l)" = 1 ] || fail "a second approve issued again"
pass "approve: listed, issued once, the client's retry gets it; repeat = exit 2"

csr beta
[ "$(request beta)" = 202 ] || fail "second request not 202"
id=$("$ESTD" pending list "$DIR" | awk '/CN=beta/ {print $1}')
"$ESTD" pending reject "$DIR" "$id" --reason "unknown device" >/dev/null || fail "reject"
[ "$(request beta)" = 403 ] && grep -q 'unknown device' "$T/beta.body" || fail "rejected retry: $(cat "$T/beta.body")"
expect_status 2 "$ESTD" pending reject "$DIR" "$id"
one_line_error "request $id is already rejected"
expect_status 1 "$ESTD" pending approve "$DIR" "$id"
one_line_error "request $id was rejected"
csr gamma
[ "$(request gamma)" = 202 ] || fail "third request not 202"
id=$("$ESTD" pending list "$DIR" | awk '/CN=gamma/ {print $1}')
"$ESTD" pending reject "$DIR" "$id" >/dev/null || fail "reject without a reason"
[ "$(request gamma)" = 403 ] && grep -q 'rejected by the CA administrator' "$T/gamma.body" || fail "default reason"
pass "reject: the retry is 403 with the reason; repeat = exit 2; approve after reject refused"

csr delta
[ "$(request delta)" = 202 ] || fail "fourth request not 202"
id=$("$ESTD" pending list "$DIR" | awk '/CN=delta/ {print $1}')
# PENDING_REASON_MAX = 200: 201 characters or a line break are refused.
expect_status 1 "$ESTD" pending reject "$DIR" "$id" --reason "$(head -c 201 /dev/zero | tr '\0' r)"
one_line_error -- '--reason: 1-200 characters'
expect_status 1 "$ESTD" pending reject "$DIR" "$id" --reason "$(printf 'two\nlines')"
expect_status 1 "$ESTD" pending reject "$DIR" "$id" --reason ""
for bad in abc 0 1x 99999999999999999999; do
  expect_status 1 "$ESTD" pending approve "$DIR" "$bad"
  one_line_error "^estd: pending approve: ID: '.*' is not a whole number"
done
expect_status 1 "$ESTD" pending approve "$DIR" -1
one_line_error "unknown option '-1'"
expect_status 1 "$ESTD" pending approve "$DIR" 999
one_line_error '^estd: pending approve: no pending request 999$'
expect_status 1 "$ESTD" pending list "$DIR" --reason x
"$ESTD" pending list "$DIR" | grep -q "^$id waiting " || fail "refused commands changed the request"
"$ESTD" pending reject "$DIR" "$id" --reason "$(head -c 200 /dev/zero | tr '\0' r)" >/dev/null \
  || fail "200-character reason refused"
pass "bad IDs and reasons (limit 200 at and past)"

# The stored CSR meets the profile of approval time, not of request time.
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj /CN=epsilon -outform DER \
  -out "$T/epsilon.der" 2>/dev/null
base64 "$T/epsilon.der" >"$T/epsilon.b64"
[ "$(request epsilon)" = 202 ] || fail "RSA request not 202"
id=$("$ESTD" pending list "$DIR" | awk '/CN=epsilon/ {print $1}')
sed -i 's/^min_rsa_bits = 2048/min_rsa_bits = 3072/' "$DIR/estd.conf"
expect_status 1 "$ESTD" pending approve "$DIR" "$id"
one_line_error "^estd: pending approve: request $id: the stored request: .*2048"
"$ESTD" pending list "$DIR" | grep -q "^$id waiting " || fail "a refused approval changed the request"
estd_stop
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event='pending-approve'")" = 1 ] &&
  [ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event='pending-reject'")" = 3 ] \
  || fail "audit: $(sqlite3 "$DIR/estd.db" 'SELECT event FROM audit')"
pass "approval re-checks the CSR against the current profile; audit events"
