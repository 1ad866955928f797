#!/usr/bin/env bash
# estd as a Registration Authority (issuer = est) in front of another estd
# (the CA): curl, `est` and strongSwan `pki --est` enroll and re-enroll
# through the RA; certificates chain to the upstream CA and are stored on
# both sides; the upstream's audit names the RA; /cacerts through the RA is
# the upstream's and survives the upstream going away; upstream down ->
# 503 + Retry-After; upstream manual approval -> 202 passed on, then the
# certificate once approved upstream.
. "$E2E_LIB/server.sh"
command -v pki >/dev/null || fail "strongSwan pki is not installed (scripts/deps installs it)"

UP=$T/upstream
"$ESTD" init "$UP" >/dev/null
sed -i 's/^csrattrs =$/csrattrs = ecdsa-with-SHA256/' "$UP/estd.conf"
# The RA's credential toward the upstream: id-kp-cmcRA (draft-04 §3.7).
new_csr ra "/CN=Field RA"
openssl x509 -req -inform DER -in "$T/ra.der" -CA "$UP/ca/ca.pem" -CAkey "$UP/ca/ca.key" \
  -days 5 -set_serial 0x5A01 -out "$T/ra.pem" \
  -extfile <(printf 'extendedKeyUsage=cmcRA,clientAuth\nbasicConstraints=critical,CA:FALSE\n') 2>/dev/null

UP_PID=
up_start() {
  UP_PORT=${UP_PORT:-$(free_port)}
  "$ESTD" serve "$UP" --listen "127.0.0.1:$UP_PORT" 2>>"$T/upstream.log" &
  UP_PID=$!
  wait_for curl -s -o /dev/null --cacert "$UP/ca/ca.pem" "https://127.0.0.1:$UP_PORT/.well-known/est/cacerts" ||
    fail "upstream estd did not start"
}
up_stop() { kill -TERM "$UP_PID"; wait "$UP_PID" || fail "upstream exited $?"; UP_PID=; }
trap '[ -z "$UP_PID" ] || kill -TERM "$UP_PID" 2>/dev/null; cleanup' EXIT
up_start

DIR=$T/ra
"$ESTD" init "$DIR" >/dev/null
cat >>"$DIR/estd.conf" <<EOF
issuer = est
upstream_url = https://127.0.0.1:$UP_PORT/.well-known/est
upstream_trust = $UP/ca/ca.pem
upstream_cert = $T/ra.pem
upstream_key = $T/ra.key
upstream_timeout_seconds = 5
retry_after_seconds = 7
serverkeygen = yes
upstream_csrattrs = yes
upstream_cacerts_refresh_seconds = 1
EOF
printf 'pw\n' | "$ESTD" user add "$DIR" dev --password-stdin
estd_start "$DIR"
# The RA's HTTPS certificate is its own; the CA behind it is the upstream's.
TLS_CA=$DIR/ca/ca.pem
UPCA=$UP/ca/ca.pem

post() { # op body-file [curl args...] -> status; body in $T/body, headers in $T/hdr
  local op=$1 file=$2; shift 2
  curl -s --cacert "$TLS_CA" -H 'Content-Type: application/pkcs10' --data-binary @"$file" \
    -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@" "$URL/$op"
}

# --- /cacerts through the RA is the upstream's ---
curl -sf --cacert "$TLS_CA" "$URL/cacerts" -o "$T/ra-cacerts.p7" || fail "RA /cacerts"
curl -sf --cacert "$UPCA" "https://127.0.0.1:$UP_PORT/.well-known/est/cacerts" -o "$T/up-cacerts.p7"
p7_to_pem "$T/ra-cacerts.p7" "$T/ra-cacerts.pem"
p7_to_pem "$T/up-cacerts.p7" "$T/up-cacerts.pem"
cmp -s "$T/ra-cacerts.pem" "$T/up-cacerts.pem" || fail "RA /cacerts differs from the upstream's"
pass "/cacerts through the RA equals the upstream's"

# --- /csrattrs passed through (upstream_csrattrs = yes) ---
curl -sf --cacert "$TLS_CA" --user dev:pw "$URL/csrattrs" -o "$T/ra-attrs" || fail "RA /csrattrs"
base64 -d "$T/ra-attrs" | openssl asn1parse -inform DER | grep -q ecdsa-with-SHA256 \
  || fail "RA /csrattrs is not the upstream's (ecdsa-with-SHA256): $(cat "$T/ra-attrs")"
