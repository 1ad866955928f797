#!/usr/bin/env bash
# Oversized and abusive CSRs (issue #12) against a running estd, with curl:
# a CSR with a ~60 kB subject and one with 2,500 requested extensions
# (both were issued before) are refused with 400 and a one-line reason
# naming the limit, by /simpleenroll and /serverkeygen alike; the limits
# are estd.conf keys of the [ca] section (at the limit: issued, one past:
# refused; csr_key_types); `estd certs list` prints a certificate issued under a relaxed
# limit escaped and cut to the limit in force.
. "$E2E_LIB/server.sh"
DIR=$T/estd
"$ESTD" init "$DIR" --enable-serverkeygen >/dev/null
printf 'pw\n' | "$ESTD" user add "$DIR" dev --password-stdin
CA=$DIR/ca/ca.pem

post() { # FILE OPERATION -> http code; body in $T/body
  curl -s --cacert "$CA" --user dev:pw -H 'Content-Type: application/pkcs10' \
    --data-binary @"$1" "$URL/$2" -o "$T/body" -w '%{http_code}'
}
refused() { # FILE OPERATION REASON-ERE
  local code
  code=$(post "$1" "$2")
  [ "$code" = 400 ] || fail "$1 to /$2: $code, expected 400: $(head -c 300 "$T/body")"
  [ "$(wc -l <"$T/body")" = 1 ] && grep -Eq -- "$3" "$T/body" || fail "$1: reason '$(cat "$T/body")' !~ '$3'"
}
# csr_with_extensions N: $T/extN.der requesting N private extensions.
csr_with_extensions() {
  { printf '[req]\ndistinguished_name = dn\nreq_extensions = ext\nprompt = no\n[dn]\nCN = ext-%s\n[ext]\n' "$1"
    for i in $(seq 1 "$1"); do echo "1.3.6.1.4.1.99999.$i = ASN1:NULL"; done; } >"$T/ext$1.cnf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ext$1.key" \
    -config "$T/ext$1.cnf" -outform DER -out "$T/ext$1.der" 2>/dev/null
}
# A subject of 821 attributes, ~61 kB of DER: raw DER fits the 64 KiB body cap.
new_csr big "/CN=big$(python3 -c "print(''.join('/OU=%03d%s' % (i, 'x' * 61) for i in range(820)))")"
[ "$(stat -c %s "$T/big.der")" -gt 60000 ] || fail "big CSR is only $(stat -c %s "$T/big.der") bytes"
csr_with_extensions 2500
csr_with_extensions 2501
estd_start "$DIR"

refused "$T/big.der" simpleenroll '^CSR subject is 6[0-9]{4} bytes, limit csr_max_subject_bytes = 4096$'
refused "$T/ext2500.der" simpleenroll '^CSR requests 2500 extensions, limit csr_max_extensions = 32$'
refused "$T/big.der" serverkeygen 'limit csr_max_subject_bytes = 4096$'
refused "$T/ext2500.der" serverkeygen 'limit csr_max_extensions = 32$'
[ "$(store_count)" = 0 ] || fail "a refused CSR was issued"
new_csr ok /CN=ordinary -addext "subjectAltName=DNS:ok.example"
[ "$(post "$T/ok.der" simpleenroll)" = 200 ] || fail "an ordinary CSR was refused: $(cat "$T/body")"
estd_alive
pass "60 kB subject and 2,500 extensions refused (400 naming the limit); ordinary CSR issued"

# At the limit and one past, end to end: the limits are [ca] keys.
estd_stop
# A second [ca] header continues the default CA's section.
cat >>"$DIR/estd.conf" <<'CONF'
[ca]
csr_max_extensions = 2500
csr_max_subject_bytes = 65536
csr_max_subject_rdns = 1000
csr_max_bytes = 65536
csr_key_types = ec-p256, ec-p384
CONF
estd_start "$DIR"
[ "$(post "$T/ext2500.der" simpleenroll)" = 200 ] || fail "2,500 extensions at the limit: $(cat "$T/body")"
refused "$T/ext2501.der" simpleenroll '^CSR requests 2501 extensions, limit csr_max_extensions = 2500$'
[ "$(post "$T/big.der" simpleenroll)" = 200 ] || fail "big subject under a relaxed limit: $(cat "$T/body")"
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj /CN=rsa -outform DER -out "$T/rsa.der" 2>/dev/null
refused "$T/rsa.der" simpleenroll "^RSA keys not in this CA's csr_key_types$"
pass "csr_max_extensions = 2500: 2,500 issued, 2,501 refused; csr_key_types refuses RSA"
estd_stop

# `estd certs list` under the default limit again: the big subject's line
# is cut to csr_max_subject_bytes (4096) and ends with "...".
sed -i '/^csr_max_/d' "$DIR/estd.conf"
"$ESTD" certs list "$DIR" >"$T/list"
[ "$(wc -l <"$T/list")" = 3 ] || fail "certs list: $(wc -l <"$T/list") lines"
big_line=$(grep 'OU=819x' "$T/list") || fail "big certificate not listed"
[ "${#big_line}" -lt 4200 ] && [ "${big_line%...}" != "$big_line" ] || fail "big subject not cut: ${#big_line} characters"
LC_ALL=C grep -q $'[\x01-\x1f\x7f]' "$T/list" && fail "control bytes in certs list"
pass "certs list cuts and escapes subjects"
