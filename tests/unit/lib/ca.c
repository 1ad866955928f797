/* Tests src/lib/ca.c: the CA object and /cacerts set, serial numbers,
 * self-signed roots. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include "estkit/ca.h"
#include "estkit/key.h"
#include "estkit/signer.h"
#include "estkit/name.h"
#include "ca_internal.h"
#include "ca_fixture.h"
#include "unit_main.h"

#define SERIAL_COUNT 1000

static int compare_hex(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* `openssl x509 -serial` prints serials with i2a_ASN1_INTEGER. */
static void openssl_serial_text(const ASN1_INTEGER *serial, char *out, size_t cap)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    assert_true(i2a_ASN1_INTEGER(bio, serial) > 0);
    n = BIO_get_mem_data(bio, &p);
    assert_true(n > 0 && (size_t)n < cap);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
}

static void serials_positive_short_distinct(void **state)
{
    char (*hex)[41] = calloc(SERIAL_COUNT, sizeof *hex);
    est_error err;
    (void)state;

    for (int i = 0; i < SERIAL_COUNT; i++) {
        ASN1_INTEGER *serial = NULL;
        BIGNUM *bn;
        unsigned char *der = NULL;
        char printed[64];
        int der_len;

        assert_int_equal(est_serial_random(&serial, &err), EST_OK);
        bn = ASN1_INTEGER_to_BN(serial, NULL);
        assert_false(BN_is_negative(bn));
        assert_false(BN_is_zero(bn));
        /* 127 bits at most; the INTEGER content is <= 16 octets (<= 20). */
        assert_true(BN_num_bits(bn) <= 127);
        der_len = i2d_ASN1_INTEGER(serial, &der);
        assert_true(der_len - 2 <= 16);
        assert_int_equal(est_serial_to_hex(serial, hex[i], &err), EST_OK);
        openssl_serial_text(serial, printed, sizeof printed);
        assert_string_equal(hex[i], printed);
        OPENSSL_free(der);
        BN_free(bn);
        ASN1_INTEGER_free(serial);
    }
    qsort(hex, SERIAL_COUNT, sizeof *hex, compare_hex);
    for (int i = 1; i < SERIAL_COUNT; i++)
        assert_string_not_equal(hex[i - 1], hex[i]);
    free(hex);
}

static ASN1_INTEGER *integer_from_bytes(const unsigned char *bytes, size_t len)
{
    BIGNUM *bn = BN_bin2bn(bytes, (int)len, NULL);
    ASN1_INTEGER *i = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    return i;
}

static void serial_hex_matches_openssl_and_bounds(void **state)
{
    static const unsigned char twenty[21] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,  5,  6,  7,
                                             8,    9,    10,   11,   12, 13, 14, 15, 16, 17};
    struct {
        const unsigned char *bytes;
        size_t len;
        const char *hex;
    } cases[] = {
        {(const unsigned char *)"", 0, "00"},
        {(const unsigned char *)"\x01", 1, "01"},
        {(const unsigned char *)"\x80", 1, "80"},
        {(const unsigned char *)"\xab\xcd\xef", 3, "ABCDEF"},
        {twenty, 20, "DEADBEEF0102030405060708090A0B0C0D0E0F10"},
    };
    char hex[41], printed[64];
    ASN1_INTEGER *i, *back = NULL;
    est_error err;
    (void)state;

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        i = integer_from_bytes(cases[c].bytes, cases[c].len);
        assert_int_equal(est_serial_to_hex(i, hex, &err), EST_OK);
        assert_string_equal(hex, cases[c].hex);
        openssl_serial_text(i, printed, sizeof printed);
        assert_string_equal(hex, printed);
        /* And back, in either case. */
        assert_int_equal(ca_serial_from_hex(cases[c].hex, &back, &err), EST_OK);
        assert_int_equal(ASN1_INTEGER_cmp(i, back), 0);
        ASN1_INTEGER_free(back);
        ASN1_INTEGER_free(i);
    }
    i = integer_from_bytes(twenty, 21);
    assert_int_equal(est_serial_to_hex(i, hex, &err), EST_E_INPUT);
    ASN1_INTEGER_free(i);
    i = ASN1_INTEGER_new();
    assert_true(ASN1_INTEGER_set(i, -5));
    assert_int_equal(est_serial_to_hex(i, hex, &err), EST_E_INPUT);
    ASN1_INTEGER_free(i);
}

static void serial_from_hex_rejects_bad_text(void **state)
{
    ASN1_INTEGER *i = NULL;
    est_error err;
    (void)state;

    assert_int_equal(ca_serial_from_hex("0a1b", &i, &err), EST_OK);
    assert_int_equal(ASN1_INTEGER_get(i), 0x0a1b);
    ASN1_INTEGER_free(i);
    i = NULL;
    /* 40 digits (20 octets) is the limit; 41 is past it. */
    assert_int_equal(ca_serial_from_hex("1234567890123456789012345678901234567890", &i, &err),
                     EST_OK);
    ASN1_INTEGER_free(i);
    i = NULL;
    assert_int_equal(ca_serial_from_hex("12345678901234567890123456789012345678901", &i, &err),
                     EST_E_INPUT);
    assert_int_equal(ca_serial_from_hex("", &i, &err), EST_E_INPUT);
    assert_int_equal(ca_serial_from_hex("12G4", &i, &err), EST_E_INPUT);
    assert_int_equal(ca_serial_from_hex("-1234", &i, &err), EST_E_INPUT);
    assert_int_equal(ca_serial_from_hex("12 34", &i, &err), EST_E_INPUT);
    assert_int_equal(ca_serial_from_hex("0x1234", &i, &err), EST_E_INPUT);
    assert_null(i);
}

