/* The default store, part three: one-time enrollment codes (schema version
 * 2; challenge_password = one-time-code), and the store's other secret, the
 * Digest nonce key (schema 3). The table and SQL are in
 * store_sqlite.c, whose schema_v2 comment says why a code is kept as
 * SHA-256(store salt || code). Consuming a code is one write transaction:
 * look it up, check it, mark it used; two requests racing with the same
 * code cannot both get it (BEGIN IMMEDIATE serialises them, and the UPDATE
 * only takes a row still unused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include "store_internal.h"
#include "store_sqlite_internal.h"


static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v != NULL ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
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

/* Lowercase hex SHA-256(salt || code), with the store's salt. Inside a
 * transaction (lock held). */
static est_status code_hash(sqlstore *s, const char *code, const char *op,
                            char out[2 * SHA256_DIGEST_LENGTH + 1], est_error *err)
{
    sqlite3_stmt *st = s->st[ST_OTP_SALT];
    int src = sqlite3_step(st);
    est_status rc;

    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = sqlstore_error(s, src, op, err);
    else
        rc = store_otp_hash(src == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL,
                            code, op, out, err);
    sqlstore_done(st);
    return rc;
}

static int otp_read(sqlite3_stmt *st, void **row)
{
    est_otp_record *r = calloc(1, sizeof *r);

    *row = r;
    if (r == NULL)
        return -1;
    r->id = sqlite3_column_int64(st, OTP_COL_ID);
    r->created_at = sqlite3_column_int64(st, OTP_COL_CREATED_AT);
    r->expires_at = sqlite3_column_int64(st, OTP_COL_EXPIRES_AT);
    r->used_at = sqlite3_column_int64(st, OTP_COL_USED_AT); /* NULL reads as 0 */
    if (column_text(st, OTP_COL_LABEL, &r->label) != 0 ||
        column_text(st, OTP_COL_SUBJECT, &r->subject) != 0 ||
        column_text(st, OTP_COL_USED_SERIAL, &r->used_serial) != 0) {
        est_otp_record_free(r);
        *row = NULL;
        return -1;
    }
    return 0;
}

/* --- insert ------------------------------------------------------------------ */

typedef struct otp_insert_args {
    est_otp_record *rec;
    const char *code;
} otp_insert_args;

static est_status otp_insert_one(sqlstore *s, void *arg, est_error *err)
{
    otp_insert_args *a = arg;
    sqlite3_stmt *st = s->st[ST_OTP_INSERT];
    char hash[2 * SHA256_DIGEST_LENGTH + 1];
    int64_t created = a->rec->created_at != 0 ? a->rec->created_at : (int64_t)time(NULL);
    est_status rc;
    int src;

    if ((rc = code_hash(s, a->code, "one-time code add", hash, err)) != EST_OK)
        return rc;
    if ((src = bind_text(st, 1, a->rec->label != NULL ? a->rec->label : "")) != SQLITE_OK ||
        (src = bind_text(st, 2, hash)) != SQLITE_OK ||
        (src = bind_text(st, 3, a->rec->subject)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 4, created)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 5, a->rec->expires_at)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE) {
        if (src == SQLITE_CONSTRAINT_UNIQUE)
            rc = est_error_set(err, EST_E_CONFLICT, "one-time code add: the code exists");
        else
            rc = sqlstore_error(s, src, "one-time code add", err);
    } else {
        a->rec->id = sqlite3_last_insert_rowid(s->db);
        a->rec->created_at = created;
    }
    sqlstore_done(st);
    return rc;
}

est_status sqlstore_otp_insert(void *impl, est_otp_record *rec, const char *code,
                               est_error *err)
{
    otp_insert_args a = {rec, code};
    est_status rc;

    if (rec == NULL || rec->expires_at == 0)
        return est_error_set(err, EST_E_INPUT, "one-time code add: no expiry");
    if ((rc = store_otp_code_valid(code, "one-time code add", err)) != EST_OK)
        return rc;
    return sqlstore_write(impl, "one-time code add", otp_insert_one, &a, err);
}

/* --- consume ------------------------------------------------------------------ */

typedef struct otp_consume_args {
    const char *label;
    const char *code;
    const char *subject;
    int64_t now;
    est_otp_record *row;
} otp_consume_args;

