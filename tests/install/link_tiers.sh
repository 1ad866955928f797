# The library's link tiers hold (README "Link tiers"): estd needs no
# libcurl, est no SQLite or libpq, estkit-core nothing but OpenSSL and the
# C runtime, and no tier calls into a tier it does not build on.
. "$E2E_LIB/common.sh"
: "${CORE_SO:?}" "${CORE_A:?}" "${STORE_A:?}" "${CLIENT_A:?}"

needs() { ldd "$1" | awk '{print $1}'; }

needs "$ESTD" >"$T/estd.needs"
grep -q '^libestkit-store\.so\.0$' "$T/estd.needs" || fail "estd does not link libestkit-store.so.0"
if grep -E '^libcurl' "$T/estd.needs"; then fail "estd needs libcurl"; fi
pass "estd: core + store, no libcurl"

needs "$EST" >"$T/est.needs"
grep -q '^libestkit-client\.so\.0$' "$T/est.needs" || fail "est does not link libestkit-client.so.0"
if grep -E '^lib(sqlite3|pq)\.' "$T/est.needs"; then fail "est needs SQLite or libpq"; fi
pass "est: core + client, no SQLite, no libpq"

# Direct dependencies of the core tier (readelf: what it asks for itself,
# not what OpenSSL pulls in). Sanitizer runtimes are allowed in those builds.
readelf -d "$CORE_SO" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$T/core.needed"
[ -s "$T/core.needed" ] || fail "readelf found no NEEDED entries in $CORE_SO"
while read -r lib; do
  case $lib in
    libssl.so.*|libcrypto.so.*|libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*) ;;
    libasan.so.*|libubsan.so.*|libgcc_s.so.*|libstdc++.so.*|ld-linux*) ;;
    *) fail "estkit-core depends on $lib: the core tier is OpenSSL only" ;;
  esac
done <"$T/core.needed"
pass "estkit-core: $(tr '\n' ' ' <"$T/core.needed")"

# Cross-tier calls: a symbol a tier leaves undefined must not be one that
# only a tier beside or above it defines.
defined() { nm -g --defined-only "$1" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u; }
undefined() { nm -g --undefined-only "$1" 2>/dev/null | awk '{print $NF}' | sort -u; }
defined "$STORE_A" >"$T/store.def"
defined "$CLIENT_A" >"$T/client.def"
check_calls() { # TIER ARCHIVE FORBIDDEN-DEFS...
  local tier=$1 archive=$2; shift 2
  undefined "$archive" >"$T/$tier.undef"
  [ -s "$T/$tier.undef" ] || fail "nm found no undefined symbols in $archive"
  for defs in "$@"; do
    if comm -12 "$T/$tier.undef" "$defs" | grep .; then
      fail "estkit-$tier calls the functions above from $(basename "$defs" .def)"
    fi
  done
}
check_calls core "$CORE_A" "$T/store.def" "$T/client.def"
check_calls store "$STORE_A" "$T/client.def"
check_calls client "$CLIENT_A" "$T/store.def"
pass "no cross-tier calls"
