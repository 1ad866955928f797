/* The PostgreSQL store, part two: certificates, users, pending requests,
 * audit events, the CRL number, and the ops table. Every write is one
 * statement, committed (and its WAL flushed) when it returns; the pool,
 * the schema and the reasons are in store_pg.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store_pg_internal.h"

static int64_t now_or(int64_t when)
{
    return when != 0 ? when : (int64_t)time(NULL);
}

/* The number of rows a write changed. */
static long changed(const PGresult *r)
{
    return strtol(PQcmdTuples((PGresult *)(uintptr_t)r), NULL, 10);
}

/* --- certificates ------------------------------------------------------------ */

#define CERT_VALUES "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15"
static const char cert_insert_sql[] = "INSERT INTO certs (" CERT_COLUMNS ") VALUES (" CERT_VALUES
                                      ")";
/* The certificate and its audit line in one statement: one commit. */
static const char cert_audited_sql[] =
    "WITH c AS (INSERT INTO certs (" CERT_COLUMNS ") VALUES (" CERT_VALUES ") RETURNING serial)"
    " INSERT INTO audit (at, event, label, actor, subject, serial, detail, count)"
    " SELECT $16::bigint, $17::text, $18::text, $19::text, $20::text, $21::text, $22::text,"
    " $23::bigint FROM c";

/* As in the SQLite store: both not_after bounds narrow the index range of
 * certs_expiry, the rest skips rows within it. $1 before, $2 status (-1
 * any), $3 issued since, $4 substring (NULL any), $5 not_after from (first
 * page) or the last row's (next), $6 the last row's serial; the LIMIT
 * last. */
#define PG_CERT_FILTERS                                                                   \
    " not_after < $1 AND ($2::int < 0 OR status = $2::int) AND issued_at >= $3 AND"       \
    " ($4::text IS NULL OR strpos(lower(subject), lower($4::text)) > 0 OR"                 \
    " strpos(lower(coalesce(san, '')), lower($4::text)) > 0)"
static const char cert_first_sql[] = "SELECT " CERT_COLUMNS " FROM certs WHERE not_after >= $5"
                                     " AND" PG_CERT_FILTERS
                                     " ORDER BY not_after, serial LIMIT $6";
static const char cert_next_sql[] = "SELECT " CERT_COLUMNS " FROM certs WHERE"
                                    " (not_after, serial) > ($5, $6) AND" PG_CERT_FILTERS
                                    " ORDER BY not_after, serial LIMIT $7";

/* The lookups by key (the plan test in tests/unit/lib/store_pg.c checks
 * each reads an index, see pgstore_read_sql). */
static const char cert_get_sql[] = "SELECT " CERT_COLUMNS " FROM certs WHERE serial = $1";
static const char cert_status_sql[] = "SELECT status FROM certs WHERE serial = $1";
static const char user_get_sql[] = "SELECT " USER_SELECT_COLUMNS " FROM users WHERE name = $1";
static const char pending_get_sql[] = "SELECT " PENDING_COLUMNS " FROM pending WHERE id = $1";
static const char pending_status_sql[] = "SELECT status FROM pending WHERE id = $1";
/* draft-04 §4.2.3: the client's retry is the same CSR; the newest
 * request for it answers (pending_label_csr holds id: no sort). */
static const char pending_find_sql[] = "SELECT " PENDING_COLUMNS " FROM pending WHERE label = $1"
                                       " AND csr_sha256 = $2 ORDER BY id DESC LIMIT 1";

