#!/usr/bin/env bash
# Logs and the audit table under attack (issue #12):
# - every client-chosen byte reaches the access log and the audit table
#   escaped: ESC, CR/LF, NUL and invalid UTF-8 in user names, quotes and
#   backslashes in the request path (raw TLS requests from python3), in
#   text and JSON logs; control bytes in the path never reach the log;
# - a flood of 500 bad-password requests from one address (127.0.0.2)
#   leaves a bounded number of auth-fail rows whose count column adds up
#   to 500;
# - `estd audit prune` (--before, and the estd.conf retention) removes old
#   rows and keeps recent ones; estd serve applies the retention itself.
. "$E2E_LIB/server.sh"
estd_init dev 'pw'
# One window for the whole test: what is counted is then deterministic.
sed -i 's/^audit_auth_fail_window_seconds = .*/audit_auth_fail_window_seconds = 3600/' "$DIR/estd.conf"
estd_start "$DIR"

# raw_request BYTES (python bytes literal): sent as is over TLS; prints the status.
raw_request() {
  python3 - "$PORT" "$DIR/ca/ca.pem" "$1" <<'PY'
import ast, socket, ssl, sys
port, ca, raw = int(sys.argv[1]), sys.argv[2], ast.literal_eval(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
with socket.create_connection(("127.0.0.1", port)) as s, ctx.wrap_socket(s) as t:
    t.sendall(raw)
    data = b""
    while not data.endswith(b"\n") or b"\r\n\r\n" not in data:
        chunk = t.recv(4096)
        if not chunk:
            break
        data += chunk
    print(data.split(b" ")[1].decode())
PY
}
# Control bytes and non-ASCII in the request line are refused at the front
# door (400, before any log line names the path); '"' and '\' are visible
# ASCII that pass, and must not close the quoted field or forge an escape.
[ "$(raw_request "b'GET /.well-known/est/\\x1b[31mred\\xff\\xfe HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'")" = 400 ] \
  || fail "path with ESC: not refused"
[ "$(raw_request "b'GET /.well-known/est/a\"b\\\\x1B HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'")" = 404 ] \
  || fail "path with a quote and a backslash: not 404"
# A user name in invalid UTF-8 (Digest takes it; the first failure from
# 127.0.0.1, so its row is written), then one with ESC, CR/LF and NUL
# (Basic and Digest refuse control bytes in names as malformed: counted).
[ "$(raw_request "b'GET /.well-known/est/csrattrs HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Digest username=\"eve\\xff\\xfe\", realm=\"estkit\", nonce=\"n\", uri=\"/.well-known/est/csrattrs\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c\", response=\"00000000000000000000000000000000\"\\r\\nConnection: close\\r\\n\\r\\n'")" = 401 ] \
  || fail "Digest user in invalid UTF-8: not 401"
user=$(printf 'eve\033[2J\r\nforged\000x\377:pw' | base64 -w0)
[ "$(raw_request "b'GET /.well-known/est/csrattrs HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Basic $user\\r\\nConnection: close\\r\\n\\r\\n'")" = 401 ] \
  || fail "Basic user with control bytes: not 401"
estd_alive
LC_ALL=C grep -q $'\x1b' "$T/estd.log" && fail "raw ESC in the log: $(LC_ALL=C grep $'\x1b' "$T/estd.log" | od -c | head)"
LC_ALL=C grep -q $'[\x80-\xff]' "$T/estd.log" && fail "invalid UTF-8 in the log"
grep -qF '"GET /.well-known/est/a\x22b\x5Cx1B" 404' "$T/estd.log" || fail "path not escaped: $(grep ' 404 ' "$T/estd.log")"
# The audit row names the user tried, escaped.
subject=$(sqlite3 "$DIR/estd.db" "SELECT subject FROM audit WHERE event = 'auth-fail'")
[ "$subject" = 'eve\xFF\xFE' ] || fail "audit subject not escaped: $(printf '%s' "$subject" | od -c | head -3)"
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE
      actor GLOB '*[^ -~]*' OR subject GLOB '*[^ -~]*' OR detail GLOB '*[^ -~]*'")" = 0 ] \
  || fail "audit rows hold bytes other than printable ASCII"
pass "ESC, CR/LF, NUL, invalid UTF-8: escaped in the access log and the audit table"

# The JSON access log stays valid JSON (UTF-8) and carries the same text.
estd_stop
sed -i 's/^log_format = .*/log_format = json/' "$DIR/estd.conf"
estd_start "$DIR"
[ "$(raw_request "b'GET /.well-known/est/a\"b\\\\x1B HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'")" = 404 ] \
  || fail "path with a quote (JSON log): not 404"
