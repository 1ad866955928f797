/* The PostgreSQL store, part one: the connection pool, the schema and its
 * migrations, running statements, errors, paging, opening and closing
 * (issue #16: several estd nodes on one CA). The operations are in
 * store_pg_rows.c and store_pg_otp.c.
 *
 * How the SQLite store's invariants hold across nodes:
 * - Durable before seen: every write is one statement in autocommit (or a
 *   data-modifying CTE, one statement too) and PostgreSQL's default
 *   synchronous_commit = on returns only after the commit's WAL is flushed.
 *   A connection that breaks mid-statement is an error for the caller, so a
 *   certificate whose commit is in doubt is never sent.
 * - Group commit: the pool's connections commit concurrently and
 *   PostgreSQL flushes the WAL of concurrent commits together; no batching
 *   of our own is needed.
 * - Unique serials: the CA draws 63+ random bits per serial; the primary
 *   key on certs.serial turns the ~2^-63 collision into EST_E_CONFLICT, on
 *   which the issuer retries with a fresh serial (estd_issue). A sequence
 *   would make serials guessable and need a round trip before signing.
 * - One-time codes: consumed by one conditional UPDATE ... WHERE used_at IS
 *   NULL ... RETURNING; of two nodes racing, PostgreSQL's row lock lets the
 *   second re-check the row after the first commits, and it finds it used.
 * - Pending approval: the same conditional UPDATE on the state (see
 *   pending_update in estkit/store.h).
 * - Revocation and users are read from the database on every request (no
 *   cache across requests), so a change on one node holds on every node
 *   from its commit on.
 * - Digest nonces: the HMAC secret is the store's (meta 'nonce_secret').
 *
 * Outage: a statement on a broken connection fails with EST_E_UNAVAILABLE
 * (estd answers 503 + Retry-After); the connection is dropped and the next
 * caller connects again, so estd recovers by itself once the server is
 * back. The pool is bounded: a caller waits for a free connection at most
 * wait_seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store_pg_internal.h"

/* Connections per store and how long a caller waits for one, unless the
 * configuration says otherwise (estd.conf store_connections,
 * store_wait_seconds). */
#define PGSTORE_CONNECTIONS_DEFAULT 8
#define PGSTORE_CONNECTIONS_MAX 256
#define PGSTORE_WAIT_DEFAULT 10
/* A connection attempt gives up after this long (libpq connect_timeout),
 * unless the conninfo sets its own. */
#define PGSTORE_CONNECT_TIMEOUT "5"
/* Concurrent migrations of nodes starting together wait on this lock. */
#define PGSTORE_MIGRATE_LOCK "7316000016"

/* Schema migrations as in the SQLite store (store_sqlite.c says why each
 * exists): migrations[i] takes the schema from version i to i + 1, the
 * version being meta 'schema_version'. Append, never edit. Serials and
 * names are ordered bytewise (COLLATE "C"), whatever the database's
 * locale, so keyset paging and its index agree. */
static const char pg_v1[] =
    "CREATE TABLE certs ("
    " serial TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
    " subject TEXT NOT NULL, san TEXT, spki_sha256 TEXT NOT NULL,"
    " not_before BIGINT NOT NULL, not_after BIGINT NOT NULL, issued_at BIGINT NOT NULL,"
    " status INTEGER NOT NULL CHECK (status IN (0, 1)),"
    " revoked_at BIGINT NOT NULL DEFAULT 0, revocation_reason INTEGER,"
    " label TEXT NOT NULL DEFAULT '', requester TEXT, auth_method TEXT, operation TEXT,"
    " der BYTEA NOT NULL);"
    "CREATE INDEX certs_not_after ON certs (not_after);"
    "CREATE INDEX certs_spki_sha256 ON certs (spki_sha256);"
    "CREATE TABLE users ("
    " name TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL,"
    " digest_realm TEXT, digest_ha1_md5 TEXT, digest_ha1_sha256 TEXT,"
    " created_at BIGINT NOT NULL);"
    "CREATE TABLE pending ("
    " id BIGSERIAL PRIMARY KEY, label TEXT NOT NULL DEFAULT '', csr_sha256 TEXT NOT NULL,"
    " requester TEXT, auth_method TEXT, operation TEXT, subject TEXT,"
    " status INTEGER NOT NULL CHECK (status IN (0, 1, 2)), reason TEXT,"
    " cert_serial TEXT COLLATE \"C\" REFERENCES certs (serial),"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, csr_der BYTEA);"
    "CREATE INDEX pending_label_csr ON pending (label, csr_sha256, id);"
    "CREATE TABLE audit ("
    " id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, event TEXT NOT NULL, label TEXT,"
    " actor TEXT, subject TEXT, serial TEXT, detail TEXT);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT);";

