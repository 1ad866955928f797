#!/usr/bin/env bash
# TLS session resumption (draft-04 §3.3), made safe: a client certificate
# revoked since its ticket was made is refused on the request; tls-unique
# on a resumed TLS 1.2 session is that connection's (RFC 5929 §3.1: the
# server's Finished) and PoP linking takes it, not the old one, and on a
# resumption without the extended master secret none at all; ticket keys
# rotate (a ticket dies after two periods) and die with a reload and with
# the process;
# tls_ticket_key_seconds = 0 turns resumption off.
. "$E2E_LIB/server.sh"
estd_init alice 'pw'
estd_start "$DIR"
REQ=$'GET /.well-known/est/csrattrs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'

# s_client_get OUT ARGS...: GET /csrattrs over openssl s_client, transcript
# to OUT. Its exit status is not the point: estd closes after "Connection:
# close" without close_notify, which s_client reports as an error.
s_client_get() {
  local out=$1; shift
  printf '%s' "$REQ" | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" -ign_eof "$@" \
    >"$out" 2>&1 || true
  grep -q '^HTTP/1.1 ' "$out" || fail "s_client $*: no HTTP answer: $(tail -3 "$out")"
}

# --- a revoked client certificate cannot ride its ticket --------------------------------
enroll dev /CN=device-r alice pw
for v in -tls1_2 -tls1_3; do
  s_client_get "$T/c1$v" "$v" -cert "$T/dev.pem" -key "$T/dev.key" -sess_out "$T/dev$v.sess"
  grep -q '^HTTP/1.1 204' "$T/c1$v" || fail "$v: certificate not accepted: $(grep HTTP "$T/c1$v")"
done
"$ESTD" revoke "$DIR" "$(serial_of "$T/dev.pem")" >/dev/null
for v in -tls1_2 -tls1_3; do
  s_client_get "$T/c2$v" "$v" -sess_in "$T/dev$v.sess"
  grep -q '^Reused,' "$T/c2$v" || fail "$v: not resumed, the test proves nothing"
  grep -q '^HTTP/1.1 401' "$T/c2$v" || fail "$v: revoked certificate accepted on resumption"
  grep -q 'revoked' "$T/c2$v" || fail "$v: refusal without the reason"
done
pass "a revoked client certificate resumes the session but is refused on the request"

# --- tls-unique on TLS 1.2 resumption: PoP linking uses the resumed connection's --------
python3 - "$PORT" "$CA" "$T" <<'PY' || fail "tls-unique on a resumed TLS 1.2 session"
import base64, http.client, ssl, subprocess, sys
port, ca, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.maximum_version = ssl.TLSVersion.TLSv1_2

def connect(session=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    c.connect()
    if session is not None:
        c.sock.close()
        c.sock = ctx.wrap_socket(__import__("socket").create_connection(("127.0.0.1", port)),
                                 session=session)
    return c

def csr_with(binding, name):
    cnf = f"{tmp}/{name}.cnf"
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name=dn\nattributes=a\nprompt=no\n[dn]\nCN=%s\n"
                "[a]\nchallengePassword=%s\n" % (name, base64.b64encode(binding).decode()))
    return subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{tmp}/{name}.key",
                           "-config", cnf, "-outform", "DER"], capture_output=True, check=True).stdout

def enroll(conn, der):
    auth = "Basic " + base64.b64encode(b"alice:pw").decode()
    conn.request("POST", "/.well-known/est/simpleenroll", body=base64.b64encode(der),
                 headers={"Authorization": auth, "Content-Type": "application/pkcs10"})
    r = conn.getresponse()
    return r.status, r.read().decode(errors="replace")

