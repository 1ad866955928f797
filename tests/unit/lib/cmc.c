/* Tests src/lib/cmc.c, cmc_request.c and the round trip through
 * cmc_parse.c and cmc_response.c: what a client builds, the server reads,
 * verifies and answers, and the client reads back.
 *
 * Run with arguments, this binary is also the e2e driver that builds Full
 * PKI Requests and reads Full PKI Responses with the library
 * (tests/e2e/server_fullcmc.sh); see tool_main. */
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

static est_cmc_request *build_and_parse(const est_cmc_request_spec *spec, est_cmc_ids *ids)
{
    uint8_t *der = NULL;
    size_t len = 0;
    est_cmc_request *req = NULL;
    est_error err;

    assert_int_equal(est_cmc_request_build(spec, ids, &der, &len, &err), EST_OK);
    assert_int_equal(est_cmc_request_parse(der, len, &req, &err), EST_OK);
    est_free(der);
    return req;
}

static void enroll_request_signed_by_its_own_key_round_trips(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_request_spec spec = {.csr = f->csr, .signer_key = f->client_key};
    est_cmc_ids ids;
    est_cmc_request *req = build_and_parse(&spec, &ids);
    X509 *signer = (X509 *)1;
    int index = -2;
    unsigned char *a = NULL, *b = NULL;
    int la, lb;

    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
    assert_int_equal(est_cmc_request_cert_request_count(req), 1);
    assert_int_equal(est_cmc_request_revoke_count(req), 0);
    assert_int_equal(est_cmc_request_get0_cert_request(req, 0)->body_part_id, 1);
    la = i2d_X509_REQ(f->csr, &a);
    lb = i2d_X509_REQ(est_cmc_request_get0_cert_request(req, 0)->csr, &b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, (size_t)la);
    assert_non_null(est_cmc_request_get0_transaction_id(req));
    assert_int_equal(ASN1_INTEGER_get(est_cmc_request_get0_transaction_id(req)),
                     ids.transaction_id);
    assert_true(ids.transaction_id > 0);
    assert_non_null(est_cmc_request_get0_sender_nonce(req));
    assert_int_equal(est_cmc_request_get0_sender_nonce(req)->len, EST_CMC_NONCE_LEN);
    assert_memory_equal(est_cmc_request_get0_sender_nonce(req)->data, ids.sender_nonce.data,
                        EST_CMC_NONCE_LEN);
    assert_string_equal(est_cmc_request_get0_identification(req), "");
    assert_int_equal(est_cmc_request_verify(req, &signer, &index, NULL), EST_OK);
    assert_null(signer);
    assert_int_equal(index, 0);
    OPENSSL_free(a);
    OPENSSL_free(b);
    est_cmc_request_free(req);
}

static void enroll_request_signed_by_an_ra_names_the_ra(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_request_spec spec = {.csr = f->csr, .signer_key = f->ra_key, .signer_cert = f->ra_cert,
                                 .identification = "device-42"};
    est_cmc_ids ids;
    est_cmc_request *req = build_and_parse(&spec, &ids);
    X509 *signer = NULL;
    int index = 0;

    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
    assert_string_equal(est_cmc_request_get0_identification(req), "device-42");
    assert_int_equal(est_cmc_request_verify(req, &signer, &index, NULL), EST_OK);
    assert_non_null(signer);
    assert_int_equal(X509_cmp(signer, f->ra_cert), 0);
    assert_int_equal(index, -1);
    est_cmc_request_free(req);
}

static void revoke_request_names_issuer_serial_and_reason(void **state)
{
    cmc_fixture *f = *state;
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509 *leaf = cmc_fixture_issue(f->ca, key, "CN=to-revoke", "clientAuth");
    est_cmc_request_spec spec = {.revoke_cert = leaf, .revoke_reason = 1, .signer_key = key,
                                 .signer_cert = leaf};
    est_cmc_ids ids;
    est_cmc_request *req = build_and_parse(&spec, &ids);
    char hex[41];
    X509 *signer = NULL;
    int index = 0;

    assert_int_equal(est_cmc_request_fail(req), EST_CMC_FAIL_NONE);
    assert_int_equal(est_cmc_request_cert_request_count(req), 0);
    assert_int_equal(est_cmc_request_revoke_count(req), 1);
    assert_int_equal(est_serial_to_hex(X509_get0_serialNumber(leaf), hex, NULL), EST_OK);
    assert_string_equal(est_cmc_request_get0_revoke(req, 0)->serial_hex, hex);
    assert_int_equal(X509_NAME_cmp(est_cmc_request_get0_revoke(req, 0)->issuer,
                                   X509_get_subject_name(f->ca_cert)),
                     0);
    assert_int_equal(est_cmc_request_get0_revoke(req, 0)->reason, 1);
    assert_int_equal(est_cmc_request_verify(req, &signer, &index, NULL), EST_OK);
    assert_int_equal(X509_cmp(signer, leaf), 0);
    est_cmc_request_free(req);
    X509_free(leaf);
    EVP_PKEY_free(key);
}

