/* Tests src/lib/cmc_parse.c: what is not a Full PKI Request (an error),
 * what is one the server must refuse in CMC (fail + reason + body part),
 * every limit at and one past it, and signatures that must not verify. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/x509v3.h>
#include "estkit.h"
#include "ca_fixture.h"
#include "cmc_fixture.h"
#include "unit_main.h"

static void pki_free(CMC_PKI_DATA *pki)
{
    ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_DATA));
}

/* Signs pki with the client key (named by the CSR's key id), parses it. */
static est_status sign_and_parse(cmc_fixture *f, CMC_PKI_DATA *pki, est_cmc_request **req)
{
    size_t len = 0;
    uint8_t *der = cmc_fixture_sign(pki, NID_id_cct_PKIData, f->client_key, NULL, f->csr, &len);
    est_status rc;

    assert_non_null(der);
    rc = est_cmc_request_parse(der, len, req, NULL);
    free(der);
    return rc;
}

/* Expects the request to parse and to fail with fail/body part/reason. */
static void expect_refusal(cmc_fixture *f, CMC_PKI_DATA *pki, est_cmc_fail fail,
                           uint32_t body_part, const char *reason_part)
{
    est_cmc_request *req = NULL;

    assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), fail);
    assert_int_equal(est_cmc_request_fail_body_part(req), body_part);
    assert_non_null(strstr(est_cmc_request_get0_fail_reason(req), reason_part));
    /* the ids still come back for the CMC answer */
    assert_non_null(est_cmc_request_get0_transaction_id(req));
    assert_int_equal(ASN1_INTEGER_get(est_cmc_request_get0_transaction_id(req)), 7);
    assert_non_null(est_cmc_request_get0_sender_nonce(req));
    est_cmc_request_free(req);
    pki_free(pki);
}

static ASN1_TYPE *utf8(const char *text, size_t len)
{
    ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();
    ASN1_TYPE *t = ASN1_TYPE_new();

    assert_true(ASN1_STRING_set(s, text, (int)len));
    ASN1_TYPE_set(t, V_ASN1_UTF8STRING, s);
    return t;
}

static ASN1_TYPE *integer(long v)
{
    ASN1_INTEGER *i = ASN1_INTEGER_new();
    ASN1_TYPE *t = ASN1_TYPE_new();

    assert_true(ASN1_INTEGER_set(i, v));
    ASN1_TYPE_set(t, V_ASN1_INTEGER, i);
    return t;
}

static void add(CMC_PKI_DATA *pki, uint32_t id, const char *oid, ASN1_TYPE *value)
{
    assert_true(cmc_fixture_add_control(pki, id, oid, value));
    ASN1_TYPE_free(value);
}

static void garbage_truncation_and_trailing_bytes_are_errors(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    size_t len = 0;
    uint8_t *der = cmc_fixture_sign(pki, NID_id_cct_PKIData, f->client_key, NULL, f->csr, &len);
    uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00}, *longer = malloc(len + 1);
    est_cmc_request *req = NULL;
    est_error err;

    assert_int_equal(est_cmc_request_parse(junk, sizeof junk, &req, &err), EST_E_INPUT);
    assert_int_equal(est_cmc_request_parse(junk, 0, &req, &err), EST_E_INPUT);
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(est_cmc_request_parse(der, n, &req, NULL), EST_OK);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(est_cmc_request_parse(longer, len + 1, &req, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "trailing"));
    assert_int_equal(est_cmc_request_parse(der, len, &req, NULL), EST_OK);
    est_cmc_request_free(req);
    free(longer);
    free(der);
    pki_free(pki);
}

static void whole_message_limit_at_and_past(void **state)
{
    uint8_t *big = calloc(1, EST_CMC_MAX_DER + 1);
    est_cmc_request *req = NULL;
    (void)state;

    /* at the limit: read (and refused as garbage); past it: too large */
    assert_int_equal(est_cmc_request_parse(big, EST_CMC_MAX_DER, &req, NULL), EST_E_INPUT);
    assert_int_equal(est_cmc_request_parse(big, EST_CMC_MAX_DER + 1, &req, NULL), EST_E_TOO_LARGE);
    free(big);
}

