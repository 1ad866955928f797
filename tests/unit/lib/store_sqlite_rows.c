/* Tests src/lib/store_sqlite_rows.c: every store operation on a real
 * SQLite store: certificates (insert, lookup in any case, list with
 * filters and paging, revoke), users, pending requests, audit events. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include "estkit/store.h"
#include "store_fixture.h"
#include "store_sqlite_internal.h"

/* Rows one page of a listing holds (store_sqlite_internal.h,
 * store_pg_internal.h): the suite runs once per backend. */
#define PAGE store_fixture_page()
#define PAGE_MAX STORE_FIXTURE_PAGE_MAX

static est_status insert(est_store *store, const char *serial, int64_t not_after, est_error *err)
{
    est_cert_record *rec = store_fixture_cert(serial, not_after, 32);
    est_status rc = store->ops->cert_insert(store->impl, rec, err);

    est_cert_record_free(rec);
    return rc;
}

/* --- certificates ------------------------------------------------------------ */

static void cert_round_trips_every_field(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("7F00AA", 2000000000, 500), *got = NULL;

    free(rec->label);
    rec->label = strdup("iot");
    rec->issued_at = 1900000000;
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "7F00AA", &got, NULL), EST_OK);
    assert_string_equal(got->serial, "7F00AA");
    assert_string_equal(got->subject, rec->subject);
    assert_string_equal(got->san, rec->san);
    assert_string_equal(got->spki_sha256, rec->spki_sha256);
    assert_int_equal(got->not_before, rec->not_before);
    assert_int_equal(got->not_after, 2000000000);
    assert_int_equal(got->issued_at, 1900000000);
    assert_int_equal(got->status, EST_CERT_VALID);
    assert_int_equal(got->revoked_at, 0);
    assert_int_equal(got->revocation_reason, -1);
    assert_string_equal(got->label, "iot");
    assert_string_equal(got->requester, "alice");
    assert_string_equal(got->auth_method, "basic");
    assert_string_equal(got->operation, "enroll");
    assert_int_equal(got->der_len, 500);
    assert_memory_equal(got->der, rec->der, 500);
    est_cert_record_free(got);
    est_cert_record_free(rec);
}

static void cert_optional_fields_may_be_null(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("0102", 2000000000, 8), *got = NULL;

    free(rec->san);
    free(rec->label);
    free(rec->requester);
    rec->san = rec->label = rec->requester = NULL;
    rec->issued_at = 0; /* = now */
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0102", &got, NULL), EST_OK);
    assert_null(got->san);
    assert_string_equal(got->label, ""); /* the default CA */
    assert_null(got->requester);
    assert_true(got->issued_at >= (int64_t)time(NULL) - 60);
    est_cert_record_free(got);
    est_cert_record_free(rec);
}

static void duplicate_serial_is_conflict_in_any_case(void **state)
{
    store_fixture *fx = *state;
    est_error err;

    assert_int_equal(insert(fx->store, "abcdef01", 2000000000, &err), EST_OK);
    assert_int_equal(insert(fx->store, "ABCDEF01", 2000000000, &err), EST_E_CONFLICT);
    assert_non_null(strstr(err.message, "ABCDEF01"));
    assert_int_equal(insert(fx->store, "abcdef01", 2000000000, &err), EST_E_CONFLICT);
    assert_int_equal(store_fixture_count(fx->store, NULL), 1);
}

static void lookup_is_case_insensitive(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *got = NULL;
    est_error err;

    assert_int_equal(insert(fx->store, "00DEADBEEF", 2000000000, NULL), EST_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "00deadbeef", &got, &err), EST_OK);
    assert_string_equal(got->serial, "00DEADBEEF");
    est_cert_record_free(got);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "00DeAdBeEf", &got, &err), EST_OK);
    est_cert_record_free(got);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "00DEADBEEE", &got, &err),
                     EST_E_NOT_FOUND);
    assert_null(got);
    assert_non_null(strstr(err.message, "00DEADBEEE"));
}

/* RFC 5280 §4.1.2.2: 20 octets, 40 hex digits, and nothing but hex. */
static void serial_text_limits(void **state)
{
    store_fixture *fx = *state;
    char forty[41], forty_one[42];
    est_cert_record *got = NULL;
    est_error err;

    memset(forty, 'A', 40);
    forty[40] = '\0';
    memset(forty_one, 'A', 41);
    forty_one[41] = '\0';
    assert_int_equal(insert(fx->store, forty, 2000000000, &err), EST_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, forty, &got, &err), EST_OK);
    est_cert_record_free(got);
    got = NULL;
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, forty_one, &got, &err),
                     EST_E_INPUT);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "serial=0A", &got, &err),
                     EST_E_INPUT);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "", &got, &err), EST_E_INPUT);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0A ", &got, &err), EST_E_INPUT);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0A'; --", &got, &err),
                     EST_E_INPUT);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, NULL, &got, &err), EST_E_INPUT);
    assert_null(got);
    assert_int_equal(insert(fx->store, "XYZ", 2000000000, &err), EST_E_INPUT);
}

