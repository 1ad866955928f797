/* Tests src/lib/store_sqlite_otp.c: one-time enrollment codes on a real
 * SQLite store: only a salted hash is kept, a code is consumed once,
 * expiry at and one past the limit, subject binding, labels, the serial
 * issued with a code, listing across pages, racing consumers, and the
 * migration of a version 1 store. */
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
#include <openssl/sha.h>
#include "estkit/store.h"
#include "store_fixture.h"
#include "store_sqlite_internal.h"

#define PAGE store_fixture_page() /* rows per page of the backend under test */
#define PAGE_MAX STORE_FIXTURE_PAGE_MAX
#define FAR_FUTURE 4000000000LL

static est_status add(est_store *store, const char *label, const char *subject, const char *code,
                      int64_t expires, int64_t *id, est_error *err)
{
    est_otp_record rec = {0};
    est_status rc;

    rec.label = (char *)label;
    rec.subject = (char *)subject;
    rec.expires_at = expires;
    rc = store->ops->otp_insert(store->impl, &rec, code, err);
    if (id != NULL)
        *id = rec.id;
    return rc;
}

static est_status consume(est_store *store, const char *label, const char *code,
                          const char *subject, int64_t now, est_error *err)
{
    return store->ops->otp_consume(store->impl, label, code, subject, now, NULL, err);
}

typedef struct collected {
    est_otp_record rows[2 * PAGE_MAX + 2];
    size_t n;
    size_t stop_after; /* 0 = never stop */
} collected;

static int collect(const est_otp_record *rec, void *arg)
{
    collected *c = arg;

    if (c->n < sizeof c->rows / sizeof c->rows[0]) {
        c->rows[c->n] = *rec;
        c->rows[c->n].label = c->rows[c->n].subject = c->rows[c->n].used_serial = NULL;
    }
    c->n++;
    return c->stop_after != 0 && c->n >= c->stop_after;
}

static void code_works_once(void **state)
{
    store_fixture *fx = *state;
    est_otp_record *got = NULL;
    collected c = {0};
    int64_t id = 0;
    est_error err;

    assert_int_equal(add(fx->store, "", NULL, "ABCDEFGHJK", FAR_FUTURE, &id, NULL), EST_OK);
    assert_true(id > 0);
    assert_int_equal(fx->store->ops->otp_consume(fx->store->impl, "", "ABCDEFGHJK", "CN=x", 0,
                                                 &got, NULL), EST_OK);
    assert_non_null(got);
    assert_int_equal(got->id, id);
    assert_string_equal(got->label, "");
    assert_null(got->subject);
    assert_true(got->used_at > 0);
    assert_int_equal(got->expires_at, FAR_FUTURE);
    est_otp_record_free(got);
    got = NULL;
    assert_int_equal(fx->store->ops->otp_consume(fx->store->impl, "", "ABCDEFGHJK", "CN=x", 0,
                                                 &got, &err), EST_E_AUTH);
    assert_null(got);
    assert_non_null(strstr(err.message, "already used"));
    assert_int_equal(fx->store->ops->otp_list(fx->store->impl, collect, &c, NULL), EST_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.rows[0].used_at > 0);
}

static void wrong_code_and_other_label_are_not_found(void **state)
{
    store_fixture *fx = *state;
    est_error err;

    assert_int_equal(add(fx->store, "iot", NULL, "CODE-IOT", FAR_FUTURE, NULL, NULL), EST_OK);
    assert_int_equal(consume(fx->store, "iot", "CODE-IOU", NULL, 0, &err), EST_E_NOT_FOUND);
    assert_int_equal(consume(fx->store, "iot", "code-iot", NULL, 0, &err), EST_E_NOT_FOUND);
    assert_int_equal(consume(fx->store, "iot", "CODE-IOT ", NULL, 0, &err), EST_E_NOT_FOUND);
    /* A code made for one CA is no code at another. */
    assert_int_equal(consume(fx->store, "", "CODE-IOT", NULL, 0, &err), EST_E_NOT_FOUND);
    assert_int_equal(consume(fx->store, NULL, "CODE-IOT", NULL, 0, &err), EST_E_NOT_FOUND);
    assert_int_equal(consume(fx->store, "iot", "CODE-IOT", NULL, 0, &err), EST_OK);
}

static void expiry_at_and_one_before_the_limit(void **state)
{
    store_fixture *fx = *state;
    est_error err;

    assert_int_equal(add(fx->store, "", NULL, "EXP1", 1000, NULL, NULL), EST_OK);
    assert_int_equal(add(fx->store, "", NULL, "EXP2", 1000, NULL, NULL), EST_OK);
    assert_int_equal(consume(fx->store, "", "EXP1", NULL, 1000, &err), EST_E_AUTH);
    assert_non_null(strstr(err.message, "expired"));
    assert_int_equal(consume(fx->store, "", "EXP1", NULL, 1001, &err), EST_E_AUTH);
    assert_int_equal(consume(fx->store, "", "EXP2", NULL, 999, &err), EST_OK);
    /* The clock (now = 0) is far past 1000. */
    assert_int_equal(consume(fx->store, "", "EXP1", NULL, 0, &err), EST_E_AUTH);
}