static void certs_only_and_plain_data_are_not_requests(void **state)
{
    cmc_fixture *f = *state;
    STACK_OF(X509) *certs = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf("hello", 5);
    CMS_ContentInfo *data = CMS_data_create(in, CMS_BINARY);
    unsigned char *der = NULL;
    uint8_t *co = NULL;
    size_t co_len = 0;
    int len = i2d_CMS_ContentInfo(data, &der);
    est_cmc_request *req = NULL;
    est_error err;

    assert_int_equal(est_cmc_request_parse(der, (size_t)len, &req, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "SignedData"));
    assert_true(sk_X509_push(certs, f->ca_cert) > 0);
    assert_int_equal(est_certs_only_build(certs, &co, &co_len, NULL), EST_OK);
    assert_int_equal(est_cmc_request_parse(co, co_len, &req, &err), EST_E_INPUT);
    est_free(co);
    sk_X509_free(certs);
    OPENSSL_free(der);
    CMS_ContentInfo_free(data);
    BIO_free(in);
}

static void wrong_content_type_is_a_cmc_bad_request(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    size_t len = 0;
    uint8_t *der = cmc_fixture_sign(pki, NID_pkcs7_data, f->client_key, NULL, f->csr, &len);
    est_cmc_request *req = NULL;

    assert_int_equal(est_cmc_request_parse(der, len, &req, NULL), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_BAD_REQUEST);
    assert_non_null(strstr(est_cmc_request_get0_fail_reason(req), "id-cct-PKIData"));
    assert_int_equal(est_cmc_request_cert_request_count(req), 0);
    est_cmc_request_free(req);
    free(der);
    pki_free(pki);
}

static void undecodable_pki_data_is_an_error(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    unsigned char *content = NULL;
    int n = ASN1_item_i2d((ASN1_VALUE *)pki, &content, ASN1_ITEM_rptr(CMC_PKI_DATA));
    size_t len = 0;
    uint8_t *der;
    est_cmc_request *req = NULL;
    est_error err;

    /* The PKIData without its last byte, properly signed. */
    der = cmc_fixture_sign_content(content, (size_t)n - 1, NID_id_cct_PKIData, f->client_key,
                                   NULL, f->csr, &len);
    assert_non_null(der);
    assert_int_equal(est_cmc_request_parse(der, len, &req, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "PKIData"));
    free(der);
    /* ... and with a byte too many. */
    content = OPENSSL_realloc(content, (size_t)n + 1);
    content[n] = 0;
    der = cmc_fixture_sign_content(content, (size_t)n + 1, NID_id_cct_PKIData, f->client_key,
                                   NULL, f->csr, &len);
    assert_int_equal(est_cmc_request_parse(der, len, &req, &err), EST_E_INPUT);
    free(der);
    OPENSSL_free(content);
    pki_free(pki);
}

static void empty_pki_data_asks_for_nothing(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(NULL);

    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 0, "neither");
}

static void unknown_control_fails_bad_request_naming_it(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);

    add(pki, 9, "1.3.6.1.4.1.99999.1", integer(1));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 9, "unsupported control 1.3.6.1.4.1.99999.1");
}

static void shared_secret_and_response_controls_are_refused(void **state)
{
    cmc_fixture *f = *state;
    static const char *const secret[] = {"1.3.6.1.5.5.7.7.3", "1.3.6.1.5.5.7.7.22",
                                         "1.3.6.1.5.5.7.7.23", "1.3.6.1.5.5.7.7.33",
                                         "1.3.6.1.5.5.7.7.34"};
    static const char *const response[] = {"1.3.6.1.5.5.7.7.1", "1.3.6.1.5.5.7.7.25",
                                           "1.3.6.1.5.5.7.7.7"};

    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
        add(pki, 4, secret[i], cmc_fixture_octets(20, 1));
        expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 4, "shared-secret");
    }
    for (size_t i = 0; i < sizeof response / sizeof response[0]; i++) {
        CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
        add(pki, 4, response[i], cmc_fixture_octets(20, 1));
        expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 4, "response control");
    }
}