static void builder_refuses_incomplete_or_inconsistent_specs(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_ids ids;
    uint8_t *der = NULL;
    size_t len = 0;
    char text[EST_CMC_TEXT_MAX + 2];
    est_cmc_request_spec none = {.signer_key = f->client_key};
    est_cmc_request_spec both = {.csr = f->csr, .revoke_cert = f->ra_cert,
                                 .signer_key = f->ra_key, .signer_cert = f->ra_cert};
    est_cmc_request_spec no_key = {.csr = f->csr};
    est_cmc_request_spec revoke_no_cert = {.revoke_cert = f->ra_cert, .signer_key = f->ra_key};
    est_cmc_request_spec other_key = {.csr = f->csr, .signer_key = f->ra_key};
    est_cmc_request_spec mismatch = {.csr = f->csr, .signer_key = f->client_key,
                                     .signer_cert = f->ra_cert};
    est_cmc_request_spec reason7 = {.revoke_cert = f->ra_cert, .revoke_reason = 7,
                                    .signer_key = f->ra_key, .signer_cert = f->ra_cert};
    est_cmc_request_spec long_id = {.csr = f->csr, .signer_key = f->client_key,
                                    .identification = text};

    assert_int_equal(est_cmc_request_build(&none, &ids, &der, &len, NULL), EST_E_INTERNAL);
    assert_int_equal(est_cmc_request_build(&both, &ids, &der, &len, NULL), EST_E_INTERNAL);
    assert_int_equal(est_cmc_request_build(&no_key, &ids, &der, &len, NULL), EST_E_INTERNAL);
    assert_int_equal(est_cmc_request_build(&revoke_no_cert, &ids, &der, &len, NULL), EST_E_INTERNAL);
    assert_int_equal(est_cmc_request_build(&other_key, &ids, &der, &len, NULL), EST_E_INPUT);
    assert_int_equal(est_cmc_request_build(&mismatch, &ids, &der, &len, NULL), EST_E_INPUT);
    assert_int_equal(est_cmc_request_build(&reason7, &ids, &der, &len, NULL), EST_E_INPUT);
    /* identification: at the limit and one past it */
    memset(text, 'x', sizeof text);
    text[EST_CMC_TEXT_MAX + 1] = '\0';
    assert_int_equal(est_cmc_request_build(&long_id, &ids, &der, &len, NULL), EST_E_INPUT);
    text[EST_CMC_TEXT_MAX] = '\0';
    assert_int_equal(est_cmc_request_build(&long_id, &ids, &der, &len, NULL), EST_OK);
    est_free(der);
}

static void every_request_has_fresh_ids(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_request_spec spec = {.csr = f->csr, .signer_key = f->client_key};
    est_cmc_ids a, b;
    uint8_t *der = NULL;
    size_t len;

    assert_int_equal(est_cmc_request_build(&spec, &a, &der, &len, NULL), EST_OK);
    est_free(der);
    assert_int_equal(est_cmc_request_build(&spec, &b, &der, &len, NULL), EST_OK);
    est_free(der);
    assert_true(a.transaction_id != b.transaction_id);
    assert_true(memcmp(a.sender_nonce.data, b.sender_nonce.data, EST_CMC_NONCE_LEN) != 0);
}

/* Client builds, server parses, verifies, issues and answers, client
 * reads the answer back: the whole /fullcmc exchange without HTTP. */
