/* The PostgreSQL store, part three: one-time enrollment codes (schema 2;
 * the hash is the SQLite store's, store_otp_hash with the store's salt,
 * read once at open: it never changes).
 *
 * Exactly once across nodes: consuming is one UPDATE whose WHERE holds
 * every condition (unused, not expired, the subject) and which RETURNING
 * the row. Two nodes racing on one code both try to lock the row; the
 * second waits for the first to commit, re-evaluates the WHERE on the new
 * row version (READ COMMITTED), finds used_at set and changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store_pg_internal.h"

const char pgstore_otp_find_sql[] = "SELECT " OTP_COLUMNS " FROM otp WHERE code_hash = $1"
                                    " AND label = $2";

static int otp_read(const PGresult *r, int row, void **out)
{
    est_otp_record *o = calloc(1, sizeof *o);

    *out = o;
    if (o == NULL)
        return -1;
    o->id = pgstore_col_int(r, row, OTP_COL_ID);
    o->created_at = pgstore_col_int(r, row, OTP_COL_CREATED_AT);
    o->expires_at = pgstore_col_int(r, row, OTP_COL_EXPIRES_AT);
    o->used_at = pgstore_col_int(r, row, OTP_COL_USED_AT); /* NULL reads as 0 */
    if (pgstore_col_text(r, row, OTP_COL_LABEL, &o->label) != 0 ||
        pgstore_col_text(r, row, OTP_COL_SUBJECT, &o->subject) != 0 ||
        pgstore_col_text(r, row, OTP_COL_USED_SERIAL, &o->used_serial) != 0) {
        est_otp_record_free(o);
        *out = NULL;
        return -1;
    }
    return 0;
}

est_status pgstore_otp_insert(void *impl, est_otp_record *rec, const char *code, est_error *err)
{
    pgstore *s = impl;
    char hash[2 * SHA256_DIGEST_LENGTH + 1];
    int64_t created;
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc;

    if (rec == NULL || rec->expires_at == 0)
        return est_error_set(err, EST_E_INPUT, "one-time code add: no expiry");
    if ((rc = store_otp_code_valid(code, "one-time code add", err)) != EST_OK ||
        (rc = store_otp_hash(s->otp_salt, code, "one-time code add", hash, err)) != EST_OK)
        return rc;
    created = rec->created_at != 0 ? rec->created_at : (int64_t)time(NULL);
    pgstore_text(&p, rec->label != NULL ? rec->label : "");
    pgstore_text(&p, hash);
    pgstore_text(&p, rec->subject);
    pgstore_int(&p, created);
    pgstore_int(&p, rec->expires_at);
    rc = pgstore_run(s, "one-time code add",
                     "INSERT INTO otp (label, code_hash, subject, created_at, expires_at)"
                     " VALUES ($1, $2, $3, $4, $5) RETURNING id", &p, 0, &r, err);
    if (rc == EST_OK) {
        rec->id = pgstore_col_int(r, 0, 0);
        rec->created_at = created;
    } else if (rc == EST_E_CONFLICT) {
        est_error_set(err, EST_E_CONFLICT, "one-time code add: the code exists");
    }
    PQclear(r);
    return rc;
}

/* The code was not consumed: say why (no such code, used, expired, bound
 * to another subject). */
static est_status consume_why_not(pgstore *s, pgstore_params *p, const char *subject,
                                  int64_t now, est_error *err)
{
    void *row = NULL;
    est_status rc;

    p->n = 2; /* code_hash, label */
    rc = pgstore_get_one(s, "one-time code", "such code for this CA", pgstore_otp_find_sql, p,
                         otp_read, &row, err);
    if (rc == EST_OK && (rc = store_otp_usable(row, subject, now, err)) == EST_OK)
        rc = est_error_set(err, EST_E_AUTH, "one-time code %lld: already used",
                           (long long)((est_otp_record *)row)->id);
    est_otp_record_free(row);
    return rc;
}

