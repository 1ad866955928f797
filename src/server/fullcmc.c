/* estd: /fullcmc (draft-04 §4.3, RFC 7030 §4.3): Full PKI Requests (RFC
 * 5272) with PKCS#10 certification requests and revokeRequest controls.
 *
 * A body that is no Full PKI Request is a 400 with a text reason
 * (draft-04 §4.3.1). Everything after that is answered with a Full PKI
 * Response signed by the CA: CMCStatusInfoV2 with the body parts it is
 * about, transactionId and senderNonce echoed, issued certificates in the
 * SignedData. Failures carry their CMCFailInfo and a 4xx/5xx status
 * (draft-04 §4.3.2). Every check runs before anything is issued or
 * revoked, so a refused request changes nothing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/x509v3.h>
#include "issuer.h"
#include "server.h"
#include "estkit/csr.h"
#include "estkit/ca.h"
#include "estkit/mem.h"

typedef struct cmc_job {
    estd_server *srv;
    const estd_request *req;
    const estd_auth_result *auth;
    est_cmc_request *cmc;
    X509 *signer_cert;          /* borrowed from cmc; NULL when a request's key signed */
    int signer_request;         /* that request's index, else -1 */
    int signer_is_ra;           /* signer_cert carries id-kp-cmcRA */
    STACK_OF(X509) *issued;
    est_cmc_status_entry done;  /* body parts already acted on */
} cmc_job;

/* Who signs CMC responses: the CA, or the RA in front of a CMP CA (an
 * EST upstream signs its own: fullcmc_forward.c). */
static est_ca *cmc_signer(const estd_ca *ca)
{
    return ca->cmp != NULL ? estd_cmp_upstream_get0_responder(ca->cmp) : ca->ca;
}

int estd_fullcmc_offered(const estd_request *req, estd_response *resp)
{
    /* A CMC response is signed with the CA's key: an RA forwards the
     * request to an EST upstream (fullcmc_forward.c), and in front of a
     * CMP CA signs the answer with its own key (no key with MAC
     * protection: nothing to sign with). */
    if (req->ca->cfg->fullcmc &&
        (req->ca->cfg->upstream.issuer == ESTD_ISSUER_EST || cmc_signer(req->ca) != NULL))
        return 1;
    if (req->ca->cfg->fullcmc) {
        estd_response_error(resp, 501, "/fullcmc is not offered in front of a CMP CA with "
                                       "shared-secret protection (no RA key to sign answers)");
        return 0;
    }
    estd_response_error(resp, 501, "/fullcmc is not offered by this CA");
    return 0;
}

/* draft-04 §4.3.2 dialects: RFC 7030 adds smime-type=CMC-response and
 * base64 transfer; the draft armours the body as PKCS7. */
static void answer(cmc_job *job, int http, const est_cmc_status_entry *statuses, size_t count,
                   estd_response *resp)
{
    const estd_request *req = job->req;
    int rfc = req->route.dialect == EST_DIALECT_RFC7030;
    est_cmc_response_spec spec = {.statuses = statuses, .status_count = count,
                                  .transaction_id = est_cmc_request_get0_transaction_id(job->cmc),
                                  .recipient_nonce = est_cmc_request_get0_sender_nonce(job->cmc),
                                  .certs = job->issued};
    uint8_t *der = NULL;
    size_t der_len = 0, len = 0;
    char *body = NULL;
    est_error err;

    if (est_cmc_response_build(cmc_signer(req->ca), &spec, &der, &der_len, &err) != EST_OK ||
        est_body_encode_lines(der, der_len, req->route.dialect, "PKCS7", req->base64_line, &body,
                              &len, &err) != EST_OK) {
        /* No CMC answer possible (e.g. a CA key OpenSSL cannot use in
         * CMS): the reason as text, with the status we meant to send. */
        if (err.code == EST_E_UNAVAILABLE) {
            estd_response_failure(resp, 503, &err);
            est_free(der);
            return;
        }
        estd_response_error(resp, http == 200 ? 500 : http, "%s%s%s",
                            statuses[0].text ? statuses[0].text : "", statuses[0].text ? "; " : "",
                            err.message);
    } else {
        estd_response_body(resp, http,
                           rfc ? "application/pkcs7-mime; smime-type=CMC-response"
                               : "application/pkcs7-mime",
                           rfc, body, len);
    }
    est_free(der);
}

