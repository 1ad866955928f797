#!/usr/bin/env bash
# Three estd nodes on one PostgreSQL store (issue #16), the server started
# by the test itself (lib/pg.sh):
# - 300 enrollments, 8 at a time, curl and `est` spread over the nodes:
#   300 certificates, unique serials, every one verifies;
# - a node SIGKILLed mid-run: every certificate a client received is stored;
# - a revocation made through node A's directory is refused by node C at
#   once (revocation is looked up per request, never cached);
# - a Digest nonce issued by one node is accepted by another;
# - PostgreSQL stopped: 503 + Retry-After, /readyz fails, no crash, no
#   certificate sent that is missing after the restart; the nodes recover
#   by themselves;
# - a one-time code sent to two nodes at the same instant issues once;
# - a request approved through node B is fetched from node C.
. "$E2E_LIB/common.sh"
. "$E2E_LIB/pg.sh"
pg_start

NODES=(1 2 3)
declare -A PORT_OF PID_OF
stop_nodes() {
  for n in "${NODES[@]}"; do
    if [ -n "${PID_OF[$n]:-}" ] && kill -0 "${PID_OF[$n]}" 2>/dev/null; then
      kill -TERM "${PID_OF[$n]}" 2>/dev/null || true
      wait "${PID_OF[$n]}" 2>/dev/null || true
    fi
    PID_OF[$n]=
  done
}
trap 'stop_nodes; pg_server_stop "$PG_DIR" immediate; rm -rf "$PG_DIR"; cleanup' EXIT