pass "/csrattrs passed through from the upstream"

# --- the background refresh keeps the last good /cacerts on disk fresh ---
CACHE=$DIR/ca/upstream-cacerts.pem
# cache_rewritten: the last good copy on disk is written again (refresh
# every second here), within 10 s.
cache_rewritten() {
  local m0
  m0=$(stat -c %Y "$CACHE")
  for _ in $(seq 1 100); do [ "$(stat -c %Y "$CACHE")" != "$m0" ] && return 0; sleep 0.1; done
  return 1
}
cache_rewritten || fail "/cacerts was not refreshed in the background"
pass "/cacerts refreshed in the background"

# --- curl enroll (Basic at the RA) ---
new_csr d1 "/CN=device-1"
base64 "$T/d1.der" >"$T/d1.b64"
[ "$(post simpleenroll "$T/d1.b64" --user dev:pw)" = 200 ] || fail "enroll via RA: $(cat "$T/body")"
p7_to_pem "$T/body" "$T/d1.pem"
openssl verify -CAfile "$UPCA" "$T/d1.pem" >/dev/null || fail "certificate does not chain to the upstream CA"
S1=$(serial_of "$T/d1.pem")
[ "$(sqlite3 "$UP/estd.db" "SELECT requester FROM certs WHERE serial='$S1'")" = "/CN=Field RA" ] \
  || fail "upstream does not record the RA as requester: $(sqlite3 "$UP/estd.db" "SELECT requester FROM certs WHERE serial='$S1'")"
sqlite3 "$UP/estd.db" "SELECT actor FROM audit WHERE event='issue' AND serial='$S1'" | grep -q 'Field RA' \
  || fail "upstream audit does not name the RA"
[ "$(sqlite3 "$DIR/estd.db" "SELECT requester FROM certs WHERE serial='$S1'")" = dev ] \
  || fail "RA did not store the certificate for its device"
sqlite3 "$DIR/estd.db" "SELECT event FROM audit" | grep -qx forward || fail "RA did not audit the forward"
sqlite3 "$DIR/estd.db" "SELECT detail FROM audit WHERE event='issue' AND serial='$S1'" | grep -q "enroll via https://127.0.0.1:$UP_PORT" \
  || fail "RA's issue row does not name the upstream"
pass "curl enroll through the RA (chains upstream; stored on both sides; upstream audit names the RA)"

# --- curl re-enroll with the device certificate (from the upstream CA) ---
[ "$(post simplereenroll "$T/d1.b64" --cert "$T/d1.pem" --key "$T/d1.key")" = 200 ] \
  || fail "re-enroll via RA: $(cat "$T/body")"
p7_to_pem "$T/body" "$T/d1b.pem"
openssl verify -CAfile "$UPCA" "$T/d1b.pem" >/dev/null || fail "renewed certificate does not chain"
sqlite3 "$UP/estd.db" "SELECT operation FROM certs WHERE serial='$(serial_of "$T/d1b.pem")'" | grep -qx renew-via-ra \
  || fail "upstream did not see an RA re-enroll"
new_csr other "/CN=someone-else"
base64 "$T/other.der" >"$T/other.b64"
[ "$(post simplereenroll "$T/other.b64" --cert "$T/d1.pem" --key "$T/d1.key")" = 400 ] \
  || fail "RA forwarded a re-enroll that changes the subject"
pass "curl re-enroll through the RA; the RA applies the subject rule"

# --- est enroll and reenroll ---
S=(--server "https://127.0.0.1:$PORT" --trust "$TLS_CA")
printf 'pw\n' >"$T/pw"
"$EST" enroll "${S[@]}" --user dev --password-file "$T/pw" --subject CN=est-device -o "$T/e.pem" \
  --key "$T/e.key" 2>"$T/est.err" || fail "est enroll via RA: $(cat "$T/est.err")"
openssl verify -CAfile "$UPCA" "$T/e.pem" >/dev/null || fail "est certificate does not chain upstream"
"$EST" reenroll "${S[@]}" --cert "$T/e.pem" --key "$T/e.key" -o "$T/e2.pem" 2>"$T/est.err" \
  || fail "est reenroll via RA: $(cat "$T/est.err")"
