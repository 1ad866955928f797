# http_listen: estd serves each CA's certificate and a CRL it makes itself
# over plain HTTP; issued certificates carry crl_url and ca_issuers_url;
# `openssl verify -crl_download` follows the distribution point to estd;
# a revocation (by `estd revoke`, another process) reaches the served CRL
# without a restart; an unchanged CRL is not signed again.
. "$E2E_LIB/server.sh"
estd_init alice 'secret'
HP=$(free_port)
H="http://127.0.0.1:$HP"
sed -i "s|^http_listen =.*|http_listen = 127.0.0.1:$HP|; s|^crl_url =.*|crl_url = $H/ca.crl|; s|^ca_issuers_url =.*|ca_issuers_url = $H/ca.crt|" \
  "$DIR/estd.conf"
estd_start "$DIR"

# --- the CA certificate, DER, application/pkix-cert ---
curl -sf -D "$T/h" -o "$T/ca.der" "$H/ca.crt" || fail "GET /ca.crt"
grep -qi '^Content-Type: application/pkix-cert' "$T/h" || fail "ca.crt type: $(cat "$T/h")"
cmp -s "$T/ca.der" <(openssl x509 -in "$CA" -outform DER) || fail "/ca.crt is not the CA certificate"

# --- the CRL: DER, signed by the CA, nextUpdate crl_days ahead ---
curl -sf -D "$T/h" -o "$T/crl1.der" "$H/ca.crl" || fail "GET /ca.crl"
grep -qi '^Content-Type: application/pkix-crl' "$T/h" || fail "ca.crl type: $(cat "$T/h")"
openssl crl -inform DER -in "$T/crl1.der" -CAfile "$CA" -noout 2>&1 | grep -q 'verify OK' ||
  fail "the CRL does not verify with the CA"
openssl crl -inform DER -in "$T/crl1.der" -noout -text | grep -q 'No Revoked Certificates' ||
  fail "a new CA's CRL lists revocations"
next=$(openssl crl -inform DER -in "$T/crl1.der" -noout -nextupdate | cut -d= -f2)
left=$(( $(date -d "$next" +%s) - $(date +%s) ))
[ "$left" -gt $((6 * 86400)) ] && [ "$left" -le $((7 * 86400)) ] || fail "nextUpdate in $left s, not crl_days = 7"
pass "http_listen: /ca.crt and a signed /ca.crl (nextUpdate in 7 days)"

# --- issued certificates point at them; openssl follows the CDP ---
enroll dev /CN=dev alice secret
openssl x509 -in "$T/dev.pem" -noout -ext crlDistributionPoints,authorityInfoAccess >"$T/ext"
grep -q "URI:$H/ca.crl" "$T/ext" || fail "no CRL distribution point: $(cat "$T/ext")"
grep -q "CA Issuers - URI:$H/ca.crt" "$T/ext" || fail "no AIA caIssuers: $(cat "$T/ext")"
openssl verify -CAfile "$CA" -crl_check -crl_download "$T/dev.pem" >"$T/v" 2>&1 ||
  fail "verify with the downloaded CRL: $(cat "$T/v")"
pass "issued certificate carries crl_url and ca_issuers_url; openssl verify -crl_download OK"

# --- unchanged: the same CRL; revoked by another process: published ---
curl -sf -o "$T/crl2.der" "$H/ca.crl"
cmp -s "$T/crl1.der" "$T/crl2.der" || fail "an unchanged CRL was made again"
"$ESTD" revoke "$DIR" "$(serial_of "$T/dev.pem")" --reason keyCompromise >/dev/null
for _ in $(seq 1 300); do
  curl -sf -o "$T/crl3.der" "$H/ca.crl"
  openssl crl -inform DER -in "$T/crl3.der" -noout -text | grep -q "$(serial_of "$T/dev.pem")" && break
  sleep 0.1
done
openssl crl -inform DER -in "$T/crl3.der" -noout -text | grep -q "$(serial_of "$T/dev.pem")" ||
  fail "the revocation did not reach the served CRL"
n1=$(openssl crl -inform DER -in "$T/crl1.der" -noout -crlnumber | cut -d= -f2)
n3=$(openssl crl -inform DER -in "$T/crl3.der" -noout -crlnumber | cut -d= -f2)
[ $((16#$n3)) -gt $((16#$n1)) ] || fail "CRL number did not grow ($n1 -> $n3)"
if openssl verify -CAfile "$CA" -crl_check -crl_download "$T/dev.pem" >"$T/v" 2>&1; then
  fail "a revoked certificate verifies"
fi
grep -q 'certificate revoked' "$T/v" || fail "verify: $(cat "$T/v")"
pass "revocation published without a restart (CRL number $n1 -> $n3); verify says revoked"

# --- anything else: 404; not GET: 405 ---
[ "$(curl -s -o /dev/null -w '%{http_code}' "$H/nope/ca.crl")" = 404 ] || fail "unknown label not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$H/")" = 404 ] || fail "/ not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$H/ca.crl")" = 405 ] || fail "POST not 405"
pass "other paths 404, other methods 405"
estd_stop
