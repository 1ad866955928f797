#!/usr/bin/env bash
# Every way `est` can fail, each a one-line message and exit 1 with nothing
# written: an unknown CA, a name mismatch (and the third-party database,
# which needs the name), no server, no such host, a timeout, HTTP errors with
# the server's text, and malformed or oversized responses (from a small
# HTTPS server in Python that holds estd's TLS certificate, so only the
# answer is wrong). Usage errors too.
. "$E2E_LIB/client.sh"

# Every failure here must leave no output behind (expect_err checks).
NO_OUTPUT=$T/out.pem

estd_init
estd_start "$DIR"
SERVER=https://127.0.0.1:$PORT

# --- TLS: unknown CA; the name check of each trust database ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" \
  -subj /CN=Other -days 2 -out "$T/other.pem" 2>/dev/null
run_est unknown cacerts --server "$SERVER" --trust "$T/other.pem" -o "$T/out.pem"
expect_err unknown 1 "est: cacerts: 127.0.0.1:$PORT: server certificate not trusted"
run_est unknown3 cacerts --server "$SERVER" --third-party-trust "$T/other.pem" -o "$T/out.pem"
expect_err unknown3 1 "server certificate not trusted"
run_est third cacerts --server "$SERVER" --third-party-trust "$CA"
expect_ok third
pass "TLS: an unknown CA is 'server certificate not trusted'"

DIR2=$T/localhost-only
"$ESTD" init "$DIR2" --server-name localhost >/dev/null
PORT2=$(free_port)
"$ESTD" serve "$DIR2" --listen "127.0.0.1:$PORT2" 2>>"$T/estd2.log" &
ESTD2_PID=$!
trap 'kill $ESTD2_PID 2>/dev/null || true; cleanup' EXIT
wait_for curl -s -o /dev/null --cacert "$DIR2/ca/ca.pem" --resolve "localhost:$PORT2:127.0.0.1" \
  "https://localhost:$PORT2/.well-known/est/cacerts" || fail "second estd did not start"
run_est mismatch cacerts --server "https://127.0.0.1:$PORT2" --trust "$DIR2/ca/ca.pem" -o "$T/out.pem"
expect_err mismatch 1 "127.0.0.1:$PORT2: server certificate does not match host 127.0.0.1"
run_est mismatch3 cacerts --server "https://127.0.0.1:$PORT2" --third-party-trust "$DIR2/ca/ca.pem" \
  -o "$T/out.pem"
expect_err mismatch3 1 "does not match host 127.0.0.1"
if getent hosts localhost | grep -q '127.0.0.1'; then
  run_est byname cacerts --server "https://localhost:$PORT2" --trust "$DIR2/ca/ca.pem"
  expect_ok byname
fi
kill "$ESTD2_PID"
pass "TLS: a name mismatch says which host did not match"

# --- no server, no such host, no answer ---
DEAD=$(free_port)
run_est refused cacerts --server "https://127.0.0.1:$DEAD" --trust "$CA" -o "$T/out.pem"
expect_err refused 1 "127.0.0.1:$DEAD: cannot connect: Connection refused"
run_est nxdomain cacerts --server "https://nonexistent.invalid" --trust "$CA" -o "$T/out.pem"
expect_err nxdomain 1 "cannot resolve host nonexistent.invalid"
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' > "$T/silent.port" &
SILENT_PID=$!
trap 'kill $SILENT_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 50); do [ -s "$T/silent.port" ] && break; sleep 0.1; done
run_est timeout cacerts --server "https://127.0.0.1:$(cat "$T/silent.port")" --trust "$CA" \
  --timeout 2 -o "$T/out.pem"
expect_err timeout 1 "timed out after 2 s"
kill "$SILENT_PID"
pass "no server, no such host, a silent server: one line each"

# --- HTTP errors carry the server's text ---
run_est nolabel cacerts --server "$SERVER/.well-known/est/nosuch" --trust "$CA" -o "$T/out.pem"
expect_err nolabel 1 "HTTP 404: /cacerts not offered: no CA with label 'nosuch'"
run_est nolabel2 cacerts --server "$SERVER" --label nosuch --dialect draft --trust "$CA" -o "$T/out.pem"
expect_err nolabel2 1 "HTTP 404: /CACerts not offered: no CA with label 'nosuch'"
run_est noauth enroll --server "$SERVER" --trust "$CA" --key "$T/k.key" --subject CN=x -o "$T/out.pem"
expect_err noauth 1 "HTTP 401"
[ ! -e "$T/k.key" ] || fail "a refused enroll wrote its key"
pass "HTTP errors: status and the server's text in one line"