grep 'estd: access: {' "$T/estd.log" | grep '"status":404' | tail -1 >"$T/json"
python3 -c '
import json, sys
line = open(sys.argv[1], "rb").read().decode("utf-8").split("estd: access: ", 1)[1]
assert json.loads(line)["path"] == "/.well-known/est/a\\x22b\\x5Cx1B", line
' "$T/json" || fail "JSON access line: $(cat "$T/json")"
LC_ALL=C grep -q $'\x1b' "$T/estd.log" && fail "raw ESC in the JSON log"
sed -i 's/^log_format = .*/log_format = text/' "$DIR/estd.conf"
pass "JSON access log: valid, path escaped the same way"

# --- a flood of bad passwords from one address ---
urls=()
for i in $(seq 1 480); do urls+=("$URL/csrattrs"); done
curl -s --interface 127.0.0.2 --cacert "$DIR/ca/ca.pem" --user "nobody$RANDOM:bad" \
  -o /dev/null -w '%{http_code}\n' "${urls[@]}" >"$T/codes"
urls=()
for i in $(seq 1 20); do urls+=("$URL/csrattrs"); done
curl -s --interface 127.0.0.2 --cacert "$DIR/ca/ca.pem" --user "dev:wrong" \
  -o /dev/null -w '%{http_code}\n' "${urls[@]}" >>"$T/codes"
[ "$(grep -c '^401$' "$T/codes")" = 500 ] || fail "flood: $(sort "$T/codes" | uniq -c)"
# One window per event: auth-fail, and auth-throttled once the guessing
# guard (docs/operator.md section 20) holds the address back.
rows=$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE actor = '127.0.0.2'")
[ "$rows" -ge 1 ] && [ "$rows" -le 2 ] || fail "$rows audit rows during the flood (1 or 2 expected)"
estd_stop
# At shutdown the counted failures are written: a row per event carrying them.
rows=$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE actor = '127.0.0.2'")
[ "$rows" -le 4 ] && [ "$(sqlite3 "$DIR/estd.db" "SELECT sum(count) FROM audit WHERE actor = '127.0.0.2'")" = 500 ] \
  || fail "flood rows: $(sqlite3 "$DIR/estd.db" "SELECT id, event, subject, detail, count FROM audit WHERE actor = '127.0.0.2'")"
sqlite3 "$DIR/estd.db" "SELECT detail FROM audit WHERE actor = '127.0.0.2' AND count > 1" | grep -q 'more auth-' \
  || fail "no counted row"
pass "500 bad passwords from one address: $rows audit rows, count adds up to 500"

# --- pruning ---
total=$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit")
sqlite3 "$DIR/estd.db" "UPDATE audit SET at = strftime('%s', '2020-01-01') WHERE id <= 2"
sqlite3 "$DIR/estd.db" "UPDATE audit SET at = strftime('%s', '2020-06-01') WHERE id = 3"
"$ESTD" audit prune "$DIR" --before 2020-03-01 >"$T/out" || fail "audit prune --before"
grep -qx 'removed 2 audit rows' "$T/out" || fail "prune output: $(cat "$T/out")"
[ "$(sqlite3 "$DIR/estd.db" "SELECT min(id) FROM audit")" = 3 ] || fail "prune --before removed the wrong rows"
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE event = 'audit-prune'")" = 1 ] || fail "prune not audited"
expect_status 2 "$ESTD" audit prune "$DIR" --before 2020-03-01
expect_status 1 "$ESTD" audit prune "$DIR" --before yesterday
one_line_error '^estd: audit prune: --before takes YYYY-MM-DD'
# estd.conf's retention: 365 days by default, so the 2020 row goes, the rest stays.
"$ESTD" audit prune "$DIR" >"$T/out" || fail "audit prune (retention)"
grep -qx 'removed 1 audit rows' "$T/out" || fail "retention prune: $(cat "$T/out")"
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit")" = "$((total - 3 + 2))" ] || fail "recent rows were pruned"
"$ESTD" audit prune "$DIR" --keep-rows 2 >/dev/null || fail "--keep-rows"
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit")" = 3 ] || fail "--keep-rows 2 (+ its own row)"
# estd serve prunes by the retention on its own (at start, then hourly).
sqlite3 "$DIR/estd.db" "UPDATE audit SET at = strftime('%s', '2020-01-01') WHERE id = (SELECT min(id) FROM audit)"
estd_start "$DIR"
estd_stop
[ "$(sqlite3 "$DIR/estd.db" "SELECT count(*) FROM audit WHERE at < strftime('%s', '2021-01-01')")" = 0 ] \
  || fail "estd serve kept a row beyond audit_retention_days"
pass "audit prune: --before, --keep-rows, retention (command and serve) keep recent rows"
