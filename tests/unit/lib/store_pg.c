/* Tests src/lib/store_pg.c on the PostgreSQL server the CTest fixture
 * starts (ESTKIT_TEST_PG): query plans, schema versions and migrations,
 * the conninfo rules, an unreachable server, and what several nodes (store
 * objects on one database) share: one approval, one nonce secret. The
 * operations themselves are tested on both backends by store_sqlite_rows.c
 * and store_sqlite_otp.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "estkit/store.h"
#include "store_fixture.h"
#include "store_pg_internal.h"

#define NODES 4

static int setup(void **state)
{
    store_fixture_use("postgresql");
    *state = store_fixture_new();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    store_fixture_free(*state);
    return 0;
}

static PGconn *connect_to(const store_fixture *fx)
{
    PGconn *c = PQconnectdb(fx->path);

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The highest $N in sql. */
static int param_count(const char *sql)
{
    int n = 0;

    for (const char *p = strchr(sql, '$'); p != NULL; p = strchr(p + 1, '$'))
        if (atoi(p + 1) > n)
            n = atoi(p + 1);
    return n;
}

/* Every lookup and page reads an index: with sequential scans priced out
 * (a small test table would otherwise rightly be scanned), a plan that
 * still holds a Seq Scan or a Sort has no index to use, and at millions of
 * rows would rescan or sort on every page. Generic plans: what a prepared
 * statement gets whatever its values. */
static void every_read_uses_an_index(void **state)
{
    store_fixture *fx = *state;
    PGconn *c = connect_to(fx);
    char sql[8192], args[256];

    for (int i = 0; i < 200; i++) {
        char serial[16];
        est_cert_record *rec;
        snprintf(serial, sizeof serial, "%04X", i);
        rec = store_fixture_cert(serial, 2000000000 + i / 3, 16);
        assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
        est_cert_record_free(rec);
    }
    exec_ok(c, "ANALYZE");
    exec_ok(c, "SET enable_seqscan = off");
    exec_ok(c, "SET plan_cache_mode = force_generic_plan");
    for (size_t i = 0; i < pgstore_read_sql_count; i++) {
        int n = param_count(pgstore_read_sql[i]);
        size_t used = 0;
        PGresult *r;
        char plan[4096] = "";

        args[0] = '\0';
        for (int k = 0; k < n; k++)
            used += (size_t)snprintf(args + used, sizeof args - used, "%sNULL", k ? ", " : "");
        snprintf(sql, sizeof sql, "PREPARE q%zu AS %s", i, pgstore_read_sql[i]);
        exec_ok(c, sql);
        snprintf(sql, sizeof sql, "EXPLAIN EXECUTE q%zu%s%s%s", i, n ? "(" : "", args,
                 n ? ")" : "");
        r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        used = 0;
        for (int row = 0; row < PQntuples(r) && used < sizeof plan; row++)
            used += (size_t)snprintf(plan + used, sizeof plan - used, "%s\n", PQgetvalue(r, row, 0));
        PQclear(r);
        if (strstr(plan, "Seq Scan") != NULL || strstr(plan, "Sort") != NULL ||
            strstr(plan, "Index") == NULL)
            fail_msg("%s\nplan:\n%s", pgstore_read_sql[i], plan);
    }
    PQfinish(c);
}

