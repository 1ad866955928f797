#!/usr/bin/env bash
# Bad input to the admin commands: a corrupt or missing estd.conf, a
# missing, damaged or wrong CA key, a store from a newer schema, a missing
# or damaged store. Each is one line on stderr naming the file and the
# problem, exit status 1, and nothing half-written.
. "$E2E_LIB/common.sh"
estd_init
cp -a "$DIR" "$T/pristine"
restore() { rm -rf "$DIR"; cp -a "$T/pristine" "$DIR"; }
snapshot() { (cd "$DIR" && find . -type f -exec sha256sum {} + | sort); }

# --- estd.conf ----------------------------------------------------------------
line=$(($(grep -n '^\[ca\]' "$DIR/estd.conf" | cut -d: -f1) + 1))
sed -i "${line}i validity_dayz = 30" "$DIR/estd.conf"
for cmd in "certs list" "user list" "pending list" "crl" "ca rollover"; do
  # shellcheck disable=SC2086
  expect_status 1 "$ESTD" $cmd "$DIR"
  one_line_error "^estd: $cmd: .*/estd.conf:$line: unknown key 'validity_dayz' in a \[ca\] section$"
done
restore
sed -i 's/^threads = 0/threads = lots/' "$DIR/estd.conf"
expect_status 1 "$ESTD" certs list "$DIR"
one_line_error "estd.conf:[0-9]+: 'lots' is not a whole number"
restore
printf '[server\n' >"$DIR/estd.conf"
expect_status 1 "$ESTD" certs list "$DIR"
one_line_error 'estd.conf:1: malformed section header'
rm "$DIR/estd.conf"
expect_status 1 "$ESTD" certs list "$DIR"
one_line_error "estd.conf: not found"
expect_status 1 "$ESTD" certs list "$T/no-such-dir"
one_line_error "no-such-dir/estd.conf: not found"
restore
pass "corrupt and missing estd.conf: one line naming estd.conf and the line"

# --- the CA key: missing, damaged, wrong ---------------------------------------------
before=$(snapshot)
mv "$DIR/ca/ca.key" "$T/ca.key.saved"
expect_status 1 "$ESTD" crl "$DIR" -o "$T/crl.pem"
one_line_error "ca/ca.key: No such file"
[ ! -e "$T/crl.pem" ] || fail "a failed crl wrote its output"
"$ESTD" certs list "$DIR" >/dev/null || fail "certs list needs no key but failed"
echo 'not a key' >"$DIR/ca/ca.key"
expect_status 1 "$ESTD" crl "$DIR"
one_line_error "ca/ca.key: mode 0644 lets group or others read it; chmod 600 .*ca/ca.key$"
chmod 600 "$DIR/ca/ca.key"
expect_status 1 "$ESTD" crl "$DIR"
one_line_error "ca/ca.key: no usable private key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/ca/ca.key" 2>/dev/null
expect_status 1 "$ESTD" crl "$DIR"
one_line_error "ca/ca.key: key does not match the certificate .*ca/ca.pem"
expect_status 1 "$ESTD" ca rollover "$DIR"
one_line_error "ca/ca.key: key does not match the certificate"
expect_status 1 "$ESTD" pending approve "$DIR" 1
one_line_error "ca/ca.key: key does not match"
mv "$T/ca.key.saved" "$DIR/ca/ca.key"
[ "$(snapshot | grep -v ' ./ca/ca.key$\| ./estd.db')" = "$(echo "$before" | grep -v ' ./ca/ca.key$\| ./estd.db')" ] \
  || fail "failed commands changed files"
! compgen -G "$DIR/ca/*.rollover" >/dev/null && ! compgen -G "$DIR/ca/ca-old-*" >/dev/null \
  || fail "a failed rollover left files"
echo garbage >"$DIR/ca/ca.pem"
expect_status 1 "$ESTD" certs list "$DIR"
one_line_error "ca/ca.pem: "
restore
pass "missing, damaged and wrong CA key, damaged CA certificate: one line naming the file"

# --- the store ------------------------------------------------------------------------
sqlite3 "$DIR/estd.db" 'PRAGMA user_version = 99'
for cmd in "certs list" "user list"; do
  # shellcheck disable=SC2086
  expect_status 1 "$ESTD" $cmd "$DIR"
  one_line_error "estd.db: schema version 99 is newer than this estd supports \(5\)"
done
expect_status 1 sh -c "printf 'pw\n' | '$ESTD' user add '$DIR' eve --password-stdin"
one_line_error "estd.db: schema version 99"
sqlite3 "$DIR/estd.db" 'PRAGMA user_version = 5'
[ "$(sqlite3 "$DIR/estd.db" 'SELECT count(*) FROM users')" = 0 ] || fail "user add wrote into a newer store"
restore
rm "$DIR/estd.db"
expect_status 1 "$ESTD" user list "$DIR"
one_line_error "estd.db: no such file"
[ ! -e "$DIR/estd.db" ] || fail "a missing store was created by an admin command"
head -c 4096 /dev/urandom >"$DIR/estd.db"
expect_status 1 "$ESTD" certs list "$DIR"
one_line_error "estd.db"
restore
pass "store: newer schema names both versions; missing or damaged store named"

# --- output files are not half-written ------------------------------------------------
echo old >"$T/crl.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/ca/ca.key" 2>/dev/null
expect_status 1 "$ESTD" crl "$DIR" -o "$T/crl.pem"
[ "$(cat "$T/crl.pem")" = old ] || fail "a failed crl replaced its output file"
restore
expect_status 1 "$ESTD" crl "$DIR" -o "$T/no-such-dir/crl.pem"
one_line_error "no-such-dir/crl.pem"
pass "a failed crl leaves -o FILE as it was"
