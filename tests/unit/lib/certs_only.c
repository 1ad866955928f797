/* Tests src/lib/certs_only.c: the certs-only Simple PKI Response, built and
 * parsed, against generated certificates and the seed's appendix traces. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "estkit/body.h"
#include "estkit/certs_only.h"
#include "estkit/mem.h"
#include "seed_appendix.h"
#include "unit_main.h"

/* ---- fixtures ---------------------------------------------------------- */

static EVP_PKEY *test_key;

static int group_setup(void **state)
{
    (void)state;
    test_key = EVP_EC_gen("P-256");
    return test_key == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(test_key);
    return 0;
}

/* A small self-signed certificate with subject CN=cn for key. */
static X509 *make_cert_with_key(const char *cn, EVP_PKEY *key)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();

    assert_non_null(cert);
    assert_non_null(name);
    assert_int_equal(X509_set_version(cert, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(cert), 1), 1);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)cn, -1, -1, 0), 1);
    assert_int_equal(X509_set_subject_name(cert, name), 1);
    assert_int_equal(X509_set_issuer_name(cert, name), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), 3600));
    assert_int_equal(X509_set_pubkey(cert, key), 1);
    assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
    X509_NAME_free(name);
    return cert;
}

static X509 *make_cert(const char *cn)
{
    return make_cert_with_key(cn, test_key);
}

/* certs named "c0", "c1", ... */
static STACK_OF(X509) *make_certs(int n)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    char cn[16];

    assert_non_null(certs);
    for (int i = 0; i < n; i++) {
        snprintf(cn, sizeof cn, "c%d", i);
        assert_true(sk_X509_push(certs, make_cert(cn)) > 0);
    }
    return certs;
}

static const char *subject_of(X509 *cert, char *buf, size_t size)
{
    return X509_NAME_oneline(X509_get_subject_name(cert), buf, (int)size);
}

/* DER of a PKCS7 the test assembled itself (to reach the parser's checks
 * with inputs our builder refuses to make). */
