/* The signer seam (docs/design.md §3): where the CA private key lives.
 *
 * A signer is a table of function pointers plus an opaque implementation.
 * The default keeps the key in this process; a key-holding process or a
 * PKCS#11 token plugs in behind the same table. Whatever the backend, the
 * digest is chosen here (est_key_digest) and every signature is verified
 * with the signer's public key before it is used: a faulty or compromised
 * backend must not get a bad certificate out of the door (and RSA-CRT
 * faults can leak the key through a wrong signature). */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "estkit/key.h"
#include "estkit/signer.h"

struct est_signer {
    const est_signer_ops *ops;
    void *impl;
    int pss; /* RSASSA-PSS signatures (est_signer_new_pss) */
};

/* On failure the implementation is released through ops->free, so callers
 * never need a second cleanup path. */
est_signer *est_signer_new(const est_signer_ops *ops, void *impl)
{
    est_signer *signer;

    if (ops == NULL || ops->sign_cert == NULL || ops->sign_crl == NULL ||
        ops->get0_public_key == NULL) {
        if (ops != NULL && ops->free != NULL)
            ops->free(impl);
        return NULL;
    }
    signer = OPENSSL_zalloc(sizeof *signer);
    if (signer == NULL) {
        if (ops->free != NULL)
            ops->free(impl);
        return NULL;
    }
    signer->ops = ops;
    signer->impl = impl;
    return signer;
}

est_signer *est_signer_new_pss(const est_signer_ops *ops, void *impl)
{
    est_signer *signer = est_signer_new(ops, impl);
    EVP_PKEY *key = est_signer_get0_public_key(signer);

    if (signer != NULL && (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)) {
        est_signer_free(signer);
        return NULL;
    }
    if (signer != NULL)
        signer->pss = 1;
    return signer;
}

int est_signer_is_pss(const est_signer *signer)
{
    return signer != NULL && signer->pss;
}

void est_signer_free(est_signer *signer)
{
    if (signer == NULL)
        return;
    if (signer->ops->free != NULL)
        signer->ops->free(signer->impl);
    OPENSSL_free(signer);
}

EVP_PKEY *est_signer_get0_public_key(est_signer *signer)
{
    return signer == NULL ? NULL : signer->ops->get0_public_key(signer->impl);
}

/* --- the default: a key in this process --- */

static est_status key_sign_cert(void *impl, X509 *cert, const EVP_MD *md, est_error *err)
{
    if (X509_sign(cert, impl, md) <= 0)
        return est_error_set_openssl(err, EST_E_CA, "signing the certificate");
    return EST_OK;
}

static est_status key_sign_crl(void *impl, X509_CRL *crl, const EVP_MD *md, est_error *err)
{
    if (X509_CRL_sign(crl, impl, md) <= 0)
        return est_error_set_openssl(err, EST_E_CA, "signing the CRL");
    return EST_OK;
}

/* Signs data with ctx (initialised for the key and scheme; NULL when that
 * failed) and frees ctx. *sig malloc'd. */
static est_status ctx_sign_data(EVP_MD_CTX *ctx, const uint8_t *data, size_t len, uint8_t **sig,
                                size_t *sig_len, est_error *err)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    est_status rc = EST_E_CA;

    if (ctx == NULL || EVP_DigestSign(ctx, NULL, &cap, data, len) != 1 ||
        (buf = OPENSSL_malloc(cap)) == NULL || EVP_DigestSign(ctx, buf, &cap, data, len) != 1) {
        est_error_set_openssl(err, rc, "signing data");
        OPENSSL_free(buf);
        goto out;
    }
    *sig = buf;
    *sig_len = cap;
    rc = EST_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

