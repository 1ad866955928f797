#!/usr/bin/env bash
# Interop with the installed base (issue 11, part 1).
# - Every base64 body estd sends, in both dialects and for every operation
#   (multipart parts included), decodes with `openssl base64 -d` WITHOUT -A:
#   OpenSSL's base64 BIO as libest uses it, which reads nothing from one
#   long line. Lines are at most 64 characters.
# - base64_line_length = 0 and the no-User-Agent rule give one line
#   (strongSwan's pki, tested for real in server_strongswan).
# - est sends its CSR in lines (captured by a proxy), one line with
#   --base64-line 0.
# - est enroll succeeds when /csrattrs ends in a NUL byte (libest) or is
#   garbage, against a server that does not enforce attributes; garbage
#   gets one warning line.
. "$E2E_LIB/server.sh"
CMC=$(dirname "$ESTD")/tests/unit_lib_cmc
[ -x "$CMC" ] || fail "needs $CMC (build target unit_lib_cmc)"
estd_init u 'pw'
sed -i 's/^csrattrs =.*/csrattrs = secp384r1, sha384/; s/^serverkeygen = no/serverkeygen = yes/' \
  "$DIR/estd.conf"
estd_start "$DIR"

# wrapped FILE WHAT: base64 text (PEM armour allowed) in lines of at most 64
# characters that `openssl base64 -d` (no -A) turns into one DER object.
wrapped() {
  local f=$1 what=$2
  sed '/^-----/d' "$f" | tr -d '\r' > "$T/w.b64"
  [ -s "$T/w.b64" ] || fail "$what: empty body"
  awk 'length($0) > 64 { bad = 1 } END { exit bad }' "$T/w.b64" || fail "$what: a line over 64"
  [ "$(wc -l < "$T/w.b64")" -ge 1 ] || fail "$what: no line break"
  openssl base64 -d -in "$T/w.b64" -out "$T/w.der"
  [ -s "$T/w.der" ] || fail "$what: openssl base64 -d (no -A) decodes to nothing"
  openssl asn1parse -inform DER -in "$T/w.der" >/dev/null || fail "$what: decoded data is not DER"
}

# get PATH [CURL ARGS...]: body to $T/body, headers to $T/h.
get() {
  local path=$1; shift
  curl -sf --cacert "$CA" "$@" "$URL/$path" -D "$T/h" -o "$T/body" || fail "GET $path"
}
post() { # PATH FILE [CURL ARGS...] -> http code
  local path=$1 file=$2; shift 2
  curl -s --cacert "$CA" "$@" --data-binary @"$file" "$URL/$path" -D "$T/h" -o "$T/body" \
    -w '%{http_code}'
}

# Splits the multipart body $T/body into $T/part1, $T/part2 (bodies only).
parts() {
  python3 - "$T/body" "$T" <<'PY'
import re, sys
body = open(sys.argv[1], "rb").read()
b = re.search(rb"^--([^\r\n]+)\r?\n", body, re.M).group(1)
chunks = body.split(b"--" + b)[1:-1]
for i, c in enumerate(chunks, 1):
    head, _, rest = c.partition(b"\r\n\r\n")
    open("%s/part%d" % (sys.argv[2], i), "wb").write(rest.rstrip(b"\r\n"))
PY
}

