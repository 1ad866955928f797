/* Issue 11, part 4: every public function that takes an est_error, called
 * with err == NULL on an input that must fail, returns a failure. Before,
 * est_error_prefix(NULL, ...) answered EST_OK, and callers that returned
 * its value (the client's /cacerts, /csrattrs, /serverkeygen and /fullcmc
 * response checks among them) turned a failure into success whenever the
 * caller did not ask for a message. One table row per function; the client
 * rows talk to a real HTTPS server (tests/unit/support/canned_server.c)
 * that answers every operation with a body that is not what it claims.
 * Not in the table, for want of a failing input short of running out of
 * memory: est_csrattrs_encode (est_csrattrs_add_* refuse first),
 * est_serial_random, est_cmc_response_check_ids, est_cmc_request_verify
 * and est_cmc_response_build (their failures are in cmc.c's tests). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include "estkit.h"
#include "ca_fixture.h"
#include "canned_server.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/signer.h"
#include "estkit/csr.h"
#include "estkit/name.h"
#include "estkit/ca.h"
#include "estkit/issue.h"
#include "estkit/crl.h"
#include "estkit/rollover.h"
#include "estkit/password.h"
#include "estkit/csrattrs.h"
#include "unit_main.h"

typedef struct fixture {
    EVP_PKEY *key, *ca_key, *weak_key;
    X509 *root;
    est_ca *ca;
    X509_REQ *csr;        /* a good CSR */
    X509_REQ *csr_weak;   /* an RSA-1024 key: below every profile's minimum */
    canned_server *server;
} fixture;

static fixture fx;

typedef struct row {
    const char *name;
    est_status (*call)(void);
} row;

