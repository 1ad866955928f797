/* Internals of the PostgreSQL store, shared by its files: store_pg.c (the
 * connection pool, schema and migrations, running statements, errors,
 * paging, opening and closing), store_pg_rows.c (certificates, users,
 * pending requests, audit, CRL number, the ops table) and store_pg_otp.c
 * (one-time enrollment codes). */
#ifndef ESTKIT_STORE_PG_INTERNAL_H
#define ESTKIT_STORE_PG_INTERNAL_H

#include <pthread.h>
#include <libpq-fe.h>
#include "estkit/store.h"
#include "store_internal.h"

/* Rows a listing reads per statement (keyset paging, as the SQLite store). */
#define PGSTORE_LIST_PAGE 256
/* Parameters of the widest statement (a certificate insert with its audit). */
#define PGSTORE_PARAMS_MAX 24
/* A bound integer as text: sign and 19 digits. */
#define PGSTORE_INT_TEXT 24

typedef struct pgstore {
    char *conninfo;
    pthread_mutex_t lock; /* guards conns, used, open */
    pthread_cond_t freed;
    unsigned size;        /* connections at most (est_store_pg_options.connections) */
    PGconn **conns;       /* NULL: not connected (yet, or since a failure) */
    unsigned char *used;
    unsigned wait_seconds;
    char otp_salt[STORE_OTP_SALT_HEX_MAX + 1];
} pgstore;

/* The values of one statement; text except where a length is given
 * (bytea, sent in binary). */
typedef struct pgstore_params {
    int n;
    const char *values[PGSTORE_PARAMS_MAX];
    int lengths[PGSTORE_PARAMS_MAX];
    int formats[PGSTORE_PARAMS_MAX];
    char ints[PGSTORE_PARAMS_MAX][PGSTORE_INT_TEXT];
} pgstore_params;

void pgstore_text(pgstore_params *p, const char *v); /* NULL = SQL NULL */
void pgstore_int(pgstore_params *p, int64_t v);
void pgstore_blob(pgstore_params *p, const uint8_t *v, size_t len);

/* Runs sql with p on a pooled connection. On success *res (may be NULL to
 * discard it) holds the result, to PQclear. Errors: EST_E_CONFLICT on a
 * unique violation, EST_E_NOT_FOUND on a foreign key violation (the
 * message names op), EST_E_UNAVAILABLE when the server cannot be reached
 * or the connection broke (a statement may then have committed or not;
 * the caller never reports success), EST_E_STORE otherwise. idempotent: a
 * statement safe to run twice is retried once on a fresh connection when
 * the pooled one turns out dead (the server restarted). */
est_status pgstore_run(pgstore *s, const char *op, const char *sql, const pgstore_params *p,
                       int idempotent, PGresult **res, est_error *err);

/* Text of a column (NULL when SQL NULL); copies; -1 when out of memory. */
int pgstore_col_text(const PGresult *r, int row, int col, char **out);
int64_t pgstore_col_int(const PGresult *r, int row, int col);
int pgstore_col_fixed(const PGresult *r, int row, int col, char *out, size_t cap);
int pgstore_col_blob(const PGresult *r, int row, int col, uint8_t **out, size_t *len);

/* One kind of row to list: first and next page SQL; how to bind the
 * position after last (NULL: first page) and the filters; read row i of a
 * result into a new record; visit (non-zero stops); free. The LIMIT is
 * the last parameter, PGSTORE_LIST_PAGE. */
typedef struct pgstore_list_kind {
    const char *first_sql, *next_sql, *op;
    void (*bind)(pgstore_params *p, const void *last, const void *ctx);
    int (*read)(const PGresult *r, int row, void **out);
    int (*visit)(const void *row, void *ctx);
    void (*free_row)(void *row);
} pgstore_list_kind;

est_status pgstore_list(pgstore *s, const pgstore_list_kind *k, void *ctx, est_error *err);

/* A lookup expected to return at most one row, read into *out;
 * EST_E_NOT_FOUND "op: no what" when there is none. */
est_status pgstore_get_one(pgstore *s, const char *op, const char *what, const char *sql,
                           const pgstore_params *p, int (*read)(const PGresult *, int, void **),
                           void **out, est_error *err);

extern const est_store_ops pgstore_ops;
/* Every statement that looks up by key or pages: each must read an index
 * (tests/unit/lib/store_pg.c checks their plans). */
extern const char *const pgstore_read_sql[];
extern const size_t pgstore_read_sql_count;
extern const char pgstore_otp_find_sql[], pgstore_otp_page_sql[];
est_status pgstore_check(void *impl, est_error *err);
void pgstore_close(void *impl);
est_status pgstore_nonce_secret(void *impl, uint8_t *out, size_t len, est_error *err);

/* store_pg_otp.c */
est_status pgstore_otp_insert(void *impl, est_otp_record *rec, const char *code, est_error *err);
est_status pgstore_otp_consume(void *impl, const char *label, const char *code,
                               const char *subject, int64_t now, est_otp_record **out,
                               est_error *err);
est_status pgstore_otp_set_serial(void *impl, int64_t id, const char *serial, est_error *err);
est_status pgstore_otp_list(void *impl, est_otp_visit_fn fn, void *arg, est_error *err);

#endif
