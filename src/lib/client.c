/* The EST client handle: configuration, lifetime, accessors.
 * Operations live in client_cacerts.c, client_enroll.c, client_keygen.c. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "client_internal.h"
#include "estkit/auth.h"
#include "estkit/body.h"
#include "estkit/mem.h"

void est_client_config_init(est_client_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dialect = EST_DIALECT_RFC7030;
    cfg->http_auth = EST_HTTP_AUTH_ANY;
    cfg->timeout_seconds = EST_CLIENT_TIMEOUT_DEFAULT;
    cfg->base64_line_length = EST_BODY_LINE_DEFAULT;
}

static est_status copy_string(const char *in, char **out, est_error *err)
{
    *out = NULL;
    if (in == NULL)
        return EST_OK;
    if ((*out = strdup(in)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    return EST_OK;
}

static est_status check_config(const est_client_config *cfg, est_error *err)
{
    if (cfg->dialect != EST_DIALECT_RFC7030 && cfg->dialect != EST_DIALECT_DRAFT)
        return est_error_set(err, EST_E_CONFIG, "unknown dialect %d", (int)cfg->dialect);
    if (cfg->http_auth != EST_HTTP_AUTH_ANY && cfg->http_auth != EST_HTTP_AUTH_BASIC &&
        cfg->http_auth != EST_HTTP_AUTH_DIGEST)
        return est_error_set(err, EST_E_CONFIG, "unknown HTTP authentication %d",
                             (int)cfg->http_auth);
    if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL))
        return est_error_set(err, EST_E_CONFIG, "a TLS client certificate needs its key and "
                                                "the other way round");
    if (cfg->srp && cfg->username == NULL)
        return est_error_set(err, EST_E_CONFIG, "TLS-SRP needs a user name and a password");
    if (cfg->username != NULL && cfg->password == NULL)
        return est_error_set(err, EST_E_CONFIG, "a user name needs a password");
    if (cfg->username != NULL && strlen(cfg->username) > EST_USERNAME_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "user name longer than %d bytes",
                             EST_USERNAME_MAX);
    if (cfg->password != NULL && strlen(cfg->password) > EST_PASSWORD_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "password longer than %d bytes",
                             EST_PASSWORD_MAX);
    /* Basic's user-id may not contain ':' (RFC 7617 §2). */
    if (cfg->username != NULL && strchr(cfg->username, ':') != NULL)
        return est_error_set(err, EST_E_CONFIG, "a user name cannot contain ':'");
    if (cfg->tls_max_version != 0 && cfg->tls_max_version != 12 && cfg->tls_max_version != 13)
        return est_error_set(err, EST_E_CONFIG, "TLS version %d: expected 12 or 13",
                             cfg->tls_max_version);
    if (cfg->timeout_seconds < 0)
        return est_error_set(err, EST_E_CONFIG, "negative timeout");
    if (est_body_line_check(cfg->base64_line_length, err) != EST_OK)
        return est_error_set(err, EST_E_CONFIG,
                             "base64 line length %u: use 0 (one line) or a multiple of 4 up "
                             "to %u", cfg->base64_line_length, EST_BODY_LINE_MAX);
    return EST_OK;
}

static est_status copy_config(est_client *c, const est_client_config *cfg, est_error *err)
{
    est_status rc;

    if ((rc = copy_string(cfg->username, &c->username, err)) != EST_OK ||
        (rc = copy_string(cfg->password, &c->password, err)) != EST_OK ||
        (rc = copy_string(cfg->tls_cert_file, &c->tls_cert_file, err)) != EST_OK ||
        (rc = copy_string(cfg->tls_key_file, &c->tls_key_file, err)) != EST_OK)
        return rc;
    c->dialect = cfg->dialect;
    c->http_auth = cfg->http_auth;
    c->srp = cfg->srp && cfg->username != NULL;
    c->tls_max_version = cfg->tls_max_version;
    c->timeout_seconds = cfg->timeout_seconds ? cfg->timeout_seconds : EST_CLIENT_TIMEOUT_DEFAULT;
    c->max_wait_seconds = cfg->max_wait_seconds;
    c->on_wait = cfg->on_wait;
    c->on_wait_arg = cfg->on_wait_arg;
    c->bootstrap = cfg->bootstrap;
    c->bootstrap_arg = cfg->bootstrap_arg;
    c->on_warning = cfg->on_warning;
    c->on_warning_arg = cfg->on_warning_arg;
    c->base64_line = cfg->base64_line_length;
    return EST_OK;
}

est_status est_client_new(const est_client_config *cfg, est_client **out, est_error *err)
{
    est_client *c = NULL;
    est_status rc;

    if (cfg == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "client: NULL argument");
    *out = NULL;
    if ((rc = check_config(cfg, err)) != EST_OK)
        return rc;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if ((rc = client_url_parse(cfg->server_url, cfg->label, &c->host, &c->server,
                               &c->base_url, err)) != EST_OK ||
        (rc = copy_config(c, cfg, err)) != EST_OK ||
        (rc = client_load_trust(c, cfg, err)) != EST_OK)
        goto out;
    *out = c;
    c = NULL;
    rc = EST_OK;
out:
    est_client_free(c);
    return rc;
}

void est_client_free(est_client *c)
{
    if (c == NULL)
        return;
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    X509_STORE_free(c->explicit_store);
    X509_STORE_free(c->third_party_store);
    free(c->host);
    free(c->server);
    free(c->base_url);
    free(c->username);
    est_secret_free(c->password);
    free(c->tls_cert_file);
    free(c->tls_key_file);
    free(c->last_request);
    OPENSSL_cleanse(c->binding, sizeof c->binding);
    free(c);
}

const char *est_client_get0_server(const est_client *c)
{
    return c->server;
}

const char *est_client_get0_base_url(const est_client *c)
{
    return c->base_url;
}

int est_client_is_trusted(const est_client *c)
{
    /* draft-04 §3.3.3: a TLS-SRP login authenticates the server as well. */
    return c->explicit_store != NULL || c->third_party_store != NULL || c->srp;
}

long est_client_get_http_status(const est_client *c)
{
    return c->last_status;
}

unsigned est_client_get_retry_after(const est_client *c)
{
    return c->retry_after;
}

est_status est_client_get0_last_request(const est_client *c, const uint8_t **der,
                                        size_t *der_len)
{
    if (c->last_request == NULL)
        return EST_E_NOT_FOUND;
    *der = c->last_request;
    *der_len = c->last_request_len;
    return EST_OK;
}
