#!/usr/bin/env bash
# Request smuggling and malformed heads (tests/e2e/data/smuggling_cases.txt),
# sent raw over TLS: each refusal is estd's own text/plain answer, the only
# answer on the connection, and the connection is closed; then the server
# still serves and a keep-alive connection still carries two requests.
. "$E2E_LIB/server.sh"
DATA=$(cd "$(dirname "$0")/data" && pwd)
estd_init
estd_start "$DIR"

python3 - "$PORT" "$DATA/smuggling_cases.txt" <<'PY' || fail "smuggling cases (see above)"
import re, socket, ssl, sys, time
port, table = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

def exchange(raw):
    """Sends raw, reads until the server closes (or 8 s): (bytes, closed)."""
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=8))
    s.sendall(raw)
    got, deadline = b"", time.time() + 8
    try:
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                return got, True
            got += chunk
    except (ConnectionResetError, ssl.SSLError):
        return got, True
    except (socket.timeout, TimeoutError):
        pass
    finally:
        s.close()
    return got, False

failed = 0
for line in open(table, encoding="ascii"):
    if not line.strip() or line.startswith("#"):
        continue
    name, want, text = (f.strip() for f in line.split("|", 2))
    text = text.replace("$P", "/.well-known/est")
    text = re.sub(r"\{(\d+)\*(\w)\}", lambda m: m.group(2) * int(m.group(1)), text)
    raw = text.encode("ascii").decode("unicode_escape").encode("latin-1")
    got, closed = exchange(raw)
    heads = re.findall(rb"HTTP/1\.[01] (\d{3}) ", got)
    problems = []
    if not heads or heads[0].decode() != want:
        problems.append("status %s, want %s" % (heads[0].decode() if heads else "none", want))
    if len(heads) != 1:
        problems.append("%d answers on one connection" % len(heads))
    if not closed:
        problems.append("connection not closed")
    if want != "200":
        head, _, body = got.partition(b"\r\n\r\n")
        if not re.search(rb"(?im)^Content-Type: text/plain", head):
            problems.append("not text/plain")
        if body.count(b"\n") != 1 or not body.endswith(b"\n"):
            problems.append("body is not one line")
    if problems:
        failed += 1
        print("FAIL: %s: %s: %r" % (name, "; ".join(problems), got[:300]))
    else:
        print("ok: %s (%s)" % (name, want))
sys.exit(1 if failed else 0)
PY
estd_alive
grep -q ': request head refused (400): more than one Content-Length$' "$T/estd.log" \
  || fail "refusal reason not logged"
grep -q 'access: .* "- -" 400 ' "$T/estd.log" || fail "refusal not in the access log"

# A keep-alive connection still carries two requests (and two answers).
python3 - "$PORT" <<'PY' || fail "keep-alive after the checks"
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
req = b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n"
s.sendall(req + req)
got = b""
while got.count(b"HTTP/1.1 200 ") < 2:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
sys.exit(0 if got.count(b"HTTP/1.1 200 ") == 2 else 1)
PY
pass "pipelined keep-alive requests still answered"
estd_stop
pass "smuggling table; server alive; SIGTERM exit 0"
