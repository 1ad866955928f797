#!/usr/bin/env bash
# estd as an RA in front of a CMP CA (issuer = cmp): `openssl cmp` runs as
# the mock CMP server (a real CMP implementation no one here wrote), and
# curl and `est` enroll (p10cr) and re-enroll (kur) through the RA:
# shared-secret MAC and signature protection, a rejection with the CA's reason (403), polling
# (202 + the CA's checkAfter, then the certificate), a certificate for
# another key (502, nothing stored), the CA gone (503).
#
# The mock server listens on every interface, so the test runs in its own
# network namespace where only loopback exists.
if [ -z "${ESTD_NETNS:-}" ]; then
  if [ "$(id -u)" = 0 ]; then exec env ESTD_NETNS=1 unshare -n bash "$0" "$@"; fi
  exec env ESTD_NETNS=1 unshare -rn bash "$0" "$@"
fi
ip link set lo up
. "$E2E_LIB/server.sh"

# The CMP CA: its certificate signs CMP responses and issues devices.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/cmpca.key" \
  -subj /CN=CMP-CA -days 5 -out "$T/cmpca.pem" 2>/dev/null
SERIAL=100
# issue NAME: $T/NAME.pem = the CA's certificate for $T/NAME.key (what the
# mock answers; the mock does not look at the request's key).
issue() {
  SERIAL=$((SERIAL + 1))
  openssl req -new -key "$T/$1.key" -subj "/CN=$1" -out "$T/$1.req" 2>/dev/null
  openssl x509 -req -in "$T/$1.req" -CA "$T/cmpca.pem" -CAkey "$T/cmpca.key" -days 5 \
    -set_serial "$SERIAL" -out "$T/$1.pem" 2>/dev/null
}
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.key" 2>/dev/null; }

MOCK_PID=
mock_start() { # rsp-cert [mock options...]
  local rsp=$1; shift
  : >"$T/mock.log"
  openssl cmp -port 0 -srv_cert "$T/cmpca.pem" -srv_key "$T/cmpca.key" -srv_secret pass:bootstrap-secret \
    -srv_trusted "$T/cmpca.pem" -rsp_cert "$rsp" -verbosity 7 "$@" >>"$T/mock.log" 2>&1 &
  MOCK_PID=$!
  for _ in $(seq 1 100); do
    MOCK_PORT=$(sed -n 's/^ACCEPT .*:\([0-9]*\) PID=.*/\1/p' "$T/mock.log")
    [ -n "$MOCK_PORT" ] && return 0
    sleep 0.1
  done
  fail "openssl cmp mock server did not start: $(cat "$T/mock.log")"
}
mock_stop() { kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null || true; MOCK_PID=; }
trap '[ -z "$MOCK_PID" ] || kill "$MOCK_PID" 2>/dev/null; cleanup' EXIT

DIR=$T/ra
"$ESTD" init "$DIR" >/dev/null
printf 'bootstrap-secret\n' >"$T/secret"
chmod 600 "$T/secret"
printf 'pw\n' | "$ESTD" user add "$DIR" dev --password-stdin
# ra_conf PORT MODE: the [ca "cmp"] section, MAC or signature protection.
ra_conf() {
  sed -i '/^\[ca "cmp"\]/,$d' "$DIR/estd.conf"
  cat >>"$DIR/estd.conf" <<EOF
[ca "cmp"]
issuer = cmp
cert = $T/cmpca.pem
upstream_url = http://127.0.0.1:$1/pkix/
upstream_trust = $T/cmpca.pem
upstream_timeout_seconds = 5
EOF
  if [ "$2" = mac ]; then
    printf 'cmp_secret_file = %s\ncmp_reference = ra-1\n' "$T/secret" >>"$DIR/estd.conf"
  else
    printf 'upstream_cert = %s\nupstream_key = %s\n' "$T/racmp.pem" "$T/racmp.key" >>"$DIR/estd.conf"
  fi
}
post() { # op key-name [curl args] -> status
  local op=$1 name=$2; shift 2
  openssl req -new -key "$T/$name.key" -subj "/CN=$name" -outform DER 2>/dev/null | base64 >"$T/$name.b64"
  curl -s --cacert "$DIR/ca/ca.pem" -H 'Content-Type: application/pkcs10' --data-binary @"$T/$name.b64" \
    -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@" "$URL/cmp/$op"
}

