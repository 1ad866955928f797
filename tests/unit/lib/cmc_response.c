/* Tests src/lib/cmc_response.c: Full PKI Responses signed by the CA
 * through the signer seam (RSA and EC CA keys, RSASSA-PSS; Ed25519 refused), read back by a client;
 * failures with fail info; the status limit; ids that must be echoed;
 * trust; and malformed responses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "estkit.h"
#include "ca_fixture.h"
#include "cmc_fixture.h"
#include "unit_main.h"

static X509_STORE *store_of(X509 *cert)
{
    X509_STORE *store = X509_STORE_new();
    assert_true(X509_STORE_add_cert(store, cert));
    return store;
}

static uint8_t *build(est_ca *ca, const est_cmc_status_entry *statuses, size_t count,
                      const ASN1_INTEGER *tid, const est_cmc_nonce *nonce, size_t *len)
{
    est_cmc_response_spec spec = {.statuses = statuses, .status_count = count,
                                  .transaction_id = tid, .recipient_nonce = nonce};
    uint8_t *der = NULL;
    est_error err;

    if (est_cmc_response_build(ca, &spec, &der, len, &err) != EST_OK)
        fail_msg("%s", err.message);
    return der;
}

static void failure_carries_fail_info_and_text(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_status_entry bad = {.status = EST_CMC_FAILED, .fail = EST_CMC_FAIL_BAD_CERT_ID,
                                .body_parts = {5}, .body_part_count = 1,
                                .text = "no such certificate"};
    size_t len = 0;
    uint8_t *der = build(f->ca, &bad, 1, NULL, NULL, &len);
    X509_STORE *trust = store_of(f->ca_cert);
    est_cmc_response *resp = NULL;
    est_cmc_ids ids = {0};

    assert_int_equal(est_cmc_response_parse(der, len, trust, &resp, NULL), EST_OK);
    assert_int_equal(resp->status, EST_CMC_FAILED);
    assert_int_equal(resp->fail_info, EST_CMC_FAIL_BAD_CERT_ID);
    assert_string_equal(resp->status_string, "no such certificate");
    assert_string_equal(est_cmc_fail_name(resp->fail_info), "badCertId");
    assert_string_equal(est_cmc_status_name(resp->status), "failed");
    /* nothing echoed: the ids check must say so */
    assert_int_equal(resp->has_transaction_id, 0);
    assert_int_equal(est_cmc_response_check_ids(resp, &ids, NULL), EST_E_PROTOCOL);
    est_cmc_response_free(resp);
    X509_STORE_free(trust);
    free(der);
}

/* otherInfo is OPTIONAL: a failure may come without a CMCFailInfo. */
static void failure_without_fail_info(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_status_entry bad = {.status = EST_CMC_FAILED, .fail = EST_CMC_FAIL_NONE};
    size_t len = 0;
    uint8_t *der = build(f->ca, &bad, 1, NULL, NULL, &len);
    est_cmc_response *resp = NULL;

    assert_int_equal(est_cmc_response_parse(der, len, NULL, &resp, NULL), EST_OK);
    assert_int_equal(resp->status, EST_CMC_FAILED);
    assert_int_equal(resp->fail_info, EST_CMC_FAIL_NONE);
    assert_string_equal(resp->status_string, "");
    est_cmc_response_free(resp);
    free(der);
}

static void first_non_success_status_wins(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_status_entry two[] = {
        {.status = EST_CMC_SUCCESS, .body_parts = {1}, .body_part_count = 1, .text = "fine"},
        {.status = EST_CMC_FAILED, .fail = EST_CMC_FAIL_POP_FAILED, .text = "bad pop"},
    };
    size_t len = 0;
    uint8_t *der = build(f->ca, two, 2, NULL, NULL, &len);
    est_cmc_response *resp = NULL;

    assert_int_equal(est_cmc_response_parse(der, len, NULL, &resp, NULL), EST_OK);
    assert_int_equal(resp->status, EST_CMC_FAILED);
    assert_int_equal(resp->fail_info, EST_CMC_FAIL_POP_FAILED);
    assert_string_equal(resp->status_string, "bad pop");
    est_cmc_response_free(resp);
    free(der);
}

static void status_count_limit_at_and_past(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_status_entry many[EST_CMC_MAX_STATUSES + 1];
    est_cmc_response_spec spec = {.statuses = many};
    uint8_t *der = NULL;
    size_t len = 0;

    memset(many, 0, sizeof many);
    spec.status_count = 0;
    assert_int_equal(est_cmc_response_build(f->ca, &spec, &der, &len, NULL), EST_E_INTERNAL);
    spec.status_count = EST_CMC_MAX_STATUSES;
    assert_int_equal(est_cmc_response_build(f->ca, &spec, &der, &len, NULL), EST_OK);
    est_free(der);
    spec.status_count = EST_CMC_MAX_STATUSES + 1;
    assert_int_equal(est_cmc_response_build(f->ca, &spec, &der, &len, NULL), EST_E_INTERNAL);
}

