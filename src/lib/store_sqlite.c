/* The default store, part one: the SQLite connection (docs/design.md §3). Schema,
 * migrations and every statement's SQL; locking, transactions, errors and
 * paging; opening, checking and closing. The operations on rows are in
 * store_sqlite_rows.c.
 *
 * Durability (docs/design.md §4: a certificate is committed durably before any byte
 * of it is sent): WAL with synchronous=FULL makes every COMMIT fsync the
 * log, so a write that returned EST_OK survives a crash or power loss.
 *
 * Concurrency: one connection per store object, every use of it under one
 * mutex; the server's threads share the object. Other processes (admin
 * commands while estd serves) reach the file through connections of their
 * own; SQLite's busy timeout plus the retries in sqlstore_step make their
 * locks a wait, not an error. Writes take the write lock up front (BEGIN
 * IMMEDIATE), so no transaction has to upgrade a read lock, the one case
 * where waiting cannot help.
 *
 * All SQL is constant text with bound parameters. The one formatted
 * statement is PRAGMA user_version (PRAGMAs take no parameters), set to a
 * number from our own migration table. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store_sqlite_internal.h"

/* How long one statement waits for another process's lock, and how often
 * it waits again: about a minute in all before a caller sees an error, far
 * beyond any transaction of ours (a few statements and one fsync). */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_BUSY_RETRIES 12

/* Schema migrations: migrations[i] takes a store from user_version i to
 * i + 1. Append, never edit: a store in the field may be at any version. */
static const char schema_v1[] =
    "CREATE TABLE certs ("
    " serial TEXT PRIMARY KEY NOT NULL," /* uppercase hex: lookups normalise */
    " subject TEXT NOT NULL,"
    " san TEXT,"
    " spki_sha256 TEXT NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " issued_at INTEGER NOT NULL,"
    " status INTEGER NOT NULL CHECK (status IN (0, 1)),"
    " revoked_at INTEGER NOT NULL DEFAULT 0,"
    " revocation_reason INTEGER,"       /* NULL: none */
    " label TEXT NOT NULL DEFAULT '',"
    " requester TEXT,"
    " auth_method TEXT,"
    " operation TEXT,"
    " der BLOB NOT NULL);"
    "CREATE INDEX certs_not_after ON certs (not_after);"
    "CREATE INDEX certs_spki_sha256 ON certs (spki_sha256);"
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " password_hash TEXT NOT NULL,"
    " digest_realm TEXT,"
    " digest_ha1_md5 TEXT,"
    " digest_ha1_sha256 TEXT,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE pending ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: ids are told to clients */
    " label TEXT NOT NULL DEFAULT '',"
    " csr_sha256 TEXT NOT NULL,"
    " requester TEXT,"
    " auth_method TEXT,"
    " operation TEXT,"
    " subject TEXT,"
    " status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),"
    " reason TEXT,"
    " cert_serial TEXT REFERENCES certs (serial),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " csr_der BLOB);"
    "CREATE INDEX pending_label_csr ON pending (label, csr_sha256);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " at INTEGER NOT NULL,"
    " event TEXT NOT NULL,"
    " label TEXT,"
    " actor TEXT,"
    " subject TEXT,"
    " serial TEXT,"
    " detail TEXT);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value);"; /* crl_number */

/* Version 2: one-time enrollment codes (challenge_password = one-time-code).
 * code_hash is lowercase hex SHA-256(salt || code) with one random salt per
 * store (meta 'otp_salt'). Why no slow hash or per-code salt: codes are
 * made by `estd otp add` from 100 random bits, never chosen by people, so
 * a stolen hash leaves 2^100 guesses whatever the hash costs (slow hashes
 * help low-entropy passwords only), and the salt already makes any
 * precomputation useless beyond this one store. A per-code salt would only
 * stop one guess being tried against all codes at once (n / 2^100: nothing)
 * yet would force every enrollment to hash every outstanding code under
 * the write lock; with one salt the lookup is a unique index. */
static const char schema_v2[] =
    "CREATE TABLE otp ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: ids appear in audit lines */
    " label TEXT NOT NULL DEFAULT '',"
    " code_hash TEXT NOT NULL UNIQUE,"
    " subject TEXT,"                    /* NULL: any subject */
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " used_at INTEGER,"                 /* NULL: unused */
    " used_serial TEXT REFERENCES certs (serial));"
    "INSERT INTO meta (key, value) VALUES ('otp_salt', lower(hex(randomblob(16))));";

