/* estd: issuer = est. estd is a Registration Authority (draft-04 §2, §3.7)
 * in front of an upstream EST server: /cacerts is the upstream's (fetched,
 * kept on disk as the last good copy, refreshed in the background), and
 * checked CSRs are forwarded with the RA's own credentials (TLS client
 * certificate, ideally with id-kp-cmcRA so the upstream applies RA policy,
 * and/or Basic). Each forwarded request and its outcome is audited. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/pem.h>
#include "issuer.h"
#include "upstream_http.h"
#include "estkit/file.h"
#include "estkit/mem.h"

struct estd_upstream {
    estd_upstream_http *http;
    const estd_upstream_config *cfg;
    char label[EST_LABEL_MAX + 1];
    pthread_mutex_t lock;          /* guards what follows */
    STACK_OF(X509) *cacerts;       /* last good /cacerts */
    time_t fetched;                /* when it was fetched (or the cache file written) */
    uint8_t *der;                  /* its certs-only, encoded per request (dialect, lines) */
    size_t der_len;
};

/* /cacerts from the upstream: a certs-only body, at least one certificate. */
static est_status fetch_cacerts(estd_upstream *up, STACK_OF(X509) **out, est_error *err)
{
    estd_http_response resp;
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_status rc;

    rc = estd_upstream_http_exchange(up->http, "GET", "cacerts", NULL, NULL, 0, &resp, err);
    if (rc != EST_OK)
        return rc;
    if (resp.status != 200)
        rc = est_error_set(err, resp.status >= 500 ? EST_E_IO : EST_E_PROTOCOL,
                           "upstream /cacerts answered %d %s", resp.status, resp.reason);
    else if ((rc = est_body_decode(resp.body, resp.body_len, &der, &der_len, NULL, err)) !=
                 EST_OK ||
             (rc = est_certs_only_parse(der, der_len, out, err)) != EST_OK)
        est_error_prefix(err, rc, "upstream /cacerts");
    else if (sk_X509_num(*out) == 0)
        rc = est_error_set(err, EST_E_PROTOCOL, "upstream /cacerts holds no certificate");
    if (rc == EST_E_INPUT)
        err->code = rc = EST_E_PROTOCOL;
    est_free(der);
    estd_http_response_release(&resp);
    return rc;
}

static est_status write_cache(const char *path, STACK_OF(X509) *certs, est_error *err)
{
    BIO *mem = BIO_new(BIO_s_mem());
    BUF_MEM *buf = NULL;
    est_status rc = est_error_set(err, EST_E_NOMEM, "out of memory");

    for (int i = 0; mem != NULL && i < sk_X509_num(certs); i++)
        if (!PEM_write_bio_X509(mem, sk_X509_value(certs, i)))
            goto out;
    if (mem == NULL || BIO_get_mem_ptr(mem, &buf) != 1)
        goto out;
    rc = est_file_write_atomic(path, buf->data, buf->length, 0644, err);
out:
    BIO_free(mem);
    return rc;
}

/* Installs certs (taking them) as the current /cacerts. */
static est_status install(estd_upstream *up, STACK_OF(X509) *certs, time_t when, est_error *err)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_status rc = est_certs_only_build(certs, &der, &der_len, err);

    if (rc != EST_OK) {
        sk_X509_pop_free(certs, X509_free);
        return rc;
    }
    pthread_mutex_lock(&up->lock);
    free(up->der);
    up->der = der;
    up->der_len = der_len;
    sk_X509_pop_free(up->cacerts, X509_free);
    up->cacerts = certs;
    up->fetched = when;
    pthread_mutex_unlock(&up->lock);
    return EST_OK;
}

static STACK_OF(X509) *cacerts_copy(estd_upstream *up)
{
    STACK_OF(X509) *copy;

    pthread_mutex_lock(&up->lock);
    copy = X509_chain_up_ref(up->cacerts);
    pthread_mutex_unlock(&up->lock);
    return copy;
}

est_status estd_upstream_refresh(estd_upstream *up, est_error *err)
{
    STACK_OF(X509) *certs = NULL;
    est_error cache_err;
    est_status rc = fetch_cacerts(up, &certs, err);
    time_t fetched;

    if (rc == EST_OK) {
        if (write_cache(up->cfg->cacerts_cache, certs, &cache_err) != EST_OK)
            fprintf(stderr, "estd: CA '%s': keeping the upstream /cacerts on disk failed: %s\n",
                    up->label, cache_err.message);
        return install(up, certs, time(NULL), err);
    }
    pthread_mutex_lock(&up->lock);
    fetched = up->fetched;
    pthread_mutex_unlock(&up->lock);
    if (fetched != 0)
        est_error_prefix(err, rc, "serving the last good /cacerts, %lld s old",
                         (long long)(time(NULL) - fetched));
    return rc;
}

