/* Tests src/server/keyproc_wire.c: what the signer process accepts. A
 * TBSCertificate this CA would sign passes; one with trailing bytes, not
 * DER, from another issuer or with another signature algorithm does not;
 * KEYPROC_REQUEST_MAX at the limit (checked, refused as malformed) and one
 * past (refused as too large); bad version, operation, key index; CMS
 * signedAttrs with and without messageDigest; a TBSCertList of this CA
 * (and not of another issuer or algorithm, nor as a TBSCertificate); with
 * signature = pss, an RSASSA-PSS TBSCertificate and TBSCertList of this CA
 * and not their PKCS#1 v1.5 twins, and pss refused for an EC key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include "ca_fixture.h"
#include "keyproc_wire.h"
#include "estkit/csr.h"
#include "estkit/issue.h"
#include "estkit/crl.h"
#include "unit_main.h"

typedef struct fixture {
    est_ca *ca, *other_issuer, *other_alg;
    keyproc_key key;
    EVP_PKEY *device;
    X509_REQ *csr;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    est_error err;

    f->ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Wire CA", 30, &f->key.cert, &f->key.key);
    f->other_issuer = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Other CA", 30, NULL, NULL);
    f->other_alg = ca_fixture_root_ca(EST_KEY_EC_P384, "CN=Wire CA", 30, NULL, NULL);
    f->device = ca_fixture_key(EST_KEY_EC_P256);
    f->csr = ca_fixture_csr(f->device, "CN=device", NULL, 0);
    if (f->ca == NULL || f->other_issuer == NULL || f->other_alg == NULL || f->csr == NULL ||
        keyproc_sig_alg(f->key.key, 0, &f->key.sig_alg, &err) != EST_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    est_ca_free(f->ca);
    est_ca_free(f->other_issuer);
    est_ca_free(f->other_alg);
    X509_free(f->key.cert);
    EVP_PKEY_free(f->key.key);
    X509_ALGOR_free(f->key.sig_alg);
    EVP_PKEY_free(f->device);
    X509_REQ_free(f->csr);
    free(f);
    return 0;
}

/* header + the TBSCertificate of a certificate ca issues; extra bytes appended. */
static uint8_t *tbs_request(fixture *f, est_ca *ca, size_t extra, size_t *len)
{
    est_profile profile;
    X509 *cert = NULL;
    uint8_t *tbs = NULL, *msg;
    int n;

    est_profile_default(&profile);
    assert_int_equal(est_ca_issue(ca, f->csr, &profile, NULL, &cert, NULL), EST_OK);
    n = i2d_re_X509_tbs(cert, &tbs);
    assert_true(n > 0);
    *len = KEYPROC_HEADER_BYTES + (size_t)n + extra;
    msg = calloc(1, *len);
    msg[0] = KEYPROC_VERSION, msg[1] = KEYPROC_SIGN_CERT, msg[2] = 0, msg[3] = 0;
    memcpy(msg + KEYPROC_HEADER_BYTES, tbs, (size_t)n);
    OPENSSL_free(tbs);
    X509_free(cert);
    return msg;
}

static est_status check(fixture *f, const uint8_t *msg, size_t len, est_error *err)
{
    keyproc_request req;

    return keyproc_request_check(&f->key, 1, msg, len, &req, err);
}

static void test_tbs_certificate_of_this_ca_accepted(void **state)
{
    fixture *f = *state;
    keyproc_request req;
    size_t len;
    uint8_t *msg = tbs_request(f, f->ca, 0, &len);

    assert_int_equal(keyproc_request_check(&f->key, 1, msg, len, &req, NULL), EST_OK);
    assert_int_equal(req.op, KEYPROC_SIGN_CERT);
    assert_int_equal(req.key_index, 0);
    assert_ptr_equal(req.payload, msg + KEYPROC_HEADER_BYTES);
    assert_int_equal(req.payload_len, len - KEYPROC_HEADER_BYTES);
    free(msg);
}

static void test_malformed_tbs_refused(void **state)
{
    fixture *f = *state;
    est_error err;
    size_t len;
    uint8_t *msg = tbs_request(f, f->ca, 1, &len);

    assert_int_equal(check(f, msg, len, &err), EST_E_INPUT); /* a trailing byte */
    assert_int_equal(check(f, msg, len - 2, &err), EST_E_INPUT); /* cut short */
    msg[KEYPROC_HEADER_BYTES] = 0x31;
    assert_int_equal(check(f, msg, len - 1, &err), EST_E_INPUT); /* not a SEQUENCE */
    free(msg);
}