static void enroll_exchange_in_process(void **state)
{
    cmc_fixture *f = *state;
    est_cmc_request_spec spec = {.csr = f->csr, .signer_key = f->client_key};
    est_cmc_ids ids;
    est_cmc_request *req = build_and_parse(&spec, &ids);
    est_cmc_status_entry ok = {.status = EST_CMC_SUCCESS, .body_parts = {1},
                               .body_part_count = 1, .text = "issued"};
    est_cmc_response_spec rspec = {.statuses = &ok, .status_count = 1,
                                   .transaction_id = est_cmc_request_get0_transaction_id(req),
                                   .recipient_nonce = est_cmc_request_get0_sender_nonce(req)};
    est_cmc_response *resp = NULL;
    X509_STORE *trust = X509_STORE_new();
    X509 *cert = NULL, *signer = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    int index = -1;
    est_error err;

    assert_int_equal(est_cmc_request_verify(req, &signer, &index, NULL), EST_OK);
    assert_int_equal(est_ca_issue(f->ca, est_cmc_request_get0_cert_request(req, index)->csr, NULL,
                                  NULL, &cert, NULL),
                     EST_OK);
    rspec.certs = sk_X509_new_null();
    assert_true(sk_X509_push(rspec.certs, cert) > 0);
    assert_int_equal(est_cmc_response_build(f->ca, &rspec, &der, &len, &err), EST_OK);
    assert_true(X509_STORE_add_cert(trust, f->ca_cert));
    assert_int_equal(est_cmc_response_parse(der, len, trust, &resp, &err), EST_OK);
    assert_int_equal(resp->status, EST_CMC_SUCCESS);
    assert_int_equal(resp->fail_info, EST_CMC_FAIL_NONE);
    assert_string_equal(resp->status_string, "issued");
    assert_int_equal(est_cmc_response_check_ids(resp, &ids, NULL), EST_OK);
    assert_int_equal(resp->sender_nonce.len, EST_CMC_NONCE_LEN);
    assert_int_equal(X509_cmp(resp->signer, f->ca_cert), 0);
    assert_int_equal(X509_cmp(est_cmc_response_get0_cert_for_key(resp, f->client_key), cert), 0);
    assert_null(est_cmc_response_get0_cert_for_key(resp, f->ra_key));
    est_cmc_response_free(resp);
    sk_X509_free(rspec.certs);
    X509_STORE_free(trust);
    X509_free(cert);
    est_free(der);
    est_cmc_request_free(req);
}

/* --- the e2e driver --- */

static int tool_fail(const char *what, const est_error *err)
{
    fprintf(stderr, "cmc tool: %s: %s\n", what, err != NULL ? err->message : "failed");
    return 1;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    int ok = fp != NULL && fwrite(data, 1, len, fp) == len;

    if (fp != NULL && fclose(fp) != 0)
        ok = 0;
    return ok;
}

static int write_ids(const char *path, const est_cmc_ids *ids)
{
    FILE *fp = fopen(path, "w");
    int ok = fp != NULL && fprintf(fp, "%lld ", (long long)ids->transaction_id) > 0;

    for (size_t i = 0; ok && i < ids->sender_nonce.len; i++)
        ok = fprintf(fp, "%02x", ids->sender_nonce.data[i]) > 0;
    if (fp != NULL && fclose(fp) != 0)
        ok = 0;
    return ok;
}

static int read_ids(const char *path, est_cmc_ids *ids)
{
    FILE *fp = fopen(path, "r");
    long long tid = 0;
    unsigned byte;
    int ok = fp != NULL && fscanf(fp, "%lld ", &tid) == 1;

    memset(ids, 0, sizeof *ids);
    ids->transaction_id = tid;
    while (ok && ids->sender_nonce.len < EST_CMC_NONCE_MAX && fscanf(fp, "%2x", &byte) == 1)
        ids->sender_nonce.data[ids->sender_nonce.len++] = (uint8_t)byte;
    if (fp != NULL)
        fclose(fp);
    return ok;
}

static int first_cert(const char *path, X509 **out, est_error *err)
{
    STACK_OF(X509) *certs = NULL;

    if (est_certs_read_file(path, &certs, err) != EST_OK)
        return 0;
    *out = sk_X509_shift(certs);
    sk_X509_pop_free(certs, X509_free);
    return 1;
}

