/* Tests src/lib/auth_digest_nonce.c: authentic, expiring, replay-proof
 * Digest nonces (RFC 7616 §3.3, §5.4, §5.5). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "estkit/auth.h"
#include "unit_main.h"

#define LIFETIME 300
#define T0 ((time_t)1700000000)
/* NONCE_TABLE_SIZE in auth_digest_nonce.c. */
#define TABLE_SIZE 4096

static int setup(void **state)
{
    *state = est_digest_nonces_new(LIFETIME);
    return *state == NULL;
}

static int teardown(void **state)
{
    est_digest_nonces_free(*state);
    return 0;
}

static void issue(est_digest_nonces *book, time_t now, char out[128])
{
    assert_int_equal(est_digest_nonce_issue(book, now, out, 128, NULL), EST_OK);
}

static est_status check(est_digest_nonces *book, const char *nonce, const char *nc, time_t now,
                        est_error *err)
{
    est_status rc = est_digest_nonce_check(book, nonce, nc, now, err);
    if (err != NULL && rc != EST_OK)
        assert_int_equal(err->code, rc);
    return rc;
}

static void fresh_nonce_is_accepted(void **state)
{
    est_digest_nonces *book = *state;
    char a[128], b[128];
    (void)state;
    issue(book, T0, a);
    issue(book, T0, b);
    assert_true(strlen(a) > 0 && strlen(a) < 128);
    assert_string_not_equal(a, b);
    /* Only URL-safe base64: it goes inside a quoted-string. */
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     strlen(a));
    assert_int_equal(check(book, a, "00000001", T0 + 1, NULL), EST_OK);
    assert_int_equal(check(book, b, "00000001", T0, NULL), EST_OK);
}

/* Two servers holding one secret (estd nodes sharing a store) accept each
 * other's nonces; a third with its own secret does not. Secrets of 16-32
 * bytes only. */
static void shared_secret_nonces_pass_between_books(void **state)
{
    est_digest_nonces *a = *state, *b = est_digest_nonces_new(LIFETIME),
                      *c = est_digest_nonces_new(LIFETIME);
    uint8_t secret[33];
    char nonce[128];

    memset(secret, 0x5a, sizeof secret);
    assert_int_equal(est_digest_nonces_set_secret(a, secret, 32, NULL), EST_OK);
    assert_int_equal(est_digest_nonces_set_secret(b, secret, 32, NULL), EST_OK);
    issue(a, T0, nonce);
    assert_int_equal(check(b, nonce, "00000001", T0 + 1, NULL), EST_OK);
    assert_int_equal(check(c, nonce, "00000001", T0 + 1, NULL), EST_E_AUTH);
    assert_int_equal(est_digest_nonces_set_secret(c, secret, 16, NULL), EST_OK);
    assert_int_equal(est_digest_nonces_set_secret(c, secret, 15, NULL), EST_E_INPUT);
    assert_int_equal(est_digest_nonces_set_secret(c, secret, 33, NULL), EST_E_INPUT);
    assert_int_equal(est_digest_nonces_set_secret(NULL, secret, 32, NULL), EST_E_INPUT);
    est_digest_nonces_free(b);
    est_digest_nonces_free(c);
}

