/* estd: /fullcmc through an RA (issuer = est): the Full PKI Request is
 * forwarded to the upstream as it came (draft-04 §4.3; the RA's own TLS
 * credential authenticates the forward, and the upstream applies its CMC
 * rules, RA rules included). The RA cannot sign a CMC response, so the
 * upstream's answer goes back unchanged, after every end-entity
 * certificate in it was checked against the upstream CA and stored, as for
 * /simpleenroll. Wrapping the request in the RA's own signed PKIData (RFC
 * 5272 §3.2.3 nested content) is not done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/pkcs7.h>
#include "estkit/mem.h"
#include "issuer.h"
#include "server.h"
#include "upstream_http.h"

/* Stores the end-entity certificates of a CMC response (a SignedData,
 * RFC 5272 §3.2.3); CA certificates in it are the chain. */
static est_status store_issued(estd_server *srv, const estd_request *req,
                               const estd_requester *who, const uint8_t *der, size_t len,
                               est_error *err)
{
    const unsigned char *p = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
    STACK_OF(X509) *certs, *anchors = NULL;
    const char *via = estd_upstream_http_get0_url(estd_upstream_get0_http(req->ca->upstream));
    est_status rc = EST_OK;

    if (p7 == NULL || !PKCS7_type_is_signed(p7) || p != der + len) {
        PKCS7_free(p7);
        return est_error_set(err, EST_E_PROTOCOL, "upstream /fullcmc answer is not a CMC "
                                                  "response");
    }
    certs = p7->d.sign->cert;
    anchors = estd_upstream_get1_cacerts(req->ca->upstream);
    for (int i = 0; rc == EST_OK && certs != NULL && i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        if (X509_check_ca(c) == 0)
            rc = estd_issuer_accept(srv->inst, req->ca, NULL, c, certs, anchors, who, "fullcmc",
                                    via, err);
    }
    sk_X509_pop_free(anchors, X509_free);
    PKCS7_free(p7);
    return rc;
}

void estd_fullcmc_forward(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                          estd_response *resp)
{
    estd_upstream_http *http = estd_upstream_get0_http(req->ca->upstream);
    estd_requester who = {auth->name, auth->method, NULL};
    estd_http_response up = {0};
    uint8_t *der = NULL, *answer = NULL;
    size_t der_len = 0, answer_len = 0;
    char *body = NULL, detail[EST_ERROR_MESSAGE_MAX + 32];
    size_t body_len = 0;
    est_error err;
    est_status rc;

    if (est_body_decode(req->body, req->body_len, &der, &der_len, NULL, &err) != EST_OK ||
        est_body_encode(der, der_len, EST_DIALECT_RFC7030, "PKCS7", &body, &body_len, &err) !=
            EST_OK) {
        estd_response_error(resp, 400, "%s", err.message);
        goto refused;
    }
    estd_audit(srv->inst, "forward", req->ca->cfg->label, auth->name, NULL, NULL, "fullcmc");
    rc = estd_upstream_http_exchange(http, "POST", "fullcmc",
                                     "application/pkcs7-mime; smime-type=CMC-request",
                                     (uint8_t *)body, body_len, &up, &err);
    /* A CMC failure comes back as a CMC response too (draft-04 §4.3.2):
     * it is passed on with the upstream's status. */
    if (rc == EST_OK && up.body_len > 0 &&
        strncasecmp(up.content_type, "application/pkcs7-mime", 22) == 0 &&
        (rc = est_body_decode(up.body, up.body_len, &answer, &answer_len, NULL, &err)) == EST_OK)
        rc = store_issued(srv, req, &who, answer, answer_len, &err);
    else if (rc == EST_OK && up.status == 200)
        rc = est_error_set(&err, EST_E_PROTOCOL, "upstream /fullcmc answered %s",
                           up.content_type[0] ? up.content_type : "without a content type");
    snprintf(detail, sizeof detail, "fullcmc: %s", rc == EST_OK ? "answer passed on" : err.message);
    estd_audit(srv->inst, rc == EST_OK ? "forward-ok" : estd_forward_event(rc),
               req->ca->cfg->label, auth->name, NULL, NULL, detail);
    if (rc != EST_OK) {
        estd_issue_refusal(req, &err, resp);
        goto refused;
    }
    if (answer == NULL) {
        estd_upstream_status_error(&up, &resp->retry_after, &err);
        estd_issue_refusal(req, &err, resp);
        goto refused;
    }
    /* The device gets the answer in its own dialect (draft-04 §4.3.2). */
    est_free(body);
    body = NULL;
    if (est_body_encode_lines(answer, answer_len, req->route.dialect, "PKCS7", req->base64_line,
                              &body, &body_len, &err) != EST_OK) {
        estd_response_error(resp, 500, "%s", err.message);
        goto out;
    }
    estd_response_body(resp, up.status,
                       req->route.dialect == EST_DIALECT_DRAFT
                           ? "application/pkcs7-mime"
                           : "application/pkcs7-mime; smime-type=CMC-response",
                       req->route.dialect == EST_DIALECT_RFC7030, body, body_len);
    body = NULL;
    goto out;
refused:
    estd_audit_refusal(srv, req, auth, resp);
out:
    est_free(der);
    est_free(answer);
    est_free(body);
    estd_http_response_release(&up);
}