static int cert_read(const PGresult *r, int row, void **out)
{
    est_cert_record *c = calloc(1, sizeof *c);

    *out = c;
    if (c == NULL)
        return -1;
    c->not_before = pgstore_col_int(r, row, CERT_COL_NOT_BEFORE);
    c->not_after = pgstore_col_int(r, row, CERT_COL_NOT_AFTER);
    c->issued_at = pgstore_col_int(r, row, CERT_COL_ISSUED_AT);
    c->status = (est_cert_status)pgstore_col_int(r, row, CERT_COL_STATUS);
    c->revoked_at = pgstore_col_int(r, row, CERT_COL_REVOKED_AT);
    c->revocation_reason = PQgetisnull(r, row, CERT_COL_REASON)
                               ? -1 : (int)pgstore_col_int(r, row, CERT_COL_REASON);
    if (pgstore_col_fixed(r, row, CERT_COL_SERIAL, c->serial, sizeof c->serial) != 0 ||
        pgstore_col_text(r, row, CERT_COL_SUBJECT, &c->subject) != 0 ||
        pgstore_col_text(r, row, CERT_COL_SAN, &c->san) != 0 ||
        pgstore_col_fixed(r, row, CERT_COL_SPKI, c->spki_sha256, sizeof c->spki_sha256) != 0 ||
        pgstore_col_text(r, row, CERT_COL_LABEL, &c->label) != 0 ||
        pgstore_col_text(r, row, CERT_COL_REQUESTER, &c->requester) != 0 ||
        pgstore_col_text(r, row, CERT_COL_AUTH, &c->auth_method) != 0 ||
        pgstore_col_text(r, row, CERT_COL_OPERATION, &c->operation) != 0 ||
        pgstore_col_blob(r, row, CERT_COL_DER, &c->der, &c->der_len) != 0) {
        est_cert_record_free(c);
        *out = NULL;
        return -1;
    }
    return 0;
}

static void cert_bind(pgstore_params *p, const est_cert_record *rec, const char *serial)
{
    pgstore_text(p, serial);
    pgstore_text(p, rec->subject);
    pgstore_text(p, rec->san);
    pgstore_text(p, rec->spki_sha256);
    pgstore_int(p, rec->not_before);
    pgstore_int(p, rec->not_after);
    pgstore_int(p, now_or(rec->issued_at));
    pgstore_int(p, (int64_t)rec->status);
    pgstore_int(p, rec->revoked_at);
    if (rec->revocation_reason >= 0)
        pgstore_int(p, rec->revocation_reason);
    else
        pgstore_text(p, NULL);
    pgstore_text(p, rec->label != NULL ? rec->label : "");
    pgstore_text(p, rec->requester);
    pgstore_text(p, rec->auth_method);
    pgstore_text(p, rec->operation);
    pgstore_blob(p, rec->der, rec->der_len);
}

/* The audit event's values, escaped (store_audit_escape, issue #12), from
 * the next parameter on: at, event, label, actor, subject, serial, detail,
 * count. text must outlive the statement. */
static void audit_bind(pgstore_params *p, const est_audit_event *in, store_audit_text *text)
{
    store_audit_escape(in, text);
    pgstore_int(p, (int64_t)time(NULL));
    pgstore_text(p, text->ev.event);
    pgstore_text(p, text->ev.label);
    pgstore_text(p, text->ev.actor);
    pgstore_text(p, text->ev.subject);
    pgstore_text(p, text->ev.serial);
    pgstore_text(p, text->ev.detail);
    pgstore_int(p, text->ev.count);
}

static est_status cert_write(pgstore *s, const est_cert_record *rec, const est_audit_event *ev,
                             est_error *err)
{
    char serial[STORE_SERIAL_HEX_MAX + 1];
    pgstore_params p = {0};
    store_audit_text text;
    est_status rc;

    if ((rc = store_cert_record_check(rec, err)) != EST_OK ||
        (rc = store_serial_normalise(rec->serial, serial, NULL, err)) != EST_OK)
        return rc;
    cert_bind(&p, rec, serial);
    if (ev != NULL)
        audit_bind(&p, ev, &text);
    /* Not retried: a broken connection leaves the commit in doubt, and the
     * caller must not hand out a certificate it cannot vouch for. */
    rc = pgstore_run(s, "certificate insert", ev != NULL ? cert_audited_sql : cert_insert_sql, &p,
                     0, NULL, err);
    /* docs/design.md §4: serials are never reused; the primary key decides. */
    if (rc == EST_E_CONFLICT)
        est_error_set(err, EST_E_CONFLICT,
                      "certificate insert: serial %s already in the store", serial);
    return rc;
}

