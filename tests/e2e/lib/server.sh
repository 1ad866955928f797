# Shared shell helpers for e2e tests that run a real estd.
# Source it; it sets `set -euo pipefail`, a temp dir $T removed on exit,
# and functions to start/stop estd on a free 127.0.0.1 port.
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

fail() { echo "FAIL: $*" >&2; [ -f "$T/estd.log" ] && tail -20 "$T/estd.log" >&2; exit 1; }
pass() { echo "ok: $*"; }

# A port nobody listens on (the kernel picks it, we release it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
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

# estd_alive: the server still answers /cacerts.
estd_alive() {
  curl -sf -o /dev/null --cacert "$DIR/ca/ca.pem" "$URL/cacerts" || fail "estd no longer serves"
}

# new_csr NAME SUBJECT [extra openssl req args]: NAME.key + NAME.der (DER CSR).
new_csr() {
  local name=$1 subject=$2; shift 2
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$name.key" \
    -subj "$subject" -outform DER -out "$T/$name.der" "$@" 2>/dev/null
}

# p7_to_pem IN OUT: a certs-only response body (base64 or PEM) to PEM certs.
p7_to_pem() {
  if grep -q 'BEGIN PKCS7' "$1"; then
    openssl pkcs7 -in "$1" -print_certs -out "$2"
  else
    tr -d '\r' < "$1" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$2"
  fi
}

# store_count: certificates in the store.
store_count() { sqlite3 "$DIR/estd.db" 'SELECT count(*) FROM certs'; }
