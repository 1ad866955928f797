# The installed systemd units pass `systemd-analyze verify` (every key
# known, every program they run present) and estd.service's hardening
# keeps `systemd-analyze security` at "OK" or better (exposure < 2.0).
# systemd need not be PID 1: verify loads the units offline. The installed
# paths are rewritten into the DESTDIR tree so the programs exist.
. "$E2E_LIB/common.sh"
: "${BUILD_DIR:?}"
if ! command -v systemd-analyze >/dev/null; then
  echo "skip: systemd-analyze is not installed"
  exit 77
fi
root=$T/root
DESTDIR=$root cmake --install "$BUILD_DIR" >"$T/install.log" 2>&1 || fail "cmake --install: $(tail -5 "$T/install.log")"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD_DIR/CMakeCache.txt")
units=$(find "$root" -path '*/systemd/system' -type d)
[ -f "$units/estd.service" ] || fail "estd.service not installed"
mkdir "$T/units"
for u in estd.service est-renew@.service est-renew@.timer; do
  sed "s|$prefix/|$root$prefix/|g" "$units/$u" >"$T/units/$u"
done
grep -q "^ExecStart=$root$prefix/bin/estd serve " "$T/units/estd.service" ||
  fail "estd.service does not run the installed estd: $(grep ExecStart "$T/units/estd.service")"
cd "$T/units"
# --man=no: the pages are installed under $root, not where man(1) looks.
systemd-analyze verify --man=no estd.service est-renew@test.service est-renew@test.timer \
  >"$T/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify")"
[ ! -s "$T/verify" ] || fail "systemd-analyze verify: $(cat "$T/verify")"
pass "systemd-analyze verify: estd.service, est-renew@.service, est-renew@.timer"

for key in Type=notify DynamicUser=yes StateDirectory=estd NoNewPrivileges=yes \
           ProtectSystem=strict PrivateTmp=yes CapabilityBoundingSet= MemoryDenyWriteExecute=yes \
           SystemCallFilter=@system-service; do
  grep -qx "$key" estd.service || fail "estd.service lacks $key"
done
grep -qx 'SuccessExitStatus=2' est-renew@.service || fail "est-renew@.service: exit 2 is not success"
if systemd-analyze security --offline=yes estd.service >"$T/security" 2>&1; then
  score=$(sed -n 's/.*Overall exposure level for estd.service: \([0-9.]*\).*/\1/p' "$T/security")
  [ -n "$score" ] || fail "no exposure level: $(tail -3 "$T/security")"
  awk -v s="$score" 'BEGIN { exit !(s < 2.0) }' || fail "exposure $score: hardening weakened"
  pass "systemd-analyze security: exposure $score"
else
  echo "note: systemd-analyze security --offline not available: $(tail -1 "$T/security")"
fi