static void crmf_and_other_requests_are_not_supported(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    CMC_TAGGED_REQUEST *crm =
        (CMC_TAGGED_REQUEST *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TAGGED_REQUEST));
    CMC_TAGGED_REQUEST *orm =
        (CMC_TAGGED_REQUEST *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TAGGED_REQUEST));

    crm->type = EST_CMC_REQUEST_CRM;
    crm->d.crm = sk_ASN1_TYPE_new_null();
    assert_true(sk_ASN1_TYPE_push(crm->d.crm, integer(5)) > 0);
    assert_true(sk_CMC_TAGGED_REQUEST_push(pki->requests, crm) > 0);
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 0, "CRMF");

    pki = cmc_fixture_pki_data(f->csr);
    orm->type = EST_CMC_REQUEST_ORM;
    orm->d.orm = (CMC_ORM *)ASN1_item_new(ASN1_ITEM_rptr(CMC_ORM));
    assert_true(ASN1_INTEGER_set(orm->d.orm->body_part_id, 12));
    orm->d.orm->type = OBJ_txt2obj("1.2.3.4", 1);
    ASN1_TYPE_set(orm->d.orm->value, V_ASN1_NULL, NULL);
    assert_true(sk_CMC_TAGGED_REQUEST_push(pki->requests, orm) > 0);
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 12, "other request");
}

static void nested_content_and_other_messages_are_refused(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    CMC_TAGGED_CONTENT *tc =
        (CMC_TAGGED_CONTENT *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TAGGED_CONTENT));
    CMC_OTHER_MSG *om = (CMC_OTHER_MSG *)ASN1_item_new(ASN1_ITEM_rptr(CMC_OTHER_MSG));

    assert_true(ASN1_INTEGER_set(tc->body_part_id, 20));
    ASN1_TYPE_set(tc->content, V_ASN1_NULL, NULL);
    assert_true(sk_CMC_TAGGED_CONTENT_push(pki->contents, tc) > 0);
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 20, "nested CMS");

    pki = cmc_fixture_pki_data(f->csr);
    assert_true(ASN1_INTEGER_set(om->body_part_id, 21));
    om->type = OBJ_txt2obj("1.2.3.4", 1);
    ASN1_TYPE_set(om->value, V_ASN1_NULL, NULL);
    assert_true(sk_CMC_OTHER_MSG_push(pki->others, om) > 0);
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 21, "other messages");
}

static void duplicate_body_parts_fail(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);

    /* 1 is the certification request's */
    add(pki, 1, "1.3.6.1.5.5.7.7.2", utf8("dup", 3));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 1, "used twice");
}

static void body_part_ids_outside_the_range_are_errors(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    CMC_TAGGED_ATTRIBUTE *first = sk_CMC_TAGGED_ATTRIBUTE_value(pki->controls, 0);
    est_cmc_request *req = NULL;

    /* 4294967295 is the last valid ID, 4294967296 the first invalid one */
    assert_true(ASN1_INTEGER_set_uint64(first->body_part_id, UINT32_MAX));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
    est_cmc_request_free(req);
    assert_true(ASN1_INTEGER_set_uint64(first->body_part_id, (uint64_t)UINT32_MAX + 1));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_E_INPUT);
    assert_true(ASN1_INTEGER_set(first->body_part_id, -1));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_E_INPUT);
    pki_free(pki);
}

static void controls_limit_at_and_past(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    est_cmc_request *req = NULL;

    /* two controls already: transactionId and senderNonce */
    for (uint32_t id = 100; id < 100 + EST_CMC_MAX_CONTROLS - 2; id++)
        add(pki, id, "1.3.6.1.5.5.7.7.2", utf8("x", 1));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
    est_cmc_request_free(req);
    add(pki, 99, "1.3.6.1.5.5.7.7.2", utf8("x", 1));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_E_TOO_LARGE);
    pki_free(pki);
}