est_status pgstore_otp_consume(void *impl, const char *label, const char *code,
                               const char *subject, int64_t now, est_otp_record **out,
                               est_error *err)
{
    pgstore *s = impl;
    char hash[2 * SHA256_DIGEST_LENGTH + 1];
    pgstore_params p = {0};
    PGresult *r = NULL;
    void *row = NULL;
    est_status rc;

    if (out != NULL)
        *out = NULL;
    now = now != 0 ? now : (int64_t)time(NULL);
    if ((rc = store_otp_code_valid(code, "one-time code", err)) != EST_OK ||
        (rc = store_otp_hash(s->otp_salt, code, "one-time code", hash, err)) != EST_OK)
        return rc;
    pgstore_text(&p, hash);
    pgstore_text(&p, label != NULL ? label : "");
    pgstore_int(&p, now);
    pgstore_text(&p, subject);
    /* Not retried: after a lost connection the code may be spent or not;
     * the client asks again and is told which. */
    if ((rc = pgstore_run(s, "one-time code",
                          "UPDATE otp SET used_at = $3 WHERE code_hash = $1 AND label = $2"
                          " AND used_at IS NULL AND $3 < expires_at"
                          " AND (subject IS NULL OR subject = $4::text) RETURNING " OTP_COLUMNS,
                          &p, 0, &r, err)) != EST_OK)
        return rc;
    if (PQntuples(r) != 1)
        rc = consume_why_not(s, &p, subject, now, err);
    else if (otp_read(r, 0, &row) != 0)
        rc = est_error_set(err, EST_E_NOMEM, "one-time code: out of memory");
    PQclear(r);
    if (rc == EST_OK && out != NULL) {
        *out = row;
        row = NULL;
    }
    est_otp_record_free(row);
    return rc;
}

est_status pgstore_otp_set_serial(void *impl, int64_t id, const char *serial, est_error *err)
{
    char key[STORE_SERIAL_HEX_MAX + 1];
    pgstore_params p = {0};
    PGresult *r = NULL;
    est_status rc = store_serial_normalise(serial, key, "one-time code serial", err);

    if (rc != EST_OK)
        return rc;
    pgstore_int(&p, id);
    pgstore_text(&p, key);
    rc = pgstore_run(impl, "one-time code serial",
                     "UPDATE otp SET used_serial = $2 WHERE id = $1 AND used_at IS NOT NULL", &p,
                     1, &r, err);
    if (rc == EST_E_NOT_FOUND)
        return est_error_set(err, EST_E_NOT_FOUND,
                             "one-time code serial: no certificate with serial %s", key);
    if (rc == EST_OK && strtol(PQcmdTuples(r), NULL, 10) == 0)
        rc = est_error_set(err, EST_E_NOT_FOUND, "one-time code serial: no used code %lld",
                           (long long)id);
    PQclear(r);
    return rc;
}

typedef struct otp_list_ctx {
    est_otp_visit_fn fn;
    void *arg;
} otp_list_ctx;

static void otp_page_bind(pgstore_params *p, const void *last, const void *ctx)
{
    (void)ctx;
    pgstore_int(p, last != NULL ? ((const est_otp_record *)last)->id : 0);
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

const char pgstore_otp_page_sql[] = "SELECT " OTP_COLUMNS " FROM otp WHERE id > $1"
                                    " ORDER BY id LIMIT $2";
static const pgstore_list_kind otp_kind = {pgstore_otp_page_sql, pgstore_otp_page_sql,
                                           "one-time code list",
                                           otp_page_bind, otp_read, otp_visit, otp_free_row};

est_status pgstore_otp_list(void *impl, est_otp_visit_fn fn, void *arg, est_error *err)
{
    otp_list_ctx ctx = {fn, arg};

    if (fn == NULL)
        return est_error_set(err, EST_E_INTERNAL, "one-time code list: no callback");
    return pgstore_list(impl, &otp_kind, &ctx, err);
}
