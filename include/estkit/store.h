/* estkit: the store seam. A small table of function pointers with one
 * default implementation (SQLite, WAL); PostgreSQL plugs in behind the same
 * table. Every operation is thread-safe and durable when it returns EST_OK
 * (docs/design.md §4: a certificate is committed before any byte of it is sent). */
#ifndef ESTKIT_STORE_H
#define ESTKIT_STORE_H

#include <stdint.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/error.h"

#define EST_STORE_SCHEMA_VERSION 5

typedef enum est_cert_status {
    EST_CERT_VALID = 0,
    EST_CERT_REVOKED = 1,
} est_cert_status;

typedef struct est_cert_record {
    char serial[41];        /* uppercase hex, as `openssl x509 -serial` prints */
    char *subject;          /* RFC 2253 text */
    char *san;              /* "DNS:a, IP Address:1.2.3.4" or NULL */
    char spki_sha256[65];   /* lowercase hex of SHA-256(SubjectPublicKeyInfo DER) */
    int64_t not_before;     /* unix seconds */
    int64_t not_after;
    int64_t issued_at;
    est_cert_status status;
    int64_t revoked_at;     /* 0 when valid */
    int revocation_reason;  /* CRL reason code, -1 when none */
    char *label;            /* CA label, "" for the default CA */
    char *requester;        /* user name or client-certificate subject */
    char *auth_method;      /* "basic", "digest", "cert", "cert+basic", "admin", ... */
    char *operation;        /* "enroll", "renew", "rekey", "serverkeygen", "fullcmc", ... */
    uint8_t *der;
    size_t der_len;
} est_cert_record;

EST_API void est_cert_record_free(est_cert_record *rec); /* NULL ok */

/* Which certificates cert_list visits; {0} is all of them. Both bounds on
 * not_after narrow the index range a listing reads; the others skip rows
 * within it. */
typedef struct est_cert_filter {
    int64_t expiring_before; /* 0 = no filter; else not_after < this */
    int only_valid;          /* skip revoked */
    int only_revoked;        /* skip valid (ignored with only_valid) */
    int64_t not_after_from;  /* 0 = no filter; else not_after >= this */
    int64_t issued_since;    /* 0 = no filter; else issued_at >= this */
    const char *contains;    /* NULL = no filter; else a substring of the subject or the
                              * SAN text, compared ASCII case-insensitively */
} est_cert_filter;

typedef struct est_user_record {
    char *name;
    char *password_hash;    /* est_password_hash encoding */
    char *digest_realm;     /* realm the HA1 values were made for */
    char *digest_ha1_md5;   /* hex, or NULL when Digest is not enabled */
    char *digest_ha1_sha256;
    int64_t created_at;
    /* TLS-SRP (RFC 5054), schema 4; all NULL when the user has no verifier. */
    char *srp_group;        /* RFC 5054 group by its bits: "3072" */
    char *srp_salt;         /* uppercase hex */
    char *srp_verifier;     /* uppercase hex of g^x mod N */
    int64_t unlocked_at;    /* last `estd user unlock` (schema 4); 0 = never; user_put ignores it */
} est_user_record;

/* Frees the record's fields and the record; NULL ok. */
EST_API void est_user_record_free(est_user_record *rec);

typedef enum est_pending_status {
    EST_PENDING_WAITING = 0,
    EST_PENDING_APPROVED = 1,
    EST_PENDING_REJECTED = 2,
} est_pending_status;

typedef struct est_pending_record {
    int64_t id;             /* assigned by pending_insert */
    char *label;
    char csr_sha256[65];    /* identity of the request: the client's retry is the same CSR */
    char *requester;
    char *auth_method;
    char *operation;
    char *subject;
    est_pending_status status;
    char *reason;           /* rejection reason, or NULL */
    char *cert_serial;      /* set when approved and issued, else NULL */
    int64_t created_at;
    int64_t updated_at;
    uint8_t *csr_der;
    size_t csr_der_len;
} est_pending_record;