/* Version 3: `certs list` pages by (not_after, serial), so that pair is
 * one index and every page is an index SEARCH from the previous page's
 * last row (one index on not_after alone made each page rescan from the
 * start: quadratic over a store of millions). Nothing looks certificates
 * up by public key, so that index only cost every insert. The Digest
 * nonce secret is the store's, so every node sharing the store (the
 * PostgreSQL backend) accepts the nonces of the others. */
static const char schema_v3[] =
    "CREATE INDEX certs_expiry ON certs (not_after, serial);"
    "DROP INDEX certs_not_after;"
    "DROP INDEX certs_spki_sha256;"
    "INSERT INTO meta (key, value) VALUES ('nonce_secret', lower(hex(randomblob(32))));";
/* Version 4: `estd user unlock` (draft-04 §3.3.3 guessing countermeasures)
 * and TLS-SRP verifiers (draft-04 §3.3.3, RFC 5054). estd keeps failure
 * counts and locks in memory; the operator's unlock is the one thing
 * another process must tell it, through the row it reads for every
 * password check anyway. An SRP verifier is g^x mod N with x from a random
 * salt and the password: like the scrypt hash it is not the password, but
 * it allows an offline guess per entry (RFC 5054 §3), so the file stays
 * 0600. srp_group names the RFC 5054 group ("3072"); salt and verifier are
 * uppercase hex. */
static const char schema_v4[] =
    "ALTER TABLE users ADD COLUMN srp_group TEXT;"
    "ALTER TABLE users ADD COLUMN srp_salt TEXT;"
    "ALTER TABLE users ADD COLUMN srp_verifier TEXT;"
    "ALTER TABLE users ADD COLUMN unlocked_at INTEGER NOT NULL DEFAULT 0;";

/* Version 5: an audit row can stand for several events of one kind
 * (estd counts repeated authentication failures from one address into one
 * row per window), and rows are pruned by age: an index on the time. */
static const char schema_v5[] =
    "ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;"
    "CREATE INDEX audit_at ON audit (at);";

