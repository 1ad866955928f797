/* Tests src/lib/store.c: certificate records from X509, record frees, the
 * generic close. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include "estkit/store.h"
#include "unit_main.h"

/* 2001-09-09T01:46:40Z and 2100-01-01T00:00:00Z: the second is past 2049,
 * so it is a GeneralizedTime (RFC 5280 §4.1.2.5). */
#define T_NOT_BEFORE 1000000000
#define T_NOT_AFTER 4102444800

static EVP_PKEY *test_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int add_rdn(X509_NAME *name, const char *field, const char *value)
{
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC, (const unsigned char *)value, -1,
                                      -1, 0);
}

/* A self-signed certificate with the serial given as big-endian bytes
 * (negative: a negative INTEGER) and, when san != NULL, a subjectAltName in
 * OpenSSL's config syntax. */
static X509 *test_cert(EVP_PKEY *key, const unsigned char *serial, size_t serial_len, int negative,
                       const char *san)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    BIGNUM *bn = BN_bin2bn(serial, (int)serial_len, NULL);
    ASN1_INTEGER *sn = NULL;
    X509_EXTENSION *ext = NULL;
    int ok = 0;

    if (cert == NULL || name == NULL || bn == NULL)
        goto out;
    BN_set_negative(bn, negative);
    if ((sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || !X509_set_serialNumber(cert, sn) ||
        !X509_set_version(cert, 2) ||
        !add_rdn(name, "C", "DE") || !add_rdn(name, "O", "Example, Inc.") ||
        !add_rdn(name, "CN", "host.example") ||
        !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
        !ASN1_TIME_set(X509_getm_notBefore(cert), T_NOT_BEFORE) ||
        !ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)T_NOT_AFTER) ||
        !X509_set_pubkey(cert, key))
        goto out;
    if (san != NULL) {
        ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        if (ext == NULL || !X509_add_ext(cert, ext, -1))
            goto out;
    }
    ok = X509_sign(cert, key, EVP_sha256()) > 0;
