#!/usr/bin/env bash
# The symbols each shared tier exports (nm -D --defined-only) are exactly
# tests/data/exported-symbols.txt, so the library's ABI changes only on
# purpose: a new, renamed or removed export fails here until the list is
# updated in the same commit (UPDATE=1 rewrites it from this build).
# The tiers are built -fvisibility=hidden, so an export is a declaration
# marked EST_API in include/estkit/: every exported name must be one, and
# every EST_API declaration must carry a comment (documented API).
# Names starting with "_" (the linker's _init/_edata/..., sanitizer
# bookkeeping) are not ours and are left out.
. "$E2E_LIB/common.sh"
: "${CORE_SO:?}" "${CORE_A:?}" "${STORE_A:?}" "${CLIENT_A:?}" "${SOURCE_DIR:?}"
export LC_ALL=C # one sort order wherever it runs
LIST=$SOURCE_DIR/tests/data/exported-symbols.txt
LIBDIR=$(dirname "$CORE_SO")

for tier in core store client; do
  so=$LIBDIR/libestkit-$tier.so
  [ -f "$so" ] || fail "no $so"
  nm -D --defined-only "$so" | awk -v t="$tier" '$3 !~ /^_/ {print t, $3}' | sort -u
done >"$T/exported.txt"
[ -s "$T/exported.txt" ] || fail "nm found no exported symbols"

# Every export is a function declared EST_API in a public header.
sed -n 's/^EST_API .*[ *]\([a-z_][a-z0-9_]*\)(.*/\1/p' "$SOURCE_DIR"/include/estkit/*.h |
  sort -u >"$T/declared.txt"
[ -s "$T/declared.txt" ] || fail "found no EST_API declarations in include/estkit/"
awk '{print $2}' "$T/exported.txt" | sort -u | comm -23 - "$T/declared.txt" >"$T/undeclared.txt"
if [ -s "$T/undeclared.txt" ]; then
  cat "$T/undeclared.txt" >&2
  fail "exported but not declared EST_API in include/estkit/ (make it static or rename it)"
fi
pass "every export is declared EST_API in include/estkit/"

# The est_ prefix means API: a global the archives define (so one the
# library's files share, hidden or not) that starts with est_/EST_ is
# declared in include/estkit/. Internal helpers carry a module prefix
# (ca_, cmc_, client_, sqlstore_, ...) or are static.
grep -ohE '\b(est|EST)_[A-Za-z0-9_]+' "$SOURCE_DIR"/include/estkit/*.h | sort -u >"$T/public-words.txt"
nm -g --defined-only "$CORE_A" "$STORE_A" "$CLIENT_A" 2>/dev/null |
  awk 'NF == 3 && $3 ~ /^(est|EST)_/ {print $3}' | sort -u |
  comm -23 - "$T/public-words.txt" >"$T/internal-est.txt"
if [ -s "$T/internal-est.txt" ]; then
  cat "$T/internal-est.txt" >&2
  fail "library-internal names with the public est_ prefix (rename them, see docs/design.md)"
fi
pass "no internal global carries the est_ prefix"

# Every EST_API declaration has a comment above it, or above the group of
# declarations, #defines and typedefs it belongs to (a blank line ends a
# group), or on its own line.
cat >"$T/undocumented.awk" <<'AWK'
# Prints FILE:LINE:NAME for each EST_API declaration with no comment above
# it and none on its own line. "Above" reaches over the declarations of the
# same group, #define lines and typedefs (a comment may describe a struct
# and the function taking it together); a blank line ends a group.
FNR == 1 { doc = 0; incomment = 0; indecl = 0; intypedef = 0 }
{
  line = $0
  if (indecl) { if (line ~ /;[ \t]*(\/\*.*\*\/)?[ \t]*$/) indecl = 0; next }
  if (intypedef) { if (line ~ /^}/) intypedef = 0; next }
  if (line ~ /^EST_API /) {
    name = line; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
    if (!doc && line !~ /\/\*/) print FILENAME ":" FNR ":" name
    if (line !~ /;[ \t]*(\/\*.*\*\/)?[ \t]*$/) indecl = 1
    next
  }
  if (incomment) { if (line ~ /\*\//) { incomment = 0; doc = 1 } ; next }
  if (line ~ /^[ \t]*\/\*/) { if (line ~ /\*\//) doc = 1; else incomment = 1; next }
  if (line ~ /^#define /) next
  if (line ~ /^typedef /) { if (line !~ /;[ \t]*(\/\*.*\*\/)?$/) intypedef = 1; next }
  doc = 0
}
AWK
awk -f "$T/undocumented.awk" "$SOURCE_DIR"/include/estkit/*.h >"$T/undocumented.txt"
if [ -s "$T/undocumented.txt" ]; then
  cat "$T/undocumented.txt" >&2
  fail "public functions without a comment saying what they do"
fi
pass "$(wc -l <"$T/declared.txt") public functions, each with a comment"

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