/* --- auth.h --- */
static est_status basic_parse(void)
{
    char *u = NULL, *p = NULL;
    return est_basic_parse("Basic !!!", &u, &p, NULL);
}
static est_status basic_build(void)
{
    char *out = NULL;
    est_status rc = est_basic_build("a:b", "pw", &out, NULL);
    est_secret_free(out);
    return rc;
}
static est_status digest_parse(void)
{
    est_digest_credentials *c = NULL;
    return est_digest_parse("Digest", &c, NULL);
}
static est_status digest_alg_parse(void)
{
    est_digest_alg alg;
    return est_digest_alg_parse("SHA-1", &alg, NULL);
}
static est_status digest_ha1(void)
{
    char out[EST_DIGEST_HEX_MAX];
    return est_digest_ha1((est_digest_alg)9, "u", "r", "p", out, NULL);
}
static est_status digest_response(void)
{
    char out[EST_DIGEST_HEX_MAX];
    return est_digest_response((est_digest_alg)9, "00", "n", "00000001", "c", "auth", "GET", "/",
                               out, NULL);
}
static est_status digest_nonce_issue(void)
{
    est_digest_nonces *book = est_digest_nonces_new(60);
    char out[4];
    est_status rc = est_digest_nonce_issue(book, time(NULL), out, sizeof out, NULL);
    est_digest_nonces_free(book);
    return rc;
}
static est_status digest_nonce_check(void)
{
    est_digest_nonces *book = est_digest_nonces_new(60);
    est_status rc = est_digest_nonce_check(book, "not-a-nonce", "00000001", time(NULL), NULL);
    est_digest_nonces_free(book);
    return rc;
}
static est_status digest_verify(void)
{
    est_digest_credentials *c = NULL;
    est_status rc = est_digest_parse(
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth, nc=00000001, "
        "cnonce=\"c\", response=\"00000000000000000000000000000000\"", &c, NULL);
    if (rc == EST_OK)
        rc = est_digest_verify(c, "0123456789abcdef0123456789abcdef", "GET", "/", NULL);
    est_digest_credentials_free(c);
    return rc;
}
static est_status password_verify(void)
{
    return est_password_verify("pw", "$scrypt$ln=99$garbage", NULL);
}
static est_status password_hash(void)
{
    char *out = NULL, big[EST_PASSWORD_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    est_status rc = est_password_hash(big, &out, NULL);
    est_free(out);
    return rc;
}

/* --- body.h, certs_only.h, csrattrs.h, media_type.h, multipart.h, route.h --- */
static est_status body_decode(void)
{
    uint8_t *der = NULL;
    size_t len = 0;
    return est_body_decode((const uint8_t *)"!!", 2, &der, &len, NULL, NULL);
}
static est_status body_encode(void)
{
    char *out = NULL;
    size_t len = 0;
    return est_body_encode_lines((const uint8_t *)"\x30\x00", 2, EST_DIALECT_RFC7030, NULL, 63,
                                 &out, &len, NULL);
}
static est_status certs_only_parse(void)
{
    STACK_OF(X509) *certs = NULL;
    return est_certs_only_parse((const uint8_t *)"\x30\x00", 2, &certs, NULL);
}
static est_status certs_only_build(void)
{
    uint8_t *der = NULL;
    size_t len = 0;
    return est_certs_only_build(NULL, &der, &len, NULL);
}
static est_status csrattrs_decode(void)
{
    est_csrattrs *a = NULL;
    return est_csrattrs_decode((const uint8_t *)"\x04\x00", 2, &a, NULL);
}
static est_status csrattrs_add_oid(void)
{
    est_csrattrs *a = est_csrattrs_new();
    est_status rc = est_csrattrs_add_oid(a, "not an oid", NULL);
    est_csrattrs_free(a);
    return rc;
}
static est_status csrattrs_add_attribute(void)
{
    est_csrattrs *a = est_csrattrs_new();
    est_status rc = est_csrattrs_add_attribute(a, NULL, NULL);
    est_csrattrs_free(a);
    return rc;
}
static est_status media_type_parse(void)
{
    est_media_type *mt = NULL;
    return est_media_type_parse("/", &mt, NULL);
}
static est_status multipart_parse(void)
{
    est_multipart *mp = NULL;
    return est_multipart_parse((const uint8_t *)"no parts", 8, "b", &mp, NULL);
}
static est_status multipart_add(void)
{
    est_multipart *mp = est_multipart_new();
    est_status rc = est_multipart_add(mp, "text/plain\r\nX-Injected: 1", NULL,
                                      (const uint8_t *)"x", 1, NULL);
    est_multipart_free(mp);
    return rc;
}
static est_status multipart_build(void)
{
    est_multipart *mp = est_multipart_new();
    uint8_t *out = NULL;
    size_t len = 0;
    est_status rc = est_multipart_build(mp, "b", &out, &len, NULL);
    est_free(out);
    est_multipart_free(mp);
    return rc;
}
static est_status route_parse(void)
{
    est_route r;
    return est_route_parse("/nowhere", &r, NULL);
}
static est_status label_check(void)
{
    return est_label_check("no spaces", NULL);
}

/* --- ca.h --- */
static est_status key_type_parse(void)
{
    est_key_type t;
    return est_key_type_parse("rsa-1", &t, NULL);
}
static est_status key_generate(void)
{
    EVP_PKEY *k = NULL;
    return est_key_generate((est_key_type)99, &k, NULL);
}
static est_status file_write_atomic(void)
{
    return est_file_write_atomic("/nonexistent/dir/f", "x", 1, 0600, NULL);
}
static est_status file_read(void)
{
    uint8_t *d = NULL;
    size_t len = 0;
    return est_file_read("/nonexistent/f", 100, &d, &len, NULL);
}
static est_status key_write_file(void)
{
    return est_key_write_file("/nonexistent/dir/k.pem", fx.key, NULL);
}
static est_status key_read_file(void)
{
    EVP_PKEY *k = NULL;
    return est_key_read_file("/nonexistent/k.pem", &k, NULL);
}
static est_status certs_write_file(void)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    est_status rc;
    sk_X509_push(certs, fx.root);
    rc = est_certs_write_file("/nonexistent/dir/c.pem", certs, NULL);
    sk_X509_free(certs);
    return rc;
}
static est_status certs_read_file(void)
{
    STACK_OF(X509) *certs = NULL;
    return est_certs_read_file("/nonexistent/c.pem", &certs, NULL);
}
static est_status signer_sign_cert(void)
{
    est_signer *s = est_signer_new_key(fx.ca_key);
    est_status rc = est_signer_sign_cert(s, NULL, NULL);
    est_signer_free(s);
    return rc;
}
static est_status signer_sign_crl(void)
{
    est_signer *s = est_signer_new_key(fx.ca_key);
    est_status rc = est_signer_sign_crl(s, NULL, NULL);
    est_signer_free(s);
    return rc;
}
static est_status signer_sign_data(void)
{
    uint8_t *sig = NULL;
    size_t len = 0;
    est_signer *s = est_signer_new_key(fx.ca_key);
    est_status rc = est_signer_sign_data(s, NULL, 0, &sig, &len, NULL);
    est_signer_free(s);
    est_free(sig);
    return rc;
}
static est_status csr_parse(void)
{
    X509_REQ *r = NULL;
    return est_csr_parse((const uint8_t *)"\x30\x00", 2, &r, NULL);
}
static est_status csr_check(void)
{
    est_profile p;
    est_profile_default(&p);
    return est_csr_check(fx.csr_weak, &p, NULL);
}
static est_status csr_get_challenge_password(void)
{
    char *out = NULL;
    return est_csr_get_challenge_password(fx.csr, &out, NULL);
}
static est_status serial_to_hex(void)
{
    char out[41];
    ASN1_INTEGER *neg = ASN1_INTEGER_new();
    est_status rc;
    ASN1_INTEGER_set(neg, -5);
    rc = est_serial_to_hex(neg, out, NULL);
    ASN1_INTEGER_free(neg);
    return rc;
}
/* A profile naming an extended key usage that does not exist. */
static void bad_profile(est_profile *p)
{
    est_profile_default(p);
    snprintf(p->extended_key_usage, sizeof p->extended_key_usage, "noSuchUsage");
}
static est_status ca_issue(void)
{
    est_profile p;
    X509 *out = NULL;
    bad_profile(&p);
    return est_ca_issue(fx.ca, fx.csr, &p, NULL, &out, NULL);
}
static est_status ca_issue_unparsed(void)
{
    est_profile p;
    X509 *out = NULL;
    bad_profile(&p);
    return est_ca_issue_unparsed(fx.ca, fx.csr, &p, NULL, &out, NULL);
}
static est_status ca_issue_for_key(void)
{
    est_profile p;
    X509 *out = NULL;
    const char *names[1] = {"not a name!"};
    est_profile_default(&p);
    return est_ca_issue_for_key(fx.ca, fx.key, NULL, names, 1, &p, &out, NULL);
}
static est_status ca_make_root(void)
{
    X509 *out = NULL;
    return est_ca_make_root(fx.key, "no equals sign", 30, &out, NULL);
}
static est_status name_parse(void)
{
    X509_NAME *n = NULL;
    return est_name_parse("no equals sign", &n, NULL);
}
static est_status ca_rollover(void)
{
    X509 *a = NULL, *b = NULL, *c = NULL;
    /* The old key does not belong to the old certificate. */
    return est_ca_rollover(fx.root, fx.key, fx.key, "CN=New", 30, &a, &b, &c, NULL);
}
static est_status ca_make_crl(void)
{
    est_revoked_entry e = {"zz-not-hex", 0, -1};
    X509_CRL *crl = NULL;
    return est_ca_make_crl(fx.ca, &e, 1, 1, 7, &crl, NULL);
}
static est_status crl_reason_parse(void)
{
    int code;
    return est_crl_reason_parse("nope", &code, NULL);
}