static const char *const migrations[] = {schema_v1, schema_v2, schema_v3, schema_v4, schema_v5};
_Static_assert(sizeof migrations / sizeof migrations[0] == EST_STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* The filters of est_cert_filter besides not_after: ?2 the status (-1
 * any), ?6 issued at or after, ?7 a substring of subject or SAN (NULL: any;
 * ASCII case-insensitive). */
#define CERT_FILTERS                                                                         \
    "(?2 < 0 OR status = ?2) AND issued_at >= ?6 AND (?7 IS NULL OR"                       \
    " instr(lower(subject), lower(?7)) > 0 OR instr(lower(coalesce(san, '')), lower(?7)) > 0)"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT write",
    [ST_RELEASE] = "RELEASE write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO write",
    [ST_CHECK] = "PRAGMA integrity_check",
    [ST_CERT_INSERT] = "INSERT INTO certs (" CERT_COLUMNS ") VALUES"
                       " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [ST_CERT_GET] = "SELECT " CERT_COLUMNS " FROM certs WHERE serial = ?1",
    /* Keyset paging over certs_expiry: the first page from not_after
     * ?3 on, each next page after the last row (?3, ?4) of the one before;
     * ?1 bounds not_after from above (INT64_MAX: no bound). Both SEARCH
     * the index by range; the other filters only skip rows within it. */
    [ST_CERT_FIRST] = "SELECT " CERT_COLUMNS " FROM certs"
                      " WHERE not_after >= ?3 AND not_after < ?1 AND " CERT_FILTERS
                      " ORDER BY not_after, serial LIMIT ?5",
    [ST_CERT_NEXT] = "SELECT " CERT_COLUMNS " FROM certs"
                     " WHERE (not_after, serial) > (?3, ?4) AND not_after < ?1 AND " CERT_FILTERS
                     " ORDER BY not_after, serial LIMIT ?5",
    [ST_CERT_REVOKE] = "UPDATE certs SET status = 1, revoked_at = ?2, revocation_reason = ?3"
                       " WHERE serial = ?1 AND status = 0",
    [ST_CERT_STATUS] = "SELECT status FROM certs WHERE serial = ?1",
    [ST_USER_INSERT] = "INSERT INTO users (" USER_COLUMNS ") VALUES"
                       " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* A replaced user keeps the date it was created. */
    [ST_USER_UPSERT] = "INSERT INTO users (" USER_COLUMNS ") VALUES"
                       " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                       " ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash,"
                       " digest_realm = excluded.digest_realm,"
                       " digest_ha1_md5 = excluded.digest_ha1_md5,"
                       " digest_ha1_sha256 = excluded.digest_ha1_sha256,"
                       " srp_group = excluded.srp_group, srp_salt = excluded.srp_salt,"
                       " srp_verifier = excluded.srp_verifier",
    [ST_USER_GET] = "SELECT " USER_SELECT_COLUMNS " FROM users WHERE name = ?1",
    [ST_USER_DELETE] = "DELETE FROM users WHERE name = ?1",
    [ST_USER_UNLOCK] = "UPDATE users SET unlocked_at = ?2 WHERE name = ?1",
    /* The first page binds ?1 = '' (names are never empty). */
    [ST_USER_PAGE] = "SELECT " USER_SELECT_COLUMNS " FROM users WHERE name > ?1"
                     " ORDER BY name LIMIT ?2",
    [ST_PENDING_INSERT] = "INSERT INTO pending (label, csr_sha256, requester, auth_method,"
                          " operation, subject, status, reason, cert_serial, created_at,"
                          " updated_at, csr_der) VALUES"
                          " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_PENDING_GET] = "SELECT " PENDING_COLUMNS " FROM pending WHERE id = ?1",
    /* draft-04 §4.2.3: the client's retry is the same CSR; the newest
     * request for it answers. */
    [ST_PENDING_FIND] = "SELECT " PENDING_COLUMNS " FROM pending"
                        " WHERE label = ?1 AND csr_sha256 = ?2 ORDER BY id DESC LIMIT 1",
    /* Only a waiting request changes, or one approved whose certificate
     * is being issued (cert_serial NULL): it gets its serial, or goes back
     * to waiting when issuing failed. So of two concurrent approvals one
     * claims the request and the other changes nothing (est_store_ops). */
    [ST_PENDING_UPDATE] = "UPDATE pending SET status = ?2, reason = ?3, cert_serial = ?4,"
                          " updated_at = ?5 WHERE id = ?1 AND (status = 0 OR (status = 1"
                          " AND cert_serial IS NULL AND (?2 = 0 OR (?2 = 1 AND ?4 IS NOT NULL))))",
    [ST_PENDING_EXISTS] = "SELECT status FROM pending WHERE id = ?1",
    [ST_PENDING_PAGE] = "SELECT " PENDING_COLUMNS " FROM pending WHERE id > ?1"
                        " ORDER BY id LIMIT ?2",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (at, event, label, actor, subject, serial, detail,"
                        " count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_AUDIT_PRUNE_BEFORE] = "DELETE FROM audit WHERE at < ?1",
    /* Keeps the rows among the newest ?1 ids: ids only grow and pruning
     * removes the oldest, so they are the newest ?1 rows. max(id) and the
     * range are rowid searches (an OFFSET would step over ?1 rows). */
    [ST_AUDIT_PRUNE_KEEP] = "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?1",
    [ST_CRL_BUMP] = "INSERT INTO meta (key, value) VALUES ('crl_number', 1)"
                    " ON CONFLICT (key) DO UPDATE SET value = value + 1",
    [ST_CRL_GET] = "SELECT value FROM meta WHERE key = 'crl_number'",
    [ST_OTP_SALT] = "SELECT value FROM meta WHERE key = 'otp_salt'",
    [ST_NONCE_SECRET] = "SELECT value FROM meta WHERE key = 'nonce_secret'",
    [ST_OTP_INSERT] = "INSERT INTO otp (label, code_hash, subject, created_at, expires_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)",
    /* The label is part of the match: a code made for one CA is no code
     * at another. */
    [ST_OTP_FIND] = "SELECT " OTP_COLUMNS " FROM otp WHERE code_hash = ?1 AND label = ?2",
    [ST_OTP_USE] = "UPDATE otp SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
    [ST_OTP_SERIAL] = "UPDATE otp SET used_serial = ?2 WHERE id = ?1 AND used_at IS NOT NULL",
    [ST_OTP_PAGE] = "SELECT " OTP_COLUMNS " FROM otp WHERE id > ?1 ORDER BY id LIMIT ?2",
};

const char *sqlstore_stmt_sql(enum sqlstore_stmt id)
{
    return id >= 0 && id < ST_COUNT ? stmt_sql[id] : NULL;
}

/* --- statements, errors, transactions ------------------------------------ */

/* Only statements outside a transaction, BEGIN and COMMIT can meet
 * SQLITE_BUSY here (writes hold the write lock from BEGIN IMMEDIATE on),
 * and for exactly those SQLite allows stepping again. */
int sqlstore_step(sqlite3_stmt *st)
{
    int src = sqlite3_step(st);

    for (int i = 1; i < STORE_BUSY_RETRIES && (src & 0xff) == SQLITE_BUSY; i++)
        src = sqlite3_step(st);
    return src;
}

void sqlstore_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static est_status error_on(sqlite3 *db, int src, const char *op, est_error *err)
{
    const char *msg = sqlite3_errmsg(db);

    switch (src & 0xff) {
    case SQLITE_FULL:
        return est_error_set(err, EST_E_STORE, "store full: %s: %s", op, msg);
    case SQLITE_NOMEM:
        return est_error_set(err, EST_E_NOMEM, "%s: %s", op, msg);
    case SQLITE_BUSY:
        return est_error_set(err, EST_E_STORE, "%s: locked by another process for over %d s: %s",
                             op, STORE_BUSY_TIMEOUT_MS / 1000 * STORE_BUSY_RETRIES, msg);
    default:
        return est_error_set(err, EST_E_STORE, "%s: %s", op, msg);
    }
}

est_status sqlstore_error(sqlstore *s, int src, const char *op, est_error *err)
{
    return error_on(s->db, src, op, err);
}

/* Steps a statement that returns no rows and resets it. */
static est_status run(sqlstore *s, enum sqlstore_stmt id, const char *op, est_error *err)
{
    int src = sqlstore_step(s->st[id]);
    est_status rc = src == SQLITE_DONE ? EST_OK : sqlstore_error(s, src, op, err);

    sqlstore_done(s->st[id]);
    return rc;
}

/* --- group commit ------------------------------------------------------------ */

/* With synchronous=FULL every COMMIT is an fsync (milliseconds), so one
 * transaction per write caps issuance at one certificate per fsync however
 * many threads ask. Instead writers queue their write; the first finding no
 * leader becomes one, and while it commits, later writers queue up behind
 * it. It then takes up to SQLSTORE_GROUP_MAX queued writes, runs each under
 * its own SAVEPOINT in one transaction (a duplicate serial rolls back only
 * that write, which gets its own EST_E_CONFLICT), commits once, and wakes
 * every writer of the group with its own status. Nobody is answered before
 * the COMMIT holding its rows returned (docs/design.md §4). A lone writer is a
 * group of one: its own BEGIN IMMEDIATE, write and COMMIT as before, with
 * the same results (the savepoint changes none). */
struct sqlstore_job {
    sqlstore_write_fn fn;
    void *arg;
    const char *op;
    est_status rc;  /* EST_OK until its write or its transaction fails */
    est_error e;    /* why, when rc != EST_OK */
    int done;       /* rc is final; the writer may return */
    sqlstore_job *next;
};

/* Runs one job under its own SAVEPOINT. 0: the transaction goes on (a
 * failed job's own changes are rolled back to its savepoint); -1: the
 * transaction is gone or unusable, and *terr says why for the jobs before
 * this one. */
static int job_run(sqlstore *s, sqlstore_job *j, est_error *terr)
{
    if ((j->rc = run(s, ST_SAVEPOINT, j->op, &j->e)) != EST_OK) {
        *terr = j->e;
        return -1;
    }
    j->rc = j->fn(s, j->arg, &j->e);
    /* A failed statement may have ended the whole transaction (SQLITE_FULL
     * does), undoing the jobs before this one too. */
    if (sqlite3_get_autocommit(s->db)) {
        if (j->rc == EST_OK)
            j->rc = est_error_set(&j->e, EST_E_INTERNAL, "%s: transaction ended early", j->op);
        *terr = j->e;
        return -1;
    }
    if (j->rc != EST_OK)
        return run(s, ST_ROLLBACK_TO, j->op, terr) == EST_OK &&
                       run(s, ST_RELEASE, j->op, terr) == EST_OK
                   ? 0
                   : -1;
    if ((j->rc = run(s, ST_RELEASE, j->op, &j->e)) != EST_OK) {
        *terr = j->e;
        return -1;
    }
    return 0;
}

/* Runs jobs from first on in one transaction and commits it. Returns the
 * job to start the next transaction with when a job's failure ended this
 * one early (the jobs before it are then failed, the rest still to run),
 * or NULL. Messages of BEGIN and COMMIT name the first job's operation. */
static sqlstore_job *txn_run(sqlstore *s, sqlstore_job *first)
{
    sqlstore_job *j = first, *next = NULL;
    est_error terr = {EST_OK, ""};
    est_status trc = run(s, ST_BEGIN, first->op, &terr);

    for (; trc == EST_OK && j != NULL; j = j->next) {
        if (job_run(s, j, &terr) != 0) {
            trc = terr.code != EST_OK ? terr.code : EST_E_INTERNAL;
            next = j->next;
            break;
        }
    }
    if (trc == EST_OK)
        trc = run(s, ST_COMMIT, first->op, &terr);
    /* A failed statement or COMMIT may have ended the transaction already;
     * roll back only what is still open. */
    if (trc != EST_OK && !sqlite3_get_autocommit(s->db))
        (void)run(s, ST_ROLLBACK, first->op, NULL);
    for (j = first; trc != EST_OK && j != next; j = j->next) {
        if (j->rc == EST_OK) {
            j->rc = trc;
            j->e = terr;
        }
    }
    return next;
}

/* Detaches up to SQLSTORE_GROUP_MAX jobs from the head of the queue as a
 * NULL-terminated list. qlock held, queue not empty. */
static sqlstore_job *group_take(sqlstore *s)
{
    sqlstore_job *first = s->head, *last = s->head;

    for (int n = 1; n < SQLSTORE_GROUP_MAX && last->next != NULL; n++)
        last = last->next;
    s->head = last->next;
    if (s->head == NULL)
        s->tail = NULL;
    last->next = NULL;
    return first;
}

/* The leader's work: groups from the queue's head until its own job is
 * done (bounded latency for it too), then hands the lead on. qlock held. */
static void group_lead(sqlstore *s, const sqlstore_job *own)
{
    s->leading = 1;
    while (!own->done) {
        sqlstore_job *group = group_take(s), *next;

        pthread_mutex_unlock(&s->qlock);
        pthread_mutex_lock(&s->lock);
        for (sqlstore_job *first = group; first != NULL;)
            first = txn_run(s, first);
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_lock(&s->qlock);
        /* A job is its writer's stack: untouched once done is seen. */
        for (; group != NULL; group = next) {
            next = group->next;
            group->done = 1;
        }
        pthread_cond_broadcast(&s->done);
    }
    s->leading = 0;
    if (s->head != NULL)
        pthread_cond_broadcast(&s->done); /* a queued writer leads next */
}

est_status sqlstore_write(sqlstore *s, const char *op, sqlstore_write_fn fn, void *arg,
                          est_error *err)
{
    sqlstore_job job = {fn, arg, op, EST_OK, {EST_OK, ""}, 0, NULL};

    pthread_mutex_lock(&s->qlock);
    if (s->tail != NULL)
        s->tail->next = &job;
    else
        s->head = &job;
    s->tail = &job;
    while (!job.done && s->leading)
        pthread_cond_wait(&s->done, &s->qlock);
    if (!job.done)
        group_lead(s, &job);
    pthread_mutex_unlock(&s->qlock);
    if (job.rc != EST_OK && err != NULL)
        *err = job.e;
    return job.rc;
}

est_status sqlstore_get_one(sqlite3_stmt *st, const char *op, const char *what,
                            sqlstore_read_fn read, void **out, est_error *err)
{
    est_status rc = EST_OK;
    int src = sqlstore_step(st);

    *out = NULL;
    if (src == SQLITE_ROW && read(st, out) != 0)
        rc = est_error_set(err, EST_E_NOMEM, "%s: unreadable row (out of memory or malformed)",
                           op);
    else if (src == SQLITE_DONE)
        rc = est_error_set(err, EST_E_NOT_FOUND, "%s: no %s", op, what);
    else if (src != SQLITE_ROW)
        rc = error_on(sqlite3_db_handle(st), src, op, err);
    sqlstore_done(st);
    return rc;
}

sqlite3_stmt *sqlstore_lookup_begin(sqlstore *s, enum sqlstore_stmt id)
{
    pthread_mutex_lock(&s->rlock);
    return s->rst[id];
}

void sqlstore_lookup_end(sqlstore *s, sqlite3_stmt *st)
{
    sqlstore_done(st);
    pthread_mutex_unlock(&s->rlock);
}

/* --- list paging ------------------------------------------------------------ */

/* Reads up to SQLSTORE_LIST_PAGE rows after last into page[]. */
static est_status list_fetch(sqlstore *s, const sqlstore_list_kind *k, const void *last,
                             void *ctx, void **page, size_t *n, est_error *err)
{
    sqlite3_stmt *st = s->st[last == NULL ? k->first : k->stmt];
    est_status rc = EST_OK;
    int src;

    *n = 0;
    pthread_mutex_lock(&s->lock);
    if ((src = k->bind(st, last, ctx)) != SQLITE_OK) {
        rc = sqlstore_error(s, src, k->op, err);
        goto out;
    }
    while (*n < SQLSTORE_LIST_PAGE && (src = sqlstore_step(st)) == SQLITE_ROW) {
        if (k->read(st, &page[*n]) != 0) {
            rc = est_error_set(err, EST_E_NOMEM, "%s: unreadable row (out of memory or malformed)",
                               k->op);
            goto out;
        }
        ++*n;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = sqlstore_error(s, src, k->op, err);
out:
    sqlstore_done(st);
    pthread_mutex_unlock(&s->lock);
    while (rc != EST_OK && *n > 0)
        k->free_row(page[--*n]);
    return rc;
}

est_status sqlstore_list(sqlstore *s, const sqlstore_list_kind *k, void *ctx, est_error *err)
{
    void *page[SQLSTORE_LIST_PAGE];
    void *last = NULL;
    size_t n = 0;
    int stop = 0;
    est_status rc;

    do {
        rc = list_fetch(s, k, last, ctx, page, &n, err);
        k->free_row(last);
        last = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!stop)
                stop = k->visit(page[i], ctx) != 0;
            if (i + 1 < n)
                k->free_row(page[i]);
        }
        if (n > 0)
            last = page[n - 1]; /* the next page starts after it */
    } while (rc == EST_OK && !stop && n == SQLSTORE_LIST_PAGE);
    k->free_row(last);
    return rc;
}

