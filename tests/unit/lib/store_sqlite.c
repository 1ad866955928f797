/* Tests src/lib/store_sqlite.c: opening and creating, pragmas, schema
 * versions, damaged files, a full disk, durability across reopening, locks
 * held by another process, and many threads at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "estkit/store.h"
#include "store_fixture.h"
#include "store_sqlite_internal.h"

static int setup(void **state)
{
    *state = store_fixture_new();
    return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    store_fixture_free(*state);
    return 0;
}

static int pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void create_makes_a_private_wal_store(void **state)
{
    store_fixture *fx = *state;
    sqlite3 *db = sqlstore_db(fx->store);
    sqlite3_stmt *st = NULL;
    struct stat sb;

    assert_non_null(db);
    assert_int_equal(stat(fx->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(pragma_int(db, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(pragma_int(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(pragma_int(db, "PRAGMA user_version"), EST_STORE_SCHEMA_VERSION);
    assert_true(pragma_int(db, "PRAGMA busy_timeout") > 0);
    assert_string_equal(fx->store->ops->name, "sqlite");
    assert_int_equal(fx->store->ops->check(fx->store->impl, NULL), EST_OK);
}

static void missing_file_without_create_is_not_found(void **state)
{
    store_fixture *fx = *state;
    char path[PATH_MAX + 16];
    est_store *store = NULL;
    est_error err;
    struct stat sb;

    snprintf(path, sizeof path, "%s/missing.db", fx->dir);
    assert_int_equal(est_store_open_sqlite(path, 0, &store, &err), EST_E_NOT_FOUND);
    assert_int_equal(err.code, EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, path));
    assert_null(store);
    assert_int_equal(stat(path, &sb), -1); /* and nothing was created */
    snprintf(path, sizeof path, "%s/no/such/dir.db", fx->dir);
    assert_int_equal(est_store_open_sqlite(path, 1, &store, &err), EST_E_IO);
    assert_non_null(strstr(err.message, path));
    assert_int_equal(est_store_open_sqlite(NULL, 1, &store, &err), EST_E_INTERNAL);
    assert_int_equal(est_store_open_sqlite(path, 1, NULL, &err), EST_E_INTERNAL);
}

static void reopen_keeps_data_and_crl_numbers_grow(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("01AB", 2000000000, 100), *got = NULL;
    long n1 = 0, n2 = 0, n3 = 0;

    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
    assert_int_equal(fx->store->ops->next_crl_number(fx->store->impl, &n1, NULL), EST_OK);
    assert_int_equal(fx->store->ops->next_crl_number(fx->store->impl, &n2, NULL), EST_OK);
    assert_int_equal(n1, 1);
    assert_int_equal(n2, 2);
    assert_int_equal(store_fixture_reopen(fx, NULL), EST_OK);
    assert_int_equal(fx->store->ops->next_crl_number(fx->store->impl, &n3, NULL), EST_OK);
    assert_int_equal(n3, 3);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "01ab", &got, NULL), EST_OK);
    assert_int_equal(got->der_len, 100);
    assert_memory_equal(got->der, rec->der, 100);
    assert_int_equal(fx->store->ops->next_crl_number(fx->store->impl, NULL, NULL),
                     EST_E_INTERNAL);
    est_cert_record_free(got);
    est_cert_record_free(rec);
}

static void newer_schema_is_refused_naming_both_versions(void **state)
{
    store_fixture *fx = *state;
    sqlite3 *db = NULL;
    est_error err;

    est_store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(est_store_open_sqlite(fx->path, 0, &fx->store, &err), EST_E_STORE);
    assert_null(fx->store);
    assert_non_null(strstr(err.message, "schema version 99 is newer"));
    assert_non_null(strstr(err.message, "(5)"));
    /* Creating does not paper over it either. */
    assert_int_equal(est_store_open_sqlite(fx->path, 1, &fx->store, &err), EST_E_STORE);
}

static void empty_file_is_a_store_only_when_creating(void **state)
{
    store_fixture *fx = *state;
    est_error err;

    est_store_close(fx->store);
    fx->store = NULL;
    unlink(fx->path);
    write_file(fx->path, "", 0);
    assert_int_equal(est_store_open_sqlite(fx->path, 0, &fx->store, &err), EST_E_STORE);
    assert_non_null(strstr(err.message, "not an estd store"));
    assert_int_equal(est_store_open_sqlite(fx->path, 1, &fx->store, &err), EST_OK);
    assert_int_equal(fx->store->ops->check(fx->store->impl, &err), EST_OK);
}

static void garbage_file_is_a_clear_error(void **state)
{
    store_fixture *fx = *state;
    char junk[8192];
    est_error err;

    est_store_close(fx->store);
    fx->store = NULL;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)("this is not a database "[i % 23]);
    unlink(fx->path);
    write_file(fx->path, junk, sizeof junk);
    assert_int_equal(est_store_open_sqlite(fx->path, 0, &fx->store, &err), EST_E_STORE);
    assert_null(fx->store);
    assert_non_null(strstr(err.message, fx->path));
    assert_non_null(strstr(err.message, "not a database"));
}

