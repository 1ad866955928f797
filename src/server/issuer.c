/* estd: what every issuer shares (see issuer.h): the device-facing status
 * of a failure, and accepting a certificate an upstream returned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "issuer.h"
#include "metrics.h"
#include "estkit/file.h"

int estd_issue_http_status(est_status code)
{
    switch (code) {
    case EST_E_RETRY_LATER:
        return 202;
    case EST_E_IO:
    case EST_E_UNAVAILABLE:
        return 503;
    case EST_E_PROTOCOL:
    case EST_E_TLS:
    case EST_E_TOO_LARGE:
        return 502;
    case EST_E_AUTH:
        return 403;
    case EST_E_POLICY:
    case EST_E_INPUT:
        return 400;
    default:
        return 500;
    }
}

est_status estd_secret_read(const char *path, size_t max, const char *what, uint8_t **out,
                            size_t *out_len, est_error *err)
{
    struct stat st;
    est_status rc;

    if (stat(path, &st) != 0 || (st.st_mode & 077) != 0)
        return est_error_set(err, EST_E_CONFIG, "%s %s is missing or readable by others", what,
                             path);
    if ((rc = est_file_read(path, max, out, out_len, err)) != EST_OK)
        return est_error_prefix(err, rc, "%s", what);
    while (*out_len > 0 && ((*out)[*out_len - 1] == '\n' || (*out)[*out_len - 1] == '\r'))
        (*out)[--*out_len] = 0;
    return EST_OK;
}

const char *estd_forward_event(est_status code)
{
    return code == EST_E_RETRY_LATER ? "forward-pending" : "forward-failed";
}

/* The upstream is trusted to issue, not to issue the right thing: the
 * certificate must be for the key the device proved it holds, and chain to
 * the upstream CA the RA serves in /cacerts. */
static est_status check_cert(X509_REQ *csr, X509 *cert, STACK_OF(X509) *untrusted,
                             STACK_OF(X509) *anchors, est_error *err)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    est_status rc = est_error_set(err, EST_E_NOMEM, "out of memory");

    if (store == NULL || ctx == NULL)
        goto out;
    if (csr != NULL && EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), X509_get0_pubkey(cert)) != 1) {
        rc = est_error_set(err, EST_E_PROTOCOL, "upstream returned a certificate for another key");
        goto out;
    }
    for (int i = 0; anchors != NULL && i < sk_X509_num(anchors); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(anchors, i)))
            goto out;
    /* A subordinate upstream CA may be the anchor itself. */
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    if (!X509_STORE_CTX_init(ctx, store, cert, untrusted))
        goto out;
    if (X509_verify_cert(ctx) != 1) {
        rc = est_error_set(err, EST_E_PROTOCOL, "upstream certificate does not chain to the "
                                                "upstream CA: %s",
                           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    rc = EST_OK;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

est_status estd_issuer_commit(estd_instance *inst, const est_cert_record *rec,
                              const est_audit_event *ev, const char *operation, est_error *err)
{
    struct timespec t0, t1;
    est_status rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = est_store_cert_insert_audited(inst->store, rec, ev, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc == EST_OK)
        estd_metrics_issued(inst->metrics, operation,
                            (double)(t1.tv_sec - t0.tv_sec) +
                                (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return rc;
}

est_status estd_issuer_record(const estd_ca *ca, X509 *cert, const estd_requester *who,
                              const char *operation, est_cert_record **out, est_error *err)
{
    est_cert_record *rec = NULL;
    est_status rc = est_cert_record_from_x509(cert, &rec, err);

    if (rc != EST_OK)
        return rc;
    rec->label = strdup(ca->cfg->label);
    rec->requester = strdup(who->name ? who->name : "");
    rec->auth_method = strdup(who->auth_method ? who->auth_method : "");
    rec->operation = strdup(operation);
    if (!rec->label || !rec->requester || !rec->auth_method || !rec->operation) {
        est_cert_record_free(rec);
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    *out = rec;
    return EST_OK;
}

est_status estd_issuer_accept(estd_instance *inst, estd_ca *ca, X509_REQ *csr, X509 *cert,
                              STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors,
                              const estd_requester *who, const char *operation, const char *via,
                              est_error *err)
{
    est_cert_record *rec = NULL;
    char detail[256];
    est_status rc;

    if ((rc = check_cert(csr, cert, untrusted, anchors, err)) != EST_OK ||
        (rc = estd_issuer_record(ca, cert, who, operation, &rec, err)) != EST_OK)
        goto out;
    snprintf(detail, sizeof detail, "%s via %s", operation, via);
    {
        est_audit_event ev = {"issue", ca->cfg->label, who->name, rec->subject, rec->serial,
                              detail, 1};
        rc = estd_issuer_commit(inst, rec, &ev, operation, err);
    }
    if (rc == EST_E_CONFLICT)
        rc = est_error_set(err, EST_E_PROTOCOL, "upstream returned serial %s, already in the "
                                                "store", rec->serial);
out:
    est_cert_record_free(rec);
    return rc;
}