static void newer_schema_is_refused_naming_both_versions(void **state)
{
    store_fixture *fx = *state;
    PGconn *c = connect_to(fx);
    est_store *other = NULL;
    est_error err;

    exec_ok(c, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    assert_int_equal(store_fixture_open_again(fx, &other, &err), EST_E_STORE);
    assert_null(other);
    assert_non_null(strstr(err.message, "schema version 99 is newer"));
    assert_non_null(strstr(err.message, "(5)"));
    assert_int_equal(est_store_open_pg(fx->path, 1, NULL, &other, &err), EST_E_STORE);
    PQfinish(c);
}

/* A schema-2 database (as PostgreSQL stores were never made, but as the
 * migrations must handle) is brought to the current schema on open,
 * keeping its rows; schema 4's user columns work after it. */
static void schema_2_is_migrated(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("0A", 2000000000, 8), *got = NULL;
    PGconn *c = connect_to(fx);
    est_store *other = NULL;
    uint8_t secret[32];

    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
    exec_ok(c, "DROP INDEX certs_expiry; CREATE INDEX certs_not_after ON certs (not_after);"
               " CREATE INDEX certs_spki_sha256 ON certs (spki_sha256);"
               " DELETE FROM meta WHERE key = 'nonce_secret';"
               " ALTER TABLE users DROP COLUMN srp_group, DROP COLUMN srp_salt,"
               " DROP COLUMN srp_verifier, DROP COLUMN unlocked_at;"
               " DROP INDEX audit_at; ALTER TABLE audit DROP COLUMN count;"
               " INSERT INTO audit (at, event) VALUES (1, 'old');"
               " UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    assert_int_equal(store_fixture_open_again(fx, &other, NULL), EST_OK);
    assert_int_equal(store_fixture_sql_int(fx, "SELECT value::int FROM meta"
                                               " WHERE key = 'schema_version'"),
                     EST_STORE_SCHEMA_VERSION);
    /* Version 5: an old audit row stands for one event. */
    assert_int_equal(store_fixture_sql_int(fx, "SELECT count FROM audit WHERE event = 'old'"), 1);
    assert_int_equal(store_fixture_sql_int(fx, "SELECT count(*) FROM pg_indexes WHERE schemaname"
                                               " = current_schema() AND indexname IN"
                                               " ('certs_expiry', 'certs_not_after')"), 1);
    assert_int_equal(other->ops->nonce_secret(other->impl, secret, sizeof secret, NULL), EST_OK);
    assert_int_equal(other->ops->cert_get(other->impl, "0a", &got, NULL), EST_OK);
    est_cert_record_free(got);
    {
        est_user_record u = {.name = (char *)"sam", .password_hash = (char *)"h",
                             .srp_group = (char *)"3072", .srp_salt = (char *)"AB",
                             .srp_verifier = (char *)"CD"}, *back = NULL;
        assert_int_equal(other->ops->user_put(other->impl, &u, 0, NULL), EST_OK);
        assert_int_equal(other->ops->user_unlock(other->impl, "sam", 1700000000, NULL), EST_OK);
        assert_int_equal(other->ops->user_get(other->impl, "sam", &back, NULL), EST_OK);
        assert_string_equal(back->srp_verifier, "CD");
        assert_int_equal(back->unlocked_at, 1700000000);
        est_user_record_free(back);
        assert_int_equal(other->ops->user_unlock(other->impl, "nobody", 1, NULL), EST_E_NOT_FOUND);
    }
    est_cert_record_free(rec);
    est_store_close(other);
    PQfinish(c);
}

static void empty_database_is_a_store_only_when_creating(void **state)
{
    store_fixture *fx = *state;
    PGconn *c = connect_to(fx);
    est_store *other = NULL;
    est_error err;

    exec_ok(c, "DROP TABLE otp, pending, audit, certs, users, meta");
    assert_int_equal(store_fixture_open_again(fx, &other, &err), EST_E_STORE);
    assert_non_null(strstr(err.message, "not an estd store"));
    assert_int_equal(est_store_open_pg(fx->path, 1, NULL, &other, &err), EST_OK);
    assert_string_equal(other->ops->name, "postgresql");
    assert_int_equal(other->ops->check(other->impl, NULL), EST_OK);
    est_store_close(other);
    PQfinish(c);
}

/* Passwords belong in a passfile; a conninfo libpq cannot parse is named. */
static void conninfo_rules(void **state)
{
    est_store *store = NULL;
    est_error err;
    (void)state;

    assert_int_equal(est_store_open_pg("host=/tmp dbname=x password=secret", 1, NULL, &store,
                                       &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "passfile"));
    assert_null(strstr(err.message, "secret"));
    assert_int_equal(est_store_open_pg("postgresql://u:secret@/x?host=/tmp", 1, NULL, &store,
                                       &err), EST_E_CONFIG);
    assert_int_equal(est_store_open_pg("host=/tmp bogus_key=1", 1, NULL, &store, &err),
                     EST_E_CONFIG);
    assert_int_equal(est_store_spec_is_pg("postgresql://x/y"), 1);
    assert_int_equal(est_store_spec_is_pg("postgres://x/y"), 1);
    assert_int_equal(est_store_spec_is_pg("host=db dbname=estd"), 1);
    assert_int_equal(est_store_spec_is_pg("/var/lib/estd/estd.db"), 0);
    assert_int_equal(est_store_spec_is_pg(NULL), 0);
}

/* No server: EST_E_UNAVAILABLE (estd: 503 + Retry-After), not a crash. */
static void unreachable_server_is_unavailable(void **state)
{
    est_store *store = NULL;
    est_error err;
    (void)state;

    assert_int_equal(est_store_open_pg("host=/nonexistent-estkit-dir dbname=x", 0, NULL, &store,
                                       &err), EST_E_UNAVAILABLE);
    assert_null(store);
    assert_non_null(strstr(err.message, "unreachable"));
}

typedef struct approver {
    const store_fixture *fx;
    int64_t id;
    est_status rc;
} approver;

static void *approve(void *arg)
{
    approver *a = arg;
    est_store *node = NULL;

    a->rc = store_fixture_open_again(a->fx, &node, NULL);
    if (a->rc == EST_OK)
        a->rc = node->ops->pending_update(node->impl, a->id, EST_PENDING_APPROVED, NULL, NULL,
                                          NULL);
    est_store_close(node);
    return NULL;
}

/* Nodes approving one request at the same moment: one claims it, the
 * others are EST_E_CONFLICT (and issue nothing). */
static void racing_nodes_approve_once(void **state)
{
    static uint8_t csr[] = {0x30, 0x00};
    store_fixture *fx = *state;
    est_pending_record p = {.label = "", .status = EST_PENDING_WAITING, .csr_der = csr,
                            .csr_der_len = sizeof csr};
    approver a[NODES];
    pthread_t t[NODES];
    int ok = 0;

    memset(p.csr_sha256, 'a', 64);
    assert_int_equal(fx->store->ops->pending_insert(fx->store->impl, &p, NULL), EST_OK);
    for (int i = 0; i < NODES; i++) {
        a[i] = (approver){fx, p.id, EST_OK};
        assert_int_equal(pthread_create(&t[i], NULL, approve, &a[i]), 0);
    }
    for (int i = 0; i < NODES; i++) {
        pthread_join(t[i], NULL);
        ok += a[i].rc == EST_OK;
        assert_true(a[i].rc == EST_OK || a[i].rc == EST_E_CONFLICT);
    }
    assert_int_equal(ok, 1);
}

typedef struct blocked {
    est_store *store;
    const char *serial;
    est_status rc;
} blocked;

static void *revoke_blocked(void *arg)
{
    blocked *b = arg;

    b->rc = b->store->ops->cert_revoke(b->store->impl, b->serial, 1, 0, NULL);
    return NULL;
}

/* The pool is bounded: with every connection busy (one revoke waits on a
 * row another session locked), a caller waits store_wait_seconds and gets
 * EST_E_UNAVAILABLE (estd: 503); with one connection more it is served. */
static void pool_bound_at_and_past_the_limit(void **state)
{
    store_fixture *fx = *state;
    static const char *const serials[] = {"0B", "0C"};
    est_cert_record *rec = NULL, *got = NULL;
    PGconn *locker = connect_to(fx);
    char sql[96];

    for (int i = 0; i < 2; i++) {
        rec = store_fixture_cert(serials[i], 2000000000, 8);
        assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
        est_cert_record_free(rec);
    }
    for (unsigned size = 1; size <= 2; size++) {
        est_store_pg_options opt = {size, 1};
        blocked b = {NULL, serials[size - 1], EST_E_INTERNAL};
        pthread_t t;
        est_error err;

        assert_int_equal(est_store_open_pg(fx->path, 0, &opt, &b.store, NULL), EST_OK);
        snprintf(sql, sizeof sql, "BEGIN; SELECT 1 FROM certs WHERE serial = '%s' FOR UPDATE",
                 b.serial);
        exec_ok(locker, sql);
        assert_int_equal(pthread_create(&t, NULL, revoke_blocked, &b), 0);
        /* Until the revoke holds its connection (waiting on the row lock). */
        while (store_fixture_sql_int(fx, "SELECT count(*) FROM pg_locks WHERE NOT granted") < 1)
            ;
        if (size == 1) {
            assert_int_equal(b.store->ops->cert_get(b.store->impl, b.serial, &got, &err),
                             EST_E_UNAVAILABLE);
            assert_non_null(strstr(err.message, "no database connection free for 1 s"));
        } else {
            assert_int_equal(b.store->ops->cert_get(b.store->impl, b.serial, &got, &err), EST_OK);
            assert_int_equal(got->status, EST_CERT_VALID); /* the revoke is not committed */
            est_cert_record_free(got);
            got = NULL;
        }
        exec_ok(locker, "ROLLBACK");
        pthread_join(t, NULL);
        assert_int_equal(b.rc, EST_OK); /* it waited for the row, then revoked */
        est_store_close(b.store);
    }
    PQfinish(locker);
}

/* Every node reads the same Digest nonce secret. */
static void nodes_share_the_nonce_secret(void **state)
{
    store_fixture *fx = *state;
    uint8_t mine[32], theirs[32];
    est_store *other = NULL;

    assert_int_equal(store_fixture_open_again(fx, &other, NULL), EST_OK);
    assert_int_equal(fx->store->ops->nonce_secret(fx->store->impl, mine, sizeof mine, NULL),
                     EST_OK);
    assert_int_equal(other->ops->nonce_secret(other->impl, theirs, sizeof theirs, NULL), EST_OK);
    assert_memory_equal(mine, theirs, sizeof mine);
    est_store_close(other);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(every_read_uses_an_index),
        T(newer_schema_is_refused_naming_both_versions),
        T(schema_2_is_migrated),
        T(empty_database_is_a_store_only_when_creating),
        cmocka_unit_test(conninfo_rules),
        cmocka_unit_test(unreachable_server_is_unavailable),
        T(racing_nodes_approve_once),
        T(nodes_share_the_nonce_secret),
        T(pool_bound_at_and_past_the_limit),
    };
#undef T
    if (!store_fixture_pg_available()) {
        fprintf(stderr, "ESTKIT_TEST_PG unset: run under ctest (it starts PostgreSQL)\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