static est_status cert_insert(void *impl, const est_cert_record *rec, est_error *err)
{
    return cert_write(impl, rec, NULL, err);
}

static est_status cert_insert_audited(void *impl, const est_cert_record *rec,
                                      const est_audit_event *ev, est_error *err)
{
    if (ev == NULL || ev->event == NULL || ev->event[0] == '\0')
        return est_error_set(err, EST_E_INPUT, "certificate insert: incomplete record");
    return cert_write(impl, rec, ev, err);
}

static est_status cert_get(void *impl, const char *serial, est_cert_record **out, est_error *err)
{
    char key[STORE_SERIAL_HEX_MAX + 1], what[STORE_SERIAL_HEX_MAX + 32];
    pgstore_params p = {0};
    void *row = NULL;
    est_status rc;

    *out = NULL;
    if ((rc = store_serial_normalise(serial, key, NULL, err)) != EST_OK)
        return rc;
    snprintf(what, sizeof what, "certificate with serial %s", key);
    pgstore_text(&p, key);
    rc = pgstore_get_one(impl, "certificate lookup", what, cert_get_sql, &p, cert_read, &row,
                         err);
    *out = row;
    return rc;
}

typedef struct cert_list_ctx {
    const est_cert_filter *filter;
    est_cert_visit_fn fn;
    void *arg;
} cert_list_ctx;

static void cert_page_bind(pgstore_params *p, const void *last, const void *ctx)
{
    const est_cert_record *l = last;
    store_cert_bounds b;

    store_cert_bounds_of(((const cert_list_ctx *)ctx)->filter, &b);
    pgstore_int(p, b.expiring_before);
    pgstore_int(p, b.status);
    pgstore_int(p, b.issued_since);
    pgstore_text(p, b.contains);
    if (l == NULL) {
        pgstore_int(p, b.not_after_from);
        return;
    }
    pgstore_int(p, l->not_after);
    pgstore_text(p, l->serial);
}

static int cert_visit(const void *row, void *ctx)
{
    const cert_list_ctx *c = ctx;
    return c->fn(row, c->arg);
}

static void cert_free_row(void *row)
{
    est_cert_record_free(row);
}

static const pgstore_list_kind cert_kind = {cert_first_sql, cert_next_sql, "certificate list",
                                            cert_page_bind, cert_read, cert_visit,
                                            cert_free_row};

static est_status cert_list(void *impl, const est_cert_filter *filter, est_cert_visit_fn fn,
                            void *arg, est_error *err)
{
    cert_list_ctx ctx = {filter, fn, arg};

    if (fn == NULL)
        return est_error_set(err, EST_E_INTERNAL, "certificate list: no callback");
    return pgstore_list(impl, &cert_kind, &ctx, err);
}

/* The first revocation's date and reason stand; a CRL must not move them. */
static est_status cert_revoke(void *impl, const char *serial, int reason, int64_t when,
                              est_error *err)
{
    char key[STORE_SERIAL_HEX_MAX + 1];
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc;

    if ((rc = store_serial_normalise(serial, key, NULL, err)) != EST_OK)
        return rc;
    if (!store_crl_reason_valid(reason))
        return est_error_set(err, EST_E_INPUT, "revoke: %d is not a CRL reason code", reason);
    pgstore_text(&p, key);
    pgstore_int(&p, now_or(when));
    if (reason >= 0)
        pgstore_int(&p, reason);
    else
        pgstore_text(&p, NULL);
    if ((rc = pgstore_run(impl, "revoke",
                          "UPDATE certs SET status = 1, revoked_at = $2, revocation_reason = $3"
                          " WHERE serial = $1 AND status = 0", &p, 0, &r, err)) != EST_OK)
        return rc;
    if (changed(r) == 1) {
        PQclear(r);
        return EST_OK;
    }
    PQclear(r);
    p.n = 1;
    if ((rc = pgstore_run(impl, "revoke", cert_status_sql, &p, 1, &r, err)) != EST_OK)
        return rc;
    if (PQntuples(r) == 1)
        rc = est_error_set(err, EST_E_CONFLICT, "revoke: certificate %s is already revoked", key);
    else
        rc = est_error_set(err, EST_E_NOT_FOUND, "revoke: no certificate with serial %s", key);
    PQclear(r);
    return rc;
}

