/* estkit: key types, key generation and PEM key files.
 *
 * The types are the ones `estd init --key-type` and `est enroll --key-type`
 * offer. Private keys are written PKCS#8 PEM, mode 0600, atomically
 * (est_file_write_atomic). */
#ifndef ESTKIT_KEY_H
#define ESTKIT_KEY_H

#include <openssl/evp.h>
#include "estkit/api.h"
#include "estkit/error.h"

typedef enum est_key_type {
    EST_KEY_EC_P256 = 0,
    EST_KEY_EC_P384,
    EST_KEY_RSA_2048,
    EST_KEY_RSA_3072,
    EST_KEY_RSA_4096,
    EST_KEY_ED25519,
} est_key_type;

/* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519". */
EST_API est_status est_key_type_parse(const char *name, est_key_type *out, est_error *err);
/* The name est_key_type_parse accepts for type (static; "unknown" for none). */
EST_API const char *est_key_type_name(est_key_type type);
/* A fresh key of type; *out is the caller's (EVP_PKEY_free). */
EST_API est_status est_key_generate(est_key_type type, EVP_PKEY **out, est_error *err);
/* The signature digest matched to a key: SHA-256 for P-256/RSA < 3072,
 * SHA-384 for P-384/RSA >= 3072, NULL for Ed25519. */
EST_API const EVP_MD *est_key_digest(const EVP_PKEY *key);

/* Writes key as unencrypted PKCS#8 PEM, mode 0600, atomically. */
EST_API est_status est_key_write_file(const char *path, EVP_PKEY *key, est_error *err);
/* Reads a PEM private key (PKCS#8 or traditional); *key: EVP_PKEY_free. */
EST_API est_status est_key_read_file(const char *path, EVP_PKEY **key, est_error *err);
/* est_key_read_file through est_file_read_secret; passphrase (NULL = none)
 * decrypts an encrypted PKCS#8 PEM. */
EST_API est_status est_key_read_private(const char *path, const char *passphrase, EVP_PKEY **key,
                                        est_error *err);
/* est_key_write_file, encrypted PKCS#8 when passphrase is non-NULL. */
EST_API est_status est_key_write_private(const char *path, EVP_PKEY *key, const char *passphrase,
                                         est_error *err);

#endif
