/* Tests src/lib/signer.c: the signer seam and its in-process default. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "estkit/ca.h"
#include "estkit/key.h"
#include "estkit/signer.h"
#include "estkit/name.h"
#include "ca_fixture.h"
#include "unit_main.h"

/* An unsigned certificate to sign: the root's body, re-signed. */
static X509 *unsigned_cert(void)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509 *cert = NULL;

    assert_int_equal(est_ca_make_root(key, "CN=to sign", 10, &cert, NULL), EST_OK);
    EVP_PKEY_free(key);
    return cert;
}

static X509_CRL *unsigned_crl(void)
{
    X509_CRL *crl = X509_CRL_new();
    X509_NAME *name = NULL;

    assert_int_equal(est_name_parse("CN=crl", &name, NULL), EST_OK);
    assert_true(X509_CRL_set_version(crl, X509_CRL_VERSION_2));
    assert_true(X509_CRL_set_issuer_name(crl, name));
    X509_NAME_free(name);
    return crl;
}

static void key_signer_digest_follows_key(void **state)
{
    static const struct {
        est_key_type type;
        int sig_nid;
    } cases[] = {{EST_KEY_EC_P256, NID_ecdsa_with_SHA256},
                 {EST_KEY_EC_P384, NID_ecdsa_with_SHA384},
                 {EST_KEY_RSA_2048, NID_sha256WithRSAEncryption},
                 {EST_KEY_RSA_3072, NID_sha384WithRSAEncryption},
                 {EST_KEY_ED25519, NID_ED25519}};
    est_error err;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EVP_PKEY *key = ca_fixture_key(cases[i].type);
        est_signer *signer = est_signer_new_key(key);
        X509 *cert = unsigned_cert();
        X509_CRL *crl = unsigned_crl();

        assert_non_null(signer);
        assert_ptr_equal(est_signer_get0_public_key(signer), key);
        assert_int_equal(est_signer_sign_cert(signer, cert, &err), EST_OK);
        assert_int_equal(X509_get_signature_nid(cert), cases[i].sig_nid);
        assert_int_equal(X509_verify(cert, key), 1);
        assert_int_equal(est_signer_sign_crl(signer, crl, &err), EST_OK);
        assert_int_equal(X509_CRL_get_signature_nid(crl), cases[i].sig_nid);
        assert_int_equal(X509_CRL_verify(crl, key), 1);
        X509_CRL_free(crl);
        X509_free(cert);
        /* The signer holds its own reference. */
        EVP_PKEY_free(key);
        assert_non_null(est_signer_get0_public_key(signer));
        est_signer_free(signer);
    }
}

/* RFC 4055 §3.1 parameters, decoded from the AlgorithmIdentifier alone. */
static void assert_pss_params(const X509_ALGOR *alg)
{
    const ASN1_OBJECT *oid = NULL;
    const void *pval = NULL;
    int ptype = 0;
    const unsigned char *p;
    RSA_PSS_PARAMS *pss;
    X509_ALGOR *mgf_md;

    X509_ALGOR_get0(&oid, &ptype, &pval, alg);
    assert_int_equal(OBJ_obj2nid(oid), NID_rsassaPss);
    assert_int_equal(ptype, V_ASN1_SEQUENCE); /* parameters present, not absent */
    p = ((const ASN1_STRING *)pval)->data;
    pss = d2i_RSA_PSS_PARAMS(NULL, &p, ((const ASN1_STRING *)pval)->length);
    assert_non_null(pss);
    assert_non_null(pss->hashAlgorithm);
    assert_int_equal(OBJ_obj2nid(pss->hashAlgorithm->algorithm), NID_sha256);
    assert_non_null(pss->maskGenAlgorithm);
    assert_int_equal(OBJ_obj2nid(pss->maskGenAlgorithm->algorithm), NID_mgf1);
    p = pss->maskGenAlgorithm->parameter->value.sequence->data;
    mgf_md = d2i_X509_ALGOR(NULL, &p, pss->maskGenAlgorithm->parameter->value.sequence->length);
    assert_non_null(mgf_md);
    assert_int_equal(OBJ_obj2nid(mgf_md->algorithm), NID_sha256);
    assert_non_null(pss->saltLength);
    assert_int_equal(ASN1_INTEGER_get(pss->saltLength), EST_RSA_PSS_SALT_LEN);
    X509_ALGOR_free(mgf_md);
    RSA_PSS_PARAMS_free(pss);
}

