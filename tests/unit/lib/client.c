/* Tests src/lib/client.c and src/lib/client_url.c: the configuration
 * checks, the server URL forms of docs/design.md §5, trust files, and that nothing
 * but a bootstrap runs without a trust anchor (draft-04 §4.1.1). No
 * network: every case fails or succeeds before a connection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "client_internal.h"
#include "estkit/auth.h"
#include "estkit/file.h"
#include "ca_fixture.h"
#include "unit_main.h"

static est_status make(const char *url, const char *label, est_client **c, est_error *err)
{
    est_client_config cfg;

    est_client_config_init(&cfg);
    cfg.server_url = url;
    cfg.label = label;
    return est_client_new(&cfg, c, err);
}

static void expect_url(const char *url, const char *label, const char *base, const char *server,
                       const char *host)
{
    est_client *c = NULL;
    est_error err;

    if (make(url, label, &c, &err) != EST_OK)
        fail_msg("%s: %s", url, err.message);
    assert_string_equal(est_client_get0_base_url(c), base);
    assert_string_equal(est_client_get0_server(c), server);
    assert_string_equal(c->host, host);
    est_client_free(c);
}

static void expect_bad_url(const char *url, const char *label, est_status code, const char *why)
{
    est_client *c = (est_client *)1;
    est_error err;

    assert_int_equal(make(url, label, &c, &err), code);
    assert_null(c);
    if (strstr(err.message, why) == NULL)
        fail_msg("%s: \"%s\" lacks \"%s\"", url, err.message, why);
}

static void url_forms_of_design_5(void **state)
{
    (void)state;
    expect_url("https://est.example", NULL, "https://est.example:443/.well-known/est",
               "est.example:443", "est.example");
    expect_url("https://127.0.0.1:8443", NULL, "https://127.0.0.1:8443/.well-known/est",
               "127.0.0.1:8443", "127.0.0.1");
    expect_url("https://127.0.0.1:8443/", NULL, "https://127.0.0.1:8443/.well-known/est",
               "127.0.0.1:8443", "127.0.0.1");
    expect_url("https://127.0.0.1:8443/.well-known/est", NULL,
               "https://127.0.0.1:8443/.well-known/est", "127.0.0.1:8443", "127.0.0.1");
    expect_url("https://127.0.0.1:8443/.well-known/est/", NULL,
               "https://127.0.0.1:8443/.well-known/est", "127.0.0.1:8443", "127.0.0.1");
    expect_url("https://h:1/.well-known/est/arbitraryLabel1", NULL,
               "https://h:1/.well-known/est/arbitraryLabel1", "h:1", "h");
    expect_url("https://[::1]:8443", NULL, "https://[::1]:8443/.well-known/est", "[::1]:8443",
               "::1");
}

static void label_from_url_or_config(void **state)
{
    (void)state;
    expect_url("https://h:1", "devices", "https://h:1/.well-known/est/devices", "h:1", "h");
    expect_url("https://h:1/.well-known/est/devices", "devices",
               "https://h:1/.well-known/est/devices", "h:1", "h");
    expect_url("https://h:1/.well-known/est/devices", "", "https://h:1/.well-known/est/devices",
               "h:1", "h");
    expect_bad_url("https://h:1/.well-known/est/devices", "other", EST_E_INPUT, "differs");
    /* draft-04 §3.2.2: a label never equals an operation path segment. */
    expect_bad_url("https://h:1/.well-known/est/cacerts", NULL, EST_E_INPUT, "h:1");
    expect_bad_url("https://h:1", "simpleEnroll", EST_E_INPUT, "h:1");
    expect_bad_url("https://h:1", "..", EST_E_INPUT, "h:1");
}

