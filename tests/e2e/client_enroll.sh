#!/usr/bin/env bash
# `est` enrolling against a real estd: Basic (sent at once), Digest and
# "any" (answering the 401), both dialects, keys made (0600) or given, the
# key type /csrattrs asks for, proof-of-possession linking on TLS 1.2
# (tls-unique) and TLS 1.3 (tls-exporter), re-enroll with the TLS client
# certificate (renew and rekey), `est renew` when due and not, server key
# generation, and /fullcmc + revoke as far as the server offers them.
. "$E2E_LIB/client.sh"

mode_of() { stat -c %a "$1"; }
pub_of_cert() { openssl x509 -in "$1" -noout -pubkey; }
pub_of_key() { openssl pkey -in "$1" -pubout; }
same_key() { [ "$(pub_of_cert "$1")" = "$(pub_of_key "$2")" ] || fail "$1 is not for the key $2"; }
verifies() { openssl verify -CAfile "$CA" "$1" >/dev/null || fail "$1 does not verify"; }
count_401() { grep -c '" 401 ' "$T/estd.log" || true; }

DIR=$T/estd
"$ESTD" init "$DIR" --enable-serverkeygen >/dev/null
printf 'secret\n' | "$ESTD" user add "$DIR" alice --password-stdin --digest
sed -i 's/^enroll_auth = .*/enroll_auth = cert, basic, digest/' "$DIR/estd.conf"
printf 'secret\n' > "$T/pw"
chmod 600 "$T/pw"
estd_start "$DIR"
CA=$DIR/ca/ca.pem
S=(--server "https://127.0.0.1:$PORT" --trust "$CA")
AUTH=(--user alice --password-file "$T/pw")

# --- Basic sent at once: no 401 round trip; a new key, 0600 ---
before=$(count_401)
run_est basic enroll "${S[@]}" "${AUTH[@]}" --http-auth basic --key "$T/b.key" \
  --subject CN=basic-device,O=Example --san DNS:basic.example,IP:192.0.2.7 -o "$T/b.pem"
expect_ok basic
[ "$(count_401)" = "$before" ] || fail "Basic was not sent up front"
[ "$(mode_of "$T/b.key")" = 600 ] || fail "new key has mode $(mode_of "$T/b.key")"
verifies "$T/b.pem"
same_key "$T/b.pem" "$T/b.key"
openssl x509 -in "$T/b.pem" -noout -subject | grep -q 'CN = basic-device, O = Example' || fail "subject"
openssl x509 -in "$T/b.pem" -noout -ext subjectAltName | grep -q 'DNS:basic.example, IP Address:192.0.2.7' \
  || fail "SAN not in the certificate"
openssl pkey -in "$T/b.key" -noout -text | grep -q 'prime256v1' || fail "default key is not P-256"
pass "enroll with Basic up front (new P-256 key 0600, subject and SAN)"

# --- Digest and "any" answer the 401; an existing key is used, not touched ---
before=$(count_401)
printf 'secret\n' | "$EST" enroll "${S[@]}" --user alice --password-stdin --http-auth digest \
  --key "$T/d.key" --key-type ec-p384 --subject CN=digest-device -o "$T/d.pem" 2>"$T/d.err" \
  || fail "digest enroll: $(cat "$T/d.err")"
[ "$(count_401)" -gt "$before" ] || fail "Digest did not go through a 401"
openssl pkey -in "$T/d.key" -noout -text | grep -q 'secp384r1' || fail "--key-type ec-p384 ignored"
verifies "$T/d.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/own.key" 2>/dev/null
cp "$T/own.key" "$T/own.key.orig"
run_est any enroll "${S[@]}" "${AUTH[@]}" --key "$T/own.key" --subject CN=own-key -o "$T/own.pem"
expect_ok any
cmp "$T/own.key" "$T/own.key.orig" || fail "an existing key was rewritten"
same_key "$T/own.pem" "$T/own.key"
pass "enroll with Digest and with 'any'; an existing key is certified as is"

# --- wrong password: one line with the server's text, nothing written ---
printf 'wrong\n' > "$T/badpw"
chmod 600 "$T/badpw"
run_est badpw enroll "${S[@]}" --user alice --password-file "$T/badpw" --key "$T/x.key" \
  --subject CN=x -o "$T/x.pem"