static uint8_t *pkcs7_der(PKCS7 *p7, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PKCS7(p7, &der);

    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

/* A degenerate SignedData holding certs, built without the code under test. */
static uint8_t *raw_certs_only(STACK_OF(X509) *certs, size_t *len)
{
    PKCS7 *p7 = PKCS7_new();
    uint8_t *der;

    assert_non_null(p7);
    assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
    assert_int_equal(PKCS7_content_new(p7, NID_pkcs7_data), 1);
    for (int i = 0; i < sk_X509_num(certs); i++)
        assert_int_equal(PKCS7_add_certificate(p7, sk_X509_value(certs, i)), 1);
    der = pkcs7_der(p7, len);
    PKCS7_free(p7);
    return der;
}

static void expect_parse_fails(const uint8_t *der, size_t len, est_status code)
{
    STACK_OF(X509) *out = (STACK_OF(X509) *)1;
    est_error err;

    est_error_clear(&err);
    assert_int_equal(est_certs_only_parse(der, len, &out, &err), code);
    assert_int_equal(err.code, code);
    assert_true(err.message[0] != '\0');
    assert_null(out);
}

/* ---- build and parse ----------------------------------------------------- */

static void round_trip_keeps_order(void **state)
{
    STACK_OF(X509) *certs = make_certs(3), *out = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    est_error err;

    (void)state;
    /* Not in sorted order, so a SET OF sort would show. */
    X509 *last = sk_X509_pop(certs);
    assert_true(sk_X509_unshift(certs, last) > 0);
    assert_int_equal(est_certs_only_build(certs, &der, &len, &err), EST_OK);
    assert_int_equal(est_certs_only_parse(der, len, &out, &err), EST_OK);
    assert_int_equal(sk_X509_num(out), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(X509_cmp(sk_X509_value(certs, i), sk_X509_value(out, i)), 0);
        /* The result holds its own references. */
        assert_ptr_not_equal(sk_X509_value(certs, i), sk_X509_value(out, i));
    }
    est_free(der);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(out, X509_free);
}

/* RFC 5272 §4.1 / RFC 7030 §4.1.3: version 1, empty digestAlgorithms, an
 * encapContentInfo that is the id-data OID with no content, no signers. */
static void build_has_simple_pki_response_shape(void **state)
{
    static const uint8_t head[] = {
        0x02, 0x01, 0x01,                                    /* version 1 */
        0x31, 0x00,                                          /* digestAlgorithms {} */
        0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, /* id-data */
        0xa0,                                                /* certificates [0] */
    };
    STACK_OF(X509) *certs = make_certs(1);
    const unsigned char *p;
    uint8_t *der = NULL;
    size_t len = 0;
    PKCS7 *p7;

    (void)state;
    assert_int_equal(est_certs_only_build(certs, &der, &len, NULL), EST_OK);
    assert_non_null(memmem(der, len, head, sizeof head));
    /* Ends with an empty signerInfos SET. */
    assert_int_equal(der[len - 2], 0x31);
    assert_int_equal(der[len - 1], 0x00);
    p = der;
    p7 = d2i_PKCS7(NULL, &p, (long)len);
    assert_non_null(p7);
    assert_true(PKCS7_type_is_signed(p7));
    assert_int_equal(ASN1_INTEGER_get(p7->d.sign->version), 1);
    assert_int_equal(sk_X509_ALGOR_num(p7->d.sign->md_algs), 0);
    assert_int_equal(OBJ_obj2nid(p7->d.sign->contents->type), NID_pkcs7_data);
    assert_null(p7->d.sign->contents->d.data);
    assert_int_equal(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
    PKCS7_free(p7);
    est_free(der);
    sk_X509_pop_free(certs, X509_free);
}

static void cert_count_limit(void **state)
{
    STACK_OF(X509) *certs = make_certs(EST_CERTS_ONLY_MAX_CERTS), *out = NULL;
    uint8_t *der = NULL, *raw;
    size_t len = 0, raw_len;
    est_error err;

    (void)state;
    /* At the limit: fine both ways. */
    assert_int_equal(est_certs_only_build(certs, &der, &len, &err), EST_OK);
    assert_int_equal(est_certs_only_parse(der, len, &out, &err), EST_OK);
    assert_int_equal(sk_X509_num(out), EST_CERTS_ONLY_MAX_CERTS);
    est_free(der);
    sk_X509_pop_free(out, X509_free);

    /* One past: the builder refuses, and so does the parser. */
    assert_true(sk_X509_push(certs, make_cert("one too many")) > 0);
    der = (uint8_t *)1;
    assert_int_equal(est_certs_only_build(certs, &der, &len, &err), EST_E_TOO_LARGE);
    assert_null(der);
    raw = raw_certs_only(certs, &raw_len);
    expect_parse_fails(raw, raw_len, EST_E_TOO_LARGE);
    OPENSSL_free(raw);
    sk_X509_pop_free(certs, X509_free);
}

static void zero_certs_is_an_error(void **state)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    uint8_t *der = NULL, *raw;
    size_t len = 0, raw_len;

    (void)state;
    assert_int_equal(est_certs_only_build(certs, &der, &len, NULL), EST_E_INPUT);
    assert_int_equal(est_certs_only_build(NULL, &der, &len, NULL), EST_E_INPUT);
    assert_null(der);
    raw = raw_certs_only(certs, &raw_len);
    expect_parse_fails(raw, raw_len, EST_E_INPUT);
    OPENSSL_free(raw);
    sk_X509_free(certs);
}

static void build_rejects_null_arguments(void **state)
{
    STACK_OF(X509) *certs = make_certs(1);
    size_t len;

    (void)state;
    assert_int_equal(est_certs_only_build(certs, NULL, &len, NULL), EST_E_INTERNAL);
    sk_X509_pop_free(certs, X509_free);
    assert_int_equal(est_certs_only_parse((const uint8_t *)"\x30\x00", 2, NULL, NULL),
                     EST_E_INTERNAL);
}

/* ---- malformed input ------------------------------------------------------ */

static void truncated_trailing_and_wrong_tag(void **state)
{
    STACK_OF(X509) *certs = make_certs(2);
    uint8_t *der = NULL, *copy;
    size_t len = 0;

    (void)state;
    assert_int_equal(est_certs_only_build(certs, &der, &len, NULL), EST_OK);
    /* Every proper prefix is truncated. */
    for (size_t cut = 1; cut < len; cut++)
        expect_parse_fails(der, cut, EST_E_INPUT);
    expect_parse_fails(der, 0, EST_E_INPUT);
    expect_parse_fails(NULL, 10, EST_E_INPUT);

    copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, der, len);
    copy[len] = 0x00;
    expect_parse_fails(copy, len + 1, EST_E_INPUT);   /* one trailing byte */
    copy[0] = 0x31;                                    /* SET, not SEQUENCE */
    expect_parse_fails(copy, len, EST_E_INPUT);
    copy[0] = 0x04;                                    /* OCTET STRING */
    expect_parse_fails(copy, len, EST_E_INPUT);
    free(copy);
    expect_parse_fails((const uint8_t *)"certainly not DER", 17, EST_E_INPUT);
    est_free(der);
    sk_X509_pop_free(certs, X509_free);
}