est_status estd_upstream_open(const estd_ca_config *cfg, int fetch, estd_upstream **out,
                              STACK_OF(X509) **cacerts, est_error *err)
{
    estd_upstream *up = calloc(1, sizeof *up);
    STACK_OF(X509) *cached = NULL;
    est_error fetch_err;
    struct stat st;
    est_status rc;

    if (up == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    pthread_mutex_init(&up->lock, NULL);
    up->cfg = &cfg->upstream;
    snprintf(up->label, sizeof up->label, "%s", cfg->label);
    if ((rc = estd_upstream_http_new(&cfg->upstream, &up->http, err)) != EST_OK)
        goto out;
    if (stat(cfg->upstream.cacerts_cache, &st) == 0) {
        if ((rc = est_certs_read_file(cfg->upstream.cacerts_cache, &cached, err)) != EST_OK ||
            (rc = install(up, cached, st.st_mtime, err)) != EST_OK)
            goto out;
    }
    if (fetch || up->cacerts == NULL) {
        rc = estd_upstream_refresh(up, &fetch_err);
        if (rc != EST_OK && up->cacerts == NULL) {
            rc = est_error_set(err, rc, "%s (and no earlier copy in %s)", fetch_err.message,
                               cfg->upstream.cacerts_cache);
            goto out;
        }
        if (rc != EST_OK)
            fprintf(stderr, "estd: CA '%s': upstream /cacerts: %s\n", up->label,
                    fetch_err.message);
    }
    if ((*cacerts = cacerts_copy(up)) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    *out = up;
    up = NULL;
    rc = EST_OK;
out:
    estd_upstream_free(up);
    return rc;
}

void estd_upstream_free(estd_upstream *up)
{
    if (up == NULL)
        return;
    estd_upstream_http_free(up->http);
    sk_X509_pop_free(up->cacerts, X509_free);
    free(up->der);
    pthread_mutex_destroy(&up->lock);
    free(up);
}

est_status estd_upstream_cacerts_body(estd_upstream *up, est_dialect d, unsigned base64_line,
                                      char **body, size_t *len, est_error *err)
{
    est_status rc;

    pthread_mutex_lock(&up->lock);
    rc = est_body_encode_lines(up->der, up->der_len, d, "PKCS7", base64_line, body, len, err);
    pthread_mutex_unlock(&up->lock);
    return rc;
}

estd_upstream_http *estd_upstream_get0_http(estd_upstream *up)
{
    return up->http;
}

STACK_OF(X509) *estd_upstream_get1_cacerts(estd_upstream *up)
{
    return cacerts_copy(up);
}

unsigned estd_upstream_refresh_seconds(const estd_upstream *up)
{
    return up->cfg->cacerts_refresh_seconds;
}

est_status estd_upstream_csrattrs(estd_upstream *up, uint8_t **der, size_t *der_len,
                                  est_error *err)
{
    estd_http_response resp;
    unsigned ignored;
    est_status rc;

    *der = NULL;
    *der_len = 0;
    rc = estd_upstream_http_exchange(up->http, "GET", "csrattrs", NULL, NULL, 0, &resp, err);
    if (rc != EST_OK)
        return rc;
    /* RFC 7030 §4.5.2: 204 (or 404) = no attributes. */
    if (resp.status == 204 || resp.status == 404)
        rc = EST_OK;
    else if (resp.status != 200)
        rc = estd_upstream_status_error(&resp, &ignored, err);
    else if (est_body_decode(resp.body, resp.body_len, der, der_len, NULL, err) != EST_OK)
        rc = est_error_set(err, EST_E_PROTOCOL, "upstream /csrattrs answer unreadable");
    estd_http_response_release(&resp);
    return rc;
}

/* draft-04 §4.2: the answer to an enroll is a certs-only holding the new
 * certificate (and maybe more); find the one for the CSR's key. */
static est_status read_issued(const estd_http_response *resp, X509_REQ *csr, X509 **cert,
                              STACK_OF(X509) **others, est_error *err)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_error why;

    if (est_body_decode(resp->body, resp->body_len, &der, &der_len, NULL, &why) != EST_OK ||
        est_certs_only_parse(der, der_len, others, &why) != EST_OK) {
        est_free(der);
        return est_error_set(err, EST_E_PROTOCOL, "upstream answer is not a certs-only: %s",
                             why.message);
    }
    est_free(der);
    for (int i = 0; i < sk_X509_num(*others); i++) {
        X509 *c = sk_X509_value(*others, i);
        if (EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), X509_get0_pubkey(c)) == 1) {
            *cert = sk_X509_delete(*others, i);
            return EST_OK;
        }
    }
    return est_error_set(err, EST_E_PROTOCOL, "upstream returned a certificate for another key");
}

