# Helpers for the server e2e tests: everything in common.sh, plus checks on
# the running server's state.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# estd_alive: the server still answers /cacerts.
estd_alive() {
  curl -sf -o /dev/null --cacert "$DIR/ca/ca.pem" "$URL/cacerts" || fail "estd no longer serves"
}

# store_count: certificates in the store.
store_count() { sqlite3 "$DIR/estd.db" 'SELECT count(*) FROM certs'; }

# idevid_make SUBJECT: a manufacturer CA ($DIR/idevid-ca.pem, its key
# $T/mfg.key) and a device certificate (IDevID, clientAuth, serial 42) it
# issued to SUBJECT: $T/idevid.pem with its key $T/idevid.key.
idevid_make() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/mfg.key" \
    -subj "/CN=Manufacturer CA" -days 30 -out "$DIR/idevid-ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/idevid.key" \
    -subj "$1" -out "$T/idevid.csr" 2>/dev/null
  openssl x509 -req -in "$T/idevid.csr" -CA "$DIR/idevid-ca.pem" -CAkey "$T/mfg.key" -days 10 \
    -set_serial 42 -extfile <(printf 'extendedKeyUsage=clientAuth\n') -out "$T/idevid.pem" 2>/dev/null
}
