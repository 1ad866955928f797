/* Copying a whole store between backends (`estd store copy`, issue #16):
 * SQLite to PostgreSQL when a site grows to several nodes, and back.
 *
 * Every table is copied row by row with its own keys (request and code ids
 * are told to clients and appear in audit lines), in the order the foreign
 * keys need, in one transaction on the destination: a failed copy leaves
 * it as empty as it was. meta goes too (the one-time code salt without
 * which no stored code matches, the CRL number that must keep growing, the
 * Digest nonce secret), except the destination's own schema version.
 *
 * Checked, not trusted: each side is read back through the same code,
 * every value fed to SHA-256 with its kind and length; the copy stands
 * only when the row counts and both digests agree.
 *
 * This file reaches past the store seam on purpose: the seam hands out
 * records (no audit rows, no code hashes), a copy needs the rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <openssl/evp.h>
#include "estkit/store.h"
#include "store_internal.h"

/* Rows a PostgreSQL source hands over per FETCH: bounded memory. */
#define COPY_FETCH_ROWS 1000
#define COPY_COLUMNS_MAX 16

/* A table, its columns (t text, i integer, b bytes), its key order. */
typedef struct copy_table {
    const char *name, *columns, *types, *order, *where;
} copy_table;

/* Parents before children: pending and otp refer to certs. */
static const copy_table tables[] = {
    {"certs", CERT_COLUMNS, "ttttiiiiiittttb", "serial", ""},
    {"users", USER_SELECT_COLUMNS, "ttttti" "ttt" "i", "name", ""},
    {"pending", PENDING_COLUMNS, "ittttttittiib", "id", ""},
    {"otp", "id, label, code_hash, subject, created_at, expires_at, used_at, used_serial",
     "itttiiit", "id", ""},
    {"audit", "id, at, event, label, actor, subject, serial, detail", "iitttttt", "id", ""},
    {"meta", "key, value", "tt", "key", " WHERE key <> 'schema_version'"},
};
#define TABLES (sizeof tables / sizeof tables[0])

/* One end of the copy: a raw connection to either backend. */
typedef struct copy_end {
    const char *spec;
    sqlite3 *db;
    PGconn *pg;
} copy_end;

/* One row: each value NULL or bytes (integers as decimal text). */
typedef struct copy_row {
    int n;
    const char *v[COPY_COLUMNS_MAX];
    size_t len[COPY_COLUMNS_MAX];
} copy_row;

static int kind(const copy_table *t, int col)
{
    return t->types[col];
}

