# Helpers for the server e2e tests: everything in common.sh, plus checks on
# the running server's state.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# estd_alive: the server still answers /cacerts.
estd_alive() {
  curl -sf -o /dev/null --cacert "$DIR/ca/ca.pem" "$URL/cacerts" || fail "estd no longer serves"
}

# store_count: certificates in the store.
store_count() { sqlite3 "$DIR/estd.db" 'SELECT count(*) FROM certs'; }