static void other_content_types_are_rejected(void **state)
{
    /* ContentInfo { signedData } with the OPTIONAL [0] content absent. */
    static const uint8_t no_content[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
                                         0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
    STACK_OF(X509) *recipients;
    X509 *recipient;
    EVP_PKEY *rsa;
    BIO *data;
    PKCS7 *p7;
    uint8_t *der;
    size_t len;

    (void)state;
    expect_parse_fails(no_content, sizeof no_content, EST_E_INPUT);

    /* envelopedData (1.2.840.113549.1.7.3), made for real: PKCS#7 key
     * transport wants an RSA recipient. */
    rsa = EVP_RSA_gen(2048);
    assert_non_null(rsa);
    recipient = make_cert_with_key("recipient", rsa);
    recipients = sk_X509_new_null();
    assert_non_null(recipients);
    assert_true(sk_X509_push(recipients, recipient) > 0);
    data = BIO_new_mem_buf("secret", 6);
    assert_non_null(data);
    p7 = PKCS7_encrypt(recipients, data, EVP_aes_128_cbc(), PKCS7_BINARY);
    assert_non_null(p7);
    assert_true(PKCS7_type_is_enveloped(p7));
    der = pkcs7_der(p7, &len);
    expect_parse_fails(der, len, EST_E_INPUT);
    OPENSSL_free(der);
    PKCS7_free(p7);
    BIO_free(data);
    sk_X509_pop_free(recipients, X509_free);
    EVP_PKEY_free(rsa);

    /* plain data */
    p7 = PKCS7_new();
    assert_non_null(p7);
    assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_data), 1);
    der = pkcs7_der(p7, &len);
    expect_parse_fails(der, len, EST_E_INPUT);
    OPENSSL_free(der);
    PKCS7_free(p7);
}

/* A signed response is a Full PKI Response, not a Simple one. */
static void signed_response_is_rejected(void **state)
{
    X509 *cert = make_cert("signer");
    BIO *data = BIO_new_mem_buf("payload", 7);
    PKCS7 *p7;
    uint8_t *der;
    size_t len;

    (void)state;
    assert_non_null(data);
    p7 = PKCS7_sign(cert, test_key, NULL, data, PKCS7_BINARY);
    assert_non_null(p7);
    assert_int_equal(sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)), 1);
    assert_int_equal(sk_X509_num(p7->d.sign->cert), 1);
    der = pkcs7_der(p7, &len);
    expect_parse_fails(der, len, EST_E_INPUT);
    OPENSSL_free(der);
    PKCS7_free(p7);
    BIO_free(data);
    X509_free(cert);
}

/* ---- the seed's appendix traces -------------------------------------------- */

#define SEED_BLOBS 4


/* Turns one appendix blob (from just after "-----BEGIN PKCS7-----." to its
 * END line) back into PEM: the artwork's own line breaks are wrapping, '.'
 * stands for a newline in curl's trace, and a line may carry a curl trace
 * offset prefix ("0000: "). */
static char *unwrap_trace_pem(const char *start, const char *end)
{
    char *pem = malloc((size_t)(end - start) + 64);
    size_t n = 0;
    int line_start = 1;

    assert_non_null(pem);
    n += (size_t)sprintf(pem, "-----BEGIN PKCS7-----\n");
    for (const char *s = start; s < end; s++) {
        if (line_start && end - s > 6 && s[4] == ':' && s[5] == ' ' &&
            strspn(s, "0123456789abcdefABCDEF") == 4)
            s += 6;
        line_start = *s == '\n';
        if (*s == '\n' || *s == '\r')
            continue;
        if (*s == '.') {
            if (n > 0 && pem[n - 1] != '\n')
                pem[n++] = '\n';
            continue;
        }
        pem[n++] = *s;
    }
    if (pem[n - 1] != '\n')
        pem[n++] = '\n';
    n += (size_t)sprintf(pem + n, "-----END PKCS7-----\n");
    return pem;
}

/* The body codec reads the PEM as an EST client would. */
static uint8_t *pem_to_der(const char *pem, size_t *len)
{
    uint8_t *der = NULL;
    char *label = NULL;
    est_error err;

    assert_int_equal(est_body_decode((const uint8_t *)pem, strlen(pem), &der, len, &label, &err),
                     EST_OK);
    assert_string_equal(label, "PKCS7");
    est_free(label);
    return der;
}

