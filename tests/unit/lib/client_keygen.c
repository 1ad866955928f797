/* Tests the /serverkeygen answer as the client reads it
 * (src/lib/client_keygen.c, draft-04 §4.4.2): multipart/mixed with a
 * PKCS#8 key part and a certs-only part, in both dialects and raw DER, in
 * either order; and every way it can be wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/x509.h>
#include "client_internal.h"
#include "estkit/body.h"
#include "estkit/certs_only.h"
#include "estkit/multipart.h"
#include "estkit/issue.h"
#include "estkit/mem.h"
#include "ca_fixture.h"
#include "unit_main.h"

#define BOUNDARY "est-boundary-1"
#define KEY_TYPE "application/pkcs8"
#define CERTS_TYPE "application/pkcs7-mime; smime-type=certs-only"

typedef struct parts {
    est_ca *ca;
    EVP_PKEY *key, *other_key;
    uint8_t *key_der, *certs_der, *other_certs_der;
    size_t key_len, certs_len, other_certs_len;
} parts;

static uint8_t *certs_for(est_ca *ca, EVP_PKEY *key, size_t *len)
{
    X509_REQ *csr = ca_fixture_csr(key, "CN=generated", NULL, 0);
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *cert = NULL;
    uint8_t *der = NULL;

    assert_int_equal(est_ca_issue(ca, csr, NULL, NULL, &cert, NULL), EST_OK);
    sk_X509_push(certs, cert);
    assert_int_equal(est_certs_only_build(certs, &der, len, NULL), EST_OK);
    sk_X509_pop_free(certs, X509_free);
    X509_REQ_free(csr);
    return der;
}

static parts *parts_new(void)
{
    parts *p = calloc(1, sizeof *p);
    PKCS8_PRIV_KEY_INFO *p8;
    unsigned char *der = NULL;
    int n;

    p->ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Keygen CA", 30, NULL, NULL);
    p->key = ca_fixture_key(EST_KEY_EC_P256);
    p->other_key = ca_fixture_key(EST_KEY_EC_P256);
    p8 = EVP_PKEY2PKCS8(p->key);
    n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    assert_true(n > 0);
    p->key_der = der;
    p->key_len = (size_t)n;
    PKCS8_PRIV_KEY_INFO_free(p8);
    p->certs_der = certs_for(p->ca, p->key, &p->certs_len);
    p->other_certs_der = certs_for(p->ca, p->other_key, &p->other_certs_len);
    return p;
}

static void parts_free(parts *p)
{
    OPENSSL_clear_free(p->key_der, p->key_len);
    free(p->certs_der);
    free(p->other_certs_der);
    EVP_PKEY_free(p->key);
    EVP_PKEY_free(p->other_key);
    est_ca_free(p->ca);
    free(p);
}

/* Adds der as a part, encoded for dialect (or raw when dialect < 0). */
static void add(est_multipart *mp, const char *type, const uint8_t *der, size_t len, int dialect,
                const char *label)
{
    char *text = NULL;
    size_t text_len = 0;

    if (dialect < 0) {
        assert_int_equal(est_multipart_add(mp, type, NULL, der, len, NULL), EST_OK);
        return;
    }
    assert_int_equal(est_body_encode(der, len, (est_dialect)dialect, label, &text, &text_len,
                                     NULL), EST_OK);
    assert_int_equal(est_multipart_add(mp, type, "base64", (uint8_t *)text, text_len, NULL),
                     EST_OK);
    est_free(text);
}

/* Runs the parser on mp; checks that the certificate is for the key. */
static est_status parse(est_multipart *mp, const char *content_type, est_error *err)
{
    est_client_config cfg;
    est_client *c = NULL;
    est_http_response resp = {0};
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    est_status rc;

    est_client_config_init(&cfg);
    cfg.server_url = "https://127.0.0.1:8443";
    assert_int_equal(est_client_new(&cfg, &c, NULL), EST_OK);
    assert_int_equal(est_multipart_build(mp, BOUNDARY, &resp.body, &resp.len, NULL), EST_OK);
    resp.cap = resp.len;
    resp.status = 200;
    snprintf(resp.content_type, sizeof resp.content_type, "%s", content_type);
    rc = client_keygen_parse(c, &resp, &cert, &key, err);
    if (rc == EST_OK)
        assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
    else
        assert_true(cert == NULL && key == NULL);
    X509_free(cert);
    EVP_PKEY_free(key);
    est_free(resp.body);
    est_client_free(c);
    est_multipart_free(mp);
    return rc;
}

#define MIXED "multipart/mixed; boundary=" BOUNDARY

