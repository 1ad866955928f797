/* Tests src/server/password_gate.c: slots, single flight, the bounded
 * queue (at its limit and one past), FIFO hand-over of freed slots, expiry
 * after wait_ms, and Retry-After. Time is passed in, so nothing sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "password_gate.h"
#include "unit_main.h"

typedef struct waiter {
    int calls;
    estd_gate_verdict verdict;
} waiter;

static void resume(void *arg, estd_gate_verdict verdict)
{
    waiter *w = arg;
    w->calls++;
    w->verdict = verdict;
}

static const unsigned char *tag(int n)
{
    static unsigned char tags[16][ESTD_TAG_LEN];
    memset(tags[n], 0xa0 + n, ESTD_TAG_LEN);
    return tags[n];
}

static void counts(estd_password_gate *g, unsigned running, unsigned queued)
{
    unsigned r, q;
    estd_password_gate_counts(g, &r, &q);
    assert_int_equal(r, running);
    assert_int_equal(q, queued);
}

/* max_running at once, then queue_max queued (the limit), then FULL (one
 * past it). */
static void slots_then_queue_then_full(void **state)
{
    estd_password_gate *g = estd_password_gate_new(2, 3, 1000);
    waiter w[8] = {0};
    (void)state;

    assert_int_equal(estd_password_gate_enter(g, tag(0), resume, &w[0], 0), ESTD_GATE_RUN);
    assert_int_equal(estd_password_gate_enter(g, tag(1), resume, &w[1], 0), ESTD_GATE_RUN);
    for (int i = 2; i < 5; i++)
        assert_int_equal(estd_password_gate_enter(g, tag(i), resume, &w[i], 0), ESTD_GATE_PARKED);
    counts(g, 2, 3);
    assert_int_equal(estd_password_gate_enter(g, tag(5), resume, &w[5], 0), ESTD_GATE_FULL);
    /* The same credentials as a queued check never count against the queue. */
    assert_int_equal(estd_password_gate_enter(g, tag(4), resume, &w[6], 0), ESTD_GATE_PARKED);
    counts(g, 2, 3);
    for (int i = 0; i < 7; i++)
        assert_int_equal(w[i].calls, 0);
    /* Drain: each done hands a slot on, oldest first. */
    estd_password_gate_done(g, tag(0), 1, 10);
    assert_int_equal(w[2].calls, 1);
    assert_int_equal(w[2].verdict, ESTD_GATE_YOUR_TURN);
    assert_int_equal(w[3].calls, 0);
    estd_password_gate_done(g, tag(1), 1, 10);
    assert_int_equal(w[3].verdict, ESTD_GATE_YOUR_TURN);
    estd_password_gate_done(g, tag(2), 1, 10);
    assert_int_equal(w[4].verdict, ESTD_GATE_YOUR_TURN);
    assert_int_equal(w[6].calls, 0); /* waits for w[4]'s hash */
    estd_password_gate_done(g, tag(4), 0, 10);
    assert_int_equal(w[6].calls, 1);
    assert_int_equal(w[6].verdict, ESTD_GATE_WRONG);
    assert_int_equal(w[4].calls, 1);
    estd_password_gate_done(g, tag(3), 1, 10);
    counts(g, 0, 0);
    estd_password_gate_free(g);
}

/* Concurrent checks of one user+password share one hash. */
static void single_flight_shares_the_verdict(void **state)
{
    estd_password_gate *g = estd_password_gate_new(1, 1, 1000);
    waiter w[64] = {0};
    (void)state;

    assert_int_equal(estd_password_gate_enter(g, tag(0), resume, &w[0], 0), ESTD_GATE_RUN);
    for (int i = 1; i < 64; i++)
        assert_int_equal(estd_password_gate_enter(g, tag(0), resume, &w[i], 0), ESTD_GATE_PARKED);
    counts(g, 1, 0);
    estd_password_gate_done(g, tag(0), 1, 5);
    for (int i = 1; i < 64; i++) {
        assert_int_equal(w[i].calls, 1);
        assert_int_equal(w[i].verdict, ESTD_GATE_VERIFIED);
    }
    /* The verdict is not kept: the next check hashes again. */
    assert_int_equal(estd_password_gate_enter(g, tag(0), resume, &w[0], 6), ESTD_GATE_RUN);
    estd_password_gate_done(g, tag(0), 0, 7);
    counts(g, 0, 0);
    estd_password_gate_free(g);
}