static void refuse(cmc_job *job, int http, est_cmc_fail fail, uint32_t body_part,
                   estd_response *resp, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The HTTP status for a failure: 503 + Retry-After when the store's
 * database is unreachable (the client should come back), else status. */
static int store_status(const est_error *err, int status, estd_response *resp)
{
    if (err->code != EST_E_UNAVAILABLE)
        return status;
    resp->retry_after = ESTD_STORE_RETRY_AFTER;
    return 503;
}

/* One failed status for body_part (0: the PKIData as a whole). */
static void refuse(cmc_job *job, int http, est_cmc_fail fail, uint32_t body_part,
                   estd_response *resp, const char *fmt, ...)
{
    est_cmc_status_entry st[2] = {job->done, {.status = EST_CMC_FAILED, .fail = fail}};
    size_t first = job->done.body_part_count > 0 ? 0 : 1;
    char reason[EST_CMC_TEXT_MAX + 1], detail[EST_CMC_TEXT_MAX + 40];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (body_part != 0) {
        st[1].body_parts[0] = body_part;
        st[1].body_part_count = 1;
    }
    st[1].text = reason;
    /* What was done before the failure is reported too. */
    answer(job, http, &st[first], 2 - first, resp);
    snprintf(detail, sizeof detail, "fullcmc %s: %s", est_cmc_fail_name(fail), reason);
    estd_audit(job->srv->inst, "reject", job->req->ca->cfg->label, job->auth->name, NULL, NULL,
               detail);
}

/* --- who signed, and may they --- */

static int cert_is_ra(X509 *cert)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
    int ra = 0;

    for (int i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
        if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_cmcRA)
            ra = 1;
    EXTENDED_KEY_USAGE_free(eku);
    return ra;
}

