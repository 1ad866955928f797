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
    char path[PATH_MAX];   /* dir/estd.db */
    est_store *store;      /* open, created */
} store_fixture;

/* mkdtemp + est_store_open_sqlite(create = 1); NULL on failure. */
store_fixture *store_fixture_new(void);
/* Closes the store (if open), removes the database, its -wal/-shm files,
 * any file named in extra, and the directory. NULL ok. */
void store_fixture_free(store_fixture *fx);
/* Closes and reopens fx->store with create = 0; the status of the open. */
est_status store_fixture_reopen(store_fixture *fx, est_error *err);

/* A valid record with the given serial and notAfter; der_len bytes of
 * made-up DER (at least 1). */
est_cert_record *store_fixture_cert(const char *serial, int64_t not_after, size_t der_len);
/* The number of certificates cert_list visits with the filter. */
size_t store_fixture_count(est_store *store, const est_cert_filter *filter);

#endif