static void test_other_issuer_or_algorithm_refused(void **state)
{
    fixture *f = *state;
    est_error err;
    size_t len;
    uint8_t *msg = tbs_request(f, f->other_issuer, 0, &len);

    assert_int_equal(check(f, msg, len, &err), EST_E_POLICY);
    assert_string_equal(err.message, "issuer is not this key's CA");
    free(msg);
    msg = tbs_request(f, f->other_alg, 0, &len); /* P-384: ecdsa-with-SHA384 */
    assert_int_equal(check(f, msg, len, &err), EST_E_POLICY);
    assert_string_equal(err.message, "signature algorithm is not this key's");
    free(msg);
}

static void test_request_size_at_limit_and_one_past(void **state)
{
    fixture *f = *state;
    uint8_t *msg = calloc(1, KEYPROC_REQUEST_MAX + 1);
    est_error err;

    msg[0] = KEYPROC_VERSION, msg[1] = KEYPROC_SIGN_CERT;
    msg[KEYPROC_HEADER_BYTES] = 0x30;
    assert_int_equal(check(f, msg, KEYPROC_REQUEST_MAX, &err), EST_E_INPUT);
    assert_int_equal(check(f, msg, KEYPROC_REQUEST_MAX + 1, &err), EST_E_TOO_LARGE);
    free(msg);
}

static void test_bad_header_refused(void **state)
{
    fixture *f = *state;
    est_error err;
    size_t len;
    uint8_t *msg = tbs_request(f, f->ca, 0, &len);

    assert_int_equal(check(f, msg, KEYPROC_HEADER_BYTES, &err), EST_E_INPUT); /* no payload */
    msg[0] = 2;
    assert_int_equal(check(f, msg, len, &err), EST_E_INPUT);
    msg[0] = KEYPROC_VERSION, msg[2] = 1; /* one key only */
    assert_int_equal(check(f, msg, len, &err), EST_E_INPUT);
    assert_string_equal(err.message, "no key 1");
    msg[2] = 0, msg[1] = 9;
    assert_int_equal(check(f, msg, len, &err), EST_E_INPUT);
    msg[1] = KEYPROC_SIGN_CERT, msg[3] = 1;
    assert_int_equal(check(f, msg, len, &err), EST_E_INPUT);
    free(msg);
}

static size_t attrs_request(uint8_t *msg, int with_digest, uint8_t tag)
{
    static const uint8_t digest[32] = {1, 2, 3};
    X509_ATTRIBUTE *a[2];
    uint8_t *p = msg + KEYPROC_HEADER_BYTES + 2;
    size_t body = 0;
    int n = with_digest ? 2 : 1;
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();

    ASN1_OCTET_STRING_set(os, digest, sizeof digest);
    a[0] = X509_ATTRIBUTE_create(NID_pkcs9_contentType, V_ASN1_OBJECT,
                                 OBJ_nid2obj(NID_id_smime_ct_compressedData));
    a[1] = X509_ATTRIBUTE_create(NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, os);
    for (int i = 0; i < n; i++) {
        uint8_t *q = p + body;
        body += (size_t)i2d_X509_ATTRIBUTE(a[i], &q);
    }
    X509_ATTRIBUTE_free(a[0]);
    X509_ATTRIBUTE_free(a[1]);
    msg[0] = KEYPROC_VERSION, msg[1] = KEYPROC_SIGN_DATA, msg[2] = 0, msg[3] = 0;
    msg[4] = tag, msg[5] = (uint8_t)body;
    return KEYPROC_HEADER_BYTES + 2 + body;
}

static void test_signed_attributes(void **state)
{
    fixture *f = *state;
    uint8_t msg[256];
    size_t len;
    est_error err;

    len = attrs_request(msg, 1, 0x31);
    assert_int_equal(check(f, msg, len, &err), EST_OK);
    len = attrs_request(msg, 0, 0x31);
    assert_int_equal(check(f, msg, len, &err), EST_E_POLICY);
    len = attrs_request(msg, 1, 0x30); /* a SEQUENCE is not signedAttrs */
    assert_int_equal(check(f, msg, len, &err), EST_E_INPUT);
}

