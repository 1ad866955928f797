/* Tests src/lib/client_cacerts.c: the trust anchor of a /cacerts answer
 * (draft-04 §4.1.3, with real RFC 4210 rollover sets from est_ca_rollover),
 * fingerprints for the bootstrap (§4.1.1), and decoding of the response in
 * every form RFC 8951 allows, plus malformed ones. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "client_internal.h"
#include "estkit/body.h"
#include "estkit/certs_only.h"
#include "estkit/issue.h"
#include "estkit/rollover.h"
#include "estkit/mem.h"
#include "ca_fixture.h"
#include "unit_main.h"

typedef ca_fixture_rollover rollover;

/* One CA's rollover; the new root outlives the old one: it is the newest
 * (§4.1.3). */
static rollover *rollover_new(void)
{
    rollover *r = ca_fixture_rollover_new(EST_KEY_EC_P256, "CN=Rollover CA", 365,
                                          EST_KEY_EC_P256, "CN=Rollover CA", 730);

    assert_non_null(r);
    return r;
}

/* A stack of the given certificates (borrowed), NULL-terminated list. */
static STACK_OF(X509) *stack_of(X509 *first, ...)
{
    STACK_OF(X509) *s = sk_X509_new_null();
    va_list ap;

    va_start(ap, first);
    for (X509 *c = first; c != NULL; c = va_arg(ap, X509 *))
        assert_true(sk_X509_push(s, c) > 0);
    va_end(ap);
    return s;
}

static void expect_anchor(STACK_OF(X509) *in, X509 *anchor, int count)
{
    STACK_OF(X509) *ordered = NULL;
    est_error err;

    if (est_cacerts_select_anchor(in, &ordered, &err) != EST_OK)
        fail_msg("select: %s", err.message);
    assert_int_equal(sk_X509_num(ordered), count);
    assert_int_equal(X509_cmp(sk_X509_value(ordered, 0), anchor), 0);
    sk_X509_pop_free(ordered, X509_free);
}

static void expect_refused(STACK_OF(X509) *in, est_status code, const char *why)
{
    STACK_OF(X509) *ordered = (STACK_OF(X509) *)1;
    est_error err;

    assert_int_equal(est_cacerts_select_anchor(in, &ordered, &err), code);
    assert_null(ordered);
    if (strstr(err.message, why) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err.message, why);
}

static void single_root_is_the_anchor(void **state)
{
    rollover *r = rollover_new();
    STACK_OF(X509) *in = stack_of(r->old_root, NULL);

    (void)state;
    expect_anchor(in, r->old_root, 1);
    sk_X509_free(in);
    ca_fixture_rollover_free(r);
}

static void rollover_set_in_any_order(void **state)
{
    rollover *r = rollover_new();
    STACK_OF(X509) *a = stack_of(r->old_root, r->old_with_new, r->new_with_old, r->new_root, NULL);
    STACK_OF(X509) *b = stack_of(r->new_root, r->new_with_old, r->old_with_new, r->old_root, NULL);
    STACK_OF(X509) *c = stack_of(r->new_with_old, r->old_root, r->new_root, r->old_with_new, NULL);

    (void)state;
    expect_anchor(a, r->new_root, 4);
    expect_anchor(b, r->new_root, 4);
    expect_anchor(c, r->new_root, 4);
    sk_X509_free(a);
    sk_X509_free(b);
    sk_X509_free(c);
    ca_fixture_rollover_free(r);
}

static void rollover_links_are_needed(void **state)
{
    rollover *r = rollover_new();
    STACK_OF(X509) *no_oldwithnew = stack_of(r->old_root, r->new_with_old, r->new_root, NULL);
    STACK_OF(X509) *roots_only = stack_of(r->old_root, r->new_root, NULL);
    STACK_OF(X509) *new_side = stack_of(r->new_root, r->old_with_new, NULL);

    (void)state;
    /* NewWithOld is signed by the old key: without OldWithNew nothing
     * certifies that key under the new root. */
    expect_refused(no_oldwithnew, EST_E_TLS, "certificate 2");
    expect_refused(roots_only, EST_E_TLS, "no link certifies");
    expect_anchor(new_side, r->new_root, 2);
    sk_X509_free(no_oldwithnew);
    sk_X509_free(roots_only);
    sk_X509_free(new_side);
    ca_fixture_rollover_free(r);
}

static X509 *issued_by(est_ca *ca, const char *cn)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *csr = ca_fixture_csr(key, cn, NULL, 0);
    X509 *cert = NULL;

    assert_int_equal(est_ca_issue(ca, csr, NULL, NULL, &cert, NULL), EST_OK);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    return cert;
}