/* Frees the record's fields and the record; NULL ok. */
EST_API void est_pending_record_free(est_pending_record *rec);

/* Longest audit text field, in characters after escaping; longer ones are
 * cut and end in "...". A subject or reason beyond it is an attack, not a
 * record worth keeping whole. */
#define EST_AUDIT_FIELD_MAX 1024

typedef struct est_audit_event {
    const char *event;      /* "issue", "reject", "auth-fail", "revoke", "user-add", ... */
    const char *label;
    const char *actor;      /* who: user, cert subject, "admin" */
    const char *subject;    /* what: cert subject or user name */
    const char *serial;
    const char *detail;     /* one line, never secrets */
    unsigned count;         /* events this row stands for; 0 = 1 (schema version 5) */
} est_audit_event;

/* Which audit rows audit_prune removes; a 0 field does not prune. */
typedef struct est_audit_prune {
    int64_t before;         /* rows written before this time (Unix seconds) */
    int64_t keep_rows;      /* all but the newest keep_rows rows */
} est_audit_prune;

/* A one-time enrollment code (challenge_password = one-time-code). The
 * store keeps only a salted hash of the code itself, never the code. */
#define EST_OTP_CODE_MAX 64 /* longest code otp_insert/otp_consume accept */

typedef struct est_otp_record {
    int64_t id;             /* assigned by otp_insert */
    char *label;            /* CA label the code enrolls with, "" for the default CA */
    char *subject;          /* RFC 2253 text the CSR's subject must equal; NULL = any */
    int64_t created_at;
    int64_t expires_at;     /* unix seconds; valid while now < expires_at */
    int64_t used_at;        /* 0 while unused */
    char *used_serial;      /* the certificate issued with it, or NULL */
} est_otp_record;

EST_API void est_otp_record_free(est_otp_record *rec); /* NULL ok */

typedef int (*est_cert_visit_fn)(const est_cert_record *rec, void *arg);   /* non-zero stops */
typedef int (*est_user_visit_fn)(const est_user_record *rec, void *arg);
typedef int (*est_pending_visit_fn)(const est_pending_record *rec, void *arg);
typedef int (*est_otp_visit_fn)(const est_otp_record *rec, void *arg);