est_status estd_upstream_status_error(const estd_http_response *resp, unsigned *retry_after,
                               est_error *err)
{
    if (resp->status == 202) {
        *retry_after = resp->retry_after;
        return est_error_set(err, EST_E_RETRY_LATER, "upstream: %s", resp->reason);
    }
    if (resp->status == 401 || resp->status == 403)
        return est_error_set(err, EST_E_AUTH, "upstream refused: %d %s", resp->status,
                             resp->reason);
    if (resp->status >= 400 && resp->status < 500)
        return est_error_set(err, EST_E_INPUT, "upstream refused: %d %s", resp->status,
                             resp->reason);
    if (resp->status >= 500)
        return est_error_set(err, EST_E_IO, "upstream failed: %d %s", resp->status, resp->reason);
    return est_error_set(err, EST_E_PROTOCOL, "upstream answered %d %s", resp->status,
                         resp->reason);
}

static void audit_forward(estd_instance *inst, estd_ca *ca, const estd_requester *who,
                          X509_REQ *csr, const char *event, const char *detail)
{
    char subject[256];

    X509_NAME_oneline(X509_REQ_get_subject_name(csr), subject, sizeof subject);
    estd_audit(inst, event, ca->cfg->label, who->name, subject, NULL, detail);
}

est_status estd_issuer_est_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr,
                                 const estd_requester *who, const char *operation, X509 **out,
                                 unsigned *retry_after, est_error *err)
{
    /* Re-enrollments go to /simplereenroll: the upstream applies its own
     * re-enroll rules to the RA (draft-04 §3.7, §4.2.2). */
    const char *op = strncmp(operation, "renew", 5) == 0 || strcmp(operation, "rekey") == 0
                         ? "simplereenroll" : "simpleenroll";
    estd_upstream *up = ca->upstream;
    estd_http_response resp = {0};
    unsigned char *der = NULL;
    char *body = NULL, detail[EST_ERROR_MESSAGE_MAX + 64];
    size_t body_len = 0;
    STACK_OF(X509) *others = NULL, *anchors = NULL;
    X509 *cert = NULL;
    int der_len = i2d_X509_REQ(csr, &der);
    est_status rc;

    if (der_len <= 0 || (rc = est_body_encode(der, (size_t)der_len, EST_DIALECT_RFC7030,
                                              "CERTIFICATE REQUEST", &body, &body_len, err)) !=
                            EST_OK) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "encoding the CSR");
        goto out;
    }
    snprintf(detail, sizeof detail, "%s: %s/%s", operation, estd_upstream_http_get0_url(up->http),
             op);
    audit_forward(inst, ca, who, csr, "forward", detail);
    rc = estd_upstream_http_exchange(up->http, "POST", op, "application/pkcs10",
                                     (const uint8_t *)body, body_len, &resp, err);
    if (rc == EST_OK && resp.status != 200)
        rc = estd_upstream_status_error(&resp, retry_after, err);
    if (rc == EST_OK && (rc = read_issued(&resp, csr, &cert, &others, err)) == EST_OK) {
        anchors = cacerts_copy(up);
        rc = estd_issuer_accept(inst, ca, csr, cert, others, anchors, who, operation,
                                estd_upstream_http_get0_url(up->http), err);
    }
    /* Success is the "issue" row committed with the certificate (its
     * detail names the upstream): one store commit less per enrollment. */
    if (rc != EST_OK) {
        snprintf(detail, sizeof detail, "%s: %s", op, err->message);
        audit_forward(inst, ca, who, csr, estd_forward_event(rc), detail);
        goto out;
    }
    *out = cert;
    cert = NULL;
out:
    OPENSSL_free(der);
    est_free(body);
    X509_free(cert);
    sk_X509_pop_free(others, X509_free);
    sk_X509_pop_free(anchors, X509_free);
    estd_http_response_release(&resp);
    return rc;
}