new_csr e1 /CN=interop-1
base64 -w 64 "$T/e1.der" > "$T/e1.b64"
for dialect in rfc draft; do
  if [ $dialect = rfc ]; then ops=(cacerts csrattrs simpleenroll simplereenroll serverkeygen fullcmc)
  else ops=(CACerts CSRAttrs simpleEnroll simpleReEnroll serverKeyGen fullCMC); fi
  get "${ops[0]}"; wrapped "$T/body" "$dialect /cacerts"
  get "${ops[1]}" --user u:pw; wrapped "$T/body" "$dialect /csrattrs"
  [ "$(post "${ops[2]}" "$T/e1.b64" --user u:pw -H 'Content-Type: application/pkcs10')" = 200 ] \
    || fail "$dialect enroll: $(cat "$T/body")"
  wrapped "$T/body" "$dialect /simpleenroll"
  p7_to_pem "$T/body" "$T/e1-$dialect.pem"
  [ "$(post "${ops[3]}" "$T/e1.b64" --cert "$T/e1-$dialect.pem" --key "$T/e1.key" \
      -H 'Content-Type: application/pkcs10')" = 200 ] || fail "$dialect re-enroll: $(cat "$T/body")"
  wrapped "$T/body" "$dialect /simplereenroll"
  [ "$(post "${ops[4]}" "$T/e1.b64" --user u:pw -H 'Content-Type: application/pkcs10')" = 200 ] \
    || fail "$dialect serverkeygen: $(cat "$T/body")"
  parts
  wrapped "$T/part1" "$dialect /serverkeygen key part"
  wrapped "$T/part2" "$dialect /serverkeygen certificate part"
  new_csr c$dialect /CN=interop-cmc-$dialect
  "$CMC" enroll "$T/c$dialect.key" "$T/c$dialect.der" "$T/c$dialect.req" "$T/c$dialect.ids" \
    || fail "building a CMC request"
  base64 -w 64 "$T/c$dialect.req" > "$T/c$dialect.b64"
  [ "$(post "${ops[5]}" "$T/c$dialect.b64" --user u:pw -H 'Content-Type: application/pkcs7-mime')" \
      = 200 ] || fail "$dialect fullcmc: $(cat "$T/body")"
  wrapped "$T/body" "$dialect /fullcmc"
done
pass "every base64 body (both dialects, all operations, multipart parts) decodes with openssl base64 -d"

# RFC 7030 lines end in LF; the body ends with its last line's LF.
get cacerts
[ "$(tail -c 1 "$T/body" | od -An -c | tr -d ' ')" = '\n' ] || fail "last line not terminated"
grep -q $'\r' "$T/body" && fail "CR in an RFC 7030 body"
# No User-Agent (as strongSwan's pki): one line, nothing else.
get cacerts -H 'User-Agent:'
[ "$(wc -l < "$T/body")" = 0 ] || fail "no User-Agent: body not one unbroken line"
base64 -d "$T/body" | openssl pkcs7 -inform DER -noout || fail "unbroken body does not decode"
get csrattrs -H 'User-Agent:' --user u:pw
[ "$(wc -l < "$T/body")" = 0 ] || fail "no User-Agent: /csrattrs not one line"
[ "$(post simpleenroll "$T/e1.b64" -H 'User-Agent:' --user u:pw -H 'Content-Type: application/pkcs10')" \
    = 200 ] || fail "enroll without User-Agent: $(cat "$T/body")"
[ "$(wc -l < "$T/body")" = 0 ] || fail "no User-Agent: /simpleenroll not one line"
get CACerts -H 'User-Agent:'
grep -q '^-----BEGIN PKCS7-----$' "$T/body" || fail "draft PEM changed by the User-Agent rule"
pass "a client without User-Agent gets one unbroken line (RFC 7030)"
estd_stop

# The rule off: lines for everyone. base64_line_length = 0 in [server] and
# 76 in a labelled [ca].
printf '\n[ca "wide"]\ncert = ca/ca.pem\nkey = ca/ca.key\nbase64_line_length = 76\n' >> "$DIR/estd.conf"
sed -i 's/^base64_unbroken_without_user_agent = .*/base64_unbroken_without_user_agent = no/' \
  "$DIR/estd.conf"