static est_status key_sign_data(void *impl, const EVP_MD *md, const uint8_t *data, size_t len,
                                uint8_t **sig, size_t *sig_len, est_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx != NULL && EVP_DigestSignInit_ex(ctx, NULL, md ? EVP_MD_get0_name(md) : NULL, NULL,
                                             NULL, impl, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx_sign_data(ctx, data, len, sig, sig_len, err);
}

static EVP_PKEY *key_get0_public_key(void *impl)
{
    return impl;
}

static void key_free(void *impl)
{
    EVP_PKEY_free(impl);
}

static const est_signer_ops key_signer_ops = {
    .name = "key",
    .sign_cert = key_sign_cert,
    .sign_crl = key_sign_crl,
    .get0_public_key = key_get0_public_key,
    .free = key_free,
    .sign_data = key_sign_data,
};

est_signer *est_signer_new_key(EVP_PKEY *key)
{
    if (key == NULL || EVP_PKEY_up_ref(key) != 1)
        return NULL;
    return est_signer_new(&key_signer_ops, key);
}

/* --- RSASSA-PSS (RFC 4055 §3.1): SHA-256, MGF1 with SHA-256, a 32-byte
 * salt; OpenSSL writes all three parameters into the AlgorithmIdentifier
 * (only trailerField = 1 is left to its DEFAULT). --- */

int est_rsa_pss_setup(EVP_PKEY_CTX *pctx)
{
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EST_RSA_PSS_SALT_LEN) > 0;
}

/* A digest-sign context for key with the PSS parameters (SHA-256). */
EVP_MD_CTX *est_rsa_pss_ctx_new(EVP_PKEY *key)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;

    if (ctx == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
        EVP_DigestSignInit_ex(ctx, &pctx, "SHA256", NULL, NULL, key, NULL) != 1 ||
        !est_rsa_pss_setup(pctx)) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

X509_ALGOR *est_rsa_pss_algor(EVP_PKEY *key)
{
    EVP_MD_CTX *ctx = est_rsa_pss_ctx_new(key);
    unsigned char der[128];
    const unsigned char *p = der;
    OSSL_PARAM params[2] = {OSSL_PARAM_END, OSSL_PARAM_END};
    X509_ALGOR *alg = NULL;

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, der,
                                                  sizeof der);
    if (ctx != NULL && EVP_PKEY_CTX_get_params(EVP_MD_CTX_get_pkey_ctx(ctx), params) == 1)
        alg = d2i_X509_ALGOR(NULL, &p, (long)params[0].return_size);
    EVP_MD_CTX_free(ctx);
    return alg;
}

static est_status pss_sign_cert(void *impl, X509 *cert, const EVP_MD *md, est_error *err)
{
    EVP_MD_CTX *ctx = est_rsa_pss_ctx_new(impl);
    int ok = ctx != NULL && X509_sign_ctx(cert, ctx) > 0;

    (void)md;
    EVP_MD_CTX_free(ctx);
    return ok ? EST_OK : est_error_set_openssl(err, EST_E_CA, "signing the certificate (PSS)");
}

static est_status pss_sign_crl(void *impl, X509_CRL *crl, const EVP_MD *md, est_error *err)
{
    EVP_MD_CTX *ctx = est_rsa_pss_ctx_new(impl);
    int ok = ctx != NULL && X509_CRL_sign_ctx(crl, ctx) > 0;

    (void)md;
    EVP_MD_CTX_free(ctx);
    return ok ? EST_OK : est_error_set_openssl(err, EST_E_CA, "signing the CRL (PSS)");
}

static est_status pss_sign_data(void *impl, const EVP_MD *md, const uint8_t *data, size_t len,
                                uint8_t **sig, size_t *sig_len, est_error *err)
{
    (void)md; /* SHA-256, the PSS hash */
    return ctx_sign_data(est_rsa_pss_ctx_new(impl), data, len, sig, sig_len, err);
}

static const est_signer_ops key_pss_signer_ops = {
    .name = "key-pss",
    .sign_cert = pss_sign_cert,
    .sign_crl = pss_sign_crl,
    .get0_public_key = key_get0_public_key,
    .free = key_free,
    .sign_data = pss_sign_data,
};

est_signer *est_signer_new_key_pss(EVP_PKEY *key)
{
    if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_up_ref(key) != 1)
        return NULL;
    return est_signer_new_pss(&key_pss_signer_ops, key);
}

/* --- signing through the seam --- */

static const char *signer_name(const est_signer *signer)
{
    return signer->ops->name != NULL ? signer->ops->name : "(unnamed)";
}