node_start() {
  local n=$1
  PORT_OF[$n]=$(free_port)
  "$ESTD" serve "$T/n$n" --listen "127.0.0.1:${PORT_OF[$n]}" 2>>"$T/n$n.log" &
  PID_OF[$n]=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$CA" "$(url "$n")/cacerts" && return 0
    kill -0 "${PID_OF[$n]}" 2>/dev/null || fail "node $n exited at start: $(tail -3 "$T/n$n.log")"
    sleep 0.1
  done
  fail "node $n did not start listening"
}
url() { echo "https://127.0.0.1:${PORT_OF[$1]}/.well-known/est"; }
# reconfigure SED: every node stopped, its estd.conf edited, started again.
reconfigure() {
  stop_nodes
  for n in "${NODES[@]}"; do sed -i "$1" "$T/n$n/estd.conf"; done
  for n in "${NODES[@]}"; do node_start "$n"; done
}
store_serials() { pg_sql 'SELECT serial FROM certs' | sort; }
# received DIR: the serials of every certificate clients got, sorted.
received() {
  local f
  for f in "$1"/*.pem; do [ -s "$f" ] && serial_of "$f"; done | sort
}

# --- one CA directory, copied to every node; the schema made once --------------
"$ESTD" init "$T/n1" --store "$PG_URI" >/dev/null || fail "init --store"
grep -q "^store = $PG_URI$" "$T/n1/estd.conf" || fail "init did not write store = $PG_URI"
[ ! -e "$T/n1/estd.db" ] || fail "init made a SQLite store too"
# Digest is opt-in (issue #12): the policy names it, the user has HA1.
sed -i 's/^enroll_auth = .*/enroll_auth = cert, basic, digest/' "$T/n1/estd.conf"
cp -a "$T/n1" "$T/n2"
cp -a "$T/n1" "$T/n3"
# Node 1 also serves /readyz, which must follow the database.
MPORT=$(free_port)
sed -i "s/^metrics_listen =.*/metrics_listen = 127.0.0.1:$MPORT/" "$T/n1/estd.conf"
ready() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/readyz"; }
CA=$T/n1/ca/ca.pem
printf 'pw\n' | "$ESTD" user add "$T/n2" dev --password-stdin --digest
printf 'pw\n' >"$T/pw"
chmod 600 "$T/pw"
[ "$(pg_sql "SELECT value FROM meta WHERE key = 'schema_version'")" = 5 ] || fail "schema version"
expect_status 1 "$ESTD" init "$T/bad" --store "postgresql://estd:secret@/postgres?host=$PG_DIR"
one_line_error "password in the connection string is refused"
[ ! -e "$T/bad" ] || fail "a refused init left a directory"
expect_status 1 "$ESTD" init "$T/bad" --store "$T/other.db"
one_line_error "^estd: init: --store takes a PostgreSQL URI"
for n in "${NODES[@]}"; do node_start "$n"; done
pass "init --store makes the schema; three nodes start on it"

# --- 300 enrollments, 8 at a time, over three nodes ------------------------------
# worker I: enrolls device I at node I % 3 + 1, with `est` every fifth time,
# else curl; the certificate (if any) in $T/c/I.pem, curl's status in I.status.
mkdir -p "$T/c"
cat >"$T/worker.sh" <<'EOF'
i=$1; n=$((i % 3 + 1)); eval "port=\$PORT_$n"
url="https://127.0.0.1:$port/.well-known/est"
if [ $((i % 5)) = 0 ]; then
  for _ in 1 2 3 4 5; do
    "$EST" enroll --server "$url" --trust "$CA" --user dev --password-file "$T/pw" \
      --key "$C/$i.key" --subject "CN=dev-$i,O=Example" --no-csrattrs -o "$C/$i.pem" \
      2>"$C/$i.err" && { echo 200 >"$C/$i.status"; exit 0; }
    { grep -o ' 503\b' "$C/$i.err" | tr -d ' ' | grep . || echo "est: $(cat "$C/$i.err")"; } \
      >"$C/$i.status"
    grep -q 'checking passwords' "$C/$i.err" || exit 0
    sleep 1
  done
  exit 0
fi
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$i.key" \
  -subj "/CN=dev-$i/O=Example" -outform DER -out "$C/$i.der" 2>/dev/null
base64 "$C/$i.der" >"$C/$i.b64"
# A 503 for "busy checking passwords" is asked again, as clients do after
# Retry-After; a 503 for the store is final here (the test counts it).
for _ in 1 2 3 4 5; do
  curl -s --cacert "$CA" --user dev:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$C/$i.b64" "$url/simpleenroll" -o "$C/$i.p7" -w '%{http_code}\n' >"$C/$i.status"
  [ "$(cat "$C/$i.status")" = 503 ] && grep -q 'checking passwords' "$C/$i.p7" || break
  sleep 1
done
if [ "$(cat "$C/$i.status")" = 200 ]; then
  tr -d '\r' <"$C/$i.p7" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$C/$i.pem"
fi
EOF
# run_batch DIR FIRST LAST PARALLEL: workers FIRST..LAST into DIR.
run_batch() {
  mkdir -p "$1"
  seq "$2" "$3" | C=$1 CA=$CA T=$T EST=$EST PORT_1=${PORT_OF[1]} PORT_2=${PORT_OF[2]} \
    PORT_3=${PORT_OF[3]} xargs -P "$4" -n 1 bash "$T/worker.sh"
}
run_batch "$T/c" 1 300 8
ok=$(cat "$T"/c/*.status | grep -c '^200$' || true)
[ "$ok" = 300 ] || fail "300 enrollments: $ok succeeded: $(cat "$T"/c/*.status | sort | uniq -c | tr '\n' ' ') $(cat "$T"/c/*.err 2>/dev/null | sort | uniq -c | head -3)"
[ "$(received "$T/c" | uniq | wc -l)" = 300 ] || fail "serials are not unique"
[ "$(openssl verify -CAfile "$CA" "$T"/c/*.pem | grep -c ': OK$')" = 300 ] || fail "not all verify"
[ "$(pg_sql 'SELECT count(*) FROM certs')" = 300 ] || fail "store holds $(pg_sql 'SELECT count(*) FROM certs')"
for n in "${NODES[@]}"; do
  grep -q 'simpleenroll" 200' "$T/n$n.log" || fail "node $n issued nothing"
done
pass "300 enrollments over three nodes: 300 certificates, unique serials, all verify"

# --- a node SIGKILLed mid-run ---------------------------------------------------------
run_batch "$T/k" 1001 1090 6 &
batch=$!
for _ in $(seq 1 100); do
  [ "$(cat "$T"/k/*.status 2>/dev/null | grep -c '^200$')" -ge 10 ] && break
  sleep 0.1
done
kill -KILL "${PID_OF[3]}"
wait "${PID_OF[3]}" 2>/dev/null || true
PID_OF[3]=
wait "$batch" || true
comm -23 <(received "$T/k") <(store_serials) >"$T/missing"
[ ! -s "$T/missing" ] || fail "certificates received but not stored: $(head -3 "$T/missing")"
[ "$(received "$T/k" | wc -l)" -ge 10 ] || fail "the batch issued almost nothing"
node_start 3
pass "node 3 SIGKILLed mid-run: every certificate a client received is in the store"

# --- revocation through node A's directory, enforced by node C at once ------------------
reenroll_at() { # NODE I: re-enroll device I with its certificate; prints the status
  new_csr "re$2" "/CN=dev-$2/O=Example"
  base64 "$T/re$2.der" >"$T/re$2.b64"
  curl -s --cacert "$CA" --cert "$T/c/$2.pem" --key "$T/c/$2.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/re$2.b64" \
    "$(url "$1")/simplereenroll" -o "$T/re$2.out" -w '%{http_code}'
}
[ "$(reenroll_at 3 7)" = 200 ] || fail "re-enroll at node 3 before the revocation: $(cat "$T/re7.out")"
"$ESTD" revoke "$T/n1" "$(serial_of "$T/c/7.pem")" >/dev/null || fail "revoke on node 1"
status=$(reenroll_at 3 7)
[ "$status" != 200 ] || fail "node 3 accepted a certificate revoked through node 1"
grep -q "revoked" "$T/re7.out" || fail "node 3's refusal does not say revoked: $(cat "$T/re7.out")"
pass "a revocation made through node 1 is refused by node 3 at once ($status)"

# --- a Digest nonce from node 1 is accepted by node 2 -----------------------------------
cat >"$T/digest.py" <<'EOF'
import hashlib, http.client, re, ssl, sys
ca, port1, port2, body = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), open(sys.argv[4], "rb").read()
uri = "/.well-known/est/simpleenroll"
ctx = ssl.create_default_context(cafile=ca)
def post(port, auth=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = {"Content-Type": "application/pkcs10"}
    if auth:
        h["Authorization"] = auth
    c.request("POST", uri, body=body, headers=h)
    r = c.getresponse()
    r.read()
    return r
r = post(port1)
challenge = [v for v in r.msg.get_all("WWW-Authenticate") if v.startswith("Digest ")][0]
realm = re.search(r'realm="([^"]*)"', challenge).group(1)
nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
ha1, ha2 = md5("dev:%s:pw" % realm), md5("POST:" + uri)
resp = md5("%s:%s:00000001:c0ffee:auth:%s" % (ha1, nonce, ha2))
auth = ('Digest username="dev", realm="%s", nonce="%s", uri="%s", qop=auth, nc=00000001, '
        'cnonce="c0ffee", response="%s", algorithm=MD5' % (realm, nonce, uri, resp))
print(r.status, post(port2, auth).status)
EOF
new_csr digest "/CN=digest/O=Example"
base64 "$T/digest.der" >"$T/digest.b64"
[ "$(python3 "$T/digest.py" "$CA" "${PORT_OF[1]}" "${PORT_OF[2]}" "$T/digest.b64")" = "401 200" ] \
  || fail "a Digest nonce of node 1 was not accepted by node 2"
pass "a Digest nonce issued by node 1 is accepted by node 2 (the store's secret)"

# --- PostgreSQL stopped, then started again --------------------------------------------
pg_stop fast
mkdir -p "$T/o"
for i in 1 2 3; do
  curl -s -D "$T/o/$i.head" --cacert "$CA" --user dev:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/c/1.b64" "$(url "$i")/simpleenroll" -o "$T/o/$i.body" -w '%{http_code}' \
    >"$T/o/$i.status"
  [ "$(cat "$T/o/$i.status")" = 503 ] || fail "node $i with the database down: $(cat "$T/o/$i.status")"
  grep -qi '^Retry-After: ' "$T/o/$i.head" || fail "node $i: 503 without Retry-After"
done
for n in "${NODES[@]}"; do kill -0 "${PID_OF[$n]}" || fail "node $n died with the database"; done
[ "$(ready)" = 503 ] || fail "/readyz with the database down: $(ready)"
pg_restart
[ "$(ready)" = 200 ] || fail "/readyz after the database returned: $(ready)"
run_batch "$T/r" 2001 2012 4
[ "$(cat "$T"/r/*.status | grep -c '^200$')" = 12 ] || fail "no recovery: $(cat "$T"/r/*.status | sort | uniq -c)"
# And stopped while enrollments run: only 200 or 503, nothing sent unstored.
run_batch "$T/m" 3001 3060 4 &
batch=$!
for _ in $(seq 1 100); do
  [ "$(cat "$T"/m/*.status 2>/dev/null | grep -c '^200$')" -ge 5 ] && break
  sleep 0.1
done
pg_stop immediate
sleep 1
pg_restart
wait "$batch" || true
bad=$(cat "$T"/m/*.status | grep -Ev '^(200|503)$' | sort | uniq -c || true)
[ -z "$bad" ] || fail "statuses other than 200 and 503 while the database stopped: $bad:" \
  "$(grep -Lx -e 200 -e 503 "$T"/m/*.status | sed 's/status$/p7/' | xargs cat 2>/dev/null | head -3)"
comm -23 <(received "$T/m") <(store_serials) >"$T/missing"
[ ! -s "$T/missing" ] || fail "sent but missing after the restart: $(head -3 "$T/missing")"
for n in "${NODES[@]}"; do kill -0 "${PID_OF[$n]}" || fail "node $n died with the database"; done
pass "database stopped: 503 + Retry-After, no crash, nothing sent unstored, recovery by itself"

# --- one one-time code at two nodes at once ------------------------------------------
reconfigure 's/^challenge_password = .*/challenge_password = one-time-code/'
for round in 1 2 3; do
  code=$("$ESTD" otp add "$T/n1")
  printf '[req]\ndistinguished_name=dn\nprompt=no\nattributes=attrs\n[attrs]\nchallengePassword=%s\n[dn]\nCN=otp-%s\n' \
    "$code" "$round" >"$T/otp.cnf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/otp.key" \
    -config "$T/otp.cnf" -outform DER 2>/dev/null | base64 >"$T/otp.b64"
  racers=()
  for n in 1 2; do
    curl -s --cacert "$CA" --user dev:pw -H 'Content-Type: application/pkcs10' \
      --data-binary @"$T/otp.b64" "$(url "$n")/simpleenroll" -o /dev/null -w '%{http_code}\n' \
      >"$T/otp.$n" &
    racers+=($!)
  done
  wait "${racers[@]}"
  [ "$(sort "$T/otp.1" "$T/otp.2" | tr '\n' ' ')" = "200 403 " ] \
    || fail "one code at two nodes, round $round: $(cat "$T/otp.1") $(cat "$T/otp.2")"
  [ "$(pg_sql "SELECT count(*) FROM certs WHERE subject = 'CN=otp-$round'")" = 1 ] \
    || fail "one code issued more than once"
done
pass "a one-time code sent to two nodes at once issues one certificate (3 rounds)"

# --- approved through node B, fetched from node C --------------------------------------
reconfigure 's/^challenge_password = .*/challenge_password = channel-binding/; s/^approval = auto/approval = manual/'
new_csr appr "/CN=approved/O=Example"
base64 "$T/appr.der" >"$T/appr.b64"
ask() {
  curl -s --cacert "$CA" --user dev:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/appr.b64" "$(url "$1")/simpleenroll" -o "$T/appr.out" -w '%{http_code}'
}
[ "$(ask 1)" = 202 ] || fail "manual approval at node 1: $(cat "$T/appr.out")"
id=$(grep -o 'request [0-9]*' "$T/appr.out" | cut -d' ' -f2)
"$ESTD" pending approve "$T/n2" "$id" >"$T/approve.out" || fail "approve through node 2"
expect_status 2 "$ESTD" pending approve "$T/n3" "$id"
[ "$(ask 3)" = 200 ] || fail "node 3 after the approval: $(cat "$T/appr.out")"
p7_to_pem "$T/appr.out" "$T/appr.pem"
grep -q "certificate $(serial_of "$T/appr.pem")" "$T/approve.out" || fail "node 3 sent another certificate"
[ "$(pg_sql "SELECT count(*) FROM certs WHERE subject = 'O=Example,CN=approved'")" = 1 ] \
  || fail "the request was issued more than once"
pass "approved through node 2 (once: a second approval exits 2), fetched from node 3"

stop_nodes
