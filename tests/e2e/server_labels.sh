#!/usr/bin/env bash
# Several CAs in one estd (the optional label segment), each with its own
# profile and policy, and third-party client certificates (a manufacturer's
# IDevID CA) accepted where, and only where, policy says so.
. "$E2E_LIB/server.sh"
estd_init
"$ESTD" init "$T/other" --ca-subject "CN=Second CA" >/dev/null
mkdir -m 700 "$DIR/ca-second"
cp -p "$T/other/ca/ca.pem" "$T/other/ca/ca.key" "$DIR/ca-second/"

# A manufacturer CA and a device certificate it issued (IDevID).
idevid_make "/CN=widget-42/serialNumber=42"

sed -i 's|^third_party_trust =.*|third_party_trust = idevid-ca.pem|' "$DIR/estd.conf"
cat >> "$DIR/estd.conf" <<'CONF'

[ca "second"]
cert = ca-second/ca.pem
key = ca-second/ca.key
chain =
extra =
validity_days = 30
enroll_auth = third-party
CONF
printf 'pw\n' | "$ESTD" user add "$DIR" u --password-stdin
estd_start "$DIR"

curl -sf --cacert "$DIR/ca/ca.pem" "$URL/second/cacerts" -o "$T/second.b64" || fail "/second/cacerts"
p7_to_pem "$T/second.b64" "$T/second.pem"
openssl x509 -in "$T/second.pem" -noout -subject | grep -q "Second CA" || fail "label serves the wrong CA"
curl -sf --cacert "$DIR/ca/ca.pem" "$URL/cacerts" -o "$T/first.b64"
p7_to_pem "$T/first.b64" "$T/first.pem"
openssl x509 -in "$T/first.pem" -noout -subject | grep -q "Second CA" && fail "default label serves the second CA"
pass "each label serves its own CA"

new_csr w /CN=widget-42
enroll() { # label-path curl-auth-args...
  local path=$1; shift
  curl -s --cacert "$DIR/ca/ca.pem" "$@" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/w.der" "$URL$path/simpleenroll" -o "$T/body" -w '%{http_code}'
}
code=$(enroll /second --cert "$T/idevid.pem" --key "$T/idevid.key")
[ "$code" = 200 ] || fail "IDevID enroll on /second: $code $(cat "$T/body")"
p7_to_pem "$T/body" "$T/w.pem"
openssl verify -CAfile "$T/second.pem" "$T/w.pem" >/dev/null || fail "not issued by the second CA"
days=$(( ( $(date -d "$(openssl x509 -in "$T/w.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) ) / 86400 ))
[ "$days" -le 30 ] || fail "label profile ignored: valid for $days days"
pass "third-party (IDevID) client certificate enrolls where policy allows; label profile applies"

code=$(enroll "" --cert "$T/idevid.pem" --key "$T/idevid.key")
[[ $code =~ ^40[13]$ ]] || fail "IDevID accepted on the default CA whose policy excludes it: $code"
code=$(enroll /second --user u:pw)
[[ $code =~ ^40[13]$ ]] || fail "password accepted on a label that wants third-party certificates: $code"
code=$(enroll /nosuch --user u:pw)
[ "$code" = 404 ] || fail "unknown label: $code"
pass "policies are per label"
estd_stop
