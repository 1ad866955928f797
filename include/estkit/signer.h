/* estkit: the signer seam, where a CA private key lives.
 *
 * In-process key by default; a key-holding process or a PKCS#11 token
 * plugs in through est_signer_ops. Every signature made through the seam is
 * verified with the signer's public key before it is used. */
#ifndef ESTKIT_SIGNER_H
#define ESTKIT_SIGNER_H

#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/error.h"

typedef struct est_signer_ops {
    const char *name;
    est_status (*sign_cert)(void *impl, X509 *cert, const EVP_MD *md, est_error *err);
    est_status (*sign_crl)(void *impl, X509_CRL *crl, const EVP_MD *md, est_error *err);
    EVP_PKEY *(*get0_public_key)(void *impl);
    void (*free)(void *impl);
    /* Optional: signs data (md NULL = the key's own scheme, Ed25519) for
     * CMS SignerInfos (CMC responses, key packages). *sig allocated with
     * OPENSSL_malloc (the seam frees it with est_free). A signer without it
     * cannot sign CMS. */
    est_status (*sign_data)(void *impl, const EVP_MD *md, const uint8_t *data, size_t len,
                            uint8_t **sig, size_t *sig_len, est_error *err);
} est_signer_ops;

typedef struct est_signer est_signer;
/* A signer over a backend: ops (static) and its impl, owned from here on
 * (ops->free releases it). NULL on allocation failure (impl released). */
EST_API est_signer *est_signer_new(const est_signer_ops *ops, void *impl);
/* The default: the private key in this process (takes a reference). */
EST_API est_signer *est_signer_new_key(EVP_PKEY *key);
/* The same with RSASSA-PSS signatures (RFC 4055: SHA-256, MGF1-SHA-256,
 * salt EST_RSA_PSS_SALT_LEN) on certificates, CRLs and CMS (RFC 4056);
 * NULL for a non-RSA key. */
EST_API est_signer *est_signer_new_key_pss(EVP_PKEY *key);
/* est_signer_new for a backend whose every signature is RSASSA-PSS with
 * those parameters: the seam verifies sign_data so, and CMS SignerInfos
 * name rsassaPss. NULL (impl released) unless the public key is RSA. */
EST_API est_signer *est_signer_new_pss(const est_signer_ops *ops, void *impl);
/* 1 when signer's signatures are RSASSA-PSS, else 0. */
EST_API int est_signer_is_pss(const est_signer *signer);
#define EST_RSA_PSS_SALT_LEN 32
/* Sets pctx (an RSA signing context) to those PSS parameters; 1 on success. */
EST_API int est_rsa_pss_setup(EVP_PKEY_CTX *pctx);
/* A SHA-256 digest-sign context for RSA key with the PSS parameters
 * (EVP_MD_CTX_free), or NULL. */
EST_API EVP_MD_CTX *est_rsa_pss_ctx_new(EVP_PKEY *key);
/* The rsassaPss AlgorithmIdentifier those signatures carry (X509_ALGOR_free),
 * or NULL. */
EST_API X509_ALGOR *est_rsa_pss_algor(EVP_PKEY *key);
/* Releases the backend (ops->free); NULL ok. */
EST_API void est_signer_free(est_signer *signer);
/* The signer's public key, borrowed. */
EST_API EVP_PKEY *est_signer_get0_public_key(est_signer *signer);
/* Signs cert with the digest est_key_digest picks, then verifies it. */
EST_API est_status est_signer_sign_cert(est_signer *signer, X509 *cert, est_error *err);
/* Signs crl with the digest est_key_digest picks, then verifies it. */
EST_API est_status est_signer_sign_crl(est_signer *signer, X509_CRL *crl, est_error *err);
/* Signs data with the digest est_key_digest picks (none for Ed25519) and
 * verifies the signature before returning it. EST_E_UNSUPPORTED when the
 * backend has no sign_data. *sig: est_free. */
EST_API est_status est_signer_sign_data(est_signer *signer, const uint8_t *data, size_t len,
                                        uint8_t **sig, size_t *sig_len, est_error *err);

#endif