static void subject_bound_code_needs_that_subject(void **state)
{
    store_fixture *fx = *state;
    collected c = {0};
    est_error err;

    assert_int_equal(add(fx->store, "", "CN=dev1,O=Example", "BOUND", FAR_FUTURE, NULL, NULL),
                     EST_OK);
    assert_int_equal(consume(fx->store, "", "BOUND", "CN=dev2,O=Example", 0, &err), EST_E_AUTH);
    assert_non_null(strstr(err.message, "valid only for subject 'CN=dev1,O=Example'"));
    assert_int_equal(consume(fx->store, "", "BOUND", NULL, 0, &err), EST_E_AUTH);
    assert_int_equal(consume(fx->store, "", "BOUND", "cn=dev1,o=example", 0, &err), EST_E_AUTH);
    /* Refusals leave the code unused. */
    assert_int_equal(fx->store->ops->otp_list(fx->store->impl, collect, &c, NULL), EST_OK);
    assert_int_equal(c.rows[0].used_at, 0);
    assert_int_equal(consume(fx->store, "", "BOUND", "CN=dev1,O=Example", 0, &err), EST_OK);
}

/* The code itself is nowhere in the file; code_hash is SHA-256 over the
 * store's salt and the code. */
static void only_a_salted_hash_is_stored(void **state)
{
    store_fixture *fx = *state;
    sqlite3 *db = sqlstore_db(fx->store);
    sqlite3_stmt *st = NULL;
    unsigned char md[SHA256_DIGEST_LENGTH];
    char buf[128], want[65];
    const char *salt, *hash;

    assert_int_equal(add(fx->store, "", NULL, "SECRETCODE", FAR_FUTURE, NULL, NULL), EST_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT value FROM meta WHERE key = "
                                            "'otp_salt'), code_hash, label || ifnull(subject, '')"
                                            " FROM otp", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    salt = (const char *)sqlite3_column_text(st, 0);
    hash = (const char *)sqlite3_column_text(st, 1);
    assert_int_equal(strlen(salt), 32);
    assert_int_equal(strspn(salt, "0123456789abcdef"), 32);
    snprintf(buf, sizeof buf, "%sSECRETCODE", salt);
    SHA256((const unsigned char *)buf, strlen(buf), md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(want + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(hash, want);
    assert_null(strstr((const char *)sqlite3_column_text(st, 2), "SECRETCODE"));
    sqlite3_finalize(st);
}

static void each_store_has_its_own_salt(void **state)
{
    store_fixture *fx = *state, *other = store_fixture_new();
    sqlite3_stmt *a = NULL, *b = NULL;
    const char *sql = "SELECT code_hash FROM otp";

    assert_non_null(other);
    assert_int_equal(add(fx->store, "", NULL, "SAME", FAR_FUTURE, NULL, NULL), EST_OK);
    assert_int_equal(add(other->store, "", NULL, "SAME", FAR_FUTURE, NULL, NULL), EST_OK);
    assert_int_equal(sqlite3_prepare_v2(sqlstore_db(fx->store), sql, -1, &a, NULL), 0);
    assert_int_equal(sqlite3_prepare_v2(sqlstore_db(other->store), sql, -1, &b, NULL), 0);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_step(b), SQLITE_ROW);
    assert_string_not_equal(sqlite3_column_text(a, 0), sqlite3_column_text(b, 0));
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    store_fixture_free(other);
}

static void code_length_and_expiry_limits(void **state)
{
    store_fixture *fx = *state;
    char code[EST_OTP_CODE_MAX + 2];
    est_error err;

    memset(code, 'A', EST_OTP_CODE_MAX);
    code[EST_OTP_CODE_MAX] = '\0';
    assert_int_equal(add(fx->store, "", NULL, code, FAR_FUTURE, NULL, NULL), EST_OK);
    assert_int_equal(consume(fx->store, "", code, NULL, 0, NULL), EST_OK);
    code[EST_OTP_CODE_MAX] = 'A';
    code[EST_OTP_CODE_MAX + 1] = '\0';
    assert_int_equal(add(fx->store, "", NULL, code, FAR_FUTURE, NULL, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "1-64 characters"));
    assert_int_equal(consume(fx->store, "", code, NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(add(fx->store, "", NULL, "", FAR_FUTURE, NULL, &err), EST_E_INPUT);
    assert_int_equal(add(fx->store, "", NULL, NULL, FAR_FUTURE, NULL, &err), EST_E_INPUT);
    assert_int_equal(consume(fx->store, "", "", NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(consume(fx->store, "", NULL, NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(add(fx->store, "", NULL, "NOEXPIRY", 0, NULL, &err), EST_E_INPUT);
    assert_int_equal(fx->store->ops->otp_insert(fx->store->impl, NULL, "X", &err), EST_E_INPUT);
    assert_int_equal(fx->store->ops->otp_list(fx->store->impl, NULL, NULL, &err),
                     EST_E_INTERNAL);
}

static void same_code_twice_is_a_conflict(void **state)
{
    store_fixture *fx = *state;
    est_error err;

    assert_int_equal(add(fx->store, "", NULL, "DUP", FAR_FUTURE, NULL, NULL), EST_OK);
    assert_int_equal(add(fx->store, "other", NULL, "DUP", FAR_FUTURE, NULL, &err),
                     EST_E_CONFLICT);
    assert_non_null(strstr(err.message, "exists"));
}

static void serial_of_the_issued_certificate(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *cert = store_fixture_cert("0A1B", FAR_FUTURE, 10);
    collected c = {0};
    int64_t used = 0, fresh = 0;
    est_error err;

    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, cert, NULL), EST_OK);
    assert_int_equal(add(fx->store, "", NULL, "USED", FAR_FUTURE, &used, NULL), EST_OK);
    assert_int_equal(add(fx->store, "", NULL, "FRESH", FAR_FUTURE, &fresh, NULL), EST_OK);
    assert_int_equal(consume(fx->store, "", "USED", NULL, 0, NULL), EST_OK);
    /* An unused code has no certificate; an unknown serial is none. */
    assert_int_equal(fx->store->ops->otp_set_serial(fx->store->impl, fresh, "0A1B", &err),
                     EST_E_NOT_FOUND);
    assert_int_equal(fx->store->ops->otp_set_serial(fx->store->impl, used + 100, "0A1B", &err),
                     EST_E_NOT_FOUND);
    assert_int_equal(fx->store->ops->otp_set_serial(fx->store->impl, used, "FFFF", &err),
                     EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "no certificate with serial FFFF"));
    assert_int_equal(fx->store->ops->otp_set_serial(fx->store->impl, used, "0x1B", &err),
                     EST_E_INPUT);
    assert_int_equal(fx->store->ops->otp_set_serial(fx->store->impl, used, NULL, &err),
                     EST_E_INPUT);
    assert_int_equal(fx->store->ops->otp_set_serial(fx->store->impl, used, "0a1b", &err), EST_OK);
    assert_int_equal(fx->store->ops->otp_list(fx->store->impl, collect, &c, NULL), EST_OK);
    assert_int_equal(c.n, 2);
    est_cert_record_free(cert);
}

typedef struct serial_seen {
    int64_t id;
    char serial[41];
} serial_seen;

static int find_serial(const est_otp_record *rec, void *arg)
{
    serial_seen *s = arg;

    if (rec->id == s->id && rec->used_serial != NULL)
        snprintf(s->serial, sizeof s->serial, "%s", rec->used_serial);
    return 0;
}

static void serial_is_stored_in_uppercase(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *cert = store_fixture_cert("ABCD", FAR_FUTURE, 10);
    serial_seen seen = {0};

    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, cert, NULL), EST_OK);
    assert_int_equal(add(fx->store, "", NULL, "C1", FAR_FUTURE, &seen.id, NULL), EST_OK);
    assert_int_equal(consume(fx->store, "", "C1", NULL, 0, NULL), EST_OK);
    assert_int_equal(fx->store->ops->otp_set_serial(fx->store->impl, seen.id, "abcd", NULL),
                     EST_OK);
    assert_int_equal(fx->store->ops->otp_list(fx->store->impl, find_serial, &seen, NULL), EST_OK);
    assert_string_equal(seen.serial, "ABCD");
    est_cert_record_free(cert);
}

static void list_pages_in_id_order_and_stops(void **state)
{
    store_fixture *fx = *state;
    collected c = {0};
    char code[16];

    for (int i = 0; i < (int)PAGE + 1; i++) {
        snprintf(code, sizeof code, "CODE%d", i);
        assert_int_equal(add(fx->store, i % 2 ? "iot" : "", i % 3 ? NULL : "CN=a", code,
                             FAR_FUTURE, NULL, NULL), EST_OK);
    }
    assert_int_equal(fx->store->ops->otp_list(fx->store->impl, collect, &c, NULL), EST_OK);
    assert_int_equal(c.n, PAGE + 1);
    for (size_t i = 1; i < c.n; i++)
        assert_true(c.rows[i].id > c.rows[i - 1].id);
    memset(&c, 0, sizeof c);
    c.stop_after = 3;
    assert_int_equal(fx->store->ops->otp_list(fx->store->impl, collect, &c, NULL), EST_OK);
    assert_int_equal(c.n, 3);
}

typedef struct racer {
    const char *path;
    est_status rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    est_store *store = NULL;

    r->rc = est_store_open(r->path, 0, NULL, &store, NULL);
    if (r->rc == EST_OK)
        r->rc = consume(store, "", "RACE", NULL, 0, NULL);
    est_store_close(store);
    return NULL;
}

/* Four store objects (as four estd processes or nodes, on SQLite or on
 * one PostgreSQL) race for one code: one wins. */
static void racing_consumers_get_the_code_once(void **state)
{
    store_fixture *fx = *state;
    racer r[4];
    pthread_t t[4];
    int ok = 0;

    assert_int_equal(add(fx->store, "", NULL, "RACE", FAR_FUTURE, NULL, NULL), EST_OK);
    for (int i = 0; i < 4; i++) {
        r[i].path = fx->path;
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].rc == EST_OK;
        assert_true(r[i].rc == EST_OK || r[i].rc == EST_E_AUTH);
    }
    assert_int_equal(ok, 1);
}

/* A store made by the version 1 code: no otp table, no salt, the old
 * indexes, no audit count, user_version 1. Reopening migrates it to the
 * current version, keeping its rows. */
static void version_1_store_is_migrated(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *cert = store_fixture_cert("01", FAR_FUTURE, 10), *got = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, cert, NULL), EST_OK);
    est_store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE otp; DELETE FROM meta WHERE key = 'otp_salt';"
                                      " ALTER TABLE users DROP COLUMN unlocked_at;"
                                      " ALTER TABLE users DROP COLUMN srp_group;"
                                      " ALTER TABLE users DROP COLUMN srp_salt;"
                                      " ALTER TABLE users DROP COLUMN srp_verifier;"
                                      " DROP INDEX certs_expiry;"
                                      " CREATE INDEX certs_not_after ON certs (not_after);"
                                      " CREATE INDEX certs_spki_sha256 ON certs (spki_sha256);"
                                      " DELETE FROM meta WHERE key = 'nonce_secret';"
                                      " DROP INDEX audit_at; ALTER TABLE audit DROP COLUMN count;"
                                      " INSERT INTO audit (at, event) VALUES (1, 'old');"
                                      " PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_fixture_reopen(fx, NULL), EST_OK);
    db = sqlstore_db(fx->store);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), EST_STORE_SCHEMA_VERSION);
    sqlite3_finalize(st);
    /* Version 5: an old audit row stands for one event. */
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count FROM audit WHERE event = 'old'", -1, &st,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "01", &got, NULL), EST_OK);
    assert_int_equal(add(fx->store, "", NULL, "AFTER", FAR_FUTURE, NULL, NULL), EST_OK);
    assert_int_equal(consume(fx->store, "", "AFTER", NULL, 0, NULL), EST_OK);
    est_cert_record_free(got);
    est_cert_record_free(cert);
}

