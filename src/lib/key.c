/* Key types, key generation and the digest matched to a key.
 *
 * The types are the ones `estd init --key-type` and `est enroll --key-type`
 * offer (docs/design.md §5). Generation goes through OpenSSL's provider API only. */
#include <strings.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "estkit/key.h"
#include "estkit/file.h"

/* A PKCS#8 PEM RSA-4096 key is ~3.3 KiB; anything near this is not a key. */
#define EST_KEY_FILE_MAX 65536

static const struct {
    est_key_type type;
    const char *name;
} key_types[] = {
    {EST_KEY_EC_P256, "ec-p256"},   {EST_KEY_EC_P384, "ec-p384"},
    {EST_KEY_RSA_2048, "rsa-2048"}, {EST_KEY_RSA_3072, "rsa-3072"},
    {EST_KEY_RSA_4096, "rsa-4096"}, {EST_KEY_ED25519, "ed25519"},
};

est_status est_key_type_parse(const char *name, est_key_type *out, est_error *err)
{
    if (name == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "key type: NULL argument");
    for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++) {
        if (strcasecmp(name, key_types[i].name) == 0) {
            *out = key_types[i].type;
            return EST_OK;
        }
    }
    return est_error_set(err, EST_E_INPUT,
                         "unknown key type '%.64s' (ec-p256, ec-p384, rsa-2048, rsa-3072, "
                         "rsa-4096, ed25519)",
                         name);
}

const char *est_key_type_name(est_key_type type)
{
    for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++) {
        if (key_types[i].type == type)
            return key_types[i].name;
    }
    return "unknown";
}

est_status est_key_generate(est_key_type type, EVP_PKEY **out, est_error *err)
{
    EVP_PKEY *key = NULL;

    if (out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "key generate: NULL argument");
    *out = NULL;
    switch (type) {
    case EST_KEY_EC_P256: key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
    case EST_KEY_EC_P384: key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
    case EST_KEY_RSA_2048: key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
    case EST_KEY_RSA_3072: key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072); break;
    case EST_KEY_RSA_4096: key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096); break;
    case EST_KEY_ED25519: key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
    default: return est_error_set(err, EST_E_INPUT, "unknown key type %d", (int)type);
    }
    if (key == NULL)
        return est_error_set_openssl(err, EST_E_CA, "generating a %s key",
                                     est_key_type_name(type));
    *out = key;
    return EST_OK;
}

/* NIST SP 800-57 strength pairing: a 256-bit curve or RSA below 3072 bits
 * is ~128-bit strength (SHA-256); P-384 or RSA 3072+ gets SHA-384; P-521
 * SHA-512. EdDSA signs the message itself (RFC 8410 §6: no digest). */
const EVP_MD *est_key_digest(const EVP_PKEY *key)
{
    int bits;

    if (key == NULL)
        return NULL;
    bits = EVP_PKEY_get_bits(key);
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
        return NULL;
    case EVP_PKEY_EC:
        if (bits > 384)
            return EVP_sha512();
        return bits > 256 ? EVP_sha384() : EVP_sha256();
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        return bits >= 3072 ? EVP_sha384() : EVP_sha256();
    default:
        return EVP_sha256();
    }
}

/* --- PEM key files --- */

/* Never prompts: a passphrase-protected key without a passphrase is an
 * error, not a tty read. u is the passphrase (NUL-terminated) or NULL. */
static int passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    size_t n;

    (void)rwflag;
    if (u == NULL || size <= 0)
        return -1;
    n = strlen(u);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, u, n);
    return (int)n;
}

est_status est_key_write_private(const char *path, EVP_PKEY *key, const char *passphrase,
                                est_error *err)
{
    BIO *bio = NULL;
    BUF_MEM *mem = NULL;
    est_status rc = EST_E_INTERNAL;
    int ok;

    if (path == NULL || key == NULL)
        return est_error_set(err, EST_E_INTERNAL, "write key: NULL argument");
    /* A secure-memory BIO cleanses on growth and on free. */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "%s: BIO", path);
        goto out;
    }
    /* Encrypted: PKCS#8 with PBES2 (scrypt-free, AES-256-CBC, PBKDF2), what
     * `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes and any tool reads. */
    if (passphrase != NULL)
        ok = PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), passphrase,
                                           (int)strlen(passphrase), NULL, NULL);
    else
        ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    if (ok != 1) {
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "%s: encoding the key", path);
        goto out;
    }
    BIO_get_mem_ptr(bio, &mem);
    rc = est_file_write_atomic(path, mem->data, mem->length, 0600, err);
out:
    BIO_free(bio);
    return rc;
}

est_status est_key_write_file(const char *path, EVP_PKEY *key, est_error *err)
{
    return est_key_write_private(path, key, NULL, err);
}

static est_status key_parse(const char *path, const uint8_t *data, size_t len,
                            const char *passphrase, EVP_PKEY **key, est_error *err)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    est_status rc = EST_OK;

    if (bio == NULL)
        return est_error_set_openssl(err, EST_E_NOMEM, "%s: BIO", path);
    /* PKCS#8 first (encrypted PKCS#8 with a passphrase), but traditional
     * "EC/RSA PRIVATE KEY" files are accepted. */
    *key = PEM_read_bio_PrivateKey_ex(bio, NULL, passphrase_cb, (void *)passphrase, NULL, NULL);
    if (*key == NULL) {
        int encrypted = strstr((const char *)data, "ENCRYPTED") != NULL;
        rc = est_error_set_openssl(
            err, EST_E_INPUT, "%s: %s", path,
            !encrypted ? "no usable private key"
            : passphrase == NULL ? "the key is encrypted and no passphrase is configured"
                                 : "cannot decrypt the key (wrong passphrase?)");
    }
    BIO_free(bio);
    return rc;
}

/* Reads path (through est_file_read_secret when secret) and parses the key. */
static est_status key_read(const char *path, int secret, const char *passphrase, EVP_PKEY **key,
                           est_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    est_status rc;

    if (path == NULL || key == NULL)
        return est_error_set(err, EST_E_INTERNAL, "read key: NULL argument");
    *key = NULL;
    rc = secret ? est_file_read_secret(path, EST_KEY_FILE_MAX, &data, &len, err)
                : est_file_read(path, EST_KEY_FILE_MAX, &data, &len, err);
    if (rc == EST_OK)
        rc = key_parse(path, data, len, passphrase, key, err);
    OPENSSL_clear_free(data, len + 1);
    return rc;
}

est_status est_key_read_file(const char *path, EVP_PKEY **key, est_error *err)
{
    return key_read(path, 0, NULL, key, err);
}

est_status est_key_read_private(const char *path, const char *passphrase, EVP_PKEY **key,
                                est_error *err)
{
    return key_read(path, 1, passphrase, key, err);
}
