#!/usr/bin/env bash
# The symbols each shared tier exports (nm -D --defined-only) are exactly
# tests/data/exported-symbols.txt, so the library's ABI changes only on
# purpose: a new, renamed or removed export fails here until the list is
# updated in the same commit (UPDATE=1 rewrites it from this build).
# Names starting with "_" (the linker's _init/_edata/..., sanitizer
# bookkeeping) are not ours and are left out.
. "$E2E_LIB/common.sh"
: "${CORE_SO:?}" "${SOURCE_DIR:?}"
export LC_ALL=C # one sort order wherever it runs
LIST=$SOURCE_DIR/tests/data/exported-symbols.txt
LIBDIR=$(dirname "$CORE_SO")

for tier in core store client; do
  so=$LIBDIR/libestkit-$tier.so
  [ -f "$so" ] || fail "no $so"
  nm -D --defined-only "$so" | awk -v t="$tier" '$3 !~ /^_/ {print t, $3}' | sort -u
done >"$T/exported.txt"
[ -s "$T/exported.txt" ] || fail "nm found no exported symbols"

if [ "${UPDATE:-}" = 1 ]; then
  cp "$T/exported.txt" "$LIST"
  pass "wrote $LIST ($(wc -l <"$LIST") symbols)"
  exit 0
fi
[ -f "$LIST" ] || fail "no $LIST (run with UPDATE=1)"
if ! diff -u "$LIST" "$T/exported.txt" >"$T/diff"; then
  cat "$T/diff" >&2
  fail "exported symbols differ from tests/data/exported-symbols.txt (+ new, - gone)"
fi
pass "$(wc -l <"$LIST") exported symbols, as listed"
