#!/usr/bin/env bash
# Valid clients are not turned away while passwords are checked (issue 11,
# part 3): Basic checks beyond max_password_checks wait in a bounded queue,
# checks of the same user and password share one hash, and only a full
# queue answers 503 + an integer Retry-After.
. "$E2E_LIB/server.sh"
estd_init fleet 'fleet-pw'
for i in $(seq 1 8); do new_csr r$i "/CN=fleet-$i"; base64 "$T/r$i.der" > "$T/r$i.b64"; done

# enroll_as USER PASSWORD N: one enrollment; prints the HTTP code, headers in $T/h.N
enroll_as() {
  curl -s --cacert "$CA" --user "$1:$2" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/r$(( $3 % 8 + 1 )).b64" "$URL/simpleenroll" -o "$T/b.$3" \
    -D "$T/h.$3" -w '%{http_code}\n'
}
export -f enroll_as
export T CA

# --- one user, a cold estd, 64 enrollments 8 at a time --------------------
# One slot and a queue of one: only single flight (the 8 concurrent checks
# of the same credentials share one hash) lets all of them through.
sed -i 's/^max_password_checks = .*/max_password_checks = 1/; s/^password_queue_max = .*/password_queue_max = 1/' \
  "$DIR/estd.conf"
estd_start "$DIR"
export URL
seq 1 64 | xargs -P 8 -I{} bash -c 'enroll_as fleet fleet-pw {}' > "$T/codes"
[ "$(grep -c '^200$' "$T/codes")" = 64 ] || fail "64 cold enrollments: $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
pass "64 enrollments, 8 at a time, one user, cold estd: 64 x 200"
estd_stop

# --- 32 distinct users at once, 2 hashes at a time ------------------------
for i in $(seq 1 32); do echo "$i"; done | xargs -P 2 -I{} bash -c \
  'printf "pw-{}\n" | "$ESTD" user add "$0" user{} --password-stdin' "$DIR"
# The bound is generous: on a loaded test machine 16 rounds of two scrypt
# runs under ASan take seconds (speed is bench/'s business, not this test's).
sed -i 's/^max_password_checks = .*/max_password_checks = 2/; s/^password_queue_max = .*/password_queue_max = 256/; s/^password_queue_wait_ms = .*/password_queue_wait_ms = 120000/' \
  "$DIR/estd.conf"
estd_start "$DIR"
export URL
seq 1 32 | xargs -P 32 -I{} bash -c 'echo "{} $(enroll_as user{} pw-{} {})"' > "$T/codes"
while read -r i code; do
  [ "$code" = 200 ] || fail "32 distinct users: user$i got $code: $(head -c 200 "$T/b.$i")"
done < "$T/codes"
[ "$(wc -l < "$T/codes")" = 32 ] || fail "32 distinct users: $(wc -l < "$T/codes") answers"
pass "32 concurrent distinct users, max_password_checks = 2: all 200 (queued, not refused)"
estd_stop

# --- a queue of one with a short bound: the overflow gets 503 -------------
sed -i 's/^max_password_checks = .*/max_password_checks = 1/; s/^password_queue_max = .*/password_queue_max = 1/; s/^password_queue_wait_ms = .*/password_queue_wait_ms = 1500/' \
  "$DIR/estd.conf"
estd_start "$DIR"
export URL
seq 1 12 | xargs -P 12 -I{} bash -c 'echo "{} $(enroll_as user{} pw-{} {})"' > "$T/codes"
n503=$(grep -c ' 503$' "$T/codes" || true)
n200=$(grep -c ' 200$' "$T/codes" || true)
[ "$n503" -ge 1 ] || fail "queue of 1: no 503 for the overflow: $(cat "$T/codes")"
[ "$n200" -ge 2 ] || fail "queue of 1: the running and the queued check did not pass: $(cat "$T/codes")"
[ $((n503 + n200)) = 12 ] || fail "queue of 1: unexpected answers: $(cat "$T/codes")"
while read -r i code; do
  [ "$code" = 503 ] || continue
  grep -q $'^Retry-After: 2\r$' "$T/h.$i" || fail "503 without an integer Retry-After: $(cat "$T/h.$i")"
done < "$T/codes"
estd_alive
pass "queue of 1, 1.5 s bound: the overflow gets 503 + Retry-After: 2, the rest 200"
estd_stop

# --- certificate-authenticated requests do not wait behind them ------------
# Two workers, one hashing slot, 24 distinct users queued: a re-enrollment
# with a client certificate sent meanwhile is answered while password
# checks are still waiting (parked checks hold no worker), not after them.
sed -i 's/^workers = .*/workers = 2/; s/^password_queue_max = .*/password_queue_max = 256/; s/^password_queue_wait_ms = .*/password_queue_wait_ms = 120000/' \
  "$DIR/estd.conf"
estd_start "$DIR"
export URL
enroll fleet1 /CN=fleet-cert fleet fleet-pw
seq 1 24 | xargs -P 24 -I{} bash -c 'enroll_as user{} pw-{} {}' > "$T/codes" &
bg=$!
for _ in $(seq 1 100); do
  [ "$(grep -c 'POST /.well-known/est/simpleenroll' "$T/estd.log")" -ge 2 ] && break
  sleep 0.05
done
new_csr fleet1b /CN=fleet-cert
[ "$(curl -s --cacert "$CA" --cert "$T/fleet1.pem" --key "$T/fleet1.key" \
      -H 'Content-Type: application/pkcs10' --data-binary @"$T/fleet1b.der" \
      "$URL/simplereenroll" -o /dev/null -w '%{http_code}')" = 200 ] || fail "re-enroll with a certificate"
wait "$bg"
[ "$(grep -c '^200$' "$T/codes")" = 24 ] || fail "24 queued users: $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
cert_line=$(grep -n 'simplereenroll" 200' "$T/estd.log" | tail -1 | cut -d: -f1)
last_basic=$(grep -n 'simpleenroll" 200' "$T/estd.log" | tail -1 | cut -d: -f1)
[ "$cert_line" -lt "$last_basic" ] || fail "the certificate request waited for every password check"
pass "a certificate-authenticated request is answered while password checks still wait"
estd_stop