static void forged_nonces_are_rejected_not_stale(void **state)
{
    est_digest_nonces *book = *state, *other = est_digest_nonces_new(LIFETIME);
    char a[128], forged[128];
    est_error err;
    assert_non_null(other);
    issue(book, T0, a);
    /* Flip one character in each part of the nonce (time, serial,
     * random, MAC): all must fail authentication. */
    for (size_t i = 0; i < strlen(a); i += 7) {
        memcpy(forged, a, sizeof forged);
        forged[i] = forged[i] == 'A' ? 'B' : 'A';
        assert_int_equal(check(book, forged, "00000001", T0, &err), EST_E_AUTH);
        assert_null(strstr(err.message, "stale"));
    }
    /* Truncated, extended, garbage, empty, from another book. */
    memcpy(forged, a, sizeof forged);
    forged[strlen(forged) - 1] = '\0';
    assert_int_equal(check(book, forged, "00000001", T0, &err), EST_E_AUTH);
    snprintf(forged, sizeof forged, "%sAAAA", a);
    assert_int_equal(check(book, forged, "00000001", T0, &err), EST_E_AUTH);
    assert_int_equal(check(book, "1341427174", "00000001", T0, &err), EST_E_AUTH);
    assert_int_equal(check(book, "", "00000001", T0, &err), EST_E_AUTH);
    assert_int_equal(check(book, "a+b/c===", "00000001", T0, &err), EST_E_AUTH);
    issue(other, T0, forged);
    assert_int_equal(check(book, forged, "00000001", T0, &err), EST_E_AUTH);
    assert_null(strstr(err.message, "stale"));
    /* The genuine one was never spoiled by the attempts. */
    assert_int_equal(check(book, a, "00000001", T0, &err), EST_OK);
    est_digest_nonces_free(other);
}

static void expired_nonce_is_stale(void **state)
{
    est_digest_nonces *book = *state;
    char a[128], b[128];
    est_error err;
    issue(book, T0, a);
    issue(book, T0, b);
    assert_int_equal(check(book, a, "00000001", T0 + LIFETIME, &err), EST_OK);
    assert_int_equal(check(book, b, "00000001", T0 + LIFETIME + 1, &err), EST_E_AUTH);
    assert_non_null(strstr(err.message, "stale"));
    /* Expiry holds for nonces already in use too. */
    assert_int_equal(check(book, a, "00000002", T0 + LIFETIME + 1, &err), EST_E_AUTH);
    assert_non_null(strstr(err.message, "stale"));
    /* A clock that stepped back does not make a nonce invalid. */
    issue(book, T0, a);
    assert_int_equal(check(book, a, "00000001", T0 - 10, &err), EST_OK);
}

static void nc_must_strictly_increase(void **state)
{
    est_digest_nonces *book = *state;
    char a[128], b[128];
    est_error err;
    issue(book, T0, a);
    issue(book, T0, b);
    assert_int_equal(check(book, a, "00000001", T0, &err), EST_OK);
    assert_int_equal(check(book, a, "00000001", T0, &err), EST_E_AUTH); /* replay */
    assert_null(strstr(err.message, "stale"));
    assert_int_equal(check(book, a, "00000002", T0, &err), EST_OK);
    assert_int_equal(check(book, a, "0000000a", T0, &err), EST_OK); /* gaps are fine */
    assert_int_equal(check(book, a, "00000009", T0, &err), EST_E_AUTH);
    assert_int_equal(check(book, a, "0000000A", T0, &err), EST_E_AUTH); /* same value */
    assert_int_equal(check(book, a, "0000000B", T0, &err), EST_OK);
    assert_int_equal(check(book, a, "ffffffff", T0, &err), EST_OK);
    assert_int_equal(check(book, a, "ffffffff", T0, &err), EST_E_AUTH);
    /* Counters are per nonce. */
    assert_int_equal(check(book, b, "00000001", T0, &err), EST_OK);
}

static void malformed_nc_is_rejected(void **state)
{
    est_digest_nonces *book = *state;
    static const char *const ncs[] = {"00000000", "0000001", "000000001", "0000000x", "",
                                      "+0000001", " 0000001"};
    char a[128];
    issue(book, T0, a);
    for (size_t i = 0; i < sizeof ncs / sizeof ncs[0]; i++)
        assert_int_equal(check(book, a, ncs[i], T0, NULL), EST_E_AUTH);
    assert_int_equal(check(book, a, NULL, T0, NULL), EST_E_AUTH);
    assert_int_equal(check(book, NULL, "00000001", T0, NULL), EST_E_INPUT);
    assert_int_equal(check(book, a, "00000001", T0, NULL), EST_OK);
}

static void issue_argument_checks(void **state)
{
    est_digest_nonces *book = *state;
    char small[64];
    assert_int_equal(est_digest_nonce_issue(book, T0, small, sizeof small, NULL), EST_E_TOO_LARGE);
    assert_int_equal(est_digest_nonce_issue(NULL, T0, small, sizeof small, NULL), EST_E_INPUT);
    assert_null(est_digest_nonces_new(0));
    est_digest_nonces_free(NULL);
}

