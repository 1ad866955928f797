/* Tests src/lib/client_tls.c: the server-authorization decision of
 * draft-04 §3.6.1 that runs inside the TLS handshake. Explicit (Absolute)
 * anchors accept a URI match or id-kp-cmcRA; third-party anchors need the
 * URI match; an unknown CA and a name mismatch are told apart. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "client_internal.h"
#include "ca_fixture.h"
#include "estkit/csr.h"
#include "estkit/name.h"
#include "estkit/issue.h"
#include "unit_main.h"

typedef struct world {
    est_ca *ca, *other;
    X509 *root, *other_root;
} world;

static world *world_new(void)
{
    world *w = calloc(1, sizeof *w);

    w->ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=EST CA", 30, &w->root, NULL);
    w->other = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Other CA", 30, &w->other_root, NULL);
    return w;
}

static void world_free(world *w)
{
    est_ca_free(w->ca);
    est_ca_free(w->other);
    X509_free(w->root);
    X509_free(w->other_root);
    free(w);
}

/* A server certificate from ca for names, with the given EKU list. */
static X509 *server_cert(est_ca *ca, const char *eku, const char *name1, const char *name2)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    const char *names[2] = {name1, name2};
    X509_NAME *subject = NULL;
    est_profile profile;
    X509 *cert = NULL;
    est_error err;

    est_profile_default(&profile);
    snprintf(profile.extended_key_usage, sizeof profile.extended_key_usage, "%s", eku);
    assert_int_equal(est_name_parse("CN=est server", &subject, NULL), EST_OK);
    if (est_ca_issue_for_key(ca, key, subject, names, name2 ? 2 : name1 ? 1 : 0, &profile, &cert,
                             &err) != EST_OK)
        fail_msg("issue: %s", err.message);
    X509_NAME_free(subject);
    EVP_PKEY_free(key);
    return cert;
}

/* A client for url whose explicit and/or third-party store holds root. */
static est_client *client_for(const char *url, X509 *explicit_root, X509 *third_root)
{
    est_client_config cfg;
    est_client *c = NULL;
    STACK_OF(X509) *one = sk_X509_new_null();

    est_client_config_init(&cfg);
    cfg.server_url = url;
    assert_int_equal(est_client_new(&cfg, &c, NULL), EST_OK);
    if (explicit_root != NULL) {
        sk_X509_zero(one);
        sk_X509_push(one, explicit_root);
        assert_int_equal(client_store_from_certs(one, &c->explicit_store, NULL), EST_OK);
    }
    if (third_root != NULL) {
        sk_X509_zero(one);
        sk_X509_push(one, third_root);
        assert_int_equal(client_store_from_certs(one, &c->third_party_store, NULL), EST_OK);
    }
    sk_X509_free(one);
    return c;
}

static void expect(est_client *c, X509 *leaf, int accept, const char *why)
{
    char reason[EST_ERROR_MESSAGE_MAX] = "";

    assert_int_equal(client_check_server(c, leaf, NULL, reason, sizeof reason), accept);
    if (!accept && strcmp(reason, why) != 0)
        fail_msg("reason \"%s\", expected \"%s\"", reason, why);
}

static void explicit_anchor_with_matching_name(void **state)
{
    world *w = world_new();
    X509 *cert = server_cert(w->ca, "serverAuth", "localhost", "127.0.0.1");
    est_client *ip = client_for("https://127.0.0.1:8443", w->root, NULL);
    est_client *dns = client_for("https://LOCALHOST:8443", w->root, NULL);
    est_client *v6 = client_for("https://[::1]:8443", w->root, NULL);
    est_client *other = client_for("https://est.example", w->root, NULL);

    (void)state;
    expect(ip, cert, 1, NULL);
    expect(dns, cert, 1, NULL);
    expect(v6, cert, 0, "server certificate does not match host ::1");
    expect(other, cert, 0, "server certificate does not match host est.example");
    est_client_free(ip);
    est_client_free(dns);
    est_client_free(v6);
    est_client_free(other);
    X509_free(cert);
    world_free(w);
}