/* --- users ------------------------------------------------------------------- */

static int user_read(const PGresult *r, int row, void **out)
{
    est_user_record *u = calloc(1, sizeof *u);

    *out = u;
    if (u == NULL)
        return -1;
    u->created_at = pgstore_col_int(r, row, USER_COL_CREATED_AT);
    u->unlocked_at = pgstore_col_int(r, row, USER_COL_UNLOCKED_AT);
    if (pgstore_col_text(r, row, USER_COL_NAME, &u->name) != 0 ||
        pgstore_col_text(r, row, USER_COL_HASH, &u->password_hash) != 0 ||
        pgstore_col_text(r, row, USER_COL_REALM, &u->digest_realm) != 0 ||
        pgstore_col_text(r, row, USER_COL_HA1_MD5, &u->digest_ha1_md5) != 0 ||
        pgstore_col_text(r, row, USER_COL_HA1_SHA256, &u->digest_ha1_sha256) != 0 ||
        pgstore_col_text(r, row, USER_COL_SRP_GROUP, &u->srp_group) != 0 ||
        pgstore_col_text(r, row, USER_COL_SRP_SALT, &u->srp_salt) != 0 ||
        pgstore_col_text(r, row, USER_COL_SRP_VERIFIER, &u->srp_verifier) != 0) {
        est_user_record_free(u);
        *out = NULL;
        return -1;
    }
    return 0;
}