/* Random hex from the server's strong random source (gen_random_uuid is
 * pg_strong_random), hashed: 64 hex digits. */
#define PG_RANDOM_HEX "encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex')"

static const char pg_v2[] =
    "CREATE TABLE otp ("
    " id BIGSERIAL PRIMARY KEY, label TEXT NOT NULL DEFAULT '',"
    " code_hash TEXT NOT NULL UNIQUE, subject TEXT,"
    " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT,"
    " used_serial TEXT COLLATE \"C\" REFERENCES certs (serial));"
    "INSERT INTO meta (key, value) VALUES ('otp_salt', left(" PG_RANDOM_HEX ", 32));";

static const char pg_v3[] =
    "CREATE INDEX certs_expiry ON certs (not_after, serial);"
    "DROP INDEX certs_not_after;"
    "DROP INDEX certs_spki_sha256;"
    "INSERT INTO meta (key, value) VALUES ('nonce_secret', " PG_RANDOM_HEX ");";

/* Version 4: `estd user unlock` and TLS-SRP verifiers (store_sqlite.c). */
static const char pg_v4[] =
    "ALTER TABLE users ADD COLUMN srp_group TEXT, ADD COLUMN srp_salt TEXT,"
    " ADD COLUMN srp_verifier TEXT, ADD COLUMN unlocked_at BIGINT NOT NULL DEFAULT 0;";
/* As SQLite's version 5: audit rows carry a count, pruned by age. */
static const char pg_v5[] =
    "ALTER TABLE audit ADD COLUMN count BIGINT NOT NULL DEFAULT 1;"
    "CREATE INDEX audit_at ON audit (at);";