expect_err badpw 1 "127.0.0.1:$PORT: HTTP 401"
[ ! -e "$T/x.key" ] && [ ! -e "$T/x.pem" ] || fail "a failed enroll wrote files"
run_est nouser enroll "${S[@]}" --key "$T/x.key" --subject CN=x -o "$T/x.pem"
expect_err nouser 1 "HTTP 401"
pass "refused credentials: exit 1, server text, nothing written"

# --- draft dialect ---
run_est draft enroll "${S[@]}" "${AUTH[@]}" --dialect draft --key "$T/dr.key" --subject CN=draft \
  -o "$T/dr.pem"
expect_ok draft
grep -q '"POST /.well-known/est/simpleEnroll" 200' "$T/estd.log" || fail "draft path not used"
verifies "$T/dr.pem"
pass "enroll in the draft-04 dialect"

# --- /csrattrs: printed, and its curve and hash shape a new key ---
estd_stop
sed -i 's/^csrattrs =.*/csrattrs = 1.3.6.1.1.1.1.22, secp384r1, sha384/' "$DIR/estd.conf"
estd_start "$DIR"
S=(--server "https://127.0.0.1:$PORT" --trust "$CA")
run_est attrs csrattrs "${S[@]}" "${AUTH[@]}"
expect_ok attrs
grep -q '^1.3.6.1.1.1.1.22 ' "$T/attrs.out" || fail "macAddress not listed: $(cat "$T/attrs.out")"
grep -q '^1.3.132.0.34 secp384r1$' "$T/attrs.out" || fail "secp384r1 not listed"
grep -q '^2.16.840.1.101.3.4.2.2 SHA384$' "$T/attrs.out" || fail "sha384 not listed"
run_est wish enroll "${S[@]}" "${AUTH[@]}" --key "$T/w.key" --subject CN=wish \
  --mac-address 00:11:22:33:44:55 -o "$T/w.pem"
expect_ok wish
openssl pkey -in "$T/w.key" -noout -text | grep -q 'secp384r1' || fail "/csrattrs curve not followed"
pass "csrattrs listed; a new key follows its curve"

# --- proof-of-possession linking, required by the server ---
estd_stop
sed -i 's/^pop_linking = .*/pop_linking = required/; s/^csrattrs =.*/csrattrs =/' "$DIR/estd.conf"
estd_start "$DIR"
S=(--server "https://127.0.0.1:$PORT" --trust "$CA")
run_est nopop enroll "${S[@]}" "${AUTH[@]}" --no-csrattrs --key "$T/np.key" --subject CN=np -o "$T/np.pem"
expect_err nopop 1 "proof-of-possession linking is required"
for v in 1.2 1.3; do
  run_est "pop$v" enroll "${S[@]}" "${AUTH[@]}" --tls-max "$v" --key "$T/p$v.key" \
    --subject "CN=pop-$v" -o "$T/p$v.pem"
  expect_ok "pop$v"
  verifies "$T/p$v.pem"
done
run_est popflag enroll "${S[@]}" "${AUTH[@]}" --no-csrattrs --pop-link --http-auth digest \
  --key "$T/pf.key" --subject CN=pop-flag -o "$T/pf.pem"
expect_ok popflag
pass "PoP linking: tls-unique (TLS 1.2), tls-exporter (TLS 1.3), --pop-link with Digest"

# --- re-enroll with the TLS client certificate: renew, then rekey ---
run_est renew1 reenroll "${S[@]}" --cert "$T/b.pem" --key "$T/b.key" -o "$T/b2.pem"
expect_ok renew1
same_key "$T/b2.pem" "$T/b.key"
[ "$(openssl x509 -in "$T/b2.pem" -noout -subject -ext subjectAltName)" = \
  "$(openssl x509 -in "$T/b.pem" -noout -subject -ext subjectAltName)" ] || fail "renew changed names"
[ "$(openssl x509 -in "$T/b2.pem" -noout -serial)" != "$(openssl x509 -in "$T/b.pem" -noout -serial)" ] \
  || fail "renew returned the old certificate"
run_est renewd reenroll "${S[@]}" --dialect draft --cert "$T/b.pem" --key "$T/b.key" -o "$T/b2d.pem"
expect_ok renewd
grep -q '"POST /.well-known/est/simpleReEnroll" 200' "$T/estd.log" || fail "draft re-enroll path"
same_key "$T/b2d.pem" "$T/b.key"
run_est rekey reenroll "${S[@]}" --cert "$T/b.pem" --key "$T/b.key" --rekey "$T/b3.key" -o "$T/b3.pem"
expect_ok rekey
[ "$(mode_of "$T/b3.key")" = 600 ] || fail "rekey key mode"
same_key "$T/b3.pem" "$T/b3.key"
grep -q '"POST /.well-known/est/simplereenroll" 200 [0-9]* .* who=/CN=basic-device' "$T/estd.log" \
  || fail "re-enroll was not authenticated by the certificate"