/* The signer certificate must be one this CA issued and has not revoked. */
static int signer_trusted(cmc_job *job, char *why, size_t why_len)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    est_store *store = job->srv->inst->store;
    est_cert_record *rec = NULL;
    char serial[41];
    int ok = 0;

    if (ctx == NULL || !X509_STORE_CTX_init(ctx, job->req->ca->trust, job->signer_cert,
                                            est_cmc_request_get0_certs(job->cmc))) {
        snprintf(why, why_len, "out of memory");
        goto out;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
    if (X509_verify_cert(ctx) != 1) {
        snprintf(why, why_len, "the signer certificate is not from this CA: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    if (est_serial_to_hex(X509_get0_serialNumber(job->signer_cert), serial, NULL) == EST_OK &&
        est_store_cert_get(store, serial, &rec, NULL) == EST_OK &&
        rec->status == EST_CERT_REVOKED) {
        snprintf(why, why_len, "the signer certificate is revoked");
        goto out;
    }
    ok = 1;
out:
    est_cert_record_free(rec);
    X509_STORE_CTX_free(ctx);
    return ok;
}

/* RFC 5272 §3.2.1.3.1, §6.11: the SignedData is signed either by the key
 * of its one PKCS#10 request (the client itself), or by a certificate of
 * this CA: an RA (id-kp-cmcRA) may do anything; any other holder may
 * enroll under its own subject and revoke its own certificate. */
static int authorize_signer(cmc_job *job, estd_response *resp)
{
    est_cmc_request *cmc = job->cmc;
    est_error err;
    char why[200];

    if (est_cmc_request_verify(cmc, &job->signer_cert, &job->signer_request, &err) != EST_OK) {
        refuse(job, 400, EST_CMC_FAIL_BAD_MESSAGE_CHECK, 0, resp, "%s", err.message);
        return 0;
    }
    if (job->signer_cert == NULL) {
        if (est_cmc_request_cert_request_count(cmc) != 1 ||
            est_cmc_request_revoke_count(cmc) != 0) {
            refuse(job, 403, EST_CMC_FAIL_BAD_REQUEST, 0, resp, "signed by a request's own key, "
                   "the PKIData may hold only that request; more needs an RA signature");
            return 0;
        }
        return 1;
    }
    if (!signer_trusted(job, why, sizeof why)) {
        refuse(job, 403, EST_CMC_FAIL_BAD_REQUEST, 0, resp, "%s", why);
        return 0;
    }
    job->signer_is_ra = cert_is_ra(job->signer_cert);
    return 1;
}

/* --- certification requests --- */

/* Runs an enroll.c check that answers in text; its reason comes back. */
static int text_check(int (*check)(const estd_request *, X509_REQ *, estd_response *),
                      const estd_request *req, X509_REQ *csr, char *why, size_t why_len)
{
    estd_response scratch;
    int ok;

    memset(&scratch, 0, sizeof scratch);
    ok = check(req, csr, &scratch);
    if (!ok)
        snprintf(why, why_len, "%.*s", (int)(scratch.body_len ? scratch.body_len - 1 : 0),
                 scratch.body ? scratch.body : "");
    estd_response_release(&scratch);
    return ok;
}

static int check_cert_request(cmc_job *job, const est_cmc_cert_request *r, estd_response *resp)
{
    const estd_request *req = job->req;
    EVP_PKEY *key = X509_REQ_get0_pubkey(r->csr);
    char why[EST_CMC_TEXT_MAX + 1];
    est_error err;

    if (key == NULL || X509_REQ_verify(r->csr, key) != 1) {
        refuse(job, 400, EST_CMC_FAIL_POP_FAILED, r->body_part_id, resp,
               "the PKCS#10 signature does not verify with its own key");
        return 0;
    }
    if (est_csr_check(r->csr, &req->ca->cfg->profile, &err) != EST_OK) {
        refuse(job, 400, EST_CMC_FAIL_BAD_REQUEST, r->body_part_id, resp, "%s", err.message);
        return 0;
    }
    /* draft-04 §3.7: an RA has checked its clients' linking itself. */
    if (!job->signer_is_ra && !text_check(estd_pop_link_check, req, r->csr, why, sizeof why)) {
        refuse(job, 400, EST_CMC_FAIL_POP_FAILED, r->body_part_id, resp, "%s", why);
        return 0;
    }
    /* One-time enrollment codes are spent by /simpleenroll and /serverkeygen;
     * a CMC batch would need one per request and all-or-nothing spending. */
    if (req->ca->cfg->challenge == ESTD_CHALLENGE_OTP) {
        refuse(job, 403, EST_CMC_FAIL_BAD_REQUEST, r->body_part_id, resp,
               "this CA enrolls with one-time codes: use /simpleenroll or /serverkeygen");
        return 0;
    }
    if (!text_check(estd_csrattrs_check, req, r->csr, why, sizeof why)) {
        refuse(job, 400, EST_CMC_FAIL_BAD_REQUEST, r->body_part_id, resp, "%s", why);
        return 0;
    }
    if (job->signer_cert != NULL && !job->signer_is_ra && !req->ca->cfg->allow_subject_change &&
        X509_NAME_cmp(X509_REQ_get_subject_name(r->csr),
                      X509_get_subject_name(job->signer_cert)) != 0) {
        refuse(job, 403, EST_CMC_FAIL_BAD_REQUEST, r->body_part_id, resp,
               "a certificate that is not an RA's may only request its own subject");
        return 0;
    }
    return 1;
}

/* --- revocation (RFC 5272 §6.11) --- */

static int check_revoke(cmc_job *job, const est_cmc_revoke *rv, estd_response *resp)
{
    est_store *store = job->srv->inst->store;
    est_cert_record *rec = NULL;
    const unsigned char *p;
    X509 *target = NULL;
    int ok = 0;

    if (X509_NAME_cmp(rv->issuer, X509_get_subject_name(job->req->ca->cert)) != 0 ||
        est_store_cert_get(store, rv->serial_hex, &rec, NULL) != EST_OK ||
        strcmp(rec->label, job->req->ca->cfg->label) != 0) {
        refuse(job, 404, EST_CMC_FAIL_BAD_CERT_ID, rv->body_part_id, resp,
               "this CA issued no certificate with serial %s", rv->serial_hex);
        goto out;
    }
    if (rec->status == EST_CERT_REVOKED) {
        refuse(job, 409, EST_CMC_FAIL_BAD_CERT_ID, rv->body_part_id, resp,
               "certificate %s is already revoked", rv->serial_hex);
        goto out;
    }
    p = rec->der;
    target = d2i_X509(NULL, &p, (long)rec->der_len);
    /* The certificate's own key, or an RA of this CA. */
    if (!job->signer_is_ra &&
        (job->signer_cert == NULL || target == NULL || X509_cmp(target, job->signer_cert) != 0)) {
        refuse(job, 403, EST_CMC_FAIL_BAD_REQUEST, rv->body_part_id, resp,
               "only an RA or the certificate's own key may revoke certificate %s",
               rv->serial_hex);
        goto out;
    }
    ok = 1;
out:
    X509_free(target);
    est_cert_record_free(rec);
    return ok;
}

/* --- doing it --- */

/* In front of a CMP CA the CA revokes (rr) before the store records it. */
static int upstream_revoke(cmc_job *job, const est_cmc_revoke *rv, estd_response *resp)
{
    est_store *store = job->srv->inst->store;
    est_cert_record *rec = NULL;
    const unsigned char *p;
    X509 *target = NULL;
    est_error err;
    int ok = 0;

    if (est_store_cert_get(store, rv->serial_hex, &rec, &err) != EST_OK ||
        (p = rec->der, target = d2i_X509(NULL, &p, (long)rec->der_len)) == NULL) {
        refuse(job, 500, EST_CMC_FAIL_INTERNAL_CA_ERROR, rv->body_part_id, resp,
               "certificate %s unreadable in the store", rv->serial_hex);
    } else if (estd_issuer_cmp_revoke(job->srv->inst, job->req->ca, target, rv->reason,
                                      job->auth->name, &err) != EST_OK) {
        refuse(job, estd_issue_http_status(err.code), EST_CMC_FAIL_INTERNAL_CA_ERROR,
               rv->body_part_id, resp, "%s", err.message);
    } else {
        ok = 1;
    }
    X509_free(target);
    est_cert_record_free(rec);
    return ok;
}

static int perform(cmc_job *job, estd_response *resp)
{
    est_store *store = job->srv->inst->store;
    estd_requester who = {job->auth->name, job->auth->method, NULL};
    est_cmc_request *cmc = job->cmc;
    const char *identification = est_cmc_request_get0_identification(cmc);
    est_error err;

    for (size_t i = 0; i < est_cmc_request_revoke_count(cmc); i++) {
        const est_cmc_revoke *rv = est_cmc_request_get0_revoke(cmc, i);
        char detail[EST_CMC_TEXT_MAX + 40];
        if (job->req->ca->cmp != NULL && !upstream_revoke(job, rv, resp))
            return 0;
        if (est_store_cert_revoke(store, rv->serial_hex, rv->reason, (int64_t)time(NULL),
                                  &err) != EST_OK) {
            refuse(job, store_status(&err, 500, resp), EST_CMC_FAIL_INTERNAL_CA_ERROR,
                   rv->body_part_id, resp, "%s", err.message);
            return 0;
        }
        snprintf(detail, sizeof detail, "fullcmc revokeRequest, reason %d%s%s", rv->reason,
                 identification[0] ? ", identification " : "", identification);
        estd_audit(job->srv->inst, "revoke", job->req->ca->cfg->label, job->auth->name, NULL,
                   rv->serial_hex, detail);
        job->done.body_parts[job->done.body_part_count++] = rv->body_part_id;
    }
    for (size_t i = 0; i < est_cmc_request_cert_request_count(cmc); i++) {
        const est_cmc_cert_request *r = est_cmc_request_get0_cert_request(cmc, i);
        X509 *cert = NULL;
        if (estd_issue(job->srv->inst, job->req->ca, r->csr, NULL, &who, "fullcmc", &cert, NULL,
                       &err) != EST_OK) {
            int policy = err.code == EST_E_POLICY || err.code == EST_E_INPUT;
            refuse(job, store_status(&err, estd_issue_http_status(err.code), resp),
                   policy ? EST_CMC_FAIL_BAD_REQUEST : EST_CMC_FAIL_INTERNAL_CA_ERROR,
                   r->body_part_id, resp, "%s", err.message);
            return 0;
        }
        if (!sk_X509_push(job->issued, cert)) {
            X509_free(cert);
            refuse(job, 500, EST_CMC_FAIL_INTERNAL_CA_ERROR, 0, resp, "out of memory");
            return 0;
        }
        job->done.body_parts[job->done.body_part_count++] = r->body_part_id;
    }
    return 1;
}

/* The body as a Full PKI Request, or a text refusal (draft-04 §4.3.1). */
static int read_request(const estd_request *req, est_cmc_request **cmc, estd_response *resp)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_error err;
    est_status rc;
    int ok = 0;

    if (!estd_body_check(req, "application/pkcs7-mime", "a Full PKI Request", resp))
        goto out;
    if ((rc = est_body_decode(req->body, req->body_len, &der, &der_len, NULL, &err)) != EST_OK ||
        (rc = est_cmc_request_parse(der, der_len, cmc, &err)) != EST_OK) {
        estd_response_error(resp, rc == EST_E_TOO_LARGE ? 413 : 400,
                            "not a valid Full PKI Request: %s", err.message);
        goto out;
    }
    ok = 1;
out:
    est_free(der);
    return ok;
}

