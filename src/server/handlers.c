/* estd: per-operation dispatch (draft-04 §4, RFC 7030 §4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "issuer.h"
#include "metrics.h"
#include "server.h"
#include "estkit/csrattrs.h"

/* docs/design.md §2: RFC 7030 bodies are base64 DER with CTE base64
 * and smime-type; draft-04 bodies are PEM-armoured with the bare media type. */
static const char *pkcs7_type(est_dialect dialect)
{
    return dialect == EST_DIALECT_DRAFT ? "application/pkcs7-mime"
                                        : "application/pkcs7-mime; smime-type=certs-only";
}

unsigned estd_base64_line(const estd_server *srv, const estd_ca *ca, int has_user_agent)
{
    if (!has_user_agent && srv->inst->cfg.base64_unbroken_without_user_agent)
        return 0;
    return ca->cfg->base64_line_length;
}

int estd_handle_fast(estd_server *srv, const estd_request *req, estd_response *resp)
{
    const estd_ca *ca = req->ca;
    est_dialect d = req->route.dialect;
    (void)srv;

    if (req->route.op != EST_OP_CACERTS)
        return 0;
    if (ca->upstream != NULL) {
        /* issuer = est: the upstream's /cacerts, last good copy (it may
         * change under a background refresh, so it is copied). */
        est_error err;
        char *body = NULL;
        size_t len = 0;
        if (estd_upstream_cacerts_body(ca->upstream, d, req->base64_line, &body, &len, &err) != EST_OK) {
            estd_response_error(resp, 500, "%s", err.message);
            return 1;
        }
        estd_response_body(resp, 200, pkcs7_type(d), d == EST_DIALECT_RFC7030, body, len);
        return 1;
    }
    /* draft-04 §4.1: /CACerts needs no client authentication. The body was
     * prepared when the CA was loaded. */
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", pkcs7_type(d));
    resp->base64_transfer = d == EST_DIALECT_RFC7030;
    resp->shared_body = ca->cacerts_body[estd_body_form_of(d, req->base64_line)];
    resp->shared_len = ca->cacerts_len[estd_body_form_of(d, req->base64_line)];
    return 1;
}

/* upstream_csrattrs = yes: the upstream's list, checked for shape and
 * re-encoded in the device's dialect. */
static void upstream_csrattrs(const estd_request *req, estd_response *resp)
{
    est_dialect d = req->route.dialect;
    est_csrattrs *attrs = NULL;
    uint8_t *der = NULL;
    char *body = NULL;
    size_t der_len = 0, body_len = 0;
    est_error err;

    if (estd_upstream_csrattrs(req->ca->upstream, &der, &der_len, &err) != EST_OK) {
        estd_issue_refusal(req, &err, resp);
    } else if (der_len == 0) {
        resp->status = 204;
    } else if (est_csrattrs_decode(der, der_len, &attrs, &err) != EST_OK ||
               est_body_encode_lines(der, der_len, d, "CSR ATTRIBUTES", req->base64_line, &body,
                                     &body_len, &err) != EST_OK) {
        estd_response_error(resp, 502, "upstream /csrattrs: %s", err.message);
    } else {
        estd_response_body(resp, 200, "application/csrattrs", d == EST_DIALECT_RFC7030, body,
                           body_len);
    }
    est_csrattrs_free(attrs);
    free(der);
}

static void handle_csrattrs(const estd_request *req, estd_response *resp)
{
    const estd_ca *ca = req->ca;
    est_dialect d = req->route.dialect;

    if (ca->upstream != NULL && ca->cfg->upstream.csrattrs_from_upstream) {
        upstream_csrattrs(req, resp);
        return;
    }

    /* RFC 7030 §4.5.2: no attributes -> 204. */
    if (est_csrattrs_count(ca->csrattrs) == 0) {
        resp->status = 204;
        return;
    }
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "application/csrattrs");
    resp->base64_transfer = d == EST_DIALECT_RFC7030;
    resp->shared_body = ca->csrattrs_body[estd_body_form_of(d, req->base64_line)];
    resp->shared_len = ca->csrattrs_len[estd_body_form_of(d, req->base64_line)];
}

/* The client's address without the port: what the guessing guard counts
 * ("[::1]:443" and "1.2.3.4:443" alike end in ":port"). */
void estd_peer_address(const char *peer, char *out, size_t cap)
{
    const char *colon = strrchr(peer, ':');
    int len = colon != NULL ? (int)(colon - peer) : (int)strlen(peer);

    snprintf(out, cap, "%.*s", len, peer);
}

/* The audit side of a refusal. A request that presented nothing is the
 * first step of every Digest (and most Basic) exchanges, answered with a
 * challenge: no failure, no record. */
