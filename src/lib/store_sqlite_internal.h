/* Internals of the SQLite store, shared by its two files:
 * store_sqlite.c (the connection: schema, migrations, every statement's SQL,
 * locking, transactions, errors, paging), store_sqlite_rows.c (the
 * operations on certificates, users, pending requests, audit events, the
 * CRL number, and the ops table), store_sqlite_otp.c (one-time
 * enrollment codes) and store_sqlite_user_auth.c (the operator's unlock). */
#ifndef ESTKIT_STORE_SQLITE_INTERNAL_H
#define ESTKIT_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include "estkit/store.h"
#include "store_internal.h"

/* Lists read this many rows per lock hold: bounded memory for any number
 * of rows, and issuance is never stalled behind a long listing. */
#define SQLSTORE_LIST_PAGE 64

/* Every prepared statement; the SQL is in store_sqlite.c, beside the
 * schema it must agree with. */
enum sqlstore_stmt {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO, ST_CHECK,
    ST_CERT_INSERT, ST_CERT_GET, ST_CERT_FIRST, ST_CERT_NEXT, ST_CERT_REVOKE, ST_CERT_STATUS,
    ST_USER_INSERT, ST_USER_UPSERT, ST_USER_GET, ST_USER_DELETE, ST_USER_PAGE, ST_USER_UNLOCK,
    ST_PENDING_INSERT, ST_PENDING_GET, ST_PENDING_FIND, ST_PENDING_UPDATE, ST_PENDING_EXISTS, ST_PENDING_PAGE,
    ST_AUDIT_INSERT, ST_AUDIT_PRUNE_BEFORE, ST_AUDIT_PRUNE_KEEP, ST_CRL_BUMP, ST_CRL_GET,
    ST_OTP_SALT, ST_NONCE_SECRET, ST_OTP_INSERT, ST_OTP_FIND, ST_OTP_USE, ST_OTP_SERIAL, ST_OTP_PAGE,
    ST_COUNT
};

/* Writes committed together at most: bounds the time a writer waits for
 * the others of its group and the work lost when the group's COMMIT fails. */
#define SQLSTORE_GROUP_MAX 64

/* One caller's write waiting in the group commit queue (sqlstore_write). */
typedef struct sqlstore_job sqlstore_job;

typedef struct sqlstore {
    pthread_mutex_t lock; /* guards db and every statement */
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    /* Point lookups (a certificate's revocation, a user) use a second
     * connection: under WAL it reads the last commit while the writer is
     * in its fsync, instead of every request queueing behind it. */
    pthread_mutex_t rlock; /* guards rdb and every rst */
    sqlite3 *rdb;
    sqlite3_stmt *rst[ST_COUNT];
    /* Group commit: writers queue here; one of them at a time (leading)
     * commits the queue's head, then wakes the others through done. */
    pthread_mutex_t qlock; /* guards the queue and every queued job */
    pthread_cond_t done;
    sqlstore_job *head, *tail;
    int leading;
} sqlstore;

extern const est_store_ops sqlstore_ops;

/* sqlite3_step, waiting again while another process holds the lock. */
int sqlstore_step(sqlite3_stmt *st);
/* Resets a statement and clears its bindings. */
void sqlstore_done(sqlite3_stmt *st);
/* The est_error for a failed SQLite call (src): names op and carries
 * sqlite3_errmsg. Lock held, statement not yet reset. */
est_status sqlstore_error(sqlstore *s, int src, const char *op, est_error *err);

/* Runs fn in a write transaction under the lock, possibly together with
 * other threads' writes (group commit, each under its own SAVEPOINT);
 * EST_OK = committed and fsynced. fn returns EST_OK or the error to report
 * (then only its own changes are rolled back). fn must not use the store
 * (it runs under the lock, maybe in another thread) and must leave every
 * statement reset. */
typedef est_status (*sqlstore_write_fn)(sqlstore *s, void *arg, est_error *err);
est_status sqlstore_write(sqlstore *s, const char *op, sqlstore_write_fn fn, void *arg,
                          est_error *err);

/* Reads a row of a statement into a new record (*row); -1 when out of
 * memory. */
typedef int (*sqlstore_read_fn)(sqlite3_stmt *st, void **row);
/* Steps a bound statement expected to return at most one row and reads it;
 * EST_E_NOT_FOUND "op: no what" when there is none. Its connection's lock
 * held. */
est_status sqlstore_get_one(sqlite3_stmt *st, const char *op, const char *what,
                            sqlstore_read_fn read, void **out, est_error *err);
/* A lookup on the reader connection: takes its lock and returns its
 * statement id, to bind and step; _end resets it and unlocks. A lookup
 * sees every write whose sqlstore_write has returned. */
sqlite3_stmt *sqlstore_lookup_begin(sqlstore *s, enum sqlstore_stmt id);
void sqlstore_lookup_end(sqlstore *s, sqlite3_stmt *st);

/* One kind of row to list page by page: its statement, how to bind the
 * keyset position after the previous page (last NULL: the first page) and
 * the LIMIT, read a row, hand it to the caller (non-zero stops), free it. */
typedef struct sqlstore_list_kind {
    enum sqlstore_stmt first; /* the first page's statement */
    enum sqlstore_stmt stmt;  /* every next page's */
    const char *op;
    int (*bind)(sqlite3_stmt *st, const void *last, const void *ctx);
    sqlstore_read_fn read;
    int (*visit)(const void *row, void *ctx);
    void (*free_row)(void *row);
} sqlstore_list_kind;

/* Visits every row. The callback runs without the store lock, so it may use
 * the store itself; rows written meanwhile may or may not be seen, none is
 * seen twice. */
est_status sqlstore_list(sqlstore *s, const sqlstore_list_kind *k, void *ctx, est_error *err);

est_status sqlstore_check(void *impl, est_error *err);

/* The SQL of statement id (tests: the query plan of each). */
const char *sqlstore_stmt_sql(enum sqlstore_stmt id);

/* store_sqlite_otp.c: the one-time enrollment code operations. */
est_status sqlstore_otp_insert(void *impl, est_otp_record *rec, const char *code,
                               est_error *err);
est_status sqlstore_otp_consume(void *impl, const char *label, const char *code,
                                const char *subject, int64_t now, est_otp_record **out,
                                est_error *err);
est_status sqlstore_otp_set_serial(void *impl, int64_t id, const char *serial, est_error *err);
est_status sqlstore_otp_list(void *impl, est_otp_visit_fn fn, void *arg, est_error *err);

/* --- store_sqlite_user_auth.c --- */
est_status sqlstore_user_unlock(void *impl, const char *name, int64_t when, est_error *err);
void sqlstore_close(void *impl);
/* The Digest nonce secret (schema 3, meta 'nonce_secret'). */
est_status sqlstore_nonce_secret(void *impl, uint8_t *out, size_t len, est_error *err);

/* The connection behind a store from est_store_open_sqlite, or NULL for any
 * other store. Tests only: it bypasses the store's lock, so use it while no
 * other thread uses the store (e.g. to set PRAGMA max_page_count and see
 * how a full disk is reported). */
sqlite3 *sqlstore_db(est_store *store);

#endif
