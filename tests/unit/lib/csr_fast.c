/* Tests src/lib/csr_fast.c: the PKCS#10 request read without OpenSSL 3.0's
 * key decoders must be the request OpenSSL reads (same bytes, same key, same
 * verdict on the signature), and est_csr_parse + est_csr_check must still
 * refuse every request whose key or signature is wrong when it goes that way. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include "csr_internal.h"
#include "ca_fixture.h"
#include "unit_main.h"

static unsigned char *der_of(X509_REQ *req, size_t *len)
{
    unsigned char *der = ca_fixture_csr_der(req, len);

    assert_non_null(der);
    return der;
}

/* est_csr_parse then est_csr_check, as estd does with a request body. */
static est_status parse_and_check(const unsigned char *der, size_t len, est_error *err)
{
    X509_REQ *csr = NULL;
    est_profile profile;
    est_status rc;

    est_profile_default(&profile);
    rc = est_csr_parse(der, len, &csr, err);
    if (rc == EST_OK)
        rc = est_csr_check(csr, &profile, err);
    X509_REQ_free(csr);
    return rc;
}

/* The fast request and OpenSSL's agree on der: bytes, key, signature. */
static void assert_same_as_openssl(const unsigned char *der, size_t len, int expect_fast)
{
    const unsigned char *p = der;
    X509_REQ *stock = d2i_X509_REQ(NULL, &p, (long)len), *fast = csr_decode_fast(der, len);
    unsigned char *again = NULL;
    int again_len;

    assert_non_null(stock);
    if (!expect_fast) {
        assert_null(fast);
        X509_REQ_free(stock);
        return;
    }
    assert_non_null(fast);
    again_len = i2d_X509_REQ(fast, &again);
    assert_int_equal(again_len, (int)len);
    assert_memory_equal(again, der, len);
    assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(fast), X509_REQ_get0_pubkey(stock)), 1);
    assert_int_equal(EVP_PKEY_get_bits(X509_REQ_get0_pubkey(fast)),
                     EVP_PKEY_get_bits(X509_REQ_get0_pubkey(stock)));
    assert_int_equal(X509_REQ_verify(fast, X509_REQ_get0_pubkey(fast)),
                     X509_REQ_verify(stock, X509_REQ_get0_pubkey(stock)));
    assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(fast),
                                   X509_REQ_get_subject_name(stock)), 0);
    assert_int_equal(X509_REQ_get_attr_count(fast), X509_REQ_get_attr_count(stock));
    OPENSSL_free(again);
    X509_REQ_free(fast);
    X509_REQ_free(stock);
}

/* Many requests of every key type: the fast path takes EC and RSA, leaves
 * Ed25519 to OpenSSL, and agrees with OpenSSL on good and bad signatures. */
static void test_fast_path_agrees_with_openssl(void **state)
{
    static const struct {
        int type; /* est_key_type, -1 for P-521 (which estkit does not generate) */
        int count, fast;
    } kinds[] = {{EST_KEY_EC_P256, 40, 1}, {EST_KEY_EC_P384, 10, 1}, {-1, 10, 1},
                 {EST_KEY_RSA_2048, 2, 1}, {EST_KEY_RSA_3072, 1, 1}, {EST_KEY_ED25519, 3, 0}};
    (void)state;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (int i = 0; i < kinds[k].count; i++) {
            EVP_PKEY *key = kinds[k].type < 0 ? EVP_EC_gen("P-521")
                                              : ca_fixture_key((est_key_type)kinds[k].type);
            X509_REQ *req = ca_fixture_csr(key, i % 2 == 0 ? "CN=device,O=Example" : NULL,
                                           i % 2 || i % 3 ? "device.example" : NULL, i == 1);
            size_t len = 0;
            unsigned char *der = der_of(req, &len);

            assert_same_as_openssl(der, len, kinds[k].fast);
            est_error err;
            if (parse_and_check(der, len, &err) != EST_OK)
                fail_msg("%s %d: %s", "kind", (int)k, err.message);
            der[len - 1] ^= 0x01; /* the signature's last byte */
            assert_same_as_openssl(der, len, kinds[k].fast);
            assert_int_equal(parse_and_check(der, len, NULL), EST_E_INPUT);
            OPENSSL_free(der);
            X509_REQ_free(req);
            EVP_PKEY_free(key);
        }
    }
}