static est_status user_put(void *impl, const est_user_record *rec, int replace, est_error *err)
{
    pgstore_params p = {0};
    est_status rc;

    if (rec == NULL || rec->name == NULL || rec->name[0] == '\0' || rec->password_hash == NULL)
        return est_error_set(err, EST_E_INPUT, "user add: name and password hash are required");
    pgstore_text(&p, rec->name);
    pgstore_text(&p, rec->password_hash);
    pgstore_text(&p, rec->digest_realm);
    pgstore_text(&p, rec->digest_ha1_md5);
    pgstore_text(&p, rec->digest_ha1_sha256);
    pgstore_int(&p, now_or(rec->created_at));
    pgstore_text(&p, rec->srp_group);
    pgstore_text(&p, rec->srp_salt);
    pgstore_text(&p, rec->srp_verifier);
    /* A replaced user keeps the date it was created (and its unlock). */
    rc = pgstore_run(impl, "user add",
                     replace ? "INSERT INTO users (" USER_COLUMNS ") VALUES"
                               " ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                               " ON CONFLICT (name) DO UPDATE SET"
                               " password_hash = excluded.password_hash,"
                               " digest_realm = excluded.digest_realm,"
                               " digest_ha1_md5 = excluded.digest_ha1_md5,"
                               " digest_ha1_sha256 = excluded.digest_ha1_sha256,"
                               " srp_group = excluded.srp_group, srp_salt = excluded.srp_salt,"
                               " srp_verifier = excluded.srp_verifier"
                             : "INSERT INTO users (" USER_COLUMNS ") VALUES"
                               " ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     &p, 0, NULL, err);
    if (rc == EST_E_CONFLICT)
        est_error_set(err, EST_E_CONFLICT, "user add: user '%s' exists", rec->name);
    return rc;
}

static est_status user_get(void *impl, const char *name, est_user_record **out, est_error *err)
{
    pgstore_params p = {0};
    char what[96];
    void *row = NULL;
    est_status rc;

    *out = NULL;
    if (name == NULL)
        return est_error_set(err, EST_E_INPUT, "user lookup: no name");
    snprintf(what, sizeof what, "user '%.64s'", name);
    pgstore_text(&p, name);
    rc = pgstore_get_one(impl, "user lookup", what, user_get_sql, &p, user_read, &row, err);
    *out = row;
    return rc;
}

static est_status user_delete(void *impl, const char *name, est_error *err)
{
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc;

    if (name == NULL)
        return est_error_set(err, EST_E_INPUT, "user delete: no name");
    pgstore_text(&p, name);
    if ((rc = pgstore_run(impl, "user delete", "DELETE FROM users WHERE name = $1", &p, 0, &r,
                          err)) != EST_OK)
        return rc;
    if (changed(r) == 0)
        rc = est_error_set(err, EST_E_NOT_FOUND, "user delete: no user '%.64s'", name);
    PQclear(r);
    return rc;
}

/* Schema 4: the operator's unlock (guess_guard.h in estd). */
static est_status user_unlock(void *impl, const char *name, int64_t when, est_error *err)
{
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc;

    if (name == NULL)
        return est_error_set(err, EST_E_INPUT, "user unlock: no name");
    pgstore_text(&p, name);
    pgstore_int(&p, when);
    if ((rc = pgstore_run(impl, "user unlock", "UPDATE users SET unlocked_at = $2 WHERE name = $1",
                          &p, 0, &r, err)) != EST_OK)
        return rc;
    if (changed(r) == 0)
        rc = est_error_set(err, EST_E_NOT_FOUND, "user unlock: no user '%.64s'", name);
    PQclear(r);
    return rc;
}

/* The position, callback and argument of a user or pending listing. */
typedef struct list_ctx {
    est_user_visit_fn user_fn;
    est_pending_visit_fn pending_fn;
    void *arg;
} list_ctx;

static int user_visit(const void *row, void *ctx)
{
    const list_ctx *c = ctx;
    return c->user_fn(row, c->arg);
}

static int pending_visit(const void *row, void *ctx)
{
    const list_ctx *c = ctx;
    return c->pending_fn(row, c->arg);
}

static void pending_page_bind(pgstore_params *p, const void *last, const void *ctx)
{
    (void)ctx;
    pgstore_int(p, last != NULL ? ((const est_pending_record *)last)->id : 0);
}

static void user_page_bind(pgstore_params *p, const void *last, const void *ctx)
{
    (void)ctx;
    pgstore_text(p, last != NULL ? ((const est_user_record *)last)->name : "");
}

static void user_free_row(void *row)
{
    est_user_record_free(row);
}

static const char user_page_sql[] = "SELECT " USER_SELECT_COLUMNS " FROM users WHERE name > $1"
                                    " ORDER BY name LIMIT $2";
static const pgstore_list_kind user_kind = {user_page_sql, user_page_sql, "user list",
                                            user_page_bind, user_read, user_visit,
                                            user_free_row};

static est_status user_list(void *impl, est_user_visit_fn fn, void *arg, est_error *err)
{
    list_ctx ctx = {fn, NULL, arg};

    if (fn == NULL)
        return est_error_set(err, EST_E_INTERNAL, "user list: no callback");
    return pgstore_list(impl, &user_kind, &ctx, err);
}

/* --- pending requests (draft-04 §4.2.3: 202 and retry) ------------------------- */

static int pending_read(const PGresult *r, int row, void **out)
{
    est_pending_record *q = calloc(1, sizeof *q);

    *out = q;
    if (q == NULL)
        return -1;
    q->id = pgstore_col_int(r, row, PENDING_COL_ID);
    q->status = (est_pending_status)pgstore_col_int(r, row, PENDING_COL_STATUS);
    q->created_at = pgstore_col_int(r, row, PENDING_COL_CREATED_AT);
    q->updated_at = pgstore_col_int(r, row, PENDING_COL_UPDATED_AT);
    if (pgstore_col_text(r, row, PENDING_COL_LABEL, &q->label) != 0 ||
        pgstore_col_fixed(r, row, PENDING_COL_CSR_SHA256, q->csr_sha256,
                          sizeof q->csr_sha256) != 0 ||
        pgstore_col_text(r, row, PENDING_COL_REQUESTER, &q->requester) != 0 ||
        pgstore_col_text(r, row, PENDING_COL_AUTH, &q->auth_method) != 0 ||
        pgstore_col_text(r, row, PENDING_COL_OPERATION, &q->operation) != 0 ||
        pgstore_col_text(r, row, PENDING_COL_SUBJECT, &q->subject) != 0 ||
        pgstore_col_text(r, row, PENDING_COL_REASON, &q->reason) != 0 ||
        pgstore_col_text(r, row, PENDING_COL_CERT_SERIAL, &q->cert_serial) != 0 ||
        pgstore_col_blob(r, row, PENDING_COL_CSR_DER, &q->csr_der, &q->csr_der_len) != 0) {
        est_pending_record_free(q);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int pending_status_valid(est_pending_status status)
{
    return status == EST_PENDING_WAITING || status == EST_PENDING_APPROVED ||
           status == EST_PENDING_REJECTED;
}

/* A serial argument, normalised into buf; NULL stays NULL. */
static est_status optional_serial(const char *in, char buf[STORE_SERIAL_HEX_MAX + 1],
                                  const char **out, est_error *err)
{
    *out = NULL;
    if (in == NULL)
        return EST_OK;
    *out = buf;
    return store_serial_normalise(in, buf, NULL, err);
}

static est_status pending_insert(void *impl, est_pending_record *rec, est_error *err)
{
    char buf[STORE_SERIAL_HEX_MAX + 1];
    const char *serial = NULL;
    int64_t now = (int64_t)time(NULL);
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc;

    if (rec == NULL || rec->csr_sha256[0] == '\0' || !pending_status_valid(rec->status))
        return est_error_set(err, EST_E_INPUT, "pending insert: incomplete record");
    if ((rc = optional_serial(rec->cert_serial, buf, &serial, err)) != EST_OK)
        return rc;
    pgstore_text(&p, rec->label != NULL ? rec->label : "");
    pgstore_text(&p, rec->csr_sha256);
    pgstore_text(&p, rec->requester);
    pgstore_text(&p, rec->auth_method);
    pgstore_text(&p, rec->operation);
    pgstore_text(&p, rec->subject);
    pgstore_int(&p, (int64_t)rec->status);
    pgstore_text(&p, rec->reason);
    pgstore_text(&p, serial);
    pgstore_int(&p, rec->created_at != 0 ? rec->created_at : now);
    pgstore_int(&p, rec->updated_at != 0 ? rec->updated_at : now);
    pgstore_blob(&p, rec->csr_der, rec->csr_der_len);
    if (rec->csr_der == NULL)
        p.values[p.n - 1] = NULL;
    rc = pgstore_run(impl, "pending insert",
                     "INSERT INTO pending (label, csr_sha256, requester, auth_method, operation,"
                     " subject, status, reason, cert_serial, created_at, updated_at, csr_der)"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                     &p, 0, &r, err);
    if (rc == EST_OK)
        rec->id = pgstore_col_int(r, 0, 0);
    else if (rc == EST_E_NOT_FOUND)
        est_error_set(err, EST_E_NOT_FOUND, "pending insert: no certificate with serial %s",
                      serial != NULL ? serial : "");
    PQclear(r);
    return rc;
}

static est_status pending_get(void *impl, int64_t id, est_pending_record **out, est_error *err)
{
    pgstore_params p = {0};
    char what[48];
    void *row = NULL;
    est_status rc;

    snprintf(what, sizeof what, "request %lld", (long long)id);
    pgstore_int(&p, id);
    rc = pgstore_get_one(impl, "pending lookup", what, pending_get_sql, &p, pending_read, &row,
                         err);
    *out = row;
    return rc;
}

static est_status pending_find(void *impl, const char *label, const char *csr_sha256,
                               est_pending_record **out, est_error *err)
{
    pgstore_params p = {0};
    void *row = NULL;
    est_status rc;

    *out = NULL;
    if (csr_sha256 == NULL)
        return est_error_set(err, EST_E_INPUT, "pending lookup: no CSR hash");
    pgstore_text(&p, label != NULL ? label : "");
    pgstore_text(&p, csr_sha256);
    rc = pgstore_get_one(impl, "pending lookup", "request for this CSR", pending_find_sql, &p,
                         pending_read, &row, err);
    *out = row;
    return rc;
}

/* Nothing changed: no such request, or not in a state to change. */
static est_status pending_why_not(void *impl, int64_t id, est_error *err)
{
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc;

    pgstore_int(&p, id);
    if ((rc = pgstore_run(impl, "pending update", pending_status_sql, &p, 1, &r, err)) != EST_OK)
        return rc;
    if (PQntuples(r) == 0)
        rc = est_error_set(err, EST_E_NOT_FOUND, "pending update: no request %lld",
                           (long long)id);
    else
        rc = est_error_set(err, EST_E_CONFLICT, "pending update: request %lld is %s",
                           (long long)id, pgstore_col_int(r, 0, 0) == EST_PENDING_REJECTED
                                              ? "rejected" : "approved already");
    PQclear(r);
    return rc;
}

static est_status pending_update(void *impl, int64_t id, est_pending_status status,
                                 const char *reason, const char *cert_serial, est_error *err)
{
    char buf[STORE_SERIAL_HEX_MAX + 1];
    const char *serial = NULL;
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc;

    if (!pending_status_valid(status))
        return est_error_set(err, EST_E_INPUT, "pending update: status %d", (int)status);
    if ((rc = optional_serial(cert_serial, buf, &serial, err)) != EST_OK)
        return rc;
    pgstore_int(&p, id);
    pgstore_int(&p, (int64_t)status);
    pgstore_text(&p, reason);
    pgstore_text(&p, serial);
    pgstore_int(&p, (int64_t)time(NULL));
    /* The state machine of est_store_ops pending_update, in the WHERE. */
    rc = pgstore_run(impl, "pending update",
                     "UPDATE pending SET status = $2, reason = $3, cert_serial = $4,"
                     " updated_at = $5 WHERE id = $1 AND (status = 0 OR (status = 1"
                     " AND cert_serial IS NULL AND ($2 = 0 OR ($2 = 1 AND $4::text IS NOT NULL))))",
                     &p, 0, &r, err);
    if (rc == EST_E_NOT_FOUND)
        return est_error_set(err, EST_E_NOT_FOUND, "pending update: no certificate with serial %s",
                             serial != NULL ? serial : "");
    if (rc != EST_OK)
        return rc;
    rc = changed(r) == 1 ? EST_OK : pending_why_not(impl, id, err);
    PQclear(r);
    return rc;
}

static void pending_free_row(void *row)
{
    est_pending_record_free(row);
}

static const char pending_page_sql[] = "SELECT " PENDING_COLUMNS " FROM pending WHERE id > $1"
                                       " ORDER BY id LIMIT $2";
static const pgstore_list_kind pending_kind = {pending_page_sql, pending_page_sql, "pending list",
                                               pending_page_bind, pending_read, pending_visit,
                                               pending_free_row};

static est_status pending_list(void *impl, est_pending_visit_fn fn, void *arg, est_error *err)
{
    list_ctx ctx = {NULL, fn, arg};

    if (fn == NULL)
        return est_error_set(err, EST_E_INTERNAL, "pending list: no callback");
    return pgstore_list(impl, &pending_kind, &ctx, err);
}

/* --- audit events and the CRL number ------------------------------------------ */

static est_status audit_append(void *impl, const est_audit_event *ev, est_error *err)
{
    pgstore_params p = {0};
    store_audit_text text;

    if (ev == NULL || ev->event == NULL || ev->event[0] == '\0')
        return est_error_set(err, EST_E_INPUT, "audit: no event name");
    audit_bind(&p, ev, &text);
    return pgstore_run(impl, "audit",
                       "INSERT INTO audit (at, event, label, actor, subject, serial, detail, count)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", &p, 0, NULL, err);
}

/* One statement, one transaction: rows before what->before, and those
 * outside the newest what->keep_rows ids (ids only grow; a sequence may
 * skip one, so at most keep_rows stay). Not retried: the count of a
 * delete in doubt would be wrong, and the next prune catches up. */
static est_status audit_prune(void *impl, const est_audit_prune *what, int64_t *removed,
                              est_error *err)
{
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc;

    if (removed != NULL)
        *removed = 0;
    if (what == NULL)
        return est_error_set(err, EST_E_INTERNAL, "audit prune: NULL argument");
    pgstore_int(&p, what->before);
    pgstore_int(&p, what->keep_rows);
    rc = pgstore_run(impl, "audit prune",
                     "WITH d AS (DELETE FROM audit WHERE ($1::bigint > 0 AND at < $1::bigint) OR"
                     " ($2::bigint > 0 AND id <= (SELECT max(id) FROM audit) - $2::bigint)"
                     " RETURNING 1) SELECT count(*) FROM d",
                     &p, 0, &r, err);
    if (rc == EST_OK && removed != NULL)
        *removed = pgstore_col_int(r, 0, 0);
    PQclear(r);
    return rc;
}

/* RFC 5280 §5.2.3: CRL numbers increase monotonically. One statement
 * bumps and returns it; the row lock orders concurrent nodes. */
static est_status next_crl_number(void *impl, long *out, est_error *err)
{
    PGresult *r = NULL;
    est_status rc;

    if (out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CRL number: NULL argument");
    rc = pgstore_run(impl, "CRL number",
                     "INSERT INTO meta (key, value) VALUES ('crl_number', '1') ON CONFLICT (key)"
                     " DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value",
                     NULL, 0, &r, err);
    if (rc == EST_OK)
        *out = (long)pgstore_col_int(r, 0, 0);
    PQclear(r);
    return rc;
}

const char *const pgstore_read_sql[] = {
    cert_get_sql, cert_status_sql, cert_first_sql, cert_next_sql, user_get_sql, user_page_sql,
    pending_get_sql, pending_status_sql, pending_find_sql, pending_page_sql, pgstore_otp_find_sql,
    pgstore_otp_page_sql,
};
const size_t pgstore_read_sql_count = sizeof pgstore_read_sql / sizeof pgstore_read_sql[0];

const est_store_ops pgstore_ops = {
    .name = "postgresql",
    .cert_insert = cert_insert,
    .cert_get = cert_get,
    .cert_list = cert_list,
    .cert_revoke = cert_revoke,
    .user_put = user_put,
    .user_get = user_get,
    .user_delete = user_delete,
    .user_list = user_list,
    .user_unlock = user_unlock,
    .pending_insert = pending_insert,
    .pending_get = pending_get,
    .pending_find = pending_find,
    .pending_update = pending_update,
    .pending_list = pending_list,
    .audit_append = audit_append,
    .audit_prune = audit_prune,
    .next_crl_number = next_crl_number,
    .check = pgstore_check,
    .close = pgstore_close,
    .otp_insert = pgstore_otp_insert,
    .otp_consume = pgstore_otp_consume,
    .otp_set_serial = pgstore_otp_set_serial,
    .otp_list = pgstore_otp_list,
    .cert_insert_audited = cert_insert_audited,
    .nonce_secret = pgstore_nonce_secret,
};