static void rfc_draft_and_der_forms(void **state)
{
    parts *p = parts_new();
    est_multipart *mp;
    est_error err;

    (void)state;
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    add(mp, CERTS_TYPE, p->certs_der, p->certs_len, EST_DIALECT_RFC7030, NULL);
    assert_int_equal(parse(mp, MIXED, &err), EST_OK);
    /* draft-04: PEM armour, plain types, certificate part first. */
    mp = est_multipart_new();
    add(mp, "application/pkcs7-mime", p->certs_der, p->certs_len, EST_DIALECT_DRAFT, "PKCS7");
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_DRAFT, "PRIVATE KEY");
    assert_int_equal(parse(mp, "Multipart/Mixed; boundary=\"" BOUNDARY "\"", &err), EST_OK);
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, -1, NULL);
    add(mp, CERTS_TYPE, p->certs_der, p->certs_len, -1, NULL);
    assert_int_equal(parse(mp, MIXED, &err), EST_OK);
    parts_free(p);
}

static void expect(est_multipart *mp, const char *type, est_status code, const char *why)
{
    est_error err;

    assert_int_equal(parse(mp, type, &err), code);
    if (strstr(err.message, why) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err.message, why);
}

static void missing_or_repeated_parts(void **state)
{
    parts *p = parts_new();
    est_multipart *mp;

    (void)state;
    mp = est_multipart_new();
    add(mp, CERTS_TYPE, p->certs_der, p->certs_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, MIXED, EST_E_PROTOCOL, "lacks its private key part");
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, MIXED, EST_E_PROTOCOL, "lacks its certificate part");
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    add(mp, CERTS_TYPE, p->certs_der, p->certs_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, MIXED, EST_E_PROTOCOL, "part 2 repeats a key part");
    mp = est_multipart_new();
    add(mp, "text/plain", (const uint8_t *)"hello", 5, -1, NULL);
    expect(mp, MIXED, EST_E_PROTOCOL, "part 1: Content-Type text/plain");
    mp = est_multipart_new();
    add(mp, NULL, (const uint8_t *)"hello", 5, -1, NULL);
    expect(mp, MIXED, EST_E_PROTOCOL, "(none)");
    parts_free(p);
}

static void wrong_content(void **state)
{
    parts *p = parts_new();
    est_multipart *mp;

    (void)state;
    /* §4.4.2 encrypted key: this client never asks for one. */
    mp = est_multipart_new();
    add(mp, "application/pkcs7-mime; smime-type=server-generated-key", p->certs_der,
        p->certs_len, EST_DIALECT_RFC7030, NULL);
    add(mp, CERTS_TYPE, p->certs_der, p->certs_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, MIXED, EST_E_UNSUPPORTED, "encrypted key");
    /* The certificate is for some other key. */
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    add(mp, CERTS_TYPE, p->other_certs_der, p->other_certs_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, MIXED, EST_E_PROTOCOL, "for the requested key");
    /* A key part that is not PKCS#8: truncated DER, then a certificate. */
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len - 1, -1, NULL);
    add(mp, CERTS_TYPE, p->certs_der, p->certs_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, MIXED, EST_E_INPUT, "private key part");
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->certs_der, p->certs_len, EST_DIALECT_RFC7030, NULL);
    add(mp, CERTS_TYPE, p->certs_der, p->certs_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, MIXED, EST_E_PROTOCOL, "not a PKCS#8");
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    add(mp, CERTS_TYPE, (const uint8_t *)"garbage!", 8, -1, NULL);
    expect(mp, MIXED, EST_E_INPUT, "certificate part");
    parts_free(p);
}

static void wrong_envelope(void **state)
{
    parts *p = parts_new();
    est_multipart *mp;

    (void)state;
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, "multipart/mixed", EST_E_PROTOCOL, "with a boundary");
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, "application/pkcs7-mime", EST_E_PROTOCOL, "expected multipart/mixed");
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, "multipart/mixed; boundary=not-the-one", EST_E_INPUT,
           "127.0.0.1:8443: malformed /serverkeygen response");
    mp = est_multipart_new();
    add(mp, KEY_TYPE, p->key_der, p->key_len, EST_DIALECT_RFC7030, NULL);
    expect(mp, "", EST_E_INPUT, "malformed /serverkeygen response");
    parts_free(p);
}

UNIT_MAIN(
    cmocka_unit_test(rfc_draft_and_der_forms),
    cmocka_unit_test(missing_or_repeated_parts),
    cmocka_unit_test(wrong_content),
    cmocka_unit_test(wrong_envelope))