static void root_is_a_proper_ca(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P384);
    X509 *root = NULL;
    BASIC_CONSTRAINTS *bc;
    ASN1_BIT_STRING *usage;
    AUTHORITY_KEYID *akid;
    const ASN1_OCTET_STRING *ski;
    time_t now = time(NULL), nb, na;
    int critical = -1;
    est_error err;
    (void)state;

    assert_int_equal(est_ca_make_root(key, "CN=Root,O=Example", 3650, &root, &err), EST_OK);
    assert_int_equal(X509_get_version(root), X509_VERSION_3);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(root), X509_get_issuer_name(root)), 0);
    bc = ca_fixture_ext(root, NID_basic_constraints, &critical);
    assert_non_null(bc);
    assert_true(bc->ca);
    assert_int_equal(critical, 1);
    BASIC_CONSTRAINTS_free(bc);
    usage = ca_fixture_ext(root, NID_key_usage, &critical);
    assert_int_equal(critical, 1);
    assert_true(ASN1_BIT_STRING_get_bit(usage, 5) && ASN1_BIT_STRING_get_bit(usage, 6));
    assert_false(ASN1_BIT_STRING_get_bit(usage, 0));
    ASN1_BIT_STRING_free(usage);
    ski = X509_get0_subject_key_id(root);
    akid = ca_fixture_ext(root, NID_authority_key_identifier, &critical);
    assert_non_null(ski);
    assert_int_equal(ASN1_STRING_length(ski), 20);
    assert_int_equal(ASN1_OCTET_STRING_cmp(ski, akid->keyid), 0);
    AUTHORITY_KEYID_free(akid);
    assert_int_equal(X509_get_ext_count(root), 4);
    assert_int_equal(X509_get_signature_nid(root), NID_ecdsa_with_SHA384);
    assert_int_equal(ca_time_to_time_t(X509_get0_notBefore(root), &nb, &err), EST_OK);
    assert_int_equal(ca_time_to_time_t(X509_get0_notAfter(root), &na, &err), EST_OK);
    assert_true(nb <= now - 300 && nb >= now - 310);
    assert_true(na >= now + 3650L * 86400 && na <= now + 3650L * 86400 + 10);
    assert_int_equal(ca_fixture_verify(root, NULL, root, NULL), X509_V_OK);
    X509_free(root);
    EVP_PKEY_free(key);
}

static void root_validity_limits(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509 *root = NULL;
    time_t na;
    est_error err;
    (void)state;

    assert_int_equal(est_ca_make_root(key, "CN=r", 0, &root, &err), EST_E_INPUT);
    assert_int_equal(est_ca_make_root(key, "CN=r", 36501, &root, &err), EST_E_INPUT);
    assert_null(root);
    /* 100 years: past 2049, so the time is a GeneralizedTime. */
    assert_int_equal(est_ca_make_root(key, "CN=r", 36500, &root, &err), EST_OK);
    assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(root)), V_ASN1_GENERALIZEDTIME);
    assert_int_equal(ca_time_to_time_t(X509_get0_notAfter(root), &na, &err), EST_OK);
    assert_true(na >= time(NULL) + 36500L * 86400 - 10);
    X509_free(root);
    assert_int_equal(est_ca_make_root(key, "CN=r,XX=y", 10, &root, &err), EST_E_INPUT);
    EVP_PKEY_free(key);
}

static void cacerts_are_cert_chain_extra_without_repeats(void **state)
{
    X509 *root = NULL, *other = NULL;
    EVP_PKEY *key = NULL;
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=main", 30, &root, &key);
    est_ca *ca2 = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=other", 30, &other, NULL);
    STACK_OF(X509) *chain = sk_X509_new_null(), *extra = sk_X509_new_null(), *got;
    est_ca *combined;
    (void)state;

    got = est_ca_get0_cacerts(ca);
    assert_int_equal(sk_X509_num(got), 1);
    assert_ptr_equal(sk_X509_value(got, 0), root);
    assert_ptr_equal(est_ca_get0_cert(ca), root);
    assert_true(sk_X509_push(chain, other));
    assert_true(sk_X509_push(extra, other) && sk_X509_push(extra, root));
    combined = est_ca_new(root, chain, extra, est_signer_new_key(key));
    got = est_ca_get0_cacerts(combined);
    assert_int_equal(sk_X509_num(got), 2);
    assert_ptr_equal(sk_X509_value(got, 0), root);
    assert_ptr_equal(sk_X509_value(got, 1), other);
    /* The CA holds its own references. */
    sk_X509_free(chain);
    sk_X509_free(extra);
    est_ca_free(combined);
    est_ca_free(ca);
    est_ca_free(ca2);
    X509_free(root);
    X509_free(other);
    EVP_PKEY_free(key);
}

/* The signer is owned from the call on: freed when est_ca_new fails
 * (LeakSanitizer would report it otherwise). */
static void ca_new_without_cert_frees_signer(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    (void)state;

    assert_null(est_ca_new(NULL, NULL, NULL, est_signer_new_key(key)));
    assert_null(est_ca_get0_cert(NULL));
    assert_null(est_ca_get0_cacerts(NULL));
    est_ca_free(NULL);
    EVP_PKEY_free(key);
}

UNIT_MAIN(
    cmocka_unit_test(serials_positive_short_distinct),
    cmocka_unit_test(serial_hex_matches_openssl_and_bounds),
    cmocka_unit_test(serial_from_hex_rejects_bad_text),
    cmocka_unit_test(root_is_a_proper_ca),
    cmocka_unit_test(root_validity_limits),
    cmocka_unit_test(cacerts_are_cert_chain_extra_without_repeats),
    cmocka_unit_test(ca_new_without_cert_frees_signer))