/* --- opening, checking, closing ---------------------------------------------- */

/* A new store file is made 0600 before SQLite sees it (SQLite's default is
 * 0644 less the umask): it holds password hashes and Digest HA1 values, and
 * the -wal and -shm files SQLite adds take the same mode. create = 0 and no
 * file is EST_E_NOT_FOUND: a mistyped path must not become an empty store. */
static est_status file_prepare(const char *path, int create, est_error *err)
{
    struct stat sb;
    int fd;

    if (stat(path, &sb) == 0)
        return EST_OK;
    if (errno != ENOENT)
        return est_error_set(err, EST_E_IO, "store %s: %s", path, strerror(errno));
    if (!create)
        return est_error_set(err, EST_E_NOT_FOUND, "store %s: no such file", path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
        return est_error_set(err, EST_E_IO, "store %s: create: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return EST_OK;
}

/* Runs constant SQL (no parameters, no rows wanted). */
static est_status exec_sql(sqlstore *s, const char *sql, const char *path, const char *op,
                           est_error *err)
{
    int src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    est_status rc;

    for (int i = 1; i < STORE_BUSY_RETRIES && (src & 0xff) == SQLITE_BUSY; i++)
        src = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (src == SQLITE_OK)
        return EST_OK;
    rc = sqlstore_error(s, src, op, err);
    est_error_prefix(err, rc, "store %s", path);
    return rc;
}

/* The single value of a one-row PRAGMA, as an integer or a text copy. */
static est_status pragma_value(sqlstore *s, const char *sql, const char *path, int *number,
                               char *text, size_t cap, est_error *err)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    est_status rc = EST_OK;

    if (src == SQLITE_OK && (src = sqlstore_step(st)) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        if (number != NULL)
            *number = sqlite3_column_int(st, 0);
        if (text != NULL)
            snprintf(text, cap, "%s", v != NULL ? (const char *)v : "");
    } else {
        rc = src == SQLITE_DONE ? est_error_set(err, EST_E_STORE, "%s: no value", sql)
                                : sqlstore_error(s, src, sql, err);
        est_error_prefix(err, rc, "store %s", path);
    }
    sqlite3_finalize(st);
    return rc;
}

/* WAL: readers never block the writer, and a commit appends to the log
 * instead of rewriting pages. synchronous=FULL: the log is fsynced on
 * every COMMIT (docs/design.md §4). */
static est_status configure(sqlstore *s, const char *path, est_error *err)
{
    char mode[16];
    est_status rc;

    if ((rc = pragma_value(s, "PRAGMA journal_mode = WAL", path, NULL, mode, sizeof mode,
                           err)) != EST_OK)
        return rc;
    if (strcmp(mode, "wal") != 0)
        return est_error_set(err, EST_E_STORE, "store %s: journal mode is %s, WAL unavailable",
                             path, mode);
    return exec_sql(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", path, "pragmas",
                    err);
}

/* Brings the schema to EST_STORE_SCHEMA_VERSION in one transaction. The
 * version is read again once the write lock is held: another process may
 * have migrated the file meanwhile. */
static est_status migrate(sqlstore *s, const char *path, int create, est_error *err)
{
    char sql[64];
    int version = 0;
    est_status rc;

    if ((rc = pragma_value(s, "PRAGMA user_version", path, &version, NULL, 0, err)) != EST_OK)
        return rc;
    if (version > EST_STORE_SCHEMA_VERSION)
        return est_error_set(err, EST_E_STORE,
                             "store %s: schema version %d is newer than this estd supports (%d)",
                             path, version, EST_STORE_SCHEMA_VERSION);
    if (version == EST_STORE_SCHEMA_VERSION)
        return EST_OK;
    /* An existing file without our schema (say, truncated to zero) is not
     * silently turned into an empty store unless creating was asked for. */
    if (version == 0 && !create)
        return est_error_set(err, EST_E_STORE, "store %s: not an estd store (schema version 0)",
                             path);
    if ((rc = exec_sql(s, "BEGIN IMMEDIATE", path, "migrate", err)) != EST_OK)
        return rc;
    if ((rc = pragma_value(s, "PRAGMA user_version", path, &version, NULL, 0, err)) != EST_OK)
        goto out;
    for (; version < EST_STORE_SCHEMA_VERSION; version++) {
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
        if ((rc = exec_sql(s, migrations[version], path, "migrate", err)) != EST_OK ||
            (rc = exec_sql(s, sql, path, "migrate", err)) != EST_OK)
            goto out;
    }
    rc = exec_sql(s, "COMMIT", path, "migrate", err);
out:
    if (rc != EST_OK && !sqlite3_get_autocommit(s->db))
        (void)exec_sql(s, "ROLLBACK", path, "migrate", NULL);
    return rc;
}

static est_status prepare_all(sqlite3 *db, sqlite3_stmt **st, const char *path, est_error *err)
{
    for (int i = 0; i < ST_COUNT; i++) {
        int src = sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL);
        if (src != SQLITE_OK) {
            est_status rc = error_on(db, src, "prepare", err);
            est_error_prefix(err, rc, "store %s", path);
            return rc;
        }
    }
    return EST_OK;
}