/* A store cut short (a copy that stopped half way, a disk that lost its
 * tail): opening or the check reports it; nothing crashes. */
static void truncated_file_is_a_clear_error(void **state)
{
    store_fixture *fx = *state;
    char serial[16];
    struct stat sb;
    est_error err;
    est_status rc;

    for (int i = 0; i < 300; i++) {
        est_cert_record *rec;
        snprintf(serial, sizeof serial, "%04X", i + 1);
        rec = store_fixture_cert(serial, 2000000000 + i, 600);
        assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
        est_cert_record_free(rec);
    }
    est_store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(stat(fx->path, &sb), 0);
    assert_true(sb.st_size > 65536);
    assert_int_equal(truncate(fx->path, sb.st_size / 2), 0);
    rc = est_store_open_sqlite(fx->path, 0, &fx->store, &err);
    if (rc == EST_OK)
        rc = fx->store->ops->check(fx->store->impl, &err);
    assert_int_equal(rc, EST_E_STORE);
    assert_true(strlen(err.message) > 0);
    print_message("truncated store: %s\n", err.message);
}

static void full_disk_is_store_full_and_leaves_the_store_usable(void **state)
{
    store_fixture *fx = *state;
    sqlite3 *db = sqlstore_db(fx->store);
    est_cert_record *big = store_fixture_cert("0BAD", 2000000000, 256 * 1024);
    est_cert_record *small = store_fixture_cert("0600D", 2000000000, 10), *got = NULL;
    char sql[64];
    est_error err;

    /* SQLite reports a full disk and a reached page limit alike. */
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %d",
             pragma_int(db, "PRAGMA page_count") + 2);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, big, &err), EST_E_STORE);
    assert_true(strncmp(err.message, "store full: certificate insert: ", 32) == 0);
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, small, &err), EST_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0BAD", &got, &err),
                     EST_E_NOT_FOUND);
    assert_null(got);
    assert_int_equal(fx->store->ops->check(fx->store->impl, &err), EST_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                     SQLITE_OK);
    est_cert_record_free(big);
    big = store_fixture_cert("0BAD", 2000000000, 256 * 1024);
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, big, &err), EST_OK);
    est_cert_record_free(big);
    est_cert_record_free(small);
}

typedef struct lock_holder {
    sqlite3 *db;
    useconds_t hold_us;
} lock_holder;