static void ids_must_be_echoed_exactly(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_status_entry ok = {.status = EST_CMC_SUCCESS};
    est_cmc_ids ids = {.transaction_id = 123456789, .sender_nonce = {.len = 4}};
    ASN1_INTEGER *tid = ASN1_INTEGER_new();
    size_t len = 0;
    uint8_t *der;
    est_cmc_response *resp = NULL;

    memcpy(ids.sender_nonce.data, "abcd", 4);
    assert_true(ASN1_INTEGER_set_int64(tid, ids.transaction_id));
    der = build(f->ca, &ok, 1, tid, &ids.sender_nonce, &len);
    assert_int_equal(est_cmc_response_parse(der, len, NULL, &resp, NULL), EST_OK);
    assert_int_equal(est_cmc_response_check_ids(resp, &ids, NULL), EST_OK);
    ids.transaction_id++;
    assert_int_equal(est_cmc_response_check_ids(resp, &ids, NULL), EST_E_PROTOCOL);
    ids.transaction_id--;
    ids.sender_nonce.data[3] = 'e';
    assert_int_equal(est_cmc_response_check_ids(resp, &ids, NULL), EST_E_PROTOCOL);
    ids.sender_nonce.data[3] = 'd';
    ids.sender_nonce.len = 3;
    assert_int_equal(est_cmc_response_check_ids(resp, &ids, NULL), EST_E_PROTOCOL);
    est_cmc_response_free(resp);
    ASN1_INTEGER_free(tid);
    free(der);
}

static void signer_must_chain_to_the_trust_given(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_status_entry ok = {.status = EST_CMC_SUCCESS};
    X509 *other_root = NULL;
    est_ca *other = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Other", 30, &other_root, NULL);
    X509_STORE *right = store_of(f->ca_cert), *wrong = store_of(other_root);
    size_t len = 0;
    uint8_t *der = build(f->ca, &ok, 1, NULL, NULL, &len);
    est_cmc_response *resp = NULL;
    est_error err;

    assert_int_equal(est_cmc_response_parse(der, len, right, &resp, NULL), EST_OK);
    est_cmc_response_free(resp);
    resp = NULL;
    assert_int_equal(est_cmc_response_parse(der, len, wrong, &resp, &err), EST_E_AUTH);
    assert_null(resp);
    assert_non_null(strstr(err.message, "not trusted"));
    free(der);
    X509_STORE_free(right);
    X509_STORE_free(wrong);
    X509_free(other_root);
    est_ca_free(other);
}

static void ed25519_ca_cannot_sign_cms(void **state)
{
    X509 *root = NULL;
    est_ca *ca = ca_fixture_root_ca(EST_KEY_ED25519, "CN=Ed", 30, &root, NULL);
    est_cmc_status_entry ok = {.status = EST_CMC_SUCCESS};
    est_cmc_response_spec spec = {.statuses = &ok, .status_count = 1};
    uint8_t *der = NULL;
    size_t len = 0;
    est_error err;
    (void)state;

    /* OpenSSL 3.0's CMS code can neither make nor verify EdDSA SignerInfos */
    assert_int_equal(est_cmc_response_build(ca, &spec, &der, &len, &err), EST_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "ED25519"));
    X509_free(root);
    est_ca_free(ca);
}

static void every_ca_key_type_signs_responses(void **state)
{
    static const est_key_type types[] = {EST_KEY_EC_P384, EST_KEY_RSA_2048, EST_KEY_RSA_3072};
    est_cmc_status_entry ok = {.status = EST_CMC_SUCCESS};
    (void)state;

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        X509 *root = NULL;
        est_ca *ca = ca_fixture_root_ca(types[i], "CN=Typed", 30, &root, NULL);
        X509_STORE *trust = store_of(root);
        size_t len = 0;
        uint8_t *der = build(ca, &ok, 1, NULL, NULL, &len);
        est_cmc_response *resp = NULL;

        assert_int_equal(est_cmc_response_parse(der, len, trust, &resp, NULL), EST_OK);
        assert_int_equal(resp->status, EST_CMC_SUCCESS);
        est_cmc_response_free(resp);
        free(der);
        X509_STORE_free(trust);
        X509_free(root);
        est_ca_free(ca);
    }
}

/* An RSA CA with signature = pss: an rsassaPss SignerInfo (RFC 4056) with a
 * SHA-256 digestAlgorithm (the key alone would pick SHA-384), which our
 * parser and OpenSSL's CMS_verify accept. */
static void pss_ca_signs_responses_rsassa_pss(void **state)
{
    est_cmc_status_entry ok = {.status = EST_CMC_SUCCESS};
    X509 *root = NULL;
    EVP_PKEY *key = NULL;
    est_ca *plain = ca_fixture_root_ca(EST_KEY_RSA_3072, "CN=PSS", 30, &root, &key);
    est_ca *ca = est_ca_new(root, NULL, NULL, est_signer_new_key_pss(key));
    X509_STORE *trust = store_of(root);
    size_t len = 0;
    uint8_t *der = build(ca, &ok, 1, NULL, NULL, &len);
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    X509_ALGOR *digest_alg = NULL, *sig_alg = NULL;
    est_cmc_response *resp = NULL;
    (void)state;

    assert_non_null(cms);
    CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0), NULL, NULL,
                             &digest_alg, &sig_alg);
    assert_int_equal(OBJ_obj2nid(sig_alg->algorithm), NID_rsassaPss);
    assert_int_equal(OBJ_obj2nid(digest_alg->algorithm), NID_sha256);
    assert_int_equal(est_cmc_response_parse(der, len, trust, &resp, NULL), EST_OK);
    assert_int_equal(CMS_verify(cms, NULL, trust, NULL, NULL,
                                CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY), 1);
    assert_int_equal(resp->status, EST_CMC_SUCCESS);
    est_cmc_response_free(resp);
    CMS_ContentInfo_free(cms);
    free(der);
    X509_STORE_free(trust);
    X509_free(root);
    EVP_PKEY_free(key);
    est_ca_free(ca);
    est_ca_free(plain);
}