static void incomplete_records_are_refused(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("01", 2000000000, 8);
    uint8_t *der = rec->der;
    char *subject = rec->subject;
    est_error err;

    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, NULL, &err), EST_E_INPUT);
    rec->der = NULL;
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, &err), EST_E_INPUT);
    rec->der = der;
    rec->der_len = 0;
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, &err), EST_E_INPUT);
    rec->der_len = 8;
    rec->subject = NULL;
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, &err), EST_E_INPUT);
    rec->subject = subject;
    rec->spki_sha256[0] = '\0';
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, &err), EST_E_INPUT);
    rec->spki_sha256[0] = 'a';
    rec->status = (est_cert_status)2;
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, &err), EST_E_INPUT);
    assert_int_equal(store_fixture_count(fx->store, NULL), 0);
    est_cert_record_free(rec);
}

typedef struct seen {
    char serials[4 * PAGE_MAX][41];
    size_t n;
    size_t stop_after; /* 0 = never */
    est_store *lookup; /* non-NULL: look each one up from inside the callback */
    int lookups_ok;
} seen;

static int record_serial(const est_cert_record *rec, void *arg)
{
    seen *s = arg;
    est_cert_record *again = NULL;

    snprintf(s->serials[s->n++], sizeof s->serials[0], "%s", rec->serial);
    if (s->lookup != NULL &&
        s->lookup->ops->cert_get(s->lookup->impl, rec->serial, &again, NULL) == EST_OK)
        s->lookups_ok++;
    est_cert_record_free(again);
    return s->stop_after != 0 && s->n == s->stop_after;
}

static void list_filters_and_orders_by_expiry(void **state)
{
    store_fixture *fx = *state;
    est_cert_filter expiring = {.expiring_before = 2000000300};
    est_cert_filter valid = {.only_valid = 1};
    est_cert_filter both = {.expiring_before = 2000000300, .only_valid = 1};
    seen *s = calloc(1, sizeof *s);

    assert_int_equal(insert(fx->store, "03", 2000000300, NULL), EST_OK); /* not before 300 */
    assert_int_equal(insert(fx->store, "01", 2000000200, NULL), EST_OK);
    assert_int_equal(insert(fx->store, "02", 2000000100, NULL), EST_OK);
    assert_int_equal(insert(fx->store, "04", 2000000100, NULL), EST_OK);
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "04", 1, 0, NULL), EST_OK);
    assert_int_equal(fx->store->ops->cert_list(fx->store->impl, NULL, record_serial, s, NULL),
                     EST_OK);
    assert_int_equal(s->n, 4);
    assert_string_equal(s->serials[0], "02"); /* soonest first, then by serial */
    assert_string_equal(s->serials[1], "04");
    assert_string_equal(s->serials[2], "01");
    assert_string_equal(s->serials[3], "03");
    assert_int_equal(store_fixture_count(fx->store, &expiring), 3);
    assert_int_equal(store_fixture_count(fx->store, &valid), 3);
    assert_int_equal(store_fixture_count(fx->store, &both), 2);
    assert_int_equal(fx->store->ops->cert_list(fx->store->impl, NULL, NULL, NULL, NULL),
                     EST_E_INTERNAL);
    free(s);
}

/* The filters `certs list` offers: status, a not_after range, issued
 * since, a subject or SAN substring in any case; together they intersect. */
static void list_filters_by_status_text_and_dates(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("0A", 2000000100, 8);
    est_cert_filter revoked = {.only_revoked = 1};
    est_cert_filter from = {.not_after_from = 2000000200};
    est_cert_filter since = {.issued_since = 1999913800};
    est_cert_filter text = {.contains = "ROUTER"};
    est_cert_filter san = {.contains = "gw.example"};
    est_cert_filter none = {.contains = "nobody"};
    est_cert_filter all = {.contains = "router", .only_valid = 1, .not_after_from = 2000000100,
                           .expiring_before = 2000000300, .issued_since = 1};

    free(rec->subject);
    rec->subject = strdup("CN=router-7,O=Example");
    free(rec->san);
    rec->san = strdup("DNS:gw.example");
    assert_int_equal(fx->store->ops->cert_insert(fx->store->impl, rec, NULL), EST_OK);
    assert_int_equal(insert(fx->store, "0B", 2000000200, NULL), EST_OK);
    assert_int_equal(insert(fx->store, "0C", 2000000300, NULL), EST_OK);
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0C", 1, 0, NULL), EST_OK);
    assert_int_equal(store_fixture_count(fx->store, &revoked), 1);
    assert_int_equal(store_fixture_count(fx->store, &from), 2);
    assert_int_equal(store_fixture_count(fx->store, &since), 2); /* issued_at = not_after - 1 day */
    assert_int_equal(store_fixture_count(fx->store, &text), 1);
    assert_int_equal(store_fixture_count(fx->store, &san), 1);
    assert_int_equal(store_fixture_count(fx->store, &none), 0);
    assert_int_equal(store_fixture_count(fx->store, &all), 1);
    all.not_after_from = 2000000101;
    assert_int_equal(store_fixture_count(fx->store, &all), 0);
    est_cert_record_free(rec);
}