static void audit_auth_refusal(estd_server *srv, const estd_request *req,
                               const estd_auth_result *auth)
{
    const char *user = auth->attempted[0] ? auth->attempted : NULL;
    const char *label = req->ca->cfg->label;

    if (auth->guess_locked_now)
        estd_audit(srv->inst, "user-locked", label, req->peer, user, NULL,
                   "failed password attempts reached guess_lock_after");
    if (auth->presented == 0)
        return;
    /* Issue #12: counted per address and window, not a row each. */
    estd_audit_auth_failure(srv, req, auth,
                            auth->guess == ESTD_GUESS_GO ? "auth-fail" : "auth-throttled",
                            auth->reason[0] ? auth->reason : "no acceptable credentials");
}

/* Which credentials a refused request brought, for the metrics: the HTTP
 * scheme it sent, else its TLS client certificate, else none. */
static const char *auth_scheme(const estd_request *req)
{
    if (req->authorization != NULL && strncasecmp(req->authorization, "Basic ", 6) == 0)
        return "basic";
    if (req->authorization != NULL && strncasecmp(req->authorization, "Digest ", 7) == 0)
        return "digest";
    if (req->srp_user != NULL)
        return "srp";
    return req->peer_cert != NULL ? "cert" : "none";
}

/* Authenticates and applies the operation's policy. 1 = go on; 0 = resp
 * holds the refusal (401 with challenges, or 403). */
static int authorize(estd_server *srv, const estd_request *req, const estd_auth_policy *policy,
                     estd_auth_result *auth, estd_response *resp)
{
    char addr[sizeof req->peer];
    estd_auth_input in = {req->peer_cert, req->peer_chain, req->authorization, req->method,
                          req->uri, addr, req->srp_user, &req->password,
                          /* its one part authentication writes: settled */
                          (estd_guess_pre *)&req->guess_pre};
    estd_auth_caches caches = {srv->nonces, srv->credentials, srv->chains, srv->guard,
                               srv->dummy_hash};
    unsigned schemes = estd_auth_http_schemes(policy);
    est_error err;

    estd_peer_address(req->peer, addr, sizeof addr);
    if (estd_authenticate(srv->inst, req->ca, &caches, &in, auth, &err) != EST_OK) {
        estd_response_error(resp, 500, "%s", err.message);
        return 0;
    }
    snprintf(resp->who, sizeof resp->who, "%s", auth->name);
    if (estd_auth_allows(policy, auth))
        return 1;
    if (auth->store_down) {
        estd_response_error(resp, 503, "store unavailable; retry later");
        resp->retry_after = ESTD_STORE_RETRY_AFTER;
        return 0;
    }
    if (auth->busy) {
        estd_metrics_password_check_refused(srv->inst->metrics);
        estd_response_error(resp, 503, "server busy checking passwords; retry later");
        resp->retry_after = 1;
        return 0;
    }
    estd_metrics_auth_failure(srv->inst->metrics, auth_scheme(req));
    audit_auth_refusal(srv, req, auth);
    if (schemes != 0) {
        estd_response_error(resp, 401, "%s",
                            auth->reason[0] ? auth->reason : "authentication required");
        estd_response_challenge(srv, resp, schemes, auth->digest_stale);
        /* draft-04 §3.3.3 countermeasures: say when trying again is useful. */
        if (auth->guess != ESTD_GUESS_GO)
            resp->retry_after = auth->retry_after;
        return 0;
    }
    estd_response_error(resp, 403, "%s",
                        auth->reason[0] ? auth->reason
                                        : "a client certificate issued by this CA is required");
    return 0;
}

void estd_handle(estd_server *srv, const estd_request *req, estd_response *resp)
{
    const estd_ca_config *cfg = req->ca->cfg;
    estd_auth_result auth;

    switch (req->route.op) {
    case EST_OP_CACERTS:
        estd_handle_fast(srv, req, resp);
        return;
    case EST_OP_CSRATTRS:
        /* docs/design.md §4: every operation but /cacerts needs authentication. */
        if (authorize(srv, req, &cfg->enroll_auth, &auth, resp))
            handle_csrattrs(req, resp);
        return;
    case EST_OP_SIMPLEENROLL:
        if (authorize(srv, req, &cfg->enroll_auth, &auth, resp))
            estd_handle_enroll(srv, req, &auth, resp);
        return;
    case EST_OP_SIMPLEREENROLL:
        if (authorize(srv, req, &cfg->reenroll_auth, &auth, resp))
            estd_handle_enroll(srv, req, &auth, resp);
        return;
    case EST_OP_FULLCMC:
        if (!estd_fullcmc_offered(req, resp) ||
            !authorize(srv, req, &cfg->enroll_auth, &auth, resp))
            return;
        if (req->ca->upstream != NULL)
            estd_fullcmc_forward(srv, req, &auth, resp);
        else
            estd_handle_fullcmc(srv, req, &auth, resp);
        return;
    case EST_OP_SERVERKEYGEN:
        if (estd_serverkeygen_offered(req, resp) &&
            authorize(srv, req, &cfg->enroll_auth, &auth, resp))
            estd_handle_serverkeygen(srv, req, &auth, resp);
        return;
    case EST_OP_COUNT:
        break;
    }
    estd_response_error(resp, 404, "unknown operation");
}
