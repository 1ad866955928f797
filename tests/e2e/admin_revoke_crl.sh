#!/usr/bin/env bash
# `estd certs list`, `estd cert show`, `estd revoke`, `estd crl` on
# certificates a running estd issued (curl enrollments): listing and
# --expiring, show by serial in any case, revoke with reasons (exit 2 when
# already revoked), a CRL that `openssl crl -verify` accepts, with a
# growing CRL number, that makes `openssl verify -crl_check` refuse the
# revoked certificate and accept the others.
. "$E2E_LIB/common.sh"
estd_init dev 'pw'
estd_start "$DIR"
for n in 1 2 3; do enroll "dev$n" "/CN=device-$n/O=Example" dev pw; done
estd_stop
s1=$(serial_of "$T/dev1.pem"); s2=$(serial_of "$T/dev2.pem"); s3=$(serial_of "$T/dev3.pem")

# --- certs list ---------------------------------------------------------------
"$ESTD" certs list "$DIR" >"$T/list" || fail "certs list"
[ "$(wc -l <"$T/list")" = 3 ] || fail "certs list: $(cat "$T/list")"
for n in 1 2 3; do
  s=$(serial_of "$T/dev$n.pem")
  grep -Eq "^$s valid [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z O=Example,CN=device-$n$" "$T/list" \
    || fail "certs list lacks dev$n: $(cat "$T/list")"
done
# The subject is RFC 2253 text (last RDN first); the date is the certificate's notAfter.
na=$(date -u -d "$(openssl x509 -in "$T/dev1.pem" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
grep -q "^$s1 valid $na " "$T/list" || fail "not-after of dev1 is not $na: $(cat "$T/list")"
[ "$("$ESTD" certs list "$DIR" --expiring 400 | wc -l)" = 3 ] || fail "--expiring 400"
[ "$("$ESTD" certs list "$DIR" --expiring 30 | wc -l)" = 0 ] || fail "--expiring 30 lists 365-day certs"
expect_status 1 "$ESTD" certs list "$DIR" --expiring -1
one_line_error '^estd: certs list: --expiring'
expect_status 1 "$ESTD" certs list "$DIR" --expiring soon
pass "certs list (serial, status, not-after, subject; --expiring)"

# --- cert show ----------------------------------------------------------------
"$ESTD" cert show "$DIR" "$s2" >"$T/show" || fail "cert show"
cmp <(openssl x509 -in "$T/show" -outform DER) <(openssl x509 -in "$T/dev2.pem" -outform DER) \
  || fail "cert show prints another certificate"
grep -q "^serial: $s2$" "$T/show" && grep -q '^status: valid$' "$T/show" && grep -q '^requester: dev$' "$T/show" \
  && grep -q '^operation: enroll$' "$T/show" || fail "cert show summary: $(cat "$T/show")"
lower=$(echo "$s2" | tr 'A-F' 'a-f')
"$ESTD" cert show "$DIR" "$lower" | grep -q "^serial: $s2$" || fail "lowercase serial"
"$ESTD" cert show "$DIR" "serial=$s2" | grep -q "^serial: $s2$" || fail "serial= prefix"
expect_status 1 "$ESTD" cert show "$DIR" 0123456789ABCDEF
one_line_error '^estd: cert show: no certificate with serial 0123456789ABCDEF$'
expect_status 1 "$ESTD" cert show "$DIR" not-hex
one_line_error "^estd: cert show: 'not-hex' is not a serial number"
expect_status 1 "$ESTD" cert show "$DIR" "$(printf 'A%.0s' $(seq 41))"
one_line_error 'is not a serial number'
pass "cert show (any case, serial= prefix, unknown and malformed serials)"

# --- revoke -----------------------------------------------------------------------
"$ESTD" revoke "$DIR" "$lower" --reason keyCompromise >/dev/null || fail "revoke"
expect_status 2 "$ESTD" revoke "$DIR" "$s2"
one_line_error "^estd: revoke: certificate $s2 is already revoked$"
"$ESTD" revoke "$DIR" "$s3" >/dev/null || fail "revoke without a reason"
expect_status 1 "$ESTD" revoke "$DIR" "$s1" --reason bogus
one_line_error "^estd: revoke: unknown revocation reason 'bogus'"
expect_status 1 "$ESTD" revoke "$DIR" "$s1" --reason removeFromCRL
one_line_error 'delta CRLs'
expect_status 1 "$ESTD" revoke "$DIR" ABCDEF
one_line_error '^estd: revoke: no certificate with serial ABCDEF$'
"$ESTD" certs list "$DIR" >"$T/list"
grep -q "^$s1 valid " "$T/list" && grep -q "^$s2 revoked " "$T/list" && grep -q "^$s3 revoked " "$T/list" \
  || fail "statuses after revoke: $(cat "$T/list")"
"$ESTD" cert show "$DIR" "$s2" | grep -q '^status: revoked$' || fail "show: not revoked"
"$ESTD" cert show "$DIR" "$s2" | grep -q '^revocation-reason: 1$' || fail "show: reason"
[ "$("$ESTD" certs list "$DIR" --expiring 400 | wc -l)" = 1 ] || fail "--expiring lists revoked certs"
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event='revoke'")" = 2 ] || fail "revoke audit"
pass "revoke (reasons, already revoked = exit 2, unknown serial)"

