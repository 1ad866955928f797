#!/usr/bin/env bash
# `estd init`: the files it writes and their modes, every key type, the TLS
# certificate (chains to the CA, SAN, serverAuth), the options, refusing an
# existing directory (and --force), a subordinate CA under a root and
# intermediate made here with openssl, and that a failed init leaves
# nothing behind.
. "$E2E_LIB/common.sh"

mode() { stat -c %a "$1"; }
no_leftovers() { ! compgen -G "$1.tmp-*" >/dev/null || fail "$1.tmp-* left behind"; }

# --- the default directory -------------------------------------------------
D=$T/default
"$ESTD" init "$D" >"$T/out" || fail "init"
grep -q 'sha256:[0-9a-f]\{64\}' "$T/out" || fail "init does not print the CA fingerprint"
for f in ca/ca.key ca/ca.pem tls/server.key tls/server.pem estd.conf estd.db; do
  [ -s "$D/$f" ] || fail "$f missing"
done
[ ! -e "$D/ca/chain.pem" ] || fail "a root CA got a chain.pem"
[ "$(mode "$D")" = 700 ] || fail "DIR mode $(mode "$D")"
[ "$(mode "$D/ca/ca.key")" = 600 ] || fail "ca.key mode $(mode "$D/ca/ca.key")"
[ "$(mode "$D/tls/server.key")" = 600 ] || fail "server.key mode $(mode "$D/tls/server.key")"
[ "$(mode "$D/estd.db")" = 600 ] || fail "estd.db mode $(mode "$D/estd.db")"
no_leftovers "$D"
openssl x509 -in "$D/ca/ca.pem" -noout -subject | grep -q 'CN *= *estkit CA' || fail "default CA subject"
openssl x509 -in "$D/ca/ca.pem" -noout -ext basicConstraints | grep -q 'CA:TRUE' || fail "CA not CA:TRUE"
openssl pkey -in "$D/ca/ca.key" -noout -text | grep -q 'P-256' || fail "default key is not P-256"
[ "$(grep -c 'BEGIN CERTIFICATE' "$D/tls/server.pem")" = 2 ] || fail "server.pem is not cert + CA"
openssl verify -CAfile "$D/ca/ca.pem" "$D/tls/server.pem" >/dev/null || fail "server cert does not verify"
openssl x509 -in "$D/tls/server.pem" -noout -ext subjectAltName >"$T/san"
grep -q 'DNS:localhost' "$T/san" && grep -q 'IP Address:127.0.0.1' "$T/san" || fail "SAN: $(cat "$T/san")"
openssl x509 -in "$D/tls/server.pem" -noout -ext extendedKeyUsage | grep -q 'TLS Web Server' \
  || fail "server cert lacks serverAuth"
cmp <(openssl pkey -in "$D/tls/server.key" -pubout) <(openssl x509 -in "$D/tls/server.pem" -noout -pubkey) \
  || fail "server.key does not match server.pem"
grep -q '^serverkeygen = no$' "$D/estd.conf" || fail "serverkeygen not off by default"
grep -q '^listen = 127.0.0.1:8443$' "$D/estd.conf" || fail "default listen"
[ "$(sqlite3 "$D/estd.db" "SELECT event FROM audit")" = init ] || fail "init not audited"
pass "default init: files, modes, TLS certificate, config, store"

# --- every key type ---------------------------------------------------------
declare -A algo=([ec-p256]='P-256' [ec-p384]='P-384' [rsa-2048]='2048 bit' [rsa-3072]='3072 bit'
                 [rsa-4096]='4096 bit' [ed25519]='ED25519')
for kt in ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096 ed25519; do
  "$ESTD" init "$T/$kt" --key-type "$kt" >/dev/null || fail "init --key-type $kt"
  openssl pkey -in "$T/$kt/ca/ca.key" -noout -text | grep -qi "${algo[$kt]}" || fail "$kt CA key"
  openssl pkey -in "$T/$kt/tls/server.key" -noout -text | grep -qi "${algo[$kt]}" || fail "$kt TLS key"
  [ "$(mode "$T/$kt/ca/ca.key")" = 600 ] && [ "$(mode "$T/$kt/tls/server.key")" = 600 ] || fail "$kt key modes"
  openssl verify -CAfile "$T/$kt/ca/ca.pem" "$T/$kt/tls/server.pem" >/dev/null || fail "$kt chain"
