# metrics_listen: Prometheus text exposition that a real parser accepts
# (python3-prometheus-client, and promtool when installed) with counts that
# follow what the test did; HTTP Basic on /metrics when metrics_user is
# set; /healthz and /readyz. The access log: RFC 3339 time, client,
# latency, TLS version, label, operation, identity, never the password; a
# reload switches it to JSON.
. "$E2E_LIB/server.sh"
estd_init alice 'secret'
MP=$(free_port)
M="http://127.0.0.1:$MP"
printf 'scrape-pw\n' >"$DIR/metrics.pw"
chmod 600 "$DIR/metrics.pw"
sed -i "s|^metrics_listen =.*|metrics_listen = $MP|; s|^metrics_user =.*|metrics_user = prom|; s|^metrics_password_file =.*|metrics_password_file = metrics.pw|" \
  "$DIR/estd.conf"
estd_start "$DIR"
grep -q "estd: metrics on http://127.0.0.1:$MP/metrics (HTTP Basic)" "$T/estd.log" ||
  fail "a bare port did not bind 127.0.0.1: $(grep metrics "$T/estd.log")"
PY=
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import prometheus_client' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || fail "python3-prometheus-client is not installed (scripts/deps)"

# --- traffic: /cacerts, a Basic enrollment, a wrong password ---
curl -sf -o /dev/null --cacert "$DIR/ca/ca.pem" "$URL/cacerts" || fail "cacerts"
enroll dev /CN=dev alice secret
new_csr bad /CN=bad
base64 "$T/bad.der" >"$T/bad.b64"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca/ca.pem" --user alice:wrong \
  -H 'Content-Type: application/pkcs10' --data-binary @"$T/bad.b64" "$URL/simpleenroll")
[ "$code" = 401 ] || fail "wrong password answered $code"

# --- /healthz, /readyz, Basic on /metrics ---
[ "$(curl -s "$M/healthz")" = ok ] || fail "/healthz"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$M/readyz")" = 200 ] || fail "/readyz: $(curl -s "$M/readyz")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$M/metrics")" = 401 ] || fail "/metrics without credentials"
[ "$(curl -s -o /dev/null -w '%{http_code}' --user prom:nope "$M/metrics")" = 401 ] || fail "/metrics, wrong password"
curl -sf -D "$T/h" --user prom:scrape-pw -o "$T/metrics" "$M/metrics" || fail "/metrics with credentials"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/h" || fail "content type: $(cat "$T/h")"
pass "healthz, readyz, /metrics behind Basic"

# --- parsed by a real parser, values checked ---
"$PY" - "$T/metrics" <<'PYEOF' || fail "metrics check failed"
import sys
from prometheus_client.parser import text_string_to_metric_families
samples = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
def value(name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))
checks = [
    ("enroll 200", value("estd_requests_total", operation="simpleenroll", label="", status="200"), 1),
    ("enroll 401", value("estd_requests_total", operation="simpleenroll", label="", status="401"), 1),
    ("cacerts 200", value("estd_requests_total", operation="cacerts", label="", status="200") >= 1, True),
    ("issued enroll", value("estd_certificates_issued_total", operation="enroll"), 1),
    ("basic auth failures", value("estd_auth_failures_total", scheme="basic"), 1),
    ("enroll latency count", value("estd_request_duration_seconds_count", operation="simpleenroll"), 2),
    ("enroll latency +Inf", value("estd_request_duration_seconds_bucket", operation="simpleenroll", le="+Inf"), 2),
    ("store commits", value("estd_store_commit_seconds_count"), 1),
    ("TLS 1.3 handshakes", value("estd_tls_handshakes_total", version="TLSv1.3") >= 3, True),
    ("open connections gauge", value("estd_connections_open") is not None, True),
    ("password checks gauge", value("estd_password_checks_in_progress"), 0),
    ("revoked", value("estd_certificates_revoked_total"), 0),
]
bad = [f"{n}: {got!r} != {want!r}" for n, got, want in checks if got != want]
if not any(k[0] == "estd_build_info" for k in samples):
    bad.append("no estd_build_info")
print("\n".join(bad) if bad else "all metrics as expected")
sys.exit(1 if bad else 0)
PYEOF
pass "the exposition parses (prometheus_client) and counts what happened"
if command -v promtool >/dev/null; then
  promtool check metrics <"$T/metrics" >"$T/promtool" 2>&1 || fail "promtool: $(cat "$T/promtool")"
  pass "promtool check metrics: clean"
else
  echo "note: promtool not installed; prometheus_client's parser only"
fi

# --- the access log ---
line=$(grep 'estd: access: .*"POST /.well-known/est/simpleenroll" 200 ' "$T/estd.log" | head -1)
echo "$line" | grep -Eq '^estd: access: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z 127\.0\.0\.1:[0-9]+ "POST /.well-known/est/simpleenroll" 200 [0-9]+ [0-9.]+ms TLSv1\.[23] label="" op=simpleenroll who=alice$' ||
  fail "access line: $line"
if grep -q 'secret\|scrape-pw' "$T/estd.log"; then fail "a password reached the log"; fi
pass "text access log: $line"

sed -i 's/^log_format =.*/log_format = json/' "$DIR/estd.conf"
kill -HUP "$ESTD_PID"
for _ in $(seq 1 50); do grep -q 'estd: reload: done' "$T/estd.log" && break; sleep 0.1; done
curl -sf -o /dev/null --cacert "$DIR/ca/ca.pem" "$URL/cacerts" || fail "cacerts after reload"
json=$(grep 'estd: access: {' "$T/estd.log" | tail -1)
"$PY" - "${json#estd: access: }" <<'PYEOF' || fail "JSON access line: $json"
import json, re, sys
e = json.loads(sys.argv[1])
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]), e
assert e["client"].startswith("127.0.0.1:") and e["method"] == "GET", e
assert e["path"] == "/.well-known/est/cacerts" and e["status"] == 200 and e["bytes"] > 0, e
assert e["operation"] == "cacerts" and e["label"] == "" and e["identity"] == "", e
assert e["tls"].startswith("TLSv1.") and e["latency_ms"] >= 0, e
PYEOF
pass "after a reload the access log is JSON: $json"
estd_stop
