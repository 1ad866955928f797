/* The default store, part two: the operations on rows (certificates, users,
 * pending requests, audit events, the CRL number) and the ops table. The
 * connection, schema and SQL are in store_sqlite.c. Reads take the store
 * lock for one statement; writes go through sqlstore_write, durable when
 * it returns (concurrent writes share a transaction: group commit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store_internal.h"
#include "store_sqlite_internal.h"

/* --- values in and out ----------------------------------------------------- */

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v != NULL ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int bind_blob(sqlite3_stmt *st, int i, const uint8_t *v, size_t len)
{
    return v != NULL ? sqlite3_bind_blob64(st, i, v, len, SQLITE_STATIC)
                     : sqlite3_bind_null(st, i);
}

/* A copy of a text column (NULL stays NULL); -1 when out of memory. */
static int column_text(sqlite3_stmt *st, int i, char **out)
{
    const unsigned char *v = sqlite3_column_text(st, i);

    *out = NULL;
    if (v == NULL)
        return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : -1;
    *out = strdup((const char *)v);
    return *out != NULL ? 0 : -1;
}

static int column_blob(sqlite3_stmt *st, int i, uint8_t **out, size_t *len)
{
    const void *v = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);

    *out = NULL;
    *len = 0;
    if (v == NULL || n <= 0)
        return sqlite3_column_type(st, i) == SQLITE_NULL || n == 0 ? 0 : -1;
    if ((*out = malloc((size_t)n)) == NULL)
        return -1;
    memcpy(*out, v, (size_t)n);
    *len = (size_t)n;
    return 0;
}

/* A fixed-size hex column (serial, SHA-256) into its record buffer. */
static int column_fixed(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    size_t len = v != NULL ? strlen((const char *)v) : 0;

    if (len >= cap)
        return -1;
    memcpy(out, v != NULL ? (const char *)v : "", len + 1);
    return 0;
}

static int64_t now_or(int64_t when)
{
    return when != 0 ? when : (int64_t)time(NULL);
}

/* Binds a run of values, stopping at the first failure; the SQLite code. */
#define BIND(call)                 \
    do {                           \
        if ((src = (call)) != SQLITE_OK) \
            return src;            \
    } while (0)

/* --- certificates ------------------------------------------------------------ */

static int cert_read(sqlite3_stmt *st, void **row)
{
    est_cert_record *r = calloc(1, sizeof *r);

    *row = r;
    if (r == NULL)
        return -1;
    r->not_before = sqlite3_column_int64(st, CERT_COL_NOT_BEFORE);
    r->not_after = sqlite3_column_int64(st, CERT_COL_NOT_AFTER);
    r->issued_at = sqlite3_column_int64(st, CERT_COL_ISSUED_AT);
    r->status = (est_cert_status)sqlite3_column_int(st, CERT_COL_STATUS);
    r->revoked_at = sqlite3_column_int64(st, CERT_COL_REVOKED_AT);
    r->revocation_reason = sqlite3_column_type(st, CERT_COL_REASON) == SQLITE_NULL
                               ? -1
                               : sqlite3_column_int(st, CERT_COL_REASON);
    if (column_fixed(st, CERT_COL_SERIAL, r->serial, sizeof r->serial) != 0 ||
        column_text(st, CERT_COL_SUBJECT, &r->subject) != 0 ||
        column_text(st, CERT_COL_SAN, &r->san) != 0 ||
        column_fixed(st, CERT_COL_SPKI, r->spki_sha256, sizeof r->spki_sha256) != 0 ||
        column_text(st, CERT_COL_LABEL, &r->label) != 0 ||
        column_text(st, CERT_COL_REQUESTER, &r->requester) != 0 ||
        column_text(st, CERT_COL_AUTH, &r->auth_method) != 0 ||
        column_text(st, CERT_COL_OPERATION, &r->operation) != 0 ||
        column_blob(st, CERT_COL_DER, &r->der, &r->der_len) != 0) {
        est_cert_record_free(r);
        *row = NULL;
        return -1;
    }
    return 0;
}