# --- certs list filters (s2 and s3 are revoked now) -------------------------------
[ "$("$ESTD" certs list "$DIR" --status revoked | cut -d' ' -f1 | sort)" = "$(printf '%s\n' "$s2" "$s3" | sort)" ] \
  || fail "--status revoked"
[ "$("$ESTD" certs list "$DIR" --status valid | cut -d' ' -f1)" = "$s1" ] || fail "--status valid"
[ "$("$ESTD" certs list "$DIR" --status expired | wc -l)" = 0 ] || fail "--status expired"
[ "$("$ESTD" certs list "$DIR" --contains DEVICE-3 | cut -d' ' -f1)" = "$s3" ] || fail "--contains"
[ "$("$ESTD" certs list "$DIR" --contains nobody | wc -l)" = 0 ] || fail "--contains nobody"
[ "$("$ESTD" certs list "$DIR" --limit 2 | wc -l)" = 2 ] || fail "--limit 2"
[ "$("$ESTD" certs list "$DIR" --issued-since 2000-01-01 | wc -l)" = 3 ] || fail "--issued-since past"
[ "$("$ESTD" certs list "$DIR" --issued-since "$(date -u -d tomorrow +%F)" | wc -l)" = 0 ] \
  || fail "--issued-since tomorrow"
expect_status 1 "$ESTD" certs list "$DIR" --status lost
one_line_error '^estd: certs list: --status is valid, revoked or expired'
expect_status 1 "$ESTD" certs list "$DIR" --issued-since yesterday
one_line_error '^estd: certs list: --issued-since is a day'
expect_status 1 "$ESTD" certs list "$DIR" --limit 0
one_line_error '^estd: certs list: --limit'
[ "$("$ESTD" certs list "$DIR" --limit 1000000000 | wc -l)" = 3 ] || fail "--limit at its maximum"
expect_status 1 "$ESTD" certs list "$DIR" --limit 1000000001
[ "$("$ESTD" certs list "$DIR" --contains "$(printf 'x%.0s' $(seq 256))" | wc -l)" = 0 ] \
  || fail "--contains of 256 characters"
expect_status 1 "$ESTD" certs list "$DIR" --contains "$(printf 'x%.0s' $(seq 257))"
one_line_error '^estd: certs list: --contains is 1-256 characters'
pass "certs list filters (--status, --contains, --limit, --issued-since)"

# --- crl ------------------------------------------------------------------------------
"$ESTD" crl "$DIR" -o "$T/crl1.pem" || fail "crl -o"
[ "$(stat -c %a "$T/crl1.pem")" = 644 ] || fail "CRL file mode"
openssl crl -in "$T/crl1.pem" -CAfile "$CA" -verify -noout 2>&1 | grep -q 'verify OK' || fail "CRL signature"
openssl crl -in "$T/crl1.pem" -noout -text >"$T/crl1.txt"
grep -q "Serial Number: $s2" "$T/crl1.txt" && grep -q "Serial Number: $s3" "$T/crl1.txt" || fail "CRL lacks revoked serials"
grep -q "Serial Number: $s1" "$T/crl1.txt" && fail "CRL lists a valid certificate"
grep -q 'Key Compromise' "$T/crl1.txt" || fail "CRL lacks the reason"
n1=$(openssl crl -in "$T/crl1.pem" -noout -crlnumber | cut -d= -f2)
"$ESTD" crl "$DIR" >"$T/crl2.pem" || fail "crl to stdout"
n2=$(openssl crl -in "$T/crl2.pem" -noout -crlnumber | cut -d= -f2)
[ $((16#$n2)) -gt $((16#$n1)) ] || fail "CRL number did not grow: $n1 -> $n2"
openssl crl -in "$T/crl2.pem" -noout -nextupdate >/dev/null || fail "no nextUpdate"
"$ESTD" crl "$DIR" --days 1 -o "$T/crl3.pem" || fail "crl --days"
next=$(date -u -d "$(openssl crl -in "$T/crl3.pem" -noout -nextupdate | cut -d= -f2)" +%s)
[ $((next - $(date +%s))) -le 86400 ] && [ $((next - $(date +%s))) -gt 86000 ] || fail "--days 1 nextUpdate"
cat "$CA" "$T/crl2.pem" >"$T/ca+crl.pem"
openssl verify -crl_check -CAfile "$T/ca+crl.pem" "$T/dev1.pem" >/dev/null || fail "valid cert refused with CRL"
openssl verify -crl_check -CAfile "$T/ca+crl.pem" "$T/dev2.pem" >"$T/v" 2>&1 && fail "revoked cert accepted"
grep -q 'certificate revoked' "$T/v" || fail "revoked cert: $(cat "$T/v")"
expect_status 1 "$ESTD" crl "$DIR" --label nosuch
one_line_error "no CA with label 'nosuch'"
expect_status 1 "$ESTD" crl "$DIR" --days 0
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event='crl'")" = 3 ] || fail "crl audit"
pass "crl (openssl crl -verify, reasons, growing CRL number, -crl_check refuses revoked)"