/* The first line of a database's message: errors are one line. */
static const char *first_line(const char *msg, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", msg != NULL ? msg : "");
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static est_status end_error(const copy_end *e, const char *op, est_error *err)
{
    char line[160];

    return est_error_set(err, EST_E_STORE, "store copy: %s: %.60s: %s", e->spec, op,
                         first_line(e->pg != NULL ? PQerrorMessage(e->pg) : sqlite3_errmsg(e->db),
                                    line, sizeof line));
}

static est_status end_exec(const copy_end *e, const char *sql, est_error *err)
{
    if (e->pg != NULL) {
        PGresult *r = PQexec(e->pg, sql);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        return ok ? EST_OK : end_error(e, sql, err);
    }
    return sqlite3_exec(e->db, sql, NULL, NULL, NULL) == SQLITE_OK ? EST_OK
                                                                  : end_error(e, sql, err);
}

/* The schema is made (or checked, migrated) through the store itself;
 * then a raw connection for the rows. */
static est_status end_open(copy_end *e, const char *spec, int create, est_error *err)
{
    est_store *store = NULL;
    est_status rc = est_store_open(spec, create, NULL, &store, err);

    e->spec = spec;
    est_store_close(store);
    if (rc != EST_OK)
        return rc;
    if (est_store_spec_is_pg(spec)) {
        const char *keys[] = {"dbname", NULL}, *values[] = {spec, NULL};
        e->pg = PQconnectdbParams(keys, values, 1);
        if (PQstatus(e->pg) != CONNECTION_OK) {
            char line[160];
            return est_error_set(err, EST_E_UNAVAILABLE, "store copy: %s: %s", spec,
                                 first_line(PQerrorMessage(e->pg), line, sizeof line));
        }
        return EST_OK;
    }
    if (sqlite3_open_v2(spec, &e->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return end_error(e, "open", err);
    sqlite3_busy_timeout(e->db, 5000);
    return end_exec(e, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", err);
}

static void end_close(copy_end *e)
{
    PQfinish(e->pg);
    sqlite3_close(e->db);
}

/* --- reading ------------------------------------------------------------------ */

typedef est_status (*row_fn)(const copy_table *t, const copy_row *row, void *arg,
                             est_error *err);

static est_status sqlite_rows(const copy_end *e, const copy_table *t, row_fn fn, void *arg,
                              est_error *err)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    est_status rc = EST_OK;
    int src;

    snprintf(sql, sizeof sql, "SELECT %s FROM %s%s ORDER BY %s", t->columns, t->name, t->where,
             t->order);
    if (sqlite3_prepare_v2(e->db, sql, -1, &st, NULL) != SQLITE_OK)
        return end_error(e, sql, err);
    while (rc == EST_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        copy_row row = {.n = sqlite3_column_count(st)};
        for (int c = 0; c < row.n; c++) {
            row.v[c] = kind(t, c) == 'b' ? sqlite3_column_blob(st, c)
                                         : (const char *)sqlite3_column_text(st, c);
            row.len[c] = (size_t)sqlite3_column_bytes(st, c);
            if (sqlite3_column_type(st, c) == SQLITE_NULL)
                row.v[c] = NULL;
            else if (row.v[c] == NULL)
                row.v[c] = ""; /* an empty blob */
        }
        rc = fn(t, &row, arg, err);
    }
    if (rc == EST_OK && src != SQLITE_DONE)
        rc = end_error(e, sql, err);
    sqlite3_finalize(st);
    return rc;
}

/* One FETCH's rows to fn; bytea values unescaped. */
static est_status pg_batch(const copy_table *t, PGresult *r, row_fn fn, void *arg,
                           est_error *err)
{
    est_status rc = EST_OK;

    for (int i = 0; rc == EST_OK && i < PQntuples(r); i++) {
        copy_row row = {.n = PQnfields(r)};
        unsigned char *raw[COPY_COLUMNS_MAX] = {0};
        for (int c = 0; c < row.n; c++) {
            if (PQgetisnull(r, i, c))
                continue;
            row.v[c] = PQgetvalue(r, i, c);
            row.len[c] = (size_t)PQgetlength(r, i, c);
            if (kind(t, c) == 'b' &&
                (raw[c] = PQunescapeBytea((const unsigned char *)row.v[c], &row.len[c])) != NULL)
                row.v[c] = (const char *)raw[c];
        }
        rc = fn(t, &row, arg, err);
        for (int c = 0; c < row.n; c++)
            PQfreemem(raw[c]);
    }
    return rc;
}

static est_status pg_rows(const copy_end *e, const copy_table *t, row_fn fn, void *arg,
                          est_error *err)
{
    char sql[512];
    est_status rc;
    int n;

    snprintf(sql, sizeof sql, "BEGIN; DECLARE copy_rows NO SCROLL CURSOR FOR SELECT %s FROM %s%s"
             " ORDER BY %s", t->columns, t->name, t->where, t->order);
    if ((rc = end_exec(e, sql, err)) != EST_OK)
        return rc;
    snprintf(sql, sizeof sql, "FETCH %d FROM copy_rows", COPY_FETCH_ROWS);
    do {
        PGresult *r = PQexec(e->pg, sql);
        n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
        rc = n < 0 ? end_error(e, "FETCH", err) : pg_batch(t, r, fn, arg, err);
        PQclear(r);
    } while (rc == EST_OK && n == COPY_FETCH_ROWS);
    (void)end_exec(e, rc == EST_OK ? "COMMIT" : "ROLLBACK", NULL);
    return rc;
}

static est_status end_rows(const copy_end *e, const copy_table *t, row_fn fn, void *arg,
                           est_error *err)
{
    return e->pg != NULL ? pg_rows(e, t, fn, arg, err) : sqlite_rows(e, t, fn, arg, err);
}

/* --- digest and counts ------------------------------------------------------------ */

typedef struct tally {
    EVP_MD_CTX *md;
    uint64_t rows[TABLES];
    size_t table;
} tally;

static est_status tally_row(const copy_table *t, const copy_row *row, void *arg, est_error *err)
{
    tally *y = arg;

    for (int c = 0; c < row->n; c++) {
        /* kind, NULL or not, length, bytes: no two rows hash alike by
         * shifting bytes between fields. */
        unsigned char head[10] = {(unsigned char)kind(t, c), row->v[c] != NULL};
        uint64_t len = row->v[c] != NULL ? row->len[c] : 0;
        for (int k = 0; k < 8; k++)
            head[2 + k] = (unsigned char)(len >> (8 * k));
        if (!EVP_DigestUpdate(y->md, head, sizeof head) ||
            (len > 0 && !EVP_DigestUpdate(y->md, row->v[c], (size_t)len)))
            return est_error_set(err, EST_E_INTERNAL, "store copy: SHA-256");
    }
    y->rows[y->table]++;
    return EST_OK;
}

/* Every table of e through tally_row; digest in hex. */
static est_status summarise(const copy_end *e, uint64_t rows[TABLES], char hex[65],
                            est_error *err)
{
    tally y = {EVP_MD_CTX_new(), {0}, 0};
    _Static_assert(TABLES == EST_STORE_COPY_TABLES, "one count per table");
    unsigned char md[32];
    unsigned int md_len = 0;
    est_status rc = EST_OK;

    if (y.md == NULL || !EVP_DigestInit_ex(y.md, EVP_sha256(), NULL))
        rc = est_error_set(err, EST_E_NOMEM, "store copy: SHA-256");
    for (y.table = 0; rc == EST_OK && y.table < TABLES; y.table++)
        rc = end_rows(e, &tables[y.table], tally_row, &y, err);
    if (rc == EST_OK && (!EVP_DigestFinal_ex(y.md, md, &md_len) || md_len != 32))
        rc = est_error_set(err, EST_E_INTERNAL, "store copy: SHA-256");
    for (unsigned i = 0; rc == EST_OK && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    memcpy(rows, y.rows, sizeof y.rows);
    EVP_MD_CTX_free(y.md);
    return rc;
}

/* --- writing -------------------------------------------------------------------------- */

static est_status insert_row(const copy_table *t, const copy_row *row, void *arg, est_error *err)
{
    const copy_end *to = arg;
    char sql[768], *p = sql;
    sqlite3_stmt *st = NULL;
    int src;

    /* meta rows replace what creating the destination wrote (salt,
     * secret): the source's codes and nonces must keep working. */
    p += snprintf(sql, sizeof sql, "INSERT INTO %s (%s) VALUES (", t->name, t->columns);
    for (int c = 0; c < row->n; c++)
        p += snprintf(p, sizeof sql - (size_t)(p - sql), to->pg != NULL ? "%s$%d" : "%s?%d",
                      c ? ", " : "", c + 1);
    snprintf(p, sizeof sql - (size_t)(p - sql), ")%s",
             strcmp(t->name, "meta") == 0 ? " ON CONFLICT (key) DO UPDATE SET value ="
                                            " excluded.value" : "");
    if (to->pg != NULL) {
        int formats[COPY_COLUMNS_MAX], lengths[COPY_COLUMNS_MAX];
        PGresult *r;
        int ok;
        for (int c = 0; c < row->n; c++) {
            formats[c] = kind(t, c) == 'b';
            lengths[c] = (int)row->len[c];
        }
        r = PQexecParams(to->pg, sql, row->n, NULL, row->v, lengths, formats, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        return ok ? EST_OK : end_error(to, t->name, err);
    }
    src = sqlite3_prepare_v2(to->db, sql, -1, &st, NULL);
    for (int c = 0; src == SQLITE_OK && c < row->n; c++) {
        if (row->v[c] == NULL)
            src = sqlite3_bind_null(st, c + 1);
        else if (kind(t, c) == 'b')
            src = sqlite3_bind_blob64(st, c + 1, row->v[c], row->len[c], SQLITE_STATIC);
        else if (kind(t, c) == 'i')
            src = sqlite3_bind_int64(st, c + 1, strtoll(row->v[c], NULL, 10));
        else
            src = sqlite3_bind_text(st, c + 1, row->v[c], (int)row->len[c], SQLITE_STATIC);
    }
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? EST_OK : end_error(to, t->name, err);
}

/* The destination holds no rows yet (its meta aside). */
static est_status empty_check(const copy_end *to, est_error *err)
{
    uint64_t rows[TABLES];
    char hex[65];
    est_status rc = summarise(to, rows, hex, err);

    for (size_t i = 0; rc == EST_OK && i + 1 < TABLES; i++)
        if (rows[i] != 0)
            rc = est_error_set(err, EST_E_CONFLICT, "store copy: %s already holds %s; copy "
                               "into an empty store only", to->spec, tables[i].name);
    return rc;
}

/* BIGSERIAL sequences continue after the copied ids (SQLite's
 * AUTOINCREMENT follows inserted ids by itself). */
static const char pg_sequences[] =
    "SELECT setval(pg_get_serial_sequence('pending', 'id'), coalesce(max(id), 0) + 1, false)"
    " FROM pending;"
    "SELECT setval(pg_get_serial_sequence('otp', 'id'), coalesce(max(id), 0) + 1, false) FROM otp;"
    "SELECT setval(pg_get_serial_sequence('audit', 'id'), coalesce(max(id), 0) + 1, false)"
    " FROM audit;";

static est_status copy_all(const copy_end *from, const copy_end *to, est_error *err)
{
    est_status rc = end_exec(to, to->pg != NULL ? "BEGIN" : "BEGIN IMMEDIATE", err);

    for (size_t i = 0; rc == EST_OK && i < TABLES; i++)
        rc = end_rows(from, &tables[i], insert_row, (void *)(uintptr_t)to, err);
    if (rc == EST_OK && to->pg != NULL)
        rc = end_exec(to, pg_sequences, err);
    if (rc == EST_OK)
        return end_exec(to, "COMMIT", err);
    (void)end_exec(to, "ROLLBACK", NULL);
    return rc;
}

est_status est_store_copy(const char *from_spec, const char *to_spec, est_store_copy_report *out,
                          est_error *err)
{
    copy_end from = {0}, to = {0};
    uint64_t copied[TABLES];
    est_status rc;

    memset(out, 0, sizeof *out);
    if ((rc = end_open(&from, from_spec, 0, err)) != EST_OK ||
        (rc = end_open(&to, to_spec, 1, err)) != EST_OK || (rc = empty_check(&to, err)) != EST_OK ||
        (rc = copy_all(&from, &to, err)) != EST_OK ||
        (rc = summarise(&from, out->rows, out->sha256, err)) != EST_OK ||
        (rc = summarise(&to, copied, out->copy_sha256, err)) != EST_OK)
        goto out;
    if (memcmp(out->rows, copied, sizeof copied) != 0 ||
        strcmp(out->sha256, out->copy_sha256) != 0)
        rc = est_error_set(err, EST_E_STORE, "store copy: the copy differs from %s (digest %.16s "
                           "vs %.16s)", from_spec, out->sha256, out->copy_sha256);
out:
    end_close(&from);
    end_close(&to);
    return rc;
}

const char *est_store_copy_table(size_t i)
{
    return i < TABLES ? tables[i].name : NULL;
}
