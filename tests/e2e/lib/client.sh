# Helpers for the est client e2e tests (client_*.sh): everything in
# server.sh, plus running est and checking what it said.
. "$(dirname "${BASH_SOURCE[0]}")/server.sh"
: "${EST:?EST must point at the est binary}"

# run_est NAME ARGS...: est's stdout in $T/NAME.out, stderr in $T/NAME.err, status in RC.
run_est() { local name=$1; shift; RC=0; "$EST" "$@" >"$T/$name.out" 2>"$T/$name.err" || RC=$?; }
# expect_err NAME STATUS TEXT: that exit status and one stderr line holding
# TEXT; and, when the script sets NO_OUTPUT=FILE, FILE was not written.
expect_err() {
  [ "$RC" = "$2" ] || fail "$1: exit $RC, expected $2: $(cat "$T/$1.err")"
  [ "$(wc -l < "$T/$1.err")" = 1 ] || fail "$1: not one line: $(cat "$T/$1.err")"
  grep -qF -- "$3" "$T/$1.err" || fail "$1: '$3' not in: $(cat "$T/$1.err")"
  [ -z "${NO_OUTPUT:-}" ] || [ ! -e "$NO_OUTPUT" ] || fail "$1: wrote its output"
}
# expect_ok NAME: est exited 0.
expect_ok() { [ "$RC" = 0 ] || fail "$1: exit $RC: $(cat "$T/$1.err")"; }
