#!/usr/bin/env bash
# Connection exhaustion and slow clients (docs/operator.md, "Limits"):
# 4,200 connections from 127.0.0.2 trickling a ClientHello byte every 2 s
# (reopened every 4 s when closed, as slowloris does) do
# not stop a client on 127.0.0.1 from enrolling (p99 latency printed and
# bounded generously against a baseline measured before and after), each
# trickling connection is closed at its handshake deadline, and at
# max_connections the oldest unfinished connection makes room for a new one.
. "$E2E_LIB/server.sh"
DIR=$T/estd
ATTACKERS=${ATTACKERS:-4200}
"$ESTD" init "$DIR" >/dev/null
printf 'pw\n' | "$ESTD" user add "$DIR" dev --password-stdin
sed -i 's/^handshake_timeout_seconds = .*/handshake_timeout_seconds = 5/' "$DIR/estd.conf"
grep -q '^handshake_timeout_seconds = 5$' "$DIR/estd.conf" || fail "estd.conf has no handshake_timeout_seconds"
# The attacker needs a descriptor per connection (estd itself holds at
# most max_connections_per_address of them).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
estd_start "$DIR"

# One enrollment per new TLS connection, as a device does; prints the
# latencies' p50 and p99 in ms.
for i in $(seq 1 300); do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/CN=dev-$i" -outform DER -out "$T/csr$i.der" 2>/dev/null
done
enroll_latency() { # FIRST_CSR -> "p50 p99"
  python3 - "$PORT" "$T" "$1" <<'PY'
import base64, socket, ssl, sys, time
port, tmp, first = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
auth = base64.b64encode(b"dev:pw").decode()
times = []
for i in range(first, first + 100):
    body = base64.encodebytes(open("%s/csr%d.der" % (tmp, i), "rb").read())
    req = ("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n"
           "Content-Type: application/pkcs10\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
           % (auth, len(body))).encode() + body
    t = time.monotonic()
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20))
    s.sendall(req)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    if not got.startswith(b"HTTP/1.1 200 "):
        sys.exit("enrollment %d: %r" % (i, got[:200]))
    times.append(time.monotonic() - t)
times.sort()
print("%.1f %.1f" % (times[49] * 1000, times[98] * 1000))
PY
}
read -r base_p50 base_p99 < <(enroll_latency 1) || fail "baseline enrollments"

python3 "$E2E_LIB/trickle.py" "$PORT" 127.0.0.2 "$ATTACKERS" 2 60 "$T/trickle.json" 4.5 4 &
attacker=$!
for _ in $(seq 1 300); do [ -f "$T/trickle.json.ready" ] && break; sleep 0.1; done
[ -f "$T/trickle.json.ready" ] || fail "the attacker did not get its connections open"
attack_start=$SECONDS
read -r attack_p50 attack_p99 < <(enroll_latency 101) || fail "enrollments under attack"
# The attack must outlive the handshake deadline (5 s) for the held
# connections to be seen closed at it, however fast the enrollments were.
while [ $((SECONDS - attack_start)) -lt 7 ]; do sleep 0.5; done
kill -TERM "$attacker"
wait "$attacker" || fail "the attacker failed"
read -r after_p50 after_p99 < <(enroll_latency 201) || fail "enrollments after the attack"
echo "figures: enroll p50/p99 ms: before $base_p50/$base_p99, under $ATTACKERS trickling" \
     "connections $attack_p50/$attack_p99, after $after_p50/$after_p99"
echo "figures: attacker: $(cat "$T/trickle.json")"

python3 - "$T/trickle.json" "$base_p99" "$after_p99" "$attack_p99" <<'PY' || fail "see above"
import json, sys
r = json.load(open(sys.argv[1]))
base, after, attack = (float(x) for x in sys.argv[2:5])
problems = []
# The cap held: 64 held to their deadline at a time, the others closed at
# accept (the log says so, below).
if r["held"] < 64:
    problems.append("per-address cap: %s" % r)
# Held ones trickled a byte every 2 s, yet were closed at the 5 s deadline
# (from accept; up to a second later counted from connect under load).
if not (4.5 <= r["shortest_held_lifetime"] and r["longest_lifetime"] <= 8.5) or \
        r["fewest_bytes_sent_by_a_held_one"] < 2:
    problems.append("deadline: %s" % r)
# Generous: twice the worse baseline plus 250 ms, as the machine is shared
# (other tests, other builds); the figures above are the measurement.
if attack > 2 * max(base, after) + 250:
    problems.append("p99 under attack %.1f ms > 2 x %.1f ms + 250" % (attack, max(base, after)))
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
grep -q 'address holds max_connections_per_address (64); closed' "$T/estd.log" \
  || fail "no per-address refusal logged"
# Whole TLS handshakes from one address: 64 complete, the 65th does not.
python3 - "$PORT" <<'PY' || fail "per-address cap with TLS clients"
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
held, refused = [], 0
for _ in range(80):
    s = socket.socket(); s.bind(("127.0.0.2", 0)); s.settimeout(5)
    try:
        s.connect(("127.0.0.1", int(sys.argv[1])))
        held.append(ctx.wrap_socket(s))
    except (OSError, ssl.SSLError):
        refused += 1
        s.close()
print("figures: 80 TLS clients from one address: %d held, %d refused" % (len(held), refused))
sys.exit(0 if (len(held), refused) == (64, 16) else 1)
PY
estd_alive
pass "per-address cap, handshake deadline despite trickling, enrollment latency held"
estd_stop

