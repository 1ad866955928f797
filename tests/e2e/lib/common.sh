# Shared shell helpers for the e2e tests (source it from a test script).
#
# Sets `set -euo pipefail`, a temp dir $T removed on exit (an estd started
# with estd_start is stopped first), and helpers:
#   fail MSG / pass MSG          report; fail exits 1 and shows estd's log tail
#   free_port                    a 127.0.0.1 TCP port nobody listens on
#   estd_init [USER PASSWORD]    `estd init` in DIR=$T/estd (CA: its root), one user
#   estd_start DIR / estd_stop   run `estd serve DIR` on a free port: PORT, URL
#   wait_for CMD...              retry CMD every 0.1 s until it succeeds (1 after 10 s)
#   expect_status N CMD...       run CMD, demand exit status N; its stderr in $T/err
#   one_line_error PATTERN       $T/err is exactly one line matching PATTERN (ERE)
#   new_csr NAME SUBJECT [ARGS]  $T/NAME.key + $T/NAME.der (DER CSR), P-256
#   enroll NAME SUBJECT USER PW  enroll via curl (Basic): $T/NAME.pem
#   p7_to_pem IN OUT             certs-only body (base64 or PEM) -> PEM certs
#   serial_of CERT               the serial as `openssl x509 -serial` prints it
# CTest passes ESTD, EST and E2E_LIB in the environment.
set -euo pipefail

: "${ESTD:?ESTD must point at the estd binary}"
T=$(mktemp -d)
ESTD_PID=
cleanup() {
  if [ -n "${ESTD_PID}" ] && kill -0 "$ESTD_PID" 2>/dev/null; then
    kill -TERM "$ESTD_PID" 2>/dev/null || true
    wait "$ESTD_PID" 2>/dev/null || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$T/estd.log" ]; then tail -20 "$T/estd.log" >&2; fi
  exit 1
}
pass() { echo "ok: $*"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# estd_init [USER PASSWORD]: a fresh server directory DIR=$T/estd with its
# CA root in CA and, when named, one user with that password (Basic).
estd_init() {
  DIR=$T/estd
  CA=$DIR/ca/ca.pem
  "$ESTD" init "$DIR" >/dev/null
  if [ $# -gt 0 ]; then
    printf '%s\n' "$2" | "$ESTD" user add "$DIR" "$1" --password-stdin
  fi
}

# estd_start DIR: serve DIR on a free port; sets PORT, URL, ESTD_PID.
estd_start() {
  local dir=$1
  PORT=$(free_port)
  URL="https://127.0.0.1:$PORT/.well-known/est"
  "$ESTD" serve "$dir" --listen "127.0.0.1:$PORT" 2>>"$T/estd.log" &
  ESTD_PID=$!
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null --cacert "$dir/ca/ca.pem" "$URL/cacerts"; then return 0; fi
    kill -0 "$ESTD_PID" 2>/dev/null || fail "estd exited at start"
    sleep 0.1
  done
  fail "estd did not start listening"
}

estd_stop() {
  kill -TERM "$ESTD_PID"
  wait "$ESTD_PID" || fail "estd exited with status $? after SIGTERM"
  ESTD_PID=
}

# wait_for CMD...: run CMD (quietly) every 0.1 s until it succeeds; status 1
# when it has not after 100 tries.
wait_for() {
  for _ in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# expect_status N CMD...: CMD must exit with status N; stdout -> $T/out, stderr -> $T/err.
expect_status() {
  local want=$1 got=0; shift
  "$@" >"$T/out" 2>"$T/err" || got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want; stderr: $(cat "$T/err")"
}

# one_line_error PATTERN: the last command's stderr is one line matching PATTERN.
one_line_error() {
  [ "$(wc -l <"$T/err")" = 1 ] || fail "stderr is not one line: $(cat "$T/err")"
  grep -Eq -- "$1" "$T/err" || fail "stderr '$(cat "$T/err")' does not match '$1'"
}

new_csr() {
  local name=$1 subject=$2; shift 2
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$name.key" \
    -subj "$subject" -outform DER -out "$T/$name.der" "$@" 2>/dev/null
}

p7_to_pem() {
  if grep -q 'BEGIN PKCS7' "$1"; then
    openssl pkcs7 -in "$1" -print_certs -out "$2"
  else
    # MIME base64 lines may end in CRLF (RFC 2045); base64 -d refuses '\r'.
    tr -d '\r' <"$1" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$2"
  fi
}

# enroll NAME SUBJECT USER PASSWORD: a certificate from the running estd
# (CA $DIR/ca/ca.pem) for a fresh key, via /simpleenroll with Basic.
enroll() {
  local name=$1 subject=$2 user=$3 password=$4
  new_csr "$name" "$subject"
  base64 "$T/$name.der" >"$T/$name.b64"
  curl -sf --cacert "$DIR/ca/ca.pem" --user "$user:$password" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/$name.b64" "$URL/simpleenroll" -o "$T/$name.p7" || fail "enroll $name"
  p7_to_pem "$T/$name.p7" "$T/$name.pem"
}

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
