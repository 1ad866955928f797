/* estd: the issuer seam. A CA label issues with its embedded CA, or estd is
 * a Registration Authority (draft-04 §2, §3.7) that forwards the checked
 * CSR to an upstream EST or CMP server. Device-side policy (authentication,
 * csrattrs, approval, PoP linking against the device's own TLS session,
 * re-enroll rules) runs before the issuer, whatever it is: the upstream
 * cannot see the device's TLS session, so the RA vouches for the linking.
 *
 * Every issuer commits the certificate to the store (with its audit row)
 * before returning it, so a device never holds a certificate the store
 * does not know. Error codes tell the device-facing answer:
 *   EST_E_RETRY_LATER  202 + Retry-After (*retry_after)
 *   EST_E_IO           503 + Retry-After: upstream unreachable, timed out, 5xx
 *   EST_E_UNAVAILABLE  503 + Retry-After: the store (PostgreSQL) is down
 *   EST_E_PROTOCOL, EST_E_TLS, EST_E_TOO_LARGE  502: upstream answer unusable
 *   EST_E_AUTH         403: upstream refused the RA or the request
 *   EST_E_POLICY, EST_E_INPUT  400
 *   anything else      500 */
#ifndef ESTD_ISSUER_H
#define ESTD_ISSUER_H

#include "instance.h"
#include "estkit/ca.h"

/* The HTTP status a device gets for an issuing failure (table above). */
int estd_issue_http_status(est_status code);

est_status estd_issuer_embedded_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr,
                                      const X509_NAME *subject, const estd_requester *who,
                                      const char *operation, X509 **out, est_error *err);
est_status estd_issuer_est_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr,
                                 const estd_requester *who, const char *operation, X509 **out,
                                 unsigned *retry_after, est_error *err);
est_status estd_issuer_cmp_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr,
                                 const estd_requester *who, const char *operation, X509 **out,
                                 unsigned *retry_after, est_error *err);

/* Reads a one-line secret file (password, shared secret) of at most max
 * bytes, without its line end; refuses a file others may read. what names
 * the key in messages. *out: free with OPENSSL_clear_free(*out, *out_len). */
est_status estd_secret_read(const char *path, size_t max, const char *what, uint8_t **out,
                            size_t *out_len, est_error *err);

/* Commits an issued certificate with its audit row (one transaction) and
 * counts it in the metrics. */
est_status estd_issuer_commit(estd_instance *inst, const est_cert_record *rec,
                              const est_audit_event *ev, const char *operation, est_error *err);

/* The audit event of a forward that brought no certificate:
 * "forward-pending" (202) or "forward-failed". Every forward is audited as
 * "forward" before it is sent; one that brings a certificate ends in the
 * "issue" row committed with it. */
const char *estd_forward_event(est_status code);

/* The store's record of cert: who asked, how, for which operation. */
est_status estd_issuer_record(const estd_ca *ca, X509 *cert, const estd_requester *who,
                              const char *operation, est_cert_record **out, est_error *err);

/* An upstream's answer, accepted: cert must certify csr's public key (csr
 * NULL: a /fullcmc answer, whose requests the RA did not parse) and
 * chain (with untrusted) to anchors; then it is stored with its audit row
 * (detail says via which upstream). */
est_status estd_issuer_accept(estd_instance *inst, estd_ca *ca, X509_REQ *csr, X509 *cert,
                              STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors,
                              const estd_requester *who, const char *operation,
                              const char *via, est_error *err);

/* --- issuer = est: the upstream EST server (issuer_est.c) --- */
typedef struct estd_upstream estd_upstream;

/* Loads the upstream state of ca: the HTTP client, and /cacerts from the
 * upstream (fetch = 1) or from the last good copy on disk (fetch = 0, or
 * when the upstream does not answer). *cacerts: a copy for the CA's trust
 * and /cacerts. */
est_status estd_upstream_open(const estd_ca_config *cfg, int fetch, estd_upstream **out,
                              STACK_OF(X509) **cacerts, est_error *err);
void estd_upstream_free(estd_upstream *up);
/* Fetches /cacerts again; on failure the last good copy stays (and its age
 * is in the message). */
est_status estd_upstream_refresh(estd_upstream *up, est_error *err);
/* The current /cacerts body for dialect d and RFC 7030 line length
 * base64_line (malloc'd). */
est_status estd_upstream_cacerts_body(estd_upstream *up, est_dialect d, unsigned base64_line,
                                      char **body, size_t *len, est_error *err);
unsigned estd_upstream_refresh_seconds(const estd_upstream *up);
/* upstream_csrattrs = yes: the upstream's /csrattrs as DER (*der_len 0:
 * none). Errors as for issuing (issuer.h's table). */
est_status estd_upstream_csrattrs(estd_upstream *up, uint8_t **der, size_t *der_len,
                                  est_error *err);
/* The client toward the upstream, and a copy of its current /cacerts. */
struct estd_upstream_http *estd_upstream_get0_http(estd_upstream *up);
STACK_OF(X509) *estd_upstream_get1_cacerts(estd_upstream *up);

/* --- issuer = cmp: the upstream CMP server (issuer_cmp.c) --- */
typedef struct estd_cmp_upstream estd_cmp_upstream;

est_status estd_cmp_upstream_open(const estd_ca_config *cfg, estd_cmp_upstream **out,
                                  est_error *err);
void estd_cmp_upstream_free(estd_cmp_upstream *up);
/* What signs /fullcmc answers in front of a CMP CA: the RA's certificate
 * and key (upstream_cert/upstream_key), or NULL with MAC protection. */
est_ca *estd_cmp_upstream_get0_responder(const estd_cmp_upstream *up);
/* Asks the CMP CA to revoke cert (rr); errors as for issuing. */
est_status estd_issuer_cmp_revoke(estd_instance *inst, estd_ca *ca, X509 *cert, int reason,
                                  const char *actor, est_error *err);

#endif