# --- malformed answers from a server that is trusted but broken ---
estd_stop
FAKE_PORT=$(free_port)
openssl x509 -in "$CA" -outform DER | head -c 60 | base64 -w0 > "$T/truncated.b64"
python3 - "$FAKE_PORT" "$DIR/tls/server.pem" "$DIR/tls/server.key" "$T/truncated.b64" \
  2>"$T/fake.log" <<'EOF' &
import http.server, ssl, sys
port, cert, key, truncated = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
answers = {
    "garbage": ("application/pkcs7-mime", b"this is not base64 at all !!!"),
    "html": ("text/html", b"<html>captive portal</html>"),
    "truncated": ("application/pkcs7-mime", open(truncated, "rb").read()),
    "huge": ("application/pkcs7-mime", b"A" * (3 << 20)),
    "empty": ("application/pkcs7-mime", b""),
}
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        kind = self.path.split("/")[3]
        ctype, body = answers[kind]
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true; cleanup' EXIT
wait_for curl -s -o /dev/null --cacert "$CA" "https://127.0.0.1:$FAKE_PORT/.well-known/est/html/cacerts" ||
  fail "fake server did not start"
FAKE=https://127.0.0.1:$FAKE_PORT/.well-known/est
run_est garbage cacerts --server "$FAKE/garbage" --trust "$CA" -o "$T/out.pem"
expect_err garbage 1 "127.0.0.1:$FAKE_PORT: malformed certs-only response"
run_est truncated cacerts --server "$FAKE/truncated" --trust "$CA" -o "$T/out.pem"
expect_err truncated 1 "malformed certs-only response"
run_est html cacerts --server "$FAKE/html" --trust "$CA" -o "$T/out.pem"
expect_err html 1 "Content-Type text/html, expected application/pkcs7-mime"
run_est huge cacerts --server "$FAKE/huge" --trust "$CA" -o "$T/out.pem"
expect_err huge 1 "response larger than 2097152 bytes"
run_est empty cacerts --server "$FAKE/empty" --trust "$CA" -o "$T/out.pem"
expect_err empty 1 "empty response"
kill "$FAKE_PID"
pass "malformed, mistyped, oversized and empty answers: one line each, nothing written"

# --- usage errors: before any connection ---
run_est noserver cacerts --trust "$CA"
expect_err noserver 1 "--server URL is required"
run_est http cacerts --server "http://127.0.0.1:$PORT" --trust "$CA"
expect_err http 1 "the URL must start with https://"
run_est urlpw cacerts --server "https://alice:secret@127.0.0.1:$PORT" --trust "$CA"
expect_err urlpw 1 "no user or password in the URL"
run_est userpw enroll --server "$SERVER" --trust "$CA" --user alice --key k --subject CN=x -o o
expect_err userpw 1 "never a password on the command line"
# A password of EST_PASSWORD_MAX (256) bytes passes (the dead server is what fails).
RC=0
printf '%0256d\n' 0 | "$EST" enroll --server "https://127.0.0.1:$DEAD" --trust "$CA" --user alice \
  --password-stdin --key "$T/k.key" --subject CN=x -o "$T/out.pem" 2>"$T/pw256.err" || RC=$?
expect_err pw256 1 "cannot connect"
RC=0
printf '%0257d\n' 0 | "$EST" enroll --server "https://127.0.0.1:$DEAD" --trust "$CA" --user alice \
  --password-stdin --key "$T/k.key" --subject CN=x -o "$T/out.pem" 2>"$T/pw257.err" || RC=$?
expect_err pw257 1 "password longer than 256 bytes"
RC=0
"$EST" enroll --server "$SERVER" --trust "$CA" --user alice --password-stdin --key "$T/k.key" \
  --subject CN=x -o "$T/out.pem" </dev/null 2>"$T/pwnone.err" || RC=$?
expect_err pwnone 1 "no password on standard input"
run_est unknownopt enroll --password secret
expect_err unknownopt 1 "unknown option --password"
run_est nocmd frobnicate
expect_err nocmd 1 "'frobnicate' is not a command"
pass "usage errors: one line, exit 1"