static const char *const migrations[] = {pg_v1, pg_v2, pg_v3, pg_v4, pg_v5};
_Static_assert(sizeof migrations / sizeof migrations[0] == EST_STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* --- parameters and columns ------------------------------------------------ */

void pgstore_text(pgstore_params *p, const char *v)
{
    p->values[p->n] = v;
    p->lengths[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

void pgstore_int(pgstore_params *p, int64_t v)
{
    snprintf(p->ints[p->n], sizeof p->ints[p->n], "%lld", (long long)v);
    pgstore_text(p, p->ints[p->n]);
}

void pgstore_blob(pgstore_params *p, const uint8_t *v, size_t len)
{
    p->values[p->n] = (const char *)v;
    p->lengths[p->n] = (int)len;
    p->formats[p->n] = 1;
    p->n++;
}

int pgstore_col_text(const PGresult *r, int row, int col, char **out)
{
    *out = NULL;
    if (PQgetisnull(r, row, col))
        return 0;
    *out = strdup(PQgetvalue(r, row, col));
    return *out != NULL ? 0 : -1;
}

int64_t pgstore_col_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pgstore_col_fixed(const PGresult *r, int row, int col, char *out, size_t cap)
{
    const char *v = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
    size_t len = strlen(v);

    if (len >= cap)
        return -1;
    memcpy(out, v, len + 1);
    return 0;
}

/* bytea arrives as text in the hex format ("\x3082..."). */
int pgstore_col_blob(const PGresult *r, int row, int col, uint8_t **out, size_t *len)
{
    unsigned char *raw;
    size_t n = 0;

    *out = NULL;
    *len = 0;
    if (PQgetisnull(r, row, col))
        return 0;
    if ((raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n)) == NULL)
        return -1;
    if (n > 0 && (*out = malloc(n)) != NULL) {
        memcpy(*out, raw, n);
        *len = n;
    }
    PQfreemem(raw);
    return n == 0 || *out != NULL ? 0 : -1;
}

/* --- the pool ------------------------------------------------------------------ */

/* A library never prints: server notices ("relation exists, skipping")
 * are dropped instead of going to stderr. */
static void notice_drop(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *connect_one(const char *conninfo)
{
    /* expand_dbname: conninfo is a URI or keyword string; it overrides the
     * keywords before it, so these are defaults the operator may change. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {PGSTORE_CONNECT_TIMEOUT, "estd", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);

    if (c != NULL)
        PQsetNoticeProcessor(c, notice_drop, NULL);
    return c;
}

/* A free slot (connected or not), waiting up to wait_seconds; -1 when none. */
static int slot_take(pgstore *s)
{
    struct timespec until;
    int slot = -1;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)s->wait_seconds;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        for (unsigned i = 0; i < s->size && slot < 0; i++)
            if (!s->used[i] && s->conns[i] != NULL)
                slot = (int)i; /* an open connection first */
        for (unsigned i = 0; i < s->size && slot < 0; i++)
            if (!s->used[i])
                slot = (int)i;
        if (slot >= 0 || pthread_cond_timedwait(&s->freed, &s->lock, &until) != 0)
            break;
    }
    if (slot >= 0)
        s->used[slot] = 1;
    pthread_mutex_unlock(&s->lock);
    return slot;
}

/* Gives the slot back; a broken connection is closed, and so is every idle
 * one (a server restart broke them all; the next callers reconnect). */
static void slot_give(pgstore *s, int slot, int broken)
{
    pthread_mutex_lock(&s->lock);
    if (broken) {
        for (unsigned i = 0; i < s->size; i++) {
            if (i == (unsigned)slot || !s->used[i]) {
                PQfinish(s->conns[i]);
                s->conns[i] = NULL;
            }
        }
    }
    s->used[slot] = 0;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

/* Class 08 (connection exception), 57P0x (server shutting down, cannot
 * connect now), 53 (insufficient resources): the database is away, not
 * our request wrong. */
static int sqlstate_unavailable(const char *state)
{
    return state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
                             strncmp(state, "53", 2) == 0);
}

/* One line of libpq's message (they end in newlines, some span lines). */
static void first_line(const char *msg, char *out, size_t cap)
{
    snprintf(out, cap, "%s", msg != NULL ? msg : "");
    out[strcspn(out, "\n")] = '\0';
}

/* What run_once saw go wrong with the connection (not the statement). */
enum { CONN_OK, CONN_UNREACHABLE, CONN_STALE };

/* Runs sql once on a connection of the pool. *broken: CONN_UNREACHABLE
 * when no connection could be made, CONN_STALE when a pooled connection
 * (one that worked before) failed: worth one more try on a fresh one. */
static est_status run_once(pgstore *s, const char *op, const char *sql, const pgstore_params *p,
                           PGresult **res, int *broken, est_error *err)
{
    int slot = slot_take(s), pooled;
    PGresult *r = NULL;
    PGconn *c;
    char msg[200];
    const char *state;
    est_status rc;

    *broken = CONN_OK;
    if (slot < 0)
        return est_error_set(err, EST_E_UNAVAILABLE, "%s: no database connection free for %u s",
                             op, s->wait_seconds);
    pooled = s->conns[slot] != NULL;
    if (!pooled)
        s->conns[slot] = connect_one(s->conninfo);
    c = s->conns[slot];
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        first_line(c != NULL ? PQerrorMessage(c) : "out of memory", msg, sizeof msg);
        slot_give(s, slot, 1);
        *broken = CONN_UNREACHABLE;
        return est_error_set(err, EST_E_UNAVAILABLE, "%s: database unreachable: %s", op, msg);
    }
    /* Without parameters, a string of several statements (migrations). */
    r = p != NULL ? PQexecParams(c, sql, p->n, NULL, p->values, p->lengths, p->formats, 0)
                  : PQexec(c, sql);
    if (r != NULL &&
        (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)) {
        slot_give(s, slot, 0);
        if (res != NULL)
            *res = r;
        else
            PQclear(r);
        return EST_OK;
    }
    state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    first_line(r != NULL && PQresultErrorMessage(r)[0] != '\0' ? PQresultErrorMessage(r)
                                                               : PQerrorMessage(c),
               msg, sizeof msg);
    /* No SQLSTATE: libpq's own error (the server never answered). */
    if (PQstatus(c) != CONNECTION_OK || state == NULL || sqlstate_unavailable(state))
        *broken = pooled ? CONN_STALE : CONN_UNREACHABLE;
    if (*broken != CONN_OK)
        rc = est_error_set(err, EST_E_UNAVAILABLE, "%s: database connection lost: %s", op, msg);
    else if (state != NULL && strcmp(state, "23505") == 0)
        rc = est_error_set(err, EST_E_CONFLICT, "%s: already in the store", op);
    else if (state != NULL && strcmp(state, "23503") == 0)
        rc = est_error_set(err, EST_E_NOT_FOUND, "%s: refers to a row not in the store", op);
    else
        rc = est_error_set(err, EST_E_STORE, "%s: %s", op, msg);
    PQclear(r);
    /* A connection left inside a transaction is of no use to the next
     * caller: closed like a broken one, but the error is the statement's. */
    slot_give(s, slot, *broken != CONN_OK || PQtransactionStatus(c) != PQTRANS_IDLE);
    return rc;
}

est_status pgstore_run(pgstore *s, const char *op, const char *sql, const pgstore_params *p,
                       int idempotent, PGresult **res, est_error *err)
{
    int broken = CONN_OK;
    est_status rc;

    if (res != NULL)
        *res = NULL;
    rc = run_once(s, op, sql, p, res, &broken, err);
    /* The pooled connection may have died while idle (server restarted):
     * one retry on a fresh one. Not when no connection could be made: the
     * caller would only wait twice as long for the same answer. */
    if (rc == EST_E_UNAVAILABLE && broken == CONN_STALE && idempotent)
        rc = run_once(s, op, sql, p, res, &broken, err);
    return rc;
}

est_status pgstore_get_one(pgstore *s, const char *op, const char *what, const char *sql,
                           const pgstore_params *p, int (*read)(const PGresult *, int, void **),
                           void **out, est_error *err)
{
    PGresult *r = NULL;
    est_status rc = pgstore_run(s, op, sql, p, 1, &r, err);

    *out = NULL;
    if (rc != EST_OK)
        return rc;
    if (PQntuples(r) == 0)
        rc = est_error_set(err, EST_E_NOT_FOUND, "%s: no %s", op, what);
    else if (read(r, 0, out) != 0)
        rc = est_error_set(err, EST_E_NOMEM, "%s: unreadable row (out of memory or malformed)",
                           op);
    PQclear(r);
    return rc;
}

/* --- list paging ------------------------------------------------------------------ */

est_status pgstore_list(pgstore *s, const pgstore_list_kind *k, void *ctx, est_error *err)
{
    void *last = NULL;
    int n = 0, stop = 0;
    est_status rc;

    do {
        pgstore_params p = {0};
        PGresult *r = NULL;

        k->bind(&p, last, ctx);
        pgstore_int(&p, PGSTORE_LIST_PAGE);
        rc = pgstore_run(s, k->op, last == NULL ? k->first_sql : k->next_sql, &p, 1, &r, err);
        n = rc == EST_OK ? PQntuples(r) : 0;
        for (int i = 0; i < n && rc == EST_OK && !stop; i++) {
            void *row = NULL;
            if (k->read(r, i, &row) != 0) {
                rc = est_error_set(err, EST_E_NOMEM,
                                   "%s: unreadable row (out of memory or malformed)", k->op);
                break;
            }
            /* The callback runs with no connection held: it may use the
             * store itself. */
            stop = k->visit(row, ctx) != 0;
            k->free_row(last);
            last = row; /* the next page starts after it */
        }
        PQclear(r);
    } while (rc == EST_OK && !stop && n == PGSTORE_LIST_PAGE);
    k->free_row(last);
    return rc;
}

/* --- opening, migrating, checking, closing ------------------------------------------ */

/* The schema version, 0 when there is no meta table yet. */
static est_status schema_version(pgstore *s, int *version, est_error *err)
{
    PGresult *r = NULL;
    est_status rc = pgstore_run(s, "schema", "SELECT to_regclass('meta') IS NOT NULL", NULL, 1,
                                &r, err);

    *version = 0;
    if (rc != EST_OK)
        return rc;
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        PQclear(r);
        return EST_OK;
    }
    PQclear(r);
    rc = pgstore_run(s, "schema", "SELECT value FROM meta WHERE key = 'schema_version'", NULL, 1,
                     &r, err);
    if (rc == EST_OK && PQntuples(r) == 1)
        *version = (int)pgstore_col_int(r, 0, 0);
    PQclear(r);
    return rc;
}