openssl verify -CAfile "$UPCA" "$T/e2.pem" >/dev/null || fail "est renewed certificate does not chain"
pass "est enroll and reenroll through the RA"

# --- strongSwan pki --est (Basic, then re-enroll with its certificate) ---
pki --gen --type ecdsa --size 256 --outform pem >"$T/k1.pem" 2>/dev/null
pki --req --type priv --in "$T/k1.pem" --dn "CN=swan-ra" --outform pem >"$T/r1.pem" 2>/dev/null
pki --est --url "https://127.0.0.1:$PORT" --in "$T/r1.pem" --cacert "$TLS_CA" --cacert "$UPCA" \
  --userpass dev:pw --outform pem >"$T/c1.pem" 2>"$T/pki.log" || fail "pki --est via RA: $(tail -3 "$T/pki.log")"
openssl verify -CAfile "$UPCA" "$T/c1.pem" >/dev/null || fail "pki certificate does not chain upstream"
pki --est --url "https://127.0.0.1:$PORT" --in "$T/r1.pem" --cacert "$TLS_CA" --cacert "$UPCA" \
  --cert "$T/c1.pem" --key "$T/k1.pem" --outform pem >"$T/c2.pem" 2>"$T/pki.log" \
  || fail "pki --est re-enroll via RA: $(tail -3 "$T/pki.log")"
openssl verify -CAfile "$UPCA" "$T/c2.pem" >/dev/null || fail "pki renewed certificate does not chain"
pass "strongSwan pki --est enroll and re-enroll through the RA"

# --- SIGHUP reload keeps the RA working (the refresher follows the new instance) ---
kill -HUP "$ESTD_PID"
wait_for grep -q 'reload: done' "$T/estd.log" || fail "RA did not reload"
curl -sf --cacert "$TLS_CA" "$URL/cacerts" -o "$T/ra-cacerts-r.p7" || fail "RA /cacerts after reload"
cmp -s "$T/ra-cacerts.p7" "$T/ra-cacerts-r.p7" || fail "/cacerts changed across the reload"
cache_rewritten || fail "/cacerts no longer refreshed after the reload"
pass "SIGHUP reload: /cacerts served and still refreshed"

# --- /serverkeygen: the RA generates the key, the upstream issues ---
new_csr skg "/CN=skg-device"
base64 "$T/skg.der" >"$T/skg.b64"
[ "$(post serverkeygen "$T/skg.b64" --user dev:pw)" = 200 ] || fail "serverkeygen via RA: $(cat "$T/body")"
grep -q 'application/pkcs8' "$T/body" || fail "no key part"
SKG=$(sqlite3 "$DIR/estd.db" "SELECT serial FROM certs WHERE operation='serverkeygen'")
[ -n "$SKG" ] && [ "$(sqlite3 "$UP/estd.db" "SELECT count(*) FROM certs WHERE serial='$SKG'")" = 1 ] \
  || fail "serverkeygen certificate not issued upstream and stored at the RA"
pass "/serverkeygen through the RA (key made by the RA, certificate by the upstream)"