/* Paging: every row exactly once across page boundaries, including rows
 * sharing a notAfter across a boundary; the callback may use the store;
 * a non-zero return stops. */
static void list_pages_through_many_rows(void **state)
{
    store_fixture *fx = *state;
    size_t total = 2 * PAGE + 7;
    seen *s = calloc(1, sizeof *s);
    char serial[16];

    for (size_t i = 0; i < total; i++) {
        snprintf(serial, sizeof serial, "%04zX", i);
        assert_int_equal(insert(fx->store, serial, 2000000000 + (int64_t)(i / 5), NULL), EST_OK);
    }
    s->lookup = fx->store;
    assert_int_equal(fx->store->ops->cert_list(fx->store->impl, NULL, record_serial, s, NULL),
                     EST_OK);
    assert_int_equal(s->n, total);
    assert_int_equal(s->lookups_ok, total);
    for (size_t i = 0; i < total; i++) {
        snprintf(serial, sizeof serial, "%04zX", i);
        assert_string_equal(s->serials[i], serial);
    }
    memset(s, 0, sizeof *s);
    s->stop_after = PAGE + 1;
    assert_int_equal(fx->store->ops->cert_list(fx->store->impl, NULL, record_serial, s, NULL),
                     EST_OK);
    assert_int_equal(s->n, PAGE + 1);
    memset(s, 0, sizeof *s);
    for (size_t i = total; i < 3 * PAGE; i++) { /* exactly three full pages */
        snprintf(serial, sizeof serial, "%04zX", i);
        assert_int_equal(insert(fx->store, serial, 2100000000, NULL), EST_OK);
    }
    assert_int_equal(store_fixture_count(fx->store, NULL), 3 * PAGE);
    free(s);
}

static void revoke_once_then_conflict(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *got = NULL;
    est_error err;

    assert_int_equal(insert(fx->store, "0ABC", 2000000000, NULL), EST_OK);
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0abc", 1, 1700000000, &err),
                     EST_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0ABC", &got, NULL), EST_OK);
    assert_int_equal(got->status, EST_CERT_REVOKED);
    assert_int_equal(got->revoked_at, 1700000000);
    assert_int_equal(got->revocation_reason, 1);
    est_cert_record_free(got);
    /* The first revocation's date and reason stand. */
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0ABC", 4, 1800000000, &err),
                     EST_E_CONFLICT);
    assert_non_null(strstr(err.message, "already revoked"));
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0ABC", &got, NULL), EST_OK);
    assert_int_equal(got->revoked_at, 1700000000);
    assert_int_equal(got->revocation_reason, 1);
    est_cert_record_free(got);
}

static void revoke_unknown_and_bad_reasons(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *got = NULL;
    time_t before = time(NULL);
    est_error err;

    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0DEF", 0, 0, &err),
                     EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "0DEF"));
    assert_int_equal(insert(fx->store, "0DEF", 2000000000, NULL), EST_OK);
    /* RFC 5280 §5.3.1: 7 is unassigned, 10 (aACompromise) is the last. */
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0DEF", 7, 0, &err),
                     EST_E_INPUT);
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0DEF", 11, 0, &err),
                     EST_E_INPUT);
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0DEF", -2, 0, &err),
                     EST_E_INPUT);
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0DE=", 1, 0, &err),
                     EST_E_INPUT);
    /* -1: no reason code; when 0: now. */
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0DEF", -1, 0, &err), EST_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0DEF", &got, NULL), EST_OK);
    assert_int_equal(got->revocation_reason, -1);
    assert_true(got->revoked_at >= (int64_t)before && got->revoked_at <= (int64_t)time(NULL));
    est_cert_record_free(got);
    assert_int_equal(insert(fx->store, "0DF0", 2000000000, NULL), EST_OK);
    assert_int_equal(fx->store->ops->cert_revoke(fx->store->impl, "0DF0", 10, 5, &err), EST_OK);
}

/* --- users ------------------------------------------------------------------- */

static est_user_record user(const char *name, const char *hash)
{
    est_user_record u = {.name = (char *)name, .password_hash = (char *)hash};
    return u;
}