done
expect_status 1 "$ESTD" init "$T/dsa" --key-type dsa
one_line_error '^estd: init: .*dsa'
[ ! -e "$T/dsa" ] || fail "a refused init created DIR"
pass "every key type (ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519)"

# --- options ------------------------------------------------------------------
O=$T/options
"$ESTD" init "$O" --ca-subject 'CN=Test Root,O=Example Org' --server-name est.example.com \
  --server-name 10.0.0.5 --enable-serverkeygen --listen 0.0.0.0:9443 --days 30 >/dev/null || fail "init options"
openssl x509 -in "$O/ca/ca.pem" -noout -subject | grep -q 'CN *= *Test Root, *O *= *Example Org' \
  || fail "--ca-subject: $(openssl x509 -in "$O/ca/ca.pem" -noout -subject)"
openssl x509 -in "$O/ca/ca.pem" -noout -checkend $((29 * 86400)) >/dev/null || fail "--days 30 too short"
! openssl x509 -in "$O/ca/ca.pem" -noout -checkend $((31 * 86400)) >/dev/null || fail "--days 30 too long"
openssl x509 -in "$O/tls/server.pem" -noout -ext subjectAltName >"$T/san"
grep -q 'DNS:est.example.com' "$T/san" && grep -q 'IP Address:10.0.0.5' "$T/san" || fail "SAN: $(cat "$T/san")"
grep -q localhost "$T/san" && fail "--server-name still added localhost"
openssl x509 -in "$O/tls/server.pem" -noout -subject | grep -q 'CN *= *est.example.com' || fail "TLS CN"
grep -q '^serverkeygen = yes$' "$O/estd.conf" || fail "--enable-serverkeygen"
grep -q '^listen = 0.0.0.0:9443$' "$O/estd.conf" || fail "--listen"
expect_status 1 "$ESTD" init "$T/x" --days 0
one_line_error '^estd: init: --days'
expect_status 1 "$ESTD" init "$T/x" --server-name 'bad name!'
one_line_error '^estd: init: .*bad name'
[ ! -e "$T/x" ] && no_leftovers "$T/x" || fail "a failed init left files"
expect_status 1 "$ESTD" init
expect_status 1 "$ESTD" init "$T/x" --no-such-option
grep -q "unknown option '--no-such-option'" "$T/err" || fail "unknown option message: $(cat "$T/err")"
pass "options (--ca-subject, --server-name, --enable-serverkeygen, --listen, --days)"

# --- existing directories -------------------------------------------------------
sum=$(sha256sum "$D/ca/ca.key")
expect_status 1 "$ESTD" init "$D"
one_line_error "^estd: init: .*default is not empty; use --force"
[ "$(sha256sum "$D/ca/ca.key")" = "$sum" ] || fail "refused init changed the CA key"
"$ESTD" init "$D" --force >/dev/null || fail "init --force"
[ "$(sha256sum "$D/ca/ca.key")" != "$sum" ] || fail "--force kept the old CA key"
openssl verify -CAfile "$D/ca/ca.pem" "$D/tls/server.pem" >/dev/null || fail "--force result"
! compgen -G "$D.old-*" >/dev/null || fail "--force left the old directory"
no_leftovers "$D"
mkdir "$T/other" && echo precious >"$T/other/file"
expect_status 1 "$ESTD" init "$T/other" --force
one_line_error 'holds no estd.conf; not replacing it'
[ "$(cat "$T/other/file")" = precious ] || fail "--force touched a non-estd directory"
mkdir "$T/empty"
"$ESTD" init "$T/empty/" >/dev/null || fail "init into an empty directory"
[ -s "$T/empty/ca/ca.pem" ] && [ "$(mode "$T/empty")" = 700 ] || fail "empty dir not initialised"
echo x >"$T/plainfile"
expect_status 1 "$ESTD" init "$T/plainfile"
one_line_error 'not a directory'
pass "existing directories: refused, --force replaces only estd directories, empty is fine"

# --- a subordinate CA under a root and an intermediate made with openssl ---------
S=$T/pki
mkdir "$S"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/root.key" \
  -subj '/CN=Test Offline Root' -days 3650 -out "$S/root.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/int.key" \
  -subj '/CN=Test Issuing CA' -out "$S/int.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$S/ca.ext"