# --- MAC-protected p10cr, curl ---
newkey d1
issue d1
mock_start "$T/d1.pem"
ra_conf "$MOCK_PORT" mac
estd_start "$DIR"
[ "$(post simpleenroll d1 --user dev:pw)" = 200 ] || fail "enroll via CMP RA: $(cat "$T/body")"
p7_to_pem "$T/body" "$T/d1.got.pem"
openssl verify -CAfile "$T/cmpca.pem" "$T/d1.got.pem" >/dev/null || fail "does not chain to the CMP CA"
cmp -s <(openssl x509 -in "$T/d1.got.pem" -outform DER) <(openssl x509 -in "$T/d1.pem" -outform DER) \
  || fail "not the CA's certificate"
[ "$(sqlite3 "$DIR/estd.db" "SELECT requester FROM certs WHERE serial='$(serial_of "$T/d1.pem")'")" = dev ] \
  || fail "RA did not store the certificate"
grep -q "received P10CR" "$T/mock.log" && grep -q "validated PBM-based" "$T/mock.log" \
  || fail "the mock saw no MAC-protected p10cr"
pass "curl enroll through the RA, p10cr with a shared-secret MAC"
estd_stop
mock_stop

# --- signature protection (RA certificate from the CA), est enroll + reenroll ---
newkey racmp
issue racmp
newkey d2
issue d2
mock_start "$T/d2.pem"
ra_conf "$MOCK_PORT" signature
estd_start "$DIR"
S=(--server "https://127.0.0.1:$PORT" --label cmp --trust "$DIR/ca/ca.pem")
printf 'pw\n' >"$T/pw"
"$EST" enroll "${S[@]}" --user dev --password-file "$T/pw" --key "$T/d2.key" --subject CN=d2 \
  -o "$T/d2.got.pem" 2>"$T/est.err" || fail "est enroll via CMP RA: $(cat "$T/est.err")"
openssl verify -CAfile "$T/cmpca.pem" "$T/d2.got.pem" >/dev/null || fail "est: does not chain"
mock_stop
# Re-enroll: openssl's mock answers a kur only when it names the very
# certificate the mock hands out (-rsp_cert), so the device renews one the
# CA issued it directly (not through this RA, hence not yet in its store).
newkey d5
issue d5
mock_start "$T/d5.pem" -accept_raverified
ra_conf "$MOCK_PORT" signature
estd_stop
estd_start "$DIR"
S=(--server "https://127.0.0.1:$PORT" --label cmp --trust "$DIR/ca/ca.pem")
"$EST" reenroll "${S[@]}" --cert "$T/d5.pem" --key "$T/d5.key" -o "$T/d5.renewed.pem" \
  2>"$T/est.err" || fail "est reenroll via CMP RA: $(cat "$T/est.err")"
[ "$(serial_of "$T/d5.renewed.pem")" = "$(serial_of "$T/d5.pem")" ] || fail "renewal is not the CA's"
grep -q "received KUR" "$T/mock.log" || fail "re-enroll did not reach the CA as a kur"
[ "$(sqlite3 "$DIR/estd.db" "SELECT operation FROM certs WHERE serial='$(serial_of "$T/d5.pem")'")" = renew ] \
  || fail "renewal not stored as renew"
pass "est enroll (p10cr) and reenroll (kur, raVerified) through the RA, signature protection"
estd_stop
mock_stop
newkey d6
issue d6
mock_start "$T/d6.pem" -accept_raverified
ra_conf "$MOCK_PORT" mac
estd_start "$DIR"
[ "$(post simplereenroll d6 --cert "$T/d6.pem" --key "$T/d6.key")" = 200 ] \
  || fail "curl re-enroll via CMP RA: $(cat "$T/body")"
[ "$(grep -c "received KUR" "$T/mock.log")" = 1 ] || fail "curl re-enroll was not a kur"
pass "curl re-enroll through the RA (kur with a shared-secret MAC)"
estd_stop
mock_stop