static void users_add_get_replace_delete(void **state)
{
    store_fixture *fx = *state;
    const est_store_ops *ops = fx->store->ops;
    est_user_record bob = user("bob", "hash-1"), *got = NULL;
    int64_t created;
    est_error err;

    bob.digest_realm = "estd";
    bob.digest_ha1_md5 = "0123";
    bob.digest_ha1_sha256 = "4567";
    bob.created_at = 1600000000;
    assert_int_equal(ops->user_put(fx->store->impl, &bob, 0, &err), EST_OK);
    assert_int_equal(ops->user_get(fx->store->impl, "bob", &got, &err), EST_OK);
    assert_string_equal(got->name, "bob");
    assert_string_equal(got->password_hash, "hash-1");
    assert_string_equal(got->digest_realm, "estd");
    assert_string_equal(got->digest_ha1_md5, "0123");
    assert_string_equal(got->digest_ha1_sha256, "4567");
    created = got->created_at;
    assert_int_equal(created, 1600000000);
    est_user_record_free(got);

    bob.password_hash = "hash-2";
    assert_int_equal(ops->user_put(fx->store->impl, &bob, 0, &err), EST_E_CONFLICT);
    assert_non_null(strstr(err.message, "bob"));
    bob.digest_ha1_md5 = NULL;
    bob.created_at = 1700000000;
    assert_int_equal(ops->user_put(fx->store->impl, &bob, 1, &err), EST_OK);
    assert_int_equal(ops->user_get(fx->store->impl, "bob", &got, &err), EST_OK);
    assert_string_equal(got->password_hash, "hash-2");
    assert_null(got->digest_ha1_md5);
    assert_int_equal(got->created_at, created); /* a replaced user keeps its date */
    est_user_record_free(got);

    assert_int_equal(ops->user_get(fx->store->impl, "Bob", &got, &err), EST_E_NOT_FOUND);
    assert_null(got);
    assert_int_equal(ops->user_delete(fx->store->impl, "bob", &err), EST_OK);
    assert_int_equal(ops->user_get(fx->store->impl, "bob", &got, &err), EST_E_NOT_FOUND);
    assert_int_equal(ops->user_delete(fx->store->impl, "bob", &err), EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "bob"));
}

/* Schema 3: an SRP verifier round-trips and is replaced with the password;
 * user_unlock stamps the row, survives a password change, and names a
 * missing user. */
static void users_srp_verifier_and_unlock(void **state)
{
    store_fixture *fx = *state;
    const est_store_ops *ops = fx->store->ops;
    est_user_record sam = user("sam", "hash-1"), *got = NULL;
    est_error err;

    sam.srp_group = "3072";
    sam.srp_salt = "ABCD";
    sam.srp_verifier = "0123456789";
    assert_int_equal(ops->user_put(fx->store->impl, &sam, 0, &err), EST_OK);
    assert_int_equal(ops->user_get(fx->store->impl, "sam", &got, &err), EST_OK);
    assert_string_equal(got->srp_group, "3072");
    assert_string_equal(got->srp_salt, "ABCD");
    assert_string_equal(got->srp_verifier, "0123456789");
    assert_int_equal(got->unlocked_at, 0);
    est_user_record_free(got);
    assert_int_equal(ops->user_unlock(fx->store->impl, "sam", 1700000000, &err), EST_OK);
    sam.srp_group = sam.srp_salt = sam.srp_verifier = NULL; /* --force without --srp */
    assert_int_equal(ops->user_put(fx->store->impl, &sam, 1, &err), EST_OK);
    assert_int_equal(ops->user_get(fx->store->impl, "sam", &got, &err), EST_OK);
    assert_null(got->srp_verifier);
    assert_int_equal(got->unlocked_at, 1700000000);
    est_user_record_free(got);
    assert_int_equal(ops->user_unlock(fx->store->impl, "nobody", 1, &err), EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "nobody"));
}

