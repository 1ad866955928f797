# make deb's CPack DEB package of this build: Depends computed by
# dpkg-shlibdeps, installs with `dpkg -i` into a scratch root (never the
# machine), its estd and est run (--version), and `dpkg -P` removes every
# file it installed.
. "$E2E_LIB/common.sh"
: "${BUILD_DIR:?}"
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps: dpkg-dev)"
done
cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$T/pkg" >"$T/cpack.log" 2>&1 ||
  fail "cpack: $(tail -5 "$T/cpack.log")"
deb=$(ls "$T"/pkg/*.deb)
[ -f "$deb" ] || fail "cpack made no .deb"

depends=$(dpkg-deb -f "$deb" Depends)
for lib in libssl3 libsqlite3-0 libcurl4 libevent; do
  case $depends in *"$lib"*) ;; *) fail "Depends lacks $lib: $depends" ;; esac
done
case $depends in *libc6*) ;; *) fail "Depends lacks libc6: $depends" ;; esac
pass "Depends: $depends"

# A scratch root with an empty dpkg database.
root=$T/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log"
: >"$root/var/lib/dpkg/status"
dpkg_root() {
  dpkg --root="$root" --force-not-root --force-depends --force-script-chrootless \
       --log="$T/dpkg.log" "$@"
}
dpkg_root -i "$deb" >"$T/dpkg.out" 2>&1 || fail "dpkg -i: $(tail -5 "$T/dpkg.out")"
dpkg_root -s estkit | grep -q '^Status: install ok installed' || fail "estkit not installed in the scratch root"
bindir=$(dirname "$(find "$root" -path '*/bin/estd' | head -1)")
libdir=$(dirname "$(find "$root" -name 'libestkit-core.so.0' | head -1)")
[ -x "$bindir/estd" ] && [ -x "$bindir/est" ] || fail "estd/est not in the package"
v=$(LD_LIBRARY_PATH=$libdir "$bindir/estd" --version) || fail "estd --version failed"
case $v in "estd "[0-9]*) ;; *) fail "estd --version printed '$v'" ;; esac
v2=$(LD_LIBRARY_PATH=$libdir "$bindir/est" --version) || fail "est --version failed"
case $v2 in "est "[0-9]*) ;; *) fail "est --version printed '$v2'" ;; esac
pass "installed with dpkg -i: $v; $v2"

dpkg_root -P estkit >"$T/dpkg.out" 2>&1 || fail "dpkg -P: $(tail -5 "$T/dpkg.out")"
left=$(find "$root" -type f -not -path "$root/var/*")
[ -z "$left" ] || fail "files left after dpkg -P: $left"
if dpkg_root -s estkit >/dev/null 2>&1; then fail "estkit still known to dpkg after -P"; fi
pass "removed cleanly"