static void handle(cmc_job *job, estd_response *resp)
{
    est_cmc_request *cmc = job->cmc;
    size_t requests = est_cmc_request_cert_request_count(cmc);

    if (est_cmc_request_fail(cmc) != EST_CMC_FAIL_NONE) {
        refuse(job, 400, est_cmc_request_fail(cmc), est_cmc_request_fail_body_part(cmc), resp,
               "%s", est_cmc_request_get0_fail_reason(cmc));
        return;
    }
    if (!authorize_signer(job, resp))
        return;
    for (size_t i = 0; i < est_cmc_request_revoke_count(cmc); i++)
        if (!check_revoke(job, est_cmc_request_get0_revoke(cmc, i), resp))
            return;
    for (size_t i = 0; i < requests; i++)
        if (!check_cert_request(job, est_cmc_request_get0_cert_request(cmc, i), resp))
            return;
    /* draft-04 §4.2.3 manual approval: one request, answered like enroll
     * (202, then the certificate as a Simple PKI Response). */
    if (requests > 0 && job->req->ca->cfg->approval == ESTD_APPROVAL_MANUAL) {
        if (requests != 1 || est_cmc_request_revoke_count(cmc) != 0)
            refuse(job, 400, EST_CMC_FAIL_BAD_REQUEST, 0, resp,
                   "under manual approval a Full PKI Request may hold one certification request");
        else
            estd_approval_gate(job->srv, job->req, job->auth,
                               est_cmc_request_get0_cert_request(cmc, 0)->csr, "fullcmc", resp);
        return;
    }
    if (perform(job, resp))
        answer(job, 200, &job->done, 1, resp);
}

void estd_handle_fullcmc(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                         estd_response *resp)
{
    cmc_job job = {.srv = srv, .req = req, .auth = auth, .signer_request = -1,
                   .done = {.status = EST_CMC_SUCCESS, .text = "done"}};

    if (!read_request(req, &job.cmc, resp))
        return;
    if ((job.issued = sk_X509_new_null()) == NULL)
        estd_response_error(resp, 500, "out of memory");
    else
        handle(&job, resp);
    sk_X509_pop_free(job.issued, X509_free);
    est_cmc_request_free(job.cmc);
}