pass "reenroll: renew (same key, same names) and rekey (new key 0600)"

# --- renew: not due (exit 2, untouched), due (replaced atomically) ---
cp "$T/b3.pem" "$T/r.pem"; cp "$T/b3.key" "$T/r.key"; chmod 600 "$T/r.key"
cp "$T/r.pem" "$T/r.pem.orig"; cp "$T/r.key" "$T/r.key.orig"
run_est notdue renew "${S[@]}" --cert "$T/r.pem" --key "$T/r.key" --days 30
[ "$RC" = 2 ] || fail "renew not due: exit $RC: $(cat "$T/notdue.err")"
cmp "$T/r.pem" "$T/r.pem.orig" && cmp "$T/r.key" "$T/r.key.orig" || fail "not due but files changed"
run_est due renew "${S[@]}" --cert "$T/r.pem" --key "$T/r.key" --days 400
expect_ok due
! cmp -s "$T/r.key" "$T/r.key.orig" || fail "renew kept the old key"
[ "$(mode_of "$T/r.key")" = 600 ] || fail "renewed key mode $(mode_of "$T/r.key")"
same_key "$T/r.pem" "$T/r.key"
verifies "$T/r.pem"
ls "$T"/r.key.* "$T"/r.pem.* | grep -qv '\.orig$' && fail "temporary files left behind"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other.key" \
  -subj /CN=Other -days 2 -out "$T/other.pem" 2>/dev/null
cp "$T/r.pem" "$T/r.pem.orig"; cp "$T/r.key" "$T/r.key.orig"
run_est renewfail renew --server "https://127.0.0.1:$PORT" --trust "$T/other.pem" \
  --cert "$T/r.pem" --key "$T/r.key" --days 400
expect_err renewfail 1 "server certificate not trusted"
cmp "$T/r.pem" "$T/r.pem.orig" && cmp "$T/r.key" "$T/r.key.orig" || fail "a failed renew changed files"
run_est keep renew "${S[@]}" --cert "$T/r.pem" --key "$T/r.key" --days 400 --keep-key
expect_ok keep
cmp "$T/r.key" "$T/r.key.orig" || fail "--keep-key replaced the key"
same_key "$T/r.pem" "$T/r.key"
pass "renew: exit 2 when not due; when due a new key (0600) and certificate"

# --- server key generation, both dialects ---
for d in rfc7030 draft; do
  run_est "kg$d" serverkeygen "${S[@]}" "${AUTH[@]}" --dialect "$d" --subject "CN=kg-$d" \
    --key-out "$T/kg$d.key" -o "$T/kg$d.pem"
  expect_ok "kg$d"
  [ "$(mode_of "$T/kg$d.key")" = 600 ] || fail "server key mode"
  same_key "$T/kg$d.pem" "$T/kg$d.key"
  verifies "$T/kg$d.pem"
done
pass "serverkeygen: PKCS#8 key (0600) matching its certificate, both dialects"

# --- /fullcmc: enroll and revoke, or a clear "not offered" ---
run_est cmc fullcmc "${S[@]}" "${AUTH[@]}" --key "$T/c.key" --subject CN=cmc-device -o "$T/c.pem"
if grep -q 'HTTP 501\|HTTP 404' "$T/cmc.err"; then
  expect_err cmc 1 "/fullcmc not offered"
  [ ! -e "$T/c.key" ] || fail "a failed fullcmc wrote its key"
  pass "fullcmc: the server does not offer /fullcmc yet, reported in one line"
else
  expect_ok cmc
  same_key "$T/c.pem" "$T/c.key"
  verifies "$T/c.pem"
  run_est rev revoke "${S[@]}" --cert "$T/c.pem" --key "$T/c.key" --reason keyCompromise
  expect_ok rev
  serial=$(openssl x509 -in "$T/c.pem" -noout -serial | cut -d= -f2)
  "$ESTD" cert show "$DIR" "$serial" | grep -qi revoked || fail "revoke did not revoke"
  pass "fullcmc enroll and revoke"
fi
