/* estd: building responses (docs/design.md §2: text/plain one-line errors,
 * WWW-Authenticate on 401). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "audit_limiter.h"
#include "server.h"

void estd_response_error(estd_response *resp, int status, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    /* One line: a reason must not be able to inject header-like lines. */
    for (int i = 0; i < n; i++)
        if (line[i] == '\r' || line[i] == '\n')
            line[i] = ' ';
    line[n++] = '\n';
    OPENSSL_free(resp->body);
    resp->body = OPENSSL_malloc((size_t)n);
    resp->body_len = resp->body ? (size_t)n : 0;
    if (resp->body)
        memcpy(resp->body, line, (size_t)n);
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "text/plain; charset=utf-8");
    resp->base64_transfer = 0;
}

void estd_response_failure(estd_response *resp, int status, const est_error *err)
{
    if (err->code == EST_E_UNAVAILABLE) {
        estd_response_error(resp, 503, "temporarily unavailable; retry later: %s", err->message);
        resp->retry_after = ESTD_STORE_RETRY_AFTER;
        return;
    }
    estd_response_error(resp, status, "%s", err->message);
}

void estd_response_body(estd_response *resp, int status, const char *content_type,
                        int base64_transfer, char *body, size_t len)
{
    OPENSSL_free(resp->body);
    resp->body = body;
    resp->body_len = len;
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", content_type);
    resp->base64_transfer = base64_transfer;
}

void estd_response_release(estd_response *resp)
{
    /* docs/design.md §4: server-generated keys are not kept (/serverkeygen). */
    if (resp->secret_body && resp->body != NULL)
        OPENSSL_cleanse(resp->body, resp->body_len);
    OPENSSL_free(resp->body);
    resp->body = NULL;
}

void estd_response_challenge(estd_server *srv, estd_response *resp, unsigned schemes, int stale)
{
    const char *realm = srv->inst->cfg.realm;

    resp->www_count = 0;
    if (schemes & ESTD_AUTH_DIGEST) {
        char nonce[160];
        if (est_digest_nonce_issue(srv->nonces, time(NULL), nonce, sizeof nonce, NULL) == EST_OK) {
            /* One Digest challenge with the configured algorithm (MD5 by
             * default: the seed's example, what every client implements);
             * authn.c verifies answers in either algorithm. */
            snprintf(resp->www_authenticate[resp->www_count++], sizeof resp->www_authenticate[0],
                     "Digest realm=\"%s\", qop=\"auth\", algorithm=%s, nonce=\"%s\"%s", realm,
                     est_digest_alg_name(srv->inst->cfg.digest_algorithm), nonce,
                     stale ? ", stale=true" : "");
        }
    }
    if (schemes & ESTD_AUTH_BASIC)
        snprintf(resp->www_authenticate[resp->www_count++], sizeof resp->www_authenticate[0],
                 "Basic realm=\"%s\"", realm);
}

void estd_audit_refusal(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                        const estd_response *resp)
{
    char reason[200];

    if (resp->body == NULL)
        return;
    /* The body is the reason plus its newline (estd_response_error). */
    snprintf(reason, sizeof reason, "%.*s", (int)(resp->body_len ? resp->body_len - 1 : 0),
             resp->body);
    estd_audit(srv->inst, "reject", req->ca->cfg->label, auth->name, NULL, NULL, reason);
}

/* Issue #12: at most one row per client address, event and window, the
 * rest counted (audit_limiter.h). actor = the address the window is kept
 * for; subject = the user name tried, if any. */
void estd_audit_auth_failure(estd_server *srv, const estd_request *req,
                             const estd_auth_result *auth, const char *event, const char *reason)
{
    const char *label = req->ca->cfg->label;
    char address[ESTD_AUDIT_ADDRESS_MAX];
    estd_audit_window closed;
    int has_closed = 0;

    /* A window per address, not per connection (req->peer has the port). */
    estd_peer_address(req->peer, address, sizeof address);
    if (srv->audit_limiter == NULL ||
        estd_audit_limiter_hit(srv->audit_limiter, address, event, label, (int64_t)time(NULL),
                               &closed, &has_closed) == ESTD_AUDIT_WRITE)
        estd_audit(srv->inst, event, label, address, auth->attempted[0] ? auth->attempted : NULL,
                   NULL, reason);
    if (has_closed)
        estd_audit_window_write(srv, &closed);
}

void estd_audit_window_write(estd_server *srv, const estd_audit_window *window)
{
    char detail[160];
    est_audit_event ev = {window->event, window->label, window->address, NULL, NULL, detail,
                          window->counted};

    snprintf(detail, sizeof detail, "%u more %s events in the %u s window "
             "(counted, not written one by one)", window->counted, window->event,
             estd_audit_limiter_window(srv->audit_limiter));
    est_store_audit_append(srv->inst->store, &ev, NULL);
}

void estd_audit_windows_flush(estd_server *srv, int64_t now)
{
    estd_audit_window closed[16];
    size_t n;

    if (srv->audit_limiter == NULL)
        return;
    do {
        n = estd_audit_limiter_take_closed(srv->audit_limiter, now, closed,
                                           sizeof closed / sizeof closed[0]);
        for (size_t i = 0; i < n; i++)
            estd_audit_window_write(srv, &closed[i]);
    } while (n == sizeof closed / sizeof closed[0]);
}