/* Does sig verify over "x" with SHA-256, PSS or PKCS#1 v1.5? */
static int verifies(EVP_PKEY *key, int pss, const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA256", NULL, NULL, key, NULL) == 1 &&
             (!pss || est_rsa_pss_setup(pctx)) &&
             EVP_DigestVerify(ctx, sig, sig_len, (const uint8_t *)"x", 1) == 1;

    EVP_MD_CTX_free(ctx);
    return ok;
}

static void pss_signer_signs_certs_and_crls_with_rfc4055_params(void **state)
{
    static const est_key_type types[] = {EST_KEY_RSA_2048, EST_KEY_RSA_3072};
    est_error err;
    (void)state;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        EVP_PKEY *key = ca_fixture_key(types[i]);
        est_signer *signer = est_signer_new_key_pss(key);
        X509 *cert = unsigned_cert();
        X509_CRL *crl = unsigned_crl();
        const X509_ALGOR *alg = NULL, *crl_alg = NULL;
        X509_ALGOR *want = est_rsa_pss_algor(key);
        uint8_t *sig = NULL;
        size_t sig_len = 0;

        assert_non_null(signer);
        assert_int_equal(est_signer_sign_cert(signer, cert, &err), EST_OK);
        assert_int_equal(X509_verify(cert, key), 1);
        assert_int_equal(X509_get_signature_nid(cert), NID_rsassaPss);
        X509_get0_signature(NULL, &alg, cert);
        assert_pss_params(alg);
        assert_pss_params(X509_get0_tbs_sigalg(cert));
        assert_int_equal(X509_ALGOR_cmp(alg, want), 0);
        assert_int_equal(est_signer_sign_crl(signer, crl, &err), EST_OK);
        assert_int_equal(X509_CRL_verify(crl, key), 1);
        X509_CRL_get0_signature(crl, NULL, &crl_alg);
        assert_pss_params(crl_alg);
        /* CMS signatures (RFC 4056) are PSS too: PKCS#1 v1.5 verification
         * fails, PSS verification passes. */
        assert_true(est_signer_is_pss(signer));
        assert_int_equal(est_signer_sign_data(signer, (const uint8_t *)"x", 1, &sig, &sig_len,
                                              &err), EST_OK);
        assert_int_equal(verifies(key, 0, sig, sig_len), 0);
        assert_int_equal(verifies(key, 1, sig, sig_len), 1);
        OPENSSL_free(sig);
        X509_ALGOR_free(want);
        X509_CRL_free(crl);
        X509_free(cert);
        EVP_PKEY_free(key);
        est_signer_free(signer);
    }
}

static void pss_signer_refuses_non_rsa_keys(void **state)
{
    static const est_key_type types[] = {EST_KEY_EC_P256, EST_KEY_ED25519};
    (void)state;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        EVP_PKEY *key = ca_fixture_key(types[i]);

        assert_null(est_signer_new_key_pss(key));
        assert_false(est_signer_is_pss(NULL));
        assert_null(est_rsa_pss_algor(key));
        EVP_PKEY_free(key);
    }
    assert_null(est_signer_new_key_pss(NULL));
}

/* A backend behind the vtable: counts calls, can sign with the wrong key
 * or fail outright. */
typedef struct {
    EVP_PKEY *key;   /* the public key it claims */
    EVP_PKEY *signs; /* the key it actually signs with */
    int fail;
    int signed_count;
    int *freed;
} test_backend;

static est_status backend_sign_cert(void *impl, X509 *cert, const EVP_MD *md, est_error *err)
{
    test_backend *b = impl;
    if (b->fail)
        return est_error_set(err, EST_E_IO, "token removed");
    b->signed_count++;
    return X509_sign(cert, b->signs, md) > 0 ? EST_OK : EST_E_CA;
}

static est_status backend_sign_crl(void *impl, X509_CRL *crl, const EVP_MD *md, est_error *err)
{
    test_backend *b = impl;
    (void)err;
    b->signed_count++;
    return X509_CRL_sign(crl, b->signs, md) > 0 ? EST_OK : EST_E_CA;
}