# --- /fullcmc in front of the CMP CA: p10cr for its PKCS#10, rr for its
# revokeRequest; the RA signs the CMC responses with its own key ---
CMC=$(dirname "$ESTD")/tests/unit_lib_cmc
[ -x "$CMC" ] || fail "needs $CMC (build target unit_lib_cmc)"
newkey d7
issue d7
mock_start "$T/d7.pem"
ra_conf "$MOCK_PORT" signature
estd_start "$DIR"
post_cmc() { # request-file -> status; DER answer in $T/resp.der
  base64 "$1" >"$T/cmc.b64"
  local code
  code=$(curl -s --cacert "$DIR/ca/ca.pem" --user dev:pw -H 'Content-Type: application/pkcs7-mime' \
    --data-binary @"$T/cmc.b64" -o "$T/body" -w '%{http_code}' "$URL/cmp/fullcmc")
  base64 -d "$T/body" >"$T/resp.der" 2>/dev/null || true
  echo "$code"
}
openssl req -new -key "$T/d7.key" -subj /CN=d7 -outform DER -out "$T/d7.der" 2>/dev/null
"$CMC" enroll "$T/d7.key" "$T/d7.der" "$T/d7.req" "$T/d7.ids" || fail "building the CMC request"
[ "$(post_cmc "$T/d7.req")" = 200 ] || fail "fullcmc via CMP RA: $(cat "$T/body")"
out=$("$CMC" response "$T/resp.der" "$T/cmpca.pem" "$T/d7.ids" "$T/d7.key" "$T/d7.got.pem") \
  || fail "CMC response: $out"
[[ $out == "status=success"* ]] || fail "CMC status: $out"
openssl cms -cmsout -print -inform DER -in "$T/resp.der" | grep -q 'CN=racmp' || fail "not signed by the RA"
"$CMC" revoke "$T/d7.pem" "$T/d7.pem" "$T/d7.key" 1 "$T/r7.req" "$T/r7.ids"
[ "$(post_cmc "$T/r7.req")" = 200 ] || fail "fullcmc revoke via CMP RA: $(cat "$T/body")"
out=$("$CMC" response "$T/resp.der" "$T/cmpca.pem" "$T/r7.ids") || fail "revoke response: $out"
[[ $out == "status=success"* ]] || fail "revoke status: $out"
grep -q "received RR" "$T/mock.log" || fail "the CA got no rr"
[ "$(sqlite3 "$DIR/estd.db" "SELECT status FROM certs WHERE serial='$(serial_of "$T/d7.pem")'")" = 1 ] \
  || fail "not revoked in the RA's store"
pass "/fullcmc through the RA: p10cr enroll and rr revoke, answers signed by the RA"
estd_stop
mock_stop

# --- the CA rejects: 403 with its reason ---
newkey d3
issue d3
mock_start "$T/d3.pem" -pkistatus 2 -failure 2 -statusstring "subject not permitted here"
ra_conf "$MOCK_PORT" mac
estd_start "$DIR"
[ "$(post simpleenroll d3 --user dev:pw)" = 403 ] || fail "rejection: $(cat "$T/body")"
grep -q 'subject not permitted here' "$T/body" || fail "rejection reason lost: $(cat "$T/body")"
[ "$(wc -l <"$T/body")" = 1 ] || fail "reason is not one line"
pass "CMP rejection -> 403 with the CA's reason ($(cat "$T/body"))"
estd_stop
mock_stop

# --- polling: 202 + the CA's checkAfter, the repeat gets the certificate ---
mock_start "$T/d3.pem" -poll_count 2 -check_after 3
ra_conf "$MOCK_PORT" mac
estd_start "$DIR"
[ "$(post simpleenroll d3 --user dev:pw)" = 202 ] || fail "polling: not 202: $(cat "$T/body")"
grep -qi '^Retry-After: 3' "$T/hdr" || fail "checkAfter not passed on: $(cat "$T/hdr")"
[ "$(post simpleenroll d3 --user dev:pw)" = 200 ] || fail "repeat after polling: $(cat "$T/body")"
pass "CMP polling -> 202 + Retry-After, then the certificate"

# --- the CA answers with a certificate for another key: refused, not stored ---
estd_stop
mock_stop
newkey d4
mock_start "$T/d1.pem"   # d1's certificate, whatever is asked
ra_conf "$MOCK_PORT" mac
estd_start "$DIR"
before=$(store_count)
[ "$(post simpleenroll d4 --user dev:pw)" = 502 ] || fail "foreign key: $(cat "$T/body")"
[ "$(store_count)" = "$before" ] || fail "a certificate for another key was stored"
pass "certificate for another key -> 502, nothing stored"

# --- the CA gone: 503 + Retry-After ---
mock_stop
[ "$(post simpleenroll d4 --user dev:pw)" = 503 ] || fail "CA gone: $(cat "$T/body")"
grep -qi '^Retry-After: ' "$T/hdr" || fail "503 without Retry-After"
pass "CMP server unreachable -> 503 + Retry-After"
estd_stop
