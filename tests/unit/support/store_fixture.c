/* Test fixtures for the store unit tests: see store_fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include "store_fixture.h"
#include "store_pg_internal.h"
#include "store_sqlite_internal.h"

_Static_assert(STORE_FIXTURE_PAGE_MAX >= PGSTORE_LIST_PAGE &&
               STORE_FIXTURE_PAGE_MAX >= SQLSTORE_LIST_PAGE, "fixture arrays hold a page");

static int use_pg;

void store_fixture_use(const char *backend)
{
    use_pg = strcmp(backend, "postgresql") == 0;
}

size_t store_fixture_page(void)
{
    return use_pg ? PGSTORE_LIST_PAGE : SQLSTORE_LIST_PAGE;
}

static int use_sqlite_group(void **state)
{
    (void)state;
    store_fixture_use("sqlite");
    return 0;
}

static int use_pg_group(void **state)
{
    (void)state;
    store_fixture_use("postgresql");
    return 0;
}

int store_fixture_run_suites(const struct CMUnitTest *both, size_t n,
                             const struct CMUnitTest *sqlite_only, size_t m)
{
    int failed = _cmocka_run_group_tests("sqlite", both, n, use_sqlite_group, NULL);

    if (m > 0)
        failed += _cmocka_run_group_tests("sqlite only", sqlite_only, m, use_sqlite_group, NULL);
    if (!store_fixture_pg_available()) {
        fprintf(stderr, "ESTKIT_TEST_PG unset: the PostgreSQL run is skipped\n");
        return failed;
    }
    return failed + _cmocka_run_group_tests("postgresql", both, n, use_pg_group, NULL);
}

const char *store_fixture_pg_conninfo(void)
{
    static char conninfo[PATH_MAX];
    const char *dir = getenv("ESTKIT_TEST_PG");
    char path[PATH_MAX], pass[PATH_MAX];
    FILE *f;

    if (conninfo[0] != '\0')
        return conninfo;
    if (dir == NULL || dir[0] == '\0')
        return NULL;
    snprintf(path, sizeof path, "%s/conninfo", dir);
    if ((f = fopen(path, "r")) == NULL)
        return NULL;
    if (fgets(conninfo, sizeof conninfo, f) == NULL)
        conninfo[0] = '\0';
    fclose(f);
    conninfo[strcspn(conninfo, "\n")] = '\0';
    snprintf(pass, sizeof pass, "%s/passfile", dir);
    setenv("PGPASSFILE", pass, 1);
    return conninfo[0] != '\0' ? conninfo : NULL;
}

int store_fixture_pg_available(void)
{
    return store_fixture_pg_conninfo() != NULL;
}

/* Runs one statement on the test server; 0 when it succeeded. */
static int pg_exec(const char *sql)
{
    PGconn *c = PQconnectdb(store_fixture_pg_conninfo());
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;

    if (!ok)
        fprintf(stderr, "store fixture: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* A schema of its own per test, named after the process and a counter. */
static int pg_prepare(store_fixture *fx)
{
    static unsigned counter;
    char sql[96];

    if (store_fixture_pg_conninfo() == NULL)
        return -1;
    snprintf(fx->schema, sizeof fx->schema, "t%ld_%u", (long)getpid(), ++counter);
    snprintf(fx->path, sizeof fx->path, "%s options='-csearch_path=%s'",
             store_fixture_pg_conninfo(), fx->schema);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", fx->schema);
    return pg_exec(sql);
}

int64_t store_fixture_sql_int(store_fixture *fx, const char *sql)
{
    int64_t v = -1;

    if (fx->schema[0] != '\0') {
        PGconn *c = PQconnectdb(fx->path);
        PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
        if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        PQfinish(c);
    } else {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    return v;
}

est_status store_fixture_open_again(const store_fixture *fx, est_store **out, est_error *err)
{
    return est_store_open(fx->path, 0, NULL, out, err);
}

store_fixture *store_fixture_new(void)
{
    store_fixture *fx = calloc(1, sizeof *fx);

    if (fx == NULL)
        return NULL;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/estkit-store-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return NULL;
    }
    snprintf(fx->path, sizeof fx->path, "%s/estd.db", fx->dir);
    if ((use_pg && pg_prepare(fx) != 0) ||
        est_store_open(fx->path, 1, NULL, &fx->store, NULL) != EST_OK) {
        store_fixture_free(fx);
        return NULL;
    }
    return fx;
}

void store_fixture_free(store_fixture *fx)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".junk"};
    char file[PATH_MAX + 16];

    if (fx == NULL)
        return;
    est_store_close(fx->store);
    if (fx->schema[0] != '\0') {
        char sql[96];
        snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA %s CASCADE",
                 fx->schema);
        (void)pg_exec(sql);
    }
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(file, sizeof file, "%s%s", fx->path, suffixes[i]);
        unlink(file);
    }
    rmdir(fx->dir);
    free(fx);
}

est_status store_fixture_reopen(store_fixture *fx, est_error *err)
{
    est_store_close(fx->store);
    fx->store = NULL;
    return est_store_open(fx->path, 0, NULL, &fx->store, err);
}

est_cert_record *store_fixture_cert(const char *serial, int64_t not_after, size_t der_len)
{
    est_cert_record *rec = calloc(1, sizeof *rec);

    if (rec == NULL)
        return NULL;
    snprintf(rec->serial, sizeof rec->serial, "%s", serial);
    snprintf(rec->spki_sha256, sizeof rec->spki_sha256, "%064x", 0xab);
    rec->subject = strdup("CN=device,O=Example");
    rec->san = strdup("DNS:device.example");
    rec->label = strdup("");
    rec->requester = strdup("alice");
    rec->auth_method = strdup("basic");
    rec->operation = strdup("enroll");
    rec->not_before = not_after - 86400;
    rec->not_after = not_after;
    rec->issued_at = not_after - 86400;
    rec->revocation_reason = -1;
    rec->der_len = der_len > 0 ? der_len : 1;
    rec->der = malloc(rec->der_len);
    if (rec->subject == NULL || rec->san == NULL || rec->label == NULL ||
        rec->requester == NULL || rec->auth_method == NULL || rec->operation == NULL ||
        rec->der == NULL) {
        est_cert_record_free(rec);
        return NULL;
    }
    for (size_t i = 0; i < rec->der_len; i++)
        rec->der[i] = (uint8_t)(i * 7 + 0x30);
    return rec;
}

static int count_visit(const est_cert_record *rec, void *arg)
{
    (void)rec;
    ++*(size_t *)arg;
    return 0;
}

size_t store_fixture_count(est_store *store, const est_cert_filter *filter)
{
    size_t n = 0;

    if (store->ops->cert_list(store->impl, filter, count_visit, &n, NULL) != EST_OK)
        return (size_t)-1;
    return n;
}

int store_fixture_test_setup(void **state)
{
    *state = store_fixture_new();
    return *state != NULL ? 0 : -1;
}

int store_fixture_test_teardown(void **state)
{
    store_fixture *fx = *state;

    if (fx != NULL && fx->store != NULL)
        assert_int_equal(est_store_check(fx->store, NULL), EST_OK);
    store_fixture_free(fx);
    return 0;
}
