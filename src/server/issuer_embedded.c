/* estd: issuing with the embedded CA (issuer = embedded, the default). */
#include <stdlib.h>
#include <string.h>
#include "issuer.h"
#include "estkit/issue.h"

/* Serial collisions are ~2^-63 likely; one retry with a fresh serial covers
 * them without ever reusing one (the store's unique key decides). */
#define ISSUE_SERIAL_ATTEMPTS 3

est_status estd_issuer_embedded_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr,
                                      const X509_NAME *subject, const estd_requester *who,
                                      const char *operation, X509 **out, est_error *err)
{
    est_cert_record *rec = NULL;
    X509 *cert = NULL;
    est_status rc = EST_E_CA;

    if (ca->ca == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CA opened without its key");
    for (int attempt = 0; attempt < ISSUE_SERIAL_ATTEMPTS; attempt++) {
        X509_free(cert);
        cert = NULL;
        est_cert_record_free(rec);
        rec = NULL;
        /* Only serialised from here on (store, response): no need for the
         * certificate's decoded key. */
        if ((rc = est_ca_issue_unparsed(ca->ca, csr, &ca->cfg->profile, subject, &cert, err)) !=
                EST_OK ||
            (rc = estd_issuer_record(ca, cert, who, operation, &rec, err)) != EST_OK)
            goto out;
        {
            /* The issuance and its audit row commit together (one fsync). */
            est_audit_event ev = {"issue", ca->cfg->label, who->name, rec->subject,
                                  rec->serial, operation, 1};
            rc = estd_issuer_commit(inst, rec, &ev, operation, err);
        }
        if (rc != EST_E_CONFLICT)
            break;
    }
    if (rc != EST_OK)
        goto out;
    *out = cert;
    cert = NULL;
out:
    X509_free(cert);
    est_cert_record_free(rec);
    return rc;
}