static void requests_limit_at_and_past(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    CMC_TAGGED_REQUEST *first = sk_CMC_TAGGED_REQUEST_value(pki->requests, 0);
    est_cmc_request *req = NULL;

    for (uint32_t id = 50; id < 50 + EST_CMC_MAX_REQUESTS; id++) {
        CMC_TAGGED_REQUEST *copy = (CMC_TAGGED_REQUEST *)ASN1_item_dup(
            ASN1_ITEM_rptr(CMC_TAGGED_REQUEST), first);
        assert_true(ASN1_INTEGER_set(copy->d.tcr->body_part_id, id));
        assert_true(sk_CMC_TAGGED_REQUEST_push(pki->requests, copy) > 0);
        if (id == 50 + EST_CMC_MAX_REQUESTS - 2) {
            assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
            assert_int_equal(est_cmc_request_cert_request_count(req), EST_CMC_MAX_REQUESTS);
            assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
            est_cmc_request_free(req);
        }
    }
    assert_int_equal(sign_and_parse(f, pki, &req), EST_E_TOO_LARGE);
    pki_free(pki);
}

static void sender_nonce_size_at_and_past(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_request *req = NULL;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    CMC_TAGGED_ATTRIBUTE *nonce = sk_CMC_TAGGED_ATTRIBUTE_value(pki->controls, 1);
    ASN1_TYPE *v = sk_ASN1_TYPE_value(nonce->values, 0);

    assert_true(ASN1_STRING_set(v->value.octet_string, NULL, EST_CMC_NONCE_MAX));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
    assert_int_equal(est_cmc_request_get0_sender_nonce(req)->len, EST_CMC_NONCE_MAX);
    est_cmc_request_free(req);
    assert_true(ASN1_STRING_set(v->value.octet_string, NULL, EST_CMC_NONCE_MAX + 1));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_BAD_REQUEST);
    assert_non_null(strstr(est_cmc_request_get0_fail_reason(req), "senderNonce"));
    est_cmc_request_free(req);
    assert_true(ASN1_STRING_set(v->value.octet_string, "", 0));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_BAD_REQUEST);
    est_cmc_request_free(req);
    pki_free(pki);
}

static void identification_size_at_and_past(void **state)
{
    cmc_fixture *f = *state;
    char text[EST_CMC_TEXT_MAX + 1];
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    est_cmc_request *req = NULL;

    memset(text, 'i', sizeof text);
    add(pki, 4, "1.3.6.1.5.5.7.7.2", utf8(text, EST_CMC_TEXT_MAX));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
    assert_int_equal(strlen(est_cmc_request_get0_identification(req)), EST_CMC_TEXT_MAX);
    est_cmc_request_free(req);
    pki_free(pki);
    pki = cmc_fixture_pki_data(f->csr);
    add(pki, 4, "1.3.6.1.5.5.7.7.2", utf8(text, EST_CMC_TEXT_MAX + 1));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 4, "identification");
    pki = cmc_fixture_pki_data(f->csr);
    add(pki, 4, "1.3.6.1.5.5.7.7.2", utf8("a\0b", 3));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 4, "identification");
    pki = cmc_fixture_pki_data(f->csr);
    add(pki, 4, "1.3.6.1.5.5.7.7.2", integer(3));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 4, "identification");
}

static void transaction_id_must_be_one_integer(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);

    add(pki, 4, "1.3.6.1.5.5.7.7.5", integer(8));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 4, "more than one transactionId");
    pki = cmc_fixture_pki_data(f->csr);
    add(pki, 4, "1.3.6.1.5.5.7.7.6", cmc_fixture_octets(4, 2));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 4, "more than one senderNonce");
}

static ASN1_TYPE *revoke_value(cmc_fixture *f, long reason)
{
    CMC_REVOKE_REQUEST *rr =
        (CMC_REVOKE_REQUEST *)ASN1_item_new(ASN1_ITEM_rptr(CMC_REVOKE_REQUEST));
    ASN1_TYPE *t = NULL;

    assert_true(X509_NAME_set(&rr->issuer, X509_get_subject_name(f->ca_cert)));
    assert_true(ASN1_INTEGER_set(rr->serial, 0x1234));
    assert_true(ASN1_ENUMERATED_set(rr->reason, reason));
    assert_non_null(ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(CMC_REVOKE_REQUEST), rr, &t));
    ASN1_item_free((ASN1_VALUE *)rr, ASN1_ITEM_rptr(CMC_REVOKE_REQUEST));
    return t;
}

