# `cmake --install` (make install) into a DESTDIR puts every part where
# GNUInstallDirs says, and a program built with
# `pkg-config --cflags --libs estkit` against the installed tree links all
# three tiers and runs.
. "$E2E_LIB/common.sh"
: "${BUILD_DIR:?}" "${CC:?}"
prefix=/usr
root=$T/root
DESTDIR=$root cmake --install "$BUILD_DIR" --prefix "$prefix" >"$T/install.log" 2>&1 ||
  fail "cmake --install: $(tail -5 "$T/install.log")"

libdir=$(dirname "$(find "$root" -name libestkit-core.so.0 | head -1)")
[ -n "$libdir" ] && [ "$libdir" != . ] || fail "libestkit-core.so.0 not installed"
for f in usr/bin/estd usr/bin/est usr/include/estkit.h usr/include/estkit/error.h \
         usr/share/man/man1/est.1 usr/share/man/man5/estd.conf.5 usr/share/man/man8/estd.8 \
         usr/lib/systemd/system/estd.service usr/lib/systemd/system/est-renew@.service \
         usr/lib/systemd/system/est-renew@.timer usr/libexec/estkit/est-renew \
         usr/libexec/estkit/estd-first-start usr/share/doc/estkit/estd.conf.example \
         usr/share/bash-completion/completions/est usr/share/bash-completion/completions/estd; do
  [ -e "$root/$f" ] || fail "$f not installed"
done
for tier in core store client; do
  for f in "libestkit-$tier.so" "libestkit-$tier.so.0" "libestkit-$tier.a" "pkgconfig/estkit-$tier.pc"; do
    [ -e "$libdir/$f" ] || fail "$libdir/$f not installed"
  done
  soname=$(readelf -d "$libdir/libestkit-$tier.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$soname" = "libestkit-$tier.so.0" ] || fail "libestkit-$tier.so has SONAME '$soname'"
done
pass "installed: programs, libraries with SONAMEs, headers, .pc, man pages, units, completions"

# Each public header compiles on its own: it includes what it uses.
for h in "$root"/usr/include/estkit/*.h; do
  echo "#include <estkit/$(basename "$h")>" |
    $CC -fsyntax-only -Werror -Wall -I"$root/usr/include" -x c - 2>"$T/h.log" ||
    fail "estkit/$(basename "$h") does not compile alone: $(head -3 "$T/h.log")"
done
pass "every installed header compiles on its own"

# The example configuration is what a fresh `estd init` writes, and parses.
grep -q '^\[server\]' "$root/usr/share/doc/estkit/estd.conf.example" || fail "estd.conf.example has no [server]"
for f in est estd; do
  bash -n "$root/usr/share/bash-completion/completions/$f" || fail "completion $f: syntax error"
done

cat >"$T/tiny.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <estkit.h>
/* One function from each tier: core (error strings), store, client, so
 * the link needs all three libraries. */
int main(void)
{
    est_store_close(NULL);
    est_client_free(NULL);
    puts(est_strerror(EST_OK));
    return strlen(est_strerror(EST_E_NOMEM)) > 0 ? 0 : 1;
}
C
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs estkit) || fail "pkg-config estkit failed"
case $flags in *"$root"*) ;; *) fail "pkg-config did not point into the installed tree: $flags" ;; esac
# shellcheck disable=SC2086
$CC ${SANITIZE_FLAGS:-} -o "$T/tiny" "$T/tiny.c" $flags 2>"$T/cc.log" || fail "cc: $(cat "$T/cc.log")"
for tier in core store client; do
  readelf -d "$T/tiny" | grep -q "libestkit-$tier.so.0" || fail "tiny does not need libestkit-$tier.so.0"
done
out=$(LD_LIBRARY_PATH=$libdir "$T/tiny") || fail "tiny failed to run"
[ -n "$out" ] || fail "tiny printed nothing"
pass "pkg-config --cflags --libs estkit builds and runs against the installed tree ($out)"

v=$(LD_LIBRARY_PATH=$libdir "$root/usr/bin/estd" --version) || fail "installed estd --version failed"
pass "installed $v"
