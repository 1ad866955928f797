#!/usr/bin/env bash
# `estd user add|del|list`: passwords from stdin only, never stored in
# plaintext, --force to replace, HA1 only with --digest (issue #12), name
# checks, audit events, and that the stored credentials really authenticate
# (Basic and Digest against a running estd) until the user is deleted.
. "$E2E_LIB/common.sh"
estd_init
PW='S3cret-Passw0rd!'

printf '%s\n' "$PW" | "$ESTD" user add "$DIR" alice --password-stdin --digest || fail "user add"
printf '%s\r\n' "other-pw" | "$ESTD" user add "$DIR" bob --password-stdin --no-digest || fail "user add --no-digest"
printf 'dave-pw\n' | "$ESTD" user add "$DIR" dave --password-stdin || fail "user add (default)"
"$ESTD" user list "$DIR" >"$T/list"
grep -Eq "^alice [0-9T:-]+Z digest\(realm 'estkit'\)$" "$T/list" || fail "list: $(cat "$T/list")"
grep -Eq '^bob [0-9T:-]+Z basic-only$' "$T/list" || fail "list --no-digest: $(cat "$T/list")"
grep -Eq '^dave [0-9T:-]+Z basic-only$' "$T/list" || fail "list default: $(cat "$T/list")"
[ "$(wc -l <"$T/list")" = 3 ] || fail "list has $(wc -l <"$T/list") lines"
pass "add and list"

# Nothing password-like in plaintext anywhere in the store.
[ "$(sqlite3 "$DIR/estd.db" .dump | grep -c -- "$PW")" = 0 ] || fail "the store holds the password"
[ "$(sqlite3 "$DIR/estd.db" .dump | grep -c -- other-pw)" = 0 ] || fail "the store holds bob's password"
sqlite3 "$DIR/estd.db" "SELECT password_hash FROM users WHERE name='alice'" | grep -q '^\$scrypt\$' \
  || fail "password hash is not scrypt"
[ "$(sqlite3 "$DIR/estd.db" "SELECT digest_ha1_md5 FROM users WHERE name='alice'")" = \
  "$(printf '%s' "alice:estkit:$PW" | openssl dgst -md5 -r | cut -d' ' -f1)" ] || fail "MD5 HA1"
[ "$(sqlite3 "$DIR/estd.db" "SELECT digest_ha1_sha256 FROM users WHERE name='alice'")" = \
  "$(printf '%s' "alice:estkit:$PW" | openssl dgst -sha256 -r | cut -d' ' -f1)" ] || fail "SHA-256 HA1"
[ -z "$(sqlite3 "$DIR/estd.db" "SELECT digest_ha1_md5 FROM users WHERE name='bob'")" ] || fail "bob has HA1"
# Without --digest no HA1 (and no realm) at all: nothing password-equivalent.
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM users WHERE name='dave' AND digest_ha1_md5 IS NULL
  AND digest_ha1_sha256 IS NULL AND digest_realm IS NULL")" = 1 ] || fail "dave (no --digest) has HA1"
pass "no plaintext password in the store; scrypt hash and HA1 values"

# Refusals: one line each, nothing changed.
hash=$(sqlite3 "$DIR/estd.db" "SELECT password_hash FROM users WHERE name='alice'")
expect_status 1 sh -c "printf 'new\n' | '$ESTD' user add '$DIR' alice --password-stdin"
one_line_error "^estd: user add: user 'alice' exists \(--force"
[ "$(sqlite3 "$DIR/estd.db" "SELECT password_hash FROM users WHERE name='alice'")" = "$hash" ] \
  || fail "refused add changed the password"
expect_status 1 "$ESTD" user add "$DIR" carol
one_line_error 'read from stdin only: add --password-stdin'
expect_status 1 sh -c "printf '\n' | '$ESTD' user add '$DIR' carol --password-stdin"
one_line_error '^estd: user add: empty password$'
expect_status 1 sh -c "printf '' | '$ESTD' user add '$DIR' carol --password-stdin"
one_line_error 'no password on stdin'
# EST_PASSWORD_MAX = 256 bytes: 256 is accepted, 257 is not.
head -c 256 /dev/zero | tr '\0' p | "$ESTD" user add "$DIR" long256 --password-stdin || fail "256-byte password"
expect_status 1 sh -c "head -c 257 /dev/zero | tr '\\0' p | '$ESTD' user add '$DIR' long257 --password-stdin"
one_line_error 'password longer than 256 bytes'
for bad in 'a:b' 'a b' 'a"b' 'a\b' '' "$(head -c 129 /dev/zero | tr '\0' u)"; do
  expect_status 1 sh -c "printf 'pw\n' | '$ESTD' user add '$DIR' '$bad' --password-stdin"
  one_line_error 'not a valid user name'
