/* Tests src/server/audit_limiter.c: one auth-fail row per address per
 * window, the rest counted and handed out when the window closes; bounded
 * memory (issue #12). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "audit_limiter.h"
#include "unit_main.h"

#define WINDOW 60

static estd_audit_verdict hit(estd_audit_limiter *l, const char *address, int64_t now,
                              estd_audit_window *closed, int *has_closed)
{
    return estd_audit_limiter_hit(l, address, "auth-fail", "iot", now, closed, has_closed);
}

static void first_is_written_the_rest_counted(void **state)
{
    estd_audit_limiter *l = estd_audit_limiter_new(WINDOW);
    estd_audit_window closed, out[4];
    int has_closed = 1;
    (void)state;

    assert_int_equal(hit(l, "192.0.2.1", 1000, &closed, &has_closed), ESTD_AUDIT_WRITE);
    assert_int_equal(has_closed, 0);
    for (int i = 0; i < 499; i++)
        assert_int_equal(hit(l, "192.0.2.1", 1000 + WINDOW - 1, &closed, &has_closed),
                         ESTD_AUDIT_COUNTED);
    /* Another address has its own window. */
    assert_int_equal(hit(l, "192.0.2.2", 1001, &closed, &has_closed), ESTD_AUDIT_WRITE);
    /* Not closed before the window's end; closed at it. */
    assert_int_equal(estd_audit_limiter_take_closed(l, 1000 + WINDOW - 1, out, 4), 0);
    assert_int_equal(estd_audit_limiter_take_closed(l, 1000 + WINDOW, out, 4), 1);
    assert_string_equal(out[0].address, "192.0.2.1");
    assert_string_equal(out[0].label, "iot");
    assert_string_equal(out[0].event, "auth-fail");
    assert_int_equal(out[0].counted, 499);
    assert_int_equal(out[0].start, 1000);
    /* 192.0.2.2 counted nothing: its window closes without a row. */
    assert_int_equal(estd_audit_limiter_take_closed(l, INT64_MAX, out, 4), 0);
    /* After its window the address starts a new one: written again. */
    assert_int_equal(hit(l, "192.0.2.1", 1000 + WINDOW, &closed, &has_closed), ESTD_AUDIT_WRITE);
    estd_audit_limiter_free(l);
}

/* The next failure after the window hands out the old window's count. */
static void next_failure_after_the_window_closes_it(void **state)
{
    estd_audit_limiter *l = estd_audit_limiter_new(WINDOW);
    estd_audit_window closed;
    int has_closed = 0;
    (void)state;

    hit(l, "198.51.100.7", 1000, &closed, &has_closed);
    hit(l, "198.51.100.7", 1001, &closed, &has_closed);
    hit(l, "198.51.100.7", 1002, &closed, &has_closed);
    assert_int_equal(hit(l, "198.51.100.7", 1000 + WINDOW, &closed, &has_closed), ESTD_AUDIT_WRITE);
    assert_int_equal(has_closed, 1);
    assert_int_equal(closed.counted, 2);
    assert_string_equal(closed.address, "198.51.100.7");
    estd_audit_limiter_free(l);
}

/* All slots in use: the oldest window is closed early, its count handed
 * out; memory never grows. */
static void full_table_evicts_the_oldest(void **state)
{
    estd_audit_limiter *l = estd_audit_limiter_new(WINDOW);
    estd_audit_window closed;
    char address[32];
    int has_closed = 0;
    (void)state;

    hit(l, "203.0.113.0", 1000, &closed, &has_closed);
    hit(l, "203.0.113.0", 1000, &closed, &has_closed); /* counted: 1 */
    for (int i = 1; i < ESTD_AUDIT_LIMITER_SLOTS; i++) {
        snprintf(address, sizeof address, "10.0.%d.%d", i / 256, i % 256);
        assert_int_equal(hit(l, address, 1001, &closed, &has_closed), ESTD_AUDIT_WRITE);
        assert_int_equal(has_closed, 0);
    }
    assert_int_equal(hit(l, "203.0.113.99", 1002, &closed, &has_closed), ESTD_AUDIT_WRITE);
    assert_int_equal(has_closed, 1);
    assert_string_equal(closed.address, "203.0.113.0");
    assert_int_equal(closed.counted, 1);
    /* The evicted address starts over: written. */
    assert_int_equal(hit(l, "203.0.113.0", 1003, &closed, &has_closed), ESTD_AUDIT_WRITE);
    estd_audit_limiter_free(l);
}

static void window_zero_writes_every_failure(void **state)
{
    estd_audit_limiter *l = estd_audit_limiter_new(0);
    estd_audit_window closed, out[1];
    int has_closed = 0;
    (void)state;

    for (int i = 0; i < 3; i++)
        assert_int_equal(hit(l, "192.0.2.1", 1000, &closed, &has_closed), ESTD_AUDIT_WRITE);
    assert_int_equal(estd_audit_limiter_take_closed(l, INT64_MAX, out, 1), 0);
    estd_audit_limiter_free(l);
    estd_audit_limiter_free(NULL);
}

/* take_closed with a small out array: call again while it returns cap. */
static void take_closed_pages(void **state)
{
    estd_audit_limiter *l = estd_audit_limiter_new(WINDOW);
    estd_audit_window closed, out[2];
    char address[32];
    int has_closed = 0;
    size_t total = 0, n;
    (void)state;

    for (int i = 0; i < 5; i++) {
        snprintf(address, sizeof address, "192.0.2.%d", i);
        hit(l, address, 1000, &closed, &has_closed);
        hit(l, address, 1000, &closed, &has_closed);
    }
    do {
        n = estd_audit_limiter_take_closed(l, INT64_MAX, out, 2);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(out[i].counted, 1);
        total += n;
    } while (n == 2);
    assert_int_equal(total, 5);
    estd_audit_limiter_free(l);
}

UNIT_MAIN(
    cmocka_unit_test(first_is_written_the_rest_counted),
    cmocka_unit_test(next_failure_after_the_window_closes_it),
    cmocka_unit_test(full_table_evicts_the_oldest),
    cmocka_unit_test(window_zero_writes_every_failure),
    cmocka_unit_test(take_closed_pages))
