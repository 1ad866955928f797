/* Tests the group commit of src/lib/store_sqlite.c (sqlstore_write):
 * concurrent writers share one transaction and one COMMIT, each under its
 * own SAVEPOINT, so one writer's failure is its own; a group holds at most
 * SQLSTORE_GROUP_MAX writes; a lone writer commits alone, as before.
 *
 * To make a group deterministic, the first COMMIT is held in SQLite's
 * commit hook until every other writer has queued behind it (the hook runs
 * in the leading thread with the store lock held); the COMMITs are counted
 * by the same hook, with the rows each one carries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "estkit/store.h"
#include "store_fixture.h"
#include "store_sqlite_internal.h"

#define GROUP SQLSTORE_GROUP_MAX
/* Writers of the unstalled stress test, and certificates each. */
#define STRESS_THREADS 16
#define STRESS_EACH 25
/* How long the held COMMIT waits once every writer is about to queue:
 * the few instructions from there into the queue, with a wide margin for
 * a loaded machine under sanitizers. */
#define QUEUE_MARGIN_MS 300
/* How long a COMMIT pauses for a writer answered before it to return. */
#define LINGER_MS 50

typedef struct commits {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    sqlite3 *db;
    int count;
    int hold;      /* the next COMMIT waits until released */
    int held;      /* a COMMIT is waiting */
    int ready;     /* writers about to queue */
    int64_t rows;  /* sqlite3_total_changes at the previous COMMIT */
    int64_t most;  /* the most rows one COMMIT carried */
    int linger;    /* later COMMITs pause first, to let an early answer show */
    int returned;  /* writers (queued ones) back from the store */
    int early;     /* the most writers back before a COMMIT was done */
} commits;

static int commit_hook(void *arg)
{
    commits *c = arg;
    int64_t total = sqlite3_total_changes64(c->db);

    pthread_mutex_lock(&c->lock);
    c->count++;
    if (total - c->rows > c->most)
        c->most = total - c->rows;
    c->rows = total;
    if (c->hold) {
        c->held = 1;
        pthread_cond_broadcast(&c->cond);
        while (c->hold)
            pthread_cond_wait(&c->cond, &c->lock);
    } else if (c->linger) {
        struct timespec pause = {0, LINGER_MS * 1000000L};

        pthread_mutex_unlock(&c->lock);
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&c->lock);
        if (c->returned > c->early)
            c->early = c->returned;
    }
    pthread_mutex_unlock(&c->lock);
    return 0; /* go on with the COMMIT */
}

typedef struct writer {
    est_store *store;
    commits *c;
    char serial[16];
    const char *detail; /* audited writes: the audit row's detail */
    int audited;
    est_status rc;
    est_error err;
} writer;

static void *write_one(void *arg)
{
    writer *w = arg;
    est_cert_record *rec = store_fixture_cert(w->serial, 2000000000, 64);
    est_audit_event ev = {"issue", "", "alice", "CN=device", w->serial, w->detail, 1};

    if (w->c != NULL) {
        pthread_mutex_lock(&w->c->lock);
        w->c->ready++;
        pthread_cond_broadcast(&w->c->cond);
        pthread_mutex_unlock(&w->c->lock);
    }
    w->rc = w->audited ? w->store->ops->cert_insert_audited(w->store->impl, rec, &ev, &w->err)
                       : w->store->ops->cert_insert(w->store->impl, rec, &w->err);
    if (w->c != NULL) {
        pthread_mutex_lock(&w->c->lock);
        w->c->returned++;
        pthread_mutex_unlock(&w->c->lock);
    }
    est_cert_record_free(rec);
    return NULL;
}

static void commits_start(commits *c, store_fixture *fx)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(pthread_mutex_init(&c->lock, NULL), 0);
    assert_int_equal(pthread_cond_init(&c->cond, NULL), 0);
    c->db = sqlstore_db(fx->store);
    assert_non_null(c->db);
    c->rows = sqlite3_total_changes64(c->db);
    sqlite3_commit_hook(c->db, commit_hook, c);
}

static void commits_stop(commits *c)
{
    sqlite3_commit_hook(c->db, NULL, NULL);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

/* Runs w[0] until its COMMIT is held, then w[1..n-1] until all of them are
 * about to queue, then lets the COMMIT go and waits for every writer. */
static void run_held(commits *c, writer *w, size_t n)
{
    pthread_t *t = calloc(n, sizeof *t);
    struct timespec margin = {0, QUEUE_MARGIN_MS * 1000000L};

    assert_non_null(t);
    c->hold = 1;
    w[0].c = NULL;
    assert_int_equal(pthread_create(&t[0], NULL, write_one, &w[0]), 0);
    pthread_mutex_lock(&c->lock);
    while (!c->held)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 1; i < n; i++) {
        w[i].c = c;
        assert_int_equal(pthread_create(&t[i], NULL, write_one, &w[i]), 0);
    }
    pthread_mutex_lock(&c->lock);
    while (c->ready < (int)n - 1)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    nanosleep(&margin, NULL);
    pthread_mutex_lock(&c->lock);
    c->hold = 0;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    free(t);
}