done
printf 'pw\n' | "$ESTD" user add "$DIR" "$(head -c 128 /dev/zero | tr '\0' u)" --password-stdin \
  || fail "128-character name refused"
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM users WHERE name LIKE 'carol%' OR name LIKE 'long257'")" = 0 ] \
  || fail "a refused user was stored"
pass "refusals: existing user, no --password-stdin, empty/too long password, bad names"

# --- the stored credentials authenticate against the server -----------------
# The default policy offers no Digest: the 401 challenges Basic only.
estd_start "$DIR"
curl -s -o /dev/null -D "$T/h" --cacert "$DIR/ca/ca.pem" "$URL/csrattrs"
grep -qi '^WWW-Authenticate: Basic' "$T/h" || fail "no Basic challenge: $(cat "$T/h")"
grep -qi '^WWW-Authenticate: Digest' "$T/h" && fail "default policy offers Digest"
estd_stop
sed -i 's/^enroll_auth = .*/enroll_auth = cert, basic, digest/' "$DIR/estd.conf"
estd_start "$DIR"
# /csrattrs needs authentication: 200 (or 204: nothing to ask for) once authenticated.
code() {
  local c
  c=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca/ca.pem" "$@" "$URL/csrattrs")
  [ "$c" = 204 ] && c=200
  echo "$c"
}
[ "$(code --basic --user "alice:$PW")" = 200 ] || fail "alice Basic"
[ "$(code --digest --user "alice:$PW")" = 200 ] || fail "alice Digest"
[ "$(code --basic --user "alice:wrong")" = 401 ] || fail "wrong password accepted"
[ "$(code --basic --user "bob:other-pw")" = 200 ] || fail "bob Basic (CRLF line ending stripped)"
[ "$(code --digest --user "bob:other-pw")" = 401 ] || fail "bob has no HA1 but Digest passed"
[ "$(code --basic --user "dave:dave-pw")" = 200 ] || fail "dave Basic"
[ "$(code --digest --user "dave:dave-pw")" = 401 ] || fail "dave (no --digest) passed Digest"
printf 'changed-pw\n' | "$ESTD" user add "$DIR" alice --password-stdin --force --digest || fail "add --force"
[ "$(code --basic --user "alice:$PW")" = 401 ] || fail "old password still accepted after --force"
[ "$(code --digest --user "alice:changed-pw")" = 200 ] || fail "new password (Digest) after --force"
# --force without --digest turns Digest off for the user (HA1 removed).
printf 'changed-pw\n' | "$ESTD" user add "$DIR" alice --password-stdin --force || fail "add --force (no digest)"
[ -z "$(sqlite3 "$DIR/estd.db" "SELECT digest_ha1_sha256 FROM users WHERE name='alice'")" ] \
  || fail "--force without --digest kept HA1"
[ "$(code --digest --user "alice:changed-pw")" = 401 ] || fail "Digest still works after --force without --digest"
[ "$(code --basic --user "alice:changed-pw")" = 200 ] || fail "Basic after --force without --digest"
"$ESTD" user del "$DIR" alice || fail "user del"
[ "$(code --basic --user "alice:changed-pw")" = 401 ] || fail "deleted user still authenticates"
estd_stop
pass "stored credentials authenticate (Basic, Digest), --force replaces, del removes"

expect_status 1 "$ESTD" user del "$DIR" alice
one_line_error "^estd: user del: no user 'alice'$"
"$ESTD" user list "$DIR" | grep -q '^alice ' && fail "deleted user listed"
[ "$(sqlite3 "$DIR/estd.db" "SELECT group_concat(event, ' ') FROM (SELECT event FROM audit WHERE subject IN ('alice','bob') AND event LIKE 'user-%' ORDER BY id)")" = \
  'user-add user-add user-put user-put user-del' ] || fail "audit: $(sqlite3 "$DIR/estd.db" 'SELECT event, subject FROM audit')"
sqlite3 "$DIR/estd.db" "SELECT actor FROM audit WHERE event='user-del'" | grep -q '^admin:' || fail "audit actor"
expect_status 1 "$ESTD" user frob "$DIR"
one_line_error 'expected add, del, list or unlock'
"$ESTD" user add --help | grep -q 'password-equivalent' || fail "help does not explain HA1"
pass "del, audit events, help"