# At max_connections idle keep-alive connections go first, then the oldest
# unfinished ones: 10 idle keep-alive connections (each answered one
# /cacerts), then 60 trickling ones (deadline far away) against a cap of
# 40: the 10 idle and the 20 oldest trickling ones are closed. Enrollments
# from 127.0.0.1 still succeed (the first closes one more; each later one
# takes the slot the one before left).
sed -i 's/^max_connections = .*/max_connections = 40/; s/^max_connections_per_address = .*/max_connections_per_address = 1000/; s/^handshake_timeout_seconds = .*/handshake_timeout_seconds = 60/' "$DIR/estd.conf"
estd_start "$DIR"
python3 - "$PORT" "$T/idle" <<'PY' &
import signal, socket, ssl, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
conns = []
for _ in range(10):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got or len(got.partition(b"\r\n\r\n")[2]) < 100:
        got += s.recv(65536)
    conns.append(s)
open(out + ".ready", "w").write("10\n")
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
while not stop:
    time.sleep(0.1)
closed = 0
for s in conns:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
open(out, "w").write("%d\n" % closed)
PY
idle=$!
for _ in $(seq 1 300); do [ -f "$T/idle.ready" ] && break; sleep 0.1; done
[ -f "$T/idle.ready" ] || fail "the idle connections did not open"
python3 "$E2E_LIB/trickle.py" "$PORT" 127.0.0.2 60 2 60 "$T/full.json" 1 1000 &
attacker=$!
for _ in $(seq 1 300); do [ -f "$T/full.json.ready" ] && break; sleep 0.1; done
[ -f "$T/full.json.ready" ] || fail "the attacker did not get its connections open"
sleep 1
for i in 1 2 3 4 5; do
  curl -sf --cacert "$DIR/ca/ca.pem" --user dev:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/csr$i.der" "$URL/simpleenroll" -o /dev/null || fail "enrollment $i at max_connections"
done
kill -TERM "$attacker" "$idle"
wait "$attacker" || fail "the attacker failed"
wait "$idle" || fail "the idle connections failed"
echo "figures: at max_connections 40: idle closed $(cat "$T/idle") of 10; trickling: $(cat "$T/full.json")"
[ "$(cat "$T/idle")" = 10 ] || fail "idle keep-alive connections were not closed first"
# 70 arrived against a cap of 40: 30 closed, idle ones first (had the
# oldest unfinished gone first, the idle ones would have stayed and 30
# trickling ones gone); the first enrollment closes one more (a few more
# when an enrollment connects before the one before it is gone).
grep -q 'max_connections (40) reached: closed the oldest idle connection' "$T/estd.log" \
  || fail "no idle eviction logged"
grep -q 'max_connections (40) reached: closed the oldest unfinished connection' "$T/estd.log" \
  || fail "no eviction of an unfinished connection logged"
python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))["closed_by_server"]; sys.exit(0 if 21 <= n <= 25 else 1)' \
  "$T/full.json" || fail "trickling connections closed: $(cat "$T/full.json")"
pass "at max_connections idle, then the oldest unfinished connections make room for new clients"
estd_stop

# The head and body deadlines are totals too: a TLS client trickling its
# request head, or its body, a byte every 0.5 s is closed at the 3 s
# deadline (the idle timeout, 30 s, would never fire).
sed -i 's/^request_head_timeout_seconds = .*/request_head_timeout_seconds = 3/; s/^request_body_timeout_seconds = .*/request_body_timeout_seconds = 3/' "$DIR/estd.conf"
estd_start "$DIR"
trickled_for() { # head|body -> seconds until the server closed
  python3 - "$PORT" "$1" <<'PY'
import socket, ssl, sys, time
port, part = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
head = b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
if part == "body":
    s.sendall(head)
start = time.monotonic()
s.settimeout(0.5)
for i in range(40):
    try:
        s.sendall((head if part == "head" else b"A" * 100)[i:i + 1])
        if s.recv(1024) == b"":
            break
    except (socket.timeout, TimeoutError):
        continue
    except (OSError, ssl.SSLError):
        break
print("%.1f" % (time.monotonic() - start))
PY
}
t=$(trickled_for head); echo "figures: trickled head closed after $t s"
python3 -c "import sys; sys.exit(0 if 2.5 <= $t <= 6 else 1)" || fail "head deadline: $t s"
t=$(trickled_for body); echo "figures: trickled body closed after $t s"
python3 -c "import sys; sys.exit(0 if 2.5 <= $t <= 6 else 1)" || fail "body deadline: $t s"
estd_alive
pass "request head and body deadlines are totals"

# A reload (SIGHUP) applies new deadlines to new connections; the TLS
# lists need a restart and a reload says so.
sed -i 's/^request_head_timeout_seconds = .*/request_head_timeout_seconds = 1/; s/^tls_groups = .*/tls_groups = P-384/' "$DIR/estd.conf"
kill -HUP "$ESTD_PID"
for _ in $(seq 1 50); do grep -q 'reload: done' "$T/estd.log" && break; sleep 0.1; done
grep -q "reload: tls_groups changed to 'P-384': takes effect at restart" "$T/estd.log" \
  || fail "tls_groups change not reported: $(grep reload "$T/estd.log")"
t=$(trickled_for head); echo "figures: after reload, trickled head closed after $t s"
python3 -c "import sys; sys.exit(0 if 0.5 <= $t <= 2.5 else 1)" || fail "reloaded head deadline: $t s"
pass "a reload applies the deadlines, reports the TLS lists"
estd_stop