static uint8_t *crl_request(est_ca *ca, size_t *len)
{
    est_revoked_entry entry = {"0A1B", 1700000000, 1};
    X509_CRL *crl = NULL;
    uint8_t *tbs = NULL, *msg;
    int n;

    assert_int_equal(est_ca_make_crl(ca, &entry, 1, 7, 7, &crl, NULL), EST_OK);
    n = i2d_re_X509_CRL_tbs(crl, &tbs);
    assert_true(n > 0);
    *len = KEYPROC_HEADER_BYTES + (size_t)n;
    msg = calloc(1, *len);
    msg[0] = KEYPROC_VERSION, msg[1] = KEYPROC_SIGN_CRL;
    memcpy(msg + KEYPROC_HEADER_BYTES, tbs, (size_t)n);
    OPENSSL_free(tbs);
    X509_CRL_free(crl);
    return msg;
}

static void test_tbs_cert_list(void **state)
{
    fixture *f = *state;
    est_error err;
    size_t len;
    uint8_t *msg = crl_request(f->ca, &len);

    assert_int_equal(check(f, msg, len, &err), EST_OK);
    assert_int_equal(check(f, msg, len - 1, &err), EST_E_INPUT);
    msg[1] = KEYPROC_SIGN_CERT; /* a TBSCertList is not a TBSCertificate */
    assert_int_equal(check(f, msg, len, &err), EST_E_INPUT);
    free(msg);
    msg = crl_request(f->other_issuer, &len);
    assert_int_equal(check(f, msg, len, &err), EST_E_POLICY);
    assert_string_equal(err.message, "issuer is not this key's CA");
    free(msg);
    msg = crl_request(f->other_alg, &len);
    assert_int_equal(check(f, msg, len, &err), EST_E_POLICY);
    assert_string_equal(err.message, "signature algorithm is not this key's");
    free(msg);
}

/* signature = pss: the check accepts exactly the RFC 4055 rsassaPss
 * AlgorithmIdentifier, and refuses the same CA's PKCS#1 v1.5 TBS. */
static void test_pss_algorithm(void **state)
{
    fixture *f = *state, g = {0};
    keyproc_request req;
    est_error err;
    X509_ALGOR *alg = NULL;
    est_ca *pss_ca;
    size_t len;
    uint8_t *msg;

    assert_int_equal(keyproc_sig_alg(f->key.key, 1, &alg, &err), EST_E_CONFIG);
    assert_null(alg);
    assert_non_null(strstr(err.message, "signature = pss needs an RSA CA key"));
    g.ca = ca_fixture_root_ca(EST_KEY_RSA_2048, "CN=PSS CA", 30, &g.key.cert, &g.key.key);
    g.csr = f->csr;
    g.key.pss = 1;
    assert_int_equal(keyproc_sig_alg(g.key.key, 1, &g.key.sig_alg, &err), EST_OK);
    assert_int_equal(OBJ_obj2nid(g.key.sig_alg->algorithm), NID_rsassaPss);
    pss_ca = est_ca_new(g.key.cert, NULL, NULL, est_signer_new_key_pss(g.key.key));
    assert_non_null(pss_ca);
    msg = tbs_request(&g, pss_ca, 0, &len);
    assert_int_equal(keyproc_request_check(&g.key, 1, msg, len, &req, &err), EST_OK);
    free(msg);
    msg = tbs_request(&g, g.ca, 0, &len); /* PKCS#1 v1.5 */
    assert_int_equal(keyproc_request_check(&g.key, 1, msg, len, &req, &err), EST_E_POLICY);
    free(msg);
    msg = crl_request(pss_ca, &len);
    assert_int_equal(keyproc_request_check(&g.key, 1, msg, len, &req, &err), EST_OK);
    free(msg);
    msg = crl_request(g.ca, &len);
    assert_int_equal(keyproc_request_check(&g.key, 1, msg, len, &req, &err), EST_E_POLICY);
    free(msg);
    est_ca_free(pss_ca);
    est_ca_free(g.ca);
    X509_free(g.key.cert);
    EVP_PKEY_free(g.key.key);
    X509_ALGOR_free(g.key.sig_alg);
}

UNIT_MAIN_GROUP(setup, teardown,
    cmocka_unit_test(test_tbs_certificate_of_this_ca_accepted),
    cmocka_unit_test(test_malformed_tbs_refused),
    cmocka_unit_test(test_other_issuer_or_algorithm_refused),
    cmocka_unit_test(test_request_size_at_limit_and_one_past),
    cmocka_unit_test(test_bad_header_refused),
    cmocka_unit_test(test_signed_attributes),
    cmocka_unit_test(test_tbs_cert_list),
    cmocka_unit_test(test_pss_algorithm))
