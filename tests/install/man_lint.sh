# Every man page renders lint-clean: `mandoc -T lint -W warning` reports
# nothing (style notes such as pages not installed here are not counted).
. "$E2E_LIB/common.sh"
: "${SOURCE_DIR:?}"
command -v mandoc >/dev/null || fail "mandoc is not installed (scripts/deps)"
n=0
for page in "$SOURCE_DIR"/man/*.[1-8]; do
  mandoc -T lint -W warning "$page" >"$T/lint" 2>&1 || fail "$(basename "$page"): $(cat "$T/lint")"
  [ ! -s "$T/lint" ] || fail "$(basename "$page"): $(cat "$T/lint")"
  mandoc -T ascii "$page" | sed "s/.\x08//g" >"$T/page" || fail "$(basename "$page") does not render"
  grep -q 'NAME' "$T/page" || fail "$(basename "$page") renders without a NAME section"
  n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "expected est.1, estd.8 and estd.conf.5, found $n pages"
pass "$n man pages lint-clean"