first = connect()
session, old = first.sock.session, first.sock.get_channel_binding("tls-unique")
first.close()
second = connect(session)
assert second.sock.session_reused, "second connection not resumed"
new = second.sock.get_channel_binding("tls-unique")
assert new != old, "tls-unique did not change on resumption"
status, body = enroll(second, csr_with(new, "linked-new"))
assert status == 200, f"resumed connection's tls-unique refused: {status} {body}"
# estd reads a connection's binding once and keeps it: a later request on
# the same connection is linked to the same binding, and another's is
# still refused.
status, body = enroll(second, csr_with(new, "linked-again"))
assert status == 200, f"second request's tls-unique refused: {status} {body}"
status, body = enroll(second, csr_with(old, "linked-old-again"))
assert status == 400 and "does not match" in body, f"old tls-unique accepted later: {status} {body}"
second.close()
third = connect(session)
assert third.sock.session_reused, "third connection not resumed"
status, body = enroll(third, csr_with(old, "linked-old"))
assert status == 400 and "does not match" in body, f"old tls-unique accepted: {status} {body}"
third.close()
# RFC 7627: a client without the extended master secret resumes, but its
# tls-unique could be a triple-handshake copy: no binding is offered.
ctx.options |= 1  # SSL_OP_NO_EXTENDED_MASTER_SECRET (OpenSSL 3.0)
first = connect()
session = first.sock.session
first.close()
fourth = connect(session)
assert fourth.sock.session_reused, "no-EMS connection not resumed"
status, body = enroll(fourth, csr_with(fourth.sock.get_channel_binding("tls-unique"), "no-ems"))
assert status == 400 and "no channel binding" in body, f"no-EMS resumed tls-unique accepted: {status} {body}"
fourth.close()
PY
pass "PoP linking takes the resumed connection's tls-unique, refuses the old one, and none without EMS"
estd_stop

# --- ticket keys rotate, and die with the process ------------------------------------------
sed -i 's/^tls_ticket_key_seconds = .*/tls_ticket_key_seconds = 2/' "$DIR/estd.conf"
estd_start "$DIR"
s_client_get "$T/r1" -tls1_3 -sess_out "$T/rot.sess"
s_client_get "$T/r2" -tls1_3 -sess_in "$T/rot.sess"
grep -q '^Reused,' "$T/r2" || fail "a fresh ticket did not resume"
sleep 5 # two key periods of 2 s: the key that made the ticket is gone
s_client_get "$T/r3" -tls1_3 -sess_in "$T/rot.sess"
grep -q '^New,' "$T/r3" || fail "a ticket outlived its key: $(grep -E '^(New|Reused)' "$T/r3")"
s_client_get "$T/r4" -tls1_2 -sess_out "$T/restart.sess"
s_client_get "$T/h1" -tls1_3 -sess_out "$T/reload.sess"
kill -HUP "$ESTD_PID"
for _ in $(seq 1 50); do grep -q 'reload: done' "$T/estd.log" && break; sleep 0.1; done
grep -q 'reload: done' "$T/estd.log" || fail "reload did not finish"
s_client_get "$T/h2" -tls1_3 -sess_in "$T/reload.sess"
grep -q '^New,' "$T/h2" || fail "a ticket from before a reload resumed"
estd_stop
estd_start "$DIR"
s_client_get "$T/r5" -tls1_2 -sess_in "$T/restart.sess"
grep -q '^New,' "$T/r5" || fail "a ticket from before a restart resumed"
pass "ticket keys rotate (a ticket dies with its key) and do not survive a reload or a restart"
estd_stop

# --- tls_ticket_key_seconds = 0: no resumption, no tickets ----------------------------------
sed -i 's/^tls_ticket_key_seconds = .*/tls_ticket_key_seconds = 0/' "$DIR/estd.conf"
estd_start "$DIR"
for v in -tls1_2 -tls1_3; do
  s_client_get "$T/n1$v" "$v" -sess_out "$T/none$v.sess"
  grep -q 'TLS session ticket:' "$T/n1$v" && fail "$v: a ticket was sent with resumption off"
  if [ -s "$T/none$v.sess" ]; then
    s_client_get "$T/n2$v" "$v" -sess_in "$T/none$v.sess"
    grep -q '^Reused,' "$T/n2$v" && fail "$v: resumed with resumption off"
  fi
done
pass "tls_ticket_key_seconds = 0 turns resumption off"