static void revoke_requests_limit_reason_and_shape(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(NULL);
    est_cmc_request *req = NULL;

    for (uint32_t id = 30; id < 30 + EST_CMC_MAX_REVOKES; id++)
        add(pki, id, "1.3.6.1.5.5.7.7.17", revoke_value(f, 4));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_OK);
    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
    assert_int_equal(est_cmc_request_revoke_count(req), EST_CMC_MAX_REVOKES);
    assert_string_equal(est_cmc_request_get0_revoke(req, 0)->serial_hex, "1234");
    assert_int_equal(est_cmc_request_get0_revoke(req, 0)->reason, 4);
    est_cmc_request_free(req);
    add(pki, 29, "1.3.6.1.5.5.7.7.17", revoke_value(f, 4));
    assert_int_equal(sign_and_parse(f, pki, &req), EST_E_TOO_LARGE);
    pki_free(pki);

    pki = cmc_fixture_pki_data(NULL);
    add(pki, 30, "1.3.6.1.5.5.7.7.17", revoke_value(f, 7));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 30, "CRLReason");
    pki = cmc_fixture_pki_data(NULL);
    add(pki, 30, "1.3.6.1.5.5.7.7.17", revoke_value(f, 11));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 30, "CRLReason");
    pki = cmc_fixture_pki_data(NULL);
    add(pki, 30, "1.3.6.1.5.5.7.7.17", integer(5));
    expect_refusal(f, pki, EST_CMC_FAIL_BAD_REQUEST, 30, "malformed");
}

static est_status verify_der(const uint8_t *der, size_t len, X509 **signer, int *index)
{
    est_cmc_request *req = NULL;
    est_status rc;

    assert_int_equal(est_cmc_request_parse(der, len, &req, NULL), EST_OK);
    rc = est_cmc_request_verify(req, signer, index, NULL);
    est_cmc_request_free(req);
    return rc;
}

static void tampered_signature_or_content_does_not_verify(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    size_t len = 0;
    uint8_t *der = cmc_fixture_sign(pki, NID_id_cct_PKIData, f->client_key, NULL, f->csr, &len);
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    ASN1_OCTET_STRING *sig =
        CMS_SignerInfo_get0_signature(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0));
    unsigned char *bad = NULL;
    int bad_len;
    uint8_t *nonce;
    X509 *signer = NULL;
    int index = -1;

    assert_int_equal(verify_der(der, len, &signer, &index), EST_OK);
    /* a flipped bit in the ECDSA signature's last byte */
    sig->data[sig->length - 1] ^= 1;
    bad_len = i2d_CMS_ContentInfo(cms, &bad);
    assert_int_equal(verify_der(bad, (size_t)bad_len, &signer, &index), EST_E_AUTH);
    /* the senderNonce (eight 0x5a) changed after signing: still decodes */
    nonce = memmem(der, len, "\x5a\x5a\x5a\x5a\x5a\x5a\x5a\x5a", 8);
    assert_non_null(nonce);
    nonce[0] = 0x5b;
    assert_int_equal(verify_der(der, len, &signer, &index), EST_E_AUTH);
    OPENSSL_free(bad);
    CMS_ContentInfo_free(cms);
    free(der);
    pki_free(pki);
}

