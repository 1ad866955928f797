#!/usr/bin/env bash
# Named limits at and one past the limit (body size, header size), idle and
# slow connections are closed after timeout_seconds, TLS minimum version,
# and the server survives all of it.
. "$E2E_LIB/server.sh"
estd_init u 'pw'
sed -i 's/^max_body_bytes = .*/max_body_bytes = 4096/; s/^timeout_seconds = .*/timeout_seconds = 2/; s/^tls_min_version = .*/tls_min_version = 1.3/' "$DIR/estd.conf"
estd_start "$DIR"

post_size() { # bytes -> status
  head -c "$1" /dev/zero | tr '\0' 'A' > "$T/blob"
  curl -s --cacert "$CA" --user u:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/blob" "$URL/simpleenroll" -o "$T/body" -w '%{http_code}'
}
[ "$(post_size 4096)" = 400 ] || fail "body at the limit was not read and judged (want 400)"
[ "$(post_size 4097)" = 413 ] || fail "body one past the limit not 413"
grep -q 'larger than 4096' "$T/body" || fail "413 reason: $(cat "$T/body")"
pass "max_body_bytes: at the limit read, one past 413 with a reason"

big=$(head -c 9000 /dev/zero | tr '\0' 'x')
code=$(curl -s --cacert "$CA" -H "X-Filler: $big" "$URL/cacerts" -D "$T/headers" -o "$T/body" \
  -w '%{http_code}')
[ "$code" = 431 ] || fail "oversized headers answered $code"
grep -qi '^Content-Type: text/plain' "$T/headers" || fail "431 is not text/plain"
grep -q 'request head larger than 8192 bytes' "$T/body" || fail "431 reason: $(cat "$T/body")"
pass "oversized headers refused (431, text/plain, with the limit)"

# An idle TCP connection (no TLS handshake) and an idle TLS connection
# (handshake done, no request) are both closed by the server.
idle_closed_after() { # tls(0|1) -> seconds until the server closed, or 99
  python3 - "$PORT" "$1" <<'PY'
import socket, ssl, sys, time
port, tls = int(sys.argv[1]), sys.argv[2] == "1"
s = socket.create_connection(("127.0.0.1", port))
if tls:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s)
s.settimeout(10)
start = time.time()
try:
    while s.recv(1024):
        pass
except (socket.timeout, TimeoutError):
    print(99); sys.exit()
except (ConnectionError, ssl.SSLError):
    pass
print(int(time.time() - start))
PY
}
t=$(idle_closed_after 0); [ "$t" -le 5 ] || fail "idle TCP connection held for $t s (timeout 2)"
t=$(idle_closed_after 1); [ "$t" -le 5 ] || fail "idle TLS connection held for $t s (timeout 2)"
pass "idle connections closed by the server"

openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 </dev/null >/dev/null 2>&1 \
  && fail "TLS 1.2 accepted with tls_min_version = 1.3"
openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 </dev/null >/dev/null 2>&1 \
  || fail "TLS 1.3 refused"
pass "tls_min_version enforced"
estd_alive
estd_stop

# max_password_checks + password_queue_max: a flood of wrong Basic
# passwords (never cached, each different) waits in the queue up to its
# bound and gets 503 + Retry-After beyond it, instead of occupying every
# worker (server_password_queue tests valid clients).
sed -i 's/^workers = .*/workers = 2/; s/^max_password_checks = .*/max_password_checks = 1/; s/^password_queue_max = .*/password_queue_max = 1/' "$DIR/estd.conf"
estd_start "$DIR"
new_csr flood /CN=flood
pids=()
for i in 1 2 3 4 5 6; do
  curl -s --cacert "$CA" --user u:wrong$i -H 'Content-Type: application/pkcs10' --data-binary @"$T/flood.der" \
    "$URL/simpleenroll" -D "$T/flood$i.h" -o /dev/null -w '%{http_code}' > "$T/flood$i.code" &
  pids+=($!)
done
wait "${pids[@]}"  # not estd: it runs in the background too
grep -l '^503$' "$T"/flood*.code >/dev/null || fail "no 503 under a password flood: $(cat "$T"/flood*.code)"
grep -l '^401$' "$T"/flood*.code >/dev/null || fail "no password was checked at all"
f=$(grep -l '^503$' "$T"/flood*.code | head -1)
grep -q $'^Retry-After: [0-9]*\r$' "${f%.code}.h" || fail "503 without an integer Retry-After"
estd_alive
pass "max_password_checks caps concurrent slow hashes (503 + Retry-After beyond the queue)"
estd_stop

# A request whose client left while it waited for a worker is not run: one
# worker busy with two slow password checks, five clients that give up
# after 0.2 s. Their enrollments must be skipped, not issued for nobody.
sed -i 's/^workers = .*/workers = 1/' "$DIR/estd.conf"
estd_start "$DIR"
before=$("$ESTD" certs list "$DIR" | wc -l)
pids=()
for i in 1 2; do
  curl -s --cacert "$CA" --user u:wrong -H 'Content-Type: application/pkcs10' --data-binary @"$T/flood.der" \
    "$URL/simpleenroll" -o /dev/null -w '%{http_code}' > "$T/slow$i.code" &
  pids+=($!)
done
sleep 0.05
for i in 1 2 3 4 5; do
  new_csr gone$i /CN=gone$i
  curl -s --max-time 0.2 --cacert "$CA" --user u:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/gone$i.der" "$URL/simpleenroll" -o /dev/null &
  pids+=($!)
done
wait "${pids[@]}" || true  # the impatient curls exit 28; estd is not waited for
grep -q '^401$' "$T/slow1.code" || fail "the slow request was not answered: $(cat "$T/slow1.code")"
for _ in $(seq 1 50); do
  [ "$(grep -c 'left before its POST' "$T/estd.log")" -ge 1 ] && break
  sleep 0.1
done
skipped=$(grep -c 'left before its POST /.well-known/est/simpleenroll ran; skipped' "$T/estd.log" || true)
[ "$skipped" -ge 1 ] || fail "no abandoned request was skipped: $(tail -5 "$T/estd.log")"
after=$("$ESTD" certs list "$DIR" | wc -l)
[ $((after - before)) -le $((5 - skipped)) ] || fail "skipped requests still issued ($before -> $after)"
estd_alive
pass "requests whose client left while queued are skipped ($skipped of 5)"
estd_stop

# SIGTERM while requests are still with the workers and their clients have
# gone: estd must answer (or drop) and free every one of them, and exit 0
# without a leak. (Before, the event loops ended as soon as no connection
# was left, the replies of those jobs never ran, and the jobs leaked after
# a 30 s wait.)
estd_start "$DIR"
pids=()
for i in 1 2 3 4; do
  curl -s --max-time 0.3 --cacert "$CA" --user u:wrong -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/flood.der" "$URL/simpleenroll" -o /dev/null &
  pids+=($!)
done
wait "${pids[@]}" || true  # they give up after 0.3 s; the jobs are still queued
started=$(date +%s)
estd_stop
grep -q 'LeakSanitizer' "$T/estd.log" && fail "leak at shutdown"
[ $(( $(date +%s) - started )) -lt 20 ] || fail "shutdown waited out the grace period"
pass "SIGTERM with abandoned requests queued: every job freed, exit 0"