static est_status no_sign_cert(void *impl, X509 *cert, const EVP_MD *md, est_error *err)
{
    (void)impl, (void)cert, (void)md;
    return est_error_set(err, EST_E_CA, "no");
}

static est_status no_sign_crl(void *impl, X509_CRL *crl, const EVP_MD *md, est_error *err)
{
    (void)impl, (void)crl, (void)md;
    return est_error_set(err, EST_E_CA, "no");
}

static EVP_PKEY *public_only(void *impl)
{
    return impl;
}

/* A signer backend without sign_data cannot sign CMS: a clear error. */
static void signer_without_data_signing_is_unsupported(void **state)
{
    cmc_fixture *f = *state;
    static const est_signer_ops ops = {.name = "cert-only", .sign_cert = no_sign_cert,
                                       .sign_crl = no_sign_crl, .get0_public_key = public_only};
    est_ca *ca = est_ca_new(f->ca_cert, NULL, NULL, est_signer_new(&ops, f->ca_key));
    est_cmc_status_entry ok = {.status = EST_CMC_SUCCESS};
    est_cmc_response_spec spec = {.statuses = &ok, .status_count = 1};
    uint8_t *der = NULL;
    size_t len = 0;
    est_error err;

    assert_non_null(ca);
    assert_int_equal(est_cmc_response_build(ca, &spec, &der, &len, &err), EST_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "cert-only"));
    est_ca_free(ca);
}

static void malformed_responses_are_errors(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_status_entry ok = {.status = EST_CMC_SUCCESS};
    size_t len = 0, req_len = 0, co_len = 0;
    uint8_t *der = build(f->ca, &ok, 1, NULL, NULL, &len), *longer = malloc(len + 1), *co = NULL;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    uint8_t *req = cmc_fixture_sign(pki, NID_id_cct_PKIData, f->client_key, NULL, f->csr, &req_len);
    STACK_OF(X509) *certs = sk_X509_new_null();
    uint8_t *big = calloc(1, EST_CMC_MAX_DER + 1);
    est_cmc_response *resp = NULL;

    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(est_cmc_response_parse(der, n, NULL, &resp, NULL), EST_OK);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(est_cmc_response_parse(longer, len + 1, NULL, &resp, NULL), EST_E_PROTOCOL);
    /* a Full PKI Request is no response; neither is a Simple PKI Response */
    assert_int_equal(est_cmc_response_parse(req, req_len, NULL, &resp, NULL), EST_E_PROTOCOL);
    assert_true(sk_X509_push(certs, f->ca_cert) > 0);
    assert_int_equal(est_certs_only_build(certs, &co, &co_len, NULL), EST_OK);
    assert_int_equal(est_cmc_response_parse(co, co_len, NULL, &resp, NULL), EST_E_PROTOCOL);
    assert_int_equal(est_cmc_response_parse(big, EST_CMC_MAX_DER, NULL, &resp, NULL),
                     EST_E_PROTOCOL);
    assert_int_equal(est_cmc_response_parse(big, EST_CMC_MAX_DER + 1, NULL, &resp, NULL),
                     EST_E_TOO_LARGE);
    /* the last byte (in the signature) flipped */
    der[len - 1] ^= 0x01;
    assert_int_not_equal(est_cmc_response_parse(der, len, NULL, &resp, NULL), EST_OK);
    assert_null(resp);
    free(big);
    est_free(co);
    sk_X509_free(certs);
    free(req);
    ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_DATA));
    free(longer);
    free(der);
}

UNIT_MAIN_GROUP(cmc_fixture_group_setup, cmc_fixture_group_teardown,
    cmocka_unit_test(failure_carries_fail_info_and_text),
    cmocka_unit_test(failure_without_fail_info),
    cmocka_unit_test(first_non_success_status_wins),
    cmocka_unit_test(status_count_limit_at_and_past),
    cmocka_unit_test(ids_must_be_echoed_exactly),
    cmocka_unit_test(signer_must_chain_to_the_trust_given),
    cmocka_unit_test(every_ca_key_type_signs_responses),
    cmocka_unit_test(pss_ca_signs_responses_rsassa_pss),
    cmocka_unit_test(ed25519_ca_cannot_sign_cms),
    cmocka_unit_test(signer_without_data_signing_is_unsupported),
    cmocka_unit_test(malformed_responses_are_errors))
