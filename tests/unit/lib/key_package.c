/* Tests src/lib/key_package.c: PKCS#8, the decrypt-key-identifier CSR
 * attributes (limits, duplicates, types), the signed-and-enveloped key
 * package for a pre-shared key (every AES key-wrap size) and for RSA and
 * EC certificates, and packages that must not open.
 *
 * Run with arguments it is the e2e helper that writes CSRs carrying a
 * DecryptKeyIdentifier (tests/e2e/server_serverkeygen.sh); see tool_csr. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/cms.h>
#include "estkit.h"
#include "ca_fixture.h"
#include "cmc_fixture.h"

static const uint8_t kek32[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t kek_id[] = {0xde, 0xad, 0xbe, 0xef};

static void pkcs8_round_trips(void **state)
{
    cmc_fixture *f = *state;
    uint8_t *der = NULL;
    size_t len = 0;
    const unsigned char *p;
    EVP_PKEY *back;

    assert_int_equal(est_key_pkcs8_encode(f->client_key, &der, &len, NULL), EST_OK);
    p = der;
    back = d2i_AutoPrivateKey(NULL, &p, (long)len);
    assert_non_null(back);
    assert_int_equal(EVP_PKEY_eq(back, f->client_key), 1);
    EVP_PKEY_free(back);
    est_key_der_free(der, len);
    est_key_der_free(NULL, 0);
}

static void decrypt_key_id_attribute_limits_and_shapes(void **state)
{
    cmc_fixture *f = *state;
    uint8_t id[EST_DECRYPT_KEY_ID_MAX + 1], out[EST_DECRYPT_KEY_ID_MAX];
    size_t len = 0;
    X509_REQ *csr = X509_REQ_new();
    ASN1_OBJECT *oid = OBJ_txt2obj(EST_OID_DECRYPT_KEY_ID, 1);

    memset(id, 0x42, sizeof id);
    assert_int_equal(est_csr_get_decrypt_key_id(f->csr, EST_DECRYPT_KEY_SYMMETRIC, out, sizeof out,
                                                &len, NULL), EST_E_NOT_FOUND);
    assert_int_equal(est_csr_add_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, id,
                                                EST_DECRYPT_KEY_ID_MAX + 1, NULL), EST_E_INPUT);
    assert_int_equal(est_csr_add_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, id, 0, NULL),
                     EST_E_INPUT);
    assert_int_equal(est_csr_add_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, id,
                                                EST_DECRYPT_KEY_ID_MAX, NULL), EST_OK);
    assert_int_equal(est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, out, sizeof out,
                                                &len, NULL), EST_OK);
    assert_int_equal(len, EST_DECRYPT_KEY_ID_MAX);
    assert_memory_equal(out, id, len);
    /* the other kind is a different attribute */
    assert_int_equal(est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_ASYMMETRIC, out, sizeof out,
                                                &len, NULL), EST_E_NOT_FOUND);
    /* a caller buffer too small for what came */
    assert_int_equal(est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, out, 8, &len,
                                                NULL), EST_E_INPUT);
    /* a second value is ambiguous */
    assert_true(X509_ATTRIBUTE_set1_data(X509_REQ_get_attr(csr, 0), V_ASN1_OCTET_STRING, id, 4));
    assert_int_equal(est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, out, sizeof out,
                                                &len, NULL), EST_E_INPUT);
    X509_REQ_free(csr);
    /* text strings are read as their bytes; other types are refused */
    csr = X509_REQ_new();
    assert_true(X509_REQ_add1_attr_by_OBJ(csr, oid, V_ASN1_UTF8STRING,
                                          (const unsigned char *)"kek-1", 5));
    assert_int_equal(est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, out, sizeof out,
                                                &len, NULL), EST_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "kek-1", 5);
    X509_REQ_free(csr);
    csr = X509_REQ_new();
    assert_true(X509_REQ_add1_attr_by_OBJ(csr, oid, V_ASN1_BMPSTRING,
                                          (const unsigned char *)"\0k", 2));
    assert_int_equal(est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, out, sizeof out,
                                                &len, NULL), EST_E_INPUT);
    X509_REQ_free(csr);
    ASN1_OBJECT_free(oid);
}

static X509_STORE *trust_of(X509 *cert)
{
    X509_STORE *store = X509_STORE_new();
    assert_true(X509_STORE_add_cert(store, cert));
    return store;
}