static void signer_must_be_the_request_key_it_claims(void **state)
{
    cmc_fixture *f = *state;
    CMC_PKI_DATA *pki = cmc_fixture_pki_data(f->csr);
    X509_REQ *other_csr = ca_fixture_csr(f->ra_key, "CN=other", NULL, 0);
    size_t len = 0;
    uint8_t *der;
    X509 *signer = NULL;
    int index = -1;

    /* claims the client's key identifier, signed by another key */
    der = cmc_fixture_sign(pki, NID_id_cct_PKIData, f->ra_key, NULL, f->csr, &len);
    assert_int_equal(verify_der(der, len, &signer, &index), EST_E_AUTH);
    free(der);
    /* names a key that no request in the PKIData carries */
    der = cmc_fixture_sign(pki, NID_id_cct_PKIData, f->ra_key, NULL, other_csr, &len);
    assert_int_equal(verify_der(der, len, &signer, &index), EST_E_AUTH);
    free(der);
    /* an included certificate is found and returned */
    der = cmc_fixture_sign(pki, NID_id_cct_PKIData, f->ra_key, f->ra_cert, NULL, &len);
    assert_int_equal(verify_der(der, len, &signer, &index), EST_OK);
    assert_int_equal(index, -1);
    free(der);
    X509_REQ_free(other_csr);
    pki_free(pki);
}

/* RFC 5272 §3.2.1.3.1: a CSR's own subjectKeyIdentifier names its key. */
static void csr_subject_key_identifier_names_the_signer(void **state)
{
    cmc_fixture *f = *state;
    X509_REQ *csr = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = NULL;
    ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
    est_cmc_request_spec spec = {.csr = csr, .signer_key = f->client_key};
    est_cmc_ids ids;
    est_cmc_request *req = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    X509 *signer = NULL;
    int index = -1;

    assert_true(ASN1_OCTET_STRING_set(ski, (const unsigned char *)"\x01\x02\x03\x04", 4));
    assert_true(X509V3_add1_i2d(&exts, NID_subject_key_identifier, ski, 0, 0) == 1);
    assert_true(X509_REQ_set_pubkey(csr, f->client_key));
    assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(csr), "CN", MBSTRING_ASC,
                                           (const unsigned char *)"ski", -1, -1, 0));
    assert_true(X509_REQ_add_extensions(csr, exts));
    assert_true(X509_REQ_sign(csr, f->client_key, EVP_sha256()) > 0);
    assert_int_equal(est_cmc_request_build(&spec, &ids, &der, &len, NULL), EST_OK);
    assert_int_equal(est_cmc_request_parse(der, len, &req, NULL), EST_OK);
    assert_int_equal(est_cmc_request_verify(req, &signer, &index, NULL), EST_OK);
    assert_int_equal(index, 0);
    assert_null(signer);
    assert_non_null(memmem(der, len, "\x80\x04\x01\x02\x03\x04", 6)); /* sid [0] keyid */
    est_cmc_request_free(req);
    est_free(der);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ASN1_OCTET_STRING_free(ski);
    X509_REQ_free(csr);
}

UNIT_MAIN_GROUP(cmc_fixture_group_setup, cmc_fixture_group_teardown,
    cmocka_unit_test(garbage_truncation_and_trailing_bytes_are_errors),
    cmocka_unit_test(whole_message_limit_at_and_past),
    cmocka_unit_test(certs_only_and_plain_data_are_not_requests),
    cmocka_unit_test(wrong_content_type_is_a_cmc_bad_request),
    cmocka_unit_test(undecodable_pki_data_is_an_error),
    cmocka_unit_test(empty_pki_data_asks_for_nothing),
    cmocka_unit_test(unknown_control_fails_bad_request_naming_it),
    cmocka_unit_test(shared_secret_and_response_controls_are_refused),
    cmocka_unit_test(crmf_and_other_requests_are_not_supported),
    cmocka_unit_test(nested_content_and_other_messages_are_refused),
    cmocka_unit_test(duplicate_body_parts_fail),
    cmocka_unit_test(body_part_ids_outside_the_range_are_errors),
    cmocka_unit_test(controls_limit_at_and_past),
    cmocka_unit_test(requests_limit_at_and_past),
    cmocka_unit_test(sender_nonce_size_at_and_past),
    cmocka_unit_test(identification_size_at_and_past),
    cmocka_unit_test(transaction_id_must_be_one_integer),
    cmocka_unit_test(revoke_requests_limit_reason_and_shape),
    cmocka_unit_test(tampered_signature_or_content_does_not_verify),
    cmocka_unit_test(signer_must_be_the_request_key_it_claims),
    cmocka_unit_test(csr_subject_key_identifier_names_the_signer))