static est_status open_db(const char *path, int flags, sqlite3 **db, est_error *err)
{
    /* NOMUTEX: the store's own locks serialise every use of a connection. */
    int src = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | flags, NULL);

    if (src != SQLITE_OK)
        return est_error_set(err, src == SQLITE_NOMEM ? EST_E_NOMEM : EST_E_STORE,
                             "store %s: open: %s", path,
                             *db != NULL ? sqlite3_errmsg(*db) : sqlite3_errstr(src));
    sqlite3_extended_result_codes(*db, 1);
    sqlite3_busy_timeout(*db, STORE_BUSY_TIMEOUT_MS);
    return EST_OK;
}

/* The lookup connection, once the schema is current. query_only: a bug
 * cannot write through it, past the group commit. */
static est_status open_reader(sqlstore *s, const char *path, est_error *err)
{
    est_status rc;
    int src;

    if ((rc = open_db(path, 0, &s->rdb, err)) != EST_OK)
        return rc;
    if ((src = sqlite3_exec(s->rdb, "PRAGMA query_only = 1", NULL, NULL, NULL)) != SQLITE_OK) {
        rc = error_on(s->rdb, src, "reader", err);
        est_error_prefix(err, rc, "store %s", path);
        return rc;
    }
    return prepare_all(s->rdb, s->rst, path, err);
}