static void kek_package_opens_with_the_same_key_only(void **state)
{
    cmc_fixture *f = *state;
    static const size_t sizes[] = {16, 24, 32};
    X509_STORE *trust = trust_of(f->ca_cert);

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        est_key_package_recipient to = {.kek = kek32, .kek_len = sizes[i], .kek_id = kek_id,
                                        .kek_id_len = sizeof kek_id};
        est_key_package_recipient wrong_key = to, wrong_id = to;
        uint8_t other[32];
        uint8_t *der = NULL;
        size_t len = 0;
        EVP_PKEY *key = NULL;

        assert_int_equal(est_key_package_build(f->ca, f->client_key, &to, &der, &len, NULL), EST_OK);
        assert_int_equal(est_key_package_open(der, len, &to, NULL, trust, &key, NULL), EST_OK);
        assert_int_equal(EVP_PKEY_eq(key, f->client_key), 1);
        EVP_PKEY_free(key);
        key = NULL;
        memcpy(other, kek32, sizeof other);
        other[0] ^= 1;
        wrong_key.kek = other;
        assert_int_equal(est_key_package_open(der, len, &wrong_key, NULL, trust, &key, NULL),
                         EST_E_AUTH);
        wrong_id.kek_id_len = 2;
        assert_int_equal(est_key_package_open(der, len, &wrong_id, NULL, trust, &key, NULL),
                         EST_E_AUTH);
        assert_null(key);
        est_free(der);
    }
    X509_STORE_free(trust);
}

static void kek_sizes_and_ids_are_checked(void **state)
{
    cmc_fixture *f = *state;
    uint8_t long_id[EST_DECRYPT_KEY_ID_MAX + 1] = {0};
    est_key_package_recipient bad_len = {.kek = kek32, .kek_len = 20, .kek_id = kek_id,
                                         .kek_id_len = sizeof kek_id};
    est_key_package_recipient no_id = {.kek = kek32, .kek_len = 16, .kek_id = kek_id};
    est_key_package_recipient big_id = {.kek = kek32, .kek_len = 16, .kek_id = long_id,
                                        .kek_id_len = sizeof long_id};
    est_key_package_recipient nobody = {0};
    uint8_t *der = NULL;
    size_t len = 0;

    assert_int_equal(est_key_package_build(f->ca, f->client_key, &bad_len, &der, &len, NULL),
                     EST_E_CONFIG);
    assert_int_equal(est_key_package_build(f->ca, f->client_key, &no_id, &der, &len, NULL),
                     EST_E_CONFIG);
    assert_int_equal(est_key_package_build(f->ca, f->client_key, &big_id, &der, &len, NULL),
                     EST_E_CONFIG);
    big_id.kek_id_len = EST_DECRYPT_KEY_ID_MAX;
    assert_int_equal(est_key_package_build(f->ca, f->client_key, &big_id, &der, &len, NULL),
                     EST_OK);
    est_free(der);
    assert_int_equal(est_key_package_build(f->ca, f->client_key, &nobody, &der, &len, NULL),
                     EST_E_INTERNAL);
}

static void certificate_recipients_rsa_and_ec(void **state)
{
    cmc_fixture *f = *state;
    static const est_key_type types[] = {EST_KEY_EC_P256, EST_KEY_RSA_2048};
    X509_STORE *trust = trust_of(f->ca_cert);

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        EVP_PKEY *rkey = ca_fixture_key(types[i]), *key = NULL;
        X509 *rcert = cmc_fixture_issue(f->ca, rkey, "CN=recipient", "clientAuth");
        est_key_package_recipient to = {.cert = rcert};
        uint8_t *der = NULL;
        size_t len = 0;

        assert_int_equal(est_key_package_build(f->ca, f->client_key, &to, &der, &len, NULL), EST_OK);
        assert_int_equal(est_key_package_open(der, len, &to, rkey, trust, &key, NULL), EST_OK);
        assert_int_equal(EVP_PKEY_eq(key, f->client_key), 1);
        EVP_PKEY_free(key);
        key = NULL;
        /* someone else's key does not open it */
        to.cert = f->ra_cert;
        assert_int_equal(est_key_package_open(der, len, &to, f->ra_key, trust, &key, NULL),
                         EST_E_AUTH);
        est_free(der);
        X509_free(rcert);
        EVP_PKEY_free(rkey);
    }
    X509_STORE_free(trust);
}

static void signer_must_be_trusted(void **state)
{
    cmc_fixture *f = *state;
    X509 *other_root = NULL;
    est_ca *other = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Other", 30, &other_root, NULL);
    X509_STORE *wrong = trust_of(other_root);
    est_key_package_recipient to = {.kek = kek32, .kek_len = 32, .kek_id = kek_id,
                                    .kek_id_len = sizeof kek_id};
    uint8_t *der = NULL;
    size_t len = 0;
    EVP_PKEY *key = NULL;

    assert_int_equal(est_key_package_build(f->ca, f->client_key, &to, &der, &len, NULL), EST_OK);
    assert_int_equal(est_key_package_open(der, len, &to, NULL, wrong, &key, NULL), EST_E_AUTH);
    assert_int_equal(est_key_package_open(der, len, &to, NULL, NULL, &key, NULL), EST_OK);
    EVP_PKEY_free(key);
    est_free(der);
    X509_STORE_free(wrong);
    X509_free(other_root);
    est_ca_free(other);
}