/* --- channel_binding.h, key_package.h, cmc.h, store.h --- */
static est_status channel_binding_get(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    uint8_t out[64];
    size_t len = 0;
    est_status rc = est_channel_binding_get(ssl, out, sizeof out, &len, NULL);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return rc;
}
static est_status channel_binding_b64(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    char out[128];
    est_status rc = est_channel_binding_b64(ssl, out, sizeof out, NULL);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return rc;
}
static est_status csr_get_decrypt_key_id(void)
{
    uint8_t out[64];
    size_t len = 0;
    return est_csr_get_decrypt_key_id(fx.csr, EST_DECRYPT_KEY_ASYMMETRIC, out, sizeof out, &len,
                                      NULL);
}
static est_status csr_add_decrypt_key_id(void)
{
    return est_csr_add_decrypt_key_id(fx.csr, EST_DECRYPT_KEY_ASYMMETRIC,
                                      (const uint8_t *)"", 0, NULL);
}
static est_status key_pkcs8_encode(void)
{
    uint8_t *der = NULL;
    size_t len = 0;
    return est_key_pkcs8_encode(NULL, &der, &len, NULL);
}
static est_status key_package_build(void)
{
    est_key_package_recipient to = {0};
    uint8_t *der = NULL;
    size_t len = 0;
    return est_key_package_build(fx.ca, fx.key, &to, &der, &len, NULL);
}
static est_status key_package_open(void)
{
    est_key_package_recipient as = {0};
    EVP_PKEY *k = NULL;
    return est_key_package_open((const uint8_t *)"\x30\x00", 2, &as, fx.key, NULL, &k, NULL);
}
static est_status cmc_request_build(void)
{
    est_cmc_request_spec spec = {0};
    est_cmc_ids ids;
    uint8_t *der = NULL;
    size_t len = 0;
    return est_cmc_request_build(&spec, &ids, &der, &len, NULL);
}
static est_status cmc_request_parse(void)
{
    est_cmc_request *req = NULL;
    return est_cmc_request_parse((const uint8_t *)"\x30\x00", 2, &req, NULL);
}
static est_status cmc_response_parse(void)
{
    est_cmc_response *resp = NULL;
    return est_cmc_response_parse((const uint8_t *)"\x30\x00", 2, NULL, &resp, NULL);
}
static est_status store_open_sqlite(void)
{
    est_store *s = NULL;
    return est_store_open_sqlite("/nonexistent/dir/x.db", 0, &s, NULL);
}
static est_status cert_record_from_x509(void)
{
    est_cert_record *rec = NULL;
    return est_cert_record_from_x509(NULL, &rec, NULL);
}