/* A store whose salt went missing refuses codes instead of hashing with
 * nothing. */
static void missing_salt_is_a_store_error(void **state)
{
    store_fixture *fx = *state;
    est_error err;

    assert_int_equal(sqlite3_exec(sqlstore_db(fx->store),
                                  "DELETE FROM meta WHERE key = 'otp_salt'", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(add(fx->store, "", NULL, "X", FAR_FUTURE, NULL, &err), EST_E_STORE);
    assert_non_null(strstr(err.message, "salt"));
    assert_int_equal(consume(fx->store, "", "X", NULL, 0, &err), EST_E_STORE);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, store_fixture_test_setup, \
                                                 store_fixture_test_teardown)
    const struct CMUnitTest tests[] = {
        T(code_works_once),
        T(wrong_code_and_other_label_are_not_found),
        T(expiry_at_and_one_before_the_limit),
        T(subject_bound_code_needs_that_subject),
        T(code_length_and_expiry_limits),
        T(same_code_twice_is_a_conflict),
        T(serial_of_the_issued_certificate),
        T(serial_is_stored_in_uppercase),
        T(list_pages_in_id_order_and_stops),
        T(racing_consumers_get_the_code_once),
    };
    const struct CMUnitTest sqlite_only[] = {
        T(only_a_salted_hash_is_stored),
        T(each_store_has_its_own_salt),
        T(version_1_store_is_migrated),
        T(missing_salt_is_a_store_error),
    };
#undef T
    return store_fixture_run_suites(tests, sizeof tests / sizeof tests[0], sqlite_only,
                                    sizeof sqlite_only / sizeof sqlite_only[0]);
}
