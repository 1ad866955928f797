/* estd: CA keys on a PKCS#11 token (HSM, smart card, TPM, SoftHSM).
 *
 * estd.conf names the key with an RFC 7512 URI, parsed by p11-kit:
 *   key = pkcs11:token=CA;object=ca-key;module-path=/usr/lib/.../libsofthsm2.so;pin-source=ca.pin
 * token/manufacturer/model/serial select the token, object (CKA_LABEL)
 * and/or id (CKA_ID) the private key; module-path the PKCS#11 module to
 * load; pin-source a file (mode 0600; "file:" prefix optional) holding the
 * user PIN, or pin-value the PIN itself (tests only: estd.conf is not a
 * secret store). The token signs; the key never leaves it. */
#ifndef ESTD_PKCS11_H
#define ESTD_PKCS11_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "estkit.h"

/* A PIN longer than this is refused (PKCS#11 tokens take far shorter). */
#define ESTD_P11_PIN_MAX 256

typedef struct estd_p11_key estd_p11_key;

int estd_key_is_pkcs11(const char *key);

/* Loads the module, finds the token, opens `sessions` sessions (one per
 * thread that signs), logs in, finds the one private key the URI names.
 * Wrong PIN, no token, no key or several keys: EST_E_CONFIG + why. */
est_status estd_p11_key_open(const char *uri, unsigned sessions, estd_p11_key **out,
                             est_error *err);
void estd_p11_key_free(estd_p11_key *key);
/* Generates a key pair of type (EC P-256/P-384, RSA) on the token under
 * the URI's object=/id=, for `estd init --generate-on-token`; refused when
 * the URI already names a private key. */
est_status estd_p11_key_generate(const char *uri, est_key_type type, est_error *err);

/* Signs data as `public_key`'s scheme does (est_key_digest): ECDSA over the
 * digest, the token's raw r||s returned as a DER ECDSA-Sig-Value
 * (RFC 3279 §2.2.3); RSA PKCS#1 v1.5 with CKM_SHA256/384/512_RSA_PKCS. sig
 * has room for cap bytes. On session index `session` (< sessions).
 * EST_E_UNAVAILABLE when the token fails (removed, device error). */
est_status estd_p11_sign(estd_p11_key *key, unsigned session, EVP_PKEY *public_key,
                         const uint8_t *data, size_t len, uint8_t *sig, size_t cap,
                         size_t *sig_len, est_error *err);

/* The key's public half, from the token's public key object with the same
 * label/id (`estd init` makes a CA certificate for it). */
est_status estd_p11_key_get1_public(estd_p11_key *key, EVP_PKEY **out, est_error *err);

/* An in-process est_signer for the token key uri (the administration
 * commands); public_key: the CA certificate's key, or NULL to read it from
 * the token. */
est_status estd_p11_signer_new(const char *uri, EVP_PKEY *public_key, est_signer **out,
                               est_error *err);

#endif