static void bad_urls_refused(void **state)
{
    (void)state;
    expect_bad_url("http://h:1", NULL, EST_E_INPUT, "https://");
    expect_bad_url("ftp://h", NULL, EST_E_INPUT, "https://");
    expect_bad_url("https://user:secret@h:1", NULL, EST_E_INPUT, "no user or password");
    expect_bad_url("https://h:1/.well-known/est?x=1", NULL, EST_E_INPUT, "query");
    expect_bad_url("https://h:1/.well-known/est#frag", NULL, EST_E_INPUT, "query");
    expect_bad_url("https://h:1/somewhere/else", NULL, EST_E_INPUT, "/.well-known/est");
    expect_bad_url("https://h:1/.well-known/est/a/b", NULL, EST_E_INPUT, "/.well-known/est");
    expect_bad_url("https://h:1/.well-known/estx", NULL, EST_E_INPUT, "/.well-known/est");
    expect_bad_url("not a url", NULL, EST_E_INPUT, "not a URL");
    expect_bad_url("", NULL, EST_E_INPUT, "no server URL");
    expect_bad_url(NULL, NULL, EST_E_INPUT, "no server URL");
}

static void url_length_limit(void **state)
{
    static const char head[] = "https://h:1/";
    char url[EST_CLIENT_URL_MAX + 2];
    est_client *c = NULL;
    est_error err;

    (void)state;
    /* At the limit the length passes and the path is what is wrong. */
    memset(url, 'a', sizeof url);
    memcpy(url, head, sizeof head - 1);
    url[EST_CLIENT_URL_MAX] = '\0';
    assert_int_equal(make(url, NULL, &c, &err), EST_E_INPUT);
    url[EST_CLIENT_URL_MAX] = 'a';
    url[EST_CLIENT_URL_MAX + 1] = '\0';
    assert_int_equal(make(url, NULL, &c, &err), EST_E_TOO_LARGE);
}

static est_status with_config(void (*edit)(est_client_config *), est_error *err)
{
    est_client_config cfg;
    est_client *c = NULL;
    est_status rc;

    est_client_config_init(&cfg);
    cfg.server_url = "https://h:1";
    edit(&cfg);
    rc = est_client_new(&cfg, &c, err);
    est_client_free(c);
    return rc;
}

static void cert_without_key(est_client_config *cfg) { cfg->tls_cert_file = "c.pem"; }
static void user_without_password(est_client_config *cfg) { cfg->username = "u"; }
static void user_with_colon(est_client_config *cfg) { cfg->username = "a:b", cfg->password = "p"; }
static void bad_dialect(est_client_config *cfg) { cfg->dialect = (est_dialect)7; }
static void bad_auth(est_client_config *cfg) { cfg->http_auth = (est_http_auth)9; }
static void bad_tls(est_client_config *cfg) { cfg->tls_max_version = 11; }
static void negative_timeout(est_client_config *cfg) { cfg->timeout_seconds = -1; }
static void missing_trust(est_client_config *cfg) { cfg->explicit_trust_file = "/nonexistent"; }
static const char *garbage_path;
static void garbage_trust(est_client_config *cfg) { cfg->third_party_trust_file = garbage_path; }

static void config_checks(void **state)
{
    est_error err;

    (void)state;
    assert_int_equal(with_config(cert_without_key, &err), EST_E_CONFIG);
    assert_int_equal(with_config(user_without_password, &err), EST_E_CONFIG);
    assert_int_equal(with_config(user_with_colon, &err), EST_E_CONFIG);
    assert_int_equal(with_config(bad_dialect, &err), EST_E_CONFIG);
    assert_int_equal(with_config(bad_auth, &err), EST_E_CONFIG);
    assert_int_equal(with_config(bad_tls, &err), EST_E_CONFIG);
    assert_int_equal(with_config(negative_timeout, &err), EST_E_CONFIG);
    assert_int_equal(with_config(missing_trust, &err), EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "/nonexistent"));
    {
        char path[] = "/tmp/est-client-garbage-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "not PEM\n", 8), 8);
        close(fd);
        garbage_path = path;
        assert_int_equal(with_config(garbage_trust, &err), EST_E_INPUT);
        unlink(path);
    }
}

static est_status with_credentials(size_t user_len, size_t password_len, est_error *err)
{
    char *user = malloc(user_len + 1), *password = malloc(password_len + 1);
    est_client_config cfg;
    est_client *c = NULL;
    est_status rc;

    memset(user, 'u', user_len);
    user[user_len] = '\0';
    memset(password, 'p', password_len);
    password[password_len] = '\0';
    est_client_config_init(&cfg);
    cfg.server_url = "https://h:1";
    cfg.username = user;
    cfg.password = password;
    rc = est_client_new(&cfg, &c, err);
    est_client_free(c);
    free(user);
    free(password);
    return rc;
}

