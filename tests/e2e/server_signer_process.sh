#!/usr/bin/env bash
# The signer process (issue #14): estd serve's network process never holds
# the CA key. The EC private scalar (from `openssl pkey -text`) is searched
# for in each process's memory through /proc/PID/maps and /proc/PID/mem:
# found in the signer, not in the network process; found in the network
# process with `signer = in-process` (the control: the search works and the
# old layout fails it). The signer is sandboxed (NoNewPrivs, seccomp filter
# mode 2, not dumpable) and holds no network socket. kill -9 of the signer
# under load: 503 + Retry-After, logged, a new signer, 200s again, estd
# alive. SIGHUP starts a new signer and the old one exits. The signer exits
# when the network process is killed.
. "$E2E_LIB/server.sh"
estd_init u 'pw'
SCALAR=$(openssl pkey -in "$DIR/ca/ca.key" -noout -text |
  awk '/^priv:/{p=1;next} /^pub:/{p=0} p' | tr -d ' :\n')
[ ${#SCALAR} -ge 62 ] || fail "no EC private scalar from openssl pkey -text"
# openssl prints a leading 00 when the top bit is set; the BIGNUM has none.
SCALAR=${SCALAR: -64}

signer_pid() { pgrep -P "$ESTD_PID" -x estd-signer || true; }
# dead PID: gone, or a zombie estd has not reaped yet (it reaps on the next request).
dead() { ! kill -0 "$1" 2>/dev/null || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

post() { # NAME -> http code; headers in $T/NAME.h
  new_csr "$1" "/CN=$1"
  curl -s --max-time 20 --cacert "$CA" --user u:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/$1.der" "$URL/simpleenroll" -D "$T/$1.h" -o "$T/$1.p7" -w '%{http_code}'
}

# --- the control: in-process, the key is in the network process -----------------
printf '\n[server]\nsigner = in-process\n' >>"$DIR/estd.conf"
estd_start "$DIR"
[ -z "$(signer_pid)" ] || fail "signer = in-process still started a signer process"
[ "$(post c0)" = 200 ] || fail "in-process enroll"
python3 "$E2E_LIB/memsearch.py" "$ESTD_PID" "$SCALAR" \
  || fail "control: the CA scalar is not found in an in-process estd (the search is broken)"
estd_stop
sed -i '/^signer = in-process$/d' "$DIR/estd.conf"
pass "control: with signer = in-process the CA private scalar is in estd's memory"

# --- the default: only the signer holds it ---------------------------------------
estd_start "$DIR"
SIGNER=$(signer_pid)
[ -n "$SIGNER" ] || fail "no estd-signer child process"
# Logged just after "serving": /cacerts may answer a moment before.
for _ in $(seq 1 50); do grep -q "signer process $SIGNER holds" "$T/estd.log" && break; sleep 0.1; done
grep -q "signer process $SIGNER holds the CA keys" "$T/estd.log" || fail "signer pid not logged"
for i in 1 2 3; do [ "$(post a$i)" = 200 ] || fail "enroll through the signer"; done
openssl verify -CAfile "$CA" <(p7_to_pem "$T/a1.p7" /dev/stdout) >/dev/null || fail "verify a1"
python3 "$E2E_LIB/memsearch.py" "$ESTD_PID" "$SCALAR" && fail "the network process holds the CA key"
[ $? = 1 ] || fail "cannot read the network process's memory"
if [ "$(id -u)" = 0 ]; then
  python3 "$E2E_LIB/memsearch.py" "$SIGNER" "$SCALAR" || fail "the CA scalar is not in the signer"
  pass "CA private scalar found only in the signer process's memory"
else
  pass "CA private scalar not in the network process (the signer's memory needs root to read)"
fi
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$SIGNER/status" || fail "signer lacks no_new_privs"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$SIGNER/status" || fail "signer has no seccomp filter"
stat -c %U "/proc/$SIGNER/mem" | grep -qx root || fail "signer is dumpable"
if ls -l "/proc/$SIGNER/fd" | grep -q 'socket:'; then
  for ino in $(ls -l "/proc/$SIGNER/fd" | sed -n 's/.*socket:\[\([0-9]*\)\]/\1/p'); do
    grep -q " $ino " /proc/net/tcp /proc/net/tcp6 /proc/net/udp && fail "signer holds a network socket"
  done
fi
[ "$(ls "/proc/$SIGNER/fd" | wc -l)" -le 11 ] || fail "signer holds more than stdio + 8 sockets"
pass "signer: NoNewPrivs, seccomp filter, not dumpable, only stdio and its socketpairs"

# --- kill -9 under load ----------------------------------------------------------
for w in 1 2 3; do for i in $(seq 1 15); do new_csr "l$w-$i" "/CN=l$w-$i"; done; done
loader() {
  for i in $(seq 1 15); do
    curl -s --max-time 20 --cacert "$CA" --user u:pw -H 'Content-Type: application/pkcs10' \
      --data-binary @"$T/l$1-$i.der" "$URL/simpleenroll" -o /dev/null -w '%{http_code}\n' \
      >>"$T/load.$1" || echo 000 >>"$T/load.$1"
  done
}
loaders=()
for w in 1 2 3; do loader "$w" & loaders+=($!); done
sleep 0.5
kill -KILL "$SIGNER"
wait "${loaders[@]}"
estd_alive
codes=$(cat "$T"/load.* | sort | uniq -c | tr '\n' ' ')
cat "$T"/load.* | grep -qv '^\(200\|503\)$' && fail "under load: codes other than 200/503: $codes"
# The signer is down until the next request restarts it: the first sees 503.
until dead "$SIGNER"; do sleep 0.1; done
code=$(post k1)
if [ "$code" = 503 ]; then
  grep -qi '^Retry-After: 5' "$T/k1.h" || fail "503 without Retry-After"
  code=$(post k2)
fi
[ "$code" = 200 ] || fail "no recovery after the signer was killed: $code"
NEW=$(signer_pid)
[ -n "$NEW" ] && [ "$NEW" != "$SIGNER" ] || fail "no new signer process"
grep -q "signer: process $SIGNER lost" "$T/estd.log" || fail "the loss is not logged"
grep -q "signer: restarted as process $NEW" "$T/estd.log" || fail "the restart is not logged"
pass "kill -9 of the signer under load ($codes): 503 + Retry-After, logged, restarted, 200"

# A 503 with Retry-After while it is down, deterministically:
kill -KILL "$NEW"; until dead "$NEW"; do sleep 0.1; done
[ "$(post k3)" = 503 ] || fail "request to a dead signer is not 503"
grep -qi '^Retry-After: 5' "$T/k3.h" || fail "503 without Retry-After: $(cat "$T/k3.h")"
# Restarts are paced (at most one a second, keyproc_client.c): the next
# request within that second may still get 503; within 3 s one gets 200.
code=503
for _ in $(seq 1 30); do code=$(post k4); [ "$code" = 503 ] || break; sleep 0.1; done
[ "$code" = 200 ] || fail "no recovery after the second kill: $code"
pass "a request that meets a dead signer gets 503 + Retry-After: 5; the next one 200"

# --- SIGHUP: a new signer opens the keys as they are now; the old one goes ------------
OLD=$(signer_pid)
kill -HUP "$ESTD_PID"
wait_for grep -q 'reload: done' "$T/estd.log" || fail "reload did not finish: $(tail -3 "$T/estd.log")"
[ "$(post h1)" = 200 ] || fail "enroll after reload"
for _ in $(seq 1 50); do dead "$OLD" && break; sleep 0.1; done
dead "$OLD" || fail "the old signer outlived the reload"
NEWER=$(signer_pid)
[ -n "$NEWER" ] && [ "$NEWER" != "$OLD" ] || fail "no new signer after reload"
python3 "$E2E_LIB/memsearch.py" "$ESTD_PID" "$SCALAR" && fail "the network process holds the key after a reload"
pass "SIGHUP: a new signer process, the old one exits, the network process still holds no key"

# --- the signer goes when the network process goes ------------------------------
LAST=$(signer_pid)
kill -KILL "$ESTD_PID"; wait "$ESTD_PID" 2>/dev/null || true; ESTD_PID=
for _ in $(seq 1 50); do dead "$LAST" && break; sleep 0.1; done
dead "$LAST" || fail "the signer outlived the network process"
pass "the signer exits when the network process is killed"