/* Every migration still due, and the new version, in one transaction under
 * an advisory lock: one query string of several statements, which
 * PostgreSQL runs as one transaction (all or nothing). */
static est_status migrate(pgstore *s, int version, est_error *err)
{
    size_t cap = 512;
    char *sql, *end;
    est_status rc;

    for (int v = version; v < EST_STORE_SCHEMA_VERSION; v++)
        cap += strlen(migrations[v]);
    if ((sql = malloc(cap)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    /* The version is checked again under the lock: another node may have
     * migrated meanwhile, and then the DO block stops this one. */
    end = sql + snprintf(sql, cap,
                         "SELECT pg_advisory_xact_lock(" PGSTORE_MIGRATE_LOCK ");"
                         "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL,"
                         " value TEXT);"
                         "DO $$ BEGIN IF coalesce((SELECT value::int FROM meta WHERE key ="
                         " 'schema_version'), 0) <> %d THEN RAISE EXCEPTION"
                         " 'schema changed meanwhile'; END IF; END $$;",
                         version);
    for (int v = version; v < EST_STORE_SCHEMA_VERSION; v++) {
        end += snprintf(end, cap - (size_t)(end - sql), "%s", migrations[v]);
    }
    snprintf(end, cap - (size_t)(end - sql),
             "INSERT INTO meta (key, value) VALUES ('schema_version', '%d') ON CONFLICT (key)"
             " DO UPDATE SET value = excluded.value;",
             EST_STORE_SCHEMA_VERSION);
    rc = pgstore_run(s, "migrate", sql, NULL, 0, NULL, err);
    free(sql);
    return rc;
}

static est_status schema_ready(pgstore *s, int create, est_error *err)
{
    int version = 0;
    est_status rc = schema_version(s, &version, err);

    if (rc != EST_OK)
        return rc;
    if (version > EST_STORE_SCHEMA_VERSION)
        return est_error_set(err, EST_E_STORE,
                             "schema version %d is newer than this estd supports (%d)", version,
                             EST_STORE_SCHEMA_VERSION);
    if (version == 0 && !create)
        return est_error_set(err, EST_E_STORE, "not an estd store (no schema; make it with "
                             "`estd init DIR --store ...`)");
    if (version < EST_STORE_SCHEMA_VERSION && (rc = migrate(s, version, err)) != EST_OK) {
        /* Another node migrated at the same moment: fine when it is done. */
        if (schema_version(s, &version, NULL) == EST_OK && version == EST_STORE_SCHEMA_VERSION)
            return EST_OK;
        return rc;
    }
    return EST_OK;
}

static est_status load_salt(pgstore *s, est_error *err)
{
    PGresult *r = NULL;
    est_status rc = pgstore_run(s, "open", "SELECT value FROM meta WHERE key = 'otp_salt'", NULL,
                                1, &r, err);

    if (rc == EST_OK && PQntuples(r) == 1)
        snprintf(s->otp_salt, sizeof s->otp_salt, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* The password lives in a passfile, never in estd.conf or on a command
 * line (where ps, shell history and backups would show it). */
static est_status conninfo_check(const char *conninfo, est_error *err)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    est_status rc = EST_OK;

    if (opts == NULL) {
        if (msg != NULL)
            msg[strcspn(msg, "\n")] = '\0';
        rc = est_error_set(err, EST_E_CONFIG, "store: not a PostgreSQL connection string: %.120s",
                           msg != NULL ? msg : "out of memory");
        PQfreemem(msg);
        return rc;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
            rc = est_error_set(err, EST_E_CONFIG,
                               "store: a password in the connection string is refused; put it "
                               "in a passfile (PGPASSFILE or passfile=)");
    PQconninfoFree(opts);
    return rc;
}

static pgstore *store_new(const char *conninfo, const est_store_pg_options *opt)
{
    pgstore *s = calloc(1, sizeof *s);
    unsigned size = opt != NULL && opt->connections > 0 ? opt->connections
                                                        : PGSTORE_CONNECTIONS_DEFAULT;

    if (s == NULL)
        return NULL;
    s->size = size < PGSTORE_CONNECTIONS_MAX ? size : PGSTORE_CONNECTIONS_MAX;
    s->wait_seconds = opt != NULL && opt->wait_seconds > 0 ? opt->wait_seconds
                                                           : PGSTORE_WAIT_DEFAULT;
    s->conninfo = strdup(conninfo);
    s->conns = calloc(s->size, sizeof *s->conns);
    s->used = calloc(s->size, 1);
    if (s->conninfo == NULL || s->conns == NULL || s->used == NULL) {
        free(s->conninfo);
        free(s->conns);
        free(s->used);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    return s;
}

void pgstore_close(void *impl)
{
    pgstore *s = impl;

    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->size; i++)
        PQfinish(s->conns[i]);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    free(s->conns);
    free(s->used);
    free(s->conninfo);
    free(s);
}

est_status est_store_open_pg(const char *conninfo, int create, const est_store_pg_options *opt,
                             est_store **out, est_error *err)
{
    pgstore *s = NULL;
    est_store *store = NULL;
    est_status rc;

    if (conninfo == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "store open: NULL argument");
    *out = NULL;
    if ((rc = conninfo_check(conninfo, err)) != EST_OK)
        return rc;
    if ((s = store_new(conninfo, opt)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "store: out of memory");
    if ((rc = schema_ready(s, create, err)) != EST_OK || (rc = load_salt(s, err)) != EST_OK)
        goto out;
    if ((store = calloc(1, sizeof *store)) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "store: out of memory");
        goto out;
    }
    store->ops = &pgstore_ops;
    store->impl = s;
    *out = store;
    s = NULL;
    rc = EST_OK;
out:
    pgstore_close(s);
    return rc;
}

est_status pgstore_check(void *impl, est_error *err)
{
    PGresult *r = NULL;
    est_status rc = pgstore_run(impl, "check",
                                "SELECT count(*) FROM pending p WHERE p.cert_serial IS NOT NULL"
                                " AND NOT EXISTS (SELECT 1 FROM certs c"
                                " WHERE c.serial = p.cert_serial)",
                                NULL, 1, &r, err);

    if (rc == EST_OK && strcmp(PQgetvalue(r, 0, 0), "0") != 0)
        rc = est_error_set(err, EST_E_STORE, "check: requests refer to missing certificates");
    PQclear(r);
    return rc;
}

est_status pgstore_nonce_secret(void *impl, uint8_t *out, size_t len, est_error *err)
{
    PGresult *r = NULL;
    est_status rc = pgstore_run(impl, "nonce secret",
                                "SELECT decode(value, 'hex') FROM meta WHERE key = 'nonce_secret'",
                                NULL, 1, &r, err);
    uint8_t *raw = NULL;
    size_t n = 0;

    if (rc != EST_OK)
        return rc;
    if (PQntuples(r) != 1 || pgstore_col_blob(r, 0, 0, &raw, &n) != 0 || n < len)
        rc = est_error_set(err, EST_E_STORE, "nonce secret: missing or short in the store");
    else
        memcpy(out, raw, len);
    free(raw);
    PQclear(r);
    return rc;
}
