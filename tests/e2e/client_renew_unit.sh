# What est-renew@NAME.service runs (dist/systemd/est-renew, as configured
# into the build): `est renew $EST_RENEW_ARGS` against a real estd, then
# $EST_RENEW_HOOK only after a renewal: not due = exit 2 (the unit's
# SuccessExitStatus) and no hook; due = exit 0 and the hook ran; a failing
# hook = exit 1.
. "$E2E_LIB/server.sh"
: "${EST:?EST must point at the est binary}"
RENEW=$(dirname "$ESTD")/systemd/est-renew
[ -x "$RENEW" ] || fail "$RENEW not built"

estd_init alice 'secret'
printf 'secret\n' >"$T/pw"; chmod 600 "$T/pw"
estd_start "$DIR"
S="--server https://127.0.0.1:$PORT --trust $DIR/ca/ca.pem"
# shellcheck disable=SC2086
"$EST" enroll $S --user alice --password-file "$T/pw" --key "$T/c.key" --subject CN=unit-device \
  -o "$T/c.pem" 2>"$T/err" || fail "enroll: $(cat "$T/err")"
cp "$T/c.pem" "$T/c.pem.orig"

run_renew() { # DAYS HOOK -> RC
  RC=0
  EST=$EST EST_RENEW_ARGS="$S --cert $T/c.pem --key $T/c.key --days $1" EST_RENEW_HOOK=$2 \
    "$RENEW" >"$T/out" 2>"$T/err" || RC=$?
}
run_renew 30 "touch $T/hook-ran"
[ "$RC" = 2 ] || fail "not due: exit $RC: $(cat "$T/err")"
[ ! -e "$T/hook-ran" ] || fail "the hook ran although nothing was renewed"
cmp -s "$T/c.pem" "$T/c.pem.orig" || fail "not due, but the certificate changed"
pass "not due: exit 2, hook not run"

run_renew 400 "touch $T/hook-ran"
[ "$RC" = 0 ] || fail "due: exit $RC: $(cat "$T/err")"
[ -e "$T/hook-ran" ] || fail "the hook did not run after a renewal"
! cmp -s "$T/c.pem" "$T/c.pem.orig" || fail "due, but the certificate was not replaced"
pass "due: renewed, exit 0, hook ran"

run_renew 400 "exit 3"
[ "$RC" = 1 ] || fail "failing hook: exit $RC"
grep -q 'est-renew: hook failed' "$T/err" || fail "failing hook not reported: $(cat "$T/err")"
RC=0; EST=$EST "$RENEW" >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" = 1 ] && grep -q 'EST_RENEW_ARGS is not set' "$T/err" || fail "no arguments: exit $RC"
pass "failing hook and missing configuration: exit 1, one line"
