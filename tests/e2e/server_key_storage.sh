#!/usr/bin/env bash
# Key hygiene (issue #14): the CA key as an encrypted PKCS#8 PEM, its
# passphrase from a 0600 file or a systemd credential ($CREDENTIALS_DIRECTORY);
# estd serve refuses, with one line naming the file and the chmod, a CA key,
# TLS key, passphrase file, kek_file or state directory that group/others
# may read; a wrong or missing passphrase is one line; `estd ca rollover`
# keeps the new key (and the backup of the old one) encrypted.
. "$E2E_LIB/server.sh"
estd_init estuser 'estpwd'

# serve_refuses PATTERN: estd serve exits 1 at start with one line matching PATTERN.
serve_refuses() {
  expect_status 1 "$ESTD" serve "$DIR" --listen "127.0.0.1:$(free_port)"
  one_line_error "^estd: serve: $1"
}

# --- modes --------------------------------------------------------------------------
chmod 644 "$DIR/ca/ca.key"
serve_refuses ".*/ca/ca.key: mode 0644 lets group or others read it; chmod 600 .*/ca/ca.key$"
chmod 600 "$DIR/ca/ca.key"
chmod 640 "$DIR/tls/server.key"
serve_refuses ".*/tls/server.key: mode 0640 .*chmod 600 .*/tls/server.key$"
chmod 600 "$DIR/tls/server.key"
chmod 755 "$DIR"
serve_refuses "$DIR: mode 0755 lets group or others in .*; chmod 700 $DIR$"
chmod 700 "$DIR"
printf '00112233 000102030405060708090a0b0c0d0e0f\n' >"$DIR/kek.txt"
chmod 604 "$DIR/kek.txt"
sed -i 's/^kek_file =.*/kek_file = kek.txt/' "$DIR/estd.conf"
serve_refuses "kek_file: .*/kek.txt: mode 0604 .*chmod 600"
chmod 600 "$DIR/kek.txt"
printf '00112233 0001\n' >"$DIR/kek.txt"
serve_refuses "kek_file:1: the key is not 16, 24 or 32 bytes of hex$"
sed -i 's/^kek_file =.*/kek_file =/' "$DIR/estd.conf"
pass "loose modes on the CA key, TLS key, kek_file and DIR refused at start, naming the chmod"

# --- an encrypted CA key ------------------------------------------------------------
openssl x509 -in "$DIR/ca/ca.pem" -noout -pubkey >"$T/ca.pub"
printf 'correct horse battery staple\n' >"$T/pass"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$DIR/ca/ca.key" -passout file:"$T/pass" -out "$T/enc.key"
cp "$T/enc.key" "$DIR/ca/ca.key"
grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$DIR/ca/ca.key" || fail "openssl did not encrypt the key"
serve_refuses ".*/ca/ca.key: the key is encrypted and no passphrase is configured"
cp "$T/pass" "$DIR/ca.pass"; chmod 644 "$DIR/ca.pass"
sed -i 's|^key = ca/ca.key|key = ca/ca.key\nkey_passphrase_file = ca.pass|' "$DIR/estd.conf"
serve_refuses ".*/ca.pass: mode 0644 lets group or others read it; chmod 600 .*/ca.pass$"
printf 'wrong\n' >"$DIR/ca.pass"; chmod 600 "$DIR/ca.pass"
serve_refuses ".*/ca/ca.key: cannot decrypt the key \(wrong passphrase\?\)"
cp "$T/pass" "$DIR/ca.pass"
estd_start "$DIR"
enroll e1 /CN=enc-1 estuser estpwd
openssl verify -CAfile "$DIR/ca/ca.pem" "$T/e1.pem" >/dev/null || fail "issued by the encrypted key"
estd_stop
pass "encrypted PKCS#8 CA key with key_passphrase_file: refused without, with a wrong one; issues"

# --- a systemd credential -----------------------------------------------------------
sed -i 's|^key_passphrase_file = ca.pass|key_passphrase_credential = ca-pass|' "$DIR/estd.conf"
serve_refuses "key_passphrase_credential = ca-pass, but \\\$CREDENTIALS_DIRECTORY is not set"
mkdir -m 700 "$T/creds"; cp "$T/pass" "$T/creds/ca-pass"; chmod 400 "$T/creds/ca-pass"
export CREDENTIALS_DIRECTORY=$T/creds
estd_start "$DIR"
enroll e2 /CN=enc-2 estuser estpwd
estd_stop
pass "key_passphrase_credential read from \$CREDENTIALS_DIRECTORY"

# --- rollover keeps the key encrypted -----------------------------------------------
"$ESTD" ca rollover "$DIR" >/dev/null 2>"$T/err" || fail "rollover: $(cat "$T/err")"
grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$DIR/ca/ca.key" || fail "rollover wrote the new key in clear"
for old in "$DIR"/ca/ca-old-*.key; do
  grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$old" || fail "rollover backed up the old key in clear"
done
openssl pkey -in "$DIR/ca/ca.key" -passin file:"$T/pass" -pubout >"$T/new.pub" || fail "new key"
cmp -s "$T/new.pub" "$T/ca.pub" && fail "rollover kept the old key"
estd_start "$DIR"
enroll e3 /CN=enc-3 estuser estpwd
estd_stop
pass "ca rollover writes the new key and the old key's backup encrypted with the passphrase"