typedef struct est_store_ops {
    const char *name;
    /* EST_E_CONFLICT when the serial exists. */
    est_status (*cert_insert)(void *impl, const est_cert_record *rec, est_error *err);
    /* serial: hex, any case, leading "serial=" not accepted. EST_E_NOT_FOUND. */
    est_status (*cert_get)(void *impl, const char *serial, est_cert_record **out, est_error *err);
    est_status (*cert_list)(void *impl, const est_cert_filter *filter, est_cert_visit_fn fn,
                            void *arg, est_error *err);
    /* EST_E_NOT_FOUND; EST_E_CONFLICT when already revoked. */
    est_status (*cert_revoke)(void *impl, const char *serial, int reason, int64_t when,
                              est_error *err);
    /* replace = 0: EST_E_CONFLICT when the user exists. */
    est_status (*user_put)(void *impl, const est_user_record *rec, int replace, est_error *err);
    est_status (*user_get)(void *impl, const char *name, est_user_record **out, est_error *err);
    est_status (*user_delete)(void *impl, const char *name, est_error *err);
    est_status (*user_list)(void *impl, est_user_visit_fn fn, void *arg, est_error *err);
    /* Sets rec->id. */
    est_status (*pending_insert)(void *impl, est_pending_record *rec, est_error *err);
    est_status (*pending_get)(void *impl, int64_t id, est_pending_record **out, est_error *err);
    /* By label + CSR hash (the newest); EST_E_NOT_FOUND. */
    est_status (*pending_find)(void *impl, const char *label, const char *csr_sha256,
                               est_pending_record **out, est_error *err);
    /* Sets status, reason (may be NULL), cert_serial (may be NULL) of a
     * waiting request, or of an approved one without a certificate yet:
     * that one may only get its serial (APPROVED + serial) or go back to
     * WAITING. So approving is claim (APPROVED, no serial), issue, then
     * record the serial; of concurrent approvals only one claims.
     * EST_E_CONFLICT when the request is in no state to change. */
    est_status (*pending_update)(void *impl, int64_t id, est_pending_status status,
                                 const char *reason, const char *cert_serial, est_error *err);
    est_status (*pending_list)(void *impl, est_pending_visit_fn fn, void *arg, est_error *err);
    /* Every text field is stored escaped (est_text_escape) and cut at
     * EST_AUDIT_FIELD_MAX characters: audit rows end up on terminals. */
    est_status (*audit_append)(void *impl, const est_audit_event *ev, est_error *err);
    /* Next CRL number (monotonic, durable). */
    est_status (*next_crl_number)(void *impl, long *out, est_error *err);
    /* EST_OK when the backend's own consistency check passes. */
    est_status (*check)(void *impl, est_error *err);
    void (*close)(void *impl);
    /* One-time enrollment codes (schema version 2). code: 1-EST_OTP_CODE_MAX
     * characters; only its salted hash is stored. Sets rec->id; used_* are
     * ignored. EST_E_CONFLICT when the same code is stored already. */
    est_status (*otp_insert)(void *impl, est_otp_record *rec, const char *code, est_error *err);
    /* In one transaction: finds code for label, checks it is unused, not
     * expired at now (0 = the clock) and bound to subject or to no subject,
     * and marks it used. EST_E_NOT_FOUND: no such code for this label;
     * EST_E_AUTH: used, expired or bound to another subject (the message
     * says which). *out (out may be NULL) is the consumed code. */
    est_status (*otp_consume)(void *impl, const char *label, const char *code,
                              const char *subject, int64_t now, est_otp_record **out,
                              est_error *err);
    /* Records the certificate issued with consumed code id. EST_E_NOT_FOUND
     * when there is no used code id or no certificate serial. */
    est_status (*otp_set_serial)(void *impl, int64_t id, const char *serial, est_error *err);
    est_status (*otp_list)(void *impl, est_otp_visit_fn fn, void *arg, est_error *err);
    /* cert_insert and audit_append of ev in one durable transaction: one
     * fsync per issuance instead of two. Same errors as cert_insert. */
    est_status (*cert_insert_audited)(void *impl, const est_cert_record *rec,
                                      const est_audit_event *ev, est_error *err);
    /* The store's Digest nonce secret (schema 3), len <= 32 bytes: every
     * node sharing the store issues and accepts the same nonces. */
    est_status (*nonce_secret)(void *impl, uint8_t *out, size_t len, est_error *err);
    /* Schema 4: sets the user's unlocked_at to when (a running estd lifts
     * a guessing lock that began no later). EST_E_NOT_FOUND. */
    est_status (*user_unlock)(void *impl, const char *name, int64_t when, est_error *err);
    /* Removes old audit rows in one transaction; *removed (may be NULL) =
     * how many. */
    est_status (*audit_prune)(void *impl, const est_audit_prune *what, int64_t *removed,
                              est_error *err);
} est_store_ops;

typedef struct est_store {
    const est_store_ops *ops;
    void *impl;
} est_store;

/* est_store_<op>(store, ...) calls store->ops-><op>(store->impl, ...): one
 * wrapper per operation of the table above, same arguments minus ops/impl,
 * so callers name the operation rather than the table's layout. Optional
 * operations (a backend may leave them NULL) return EST_E_UNSUPPORTED with
 * a message naming the store. */
static inline est_status est_store_unsupported(const est_store *store, const char *op,
                                               est_error *err)
{
    return est_error_set(err, EST_E_UNSUPPORTED, "%s is not supported by the %s store", op,
                         store->ops->name);
}

