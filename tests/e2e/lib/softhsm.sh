# SoftHSM2 in the test's temp dir (source after server.sh or common.sh).
# Sets MODULE (the PKCS#11 module path) and exports SOFTHSM2_CONF pointing at
# $T/softhsm2.conf with tokens under $T/tokens; $T/pin (0600) holds the user
# PIN 1234 that tests give --init-token. Fails when softhsm2 is missing.
MODULE=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
  [ -r "$m" ] && MODULE=$m && break
done
[ -n "$MODULE" ] && command -v softhsm2-util >/dev/null || fail "needs softhsm2 (scripts/deps)"
mkdir -m 700 "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/tokens" \
  >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf
printf '1234\n' >"$T/pin"; chmod 600 "$T/pin"
