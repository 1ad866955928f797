/* estd: certificates and CRLs signed elsewhere (see external_sign.h). */
#include <openssl/evp.h>
#include "external_sign.h"
#include "estkit/signer.h"

/* A signature is whole octets (RFC 5280 §4.1.1.3, §5.1.1.3). OpenSSL 3.0
 * sets a certificate's or CRL's signature only inside X509_sign() and
 * X509_CRL_sign(), which need the private key; X509_get0_signature() and
 * X509_CRL_get0_signature() hand out the object's own (mutable) member,
 * the one ASN1_item_sign_ctx() itself fills. */
static est_status signature_put(const ASN1_BIT_STRING *member, const uint8_t *sig, size_t len,
                                est_error *err)
{
    ASN1_BIT_STRING *bits = (ASN1_BIT_STRING *)member;

    if (!ASN1_BIT_STRING_set(bits, (unsigned char *)sig, (int)len))
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    return EST_OK;
}

est_status estd_cert_sign_external(X509 *cert, const X509_ALGOR *alg, estd_sign_fn sign,
                                   void *arg, est_error *err)
{
    const ASN1_BIT_STRING *signature = NULL;
    const X509_ALGOR *outer = NULL;
    uint8_t sig[ESTD_SIGNATURE_MAX], *tbs = NULL;
    size_t sig_len = 0;
    int len;
    est_status rc;

    X509_get0_signature(&signature, &outer, cert);
    if (!X509_ALGOR_copy((X509_ALGOR *)X509_get0_tbs_sigalg(cert), alg) ||
        !X509_ALGOR_copy((X509_ALGOR *)outer, alg))
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if ((len = i2d_re_X509_tbs(cert, &tbs)) <= 0)
        return est_error_set_openssl(err, EST_E_CA, "encoding the TBSCertificate");
    rc = sign(arg, tbs, (size_t)len, sig, &sig_len, err);
    OPENSSL_free(tbs);
    return rc != EST_OK ? rc : signature_put(signature, sig, sig_len, err);
}

/* The throwaway key signs with alg's scheme: PSS or the default. */
static int crl_sign_throwaway(X509_CRL *crl, EVP_PKEY *throwaway, const EVP_MD *md,
                              const X509_ALGOR *alg)
{
    EVP_MD_CTX *ctx;
    int ok;

    if (OBJ_obj2nid(alg->algorithm) != NID_rsassaPss)
        return X509_CRL_sign(crl, throwaway, md) > 0;
    ctx = est_rsa_pss_ctx_new(throwaway);
    ok = ctx != NULL && X509_CRL_sign_ctx(crl, ctx) > 0;
    EVP_MD_CTX_free(ctx);
    return ok;
}

est_status estd_crl_sign_external(X509_CRL *crl, EVP_PKEY *public_key, const EVP_MD *md,
                                  const X509_ALGOR *alg, estd_sign_fn sign, void *arg,
                                  est_error *err)
{
    const ASN1_BIT_STRING *signature = NULL;
    const X509_ALGOR *outer = NULL;
    int ec = EVP_PKEY_get_base_id(public_key) == EVP_PKEY_EC;
    EVP_PKEY *throwaway = ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                             : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    uint8_t sig[ESTD_SIGNATURE_MAX], *tbs = NULL;
    size_t sig_len = 0;
    int len;
    est_status rc = EST_E_CA;

    /* The algorithm follows the key type and md, not the key itself: this
     * sets both algorithm fields; the signature is then replaced. */
    if (throwaway == NULL || !crl_sign_throwaway(crl, throwaway, md, alg) ||
        (len = i2d_re_X509_CRL_tbs(crl, &tbs)) <= 0) {
        rc = est_error_set_openssl(err, rc, "preparing the CRL");
        goto out;
    }
    if ((rc = sign(arg, tbs, (size_t)len, sig, &sig_len, err)) != EST_OK)
        goto out;
    X509_CRL_get0_signature(crl, &signature, &outer);
    rc = signature_put(signature, sig, sig_len, err);
out:
    OPENSSL_free(tbs);
    EVP_PKEY_free(throwaway);
    return rc;
}
