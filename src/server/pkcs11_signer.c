/* estd: an in-process est_signer for a PKCS#11 token key, for the
 * administration commands (`estd crl`, `estd pending approve`); `estd
 * serve` reaches the token through its signer process instead. */
#include <stdlib.h>
#include "external_sign.h"
#include "keyproc_wire.h"
#include "pkcs11.h"
#include "estkit/signer.h"

typedef struct p11_signer {
    estd_p11_key *key;
    EVP_PKEY *public_key;
    X509_ALGOR *sig_alg;
    int pss; /* signature = pss: every signature RSASSA-PSS */
} p11_signer;

static est_status p11_sign_tbs(void *arg, const uint8_t *tbs, size_t len, uint8_t *sig,
                               size_t *sig_len, est_error *err)
{
    p11_signer *s = arg;

    return estd_p11_sign(s->key, 0, s->public_key, s->pss, tbs, len, sig, ESTD_SIGNATURE_MAX,
                         sig_len, err);
}

static est_status p11_sign_cert(void *impl, X509 *cert, const EVP_MD *md, est_error *err)
{
    (void)md; /* estd_p11_sign uses est_key_digest, as the seam does */
    return estd_cert_sign_external(cert, ((p11_signer *)impl)->sig_alg, p11_sign_tbs, impl, err);
}

static est_status p11_sign_crl(void *impl, X509_CRL *crl, const EVP_MD *md, est_error *err)
{
    p11_signer *s = impl;

    return estd_crl_sign_external(crl, s->public_key, md, s->sig_alg, p11_sign_tbs, s, err);
}

static est_status p11_sign_data(void *impl, const EVP_MD *md, const uint8_t *data, size_t len,
                                uint8_t **sig, size_t *sig_len, est_error *err)
{
    uint8_t buf[ESTD_SIGNATURE_MAX];
    est_status rc;

    (void)md;
    if ((rc = p11_sign_tbs(impl, data, len, buf, sig_len, err)) != EST_OK)
        return rc;
    if ((*sig = OPENSSL_memdup(buf, *sig_len)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    return EST_OK;
}

static EVP_PKEY *p11_get0_public_key(void *impl)
{
    return ((p11_signer *)impl)->public_key;
}

static void p11_free(void *impl)
{
    p11_signer *s = impl;

    if (s == NULL)
        return;
    estd_p11_key_free(s->key);
    EVP_PKEY_free(s->public_key);
    X509_ALGOR_free(s->sig_alg);
    free(s);
}

static const est_signer_ops p11_signer_ops = {
    .name = "pkcs11",
    .sign_cert = p11_sign_cert,
    .sign_crl = p11_sign_crl,
    .get0_public_key = p11_get0_public_key,
    .free = p11_free,
    .sign_data = p11_sign_data,
};

est_status estd_p11_signer_new(const char *uri, EVP_PKEY *public_key, int pss,
                               est_signer **out, est_error *err)
{
    p11_signer *s = calloc(1, sizeof *s);
    est_status rc = EST_E_NOMEM;

    *out = NULL;
    if (s == NULL)
        return est_error_set(err, rc, "out of memory");
    if ((rc = estd_p11_key_open(uri, 1, &s->key, err)) != EST_OK)
        goto out;
    if (public_key != NULL && EVP_PKEY_up_ref(public_key) == 1)
        s->public_key = public_key;
    else if ((rc = estd_p11_key_get1_public(s->key, &s->public_key, err)) != EST_OK)
        goto out;
    s->pss = pss;
    if ((rc = keyproc_sig_alg(s->public_key, pss, &s->sig_alg, err)) != EST_OK)
        goto out;
    /* est_signer_* verifies every signature with the public key: a token
     * key that is not the CA certificate's fails the first one. */
    *out = pss ? est_signer_new_pss(&p11_signer_ops, s) : est_signer_new(&p11_signer_ops, s);
    s = NULL;
    if (*out == NULL)
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
out:
    p11_free(s);
    return rc;
}