static void users_refuse_incomplete_records(void **state)
{
    store_fixture *fx = *state;
    const est_store_ops *ops = fx->store->ops;
    est_user_record u = user("", "h");
    est_user_record *got = NULL;
    est_error err;

    assert_int_equal(ops->user_put(fx->store->impl, &u, 0, &err), EST_E_INPUT);
    u = user(NULL, "h");
    assert_int_equal(ops->user_put(fx->store->impl, &u, 0, &err), EST_E_INPUT);
    u = user("carol", NULL);
    assert_int_equal(ops->user_put(fx->store->impl, &u, 0, &err), EST_E_INPUT);
    assert_int_equal(ops->user_put(fx->store->impl, NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(ops->user_get(fx->store->impl, NULL, &got, &err), EST_E_INPUT);
    assert_int_equal(ops->user_delete(fx->store->impl, NULL, &err), EST_E_INPUT);
    /* Names are data, never SQL. */
    u = user("x'); DROP TABLE users; --", "h");
    assert_int_equal(ops->user_put(fx->store->impl, &u, 0, &err), EST_OK);
    assert_int_equal(ops->user_get(fx->store->impl, u.name, &got, &err), EST_OK);
    est_user_record_free(got);
}

typedef struct names {
    char list[2 * PAGE_MAX + 3][16];
    size_t n;
} names;

static int record_name(const est_user_record *rec, void *arg)
{
    names *n = arg;
    snprintf(n->list[n->n++], sizeof n->list[0], "%s", rec->name);
    return 0;
}

static void users_list_in_name_order_across_pages(void **state)
{
    store_fixture *fx = *state;
    names *n = calloc(1, sizeof *n);
    char name[16];

    for (int i = (int)(2 * PAGE + 2); i >= 0; i--) {
        est_user_record u = user(name, "h");
        snprintf(name, sizeof name, "user%03d", i);
        assert_int_equal(fx->store->ops->user_put(fx->store->impl, &u, 0, NULL), EST_OK);
    }
    assert_int_equal(fx->store->ops->user_list(fx->store->impl, record_name, n, NULL), EST_OK);
    assert_int_equal(n->n, 2 * PAGE + 3);
    for (int i = 0; i < (int)(2 * PAGE + 3); i++) {
        snprintf(name, sizeof name, "user%03d", i);
        assert_string_equal(n->list[i], name);
    }
    assert_int_equal(fx->store->ops->user_list(fx->store->impl, NULL, NULL, NULL),
                     EST_E_INTERNAL);
    free(n);
}

/* --- pending requests ------------------------------------------------------- */

static est_pending_record pending(const char *label, char hash_digit)
{
    static uint8_t csr[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    est_pending_record p = {0};

    p.label = (char *)label;
    memset(p.csr_sha256, hash_digit, 64);
    p.requester = "alice";
    p.auth_method = "basic";
    p.operation = "enroll";
    p.subject = "CN=device";
    p.status = EST_PENDING_WAITING;
    p.csr_der = csr;
    p.csr_der_len = sizeof csr;
    return p;
}

static void pending_insert_get_find_newest(void **state)
{
    store_fixture *fx = *state;
    const est_store_ops *ops = fx->store->ops;
    est_pending_record a = pending("iot", 'a'), again = pending("iot", 'a');
    est_pending_record other = pending("", 'a'), *got = NULL;
    char hash[65];
    est_error err;

    assert_int_equal(ops->pending_insert(fx->store->impl, &a, &err), EST_OK);
    assert_true(a.id > 0);
    assert_int_equal(ops->pending_get(fx->store->impl, a.id, &got, &err), EST_OK);
    assert_int_equal(got->id, a.id);
    assert_string_equal(got->label, "iot");
    assert_memory_equal(got->csr_sha256, a.csr_sha256, 65);
    assert_string_equal(got->requester, "alice");
    assert_string_equal(got->auth_method, "basic");
    assert_string_equal(got->operation, "enroll");
    assert_string_equal(got->subject, "CN=device");
    assert_int_equal(got->status, EST_PENDING_WAITING);
    assert_null(got->reason);
    assert_null(got->cert_serial);
    assert_true(got->created_at > 0 && got->updated_at == got->created_at);
    assert_int_equal(got->csr_der_len, a.csr_der_len);
    assert_memory_equal(got->csr_der, a.csr_der, a.csr_der_len);
    est_pending_record_free(got);

    assert_int_equal(ops->pending_insert(fx->store->impl, &again, &err), EST_OK);
    assert_true(again.id > a.id);
    assert_int_equal(ops->pending_insert(fx->store->impl, &other, &err), EST_OK);
    assert_int_equal(ops->pending_find(fx->store->impl, "iot", a.csr_sha256, &got, &err), EST_OK);
    assert_int_equal(got->id, again.id); /* the newest */
    est_pending_record_free(got);
    assert_int_equal(ops->pending_find(fx->store->impl, NULL, a.csr_sha256, &got, &err), EST_OK);
    assert_int_equal(got->id, other.id); /* NULL label = the default CA, "" */
    est_pending_record_free(got);
    memset(hash, 'b', 64);
    hash[64] = '\0';
    assert_int_equal(ops->pending_find(fx->store->impl, "iot", hash, &got, &err),
                     EST_E_NOT_FOUND);
    assert_null(got);
    assert_int_equal(ops->pending_find(fx->store->impl, "iot", NULL, &got, &err), EST_E_INPUT);
    assert_int_equal(ops->pending_get(fx->store->impl, 9999, &got, &err), EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "9999"));
}

static void pending_update_and_its_certificate(void **state)
{
    store_fixture *fx = *state;
    const est_store_ops *ops = fx->store->ops;
    est_pending_record a = pending("", 'c'), b = pending("", 'd'), *got = NULL;
    est_error err;

    assert_int_equal(ops->pending_insert(fx->store->impl, &a, &err), EST_OK);
    assert_int_equal(ops->pending_insert(fx->store->impl, &b, &err), EST_OK);
    /* Marked issued only once the certificate is in the store. */
    assert_int_equal(ops->pending_update(fx->store->impl, a.id, EST_PENDING_APPROVED, NULL, "0AA1",
                                         &err),
                     EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "0AA1"));
    assert_int_equal(insert(fx->store, "0AA1", 2000000000, NULL), EST_OK);
    assert_int_equal(ops->pending_update(fx->store->impl, a.id, EST_PENDING_APPROVED, NULL, "0aa1",
                                         &err),
                     EST_OK);
    assert_int_equal(ops->pending_get(fx->store->impl, a.id, &got, &err), EST_OK);
    assert_int_equal(got->status, EST_PENDING_APPROVED);
    assert_string_equal(got->cert_serial, "0AA1");
    assert_null(got->reason);
    est_pending_record_free(got);

    assert_int_equal(ops->pending_update(fx->store->impl, b.id, EST_PENDING_REJECTED,
                                         "not a device of ours", NULL, &err),
                     EST_OK);
    assert_int_equal(ops->pending_get(fx->store->impl, b.id, &got, &err), EST_OK);
    assert_int_equal(got->status, EST_PENDING_REJECTED);
    assert_string_equal(got->reason, "not a device of ours");
    assert_null(got->cert_serial);
    est_pending_record_free(got);

    assert_int_equal(ops->pending_update(fx->store->impl, 4242, EST_PENDING_REJECTED, NULL, NULL,
                                         &err),
                     EST_E_NOT_FOUND);
    assert_int_equal(ops->pending_update(fx->store->impl, a.id, (est_pending_status)3, NULL, NULL,
                                         &err),
                     EST_E_INPUT);
    assert_int_equal(ops->pending_update(fx->store->impl, a.id, EST_PENDING_APPROVED, NULL,
                                         "not hex", &err),
                     EST_E_INPUT);
    b.status = (est_pending_status)-1;
    assert_int_equal(ops->pending_insert(fx->store->impl, &b, &err), EST_E_INPUT);
    b = pending("", '\0');
    assert_int_equal(ops->pending_insert(fx->store->impl, &b, &err), EST_E_INPUT);
    assert_int_equal(ops->pending_insert(fx->store->impl, NULL, &err), EST_E_INPUT);
}

typedef struct ids {
    int64_t list[2 * PAGE_MAX + 1];
    size_t n;
} ids;

static int record_id(const est_pending_record *rec, void *arg)
{
    ids *i = arg;
    i->list[i->n++] = rec->id;
    return 0;
}

/* Approving is claim, issue, record: of two approvals only the first
 * claims (the second is EST_E_CONFLICT and issues nothing); a failed issue
 * hands the request back; a decided request changes no more. */
static void pending_is_approved_once(void **state)
{
    store_fixture *fx = *state;
    const est_store_ops *ops = fx->store->ops;
    void *impl = fx->store->impl;
    est_pending_record a = pending("", 'e'), *got = NULL;
    est_error err;

    assert_int_equal(ops->pending_insert(impl, &a, &err), EST_OK);
    assert_int_equal(ops->pending_update(impl, a.id, EST_PENDING_APPROVED, NULL, NULL, &err),
                     EST_OK);
    assert_int_equal(ops->pending_update(impl, a.id, EST_PENDING_APPROVED, NULL, NULL, &err),
                     EST_E_CONFLICT);
    assert_non_null(strstr(err.message, "approved already"));
    assert_int_equal(ops->pending_update(impl, a.id, EST_PENDING_REJECTED, "no", NULL, &err),
                     EST_E_CONFLICT);
    assert_int_equal(ops->pending_update(impl, a.id, EST_PENDING_WAITING, NULL, NULL, &err),
                     EST_OK); /* issuing failed: waiting again */
    assert_int_equal(ops->pending_update(impl, a.id, EST_PENDING_APPROVED, NULL, NULL, &err),
                     EST_OK);
    assert_int_equal(insert(fx->store, "0EE1", 2000000000, NULL), EST_OK);
    assert_int_equal(insert(fx->store, "0EE2", 2000000000, NULL), EST_OK);
    assert_int_equal(ops->pending_update(impl, a.id, EST_PENDING_APPROVED, NULL, "0EE1", &err),
                     EST_OK);
    assert_int_equal(ops->pending_update(impl, a.id, EST_PENDING_APPROVED, NULL, "0EE2", &err),
                     EST_E_CONFLICT);
    assert_int_equal(ops->pending_update(impl, a.id, EST_PENDING_WAITING, NULL, NULL, &err),
                     EST_E_CONFLICT);
    assert_int_equal(ops->pending_get(impl, a.id, &got, &err), EST_OK);
    assert_int_equal(got->status, EST_PENDING_APPROVED);
    assert_string_equal(got->cert_serial, "0EE1");
    est_pending_record_free(got);
}

static void pending_list_in_id_order_across_pages(void **state)
{
    store_fixture *fx = *state;
    ids *got = calloc(1, sizeof *got);
    int64_t want[2 * PAGE + 1];

    for (size_t i = 0; i < 2 * PAGE + 1; i++) {
        est_pending_record p = pending("", (char)('a' + i % 6));
        assert_int_equal(fx->store->ops->pending_insert(fx->store->impl, &p, NULL), EST_OK);
        want[i] = p.id;
    }
    assert_int_equal(fx->store->ops->pending_list(fx->store->impl, record_id, got, NULL), EST_OK);
    assert_int_equal(got->n, 2 * PAGE + 1);
    assert_memory_equal(got->list, want, sizeof want);
    assert_int_equal(fx->store->ops->pending_list(fx->store->impl, NULL, NULL, NULL),
                     EST_E_INTERNAL);
    free(got);
}

/* --- audit ----------------------------------------------------------------- */

static void audit_rows_are_appended(void **state)
{
    store_fixture *fx = *state;
    est_audit_event ev = {"issue", "iot", "alice", "CN=device", "0A", "enroll", 1};
    est_audit_event bare = {"auth-fail", NULL, NULL, NULL, NULL, NULL, 0};
    sqlite3 *db = sqlstore_db(fx->store);
    sqlite3_stmt *st = NULL;
    time_t before = time(NULL);
    est_error err;

    assert_int_equal(fx->store->ops->audit_append(fx->store->impl, &ev, &err), EST_OK);
    assert_int_equal(fx->store->ops->audit_append(fx->store->impl, &bare, &err), EST_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT at, event, label, actor, subject, serial, detail"
                                        " FROM audit ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_int64(st, 0) >= (int64_t)before);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "issue");
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "iot");
    assert_string_equal((const char *)sqlite3_column_text(st, 3), "alice");
    assert_string_equal((const char *)sqlite3_column_text(st, 4), "CN=device");
    assert_string_equal((const char *)sqlite3_column_text(st, 5), "0A");
    assert_string_equal((const char *)sqlite3_column_text(st, 6), "enroll");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "auth-fail");
    assert_int_equal(sqlite3_column_type(st, 3), SQLITE_NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    bare.event = "";
    assert_int_equal(fx->store->ops->audit_append(fx->store->impl, &bare, &err), EST_E_INPUT);
    assert_int_equal(fx->store->ops->audit_append(fx->store->impl, NULL, &err), EST_E_INPUT);
}

static int64_t audit_count(store_fixture *fx)
{
    return store_fixture_sql_int(fx, "SELECT count(*) FROM audit");
}

/* The certificate and its audit row commit together, or neither does. */
static void cert_insert_audited_is_one_transaction(void **state)
{
    store_fixture *fx = *state;
    est_cert_record *rec = store_fixture_cert("0BEE", 2000000000, 16), *got = NULL;
    est_audit_event ev = {"issue", "", "alice", "CN=x", "0BEE", "enroll", 1};
    est_error err;

    assert_int_equal(fx->store->ops->cert_insert_audited(fx->store->impl, rec, &ev, &err), EST_OK);
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0bee", &got, &err), EST_OK);
    assert_int_equal(audit_count(fx), 1);
    /* A duplicate serial fails the insert: no audit row either. */
    assert_int_equal(fx->store->ops->cert_insert_audited(fx->store->impl, rec, &ev, &err),
                     EST_E_CONFLICT);
    assert_int_equal(audit_count(fx), 1);
    /* An incomplete audit event refuses the whole insert. */
    memcpy(rec->serial, "0BEF", 5);
    ev.event = "";
    assert_int_not_equal(fx->store->ops->cert_insert_audited(fx->store->impl, rec, &ev, &err),
                         EST_OK);
    est_cert_record_free(got);
    got = NULL;
    assert_int_equal(fx->store->ops->cert_get(fx->store->impl, "0BEF", &got, &err), EST_E_NOT_FOUND);
    assert_int_equal(audit_count(fx), 1);
    est_cert_record_free(rec);
}

/* Runs a statement on fx's database, either backend (the fixture's own
 * query helper is read-only on SQLite). */
static void exec_sql(store_fixture *fx, const char *sql)
{
    if (fx->schema[0] != '\0') {
        PGconn *c = PQconnectdb(fx->path);
        PGresult *r = PQexec(c, sql);
        assert_true(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(r);
        PQfinish(c);
    } else {
        assert_int_equal(sqlite3_exec(sqlstore_db(fx->store), sql, NULL, NULL, NULL),
                         SQLITE_OK);
    }
}

/* Issue #12: client-chosen text reaches audit rows escaped and bounded;
 * a row can stand for several events. */
static void audit_fields_are_escaped_bounded_and_counted(void **state)
{
    store_fixture *fx = *state;
    char long_subject[EST_AUDIT_FIELD_MAX + 2];
    est_audit_event ev = {"auth-fail", "", "eve\x1B[2J\r\nforged\xFF", NULL, NULL, "x", 500};
    est_error err;

    memset(long_subject, 'A', sizeof long_subject - 1);
    long_subject[sizeof long_subject - 1] = '\0';
    assert_int_equal(fx->store->ops->audit_append(fx->store->impl, &ev, &err), EST_OK);
    assert_int_equal(store_fixture_sql_int(fx, "SELECT count(*) FROM audit WHERE count = 500 AND"
                                               " actor = 'eve\\x1B[2J\\x0D\\x0Aforged\\xFF'"), 1);
    /* At the limit the field is whole; one past, it is cut with "...". */
    ev.count = 0;
    ev.subject = long_subject + 1;
    assert_int_equal(fx->store->ops->audit_append(fx->store->impl, &ev, &err), EST_OK);
    ev.subject = long_subject;
    assert_int_equal(fx->store->ops->audit_append(fx->store->impl, &ev, &err), EST_OK);
    assert_int_equal(store_fixture_sql_int(fx, "SELECT count(*) FROM audit WHERE count = 1 AND"
                                               " length(subject) = 1024"), 2);
    assert_int_equal(store_fixture_sql_int(fx, "SELECT count(*) FROM audit WHERE"
                                               " substr(subject, 1022, 3) = '...'"), 1);
    /* The certificate's audit row is escaped too. */
    {
        est_cert_record *rec = store_fixture_cert("0C", 2000000000, 8);
        est_audit_event issue = {"issue", "", "dev\x1B", "CN=\x07", "0C", "enroll", 1};
        assert_int_equal(fx->store->ops->cert_insert_audited(fx->store->impl, rec, &issue, &err),
                         EST_OK);
        assert_int_equal(store_fixture_sql_int(fx, "SELECT count(*) FROM audit WHERE"
                                                   " actor = 'dev\\x1B' AND subject = 'CN=\\x07'"),
                         1);
        est_cert_record_free(rec);
    }
}

/* `estd audit prune`: by age, by row count; recent rows stay. */
static void audit_prune_by_age_and_by_rows(void **state)
{
    store_fixture *fx = *state;
    est_audit_event ev = {"auth-fail", "", "eve", NULL, NULL, NULL, 1};
    est_audit_prune by_age = {1000, 0}, by_rows = {0, 2};
    int64_t removed = -1;
    est_error err;

    for (int i = 0; i < 6; i++)
        assert_int_equal(fx->store->ops->audit_append(fx->store->impl, &ev, &err), EST_OK);
    /* Rows 1-3 are old: at 999, 1000, 1001. */
    exec_sql(fx, "UPDATE audit SET at = 998 + id WHERE id <= 3");
    assert_int_equal(fx->store->ops->audit_prune(fx->store->impl, &by_age, &removed, &err), EST_OK);
    assert_int_equal(removed, 1); /* at < before: 999 only */
    assert_int_equal(store_fixture_sql_int(fx, "SELECT min(id) * 100 + count(*) FROM audit"), 205);
    assert_int_equal(fx->store->ops->audit_prune(fx->store->impl, &by_rows, &removed, &err), EST_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(store_fixture_sql_int(fx, "SELECT min(id) * 100 + count(*) FROM audit"), 502);
    /* Nothing (more) to remove is no error. */
    assert_int_equal(fx->store->ops->audit_prune(fx->store->impl, &by_rows, &removed, &err), EST_OK);
    assert_int_equal(removed, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, store_fixture_test_setup, \
                                                 store_fixture_test_teardown)
    const struct CMUnitTest tests[] = {
        T(audit_fields_are_escaped_bounded_and_counted),
        T(audit_prune_by_age_and_by_rows),
        T(cert_round_trips_every_field),
        T(cert_optional_fields_may_be_null),
        T(duplicate_serial_is_conflict_in_any_case),
        T(lookup_is_case_insensitive),
        T(serial_text_limits),
        T(incomplete_records_are_refused),
        T(list_filters_and_orders_by_expiry),
        T(list_pages_through_many_rows),
        T(list_filters_by_status_text_and_dates),
        T(revoke_once_then_conflict),
        T(revoke_unknown_and_bad_reasons),
        T(users_add_get_replace_delete),
        T(users_srp_verifier_and_unlock),
        T(users_refuse_incomplete_records),
        T(users_list_in_name_order_across_pages),
        T(pending_insert_get_find_newest),
        T(pending_update_and_its_certificate),
        T(pending_is_approved_once),
        T(pending_list_in_id_order_across_pages),
        T(cert_insert_audited_is_one_transaction),
    };
    const struct CMUnitTest sqlite_only[] = {
        T(audit_rows_are_appended),
    };
#undef T
    return store_fixture_run_suites(tests, sizeof tests / sizeof tests[0], sqlite_only,
                                    sizeof sqlite_only / sizeof sqlite_only[0]);
}
