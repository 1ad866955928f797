/* Test fixtures for the store unit tests (tests/unit/lib/store_sqlite.c,
 * store_sqlite_rows.c): a fresh store in its own temporary directory, and
 * certificate records that need no real certificate (the store keeps the
 * DER as opaque bytes). */
#ifndef ESTKIT_TEST_STORE_FIXTURE_H
#define ESTKIT_TEST_STORE_FIXTURE_H

#include <limits.h>
#include "estkit/store.h"

typedef struct store_fixture {
    char dir[64];          /* mkdtemp'd */
    char path[PATH_MAX];   /* dir/estd.db, or the PostgreSQL conninfo */
    char schema[32];       /* PostgreSQL: the test's own schema, "" for SQLite */
    est_store *store;      /* open, created */
} store_fixture;

/* The backend store_fixture_new makes stores of: "sqlite" (the default)
 * or "postgresql", on the server the CTest fixture started (its
 * conninfo is in $ESTKIT_TEST_PG/conninfo; each store is a fresh schema
 * there). The suites run their table once per backend. */
void store_fixture_use(const char *backend);
/* 1 when $ESTKIT_TEST_PG names a running test server (under CTest it
 * always does; a bare run of a test binary may test SQLite only). */
int store_fixture_pg_available(void);
/* The conninfo of the test server (no schema), or NULL. */
const char *store_fixture_pg_conninfo(void);

/* Rows per page of a listing on the current backend. */
size_t store_fixture_page(void);
/* The most rows per page of any backend (for arrays). */
#define STORE_FIXTURE_PAGE_MAX 256

/* Runs both (n tests) on SQLite then on PostgreSQL (when available), and
 * sqlite_only (m tests) on SQLite; the number of failures. */
struct CMUnitTest;
int store_fixture_run_suites(const struct CMUnitTest *both, size_t n,
                             const struct CMUnitTest *sqlite_only, size_t m);

/* A fresh store of the current backend; NULL on failure. */
store_fixture *store_fixture_new(void);
/* Another store object on fx's database: a second estd node. */
est_status store_fixture_open_again(const store_fixture *fx, est_store **out, est_error *err);
/* Closes the store (if open), removes the database, its -wal/-shm files,
 * any file named in extra, and the directory. NULL ok. */
void store_fixture_free(store_fixture *fx);
/* cmocka per-test setup and teardown: *state is a fresh store_fixture;
 * teardown asserts that, whatever the test did, the store is still
 * consistent (its check passes), then frees it. */
int store_fixture_test_setup(void **state);
int store_fixture_test_teardown(void **state);
/* Closes and reopens fx->store with create = 0; the status of the open. */
est_status store_fixture_reopen(store_fixture *fx, est_error *err);

/* The first column of the first row of sql (a count, say) on fx's store,
 * either backend; -1 on failure. */
int64_t store_fixture_sql_int(store_fixture *fx, const char *sql);

/* A valid record with the given serial and notAfter; der_len bytes of
 * made-up DER (at least 1). */
est_cert_record *store_fixture_cert(const char *serial, int64_t not_after, size_t der_len);
/* The number of certificates cert_list visits with the filter. */
size_t store_fixture_count(est_store *store, const est_cert_filter *filter);

#endif