static writer *writers(store_fixture *fx, size_t n, const char *prefix)
{
    writer *w = calloc(n, sizeof *w);

    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        w[i].store = fx->store;
        snprintf(w[i].serial, sizeof w[i].serial, "%s%04zX", prefix, i);
        w[i].rc = EST_E_INTERNAL;
    }
    return w;
}

static int64_t count_rows(store_fixture *fx, const char *sql, const char *serial)
{
    sqlite3_stmt *st = NULL;
    int64_t n;

    assert_int_equal(sqlite3_prepare_v2(sqlstore_db(fx->store), sql, -1, &st, NULL),
                     SQLITE_OK);
    if (serial != NULL)
        assert_int_equal(sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* --- tests --------------------------------------------------------------------- */

/* Without concurrency every write is its own transaction, as before. */
static void lone_writer_commits_alone(void **state)
{
    store_fixture *fx = *state;
    writer *w = writers(fx, 5, "10");
    commits c;

    commits_start(&c, fx);
    for (size_t i = 0; i < 5; i++) {
        write_one(&w[i]);
        assert_int_equal(w[i].rc, EST_OK);
    }
    assert_int_equal(c.count, 5);
    assert_int_equal(c.most, 1);
    /* A lone failure is reported as before and commits nothing. */
    write_one(&w[0]);
    assert_int_equal(w[0].rc, EST_E_CONFLICT);
    assert_string_equal(w[0].err.message,
                        "certificate insert: serial 100000 already in the store");
    assert_int_equal(c.most, 1);
    commits_stop(&c);
    assert_int_equal(store_fixture_count(fx->store, NULL), 5);
    free(w);
}

/* Writers queued behind a COMMIT share the next one: N writers, fewer than
 * N COMMITs (one per write without group commit). None of them is answered
 * before that COMMIT is done (docs/design.md §4). */
static void queued_writers_share_one_commit(void **state)
{
    store_fixture *fx = *state;
    const size_t n = 20;
    writer *w = writers(fx, n, "20");
    est_cert_record *got = NULL;
    commits c;

    commits_start(&c, fx);
    c.linger = 1;
    run_held(&c, w, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(w[i].rc, EST_OK);
    assert_int_equal(c.count, 2); /* w[0] alone, then all the others */
    assert_int_equal(c.most, (int64_t)n - 1);
    assert_int_equal(c.early, 0);
    commits_stop(&c);
    /* Durable: all there after closing and opening again. */
    assert_int_equal(store_fixture_reopen(fx, NULL), EST_OK);
    assert_int_equal(store_fixture_count(fx->store, NULL), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fx->store->ops->cert_get(fx->store->impl, w[i].serial, &got, NULL),
                         EST_OK);
        est_cert_record_free(got);
    }
    free(w);
}

/* A group holds at most GROUP writes: GROUP queued writers are one COMMIT,
 * one more is two. */
static void group_size_is_bounded(void **state)
{
    store_fixture *fx = *state;
    writer *w = writers(fx, GROUP + 2, "30");
    commits c;

    commits_start(&c, fx);
    run_held(&c, w, GROUP + 1); /* w[0], then GROUP queued */
    for (size_t i = 0; i < GROUP + 1; i++)
        assert_int_equal(w[i].rc, EST_OK);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.most, GROUP);
    commits_stop(&c);

    commits_start(&c, fx);
    for (size_t i = 0; i < GROUP + 2; i++)
        snprintf(w[i].serial, sizeof w[i].serial, "31%04zX", i);
    run_held(&c, w, GROUP + 2); /* w[0], then GROUP + 1 queued */
    for (size_t i = 0; i < GROUP + 2; i++)
        assert_int_equal(w[i].rc, EST_OK);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.most, GROUP);
    commits_stop(&c);
    assert_int_equal(store_fixture_count(fx->store, NULL), 2 * GROUP + 3);
    free(w);
}

/* In one group: a serial already stored and a serial twice. Only the
 * writers that lost get EST_E_CONFLICT; the rest of the group commits. */