# --- /fullcmc passed through: the upstream's CMC response, its certificate stored ---
CMC=$(dirname "$ESTD")/tests/unit_lib_cmc
[ -x "$CMC" ] || fail "needs $CMC (build target unit_lib_cmc)"
new_csr cmc "/CN=cmc-device"
"$CMC" enroll "$T/cmc.key" "$T/cmc.der" "$T/cmc.req" "$T/cmc.ids" || fail "building the CMC request"
base64 "$T/cmc.req" >"$T/cmc.b64"
code=$(curl -s --cacert "$TLS_CA" --user dev:pw -H 'Content-Type: application/pkcs7-mime' \
  --data-binary @"$T/cmc.b64" -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$URL/fullcmc")
[ "$code" = 200 ] || fail "fullcmc via RA: $code $(cat "$T/body")"
base64 -d "$T/body" >"$T/cmc.resp"
out=$("$CMC" response "$T/cmc.resp" "$UPCA" "$T/cmc.ids" "$T/cmc.key" "$T/cmc.pem") || fail "CMC response: $out"
[[ $out == "status=success"* ]] || fail "CMC status: $out"
openssl verify -CAfile "$UPCA" "$T/cmc.pem" >/dev/null || fail "fullcmc certificate does not chain upstream"
[ "$(sqlite3 "$DIR/estd.db" "SELECT operation FROM certs WHERE serial='$(serial_of "$T/cmc.pem")'")" = fullcmc ] \
  || fail "fullcmc certificate not stored at the RA"
pass "/fullcmc passed through the RA (upstream-signed response; certificate stored)"

# --- upstream down: 503 + Retry-After; /cacerts from the last good copy ---
up_stop
new_csr d2 "/CN=device-2"
base64 "$T/d2.der" >"$T/d2.b64"
[ "$(post simpleenroll "$T/d2.b64" --user dev:pw)" = 503 ] || fail "upstream down: not 503: $(cat "$T/body")"
grep -qi '^Retry-After: 7' "$T/hdr" || fail "503 without Retry-After"
grep -q 'unreachable' "$T/body" || fail "503 reason: $(cat "$T/body")"
curl -sf --cacert "$TLS_CA" "$URL/cacerts" -o "$T/ra-cacerts2.p7" || fail "RA /cacerts with upstream down"
cmp -s "$T/ra-cacerts.p7" "$T/ra-cacerts2.p7" || fail "cached /cacerts differs"
sqlite3 "$DIR/estd.db" "SELECT event FROM audit" | grep -qx forward-failed || fail "failed forward not audited"
for _ in $(seq 1 50); do grep -q 'serving the last good /cacerts, [0-9]* s old' "$T/estd.log" && break; sleep 0.1; done
grep -q 'serving the last good /cacerts, [0-9]* s old' "$T/estd.log" || fail "failed refresh (and the copy's age) not logged"
pass "upstream down: device gets 503 + Retry-After, RA still serves /cacerts"

# A restart with the upstream still down serves the copy kept on disk.
estd_stop
estd_start "$DIR"
curl -sf --cacert "$TLS_CA" "$URL/cacerts" -o "$T/ra-cacerts3.p7" || fail "RA /cacerts after restart"
cmp -s "$T/ra-cacerts.p7" "$T/ra-cacerts3.p7" || fail "/cacerts from disk differs"
grep -q 'last good /cacerts' "$T/estd.log" || fail "the cache's age was not logged"
pass "RA restarted with the upstream down serves /cacerts from its last good copy"

# --- upstream manual approval: 202 passed on, then the certificate ---
sed -i 's/^approval = auto/approval = manual/' "$UP/estd.conf"
up_start
[ "$(post simpleenroll "$T/d2.b64" --user dev:pw)" = 202 ] || fail "upstream 202 not passed on: $(cat "$T/body")"
grep -qi '^Retry-After: 60' "$T/hdr" || fail "upstream Retry-After not kept: $(cat "$T/hdr")"
ID=$(sqlite3 "$UP/estd.db" "SELECT id FROM pending WHERE status=0")
[ -n "$ID" ] || fail "no request waiting upstream"
[ "$(post simpleenroll "$T/d2.b64" --user dev:pw)" = 202 ] || fail "retry before approval: $(cat "$T/body")"
sqlite3 "$DIR/estd.db" "SELECT event FROM audit" | grep -qx forward-pending || fail "202 forward not audited"
[ "$(sqlite3 "$UP/estd.db" "SELECT count(*) FROM pending")" = 1 ] || fail "the retry made a second upstream request"
"$ESTD" pending approve "$UP" "$ID" >/dev/null || fail "upstream approve"
[ "$(post simpleenroll "$T/d2.b64" --user dev:pw)" = 200 ] || fail "retry after approval: $(cat "$T/body")"
p7_to_pem "$T/body" "$T/d2.pem"
openssl verify -CAfile "$UPCA" "$T/d2.pem" >/dev/null || fail "approved certificate does not chain"
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM certs WHERE serial='$(serial_of "$T/d2.pem")'")" = 1 ] \
  || fail "approved certificate not stored at the RA"
pass "upstream 202 -> device 202 (Retry-After kept), certificate after upstream approval"
estd_stop
up_stop