estd_start "$DIR"
get cacerts -H 'User-Agent:'
[ "$(wc -l < "$T/body")" -ge 2 ] || fail "rule off: client without User-Agent still got one line"
get wide/cacerts
[ "$(head -1 "$T/body" | tr -d '\n' | wc -c)" = 76 ] || fail "[ca] base64_line_length = 76 ignored"
estd_stop
sed -i 's/^base64_line_length = 64/base64_line_length = 0/' "$DIR/estd.conf"
estd_start "$DIR"
get cacerts
[ "$(wc -l < "$T/body")" = 0 ] || fail "base64_line_length = 0 still wraps"
get wide/cacerts
[ "$(head -1 "$T/body" | tr -d '\n' | wc -c)" = 76 ] || fail "[ca] line length does not win"
pass "base64_line_length ([server] and [ca]) and the rule switched off"
estd_stop
sed -i 's/^base64_line_length = 0/base64_line_length = 63/' "$DIR/estd.conf"
expect_status 1 "$ESTD" serve "$DIR" --listen 127.0.0.1:1
one_line_error "estd.conf:[0-9]+: '63' is not 0 or a multiple of 4"
sed -i 's/^base64_line_length = 63/base64_line_length = 64/' "$DIR/estd.conf"
pass "a line length that splits base64 quanta is refused at start"

# --- est as the client, behind a proxy that records and rewrites ---------
estd_start "$DIR"
proxy() { # CSRATTRS_MODE -> PPORT, PROXY_PID
  rm -rf "$T/seen" "$T/pport"; mkdir -p "$T/seen"
  python3 "$E2E_LIB/est_proxy.py" "$T/pport" "$DIR/tls/server.pem" "$DIR/tls/server.key" \
    "127.0.0.1:$PORT" "$CA" "$T/seen" "$1" 2>>"$T/proxy.log" &
  PROXY_PID=$!
  for _ in $(seq 1 100); do [ -s "$T/pport" ] && break; sleep 0.05; done
  PPORT=$(cat "$T/pport")
}
proxy_stop() { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=; }
PROXY_PID=
trap '[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; cleanup' EXIT
est_enroll() { # NAME [EST ARGS...]
  local name=$1; shift
  printf 'pw\n' | "$EST" enroll --server "https://127.0.0.1:$PPORT" --trust "$CA" --user u \
    --password-stdin --http-auth basic --key "$T/$name.key" --subject "/CN=$name" -o "$T/$name.pem" "$@"
}

proxy pass
est_enroll est1 2>"$T/err" || fail "est enroll through the proxy: $(cat "$T/err")"
body=$(ls "$T"/seen/*-simpleenroll.body)
wrapped "$body" "est's CSR"
[ "$(wc -l < "$body")" -ge 2 ] || fail "est sent its CSR on one line"
est_enroll est2 --base64-line 0 2>"$T/err" || fail "est --base64-line 0: $(cat "$T/err")"
body=$(ls "$T"/seen/*-simpleenroll.body | tail -1)
[ "$(wc -l < "$body")" = 0 ] || fail "--base64-line 0 still wraps"
expect_status 1 est_enroll est3 --base64-line 80
one_line_error 'base64-line.*80'
proxy_stop
pass "est sends wrapped base64 (--base64-line 0: one line; 80 refused)"

# libest's /csrattrs: base64 of the attributes on one line, then a NUL
# byte (here estd's own attributes: secp384r1, sha384).
get csrattrs --user u:pw -H 'User-Agent:'
{ cat "$T/body"; printf '\0'; } > "$T/nul.attrs"
proxy "$T/nul.attrs"
est_enroll nul 2>"$T/err" || fail "est enroll, /csrattrs ending in NUL: $(cat "$T/err")"
[ -s "$T/err" ] && fail "a NUL-terminated /csrattrs is not worth a warning: $(cat "$T/err")"
openssl verify -CAfile "$CA" "$T/nul.pem" >/dev/null || fail "certificate does not verify"
openssl x509 -in "$T/nul.pem" -noout -text | grep -q 'P-384' || fail "the attributes were not used"
proxy_stop
printf 'this is not base64 at all\n' > "$T/junk.attrs"
proxy "$T/junk.attrs"
est_enroll junk 2>"$T/err" || fail "est enroll, garbage /csrattrs: $(cat "$T/err")"
one_line_error '^est: enroll: warning: .*csrattrs.*enrolling without CSR attributes'
openssl verify -CAfile "$CA" "$T/junk.pem" >/dev/null || fail "certificate does not verify"
proxy_stop
pass "est enrolls when /csrattrs ends in NUL (libest) or is garbage (one warning line)"
estd_stop