/* A queued check that waited more than wait_ms when a slot frees is
 * expired, with everyone waiting on it; one within the bound runs. */
static void expiry_at_and_past_the_bound(void **state)
{
    estd_password_gate *g = estd_password_gate_new(1, 4, 100);
    waiter w[4] = {0};
    (void)state;

    assert_int_equal(estd_password_gate_enter(g, tag(0), resume, &w[0], 0), ESTD_GATE_RUN);
    assert_int_equal(estd_password_gate_enter(g, tag(1), resume, &w[1], 0), ESTD_GATE_PARKED);
    assert_int_equal(estd_password_gate_enter(g, tag(1), resume, &w[2], 0), ESTD_GATE_PARKED);
    assert_int_equal(estd_password_gate_enter(g, tag(2), resume, &w[3], 1), ESTD_GATE_PARKED);
    /* At 101 ms tag 1 has waited 101 > 100: expired; tag 2 waited 100: runs. */
    estd_password_gate_done(g, tag(0), 1, 101);
    assert_int_equal(w[1].verdict, ESTD_GATE_EXPIRED);
    assert_int_equal(w[2].verdict, ESTD_GATE_EXPIRED);
    assert_int_equal(w[3].verdict, ESTD_GATE_YOUR_TURN);
    counts(g, 1, 0);
    estd_password_gate_done(g, tag(2), 1, 102);
    counts(g, 0, 0);
    estd_password_gate_free(g);
}

static void retry_after_is_whole_seconds(void **state)
{
    estd_password_gate *g;
    (void)state;
    g = estd_password_gate_new(1, 1, 1);
    assert_int_equal(estd_password_gate_retry_after(g), 1);
    estd_password_gate_free(g);
    g = estd_password_gate_new(1, 1, 2500);
    assert_int_equal(estd_password_gate_retry_after(g), 3);
    estd_password_gate_free(g);
    assert_null(estd_password_gate_new(0, 1, 1));
    assert_null(estd_password_gate_new(1, 0, 1));
    assert_null(estd_password_gate_new(1, 1, 0));
    estd_password_gate_free(NULL);
}

/* done for credentials nobody is hashing only hands free slots on. */
static void done_without_entry_is_harmless(void **state)
{
    estd_password_gate *g = estd_password_gate_new(1, 2, 1000);
    waiter w = {0};
    (void)state;
    estd_password_gate_done(g, tag(9), 1, 0);
    assert_int_equal(estd_password_gate_enter(g, tag(0), resume, &w, 0), ESTD_GATE_RUN);
    estd_password_gate_done(g, tag(0), 1, 0);
    assert_int_equal(w.calls, 0); /* the runner is not resumed: it hashed itself */
    /* A gate freed with checks still parked frees them too (ASan: no leak). */
    assert_int_equal(estd_password_gate_enter(g, tag(0), resume, &w, 0), ESTD_GATE_RUN);
    assert_int_equal(estd_password_gate_enter(g, tag(1), resume, &w, 0), ESTD_GATE_PARKED);
    estd_password_gate_free(g);
}

UNIT_MAIN(
    cmocka_unit_test(slots_then_queue_then_full),
    cmocka_unit_test(single_flight_shares_the_verdict),
    cmocka_unit_test(expiry_at_and_past_the_bound),
    cmocka_unit_test(retry_after_is_whole_seconds),
    cmocka_unit_test(done_without_entry_is_harmless))