static void malformed_packages_do_not_open(void **state)
{
    cmc_fixture *f = *state;
    est_key_package_recipient to = {.kek = kek32, .kek_len = 16, .kek_id = kek_id,
                                    .kek_id_len = sizeof kek_id};
    uint8_t *der = NULL, *longer, *big = calloc(1, EST_KEY_PACKAGE_MAX_DER + 1);
    size_t len = 0;
    EVP_PKEY *key = NULL;
    CMS_ContentInfo *plain;
    BIO *in = BIO_new_mem_buf("not a key package", 17);
    unsigned char *pd = NULL, *k = OPENSSL_memdup(kek32, 16), *id = OPENSSL_memdup(kek_id, 4);
    int plen;

    assert_int_equal(est_key_package_build(f->ca, f->client_key, &to, &der, &len, NULL), EST_OK);
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(est_key_package_open(der, n, &to, NULL, NULL, &key, NULL), EST_OK);
    longer = malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(est_key_package_open(longer, len + 1, &to, NULL, NULL, &key, NULL),
                     EST_E_PROTOCOL);
    assert_int_equal(est_key_package_open(big, EST_KEY_PACKAGE_MAX_DER + 1, &to, NULL, NULL, &key,
                                          NULL), EST_E_TOO_LARGE);
    /* enveloped, decrypts, but holds no signed key package */
    plain = CMS_EnvelopedData_create(EVP_aes_128_cbc());
    assert_true(CMS_set_detached(plain, 0));
    assert_non_null(CMS_add0_recipient_key(plain, NID_undef, k, 16, id, 4, NULL, NULL, NULL));
    assert_int_equal(CMS_final(plain, in, NULL, CMS_BINARY), 1);
    plen = i2d_CMS_ContentInfo(plain, &pd);
    assert_int_equal(est_key_package_open(pd, (size_t)plen, &to, NULL, NULL, &key, NULL),
                     EST_E_PROTOCOL);
    assert_null(key);
    OPENSSL_free(pd);
    CMS_ContentInfo_free(plain);
    BIO_free(in);
    free(big);
    free(longer);
    est_free(der);
}

/* csr KEY_OUT SUBJECT sym|asym ID_HEX OUT_DER: an EC P-256 key (PEM) and
 * a CSR (DER) carrying the DecryptKeyIdentifier or
 * AsymmetricDecryptKeyIdentifier attribute. */
static int tool_csr(int argc, char **argv)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *csr = X509_REQ_new();
    X509_NAME *name = NULL;
    uint8_t id[EST_DECRYPT_KEY_ID_MAX];
    long id_len = 0;
    unsigned char *bytes = NULL, *der = NULL;
    int n = -1, rc = 1;
    FILE *fp;

    if (argc != 7 || strcmp(argv[1], "csr") != 0) {
        fprintf(stderr, "usage: %s csr KEY_OUT SUBJECT sym|asym ID_HEX OUT_DER\n", argv[0]);
        return 2;
    }
    bytes = OPENSSL_hexstr2buf(argv[5], &id_len);
    if (key == NULL || csr == NULL || bytes == NULL || id_len > (long)sizeof id ||
        est_name_parse(argv[3], &name, NULL) != EST_OK || !X509_REQ_set_subject_name(csr, name) ||
        !X509_REQ_set_pubkey(csr, key))
        goto out;
    memcpy(id, bytes, (size_t)id_len);
    if (est_csr_add_decrypt_key_id(csr, strcmp(argv[4], "asym") == 0 ? EST_DECRYPT_KEY_ASYMMETRIC
                                                                    : EST_DECRYPT_KEY_SYMMETRIC,
                                   id, (size_t)id_len, NULL) != EST_OK ||
        X509_REQ_sign(csr, key, EVP_sha256()) <= 0 ||
        est_key_write_file(argv[2], key, NULL) != EST_OK || (n = i2d_X509_REQ(csr, &der)) <= 0)
        goto out;
    if ((fp = fopen(argv[6], "wb")) != NULL) {
        rc = fwrite(der, 1, (size_t)n, fp) == (size_t)n ? 0 : 1;
        if (fclose(fp) != 0)
            rc = 1;
    }
out:
    if (rc != 0)
        fprintf(stderr, "key_package tool: csr: failed\n");
    OPENSSL_free(bytes);
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    return rc;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pkcs8_round_trips),
        cmocka_unit_test(decrypt_key_id_attribute_limits_and_shapes),
        cmocka_unit_test(kek_package_opens_with_the_same_key_only),
        cmocka_unit_test(kek_sizes_and_ids_are_checked),
        cmocka_unit_test(certificate_recipients_rsa_and_ec),
        cmocka_unit_test(signer_must_be_trusted),
        cmocka_unit_test(malformed_packages_do_not_open),
    };

    if (argc > 1)
        return tool_csr(argc, argv);
    return cmocka_run_group_tests(tests, cmc_fixture_group_setup, cmc_fixture_group_teardown);
}
