/* Key types, key generation and the digest matched to a key.
 *
 * The types are the ones `estd init --key-type` and `est enroll --key-type`
 * offer (docs/design.md §5). Generation goes through OpenSSL's provider API only. */
#include <strings.h>
#include <openssl/evp.h>
#include "estkit/ca.h"

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
