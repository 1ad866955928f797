/* estkit: private keys the server generates (/serverkeygen, draft-04 §4.4,
 * RFC 7030 §4.4).
 *
 * Without extra encryption the key travels as PKCS#8 inside TLS. With it,
 * the key is an Asymmetric Key Package (RFC 5958 §2) in a SignedData signed
 * by the CA, in an EnvelopedData (RFC 5958 §4) for either a pre-shared key
 * named by the CSR's DecryptKeyIdentifier (RFC 4108 §2.2.5: a
 * KEKRecipientInfo with AES key wrap) or the certificate named by its
 * AsymmetricDecryptKeyIdentifier (RFC 7030 §4.4.1.2: key transport or key
 * agreement to that certificate). */
#ifndef ESTKIT_KEY_PACKAGE_H
#define ESTKIT_KEY_PACKAGE_H

#include <stdint.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/ca.h"
#include "estkit/error.h"

#define EST_KEY_PACKAGE_MAX_DER (64 * 1024) /* an enveloped key package */
#define EST_DECRYPT_KEY_ID_MAX 64            /* octets of a key identifier */

/* The CSR attributes that ask for an encrypted key. */
#define EST_OID_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.37"
#define EST_OID_ASYMMETRIC_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.54"

typedef enum est_decrypt_key_kind {
    EST_DECRYPT_KEY_SYMMETRIC = 0,  /* DecryptKeyIdentifier */
    EST_DECRYPT_KEY_ASYMMETRIC = 1, /* AsymmetricDecryptKeyIdentifier */
} est_decrypt_key_kind;

/* The identifier the CSR carries (an OCTET STRING; text strings are read
 * as their bytes), into out[0..cap). EST_E_NOT_FOUND when absent;
 * EST_E_INPUT when malformed, empty, longer than EST_DECRYPT_KEY_ID_MAX or
 * present more than once. */
EST_API est_status est_csr_get_decrypt_key_id(X509_REQ *csr, est_decrypt_key_kind kind,
                                              uint8_t *out, size_t cap, size_t *len,
                                              est_error *err);
/* Adds the attribute to an unsigned CSR (the client side; sign after). */
EST_API est_status est_csr_add_decrypt_key_id(X509_REQ *csr, est_decrypt_key_kind kind,
                                              const uint8_t *id, size_t len, est_error *err);

/* key as a DER PKCS#8 PrivateKeyInfo. *der is key material:
 * release it with est_key_der_free (cleanses, then est_free). */
EST_API est_status est_key_pkcs8_encode(EVP_PKEY *key, uint8_t **der, size_t *der_len,
                                        est_error *err);
EST_API void est_key_der_free(uint8_t *der, size_t len); /* cleanses, frees; NULL ok */

/* Whom the package is encrypted for: a pre-shared key (kek non-NULL) or
 * a certificate. */
typedef struct est_key_package_recipient {
    const uint8_t *kek;         /* 16, 24 or 32 octets (AES key wrap) */
    size_t kek_len;
    const uint8_t *kek_id;      /* the DecryptKeyIdentifier */
    size_t kek_id_len;
    X509 *cert;                 /* RSA (key transport) or EC (key agreement) */
} est_key_package_recipient;

/* Builds the EnvelopedData (AES-256-CBC content encryption) around a
 * SignedData (signed by the CA through its signer) around the Asymmetric
 * Key Package holding key. *der (ciphertext only): est_free. */
EST_API est_status est_key_package_build(est_ca *ca, EVP_PKEY *key,
                                         const est_key_package_recipient *to, uint8_t **der,
                                         size_t *der_len, est_error *err);

/* The client side: decrypts with the pre-shared key (as->kek) or with
 * recipient_key for as->cert, checks the signature (trust: the signer
 * must chain to it; NULL = integrity only) and returns the first key.
 * EST_E_AUTH when decryption or the signature fails. */
EST_API est_status est_key_package_open(const uint8_t *der, size_t der_len,
                                        const est_key_package_recipient *as,
                                        EVP_PKEY *recipient_key, X509_STORE *trust, EVP_PKEY **key,
                                        est_error *err);

#endif