static void strangers_are_refused(void **state)
{
    rollover *r = rollover_new();
    X509 *other_root = NULL;
    est_ca *other = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Other", 30, &other_root, NULL);
    X509 *stranger = issued_by(other, "CN=stranger"), *ours = issued_by(r->old_ca, "CN=ours");
    STACK_OF(X509) *with_stranger = stack_of(r->old_root, stranger, NULL);
    STACK_OF(X509) *with_ours = stack_of(ours, r->old_root, NULL);
    STACK_OF(X509) *no_root = stack_of(ours, stranger, NULL);
    STACK_OF(X509) *empty = sk_X509_new_null();

    (void)state;
    expect_refused(with_stranger, EST_E_TLS, "certificate 2 (/CN=stranger)");
    expect_anchor(with_ours, r->old_root, 2);
    expect_refused(no_root, EST_E_PROTOCOL, "no self-signed");
    expect_refused(empty, EST_E_PROTOCOL, "no self-signed");
    expect_refused(NULL, EST_E_PROTOCOL, "no self-signed");
    sk_X509_free(with_stranger);
    sk_X509_free(with_ours);
    sk_X509_free(no_root);
    sk_X509_free(empty);
    X509_free(stranger);
    X509_free(ours);
    X509_free(other_root);
    est_ca_free(other);
    ca_fixture_rollover_free(r);
}

static void sha256_hex(X509 *cert, char *hex, int colons, int upper)
{
    unsigned char md[32];
    unsigned int len = 0;
    size_t n = 0;

    assert_int_equal(X509_digest(cert, EVP_sha256(), md, &len), 1);
    for (unsigned int i = 0; i < len; i++)
        n += (size_t)sprintf(hex + n, upper ? "%02X%s" : "%02x%s", md[i],
                             colons && i + 1 < len ? ":" : "");
}

static void fingerprint_check_forms(void **state)
{
    rollover *r = rollover_new();
    char hex[200], text[220];
    est_error err;

    (void)state;
    sha256_hex(r->old_root, hex, 0, 0);
    snprintf(text, sizeof text, "sha256:%s", hex);
    assert_int_equal(est_fingerprint_check(r->old_root, text, &err), EST_OK);
    assert_int_equal(est_fingerprint_check(NULL, text, &err), EST_OK);
    sha256_hex(r->old_root, hex, 1, 1);
    snprintf(text, sizeof text, "SHA256:%s", hex);
    assert_int_equal(est_fingerprint_check(r->old_root, text, &err), EST_OK);
    /* The right text for another certificate: a mismatch, not a format error. */
    assert_int_equal(est_fingerprint_check(r->new_root, text, &err), EST_E_AUTH);
    text[strlen(text) - 1] = text[strlen(text) - 1] == '0' ? '1' : '0';
    assert_int_equal(est_fingerprint_check(r->old_root, text, &err), EST_E_AUTH);
    ca_fixture_rollover_free(r);
}

static void fingerprint_malformed(void **state)
{
    char text[200];
    est_error err;

    (void)state;
    memcpy(text, "sha256:", 7);
    memset(text + 7, 'a', 64);
    text[7 + 64] = '\0';
    assert_int_equal(est_fingerprint_check(NULL, text, &err), EST_OK);
    text[7 + 63] = '\0';
    assert_int_equal(est_fingerprint_check(NULL, text, &err), EST_E_INPUT);
    text[7 + 63] = 'a';
    text[7 + 64] = 'a';
    text[7 + 65] = 'a';
    text[7 + 66] = '\0';
    assert_int_equal(est_fingerprint_check(NULL, text, &err), EST_E_INPUT);
    text[7 + 64] = '\0';
    text[10] = 'g';
    assert_int_equal(est_fingerprint_check(NULL, text, &err), EST_E_INPUT);
    text[10] = 'a';
    memcpy(text, "sha1:xx", 7);
    assert_int_equal(est_fingerprint_check(NULL, text, &err), EST_E_INPUT);
    assert_int_equal(est_fingerprint_check(NULL, "", &err), EST_E_INPUT);
    assert_int_equal(est_fingerprint_check(NULL, NULL, &err), EST_E_INPUT);
}

static void fingerprint_text_format(void **state)
{
    rollover *r = rollover_new();
    char text[EST_FINGERPRINT_TEXT_MAX], hex[200];
    est_error err;

    (void)state;
    assert_int_equal(est_fingerprint_text(r->old_root, EVP_sha256(), text, sizeof text, &err),
                     EST_OK);
    sha256_hex(r->old_root, hex, 1, 1);
    assert_string_equal(text, hex);
    assert_int_equal(strlen(text), 32 * 3 - 1);
    /* 32 bytes need 96 characters with the NUL. */
    assert_int_equal(est_fingerprint_text(r->old_root, EVP_sha256(), text, 96, &err), EST_OK);
    assert_int_equal(est_fingerprint_text(r->old_root, EVP_sha256(), text, 95, &err),
                     EST_E_TOO_LARGE);
    ca_fixture_rollover_free(r);
}

