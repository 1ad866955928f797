#!/usr/bin/env bash
# issuer = est against an upstream that misbehaves (a tiny python3 HTTPS
# server plays it): garbage, a truncated body, a 10 MB body, a certificate
# for another key, one from another CA, a 4xx with a reason, a 5xx, no
# answer at all. The RA's Basic credentials reach the upstream; a password
# file others may read is refused. The device gets 502/503 (or the 4xx) with a one-line
# reason; nothing is stored as issued; the body limit holds at and one past
# upstream_max_response_bytes.
. "$E2E_LIB/server.sh"

# The bad upstream's CA (what its /cacerts serves) and TLS certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/upca.key" \
  -subj /CN=Upstream-CA -days 5 -out "$T/upca.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue.key" \
  -subj /CN=Rogue-CA -days 5 -out "$T/rogue.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/tls.key" \
  -subj /CN=127.0.0.1 -out "$T/tls.csr" 2>/dev/null
openssl x509 -req -in "$T/tls.csr" -CA "$T/upca.pem" -CAkey "$T/upca.key" -days 5 -out "$T/tls.pem" \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') 2>/dev/null
openssl crl2pkcs7 -nocrl -certfile "$T/upca.pem" -outform DER | base64 >"$T/cacerts.b64"
# A certificate of the upstream CA for a key no device asked about.
new_csr stranger "/CN=stranger"
openssl x509 -req -inform DER -in "$T/stranger.der" -CA "$T/upca.pem" -CAkey "$T/upca.key" -days 5 \
  -out "$T/stranger.pem" 2>/dev/null
openssl crl2pkcs7 -nocrl -certfile "$T/stranger.pem" -outform DER | base64 >"$T/stranger.b64"

cat >"$T/bad_upstream.py" <<'EOF'
import base64, http.server, os, ssl, subprocess, sys, time
T, port = sys.argv[1], int(sys.argv[2])
def mode():
    with open(T + "/mode") as f:
        return f.read().strip()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/pkcs7-mime", length=None, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        try: self.wfile.write(body)
        except OSError: pass
        self.close_connection = True
    def do_GET(self):
        self.send(200, open(T + "/cacerts.b64", "rb").read(), extra=[("Content-Transfer-Encoding", "base64")])
    def do_POST(self):
        csr = self.rfile.read(int(self.headers["Content-Length"]))
        with open(T + "/auth.log", "a") as f:
            f.write((self.headers.get("Authorization") or "none") + "\n")
        m = mode()
        if m == "garbage": self.send(200, b"this is not a PKCS#7 certs-only\n")
        elif m.startswith("exact-"):
            self.send(200, b"A" * int(m[6:]))
        elif m == "truncated": self.send(200, b"MIIB" * 25, length=5000)
        elif m == "big": self.send(200, b"A" * (10 << 20))
        elif m == "otherkey": self.send(200, open(T + "/stranger.b64", "rb").read())
        elif m == "rogue":
            open(T + "/fwd.b64", "wb").write(csr)
            subprocess.run(["sh", "-c", "base64 -d < $0/fwd.b64 | openssl x509 -req -inform DER -CA $0/rogue.pem"
                            " -CAkey $0/rogue.key -days 5 -out $0/fwd.pem 2>/dev/null && openssl crl2pkcs7 -nocrl"
                            " -certfile $0/fwd.pem -outform DER | base64 > $0/fwd.p7", T], check=True)
            self.send(200, open(T + "/fwd.p7", "rb").read())
        elif m == "refuse": self.send(403, b"RA not allowed for this subject\n", ctype="text/plain")
        elif m == "fail": self.send(500, b"database on fire\n", ctype="text/plain")
        elif m == "silent": time.sleep(4); self.send(500, b"late\n", ctype="text/plain")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(T + "/tls.pem", T + "/tls.key")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
echo garbage >"$T/mode"
UP_PORT=$(free_port)
python3 "$T/bad_upstream.py" "$T" "$UP_PORT" 2>"$T/py.log" &
PY_PID=$!
trap 'kill "$PY_PID" 2>/dev/null; cleanup' EXIT
wait_for curl -s -o /dev/null --cacert "$T/upca.pem" "https://127.0.0.1:$UP_PORT/x" ||
  fail "bad upstream did not start"

DIR=$T/ra
"$ESTD" init "$DIR" >/dev/null
cat >>"$DIR/estd.conf" <<EOF
issuer = est
upstream_url = https://127.0.0.1:$UP_PORT/.well-known/est
upstream_trust = $T/upca.pem
upstream_timeout_seconds = 2
upstream_max_response_bytes = 8192
upstream_user = ra-1
upstream_password_file = $T/ra-password
EOF
printf 'ra secret\n' >"$T/ra-password"
chmod 644 "$T/ra-password"
expect_status 1 timeout 20 "$ESTD" serve "$DIR" --listen "127.0.0.1:$(free_port)"
one_line_error 'upstream_password_file .*readable by others'
chmod 600 "$T/ra-password"
pass "a password file others may read is refused"
printf 'pw\n' | "$ESTD" user add "$DIR" dev --password-stdin
estd_start "$DIR"
new_csr dev "/CN=device"
base64 "$T/dev.der" >"$T/dev.b64"

try() { # mode -> status; reason in $T/body
  echo "$1" >"$T/mode"
  curl -s --cacert "$DIR/ca/ca.pem" --user dev:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/dev.b64" -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$URL/simpleenroll"
}
expect() { # mode status reason-pattern
  local got
  got=$(try "$1")
  [ "$got" = "$2" ] || fail "$1: status $got, expected $2: $(cat "$T/body")"
  [ "$(wc -l <"$T/body")" = 1 ] && grep -Eq -- "$3" "$T/body" || fail "$1: reason '$(cat "$T/body")'"
  case $2 in 503) grep -qi '^Retry-After: ' "$T/hdr" || fail "$1: 503 without Retry-After" ;; esac
  pass "$1 -> $2 ($(cat "$T/body"))"
}
expect garbage 502 'not a certs-only'
expect truncated 502 'truncated'
expect big 502 'over the 8192-byte limit'
expect exact-8192 502 'not a certs-only'
expect exact-8193 502 'over the 8192-byte limit'
expect otherkey 502 'another key'
expect rogue 502 'does not chain to the upstream CA'
expect refuse 403 'RA not allowed for this subject'
expect fail 503 'database on fire'
expect silent 503 'no answer'
[ "$(store_count)" = 0 ] || fail "something was stored as issued: $(sqlite3 "$DIR/estd.db" 'SELECT subject FROM certs')"
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event='forward-failed'")" = 10 ] \
  || fail "not every failed forward was audited"
pass "nothing stored as issued; every failed forward audited"
[ "$(sort -u "$T/auth.log")" = "Basic $(printf 'ra-1:ra secret' | base64)" ] \
  || fail "RA did not send its Basic credentials: $(sort -u "$T/auth.log")"
pass "the RA authenticates to the upstream with Basic (upstream_user, upstream_password_file)"
estd_stop
