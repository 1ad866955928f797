/* /csrattrs, /simpleenroll and /simplereenroll on the client side
 * (draft-04 §4.2, §4.5), with proof-of-possession linking (§3.5) and the
 * 202 + Retry-After wait (§4.2.3).
 *
 * Linking needs the CSR signed after the handshake it is bound to and sent
 * on that same connection. So the exchange is: GET /csrattrs on the
 * client's handle (its pre-request callback records the connection's
 * channel binding), build and sign the CSR with that binding, POST it on
 * the same handle; the pre-request callback refuses to send unless the
 * connection is still the one bound to. When libcurl had to open a new one
 * (the server closed the old), the whole exchange runs once more. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "client_internal.h"
#include "estkit/body.h"
#include "estkit/key.h"
#include "estkit/csr.h"
#include "estkit/csrattrs.h"

#define ENROLL_ATTEMPTS 2 /* a second try when the bound connection was lost */

static est_status decode_csrattrs(est_client *c, const est_http_response *resp,
                                  est_csrattrs **out, est_error *err)
{
    uint8_t *der = NULL;
    size_t len = 0;
    est_status rc;

    if ((rc = client_check_type(c, resp, "application/csrattrs", err)) != EST_OK)
        return rc;
    if (resp->len == 0) {
        *out = est_csrattrs_new();
        return *out ? EST_OK : est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    rc = est_body_decode(resp->body, resp->len, &der, &len, NULL, err);
    if (rc == EST_OK)
        rc = est_csrattrs_decode(der, len, out, err);
    if (rc != EST_OK)
        rc = est_error_prefix(err, rc, "%s: malformed /csrattrs response", c->server);
    OPENSSL_free(der);
    return rc;
}

/* For an enroll: a /csrattrs answer that cannot be used is a warning and
 * an empty list, never the end of the enrollment. */
static est_status decode_csrattrs_soft(est_client *c, const est_http_response *resp,
                                       est_csrattrs **out, est_error *err)
{
    est_error why;

    if (decode_csrattrs(c, resp, out, &why) == EST_OK)
        return EST_OK;
    if (c->on_warning != NULL) {
        char line[EST_ERROR_MESSAGE_MAX + 40];
        snprintf(line, sizeof line, "%s; enrolling without CSR attributes", why.message);
        c->on_warning(c->on_warning_arg, line);
    }
    *out = est_csrattrs_new();
    return *out ? EST_OK : est_error_set(err, EST_E_NOMEM, "out of memory");
}

/* GET /csrattrs. soft: an HTTP refusal, or an answer we cannot read,
 * counts as "no attributes" (the enroll that follows gets its own answer:
 * only a server that demands attributes will refuse it, with its reason).
 * An unreadable answer is reported through on_warning. */
static est_status get_csrattrs(est_client *c, int soft, est_csrattrs **out, est_error *err)
{
    est_http_response resp = {0};
    CURL *curl;
    est_status rc;

    *out = NULL;
    if ((rc = client_handle(c, &curl, err)) != EST_OK)
        return rc;
    c->binding_mode = EST_BINDING_RECORD;
    c->binding_len = 0;
    rc = client_http(c, curl, EST_OP_CSRATTRS, NULL, NULL, 0, &resp, err);
    c->binding_mode = EST_BINDING_OFF;
    if (rc != EST_OK)
        goto out;
    /* draft-04 §4.5.2: 204 and 404 mean "no attributes". */
    if (resp.status == 204 || resp.status == 404 || resp.status == 501 ||
        (soft && resp.status >= 400)) {
        *out = est_csrattrs_new();
        rc = *out ? EST_OK : est_error_set(err, EST_E_NOMEM, "out of memory");
    } else if ((rc = client_status_error(c, EST_OP_CSRATTRS, &resp, err)) == EST_OK) {
        rc = soft ? decode_csrattrs_soft(c, &resp, out, err) : decode_csrattrs(c, &resp, out, err);
    }
out:
    http_response_free(&resp);
    return rc;
}

est_status est_client_csrattrs(est_client *client, est_csrattrs **out, est_error *err)
{
    if (client == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "csrattrs: NULL argument");
    return get_csrattrs(client, 0, out, err);
}

est_status est_client_get_channel_binding(est_client *c, char *out, size_t cap,
                                          est_error *err)
{
    if (c == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "channel binding: NULL argument");
    if (c->binding_len == 0)
        return est_error_set(err, EST_E_TLS, "%s: no TLS channel binding (ask /csrattrs first)",
                             c->server);
    if (cap < 4 * ((c->binding_len + 2) / 3) + 1)
        return est_error_set(err, EST_E_TOO_LARGE, "channel binding buffer too small");
    EVP_EncodeBlock((unsigned char *)out, c->binding, (int)c->binding_len);
    c->binding_armed = 1;
    return EST_OK;
}

static est_status post_csr(est_client *c, est_operation op, const uint8_t *der, size_t len,
                           est_http_response *resp, est_error *err)
{
    char *body = NULL;
    size_t body_len = 0;
    CURL *curl;
    est_status rc;

    if ((rc = client_handle(c, &curl, err)) != EST_OK ||
        (rc = est_body_encode_lines(der, len, c->dialect, "CERTIFICATE REQUEST", c->base64_line,
                                    &body, &body_len, err)) != EST_OK)
        return rc;
    rc = client_http(c, curl, op, "application/pkcs10", (const uint8_t *)body, body_len,
                     resp, err);
    OPENSSL_free(body);
    return rc;
}

static void sleep_seconds(unsigned seconds)
{
    struct timespec left = {.tv_sec = (time_t)seconds, .tv_nsec = 0};

    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

static est_status remember_request(est_client *c, const uint8_t *der, size_t len,
                                   est_error *err)
{
    uint8_t *copy = malloc(len);

    if (copy == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    memcpy(copy, der, len);
    free(c->last_request);
    c->last_request = copy;
    c->last_request_len = len;
    return EST_OK;
}

/* draft-04 §4.2.3: on 202 wait at least Retry-After, then repeat the same
 * request, within max_wait_seconds in all. */
static est_status post_and_wait(est_client *c, est_operation op, const uint8_t *der,
                                size_t len, int check_binding, est_http_response *resp,
                                est_error *err)
{
    char text[EST_CLIENT_SERVER_TEXT_MAX + 1];
    unsigned waited = 0, wait;
    est_status rc;

    if ((rc = remember_request(c, der, len, err)) != EST_OK)
        return rc;
    for (;;) {
        c->binding_mode = check_binding ? EST_BINDING_CHECK : EST_BINDING_OFF;
        rc = post_csr(c, op, der, len, resp, err);
        c->binding_mode = EST_BINDING_OFF;
        /* A repeat is the same request, sent as it was. */
        check_binding = 0;
        if (rc != EST_OK || resp->status != 202)
            return rc != EST_OK ? rc : client_status_error(c, op, resp, err);
        c->retry_after = wait = client_retry_after_parse(resp->retry_after);
        if (c->max_wait_seconds == 0 || waited + wait > c->max_wait_seconds) {
            rc = client_status_error(c, op, resp, err);
            if (err != NULL) {
                size_t used = strlen(err->message);
                snprintf(err->message + used, sizeof err->message - used,
                         " (retry after %u s)", wait);
            }
            return rc;
        }
        client_server_text(resp, text, sizeof text);
        if (c->on_wait != NULL)
            c->on_wait(c->on_wait_arg, wait, waited, text);
        sleep_seconds(wait);
        waited += wait;
    }
}

static est_status make_key(const est_enroll_params *p, const est_csrattrs *attrs,
                           EVP_PKEY **key, est_error *err)
{
    est_key_type type = EST_KEY_EC_P256;
    const EVP_MD *md;
    int wished = 0;

    if (p->key_type_set)
        type = p->key_type;
    else
        est_csrattrs_key_wishes(attrs, &wished, &type, &md);
    if (!p->key_type_set && !wished)
        type = EST_KEY_EC_P256;
    return est_key_generate(type, key, err);
}

/* The CSR's DER: subject and SAN from params (or the certificate being
 * renewed, draft-04 §4.2.2), the binding when linking. */
static est_status build_csr(est_client *c, const est_enroll_params *p, EVP_PKEY *key,
                            const est_csrattrs *attrs, int link, uint8_t **der, size_t *len,
                            est_error *err)
{
    char binding[EST_CHANNEL_BINDING_B64_MAX];
    est_csr_params cp = {.key = key, .mac_address = p->mac_address};
    GENERAL_NAMES *cert_san = NULL;
    X509_REQ *req = NULL;
    int type_set, n;
    est_key_type type;
    est_status rc;

    *der = NULL;
    est_csrattrs_key_wishes(attrs, &type_set, &type, &cp.md);
    cp.subject = p->cert ? X509_get_subject_name(p->cert) : p->subject;
    cp.san = p->san;
    if (p->cert != NULL)
        cp.san = cert_san = X509_get_ext_d2i(p->cert, NID_subject_alt_name, NULL, NULL);
    if (link) {
        if (c->binding_len == 0) {
            rc = est_error_set(err, EST_E_TLS, "%s: no TLS channel binding to link the "
                                               "request to", c->server);
            goto out;
        }
        EVP_EncodeBlock((unsigned char *)binding, c->binding, (int)c->binding_len);
        cp.challenge_password = binding;
    }
    if ((rc = est_csr_build(&cp, &req, err)) != EST_OK)
        goto out;
    if ((n = i2d_X509_REQ(req, der)) <= 0) {
        *der = NULL;
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "encoding the CSR");
        goto out;
    }
    *len = (size_t)n;
    rc = EST_OK;
out:
    OPENSSL_cleanse(binding, sizeof binding);
    GENERAL_NAMES_free(cert_san);
    X509_REQ_free(req);
    return rc;
}

static est_status attempt(est_client *c, est_operation op, const est_enroll_params *p,
                          EVP_PKEY **generated, est_http_response *resp, est_error *err)
{
    est_csrattrs *attrs = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    int link = p->pop_link;
    est_status rc = EST_OK;

    if (!p->skip_csrattrs || p->pop_link)
        rc = get_csrattrs(c, 1, &attrs, err);
    if (rc != EST_OK)
        goto out;
    /* draft-04 §4.5.2: the challengePassword OID asks for linking. */
    if (attrs != NULL && est_csrattrs_has_nid(attrs, NID_pkcs9_challengePassword))
        link = 1;
    if (p->key == NULL && *generated == NULL && (rc = make_key(p, attrs, generated, err)) != EST_OK)
        goto out;
    if ((rc = build_csr(c, p, p->key ? p->key : *generated, attrs, link, &der, &len, err)) !=
        EST_OK)
        goto out;
    rc = post_and_wait(c, op, der, len, link, resp, err);
out:
    OPENSSL_free(der);
    est_csrattrs_free(attrs);
    return rc;
}

est_status client_request_cert(est_client *c, est_operation op,
                               const est_enroll_params *p, EVP_PKEY **generated,
                               est_http_response *resp, est_error *err)
{
    est_status rc = EST_E_INTERNAL;

    for (int i = 0; i < ENROLL_ATTEMPTS; i++) {
        rc = attempt(c, op, p, generated, resp, err);
        if (!(rc == EST_E_TLS && c->binding_mismatch))
            break;
    }
    return rc;
}

est_status client_pick_cert(est_client *c, STACK_OF(X509) *certs, EVP_PKEY *key,
                            X509 **out, est_error *err)
{
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *cert = sk_X509_value(certs, i);
        if (key == NULL || EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1) {
            if (!X509_up_ref(cert))
                return est_error_set(err, EST_E_INTERNAL, "certificate reference");
            *out = cert;
            return EST_OK;
        }
    }
    return est_error_set(err, EST_E_PROTOCOL, "%s: no certificate in the response is for "
                                              "the requested key", c->server);
}

static est_status enroll(est_client *c, est_operation op, const est_enroll_params *p,
                         X509 **cert, EVP_PKEY **new_key, est_error *err)
{
    est_http_response resp = {0};
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *generated = NULL;
    est_status rc;

    if (c == NULL || p == NULL || cert == NULL)
        return est_error_set(err, EST_E_INTERNAL, "enroll: NULL argument");
    *cert = NULL;
    if (new_key != NULL)
        *new_key = NULL;
    if (p->key == NULL && new_key == NULL)
        return est_error_set(err, EST_E_INTERNAL, "enroll: a generated key needs new_key");
    if (op == EST_OP_SIMPLEREENROLL && p->cert == NULL)
        return est_error_set(err, EST_E_INPUT, "re-enroll needs the certificate to renew");
    rc = client_request_cert(c, op, p, &generated, &resp, err);
    if (rc == EST_OK && (rc = client_decode_certs(c, &resp, &certs, err)) == EST_OK)
        rc = client_pick_cert(c, certs, p->key ? p->key : generated, cert, err);
    /* On 202 the generated key goes back too: the repeat needs it. */
    if ((rc == EST_OK || rc == EST_E_RETRY_LATER) && new_key != NULL) {
        *new_key = generated;
        generated = NULL;
    }
    EVP_PKEY_free(generated);
    sk_X509_pop_free(certs, X509_free);
    http_response_free(&resp);
    return rc;
}

est_status est_client_enroll(est_client *client, const est_enroll_params *params, X509 **cert,
                             EVP_PKEY **new_key, est_error *err)
{
    return enroll(client, EST_OP_SIMPLEENROLL, params, cert, new_key, err);
}

est_status est_client_reenroll(est_client *client, const est_enroll_params *params, X509 **cert,
                               EVP_PKEY **new_key, est_error *err)
{
    return enroll(client, EST_OP_SIMPLEREENROLL, params, cert, new_key, err);
}

est_status est_client_enroll_csr(est_client *c, est_operation op, const uint8_t *csr_der,
                                 size_t csr_len, X509 **cert, est_error *err)
{
    est_http_response resp = {0};
    STACK_OF(X509) *certs = NULL;
    X509_REQ *req = NULL;
    est_status rc;

    if (c == NULL || csr_der == NULL || cert == NULL)
        return est_error_set(err, EST_E_INTERNAL, "enroll: NULL argument");
    *cert = NULL;
    if (op != EST_OP_SIMPLEENROLL && op != EST_OP_SIMPLEREENROLL)
        return est_error_set(err, EST_E_INPUT, "a CSR goes to /simpleenroll or /simplereenroll");
    if ((rc = est_csr_parse(csr_der, csr_len, &req, err)) != EST_OK)
        return rc;
    if ((rc = post_and_wait(c, op, csr_der, csr_len, 0, &resp, err)) == EST_OK &&
        (rc = client_decode_certs(c, &resp, &certs, err)) == EST_OK)
        rc = client_pick_cert(c, certs, X509_REQ_get0_pubkey(req), cert, err);
    X509_REQ_free(req);
    sk_X509_pop_free(certs, X509_free);
    http_response_free(&resp);
    return rc;
}