void sqlstore_close(void *impl)
{
    sqlstore *s = impl;

    if (s == NULL)
        return;
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->rst[i]);
        sqlite3_finalize(s->st[i]);
    }
    /* The last connection to close checkpoints the WAL into the file. */
    sqlite3_close(s->rdb);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->rlock);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->done);
    free(s);
}

/* A store with its locks made, no connection yet; NULL when out of memory. */
static sqlstore *store_new(void)
{
    sqlstore *s = calloc(1, sizeof *s);
    int lock, rlock, qlock, done;

    if (s == NULL)
        return NULL;
    lock = pthread_mutex_init(&s->lock, NULL) == 0;
    rlock = pthread_mutex_init(&s->rlock, NULL) == 0;
    qlock = pthread_mutex_init(&s->qlock, NULL) == 0;
    done = pthread_cond_init(&s->done, NULL) == 0;
    if (lock && rlock && qlock && done)
        return s;
    if (lock)
        pthread_mutex_destroy(&s->lock);
    if (rlock)
        pthread_mutex_destroy(&s->rlock);
    if (qlock)
        pthread_mutex_destroy(&s->qlock);
    if (done)
        pthread_cond_destroy(&s->done);
    free(s);
    return NULL;
}

est_status est_store_open_sqlite(const char *path, int create, est_store **out, est_error *err)
{
    sqlstore *s = NULL;
    est_store *store = NULL;
    est_status rc;

    if (path == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "store open: NULL argument");
    *out = NULL;
    if ((rc = file_prepare(path, create, err)) != EST_OK)
        return rc;
    if ((s = store_new()) == NULL)
        return est_error_set(err, EST_E_NOMEM, "store %s: out of memory", path);
    if ((rc = open_db(path, create ? SQLITE_OPEN_CREATE : 0, &s->db, err)) != EST_OK ||
        (rc = configure(s, path, err)) != EST_OK ||
        (rc = migrate(s, path, create, err)) != EST_OK ||
        (rc = prepare_all(s->db, s->st, path, err)) != EST_OK ||
        (rc = open_reader(s, path, err)) != EST_OK)
        goto out;
    if ((store = calloc(1, sizeof *store)) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "store %s: out of memory", path);
        goto out;
    }
    store->ops = &sqlstore_ops;
    store->impl = s;
    *out = store;
    s = NULL;
    rc = EST_OK;
out:
    sqlstore_close(s);
    return rc;
}

est_status sqlstore_check(void *impl, est_error *err)
{
    sqlstore *s = impl;
    sqlite3_stmt *st = s->st[ST_CHECK];
    const char *result;
    est_status rc = EST_OK;
    int src;

    pthread_mutex_lock(&s->lock);
    src = sqlstore_step(st);
    result = src == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (src != SQLITE_ROW)
        rc = sqlstore_error(s, src, "integrity check", err);
    else if (result == NULL || strcmp(result, "ok") != 0)
        /* The first of its findings; `sqlite3 FILE 'PRAGMA integrity_check'`
         * lists them all. */
        rc = est_error_set(err, EST_E_STORE, "integrity check: %s",
                           result != NULL ? result : "no result");
    sqlstore_done(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

sqlite3 *sqlstore_db(est_store *store)
{
    if (store == NULL || store->ops != &sqlstore_ops)
        return NULL;
    return ((sqlstore *)store->impl)->db;
}