static est_status otp_consume_one(sqlstore *s, void *arg, est_error *err)
{
    otp_consume_args *a = arg;
    sqlite3_stmt *st = s->st[ST_OTP_USE];
    char hash[2 * SHA256_DIGEST_LENGTH + 1];
    void *row = NULL;
    est_status rc;
    int src;

    if ((rc = code_hash(s, a->code, "one-time code", hash, err)) != EST_OK)
        return rc;
    if ((src = bind_text(s->st[ST_OTP_FIND], 1, hash)) != SQLITE_OK ||
        (src = bind_text(s->st[ST_OTP_FIND], 2, a->label)) != SQLITE_OK) {
        rc = sqlstore_error(s, src, "one-time code", err);
        sqlstore_done(s->st[ST_OTP_FIND]);
        return rc;
    }
    rc = sqlstore_get_one(s->st[ST_OTP_FIND], "one-time code", "such code for this CA", otp_read,
                          &row, err);
    a->row = row;
    if (rc != EST_OK || (rc = store_otp_usable(a->row, a->subject, a->now, err)) != EST_OK)
        return rc;
    if ((src = sqlite3_bind_int64(st, 1, a->row->id)) != SQLITE_OK ||
        (src = sqlite3_bind_int64(st, 2, a->now)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE)
        rc = sqlstore_error(s, src, "one-time code", err);
    else if (sqlite3_changes(s->db) != 1) /* cannot happen under BEGIN IMMEDIATE */
        rc = est_error_set(err, EST_E_AUTH, "one-time code %lld: already used",
                           (long long)a->row->id);
    else
        a->row->used_at = a->now;
    sqlstore_done(st);
    return rc;
}

est_status sqlstore_otp_consume(void *impl, const char *label, const char *code,
                                const char *subject, int64_t now, est_otp_record **out,
                                est_error *err)
{
    otp_consume_args a = {label != NULL ? label : "", code, subject,
                          now != 0 ? now : (int64_t)time(NULL), NULL};
    est_status rc;

    if (out != NULL)
        *out = NULL;
    if ((rc = store_otp_code_valid(code, "one-time code", err)) != EST_OK)
        return rc;
    rc = sqlstore_write(impl, "one-time code", otp_consume_one, &a, err);
    if (rc == EST_OK && out != NULL) {
        *out = a.row;
        a.row = NULL;
    }
    est_otp_record_free(a.row);
    return rc;
}

/* --- serial, list ------------------------------------------------------------- */

typedef struct otp_serial_args {
    int64_t id;
    const char *serial;
} otp_serial_args;

static est_status otp_serial_one(sqlstore *s, void *arg, est_error *err)
{
    const otp_serial_args *a = arg;
    sqlite3_stmt *st = s->st[ST_OTP_SERIAL];
    est_status rc = EST_OK;
    int src;

    if ((src = sqlite3_bind_int64(st, 1, a->id)) != SQLITE_OK ||
        (src = bind_text(st, 2, a->serial)) != SQLITE_OK ||
        (src = sqlite3_step(st)) != SQLITE_DONE) {
        if (src == SQLITE_CONSTRAINT_FOREIGNKEY)
            rc = est_error_set(err, EST_E_NOT_FOUND,
                               "one-time code serial: no certificate with serial %s", a->serial);
        else
            rc = sqlstore_error(s, src, "one-time code serial", err);
    } else if (sqlite3_changes(s->db) == 0) {
        rc = est_error_set(err, EST_E_NOT_FOUND, "one-time code serial: no used code %lld",
                           (long long)a->id);
    }
    sqlstore_done(st);
    return rc;
}

est_status sqlstore_otp_set_serial(void *impl, int64_t id, const char *serial, est_error *err)
{
    char key[STORE_SERIAL_HEX_MAX + 1];
    otp_serial_args a = {id, key};
    est_status rc = store_serial_normalise(serial, key, "one-time code serial", err);

    if (rc != EST_OK)
        return rc;
    return sqlstore_write(impl, "one-time code serial", otp_serial_one, &a, err);
}

typedef struct otp_list_ctx {
    est_otp_visit_fn fn;
    void *arg;
} otp_list_ctx;

static int otp_page_bind(sqlite3_stmt *st, const void *last, const void *ctx)
{
    const est_otp_record *l = last;
    int src;

    (void)ctx;
    if ((src = sqlite3_bind_int64(st, 1, l != NULL ? l->id : 0)) != SQLITE_OK)
        return src;
    return sqlite3_bind_int(st, 2, SQLSTORE_LIST_PAGE);
}

static int otp_visit(const void *row, void *ctx)
{
    const otp_list_ctx *c = ctx;
    return c->fn(row, c->arg);
}

static void otp_free_row(void *row)
{
    est_otp_record_free(row);
}

static const sqlstore_list_kind otp_kind = {ST_OTP_PAGE, ST_OTP_PAGE, "one-time code list",
                                            otp_page_bind,
                                            otp_read, otp_visit, otp_free_row};

est_status sqlstore_otp_list(void *impl, est_otp_visit_fn fn, void *arg, est_error *err)
{
    otp_list_ctx ctx = {fn, arg};

    if (fn == NULL)
        return est_error_set(err, EST_E_INTERNAL, "one-time code list: no callback");
    return sqlstore_list(impl, &otp_kind, &ctx, err);
}

/* --- the Digest nonce secret ---------------------------------------------------- */

/* 32 random bytes as hex (schema_v3); len of them to out. */
est_status sqlstore_nonce_secret(void *impl, uint8_t *out, size_t len, est_error *err)
{
    sqlstore *s = impl;
    sqlite3_stmt *st = sqlstore_lookup_begin(s, ST_NONCE_SECRET);
    unsigned char buf[64];
    size_t n = 0;
    est_status rc = EST_OK;
    int src = sqlstore_step(st);
    const unsigned char *hex = src == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;

    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = sqlstore_error(s, src, "nonce secret", err);
    else if (hex == NULL || len > sizeof buf ||
             !OPENSSL_hexstr2buf_ex(buf, sizeof buf, &n, (const char *)hex, '\0') || n < len)
        rc = est_error_set(err, EST_E_STORE, "nonce secret: missing or short in the store");
    else
        memcpy(out, buf, len);
    ERR_clear_error();
    OPENSSL_cleanse(buf, sizeof buf);
    sqlstore_lookup_end(s, st);
    return rc;
}