/* --- client.h: against the canned server --- */
static const char *canned(const char *request_line, size_t *len)
{
    static const char multipart[] =
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=b\r\n"
        "Content-Length: 9\r\nConnection: close\r\n\r\nnot parts";
    static const char csrattrs[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/csrattrs\r\n"
        "Content-Length: 9\r\nConnection: close\r\n\r\ngarbage!!";
    static const char pkcs7[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/pkcs7-mime\r\n"
        "Content-Length: 9\r\nConnection: close\r\n\r\ngarbage!!";
    const char *r = strstr(request_line, "serverkeygen") ? multipart
                    : strstr(request_line, "csrattrs")   ? csrattrs
                                                         : pkcs7;
    *len = strlen(r);
    return r;
}

static est_client *client(void)
{
    est_client_config cfg;
    est_client *c = NULL;

    est_client_config_init(&cfg);
    cfg.server_url = canned_server_url(fx.server);
    cfg.explicit_trust_file = canned_server_trust_file(fx.server);
    assert_int_equal(est_client_new(&cfg, &c, NULL), EST_OK);
    return c;
}

static est_status client_new(void)
{
    est_client_config cfg;
    est_client *c = NULL;
    est_client_config_init(&cfg);
    cfg.server_url = "http://plain.example";
    return est_client_new(&cfg, &c, NULL);
}
static est_status client_cacerts(void)
{
    est_client *c = client();
    STACK_OF(X509) *certs = NULL;
    est_status rc = est_client_cacerts(c, &certs, NULL);
    est_client_free(c);
    return rc;
}
static est_status client_csrattrs(void)
{
    est_client *c = client();
    est_csrattrs *a = NULL;
    est_status rc = est_client_csrattrs(c, &a, NULL);
    est_csrattrs_free(a);
    est_client_free(c);
    return rc;
}
static est_status enroll_like(int which)
{
    est_client *c = client();
    est_enroll_params p = {0};
    X509 *cert = NULL;
    EVP_PKEY *k = NULL;
    X509_NAME *subject = NULL;
    est_status rc;

    est_name_parse("CN=device", &subject, NULL);
    p.key = fx.key;
    p.subject = subject;
    p.cert = fx.root;
    rc = which == 0   ? est_client_enroll(c, &p, &cert, &k, NULL)
         : which == 1 ? est_client_reenroll(c, &p, &cert, &k, NULL)
                      : est_client_serverkeygen(c, &p, &cert, &k, NULL);
    X509_NAME_free(subject);
    X509_free(cert);
    EVP_PKEY_free(k);
    est_client_free(c);
    return rc;
}
static est_status client_enroll(void) { return enroll_like(0); }
static est_status client_reenroll(void) { return enroll_like(1); }
static est_status client_serverkeygen(void) { return enroll_like(2); }
static est_status client_enroll_csr(void)
{
    est_client *c = client();
    size_t len = 0;
    unsigned char *der = ca_fixture_csr_der(fx.csr, &len);
    X509 *cert = NULL;
    est_status rc = est_client_enroll_csr(c, EST_OP_SIMPLEENROLL, der, len, &cert, NULL);
    OPENSSL_free(der);
    est_client_free(c);
    return rc;
}
static est_status client_fullcmc(void)
{
    est_client *c = client();
    uint8_t *resp = NULL;
    size_t len = 0;
    est_status rc = est_client_fullcmc(c, (const uint8_t *)"\x30\x00", 2, &resp, &len, NULL);
    est_free(resp);
    est_client_free(c);
    return rc;
}
static est_status client_get_channel_binding(void)
{
    est_client *c = client();
    char out[128];
    est_status rc = est_client_get_channel_binding(c, out, sizeof out, NULL);
    est_client_free(c);
    return rc;
}
static est_status csr_build(void)
{
    est_csr_params p = {0};
    X509_REQ *r = NULL;
    return est_csr_build(&p, &r, NULL);
}
static est_status san_parse(void)
{
    GENERAL_NAMES *n = NULL;
    return est_san_parse("bogus:x", &n, NULL);
}
static est_status cacerts_select_anchor(void)
{
    STACK_OF(X509) *none = sk_X509_new_null(), *ordered = NULL;
    est_status rc = est_cacerts_select_anchor(none, &ordered, NULL);
    sk_X509_free(none);
    return rc;
}
static est_status fingerprint_check(void)
{
    return est_fingerprint_check(fx.root, "zz", NULL);
}
static est_status fingerprint_text(void)
{
    char out[2];
    return est_fingerprint_text(fx.root, EVP_sha256(), out, sizeof out, NULL);
}

#define ROW(f) {#f, f}
static const row rows[] = {
    ROW(basic_parse), ROW(basic_build), ROW(digest_parse), ROW(digest_alg_parse),
    ROW(digest_ha1), ROW(digest_response), ROW(digest_nonce_issue), ROW(digest_nonce_check),
    ROW(digest_verify), ROW(password_verify), ROW(password_hash), ROW(body_decode),
    ROW(body_encode), ROW(certs_only_parse), ROW(certs_only_build), ROW(csrattrs_decode),
    ROW(csrattrs_add_oid), ROW(csrattrs_add_attribute),
    ROW(media_type_parse), ROW(multipart_parse), ROW(multipart_add), ROW(multipart_build),
    ROW(route_parse), ROW(label_check), ROW(key_type_parse), ROW(key_generate),
    ROW(file_write_atomic), ROW(file_read), ROW(key_write_file), ROW(key_read_file),
    ROW(certs_write_file), ROW(certs_read_file), ROW(signer_sign_cert), ROW(signer_sign_crl),
    ROW(signer_sign_data), ROW(csr_parse), ROW(csr_check), ROW(csr_get_challenge_password),
    ROW(serial_to_hex), ROW(ca_issue), ROW(ca_issue_unparsed), ROW(ca_issue_for_key),
    ROW(ca_make_root), ROW(name_parse), ROW(ca_rollover), ROW(ca_make_crl),
    ROW(crl_reason_parse), ROW(channel_binding_get), ROW(channel_binding_b64),
    ROW(csr_get_decrypt_key_id), ROW(csr_add_decrypt_key_id), ROW(key_pkcs8_encode),
    ROW(key_package_build), ROW(key_package_open), ROW(cmc_request_build),
    ROW(cmc_request_parse), ROW(cmc_response_parse), ROW(store_open_sqlite),
    ROW(cert_record_from_x509), ROW(client_new), ROW(client_cacerts), ROW(client_csrattrs),
    ROW(client_enroll), ROW(client_reenroll), ROW(client_serverkeygen), ROW(client_enroll_csr),
    ROW(client_fullcmc), ROW(client_get_channel_binding), ROW(csr_build), ROW(san_parse),
    ROW(cacerts_select_anchor), ROW(fingerprint_check), ROW(fingerprint_text),
};

static void every_failure_is_reported_without_error_text(void **state)
{
    int failed = 0;
    (void)state;

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        est_status rc = rows[i].call();
        if (rc == EST_OK) {
            print_error("%s: EST_OK for a failing input with err == NULL\n", rows[i].name);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

static int setup(void **state)
{
    (void)state;
    fx.key = ca_fixture_key(EST_KEY_EC_P256);
    fx.ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Null Err CA", 30, &fx.root, &fx.ca_key);
    fx.csr = ca_fixture_csr(fx.key, "CN=device", "device.example", 0);
    fx.weak_key = EVP_RSA_gen(1024);
    fx.csr_weak = ca_fixture_csr(fx.weak_key, "CN=device", "device.example", 0);
    fx.server = canned_server_start(canned);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    canned_server_stop(fx.server);
    X509_REQ_free(fx.csr);
    X509_REQ_free(fx.csr_weak);
    X509_free(fx.root);
    EVP_PKEY_free(fx.key);
    EVP_PKEY_free(fx.ca_key);
    EVP_PKEY_free(fx.weak_key);
    est_ca_free(fx.ca);
    return 0;
}

UNIT_MAIN_GROUP(setup, teardown,
    cmocka_unit_test(every_failure_is_reported_without_error_text))
