# SIGHUP reloads estd.conf and the files it names without dropping an
# established connection: a /csrattrs policy change takes effect; a file
# that does not parse is refused with its reason and the running
# configuration kept; a setting that needs a restart (store) is reported
# and kept; a new TLS certificate is served to new handshakes while the
# old connection goes on.
. "$E2E_LIB/server.sh"
estd_init alice 'secret'
estd_start "$DIR"

coproc KA { python3 "$E2E_LIB/keepalive.py" 127.0.0.1 "$PORT" "$CA" alice:secret; }
ka_get() { # PATH -> sets KA_STATUS, KA_PORT
  echo "get /.well-known/est/$1" >&"${KA[1]}"
  read -r KA_STATUS KA_PORT <&"${KA[0]}" || fail "keep-alive client died"
}
reloads() { grep -c 'estd: reload: ' "$T/estd.log" || true; }
hup() { # sends SIGHUP, waits for the reload's last line
  local before; before=$(grep -c 'estd: reload: \(done\|.*keeping the running\)' "$T/estd.log" || true)
  kill -HUP "$ESTD_PID"
  for _ in $(seq 1 100); do
    [ "$(grep -c 'estd: reload: \(done\|.*keeping the running\)' "$T/estd.log" || true)" -gt "$before" ] && return 0
    kill -0 "$ESTD_PID" 2>/dev/null || fail "estd died on SIGHUP"
    sleep 0.1
  done
  fail "no reload after SIGHUP"
}

ka_get csrattrs
[ "$KA_STATUS" = 204 ] || fail "csrattrs before reload: $KA_STATUS"
conn=$KA_PORT

# --- a policy change, live, on the same connection ---
sed -i 's/^csrattrs =.*/csrattrs = challengePassword/' "$DIR/estd.conf"
hup
ka_get csrattrs
[ "$KA_STATUS" = 200 ] || fail "csrattrs after reload: $KA_STATUS $KA_PORT"
[ "$KA_PORT" = "$conn" ] || fail "the connection was replaced ($conn -> $KA_PORT)"
pass "SIGHUP: csrattrs changed, established connection kept"

# --- a file that does not parse: refused, running configuration kept ---
cp "$DIR/estd.conf" "$T/good.conf"
printf 'no_such_key = 1\n' >>"$DIR/estd.conf"
hup
grep -q "estd: reload: .*no_such_key.*; keeping the running configuration" "$T/estd.log" ||
  fail "bad reload not reported: $(tail -3 "$T/estd.log")"
ka_get csrattrs
[ "$KA_STATUS" = 200 ] && [ "$KA_PORT" = "$conn" ] || fail "after a failed reload: $KA_STATUS $KA_PORT"
pass "bad estd.conf: reason on stderr, old configuration kept"

# --- a setting that cannot change live: reported, kept ---
sed 's|^store =.*|store = other.db|' "$T/good.conf" >"$DIR/estd.conf"
hup
grep -q "estd: reload: store changed to '.*other.db': takes effect at restart; keeping '.*estd.db'" \
  "$T/estd.log" || fail "store change not reported: $(tail -3 "$T/estd.log")"
before=$(store_count)
enroll dev1 /CN=dev1 alice secret
[ "$(store_count)" = $((before + 1)) ] || fail "the certificate did not go to the running store"
[ ! -e "$DIR/other.db" ] || fail "a second store was opened"
pass "store change: reported, running store kept"
cp "$T/good.conf" "$DIR/estd.conf"

# --- trust anchors and a new CA label, live ---
idevid_make /CN=widget-42
new_csr w /CN=widget-42
idevid_enroll() { # LABEL-PATH -> HTTP status
  curl -s --cacert "$CA" --cert "$T/idevid.pem" --key "$T/idevid.key" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/w.der" "$URL$1/simpleenroll" -o "$T/body" -w '%{http_code}'
}
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL/second/cacerts")" = 404 ] || fail "label before reload"
code=$(idevid_enroll "")
[[ $code =~ ^40[13]$ ]] || fail "IDevID accepted before its anchor was configured: $code"
sed -i 's|^third_party_trust =.*|third_party_trust = idevid-ca.pem|' "$DIR/estd.conf"
printf '\n[ca "second"]\ncert = ca/ca.pem\nkey = ca/ca.key\nchain =\nextra =\nenroll_auth = third-party\n' \
  >>"$DIR/estd.conf"
hup
code=$(idevid_enroll /second)
[ "$code" = 200 ] || fail "IDevID enroll on the new label after reload: $code $(cat "$T/body")"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL/second/cacerts")" = 200 ] || fail "new label not served"
ka_get csrattrs
[ "$KA_STATUS" = 200 ] && [ "$KA_PORT" = "$conn" ] || fail "after the trust reload: $KA_STATUS $KA_PORT"
pass "third-party trust anchor and a new CA label added by reload"

# --- a new TLS certificate: new handshakes get it, old connection goes on ---
old_serial=$(openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" </dev/null 2>/dev/null |
             openssl x509 -noout -serial)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/tls.key" \
  -subj /CN=localhost -out "$T/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/ext"
openssl x509 -req -in "$T/tls.csr" -CA "$CA" -CAkey "$DIR/ca/ca.key" -set_serial 0x5eed \
  -days 30 -extfile "$T/ext" -out "$T/tls.pem" 2>/dev/null
cp "$T/tls.key" "$DIR/tls/server.key"; cp "$T/tls.pem" "$DIR/tls/server.pem"
hup
new_serial=$(openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" </dev/null 2>/dev/null |
             openssl x509 -noout -serial)
[ "$new_serial" = "serial=5EED" ] || fail "new handshake got $new_serial (before: $old_serial)"
curl -sf -o /dev/null --cacert "$CA" "$URL/cacerts" || fail "curl with the new TLS certificate"
ka_get cacerts
[ "$KA_STATUS" = 200 ] && [ "$KA_PORT" = "$conn" ] || fail "old connection after TLS change: $KA_STATUS $KA_PORT"
pass "TLS certificate replaced live ($old_serial -> $new_serial), old connection kept"

# --- a key that does not match: refused, the running certificate kept ---
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/tls/server.key" 2>/dev/null
hup
grep -q "estd: reload: .*does not match.*keeping the running configuration" "$T/estd.log" ||
  fail "mismatched key not reported: $(tail -3 "$T/estd.log")"
serial=$(openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$CA" </dev/null 2>/dev/null |
         openssl x509 -noout -serial)
[ "$serial" = "serial=5EED" ] || fail "after a failed TLS reload: $serial"
pass "mismatched TLS key: refused, running certificate kept"

exec {KA[1]}>&-
estd_stop
pass "stopped cleanly after $(reloads) reload lines"
