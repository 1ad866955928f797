#!/usr/bin/env bash
# `est enroll` against manual approval (draft-04 §4.2.3): HTTP 202 +
# Retry-After gives exit 3 and leaves the request behind; the same command
# run again repeats the same request (estd knows it by its hash) and gets
# the certificate once approved. --max-wait waits (logging each wait) and
# repeats on its own. A rejection is exit 1 with the server's reason, and the
# next run starts afresh.
. "$E2E_LIB/client.sh"

pending_id() { "$ESTD" pending list "$DIR" | awk -v s="$1" '$0 ~ s {print $1; exit}'; }

estd_init alice 'secret'
printf 'secret\n' > "$T/pw"
chmod 600 "$T/pw"
sed -i 's/^approval = auto/approval = manual/; s/^retry_after_seconds = .*/retry_after_seconds = 1/' \
  "$DIR/estd.conf"
estd_start "$DIR"
E=(enroll --server "https://127.0.0.1:$PORT" --trust "$CA" --user alice --password-file "$T/pw")

# --- exit 3, then approve, then the same command gets the certificate ---
run_est first "${E[@]}" --key "$T/a.key" --subject CN=waiting-a -o "$T/a.pem"
expect_err first 3 "request pending (HTTP 202)"
grep -q 'retry after 1 s' "$T/first.err" || fail "no Retry-After in: $(cat "$T/first.err")"
[ ! -e "$T/a.pem" ] && [ ! -e "$T/a.key" ] || fail "pending wrote the certificate or the key"
[ -s "$T/a.pem.pending.csr" ] || fail "no pending request saved"
[ "$(stat -c %a "$T/a.pem.pending.key")" = 600 ] || fail "pending key not 0600"
run_est again "${E[@]}" --key "$T/a.key" --subject CN=waiting-a -o "$T/a.pem"
expect_err again 3 "request pending"
[ "$("$ESTD" pending list "$DIR" | grep -c waiting-a)" = 1 ] || fail "the repeat made a new request"
"$ESTD" pending approve "$DIR" "$(pending_id waiting-a)" >/dev/null
run_est done "${E[@]}" --key "$T/a.key" --subject CN=waiting-a -o "$T/a.pem"
expect_ok done
[ "$(stat -c %a "$T/a.key")" = 600 ] || fail "key mode after approval"
[ "$(openssl x509 -in "$T/a.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/a.key" -pubout)" ] \
  || fail "approved certificate is not for the saved key"
[ ! -e "$T/a.pem.pending.csr" ] && [ ! -e "$T/a.pem.pending.key" ] || fail "pending files left"
pass "202: exit 3 and the request kept; approved, the same command gets the certificate"

# --- --max-wait: waits (logged), repeats, gets the approved certificate ---
( for _ in $(seq 1 50); do
    id=$(pending_id waiting-b)
    if [ -n "$id" ]; then "$ESTD" pending approve "$DIR" "$id" >/dev/null; exit 0; fi
    sleep 0.2
  done ) &
approver=$!
run_est wait "${E[@]}" --key "$T/b.key" --subject CN=waiting-b --max-wait 30 --pop-link -o "$T/b.pem"
wait "$approver"
expect_ok wait
grep -q 'request pending (HTTP 202).*waiting 1 s' "$T/wait.err" || fail "waits not logged: $(cat "$T/wait.err")"
openssl verify -CAfile "$CA" "$T/b.pem" >/dev/null || fail "waited certificate does not verify"
pass "--max-wait: each wait logged, the same request repeated until approved"

run_est short "${E[@]}" --key "$T/c.key" --subject CN=waiting-c --max-wait 2 -o "$T/c.pem"
[ "$RC" = 3 ] || fail "max-wait ran out: exit $RC: $(cat "$T/short.err")"
[ "$(grep -c 'waiting 1 s' "$T/short.err")" = 2 ] || fail "not two waits: $(cat "$T/short.err")"
tail -n 1 "$T/short.err" | grep -q 'request pending (HTTP 202).*(retry after 1 s)$' \
  || fail "last line: $(tail -n 1 "$T/short.err")"
pass "--max-wait runs out after two waits of Retry-After: exit 3"

# --- linking required + manual approval across runs: the repeat comes on a
# new TLS connection; estd checked the binding when it stored the request ---
estd_stop
sed -i 's/^pop_linking = .*/pop_linking = required/' "$DIR/estd.conf"
estd_start "$DIR"
E=(enroll --server "https://127.0.0.1:$PORT" --trust "$CA" --user alice --password-file "$T/pw")
run_est link1 "${E[@]}" --key "$T/l.key" --subject CN=waiting-linked -o "$T/l.pem"
expect_err link1 3 "request pending"
"$ESTD" pending approve "$DIR" "$(pending_id waiting-linked)" >/dev/null
run_est link2 "${E[@]}" --key "$T/l.key" --subject CN=waiting-linked -o "$T/l.pem"
expect_ok link2
pass "pop_linking = required with manual approval completes across runs"

# --- rejected: exit 1 with the reason, pending state dropped ---
"$ESTD" pending reject "$DIR" "$(pending_id waiting-c)" --reason "unknown device" >/dev/null
run_est rejected "${E[@]}" --key "$T/c.key" --subject CN=waiting-c -o "$T/c.pem"
expect_err rejected 1 "HTTP 403: request rejected: unknown device"
[ ! -e "$T/c.pem.pending.csr" ] || fail "a rejected request is still pending"
[ ! -e "$T/c.pem" ] && [ ! -e "$T/c.key" ] || fail "a rejected request wrote files"
pass "rejected: exit 1 with the server's reason; the next run starts afresh"