static void duplicate_fails_only_its_writer(void **state)
{
    store_fixture *fx = *state;
    const size_t n = 12;
    writer *w = writers(fx, n, "40");
    commits c;
    size_t ok = 0, conflict = 0;

    commits_start(&c, fx);
    memcpy(w[3].serial, w[0].serial, sizeof w[3].serial); /* committed before */
    snprintf(w[7].serial, sizeof w[7].serial, "D0D0");
    snprintf(w[9].serial, sizeof w[9].serial, "d0d0");              /* the same serial */
    run_held(&c, w, n);
    assert_int_equal(c.count, 2); /* they did share a transaction */
    commits_stop(&c);
    assert_int_equal(w[3].rc, EST_E_CONFLICT);
    assert_non_null(strstr(w[3].err.message, "serial 400000 already in the store"));
    for (size_t i = 0; i < n; i++) {
        ok += w[i].rc == EST_OK;
        conflict += w[i].rc == EST_E_CONFLICT;
    }
    assert_int_equal(ok, n - 2);
    assert_int_equal(conflict, 2);
    assert_true((w[7].rc == EST_OK) != (w[9].rc == EST_OK));
    assert_non_null(strstr((w[7].rc == EST_OK ? w[9] : w[7]).err.message,
                           "serial D0D0 already in the store"));
    assert_int_equal(store_fixture_count(fx->store, NULL), n - 2);
    free(w);
}

/* Audited writes in one group: each certificate commits with its audit row
 * or neither does, also when the audit row is the part that fails (here a
 * trigger refuses it, after the certificate row went in). */
static void audited_writes_keep_their_audit_row(void **state)
{
    store_fixture *fx = *state;
    const size_t n = 10;
    writer *w = writers(fx, n, "50");
    commits c;

    assert_int_equal(sqlite3_exec(sqlstore_db(fx->store),
                                  "CREATE TRIGGER refuse BEFORE INSERT ON audit"
                                  " WHEN NEW.detail = 'refuse'"
                                  " BEGIN SELECT RAISE(ABORT, 'refused'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < n; i++) {
        w[i].audited = 1;
        w[i].detail = "enroll";
    }
    w[4].detail = "refuse";
    memcpy(w[6].serial, w[0].serial, sizeof w[6].serial); /* committed before */
    commits_start(&c, fx);
    run_held(&c, w, n);
    assert_int_equal(c.count, 2);
    commits_stop(&c);
    assert_int_equal(w[4].rc, EST_E_STORE);
    assert_non_null(strstr(w[4].err.message, "refused"));
    assert_int_equal(w[6].rc, EST_E_CONFLICT);
    for (size_t i = 0; i < n; i++) {
        int64_t certs = count_rows(fx, "SELECT count(*) FROM certs WHERE serial = ?1",
                                   w[i].serial);
        int64_t audits = count_rows(fx, "SELECT count(*) FROM audit WHERE serial = ?1",
                                    w[i].serial);

        if (i == 4) {
            assert_int_equal(certs, 0);
            assert_int_equal(audits, 0);
        } else if (i != 6) {
            assert_int_equal(w[i].rc, EST_OK);
            assert_int_equal(certs, 1);
            assert_int_equal(audits, 1); /* for w[0]: w[6] added no second */
        }
    }
    assert_int_equal(count_rows(fx, "SELECT count(*) FROM audit", NULL), (int64_t)n - 2);
    free(w);
}

typedef struct stress {
    est_store *store;
    int id;
    int failures;
} stress;

static void *stress_run(void *arg)
{
    stress *s = arg;
    char serial[16];

    for (int i = 0; i < STRESS_EACH; i++) {
        est_cert_record *rec;

        snprintf(serial, sizeof serial, "6%02X%04X", s->id, i);
        rec = store_fixture_cert(serial, 2000000000, 128);
        if (rec == NULL || s->store->ops->cert_insert(s->store->impl, rec, NULL) != EST_OK)
            s->failures++;
        est_cert_record_free(rec);
    }
    return NULL;
}

/* Many threads, no staging: every write succeeds and stays. */
static void many_threads_all_commit(void **state)
{
    store_fixture *fx = *state;
    pthread_t t[STRESS_THREADS];
    stress s[STRESS_THREADS];

    for (int i = 0; i < STRESS_THREADS; i++) {
        s[i] = (stress){fx->store, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, stress_run, &s[i]), 0);
    }
    for (int i = 0; i < STRESS_THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(s[i].failures, 0);
    }
    assert_int_equal(store_fixture_reopen(fx, NULL), EST_OK);
    assert_int_equal(store_fixture_count(fx->store, NULL), STRESS_THREADS * STRESS_EACH);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, store_fixture_test_setup, \
                                                 store_fixture_test_teardown)
    const struct CMUnitTest tests[] = {
        T(lone_writer_commits_alone),
        T(queued_writers_share_one_commit),
        T(group_size_is_bounded),
        T(duplicate_fails_only_its_writer),
        T(audited_writes_keep_their_audit_row),
        T(many_threads_all_commit),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