static inline est_status est_store_cert_insert(const est_store *store, const est_cert_record *rec,
                                               est_error *err)
{
    return store->ops->cert_insert(store->impl, rec, err);
}

static inline est_status est_store_cert_get(const est_store *store, const char *serial,
                                            est_cert_record **out, est_error *err)
{
    return store->ops->cert_get(store->impl, serial, out, err);
}

static inline est_status est_store_cert_list(const est_store *store, const est_cert_filter *filter,
                                             est_cert_visit_fn fn, void *arg, est_error *err)
{
    return store->ops->cert_list(store->impl, filter, fn, arg, err);
}

static inline est_status est_store_cert_revoke(const est_store *store, const char *serial,
                                               int reason, int64_t when, est_error *err)
{
    return store->ops->cert_revoke(store->impl, serial, reason, when, err);
}

static inline est_status est_store_user_put(const est_store *store, const est_user_record *rec,
                                            int replace, est_error *err)
{
    return store->ops->user_put(store->impl, rec, replace, err);
}

static inline est_status est_store_user_get(const est_store *store, const char *name,
                                            est_user_record **out, est_error *err)
{
    return store->ops->user_get(store->impl, name, out, err);
}

static inline est_status est_store_user_delete(const est_store *store, const char *name,
                                               est_error *err)
{
    return store->ops->user_delete(store->impl, name, err);
}

static inline est_status est_store_user_list(const est_store *store, est_user_visit_fn fn,
                                             void *arg, est_error *err)
{
    return store->ops->user_list(store->impl, fn, arg, err);
}

static inline est_status est_store_pending_insert(const est_store *store, est_pending_record *rec,
                                                  est_error *err)
{
    return store->ops->pending_insert(store->impl, rec, err);
}

static inline est_status est_store_pending_get(const est_store *store, int64_t id,
                                               est_pending_record **out, est_error *err)
{
    return store->ops->pending_get(store->impl, id, out, err);
}

static inline est_status est_store_pending_find(const est_store *store, const char *label,
                                                const char *csr_sha256, est_pending_record **out,
                                                est_error *err)
{
    return store->ops->pending_find(store->impl, label, csr_sha256, out, err);
}

static inline est_status est_store_pending_update(const est_store *store, int64_t id,
                                                  est_pending_status status, const char *reason,
                                                  const char *cert_serial, est_error *err)
{
    return store->ops->pending_update(store->impl, id, status, reason, cert_serial, err);
}

static inline est_status est_store_pending_list(const est_store *store, est_pending_visit_fn fn,
                                                void *arg, est_error *err)
{
    return store->ops->pending_list(store->impl, fn, arg, err);
}

static inline est_status est_store_audit_append(const est_store *store, const est_audit_event *ev,
                                                est_error *err)
{
    return store->ops->audit_append(store->impl, ev, err);
}

static inline est_status est_store_next_crl_number(const est_store *store, long *out,
                                                   est_error *err)
{
    return store->ops->next_crl_number(store->impl, out, err);
}

static inline est_status est_store_check(const est_store *store, est_error *err)
{
    return store->ops->check(store->impl, err);
}

static inline est_status est_store_otp_insert(const est_store *store, est_otp_record *rec,
                                              const char *code, est_error *err)
{
    return store->ops->otp_insert(store->impl, rec, code, err);
}

static inline est_status est_store_otp_consume(const est_store *store, const char *label,
                                               const char *code, const char *subject, int64_t now,
                                               est_otp_record **out, est_error *err)
{
    return store->ops->otp_consume(store->impl, label, code, subject, now, out, err);
}

static inline est_status est_store_otp_set_serial(const est_store *store, int64_t id,
                                                  const char *serial, est_error *err)
{
    return store->ops->otp_set_serial(store->impl, id, serial, err);
}

static inline est_status est_store_otp_list(const est_store *store, est_otp_visit_fn fn,
                                            void *arg, est_error *err)
{
    return store->ops->otp_list(store->impl, fn, arg, err);
}