static void *release_later(void *arg)
{
    lock_holder *h = arg;

    usleep(h->hold_us);
    sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Another process (an admin command) holding the write lock is a wait,
 * never an error; readers are not blocked at all (WAL). */
static void another_writer_makes_writes_wait_not_fail(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("0C0FFEE0", 2000000000, 50), *got = NULL;
    lock_holder h = {NULL, 700 * 1000};
    struct timespec start;
    pthread_t thread;
    est_error err;

    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
    snprintf(rec->serial, sizeof rec->serial, "0C0FFEE1");
    assert_int_equal(sqlite3_open(fx->path, &h.db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h.db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(pthread_create(&thread, NULL, release_later, &h), 0);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0C0FFEE0", &got, &err), EST_OK);
    assert_true(seconds_since(&start) < 0.5);
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, &err), EST_OK);
    assert_true(seconds_since(&start) >= 0.6);
    pthread_join(thread, NULL);
    sqlite3_close(h.db);
    est_cert_record_free(got);
    est_cert_record_free(rec);
}

/* Lookups run on their own connection: they see what is committed and
 * nothing of a transaction still open on the writer (on one shared
 * connection they would see it, and wait for its COMMIT's fsync). */
static void lookups_see_only_committed_writes(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("0DEC0DE", 2000000000, 50), *got = NULL;
    sqlite3 *writer = sqlstore_db(fx->store);

    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
    assert_int_equal(sqlite3_exec(writer, "BEGIN IMMEDIATE; UPDATE certs SET status = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0DEC0DE", &got, NULL), EST_OK);
    assert_int_equal(got->status, EST_CERT_VALID);
    est_cert_record_free(got);
    assert_int_equal(sqlite3_exec(writer, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0DEC0DE", &got, NULL), EST_OK);
    assert_int_equal(got->status, EST_CERT_REVOKED);
    est_cert_record_free(got);
    est_cert_record_free(rec);
}

#define THREADS 8
#define INSERTS_PER_THREAD 200

typedef struct worker {
    est_store *store;
    int id;
    int failures;
} worker;

static void *insert_many(void *arg)
{
    worker *w = arg;
    char serial[16];

    for (int i = 0; i < INSERTS_PER_THREAD; i++) {
        est_cert_record *rec, *got = NULL;
        snprintf(serial, sizeof serial, "%02X%04X", w->id + 1, i);
        rec = store_fixture_cert(serial, 2000000000 + i, 64 + (size_t)i);
        if (rec == NULL ||
            w->store->ops->cert_insert(w->store->impl, rec, NULL) != EST_OK ||
            w->store->ops->cert_get(w->store->impl, serial, &got, NULL) != EST_OK ||
            got->der_len != rec->der_len)
            w->failures++;
        est_cert_record_free(got);
        est_cert_record_free(rec);
        /* A listing now and then runs between the writes. */
        if (i % 50 == 0 && store_fixture_count(w->store, NULL) == (size_t)-1)
            w->failures++;
    }
    return NULL;
}

static void many_threads_insert_concurrently(void **state)
{
    store_fixture *fx = *state;
    pthread_t threads[THREADS];
    worker workers[THREADS];
    char serial[16];

    for (int t = 0; t < THREADS; t++) {
        workers[t] = (worker){fx->store, t, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, insert_many, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        assert_int_equal(workers[t].failures, 0);
    }
    assert_int_equal(store_fixture_count(fx->store, NULL), THREADS * INSERTS_PER_THREAD);
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < INSERTS_PER_THREAD; i++) {
            est_cert_record *got = NULL;
            snprintf(serial, sizeof serial, "%02x%04x", t + 1, i);
            assert_int_equal(fx->store->ops->cert_get(fx->store->impl, serial, &got, NULL), EST_OK);
            assert_int_equal(got->der_len, 64 + (size_t)i);
            est_cert_record_free(got);
        }
    }
    assert_int_equal(fx->store->ops->check(fx->store->impl, NULL), EST_OK);
}

/* Appends every row of EXPLAIN QUERY PLAN of sql to plan, one per line. */
static void query_plan(sqlite3 *db, const char *sql, char *plan, size_t cap)
{
    char explain[2048];
    sqlite3_stmt *st = NULL;
    size_t used = 0;

    plan[0] = '\0';
    snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
    assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && used < cap)
        used += (size_t)snprintf(plan + used, cap - used, "%s\n",
                                 (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
}

/* Every paging and lookup statement SEARCHes an index: none SCANs a table
 * or sorts in a temporary B-tree, so a listing of millions of rows costs
 * one index seek per page, not a rescan from the start (the quadratic
 * `certs list` of schema 2). Only the integrity check may scan. The plans
 * are taken on a store with rows and ANALYZE statistics, as in the field. */
static void every_query_searches_an_index(void **state)
{
    store_fixture *fx = *state;
    sqlite3 *db = sqlstore_db(fx->store);
    char plan[4096];

    for (int i = 0; i < 300; i++) {
        char serial[16];
        est_cert_record *rec;
        snprintf(serial, sizeof serial, "%04X", i);
        rec = store_fixture_cert(serial, 2000000000 + i / 3, 16);
        assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
        est_cert_record_free(rec);
    }
    assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
    for (int id = 0; id < ST_COUNT; id++) {
        if (id == ST_CHECK)
            continue;
        query_plan(db, sqlstore_stmt_sql((enum sqlstore_stmt)id), plan, sizeof plan);
        if (strstr(plan, "SCAN") != NULL || strstr(plan, "TEMP B-TREE") != NULL)
            fail_msg("statement %d: %s\nplan:\n%s", id, sqlstore_stmt_sql((enum sqlstore_stmt)id),
                     plan);
    }
    query_plan(db, sqlstore_stmt_sql(ST_CERT_NEXT), plan, sizeof plan);
    assert_non_null(strstr(plan, "SEARCH certs USING INDEX certs_expiry"));
    query_plan(db, sqlstore_stmt_sql(ST_CERT_FIRST), plan, sizeof plan);
    assert_non_null(strstr(plan, "SEARCH certs USING INDEX certs_expiry"));
    /* Schema 3 dropped the index nothing read, and the one it replaced. */
    query_plan(db, "SELECT * FROM certs WHERE spki_sha256 = 'x'", plan, sizeof plan);
    assert_non_null(strstr(plan, "SCAN certs"));
    assert_null(sqlstore_stmt_sql(ST_COUNT));
}

static void only_sqlite_stores_have_a_connection(void **state)
{
    static const est_store_ops other = {.name = "other"};
    est_store store = {&other, NULL};
    (void)state;

    assert_null(sqlstore_db(&store));
    assert_null(sqlstore_db(NULL));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(create_makes_a_private_wal_store),
        T(missing_file_without_create_is_not_found),
        T(reopen_keeps_data_and_crl_numbers_grow),
        T(newer_schema_is_refused_naming_both_versions),
        T(empty_file_is_a_store_only_when_creating),
        T(garbage_file_is_a_clear_error),
        T(truncated_file_is_a_clear_error),
        T(full_disk_is_store_full_and_leaves_the_store_usable),
        T(another_writer_makes_writes_wait_not_fail),
        T(lookups_see_only_committed_writes),
        T(many_threads_insert_concurrently),
        T(every_query_searches_an_index),
        cmocka_unit_test(only_sqlite_stores_have_a_connection),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