/* The trace-form PKCS#7 blobs of the appendix, in document order:
 * /CACerts, /simpleEnroll (certificate auth), /simpleEnroll (password auth;
 * the seed's re-enrollment example says its traffic is the same), and the
 * certificate part of /serverKeyGen. */
static int seed_blobs(uint8_t *der[SEED_BLOBS], size_t len[SEED_BLOBS])
{
    static const char begin[] = "-----BEGIN PKCS7-----.";
    char *spec = seed_appendix_read();
    const char *s = strstr(spec, "Operational Scenario Example Messages");
    int n = 0;

    assert_non_null(s);
    while ((s = strstr(s, begin)) != NULL) {
        const char *body = s + strlen(begin);
        const char *end = strstr(body, "-----END PKCS7-----");
        char *pem;

        assert_non_null(end);
        assert_true(n < SEED_BLOBS);
        pem = unwrap_trace_pem(body, end);
        der[n] = pem_to_der(pem, &len[n]);
        free(pem);
        n++;
        s = end;
    }
    free(spec);
    return n;
}

static void seed_appendix_responses_parse(void **state)
{
    static const char *const subjects[SEED_BLOBS] = {
        "/CN=estExampleCA",
        "/CN=req by client in demo step 6/serialNumber=PID:Widget SN:6",
        "/CN=req by client in demo step 2/serialNumber=PID:Widget SN:2",
        "/CN=serverside key generated response",
    };
    uint8_t *der[SEED_BLOBS];
    size_t len[SEED_BLOBS];
    STACK_OF(X509) *certs[SEED_BLOBS] = {NULL};
    char buf[256];
    est_error err;

    (void)state;
    assert_int_equal(seed_blobs(der, len), SEED_BLOBS);
    for (int i = 0; i < SEED_BLOBS; i++) {
        assert_int_equal(est_certs_only_parse(der[i], len[i], &certs[i], &err), EST_OK);
        assert_int_equal(sk_X509_num(certs[i]), 1);
        assert_string_equal(subject_of(sk_X509_value(certs[i], 0), buf, sizeof buf),
                            subjects[i]);
        /* Issued by the CA that /CACerts hands out (self-issued for it). */
        assert_int_equal(X509_check_issued(sk_X509_value(certs[0], 0),
                                           sk_X509_value(certs[i], 0)),
                         X509_V_OK);
    }
    for (int i = 0; i < SEED_BLOBS; i++) {
        sk_X509_pop_free(certs[i], X509_free);
        free(der[i]);
    }
}

/* What we build from the seed's certificates parses back to the same. */
static void seed_certificates_rebuild(void **state)
{
    uint8_t *der[SEED_BLOBS], *rebuilt = NULL;
    size_t len[SEED_BLOBS], rebuilt_len = 0;
    STACK_OF(X509) *all = sk_X509_new_null(), *one = NULL, *back = NULL;

    (void)state;
    assert_non_null(all);
    assert_int_equal(seed_blobs(der, len), SEED_BLOBS);
    for (int i = 0; i < SEED_BLOBS; i++) {
        assert_int_equal(est_certs_only_parse(der[i], len[i], &one, NULL), EST_OK);
        assert_true(sk_X509_push(all, sk_X509_shift(one)) > 0);
        sk_X509_pop_free(one, X509_free);
        free(der[i]);
    }
    assert_int_equal(est_certs_only_build(all, &rebuilt, &rebuilt_len, NULL), EST_OK);
    assert_int_equal(est_certs_only_parse(rebuilt, rebuilt_len, &back, NULL), EST_OK);
    assert_int_equal(sk_X509_num(back), SEED_BLOBS);
    for (int i = 0; i < SEED_BLOBS; i++)
        assert_int_equal(X509_cmp(sk_X509_value(all, i), sk_X509_value(back, i)), 0);
    est_free(rebuilt);
    sk_X509_pop_free(all, X509_free);
    sk_X509_pop_free(back, X509_free);
}

UNIT_MAIN_GROUP(group_setup, group_teardown,
    cmocka_unit_test(round_trip_keeps_order),
    cmocka_unit_test(build_has_simple_pki_response_shape),
    cmocka_unit_test(cert_count_limit),
    cmocka_unit_test(zero_certs_is_an_error),
    cmocka_unit_test(build_rejects_null_arguments),
    cmocka_unit_test(truncated_trailing_and_wrong_tag),
    cmocka_unit_test(other_content_types_are_rejected),
    cmocka_unit_test(signed_response_is_rejected),
    cmocka_unit_test(seed_appendix_responses_parse),
    cmocka_unit_test(seed_certificates_rebuild))