static inline est_status est_store_cert_insert_audited(const est_store *store,
                                                       const est_cert_record *rec,
                                                       const est_audit_event *ev, est_error *err)
{
    return store->ops->cert_insert_audited(store->impl, rec, ev, err);
}

static inline est_status est_store_nonce_secret(const est_store *store, uint8_t *out, size_t len,
                                                est_error *err)
{
    return store->ops->nonce_secret(store->impl, out, len, err);
}

/* Optional: EST_E_UNSUPPORTED when the backend cannot unlock users. */
static inline est_status est_store_user_unlock(const est_store *store, const char *name,
                                               int64_t when, est_error *err)
{
    if (store->ops->user_unlock == NULL)
        return est_store_unsupported(store, "unlocking users", err);
    return store->ops->user_unlock(store->impl, name, when, err);
}

static inline est_status est_store_audit_prune(const est_store *store, const est_audit_prune *what,
                                               int64_t *removed, est_error *err)
{
    return store->ops->audit_prune(store->impl, what, removed, err);
}

/* Opens (creating when create != 0) the SQLite store at path: WAL mode,
 * synchronous=FULL, busy timeout, schema migrations to
 * EST_STORE_SCHEMA_VERSION. A store with a newer schema is EST_E_STORE with
 * a reason naming both versions. */
EST_API est_status est_store_open_sqlite(const char *path, int create, est_store **out,
                                         est_error *err);
EST_API void est_store_close(est_store *store); /* NULL ok */

/* A PostgreSQL store (libpq conninfo: a postgresql:// URI or a keyword
 * string). The password comes from a passfile (PGPASSFILE, ~/.pgpass or
 * passfile=), never from the conninfo itself (EST_E_CONFIG). create != 0
 * makes the schema; else the schema must exist. Migrations run under an
 * advisory lock, so nodes starting together migrate once. At most
 * connections (>= 1) connections are open at once; a caller waits up to
 * wait_seconds for one, then gets EST_E_UNAVAILABLE, as when the server
 * cannot be reached. */
typedef struct est_store_pg_options {
    unsigned connections;
    unsigned wait_seconds;
} est_store_pg_options;
EST_API est_status est_store_open_pg(const char *conninfo, int create,
                                     const est_store_pg_options *opt, est_store **out,
                                     est_error *err);
/* 1 when spec names a PostgreSQL database (postgresql:// or postgres://
 * URI, or a keyword string: it holds '='), 0 for a SQLite file path. */
EST_API int est_store_spec_is_pg(const char *spec);
/* est_store_open_pg or est_store_open_sqlite, as spec says; opt may be
 * NULL (defaults). */
EST_API est_status est_store_open(const char *spec, int create, const est_store_pg_options *opt,
                                  est_store **out, est_error *err);

/* Copies every row of the store from_spec names into the empty store
 * to_spec names (made when missing): SQLite to PostgreSQL or back, in one
 * transaction on the destination. Succeeds only when both sides, read
 * back, have the same row counts and the same SHA-256 over every value.
 * EST_E_CONFLICT when the destination holds rows already. */
#define EST_STORE_COPY_TABLES 6
typedef struct est_store_copy_report {
    uint64_t rows[EST_STORE_COPY_TABLES]; /* per table, est_store_copy_table(i) */
    char sha256[65];                      /* the source's rows */
    char copy_sha256[65];                 /* the destination's, read back */
} est_store_copy_report;
EST_API est_status est_store_copy(const char *from_spec, const char *to_spec,
                                  est_store_copy_report *out, est_error *err);
/* The name of table i of a report ("certs", "users", ...), NULL past the last. */
EST_API const char *est_store_copy_table(size_t i);

/* Builds a record (serial, subject, SAN, SPKI hash, validity, DER) from a
 * certificate; the caller fills requester/auth/operation/label. */
EST_API est_status est_cert_record_from_x509(X509 *cert, est_cert_record **out, est_error *err);

#endif
