#!/usr/bin/env bash
# `estd store copy DIR --to STORE` (issue #16): a SQLite store with
# certificates (one revoked), a user, a pending request, one-time codes and
# CRLs moves to PostgreSQL and back. Row counts and the digest agree both
# ways; the admin commands print the same on either backend; the user's
# password, the codes (salt) and the CRL number (it keeps growing) carry
# over; a non-empty destination is refused.
. "$E2E_LIB/common.sh"
. "$E2E_LIB/pg.sh"
pg_start
estd_init dev 'pw'
estd_start "$DIR"
for n in 1 2 3; do enroll "dev$n" "/CN=device-$n/O=Example" dev pw; done
estd_stop
"$ESTD" revoke "$DIR" "$(serial_of "$T/dev2.pem")" >/dev/null
"$ESTD" crl "$DIR" -o "$T/crl1.pem"
code=$("$ESTD" otp add "$DIR" --subject "CN=later")
"$ESTD" otp add "$DIR" >/dev/null
sed -i 's/^approval = auto/approval = manual/' "$DIR/estd.conf"
estd_start "$DIR"
new_csr waiting "/CN=waiting/O=Example"
base64 "$T/waiting.der" >"$T/waiting.b64"
status=$(curl -s --cacert "$CA" --user dev:pw -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/waiting.b64" "$URL/simpleenroll" -o /dev/null -w '%{http_code}')
[ "$status" = 202 ] || fail "pending request: $status"
estd_stop
sed -i 's/^approval = manual/approval = auto/' "$DIR/estd.conf"
listing() { # DIR: what the admin commands show
  "$ESTD" certs list "$1"; "$ESTD" user list "$1"; "$ESTD" pending list "$1" --all
  "$ESTD" otp list "$1"
}
listing "$DIR" >"$T/before"

# --- SQLite -> PostgreSQL ------------------------------------------------------------
"$ESTD" store copy "$DIR" --to "$PG_URI" >"$T/copy1" || fail "store copy to PostgreSQL"
grep -qx 'certs 3' "$T/copy1" && grep -qx 'users 1' "$T/copy1" && grep -qx 'pending 1' "$T/copy1" \
  && grep -qx 'otp 2' "$T/copy1" || fail "copy counts: $(cat "$T/copy1")"
grep -Eq '^sha256 [0-9a-f]{64}$' "$T/copy1" || fail "no digest: $(cat "$T/copy1")"
[ "$(pg_sql 'SELECT count(*) FROM audit')" = "$(sqlite3 "$DIR/estd.db" 'SELECT count(*) FROM audit')" ] \
  || fail "audit rows differ"
expect_status 1 "$ESTD" store copy "$DIR" --to "$PG_URI"
one_line_error "already holds certs; copy into an empty store only"
cp -a "$DIR" "$T/pg"
sed -i "s|^store = .*|store = $PG_URI|" "$T/pg/estd.conf"
listing "$T/pg" >"$T/after"
diff "$T/before" "$T/after" >&2 || fail "the admin commands differ on the copy"
pass "SQLite -> PostgreSQL: counts, digest, identical listings; a second copy is refused"

# --- the copy serves: password, one-time code (salt), CRL number ----------------------
"$ESTD" crl "$T/pg" -o "$T/crl2.pem"
n1=$(openssl crl -in "$T/crl1.pem" -noout -crlnumber | cut -d= -f2)
n2=$(openssl crl -in "$T/crl2.pem" -noout -crlnumber | cut -d= -f2)
[ $((16#$n2)) -gt $((16#$n1)) ] || fail "CRL number did not grow across the copy: $n1 -> $n2"
openssl crl -in "$T/crl2.pem" -noout -text | grep -q "$(serial_of "$T/dev2.pem")" \
  || fail "the revocation did not carry over"
sed -i 's/^challenge_password = .*/challenge_password = one-time-code/' "$T/pg/estd.conf"
estd_start "$T/pg"
printf '[req]\ndistinguished_name=dn\nprompt=no\nattributes=attrs\n[attrs]\nchallengePassword=%s\n[dn]\nCN=later\n' \
  "$code" >"$T/otp.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/otp.key" \
  -config "$T/otp.cnf" -outform DER 2>/dev/null | base64 >"$T/otp.b64"
status=$(curl -s --cacert "$CA" --user dev:pw -H 'Content-Type: application/pkcs10' \
  --data-binary @"$T/otp.b64" "$URL/simpleenroll" -o "$T/otp.out" -w '%{http_code}')
[ "$status" = 200 ] || fail "copied user + code on PostgreSQL: $status $(cat "$T/otp.out")"
estd_stop
pass "on PostgreSQL: the user's password, a one-time code and the CRL number carried over"

# --- PostgreSQL -> SQLite ----------------------------------------------------------------
"$ESTD" store copy "$T/pg" --to "$T/back.db" >"$T/copy2" || fail "store copy back to SQLite"
grep -qx 'certs 4' "$T/copy2" || fail "copy back counts: $(cat "$T/copy2")"
cp -a "$T/pg" "$T/back"
sed -i "s|^store = .*|store = $T/back.db|" "$T/back/estd.conf"
diff <(listing "$T/pg") <(listing "$T/back") >&2 || fail "the admin commands differ after copying back"
"$ESTD" store copy "$T/back" --to "$T/again.db" >"$T/copy3" || fail "SQLite -> SQLite"
[ "$(grep sha256 "$T/copy2")" = "$(grep sha256 "$T/copy3")" ] || fail "digests of equal stores differ"
pass "PostgreSQL -> SQLite: counts, identical listings, the same digest again"