out:
    X509_EXTENSION_free(ext);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    X509_NAME_free(name);
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static void hex_lower(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static void record_has_every_field(void **state)
{
    static const unsigned char serial[] = {0x8f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    EVP_PKEY *key = test_key();
    X509 *cert = test_cert(key, serial, sizeof serial, 0, "DNS:a.example, IP:192.0.2.1");
    est_cert_record *rec = NULL;
    unsigned char *der = NULL, *spki = NULL, md[32];
    char expect_spki[65];
    BIGNUM *bn = NULL;
    char *bn_hex = NULL;
    int der_len, spki_len;
    time_t before = time(NULL);
    (void)state;

    assert_non_null(cert);
    assert_int_equal(est_cert_record_from_x509(cert, &rec, NULL), EST_OK);
    /* The serial as BN_bn2hex (and `openssl x509 -serial`) prints it. */
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    bn_hex = BN_bn2hex(bn);
    assert_string_equal(rec->serial, bn_hex);
    assert_string_equal(rec->serial, "8F0102030405060708");
    /* RFC 2253: most specific RDN first, the comma in O escaped. */
    assert_string_equal(rec->subject, "CN=host.example,O=Example\\, Inc.,C=DE");
    assert_string_equal(rec->san, "DNS:a.example, IP Address:192.0.2.1");
    /* SHA-256 of the SubjectPublicKeyInfo, computed from the key. */
    spki_len = i2d_PUBKEY(key, &spki);
    assert_true(spki_len > 0);
    assert_true(EVP_Digest(spki, (size_t)spki_len, md, NULL, EVP_sha256(), NULL));
    hex_lower(md, sizeof md, expect_spki);
    assert_string_equal(rec->spki_sha256, expect_spki);
    assert_int_equal(rec->not_before, T_NOT_BEFORE);
    assert_int_equal(rec->not_after, T_NOT_AFTER);
    assert_true(rec->issued_at >= (int64_t)before && rec->issued_at <= (int64_t)time(NULL));
    der_len = i2d_X509(cert, &der);
    assert_int_equal(rec->der_len, der_len);
    assert_memory_equal(rec->der, der, (size_t)der_len);
    assert_int_equal(rec->status, EST_CERT_VALID);
    assert_int_equal(rec->revoked_at, 0);
    assert_int_equal(rec->revocation_reason, -1);
    assert_null(rec->label);
    assert_null(rec->requester);
    assert_null(rec->auth_method);
    assert_null(rec->operation);
    OPENSSL_free(der);
    OPENSSL_free(spki);
    OPENSSL_free(bn_hex);
    BN_free(bn);
    est_cert_record_free(rec);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void no_san_is_null_and_short_serial_keeps_its_zero(void **state)
{
    static const unsigned char serial[] = {0x0a};
    EVP_PKEY *key = test_key();
    X509 *cert = test_cert(key, serial, sizeof serial, 0, NULL);
    est_cert_record *rec = NULL;
    (void)state;

    assert_int_equal(est_cert_record_from_x509(cert, &rec, NULL), EST_OK);
    assert_null(rec->san);
    assert_string_equal(rec->serial, "0A");
    est_cert_record_free(rec);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* RFC 5280 §4.1.2.2: at most 20 octets, positive. */
static void serial_limits(void **state)
{
    unsigned char serial[21];
    EVP_PKEY *key = test_key();
    X509 *cert;
    est_cert_record *rec = NULL;
    est_error err;
    (void)state;

    memset(serial, 0x7f, sizeof serial);
    cert = test_cert(key, serial, 20, 0, NULL);
    assert_int_equal(est_cert_record_from_x509(cert, &rec, &err), EST_OK);
    assert_int_equal(strlen(rec->serial), 40);
    est_cert_record_free(rec);
    rec = NULL;
    X509_free(cert);

    cert = test_cert(key, serial, 21, 0, NULL);
    assert_int_equal(est_cert_record_from_x509(cert, &rec, &err), EST_E_INPUT);
    assert_null(rec);
    X509_free(cert);

    cert = test_cert(key, serial, 4, 1, NULL);
    assert_int_equal(est_cert_record_from_x509(cert, &rec, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "negative"));
    assert_null(rec);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void null_arguments(void **state)
{
    est_cert_record *rec = (est_cert_record *)1;
    EVP_PKEY *key = test_key();
    static const unsigned char serial[] = {1};
    X509 *cert = test_cert(key, serial, 1, 0, NULL);
    (void)state;

    assert_int_equal(est_cert_record_from_x509(NULL, &rec, NULL), EST_E_INTERNAL);
    assert_int_equal(est_cert_record_from_x509(cert, NULL, NULL), EST_E_INTERNAL);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static int closed;

static void counting_close(void *impl)
{
    closed++;
    free(impl);
}

static void close_calls_the_backend_and_frees_are_null_safe(void **state)
{
    static const est_store_ops ops = {.name = "test", .close = counting_close};
    est_store *store = calloc(1, sizeof *store);
    est_user_record *user = calloc(1, sizeof *user);
    est_pending_record *pending = calloc(1, sizeof *pending);
    (void)state;

    assert_non_null(store);
    store->ops = &ops;
    store->impl = malloc(16);
    est_store_close(store);
    assert_int_equal(closed, 1);
    est_store_close(NULL);
    est_cert_record_free(NULL);
    est_user_record_free(NULL);
    est_pending_record_free(NULL);
    /* Records with some fields set free cleanly (LSan watches). */
    user->name = strdup("bob");
    user->password_hash = strdup("$scrypt$...");
    user->digest_ha1_sha256 = strdup("00ff");
    est_user_record_free(user);
    pending->reason = strdup("no");
    pending->csr_der = malloc(3);
    est_pending_record_free(pending);
}

UNIT_MAIN(
    cmocka_unit_test(record_has_every_field),
    cmocka_unit_test(no_san_is_null_and_short_serial_keeps_its_zero),
    cmocka_unit_test(serial_limits),
    cmocka_unit_test(null_arguments),
    cmocka_unit_test(close_calls_the_backend_and_frees_are_null_safe))