static void credential_limits(void **state)
{
    est_error err;

    (void)state;
    assert_int_equal(with_credentials(EST_USERNAME_MAX, EST_PASSWORD_MAX, &err), EST_OK);
    assert_int_equal(with_credentials(EST_USERNAME_MAX + 1, 8, &err), EST_E_TOO_LARGE);
    assert_int_equal(with_credentials(8, EST_PASSWORD_MAX + 1, &err), EST_E_TOO_LARGE);
}

/* A trust file written for the test: one self-signed root. */
static char *root_file(void)
{
    char *path = strdup("/tmp/est-client-trust-XXXXXX");
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Test Root", 30, NULL, NULL);
    int fd = mkstemp(path);
    est_error err;

    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(est_certs_write_file(path, est_ca_get0_cacerts(ca), &err), EST_OK);
    est_ca_free(ca);
    return path;
}

/* draft-04 §4.1.1: "MUST NOT engage in any other protocol exchange" before
 * trust; the refusal comes before any connection (the URL is unroutable). */
static void nothing_but_bootstrap_without_trust(void **state)
{
    est_client *c = NULL;
    est_csrattrs *attrs = NULL;
    STACK_OF(X509) *certs = NULL;
    est_enroll_params p = {0};
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    est_error err;

    (void)state;
    assert_int_equal(make("https://192.0.2.1:9", NULL, &c, &err), EST_OK);
    assert_false(est_client_is_trusted(c));
    assert_int_equal(est_client_csrattrs(c, &attrs, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "no trust anchor"));
    assert_int_equal(est_client_enroll(c, &p, &cert, &key, &err), EST_E_CONFIG);
    assert_int_equal(est_client_serverkeygen(c, &p, &cert, &key, &err), EST_E_CONFIG);
    assert_int_equal(est_client_fullcmc(c, (const uint8_t *)"x", 1, &der, &len, &err),
                     EST_E_CONFIG);
    /* /cacerts needs a bootstrap decision to run unauthenticated. */
    assert_int_equal(est_client_cacerts(c, &certs, &err), EST_E_CONFIG);
    assert_null(certs);
    assert_null(cert);
    assert_null(key);
    est_client_free(c);
}

static void trust_file_makes_trusted(void **state)
{
    char *path = root_file();
    est_client_config cfg;
    est_client *c = NULL;
    est_error err;

    (void)state;
    est_client_config_init(&cfg);
    cfg.server_url = "https://h:1";
    cfg.explicit_trust_file = path;
    assert_int_equal(est_client_new(&cfg, &c, &err), EST_OK);
    assert_true(est_client_is_trusted(c));
    assert_non_null(c->explicit_store);
    assert_null(c->third_party_store);
    est_client_free(c);
    cfg.explicit_trust_file = NULL;
    cfg.third_party_trust_file = path;
    assert_int_equal(est_client_new(&cfg, &c, &err), EST_OK);
    assert_null(c->explicit_store);
    assert_non_null(c->third_party_store);
    est_client_free(c);
    unlink(path);
    free(path);
}

static void accessors_before_any_request(void **state)
{
    est_client *c = NULL;
    const uint8_t *der = NULL;
    size_t len = 0;
    est_error err;

    (void)state;
    assert_int_equal(make("https://h:1", NULL, &c, &err), EST_OK);
    assert_int_equal(est_client_get_http_status(c), 0);
    assert_int_equal(est_client_get_retry_after(c), 0);
    assert_int_equal(est_client_get0_last_request(c, &der, &len), EST_E_NOT_FOUND);
    est_client_free(c);
    est_client_free(NULL);
}

UNIT_MAIN(
    cmocka_unit_test(url_forms_of_design_5),
    cmocka_unit_test(label_from_url_or_config),
    cmocka_unit_test(bad_urls_refused),
    cmocka_unit_test(url_length_limit),
    cmocka_unit_test(config_checks),
    cmocka_unit_test(credential_limits),
    cmocka_unit_test(nothing_but_bootstrap_without_trust),
    cmocka_unit_test(trust_file_makes_trusted),
    cmocka_unit_test(accessors_before_any_request))