static void unknown_ca_is_not_trusted(void **state)
{
    world *w = world_new();
    X509 *cert = server_cert(w->other, "serverAuth", "127.0.0.1", NULL);
    est_client *c = client_for("https://127.0.0.1:8443", w->root, w->root);
    est_client *none = client_for("https://127.0.0.1:8443", NULL, NULL);

    (void)state;
    expect(c, cert, 0, "server certificate not trusted");
    expect(none, cert, 0, "no trust anchor configured");
    est_client_free(c);
    est_client_free(none);
    X509_free(cert);
    world_free(w);
}

/* draft-04 §3.6.1: id-kp-cmcRA stands in for the name with the Absolute
 * database only; the databases must stay distinct to decide this. */
static void cmc_ra_only_with_explicit_anchors(void **state)
{
    world *w = world_new();
    X509 *ra = server_cert(w->ca, "serverAuth,cmcRA", "ra.example", NULL);
    X509 *ra_only = server_cert(w->ca, "cmcRA", "ra.example", NULL);
    est_client *abs = client_for("https://127.0.0.1:8443", w->root, NULL);
    est_client *third = client_for("https://127.0.0.1:8443", NULL, w->root);

    (void)state;
    expect(abs, ra, 1, NULL);
    expect(abs, ra_only, 1, NULL);
    expect(third, ra, 0, "server certificate does not match host 127.0.0.1");
    est_client_free(abs);
    est_client_free(third);
    X509_free(ra);
    X509_free(ra_only);
    world_free(w);
}

static void third_party_anchor_needs_the_name(void **state)
{
    world *w = world_new();
    X509 *good = server_cert(w->ca, "serverAuth", "est.example", NULL);
    X509 *client_only = server_cert(w->ca, "clientAuth", "est.example", NULL);
    est_client *c = client_for("https://est.example:443", NULL, w->root);
    /* Both databases: the explicit one refuses (other CA), the third-party
     * one accepts. */
    est_client *both = client_for("https://est.example:443", w->other_root, w->root);

    (void)state;
    expect(c, good, 1, NULL);
    expect(both, good, 1, NULL);
    expect(c, client_only, 0, "server certificate is not for TLS servers (extended key usage)");
    est_client_free(c);
    est_client_free(both);
    X509_free(good);
    X509_free(client_only);
    world_free(w);
}

static void ssl_ctx_callback_installs_verification(void **state)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    est_client *c = client_for("https://127.0.0.1:8443", NULL, NULL);

    (void)state;
    assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
    assert_int_equal(client_ssl_ctx_cb(NULL, ctx, c), CURLE_OK);
    assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
    SSL_CTX_free(ctx);
    est_client_free(c);
}

/* Outside a transfer there is no connection: a bound request is refused,
 * an unbound one passes, recording finds nothing. */
static void prereq_refuses_without_the_bound_connection(void **state)
{
    est_client *c = client_for("https://127.0.0.1:8443", NULL, NULL);

    (void)state;
    c->curl = curl_easy_init();
    c->binding_mode = EST_BINDING_OFF;
    assert_int_equal(client_prereq_cb(c, NULL, NULL, 0, 0), CURL_PREREQFUNC_OK);
    assert_int_equal(c->binding_mismatch, 0);
    c->binding_mode = EST_BINDING_RECORD;
    c->binding_len = 7;
    assert_int_equal(client_prereq_cb(c, NULL, NULL, 0, 0), CURL_PREREQFUNC_OK);
    assert_int_equal(c->binding_len, 0);
    c->binding_mode = EST_BINDING_CHECK;
    c->binding_len = 32;
    memset(c->binding, 0xab, 32);
    assert_int_equal(client_prereq_cb(c, NULL, NULL, 0, 0), CURL_PREREQFUNC_ABORT);
    assert_int_equal(c->binding_mismatch, 1);
    est_client_free(c);
}

UNIT_MAIN(
    cmocka_unit_test(explicit_anchor_with_matching_name),
    cmocka_unit_test(unknown_ca_is_not_trusted),
    cmocka_unit_test(cmc_ra_only_with_explicit_anchors),
    cmocka_unit_test(third_party_anchor_needs_the_name),
    cmocka_unit_test(ssl_ctx_callback_installs_verification),
    cmocka_unit_test(prereq_refuses_without_the_bound_connection))