/* enroll KEY CSR_DER OUT IDS [SIGNER_CERT SIGNER_KEY]
 * revoke TARGET_CERT SIGNER_CERT SIGNER_KEY REASON OUT IDS */
static int tool_request(int argc, char **argv)
{
    est_cmc_request_spec spec = {0};
    est_cmc_ids ids;
    EVP_PKEY *key = NULL;
    uint8_t *csr_der = NULL, *der = NULL;
    size_t csr_len = 0, len = 0;
    const char *out, *ids_path;
    est_error err = {0};
    int rc = 1;

    if (strcmp(argv[1], "enroll") == 0 && (argc == 6 || argc == 8)) {
        if (est_key_read_file(argv[2], &spec.signer_key, &err) != EST_OK ||
            est_file_read(argv[3], EST_CSR_MAX_DER, &csr_der, &csr_len, &err) != EST_OK ||
            est_csr_parse(csr_der, csr_len, &spec.csr, &err) != EST_OK ||
            (argc == 8 && (!first_cert(argv[6], &spec.signer_cert, &err) ||
                           est_key_read_file(argv[7], &key, &err) != EST_OK)))
            goto out;
        if (key != NULL) {
            EVP_PKEY_free(spec.signer_key);
            spec.signer_key = key;
            key = NULL;
        }
        out = argv[4];
        ids_path = argv[5];
    } else if (strcmp(argv[1], "revoke") == 0 && argc == 8) {
        if (!first_cert(argv[2], &spec.revoke_cert, &err) ||
            !first_cert(argv[3], &spec.signer_cert, &err) ||
            est_key_read_file(argv[4], &spec.signer_key, &err) != EST_OK)
            goto out;
        spec.revoke_reason = atoi(argv[5]);
        out = argv[6];
        ids_path = argv[7];
    } else {
        fprintf(stderr, "usage: %s enroll KEY CSR_DER OUT IDS [SIGNER_CERT SIGNER_KEY]\n"
                        "       %s revoke TARGET_CERT SIGNER_CERT SIGNER_KEY REASON OUT IDS\n"
                        "       %s response IN_DER CA_PEM IDS [KEY CERT_OUT]\n"
                        "       %s odd unknown-control|wrong-content-type|crmf KEY CSR_DER OUT IDS\n",
                argv[0], argv[0], argv[0], argv[0]);
        return 2;
    }
    if (est_cmc_request_build(&spec, &ids, &der, &len, &err) != EST_OK)
        goto out;
    rc = write_file(out, der, len) && write_ids(ids_path, &ids) ? 0 : 1;
out:
    if (rc != 0)
        tool_fail(argv[1], &err);
    est_free(csr_der);
    est_free(der);
    X509_REQ_free(spec.csr);
    X509_free(spec.revoke_cert);
    X509_free(spec.signer_cert);
    EVP_PKEY_free(spec.signer_key);
    EVP_PKEY_free(key);
    return rc;
}

/* response IN_DER CA_PEM IDS|- [KEY CERT_OUT]: prints status=... fail=...
 * text=...; exit 0 when it verifies against CA_PEM, echoes IDS and (with
 * KEY) holds a certificate for KEY, written to CERT_OUT. */
static int tool_response(int argc, char **argv)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_cmc_response *resp = NULL;
    X509_STORE *trust = X509_STORE_new();
    X509 *ca = NULL;
    EVP_PKEY *key = NULL;
    est_cmc_ids ids;
    est_error err = {0};
    int rc = 1;

    if (argc != 5 && argc != 7)
        return 2;
    if (est_file_read(argv[2], EST_CMC_MAX_DER, &der, &der_len, &err) != EST_OK ||
        !first_cert(argv[3], &ca, &err) || trust == NULL || !X509_STORE_add_cert(trust, ca) ||
        est_cmc_response_parse(der, der_len, trust, &resp, &err) != EST_OK)
        goto out;
    printf("status=%s fail=%s text=%s\n", est_cmc_status_name(resp->status),
           est_cmc_fail_name(resp->fail_info), resp->status_string);
    /* IDS "-": the request had none to echo */
    if (strcmp(argv[4], "-") != 0 &&
        (!read_ids(argv[4], &ids) || est_cmc_response_check_ids(resp, &ids, &err) != EST_OK))
        goto out;
    rc = 0;
    if (argc == 7) {
        STACK_OF(X509) *one = sk_X509_new_null();
        X509 *cert;
        rc = 1;
        if (est_key_read_file(argv[5], &key, &err) == EST_OK &&
            (cert = est_cmc_response_get0_cert_for_key(resp, key)) != NULL && one != NULL &&
            sk_X509_push(one, cert) > 0 && est_certs_write_file(argv[6], one, &err) == EST_OK)
            rc = 0;
        sk_X509_free(one);
    }