static int cert_bind(sqlite3_stmt *st, const est_cert_record *rec, const char *serial)
{
    int src;

    BIND(bind_text(st, 1, serial));
    BIND(bind_text(st, 2, rec->subject));
    BIND(bind_text(st, 3, rec->san));
    BIND(bind_text(st, 4, rec->spki_sha256));
    BIND(sqlite3_bind_int64(st, 5, rec->not_before));
    BIND(sqlite3_bind_int64(st, 6, rec->not_after));
    BIND(sqlite3_bind_int64(st, 7, now_or(rec->issued_at)));
    BIND(sqlite3_bind_int(st, 8, (int)rec->status));
    BIND(sqlite3_bind_int64(st, 9, rec->revoked_at));
    if (rec->revocation_reason >= 0)
        BIND(sqlite3_bind_int(st, 10, rec->revocation_reason));
    BIND(bind_text(st, 11, rec->label != NULL ? rec->label : ""));
    BIND(bind_text(st, 12, rec->requester));
    BIND(bind_text(st, 13, rec->auth_method));
    BIND(bind_text(st, 14, rec->operation));
    return bind_blob(st, 15, rec->der, rec->der_len);
}

/* One certificate, inside a transaction the caller opened (see
 * sqlstore_write on group commit). */
static est_status cert_insert_one(sqlstore *s, void *arg, est_error *err)
{
    const est_cert_record *rec = arg;
    sqlite3_stmt *st = s->st[ST_CERT_INSERT];
    char serial[STORE_SERIAL_HEX_MAX + 1];
    est_status rc = EST_OK;
    int src;

    if ((rc = store_serial_normalise(rec->serial, serial, NULL, err)) != EST_OK)
        return rc;
    if ((src = cert_bind(st, rec, serial)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE) {
        /* docs/design.md §4: serials are never reused; the primary key decides. */
        if (src == SQLITE_CONSTRAINT_PRIMARYKEY)
            rc = est_error_set(err, EST_E_CONFLICT,
                               "certificate insert: serial %s already in the store", serial);
        else
            rc = sqlstore_error(s, src, "certificate insert", err);
    }
    sqlstore_done(st);
    return rc;
}

static est_status cert_insert(void *impl, const est_cert_record *rec, est_error *err)
{
    est_status rc = store_cert_record_check(rec, err);

    if (rc != EST_OK)
        return rc;
    /* The body only reads the record: the cast drops const for fn's arg. */
    return sqlstore_write(impl, "certificate insert", cert_insert_one, (void *)(uintptr_t)rec,
                          err);
}

static est_status cert_get(void *impl, const char *serial, est_cert_record **out, est_error *err)
{
    sqlstore *s = impl;
    sqlite3_stmt *st;
    char key[STORE_SERIAL_HEX_MAX + 1], what[STORE_SERIAL_HEX_MAX + 32];
    void *row = NULL;
    est_status rc;
    int src;

    *out = NULL;
    if ((rc = store_serial_normalise(serial, key, NULL, err)) != EST_OK)
        return rc;
    snprintf(what, sizeof what, "certificate with serial %s", key);
    st = sqlstore_lookup_begin(s, ST_CERT_GET);
    if ((src = bind_text(st, 1, key)) != SQLITE_OK)
        rc = sqlstore_error(s, src, "certificate lookup", err);
    else
        rc = sqlstore_get_one(st, "certificate lookup", what, cert_read, &row, err);
    sqlstore_lookup_end(s, st);
    *out = row;
    return rc;
}

typedef struct cert_list_ctx {
    const est_cert_filter *filter;
    est_cert_visit_fn fn;
    void *arg;
} cert_list_ctx;

static int cert_page_bind(sqlite3_stmt *st, const void *last, const void *ctx)
{
    const est_cert_record *l = last;
    store_cert_bounds b;
    int src;

    store_cert_bounds_of(((const cert_list_ctx *)ctx)->filter, &b);
    BIND(sqlite3_bind_int64(st, 1, b.expiring_before));
    BIND(sqlite3_bind_int(st, 2, b.status));
    BIND(sqlite3_bind_int(st, 5, SQLSTORE_LIST_PAGE));
    BIND(sqlite3_bind_int64(st, 6, b.issued_since));
    BIND(bind_text(st, 7, b.contains));
    if (l == NULL)
        return sqlite3_bind_int64(st, 3, b.not_after_from);
    BIND(sqlite3_bind_int64(st, 3, l->not_after));
    return bind_text(st, 4, l->serial);
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

static const sqlstore_list_kind cert_kind = {ST_CERT_FIRST, ST_CERT_NEXT, "certificate list",
                                             cert_page_bind,
                                             cert_read, cert_visit, cert_free_row};

static est_status cert_list(void *impl, const est_cert_filter *filter, est_cert_visit_fn fn,
                            void *arg, est_error *err)
{
    cert_list_ctx ctx = {filter, fn, arg};

    if (fn == NULL)
        return est_error_set(err, EST_E_INTERNAL, "certificate list: no callback");
    return sqlstore_list(impl, &cert_kind, &ctx, err);
}

typedef struct revoke_args {
    const char *serial;
    int reason;
    int64_t when;
} revoke_args;

/* Nothing was revoked: the serial is unknown, or revoked before (the first
 * date and reason stand; a CRL must not move them). */
static est_status revoke_why_not(sqlstore *s, const char *serial, est_error *err)
{
    sqlite3_stmt *st = s->st[ST_CERT_STATUS];
    est_status rc;
    int src;

    if ((src = bind_text(st, 1, serial)) == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = est_error_set(err, EST_E_CONFLICT, "revoke: certificate %s is already revoked",
                           serial);
    else if (src == SQLITE_DONE)
        rc = est_error_set(err, EST_E_NOT_FOUND, "revoke: no certificate with serial %s", serial);
    else
        rc = sqlstore_error(s, src, "revoke", err);
    sqlstore_done(st);
    return rc;
}

static est_status cert_revoke_one(sqlstore *s, void *arg, est_error *err)
{
    const revoke_args *a = arg;
    sqlite3_stmt *st = s->st[ST_CERT_REVOKE];
    est_status rc = EST_OK;
    int src;

    if ((src = bind_text(st, 1, a->serial)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 2, a->when)) != SQLITE_OK ||
        (a->reason >= 0 && (src = sqlite3_bind_int(st, 3, a->reason)) != SQLITE_OK) ||
        (src = sqlite3_step(st)) != SQLITE_DONE)
        rc = sqlstore_error(s, src, "revoke", err);
    sqlstore_done(st);
    if (rc != EST_OK || sqlite3_changes(s->db) == 1)
        return rc;
    return revoke_why_not(s, a->serial, err);
}

static est_status cert_revoke(void *impl, const char *serial, int reason, int64_t when,
                              est_error *err)
{
    char key[STORE_SERIAL_HEX_MAX + 1];
    revoke_args a = {key, reason, now_or(when)};
    est_status rc;

    if ((rc = store_serial_normalise(serial, key, NULL, err)) != EST_OK)
        return rc;
    if (!store_crl_reason_valid(reason))
        return est_error_set(err, EST_E_INPUT, "revoke: %d is not a CRL reason code", reason);
    return sqlstore_write(impl, "revoke", cert_revoke_one, &a, err);
}

/* --- users ------------------------------------------------------------------- */

static int user_read(sqlite3_stmt *st, void **row)
{
    est_user_record *r = calloc(1, sizeof *r);

    *row = r;
    if (r == NULL)
        return -1;
    r->created_at = sqlite3_column_int64(st, USER_COL_CREATED_AT);
    r->unlocked_at = sqlite3_column_int64(st, USER_COL_UNLOCKED_AT);
    if (column_text(st, USER_COL_NAME, &r->name) != 0 ||
        column_text(st, USER_COL_HASH, &r->password_hash) != 0 ||
        column_text(st, USER_COL_REALM, &r->digest_realm) != 0 ||
        column_text(st, USER_COL_HA1_MD5, &r->digest_ha1_md5) != 0 ||
        column_text(st, USER_COL_HA1_SHA256, &r->digest_ha1_sha256) != 0 ||
        column_text(st, USER_COL_SRP_GROUP, &r->srp_group) != 0 ||
        column_text(st, USER_COL_SRP_SALT, &r->srp_salt) != 0 ||
        column_text(st, USER_COL_SRP_VERIFIER, &r->srp_verifier) != 0) {
        est_user_record_free(r);
        *row = NULL;
        return -1;
    }
    return 0;
}

typedef struct user_put_args {
    const est_user_record *rec;
    int replace;
} user_put_args;

static est_status user_put_one(sqlstore *s, void *arg, est_error *err)
{
    const user_put_args *a = arg;
    const est_user_record *rec = a->rec;
    sqlite3_stmt *st = s->st[a->replace ? ST_USER_UPSERT : ST_USER_INSERT];
    est_status rc = EST_OK;
    int src;

    if ((src = bind_text(st, 1, rec->name)) != SQLITE_OK ||
        (src = bind_text(st, 2, rec->password_hash)) != SQLITE_OK ||
        (src = bind_text(st, 3, rec->digest_realm)) != SQLITE_OK ||
        (src = bind_text(st, 4, rec->digest_ha1_md5)) != SQLITE_OK ||
        (src = bind_text(st, 5, rec->digest_ha1_sha256)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 6, now_or(rec->created_at))) != SQLITE_OK ||
        (src = bind_text(st, 7, rec->srp_group)) != SQLITE_OK ||
        (src = bind_text(st, 8, rec->srp_salt)) != SQLITE_OK ||
        (src = bind_text(st, 9, rec->srp_verifier)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE) {
        if (src == SQLITE_CONSTRAINT_PRIMARYKEY)
            rc = est_error_set(err, EST_E_CONFLICT, "user add: user '%s' exists", rec->name);
        else
            rc = sqlstore_error(s, src, "user add", err);
    }
    sqlstore_done(st);
    return rc;
}

static est_status user_put(void *impl, const est_user_record *rec, int replace, est_error *err)
{
    user_put_args a = {rec, replace};

    if (rec == NULL || rec->name == NULL || rec->name[0] == '\0' || rec->password_hash == NULL)
        return est_error_set(err, EST_E_INPUT, "user add: name and password hash are required");
    return sqlstore_write(impl, "user add", user_put_one, &a, err);
}

static est_status user_get(void *impl, const char *name, est_user_record **out, est_error *err)
{
    sqlstore *s = impl;
    sqlite3_stmt *st;
    char what[96];
    void *row = NULL;
    est_status rc;
    int src;

    *out = NULL;
    if (name == NULL)
        return est_error_set(err, EST_E_INPUT, "user lookup: no name");
    snprintf(what, sizeof what, "user '%.64s'", name);
    st = sqlstore_lookup_begin(s, ST_USER_GET);
    if ((src = bind_text(st, 1, name)) != SQLITE_OK)
        rc = sqlstore_error(s, src, "user lookup", err);
    else
        rc = sqlstore_get_one(st, "user lookup", what, user_read, &row, err);
    sqlstore_lookup_end(s, st);
    *out = row;
    return rc;
}

static est_status user_delete_one(sqlstore *s, void *arg, est_error *err)
{
    const char *name = arg;
    sqlite3_stmt *st = s->st[ST_USER_DELETE];
    est_status rc = EST_OK;
    int src;

    if ((src = bind_text(st, 1, name)) != SQLITE_OK || (src = sqlite3_step(st)) != SQLITE_DONE)
        rc = sqlstore_error(s, src, "user delete", err);
    else if (sqlite3_changes(s->db) == 0)
        rc = est_error_set(err, EST_E_NOT_FOUND, "user delete: no user '%.64s'", name);
    sqlstore_done(st);
    return rc;
}

static est_status user_delete(void *impl, const char *name, est_error *err)
{
    if (name == NULL)
        return est_error_set(err, EST_E_INPUT, "user delete: no name");
    return sqlstore_write(impl, "user delete", user_delete_one, (void *)(uintptr_t)name, err);
}

typedef struct user_list_ctx {
    est_user_visit_fn fn;
    void *arg;
} user_list_ctx;

static int user_page_bind(sqlite3_stmt *st, const void *last, const void *ctx)
{
    const est_user_record *l = last;
    int src;

    (void)ctx;
    BIND(sqlite3_bind_int(st, 2, SQLSTORE_LIST_PAGE));
    return bind_text(st, 1, l != NULL ? l->name : "");
}

static int user_visit(const void *row, void *ctx)
{
    const user_list_ctx *c = ctx;
    return c->fn(row, c->arg);
}

static void user_free_row(void *row)
{
    est_user_record_free(row);
}

static const sqlstore_list_kind user_kind = {ST_USER_PAGE, ST_USER_PAGE, "user list",
                                             user_page_bind,
                                             user_read, user_visit, user_free_row};

static est_status user_list(void *impl, est_user_visit_fn fn, void *arg, est_error *err)
{
    user_list_ctx ctx = {fn, arg};

    if (fn == NULL)
        return est_error_set(err, EST_E_INTERNAL, "user list: no callback");
    return sqlstore_list(impl, &user_kind, &ctx, err);
}

/* --- pending requests (draft-04 §4.2.3: 202 and retry) ------------------------- */

static int pending_read(sqlite3_stmt *st, void **row)
{
    est_pending_record *r = calloc(1, sizeof *r);

    *row = r;
    if (r == NULL)
        return -1;
    r->id = sqlite3_column_int64(st, PENDING_COL_ID);
    r->status = (est_pending_status)sqlite3_column_int(st, PENDING_COL_STATUS);
    r->created_at = sqlite3_column_int64(st, PENDING_COL_CREATED_AT);
    r->updated_at = sqlite3_column_int64(st, PENDING_COL_UPDATED_AT);
    if (column_text(st, PENDING_COL_LABEL, &r->label) != 0 ||
        column_fixed(st, PENDING_COL_CSR_SHA256, r->csr_sha256, sizeof r->csr_sha256) != 0 ||
        column_text(st, PENDING_COL_REQUESTER, &r->requester) != 0 ||
        column_text(st, PENDING_COL_AUTH, &r->auth_method) != 0 ||
        column_text(st, PENDING_COL_OPERATION, &r->operation) != 0 ||
        column_text(st, PENDING_COL_SUBJECT, &r->subject) != 0 ||
        column_text(st, PENDING_COL_REASON, &r->reason) != 0 ||
        column_text(st, PENDING_COL_CERT_SERIAL, &r->cert_serial) != 0 ||
        column_blob(st, PENDING_COL_CSR_DER, &r->csr_der, &r->csr_der_len) != 0) {
        est_pending_record_free(r);
        *row = NULL;
        return -1;
    }
    return 0;
}

static int pending_status_valid(est_pending_status status)
{
    return status == EST_PENDING_WAITING || status == EST_PENDING_APPROVED ||
           status == EST_PENDING_REJECTED;
}

static int pending_bind(sqlite3_stmt *st, const est_pending_record *rec, const char *serial)
{
    int64_t now = (int64_t)time(NULL);
    int src;

    BIND(bind_text(st, 1, rec->label != NULL ? rec->label : ""));
    BIND(bind_text(st, 2, rec->csr_sha256));
    BIND(bind_text(st, 3, rec->requester));
    BIND(bind_text(st, 4, rec->auth_method));
    BIND(bind_text(st, 5, rec->operation));
    BIND(bind_text(st, 6, rec->subject));
    BIND(sqlite3_bind_int(st, 7, (int)rec->status));
    BIND(bind_text(st, 8, rec->reason));
    BIND(bind_text(st, 9, serial));
    BIND(sqlite3_bind_int64(st, 10, rec->created_at != 0 ? rec->created_at : now));
    BIND(sqlite3_bind_int64(st, 11, rec->updated_at != 0 ? rec->updated_at : now));
    return bind_blob(st, 12, rec->csr_der, rec->csr_der_len);
}

/* The pending table's cert_serial references certs: a request is marked
 * issued only after its certificate is in the store. */
static est_status pending_write_error(sqlstore *s, int src, const char *op, const char *serial,
                                      est_error *err)
{
    if (src == SQLITE_CONSTRAINT_FOREIGNKEY)
        return est_error_set(err, EST_E_NOT_FOUND, "%s: no certificate with serial %s", op,
                             serial != NULL ? serial : "");
    return sqlstore_error(s, src, op, err);
}

typedef struct pending_insert_args {
    est_pending_record *rec;
    const char *serial; /* normalised rec->cert_serial */
} pending_insert_args;

static est_status pending_insert_one(sqlstore *s, void *arg, est_error *err)
{
    pending_insert_args *a = arg;
    sqlite3_stmt *st = s->st[ST_PENDING_INSERT];
    est_status rc = EST_OK;
    int src;

    if ((src = pending_bind(st, a->rec, a->serial)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE)
        rc = pending_write_error(s, src, "pending insert", a->serial, err);
    else
        a->rec->id = sqlite3_last_insert_rowid(s->db);
    sqlstore_done(st);
    return rc;
}

static est_status pending_insert(void *impl, est_pending_record *rec, est_error *err)
{
    char serial[STORE_SERIAL_HEX_MAX + 1];
    pending_insert_args a = {rec, NULL};
    est_status rc;

    if (rec == NULL || rec->csr_sha256[0] == '\0' || !pending_status_valid(rec->status))
        return est_error_set(err, EST_E_INPUT, "pending insert: incomplete record");
    if (rec->cert_serial != NULL) {
        if ((rc = store_serial_normalise(rec->cert_serial, serial, NULL, err)) != EST_OK)
            return rc;
        a.serial = serial;
    }
    return sqlstore_write(impl, "pending insert", pending_insert_one, &a, err);
}

static est_status pending_get(void *impl, int64_t id, est_pending_record **out, est_error *err)
{
    sqlstore *s = impl;
    sqlite3_stmt *st;
    char what[48];
    void *row = NULL;
    est_status rc;
    int src;

    *out = NULL;
    snprintf(what, sizeof what, "request %lld", (long long)id);
    st = sqlstore_lookup_begin(s, ST_PENDING_GET);
    if ((src = sqlite3_bind_int64(st, 1, id)) != SQLITE_OK)
        rc = sqlstore_error(s, src, "pending lookup", err);
    else
        rc = sqlstore_get_one(st, "pending lookup", what, pending_read, &row, err);
    sqlstore_lookup_end(s, st);
    *out = row;
    return rc;
}

static est_status pending_find(void *impl, const char *label, const char *csr_sha256,
                               est_pending_record **out, est_error *err)
{
    sqlstore *s = impl;
    sqlite3_stmt *st;
    void *row = NULL;
    est_status rc;
    int src;

    *out = NULL;
    if (csr_sha256 == NULL)
        return est_error_set(err, EST_E_INPUT, "pending lookup: no CSR hash");
    st = sqlstore_lookup_begin(s, ST_PENDING_FIND);
    if ((src = bind_text(st, 1, label != NULL ? label : "")) != SQLITE_OK ||
        (src = bind_text(st, 2, csr_sha256)) != SQLITE_OK)
        rc = sqlstore_error(s, src, "pending lookup", err);
    else
        rc = sqlstore_get_one(st, "pending lookup", "request for this CSR", pending_read, &row,
                              err);
    sqlstore_lookup_end(s, st);
    *out = row;
    return rc;
}

typedef struct pending_update_args {
    int64_t id;
    est_pending_status status;
    const char *reason;
    const char *serial;
} pending_update_args;

static est_status pending_update_one(sqlstore *s, void *arg, est_error *err)
{
    const pending_update_args *a = arg;
    sqlite3_stmt *st = s->st[ST_PENDING_UPDATE];
    est_status rc = EST_OK;
    int src;

    if ((src = sqlite3_bind_int64(st, 1, a->id)) != SQLITE_OK ||
        (src = sqlite3_bind_int(st, 2, (int)a->status)) != SQLITE_OK ||
        (src = bind_text(st, 3, a->reason)) != SQLITE_OK ||
        (src = bind_text(st, 4, a->serial)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 5, (int64_t)time(NULL))) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE)
        rc = pending_write_error(s, src, "pending update", a->serial, err);
    sqlstore_done(st);
    if (rc != EST_OK || sqlite3_changes(s->db) == 1)
        return rc;
    st = s->st[ST_PENDING_EXISTS];
    if ((src = sqlite3_bind_int64(st, 1, a->id)) == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        rc = est_error_set(err, EST_E_CONFLICT, "pending update: request %lld is %s",
                           (long long)a->id, sqlite3_column_int(st, 0) == EST_PENDING_REJECTED
                                                 ? "rejected" : "approved already");
    else if (src == SQLITE_DONE)
        rc = est_error_set(err, EST_E_NOT_FOUND, "pending update: no request %lld",
                           (long long)a->id);
    else
        rc = sqlstore_error(s, src, "pending update", err);
    sqlstore_done(st);
    return rc;
}

static est_status pending_update(void *impl, int64_t id, est_pending_status status,
                                 const char *reason, const char *cert_serial, est_error *err)
{
    char serial[STORE_SERIAL_HEX_MAX + 1];
    pending_update_args a = {id, status, reason, NULL};
    est_status rc;

    if (!pending_status_valid(status))
        return est_error_set(err, EST_E_INPUT, "pending update: status %d", (int)status);
    if (cert_serial != NULL) {
        if ((rc = store_serial_normalise(cert_serial, serial, NULL, err)) != EST_OK)
            return rc;
        a.serial = serial;
    }
    return sqlstore_write(impl, "pending update", pending_update_one, &a, err);
}

typedef struct pending_list_ctx {
    est_pending_visit_fn fn;
    void *arg;
} pending_list_ctx;

static int pending_page_bind(sqlite3_stmt *st, const void *last, const void *ctx)
{
    const est_pending_record *l = last;
    int src;

    (void)ctx;
    BIND(sqlite3_bind_int64(st, 1, l != NULL ? l->id : 0));
    return sqlite3_bind_int(st, 2, SQLSTORE_LIST_PAGE);
}

static int pending_visit(const void *row, void *ctx)
{
    const pending_list_ctx *c = ctx;
    return c->fn(row, c->arg);
}

static void pending_free_row(void *row)
{
    est_pending_record_free(row);
}

static const sqlstore_list_kind pending_kind = {ST_PENDING_PAGE, ST_PENDING_PAGE, "pending list",
                                                pending_page_bind, pending_read, pending_visit,
                                                pending_free_row};

static est_status pending_list(void *impl, est_pending_visit_fn fn, void *arg, est_error *err)
{
    pending_list_ctx ctx = {fn, arg};

    if (fn == NULL)
        return est_error_set(err, EST_E_INTERNAL, "pending list: no callback");
    return sqlstore_list(impl, &pending_kind, &ctx, err);
}

/* --- audit events and the CRL number ------------------------------------------ */

/* The fields escaped (store_audit_escape, issue #12); SQLITE_TRANSIENT:
 * the escaped copies live on this stack frame only. */
static int bind_transient(sqlite3_stmt *st, int i, const char *v)
{
    return v != NULL ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static est_status audit_append_one(sqlstore *s, void *arg, est_error *err)
{
    sqlite3_stmt *st = s->st[ST_AUDIT_INSERT];
    const est_audit_event *ev;
    store_audit_text text;
    est_status rc = EST_OK;
    int src;

    store_audit_escape(arg, &text);
    ev = &text.ev;
    if ((src = sqlite3_bind_int64(st, 1, (int64_t)time(NULL))) != SQLITE_OK ||
        (src = bind_transient(st, 2, ev->event)) != SQLITE_OK ||
        (src = bind_transient(st, 3, ev->label)) != SQLITE_OK ||
        (src = bind_transient(st, 4, ev->actor)) != SQLITE_OK ||
        (src = bind_transient(st, 5, ev->subject)) != SQLITE_OK ||
        (src = bind_transient(st, 6, ev->serial)) != SQLITE_OK ||
        (src = bind_transient(st, 7, ev->detail)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 8, ev->count)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE)
        rc = sqlstore_error(s, src, "audit", err);
    sqlstore_done(st);
    return rc;
}

typedef struct audit_prune_args {
    const est_audit_prune *what;
    int64_t removed;
} audit_prune_args;

static est_status audit_prune_step(sqlstore *s, sqlite3_stmt *st, int64_t value,
                                   int64_t *removed, est_error *err)
{
    est_status rc = EST_OK;
    int src;

    if ((src = sqlite3_bind_int64(st, 1, value)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE)
        rc = sqlstore_error(s, src, "audit prune", err);
    else
        *removed += sqlite3_changes(s->db);
    sqlstore_done(st);
    return rc;
}

static est_status audit_prune_one(sqlstore *s, void *arg, est_error *err)
{
    audit_prune_args *a = arg;
    est_status rc = EST_OK;

    a->removed = 0;
    if (a->what->before > 0)
        rc = audit_prune_step(s, s->st[ST_AUDIT_PRUNE_BEFORE], a->what->before, &a->removed, err);
    if (rc == EST_OK && a->what->keep_rows > 0)
        rc = audit_prune_step(s, s->st[ST_AUDIT_PRUNE_KEEP], a->what->keep_rows, &a->removed,
                              err);
    return rc;
}

static est_status audit_prune(void *impl, const est_audit_prune *what, int64_t *removed,
                              est_error *err)
{
    audit_prune_args a = {what, 0};
    est_status rc;

    if (what == NULL)
        return est_error_set(err, EST_E_INTERNAL, "audit prune: NULL argument");
    rc = sqlstore_write(impl, "audit prune", audit_prune_one, &a, err);
    if (removed != NULL)
        *removed = rc == EST_OK ? a.removed : 0;
    return rc;
}

static est_status audit_append(void *impl, const est_audit_event *ev, est_error *err)
{
    if (ev == NULL || ev->event == NULL || ev->event[0] == '\0')
        return est_error_set(err, EST_E_INPUT, "audit: no event name");
    return sqlstore_write(impl, "audit", audit_append_one, (void *)(uintptr_t)ev, err);
}

/* RFC 5280 §5.2.3: CRL numbers increase monotonically. Bumped and read in
 * one transaction, so two CRLs never share a number, across restarts too. */
static est_status crl_number_one(sqlstore *s, void *arg, est_error *err)
{
    long *out = arg;
    sqlite3_stmt *st = s->st[ST_CRL_GET];
    est_status rc = EST_OK;
    int src;

    if ((src = sqlite3_step(s->st[ST_CRL_BUMP])) != SQLITE_DONE)
        rc = sqlstore_error(s, src, "CRL number", err);
    sqlstore_done(s->st[ST_CRL_BUMP]);
    if (rc != EST_OK)
        return rc;
    if ((src = sqlite3_step(st)) == SQLITE_ROW)
        *out = (long)sqlite3_column_int64(st, 0);
    else
        rc = sqlstore_error(s, src, "CRL number", err);
    sqlstore_done(st);
    return rc;
}

static est_status next_crl_number(void *impl, long *out, est_error *err)
{
    if (out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CRL number: NULL argument");
    return sqlstore_write(impl, "CRL number", crl_number_one, out, err);
}

typedef struct cert_audit_args {
    const est_cert_record *rec;
    const est_audit_event *ev;
} cert_audit_args;

static est_status cert_insert_audited_one(sqlstore *s, void *arg, est_error *err)
{
    cert_audit_args *a = arg;
    est_status rc = cert_insert_one(s, (void *)(uintptr_t)a->rec, err);

    return rc != EST_OK ? rc : audit_append_one(s, (void *)(uintptr_t)a->ev, err);
}

static est_status cert_insert_audited(void *impl, const est_cert_record *rec,
                                      const est_audit_event *ev, est_error *err)
{
    cert_audit_args a = {rec, ev};
    est_status rc = store_cert_record_check(rec, err);

    if (rc != EST_OK)
        return rc;
    if (ev == NULL || ev->event == NULL || ev->event[0] == '\0')
        return est_error_set(err, EST_E_INPUT, "certificate insert: incomplete record");
    return sqlstore_write(impl, "certificate insert", cert_insert_audited_one, &a, err);
}

const est_store_ops sqlstore_ops = {
    .name = "sqlite",
    .cert_insert = cert_insert,
    .cert_get = cert_get,
    .cert_list = cert_list,
    .cert_revoke = cert_revoke,
    .user_put = user_put,
    .user_get = user_get,
    .user_delete = user_delete,
    .user_list = user_list,
    .user_unlock = sqlstore_user_unlock,
    .pending_insert = pending_insert,
    .pending_get = pending_get,
    .pending_find = pending_find,
    .pending_update = pending_update,
    .pending_list = pending_list,
    .audit_append = audit_append,
    .audit_prune = audit_prune,
    .next_crl_number = next_crl_number,
    .check = sqlstore_check,
    .close = sqlstore_close,
    .otp_insert = sqlstore_otp_insert,
    .otp_consume = sqlstore_otp_consume,
    .otp_set_serial = sqlstore_otp_set_serial,
    .otp_list = sqlstore_otp_list,
    .cert_insert_audited = cert_insert_audited,
    .nonce_secret = sqlstore_nonce_secret,
};