static EVP_PKEY *backend_key(void *impl)
{
    return ((test_backend *)impl)->key;
}

static void backend_free(void *impl)
{
    test_backend *b = impl;
    (*b->freed)++;
}

static const est_signer_ops backend_ops = {
    .name = "test-token",
    .sign_cert = backend_sign_cert,
    .sign_crl = backend_sign_crl,
    .get0_public_key = backend_key,
    .free = backend_free,
};

static void custom_backend_is_called_and_freed_once(void **state)
{
    int freed = 0;
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P384);
    test_backend b = {key, key, 0, 0, &freed};
    est_signer *signer = est_signer_new(&backend_ops, &b);
    X509 *cert = unsigned_cert();
    X509_CRL *crl = unsigned_crl();
    est_error err;
    (void)state;

    assert_int_equal(est_signer_sign_cert(signer, cert, &err), EST_OK);
    assert_int_equal(est_signer_sign_crl(signer, crl, &err), EST_OK);
    assert_int_equal(b.signed_count, 2);
    /* The seam picks the digest: SHA-384 for a P-384 key. */
    assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA384);
    est_signer_free(signer);
    assert_int_equal(freed, 1);
    est_signer_free(NULL);
    X509_CRL_free(crl);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* A backend whose signature does not verify with its public key must not
 * get a certificate or CRL out. */
static void wrong_signature_is_caught(void **state)
{
    int freed = 0;
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256), *other = ca_fixture_key(EST_KEY_EC_P256);
    test_backend b = {key, other, 0, 0, &freed};
    est_signer *signer = est_signer_new(&backend_ops, &b);
    X509 *cert = unsigned_cert();
    X509_CRL *crl = unsigned_crl();
    est_error err;
    (void)state;

    assert_int_equal(est_signer_sign_cert(signer, cert, &err), EST_E_CA);
    assert_non_null(strstr(err.message, "test-token"));
    assert_int_equal(est_signer_sign_crl(signer, crl, &err), EST_E_CA);
    assert_non_null(strstr(err.message, "test-token"));
    est_signer_free(signer);
    X509_CRL_free(crl);
    X509_free(cert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void backend_error_keeps_code_and_names_signer(void **state)
{
    int freed = 0;
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    test_backend b = {key, key, 1, 0, &freed};
    est_signer *signer = est_signer_new(&backend_ops, &b);
    X509 *cert = unsigned_cert();
    est_error err;
    (void)state;

    assert_int_equal(est_signer_sign_cert(signer, cert, &err), EST_E_IO);
    assert_string_equal(err.message, "signer test-token: token removed");
    /* Without an error struct the code still comes back. */
    assert_int_equal(est_signer_sign_cert(signer, cert, NULL), EST_E_IO);
    est_signer_free(signer);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void incomplete_ops_are_refused_and_impl_released(void **state)
{
    int freed = 0;
    test_backend b = {NULL, NULL, 0, 0, &freed};
    est_signer_ops ops = backend_ops;
    X509 *cert = unsigned_cert();
    est_error err;
    (void)state;

    ops.sign_cert = NULL;
    assert_null(est_signer_new(&ops, &b));
    assert_int_equal(freed, 1);
    assert_null(est_signer_new(NULL, &b));
    assert_null(est_signer_new_key(NULL));
    assert_null(est_signer_get0_public_key(NULL));
    assert_int_equal(est_signer_sign_cert(NULL, cert, &err), EST_E_INTERNAL);
    assert_int_equal(est_signer_sign_crl(NULL, NULL, &err), EST_E_INTERNAL);
    X509_free(cert);
}

UNIT_MAIN(
    cmocka_unit_test(key_signer_digest_follows_key),
    cmocka_unit_test(pss_signer_signs_certs_and_crls_with_rfc4055_params),
    cmocka_unit_test(pss_signer_refuses_non_rsa_keys),
    cmocka_unit_test(custom_backend_is_called_and_freed_once),
    cmocka_unit_test(wrong_signature_is_caught),
    cmocka_unit_test(backend_error_keeps_code_and_names_signer),
    cmocka_unit_test(incomplete_ops_are_refused_and_impl_released))