/* A compressed point (X9.62 §4.3.6) stays compressed: nothing re-encoded. */
static void test_compressed_point_kept(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *req;
    size_t len = 0;
    unsigned char *der;

    (void)state;
    assert_int_equal(EVP_PKEY_set_utf8_string_param(
                         key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"), 1);
    req = ca_fixture_csr(key, "CN=device", NULL, 0);
    der = der_of(req, &len);
    assert_same_as_openssl(der, len, 1);
    assert_int_equal(parse_and_check(der, len, NULL), EST_OK);
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
}

/* The SPKI of key A signed by key B: no proof of possession of A. */
static void test_signature_by_another_key_refused(void **state)
{
    EVP_PKEY *a = ca_fixture_key(EST_KEY_EC_P256), *b = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *req = ca_fixture_csr(a, "CN=device", NULL, 0);
    unsigned char *der;
    size_t len = 0;
    est_error err;

    (void)state;
    assert_true(X509_REQ_sign(req, b, EVP_sha256()) > 0);
    der = der_of(req, &len);
    assert_same_as_openssl(der, len, 1); /* the fast path reads it ... */
    assert_int_equal(parse_and_check(der, len, &err), EST_E_INPUT); /* ... and refuses it */
    assert_non_null(strstr(err.message, "CSR signature does not verify"));
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

/* Replaces the first occurrence of what (len bytes) in der by with. */
static void swap_bytes(unsigned char *der, size_t der_len, const unsigned char *what,
                       const unsigned char *with, size_t len)
{
    unsigned char *at = memmem(der, der_len, what, len);

    assert_non_null(at);
    memcpy(at, with, len);
}

/* A signed request whose key bits were changed afterwards: to another
 * valid point (the signature no longer matches) or off the curve. */
static void test_key_altered_after_signing_refused(void **state)
{
    EVP_PKEY *a = ca_fixture_key(EST_KEY_EC_P256), *b = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *req = ca_fixture_csr(a, "CN=device", NULL, 0);
    unsigned char *der, *spki_a = NULL, *spki_b = NULL, *bad;
    int spki_len = i2d_PUBKEY(a, &spki_a);
    size_t len = 0;
    est_error err;

    (void)state;
    assert_int_equal(i2d_PUBKEY(b, &spki_b), spki_len);
    der = der_of(req, &len);
    assert_int_equal(parse_and_check(der, len, NULL), EST_OK);
    swap_bytes(der, len, spki_a, spki_b, (size_t)spki_len);
    assert_same_as_openssl(der, len, 1);
    assert_int_equal(parse_and_check(der, len, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "CSR signature does not verify"));
    /* Off the curve: the last byte of y changed. */
    bad = OPENSSL_memdup(spki_b, (size_t)spki_len);
    bad[spki_len - 1] ^= 0x01;
    swap_bytes(der, len, spki_b, bad, (size_t)spki_len);
    assert_null(csr_decode_fast(der, len));
    assert_int_equal(parse_and_check(der, len, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "CSR public key unreadable"));
    OPENSSL_free(bad);
    OPENSSL_free(spki_a);
    OPENSSL_free(spki_b);
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

/* Key bits with a byte after the point, signed by the key itself. */
static void test_trailing_key_bytes_refused(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *req = ca_fixture_csr(key, "CN=device", NULL, 0);
    X509_PUBKEY *spki = X509_REQ_get_X509_PUBKEY(req);
    const unsigned char *bits;
    unsigned char *longer, *der;
    int bits_len = 0;
    size_t len = 0;
    est_error err;

    (void)state;
    assert_int_equal(X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, spki), 1);
    longer = OPENSSL_malloc((size_t)bits_len + 1);
    memcpy(longer, bits, (size_t)bits_len);
    longer[bits_len] = 0x00;
    assert_int_equal(X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                                            V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1),
                                            longer, bits_len + 1), 1);
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    der = der_of(req, &len);
    assert_null(csr_decode_fast(der, len));
    assert_int_equal(parse_and_check(der, len, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "CSR public key unreadable"));
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
}

/* A curve est_csr_check refuses is left to OpenSSL, which names it. */
static void test_other_curve_refused_by_name(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("secp256k1");
    X509_REQ *req;
    unsigned char *der;
    size_t len = 0;
    est_error err;

    (void)state;
    assert_non_null(key);
    req = ca_fixture_csr(key, "CN=device", NULL, 0);
    der = der_of(req, &len);
    assert_null(csr_decode_fast(der, len));
    assert_int_equal(parse_and_check(der, len, &err), EST_E_POLICY);
    assert_non_null(strstr(err.message, "EC curve secp256k1 not allowed"));
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
}

/* Not DER, cut short, trailing bytes: never a request. */
static void test_malformed_requests(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *req = ca_fixture_csr(key, "CN=device", NULL, 0);
    size_t len = 0;
    unsigned char *der = der_of(req, &len), *longer = OPENSSL_malloc(len + 1);
    X509_REQ *out = NULL;

    (void)state;
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_null(csr_decode_fast(longer, len + 1));
    assert_int_equal(est_csr_parse(longer, len + 1, &out, NULL), EST_E_INPUT);
    assert_null(csr_decode_fast(der, len - 1));
    assert_int_equal(est_csr_parse(der, len - 1, &out, NULL), EST_E_INPUT);
    assert_null(csr_decode_fast(der, 0));
    assert_null(csr_decode_fast(NULL, len));
    assert_null(out);
    OPENSSL_free(longer);
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
}

UNIT_MAIN(
    cmocka_unit_test(test_fast_path_agrees_with_openssl),
    cmocka_unit_test(test_compressed_point_kept),
    cmocka_unit_test(test_signature_by_another_key_refused),
    cmocka_unit_test(test_key_altered_after_signing_refused),
    cmocka_unit_test(test_trailing_key_bytes_refused),
    cmocka_unit_test(test_other_curve_refused_by_name),
    cmocka_unit_test(test_malformed_requests))