est_status est_signer_sign_cert(est_signer *signer, X509 *cert, est_error *err)
{
    EVP_PKEY *key = est_signer_get0_public_key(signer);
    est_status rc;

    if (key == NULL || cert == NULL)
        return est_error_set(err, EST_E_INTERNAL, "sign certificate: no signer or certificate");
    rc = signer->ops->sign_cert(signer->impl, cert, est_key_digest(key), err);
    if (rc != EST_OK) {
        est_error_prefix(err, rc, "signer %s", signer_name(signer));
        return rc;
    }
    /* Kept for every backend and key type, measured (issue #19,
     * docs/PERFORMANCE.md): ~55-66 us / 0.92 M instructions for P-256, as
     * much as the CSR check and a fifth of an in-process enrollment. It is
     * the one check that the bytes leaving the CA carry the CA key's
     * signature: a signer process or token answering with the wrong key or
     * garbage, RSA-CRT faults in tokens that do not check themselves, an
     * ECDSA fault (OpenSSL 3.0 checks its RSA-CRT result, not its ECDSA)
     * whose published signature can give away the nonce and so the key.
     * Sampling would let exactly the one-off faults through; a kept context
     * would save ~10 % of it (the scalar multiplication is the rest). */
    if (X509_verify(cert, key) != 1)
        return est_error_set_openssl(err, EST_E_CA,
                                     "signer %s: the certificate signature does not verify",
                                     signer_name(signer));
    return EST_OK;
}

est_status est_signer_sign_crl(est_signer *signer, X509_CRL *crl, est_error *err)
{
    EVP_PKEY *key = est_signer_get0_public_key(signer);
    est_status rc;

    if (key == NULL || crl == NULL)
        return est_error_set(err, EST_E_INTERNAL, "sign CRL: no signer or CRL");
    rc = signer->ops->sign_crl(signer->impl, crl, est_key_digest(key), err);
    if (rc != EST_OK) {
        est_error_prefix(err, rc, "signer %s", signer_name(signer));
        return rc;
    }
    if (X509_CRL_verify(crl, key) != 1)
        return est_error_set_openssl(err, EST_E_CA,
                                     "signer %s: the CRL signature does not verify",
                                     signer_name(signer));
    return EST_OK;
}

static int data_signature_verifies(EVP_PKEY *key, int pss, const EVP_MD *md,
                                   const uint8_t *data, size_t len, const uint8_t *sig,
                                   size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = ctx != NULL &&
             EVP_DigestVerifyInit_ex(ctx, &pctx, md ? EVP_MD_get0_name(md) : NULL, NULL, NULL,
                                     key, NULL) == 1 &&
             (!pss || est_rsa_pss_setup(pctx)) &&
             EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;

    EVP_MD_CTX_free(ctx);
    return ok;
}

est_status est_signer_sign_data(est_signer *signer, const uint8_t *data, size_t len, uint8_t **sig,
                                size_t *sig_len, est_error *err)
{
    EVP_PKEY *key = est_signer_get0_public_key(signer);
    const EVP_MD *md;
    uint8_t *out = NULL;
    size_t out_len = 0;
    est_status rc;

    if (key == NULL || data == NULL || sig == NULL || sig_len == NULL)
        return est_error_set(err, EST_E_INTERNAL, "sign data: no signer or data");
    if (signer->ops->sign_data == NULL)
        return est_error_set(err, EST_E_UNSUPPORTED, "signer %s cannot sign CMS content",
                             signer_name(signer));
    md = signer->pss ? EVP_sha256() : est_key_digest(key);
    rc = signer->ops->sign_data(signer->impl, md, data, len, &out, &out_len, err);
    if (rc != EST_OK) {
        est_error_prefix(err, rc, "signer %s", signer_name(signer));
        return rc;
    }
    if (!data_signature_verifies(key, signer->pss, md, data, len, out, out_len)) {
        OPENSSL_free(out);
        return est_error_set_openssl(err, EST_E_CA, "signer %s: the signature does not verify",
                                     signer_name(signer));
    }
    *sig = out;
    *sig_len = out_len;
    return EST_OK;
}