/* Issues n fresh nonces at T0 and uses each once. */
static void fill(est_digest_nonces *book, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x[128];
        issue(book, T0, x);
        assert_int_equal(check(book, x, "00000001", T0, NULL), EST_OK);
    }
}

static void full_table_evicts_least_recently_used_as_stale(void **state)
{
    est_digest_nonces *book = *state;
    char a[128], b[128], c[128], unused[128];
    est_error err;
    issue(book, T0, unused); /* issued early, never used */
    issue(book, T0, a);
    issue(book, T0, b);
    assert_int_equal(check(book, a, "00000001", T0, &err), EST_OK);
    assert_int_equal(check(book, b, "00000001", T0, &err), EST_OK);
    fill(book, TABLE_SIZE - 2); /* now exactly full */
    assert_int_equal(check(book, a, "00000002", T0, &err), EST_OK); /* a is recent again */
    issue(book, T0, c);
    assert_int_equal(check(book, c, "00000001", T0, &err), EST_OK); /* evicts b */
    /* b was forgotten: it must not be accepted again with any nc. */
    assert_int_equal(check(book, b, "00000002", T0, &err), EST_E_AUTH);
    assert_non_null(strstr(err.message, "stale"));
    /* a kept its counter. */
    assert_int_equal(check(book, a, "00000002", T0, &err), EST_E_AUTH);
    assert_int_equal(check(book, a, "00000003", T0, &err), EST_OK);
    /* A nonce issued before the forgotten one is stale too (documented
     * cost of the watermark); one issued now is fine. */
    assert_int_equal(check(book, unused, "00000001", T0, &err), EST_E_AUTH);
    assert_non_null(strstr(err.message, "stale"));
    issue(book, T0, c);
    assert_int_equal(check(book, c, "00000001", T0, &err), EST_OK);
}

static void expired_entries_are_reused_without_eviction(void **state)
{
    est_digest_nonces *book = *state;
    char a[128], b[128], early[128];
    est_error err;
    /* Lowest serial, but issued (as the clock says) late enough to be
     * still valid at the end. */
    issue(book, T0 + LIFETIME, early);
    issue(book, T0, a);
    assert_int_equal(check(book, a, "00000001", T0, &err), EST_OK);
    fill(book, TABLE_SIZE - 1); /* full, all at T0 */
    /* Later, everything in the table has expired: new nonces take those
     * slots and nothing is marked forgotten. */
    issue(book, T0 + LIFETIME + 1, b);
    assert_int_equal(check(book, b, "00000001", T0 + LIFETIME + 1, &err), EST_OK);
    assert_int_equal(check(book, b, "00000001", T0 + LIFETIME + 1, &err), EST_E_AUTH);
    assert_null(strstr(err.message, "stale"));
    assert_int_equal(check(book, b, "00000002", T0 + LIFETIME + 1, &err), EST_OK);
    /* Had b evicted a live entry, the watermark would now cover early. */
    assert_int_equal(check(book, early, "00000001", T0 + LIFETIME + 1, &err), EST_OK);
}

UNIT_MAIN(
    cmocka_unit_test_setup_teardown(fresh_nonce_is_accepted, setup, teardown),
    cmocka_unit_test_setup_teardown(forged_nonces_are_rejected_not_stale, setup, teardown),
    cmocka_unit_test_setup_teardown(shared_secret_nonces_pass_between_books, setup, teardown),
    cmocka_unit_test_setup_teardown(expired_nonce_is_stale, setup, teardown),
    cmocka_unit_test_setup_teardown(nc_must_strictly_increase, setup, teardown),
    cmocka_unit_test_setup_teardown(malformed_nc_is_rejected, setup, teardown),
    cmocka_unit_test_setup_teardown(issue_argument_checks, setup, teardown),
    cmocka_unit_test_setup_teardown(full_table_evicts_least_recently_used_as_stale, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(expired_entries_are_reused_without_eviction, setup,
                                    teardown))