openssl x509 -req -in "$S/int.csr" -CA "$S/root.pem" -CAkey "$S/root.key" -CAcreateserial \
  -days 1000 -extfile "$S/ca.ext" -out "$S/int.pem" 2>/dev/null
SUB=$T/sub
"$ESTD" init "$SUB" --ca-cert "$S/int.pem" --ca-key "$S/int.key" --chain "$S/root.pem" >/dev/null \
  || fail "subordinate init"
cmp <(openssl x509 -in "$SUB/ca/ca.pem" -outform DER) <(openssl x509 -in "$S/int.pem" -outform DER) \
  || fail "ca.pem is not the intermediate"
cmp <(openssl x509 -in "$SUB/ca/chain.pem" -outform DER) <(openssl x509 -in "$S/root.pem" -outform DER) \
  || fail "chain.pem is not the root"
[ "$(mode "$SUB/ca/ca.key")" = 600 ] || fail "imported key mode"
[ "$(grep -c 'BEGIN CERTIFICATE' "$SUB/tls/server.pem")" = 3 ] || fail "server.pem is not cert + int + root"
openssl verify -CAfile "$S/root.pem" -untrusted "$SUB/ca/ca.pem" "$SUB/tls/server.pem" >/dev/null \
  || fail "subordinate server cert does not chain to the root"
# The chain may also follow the CA certificate in --ca-cert.
cat "$S/int.pem" "$S/root.pem" >"$S/bundle.pem"
"$ESTD" init "$T/sub2" --ca-cert "$S/bundle.pem" --ca-key "$S/int.key" >/dev/null || fail "bundle init"
[ -s "$T/sub2/ca/chain.pem" ] || fail "bundle: no chain.pem"
# An existing root may be imported as it is.
"$ESTD" init "$T/imported-root" --ca-cert "$S/root.pem" --ca-key "$S/root.key" >/dev/null || fail "root import"
[ ! -e "$T/imported-root/ca/chain.pem" ] || fail "imported root got a chain"
pass "subordinate CA: ca.pem, chain.pem, TLS chain to the root"

# --- subordinate errors: one line naming the file; nothing left behind -----------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/leaf.key" \
  -subj '/CN=not a ca' -out "$S/leaf.csr" 2>/dev/null
openssl x509 -req -in "$S/leaf.csr" -CA "$S/root.pem" -CAkey "$S/root.key" -days 10 -out "$S/leaf.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/other.key" \
  -subj '/CN=Other Root' -days 10 -out "$S/other.pem" 2>/dev/null
check_refused() {
  local pattern=$1; shift
  expect_status 1 "$ESTD" init "$T/bad" "$@"
  one_line_error "$pattern"
  [ ! -e "$T/bad" ] || fail "refused init created DIR"
  no_leftovers "$T/bad"
}
check_refused "int.key: the key does not match the certificate .*root.pem" \
  --ca-cert "$S/root.pem" --ca-key "$S/int.key"
check_refused "leaf.pem: not a CA certificate" --ca-cert "$S/leaf.pem" --ca-key "$S/leaf.key" --chain "$S/root.pem"
check_refused "int.pem is not self-signed: give the certificates above it .*--chain" \
  --ca-cert "$S/int.pem" --ca-key "$S/int.key"
check_refused "other.pem: the CA certificate does not chain to a root" \
  --ca-cert "$S/int.pem" --ca-key "$S/int.key" --chain "$S/other.pem"
check_refused "nope.key" --ca-cert "$S/int.pem" --ca-key "$S/nope.key" --chain "$S/root.pem"
echo garbage >"$S/garbage.key"
check_refused "garbage.key: no usable private key" --ca-cert "$S/int.pem" --ca-key "$S/garbage.key"
check_refused "--ca-cert and --ca-key go together" --ca-cert "$S/int.pem"
pass "subordinate CA errors name the file; nothing half-written"

# --- help ---------------------------------------------------------------------------
"$ESTD" --help | grep -q '^  init ' || fail "estd --help lacks init"
"$ESTD" help init | grep -q -- '--ca-subject' || fail "estd help init"
"$ESTD" init --help | grep -q -- '--enable-serverkeygen' || fail "estd init --help"
expect_status 1 "$ESTD" frobnicate
one_line_error "'frobnicate' is not a command"
expect_status 1 "$ESTD"
pass "help"
