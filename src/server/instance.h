/* estd: one loaded instance: configuration, the CAs it serves, trust
 * stores and the certificate store. Shared by `estd serve` and the admin
 * commands, so both see DIR the same way. */
#ifndef ESTD_INSTANCE_H
#define ESTD_INSTANCE_H

#include <openssl/x509.h>
#include "config.h"
#include "kek.h"
#include "estkit.h"

/* How a prepared body is written: the two dialects (indexed by
 * est_dialect), plus RFC 7030 on one unbroken line for clients that need it
 * (base64_unbroken_without_user_agent). */
typedef enum estd_body_form {
    ESTD_BODY_RFC7030 = EST_DIALECT_RFC7030, /* lines of the CA's base64_line_length */
    ESTD_BODY_DRAFT = EST_DIALECT_DRAFT,     /* PEM */
    ESTD_BODY_RFC7030_UNBROKEN = 2,
    ESTD_BODY_FORMS = 3,
} estd_body_form;

typedef struct estd_ca {
    const estd_ca_config *cfg;
    est_ca *ca;                  /* NULL when opened without keys */
    X509 *cert;                  /* the issuing CA certificate */
    STACK_OF(X509) *cacerts;     /* what /cacerts serves */
    est_csrattrs *csrattrs;      /* what /csrattrs serves */
    X509_STORE *trust;           /* anchors for certificates this CA issued */
    struct estd_upstream *upstream; /* issuer = est: the upstream EST server, else NULL */
    struct estd_cmp_upstream *cmp;  /* issuer = cmp: the upstream CMP server, else NULL */
    estd_kek_table *keks;        /* kek_file, read at start; NULL when none */
    /* Prepared bodies (docs/design.md §2), one per estd_body_form:
     * /cacerts is constant until the CA changes, so it is encoded once. */
    char *cacerts_body[ESTD_BODY_FORMS];
    size_t cacerts_len[ESTD_BODY_FORMS];
    char *csrattrs_body[ESTD_BODY_FORMS];
    size_t csrattrs_len[ESTD_BODY_FORMS];
} estd_ca;

/* The prepared body for a dialect and an RFC 7030 line length (0 = the
 * unbroken form, else the CA's configured lines). */
estd_body_form estd_body_form_of(est_dialect dialect, unsigned base64_line);

typedef struct estd_instance {
    estd_config cfg;
    estd_ca cas[ESTD_CONFIG_MAX_LABELS + 1];
    size_t ca_count;
    est_store *store;
    X509_STORE *third_party;     /* NULL when no third_party_trust is configured */
    struct estd_metrics *metrics; /* borrowed; NULL outside `estd serve` (metrics.h) */
    struct estd_keyproc *keyproc; /* its signer process (owned); NULL when keys are in-process */
} estd_instance;

enum estd_open_flags {
    ESTD_OPEN_KEYS = 1u << 0,    /* load CA private keys (to issue, sign CRLs) */
    ESTD_OPEN_NO_STORE = 1u << 1, /* leave store NULL (a reload shares the running one) */
    ESTD_OPEN_UPSTREAM = 1u << 2, /* issuer = est: fetch /cacerts from the upstream now */
};

est_status estd_instance_open(const char *dir, unsigned flags, estd_instance **out,
                              est_error *err);
/* Makes the signer of the CA at index (its position in estd.conf), whose
 * certificate is cert. */
typedef est_status (*estd_signer_make_fn)(void *arg, unsigned index, const estd_ca_config *cfg,
                                          X509 *cert, est_signer **out, est_error *err);
/* For `estd serve` and its reloads: unless estd.conf says signer =
 * in-process, starts a signer process (keyproc.h) that alone opens the CA
 * keys, and opens DIR with the CAs signing through it; the instance owns
 * it. flags as estd_instance_open's, ESTD_OPEN_KEYS implied. */
est_status estd_instance_open_serving(const char *dir, unsigned flags, estd_instance **out,
                                      est_error *err);
void estd_instance_free(estd_instance *inst);

/* The CA serving label ("" = default), or NULL. */
estd_ca *estd_instance_find_ca(estd_instance *inst, const char *label);

/* Who asked and how, for the store and the audit log. */
typedef struct estd_requester {
    const char *name;        /* user name or client certificate subject */
    const char *auth_method; /* "basic", "cert", "cert+basic", "admin", ... */
    X509 *renewing;          /* re-enroll: the device's certificate being renewed, or NULL */
} estd_requester;

/* Issues a certificate for a checked CSR with the CA's issuer (embedded,
 * or an upstream: issuer.h) and commits it to the store before returning.
 * subject: NULL = the CSR's (the embedded CA only). operation: "enroll",
 * "renew", "rekey", ... Audits the issuance. *retry_after (may be NULL):
 * with EST_E_RETRY_LATER, the seconds the upstream asked for. */
/* Issues a certificate for a checked CSR and commits it to the store before
 * returning (docs/design.md §4). subject: NULL = the CSR's. operation: "enroll",
 * "renew", "rekey", ... Audits the issuance. */
est_status estd_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr, const X509_NAME *subject,
                      const estd_requester *who, const char *operation, X509 **out,
                      unsigned *retry_after, est_error *err);

/* Appends an audit event; failures to audit are reported to the caller. */
est_status estd_audit(estd_instance *inst, const char *event, const char *label,
                      const char *actor, const char *subject, const char *serial,
                      const char *detail);

#endif