/* client_decode_certs on a hand-made response. */
static est_status decode(const char *type, const void *body, size_t len, int *count,
                         est_error *err)
{
    est_client_config cfg;
    est_client *c = NULL;
    est_http_response resp = {0};
    STACK_OF(X509) *certs = NULL;
    est_status rc;

    est_client_config_init(&cfg);
    cfg.server_url = "https://127.0.0.1:8443";
    assert_int_equal(est_client_new(&cfg, &c, NULL), EST_OK);
    snprintf(resp.content_type, sizeof resp.content_type, "%s", type);
    resp.status = 200;
    resp.body = (uint8_t *)body;
    resp.len = len;
    rc = client_decode_certs(c, &resp, &certs, err);
    *count = sk_X509_num(certs);
    sk_X509_pop_free(certs, X509_free);
    est_client_free(c);
    return rc;
}

static void decodes_every_wire_form(void **state)
{
    rollover *r = rollover_new();
    STACK_OF(X509) *two = stack_of(r->new_root, r->old_with_new, NULL);
    uint8_t *der = NULL;
    size_t der_len = 0, b64_len = 0, pem_len = 0;
    char *b64 = NULL, *pem = NULL;
    int n = 0;
    est_error err;

    (void)state;
    assert_int_equal(est_certs_only_build(two, &der, &der_len, NULL), EST_OK);
    assert_int_equal(est_body_encode(der, der_len, EST_DIALECT_RFC7030, "PKCS7", &b64, &b64_len,
                                     NULL), EST_OK);
    assert_int_equal(est_body_encode(der, der_len, EST_DIALECT_DRAFT, "PKCS7", &pem, &pem_len,
                                     NULL), EST_OK);
    assert_int_equal(decode("application/pkcs7-mime; smime-type=certs-only", b64, b64_len, &n,
                            &err), EST_OK);
    assert_int_equal(n, 2);
    assert_int_equal(decode("application/pkcs7-mime", pem, pem_len, &n, &err), EST_OK);
    assert_int_equal(n, 2);
    assert_int_equal(decode("", der, der_len, &n, &err), EST_OK);
    assert_int_equal(n, 2);
    assert_int_equal(decode("Application/PKCS7-MIME", der, der_len, &n, &err), EST_OK);
    est_free(der);
    est_free(b64);
    est_free(pem);
    sk_X509_free(two);
    ca_fixture_rollover_free(r);
}

static void malformed_responses_refused(void **state)
{
    rollover *r = rollover_new();
    STACK_OF(X509) *one = stack_of(r->old_root, NULL);
    uint8_t *der = NULL;
    size_t der_len = 0;
    int n = 0;
    est_error err;

    (void)state;
    assert_int_equal(est_certs_only_build(one, &der, &der_len, NULL), EST_OK);
    assert_int_equal(decode("text/html", der, der_len, &n, &err), EST_E_PROTOCOL);
    assert_non_null(strstr(err.message, "127.0.0.1:8443: Content-Type text/html"));
    assert_int_equal(decode("application/pkcs7-mime", der, der_len - 1, &n, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "127.0.0.1:8443: malformed certs-only response"));
    assert_int_equal(decode("application/pkcs7-mime", "<html>oops</html>", 17, &n, &err),
                     EST_E_INPUT);
    assert_int_equal(decode("application/pkcs7-mime", "", 0, &n, &err), EST_E_PROTOCOL);
    assert_non_null(strstr(err.message, "empty response"));
    /* A certificate where a certs-only response belongs. */
    {
        unsigned char *cert_der = NULL;
        int len = i2d_X509(r->old_root, &cert_der);
        assert_true(len > 0);
        assert_int_not_equal(decode("application/pkcs7-mime", cert_der, (size_t)len, &n, &err),
                             EST_OK);
        OPENSSL_free(cert_der);
    }
    est_free(der);
    sk_X509_free(one);
    ca_fixture_rollover_free(r);
}

UNIT_MAIN(
    cmocka_unit_test(single_root_is_the_anchor),
    cmocka_unit_test(rollover_set_in_any_order),
    cmocka_unit_test(rollover_links_are_needed),
    cmocka_unit_test(strangers_are_refused),
    cmocka_unit_test(fingerprint_check_forms),
    cmocka_unit_test(fingerprint_malformed),
    cmocka_unit_test(fingerprint_text_format),
    cmocka_unit_test(decodes_every_wire_form),
    cmocka_unit_test(malformed_responses_refused))