out:
    if (rc != 0)
        tool_fail("response", &err);
    est_cmc_response_free(resp);
    X509_STORE_free(trust);
    X509_free(ca);
    EVP_PKEY_free(key);
    est_free(der);
    return rc;
}

/* odd KIND KEY CSR_DER OUT IDS: a request the library would not build,
 * signed by KEY (the CSR's): KIND unknown-control, wrong-content-type or
 * crmf. transactionId 7, senderNonce eight 0x5a (cmc_fixture_pki_data). */
static int tool_odd(int argc, char **argv)
{
    est_cmc_request_spec spec = {0};
    CMC_PKI_DATA *pki = NULL;
    est_cmc_ids ids = {.transaction_id = 7, .sender_nonce = {.len = 8}};
    uint8_t *csr_der = NULL, *der = NULL;
    size_t csr_len = 0, len = 0;
    int nid = NID_id_cct_PKIData, rc = 1;
    est_error err = {0};

    if (argc != 7)
        return 2;
    memset(ids.sender_nonce.data, 0x5a, 8);
    if (est_key_read_file(argv[3], &spec.signer_key, &err) != EST_OK ||
        est_file_read(argv[4], EST_CSR_MAX_DER, &csr_der, &csr_len, &err) != EST_OK ||
        est_csr_parse(csr_der, csr_len, &spec.csr, &err) != EST_OK ||
        (pki = cmc_fixture_pki_data(spec.csr)) == NULL)
        goto out;
    if (strcmp(argv[2], "unknown-control") == 0) {
        ASN1_TYPE *t = cmc_fixture_octets(4, 1);
        int ok = t != NULL && cmc_fixture_add_control(pki, 9, "1.3.6.1.4.1.99999.1", t);
        ASN1_TYPE_free(t);
        if (!ok)
            goto out;
    } else if (strcmp(argv[2], "wrong-content-type") == 0) {
        nid = NID_pkcs7_data;
    } else if (strcmp(argv[2], "crmf") == 0) {
        CMC_TAGGED_REQUEST *crm =
            (CMC_TAGGED_REQUEST *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TAGGED_REQUEST));
        crm->type = EST_CMC_REQUEST_CRM;
        crm->d.crm = sk_ASN1_TYPE_new_null();
        if (!sk_CMC_TAGGED_REQUEST_push(pki->requests, crm)) {
            ASN1_item_free((ASN1_VALUE *)crm, ASN1_ITEM_rptr(CMC_TAGGED_REQUEST));
            goto out;
        }
    } else {
        goto out;
    }
    der = cmc_fixture_sign(pki, nid, spec.signer_key, NULL, spec.csr, &len);
    rc = der != NULL && write_file(argv[5], der, len) && write_ids(argv[6], &ids) ? 0 : 1;
out:
    if (rc != 0)
        tool_fail("odd", &err);
    ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_DATA));
    est_free(csr_der);
    free(der);
    X509_REQ_free(spec.csr);
    EVP_PKEY_free(spec.signer_key);
    return rc;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enroll_request_signed_by_its_own_key_round_trips),
        cmocka_unit_test(enroll_request_signed_by_an_ra_names_the_ra),
        cmocka_unit_test(revoke_request_names_issuer_serial_and_reason),
        cmocka_unit_test(builder_refuses_incomplete_or_inconsistent_specs),
        cmocka_unit_test(every_request_has_fresh_ids),
        cmocka_unit_test(enroll_exchange_in_process),
    };

    if (argc > 1 && strcmp(argv[1], "response") == 0)
        return tool_response(argc, argv);
    if (argc > 1 && strcmp(argv[1], "odd") == 0)
        return tool_odd(argc, argv);
    if (argc > 1)
        return tool_request(argc, argv);
    return cmocka_run_group_tests(tests, cmc_fixture_group_setup, cmc_fixture_group_teardown);
}
