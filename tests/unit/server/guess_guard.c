/* Tests src/server/guess_guard.c: free failures, exponential back-off,
 * locks and their end, unlock, reservations, and who is not slowed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>
#include "guess_guard.h"
#include "unit_main.h"

static const estd_guess_limits limits = {3, 6, 100, 8}; /* N=3, M=6, 100 s lock, 8 s max */

/* One whole attempt: check, then report a failure when let through. */
static estd_guess_verdict fail_once(estd_guess_guard *g, const char *user, const char *addr,
                                    time_t now)
{
    unsigned retry = 0;
    estd_guess_verdict v = estd_guess_guard_check(g, user, addr, 0, 0, now, &retry);

    if (v == ESTD_GUESS_GO)
        estd_guess_guard_report(g, user, addr, ESTD_GUESS_FAILED, now);
    else
        assert_true(retry >= 1);
    return v;
}

static void free_failures_then_exponential_backoff(void **state)
{
    estd_guess_guard *g = estd_guess_guard_new(&limits);
    unsigned retry = 0;
    (void)state;
    for (int i = 0; i < 3; i++) /* the free allowance, all at t=1000 */
        assert_int_equal(fail_once(g, "alice", "10.0.0.1", 1000), ESTD_GUESS_GO);
    /* 3rd failure at 1000: the 4th check waits 1 s. */
    assert_int_equal(estd_guess_guard_check(g, "alice", "10.0.0.1", 0, 0, 1000, &retry),
                     ESTD_GUESS_DELAYED);
    assert_int_equal(retry, 1);
    assert_int_equal(fail_once(g, "alice", "10.0.0.1", 1001), ESTD_GUESS_GO); /* 4th */
    /* 4 failures: 2 s after the last. */
    assert_int_equal(fail_once(g, "alice", "10.0.0.1", 1002), ESTD_GUESS_DELAYED);
    assert_int_equal(fail_once(g, "alice", "10.0.0.1", 1003), ESTD_GUESS_GO); /* 5th */
    assert_int_equal(estd_guess_guard_check(g, "alice", "10.0.0.1", 0, 0, 1006, &retry),
                     ESTD_GUESS_DELAYED);
    assert_int_equal(retry, 1); /* 4 s after 1003 */
    estd_guess_guard_free(g);
    estd_guess_guard_free(NULL);
}

static void lock_after_m_failures_until_it_ends(void **state)
{
    estd_guess_guard *g = estd_guess_guard_new(&limits);
    unsigned retry = 0;
    time_t t = 1000;
    int locked = 0;
    (void)state;
    /* Different addresses, so only the user counter matters. */
    for (int i = 0; i < 6; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "10.0.1.%d", i);
        assert_int_equal(estd_guess_guard_check(g, "alice", addr, 0, 0, t, &retry),
                         ESTD_GUESS_GO);
        locked = estd_guess_guard_report(g, "alice", addr, ESTD_GUESS_FAILED, t);
        assert_int_equal(locked, i == 5); /* the 6th failure locks */
        t += 10;                          /* beyond every back-off (max 8 s) */
    }
    assert_int_equal(estd_guess_guard_check(g, "alice", "10.9.9.9", 0, 0, t, &retry),
                     ESTD_GUESS_LOCKED);
    /* Locked at t-10 for 100 s: a trusted client is locked out too. */
    assert_int_equal(estd_guess_guard_check(g, "alice", "10.9.9.9", 1, 0, t - 10 + 99, &retry),
                     ESTD_GUESS_LOCKED);
    assert_int_equal(retry, 1);
    assert_int_equal(estd_guess_guard_check(g, "alice", "10.9.9.9", 0, 0, t - 10 + 100, &retry),
                     ESTD_GUESS_GO);
    estd_guess_guard_report(g, "alice", "10.9.9.9", ESTD_GUESS_SUCCEEDED, t + 90);
    estd_guess_guard_free(g);
}

static void operator_unlock_lifts_the_lock(void **state)
{
    estd_guess_guard *g = estd_guess_guard_new(&limits);
    unsigned retry = 0;
    (void)state;
    for (int i = 0; i < 6; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "10.0.2.%d", i);
        fail_once(g, "alice", addr, 1000 + 10 * i);
    }
    assert_int_equal(estd_guess_guard_check(g, "alice", "10.0.3.1", 0, 0, 1060, &retry),
                     ESTD_GUESS_LOCKED);
    /* An unlock before the lock began changes nothing; one after lifts it. */
    assert_int_equal(estd_guess_guard_check(g, "alice", "10.0.3.1", 0, 1049, 1060, &retry),
                     ESTD_GUESS_LOCKED);
    assert_int_equal(estd_guess_guard_check(g, "alice", "10.0.3.1", 0, 1055, 1060, &retry),
                     ESTD_GUESS_GO);
    estd_guess_guard_report(g, "alice", "10.0.3.1", ESTD_GUESS_SUCCEEDED, 1060);
    estd_guess_guard_free(g);
}

static void other_users_and_addresses_are_not_slowed(void **state)
{
    estd_guess_guard *g = estd_guess_guard_new(&limits);
    unsigned retry = 0;
    (void)state;
    for (int i = 0; i < 6; i++)
        fail_once(g, "alice", "10.0.0.1", 1000 + 10 * i);
    /* alice locked, 10.0.0.1 slowed: bob from elsewhere goes straight in. */
    assert_int_equal(estd_guess_guard_check(g, "bob", "10.0.0.2", 0, 0, 1051, &retry),
                     ESTD_GUESS_GO);
    estd_guess_guard_report(g, "bob", "10.0.0.2", ESTD_GUESS_SUCCEEDED, 1051);
    /* bob from the attacker's address is slowed by the address... */
    assert_int_equal(estd_guess_guard_check(g, "bob", "10.0.0.1", 0, 0, 1051, &retry),
                     ESTD_GUESS_DELAYED);
    /* ...unless he presents a verified certificate. */
    assert_int_equal(estd_guess_guard_check(g, "bob", "10.0.0.1", 1, 0, 1051, &retry),
                     ESTD_GUESS_GO);
    estd_guess_guard_report(g, "bob", "10.0.0.1", ESTD_GUESS_SUCCEEDED, 1051);
    /* Now (bob, 10.0.0.1) succeeded recently: it keeps its slot. */
    assert_int_equal(estd_guess_guard_check(g, "bob", "10.0.0.1", 0, 0, 1052, &retry),
                     ESTD_GUESS_GO);
    estd_guess_guard_report(g, "bob", "10.0.0.1", ESTD_GUESS_ABANDONED, 1052);
    estd_guess_guard_free(g);
}

static void recent_success_keeps_its_slot_under_attack(void **state)
{
    estd_guess_guard *g = estd_guess_guard_new(&limits);
    unsigned retry = 0;
    (void)state;
    assert_int_equal(estd_guess_guard_check(g, "carol", "10.0.0.7", 0, 0, 1000, &retry),
                     ESTD_GUESS_GO);
    estd_guess_guard_report(g, "carol", "10.0.0.7", ESTD_GUESS_SUCCEEDED, 1000);
    for (int i = 0; i < 4; i++) /* someone elsewhere: carol's counter in back-off */
        fail_once(g, "carol", "10.6.6.6", 1001);
    assert_int_equal(estd_guess_guard_check(g, "carol", "10.6.6.7", 0, 0, 1001, &retry),
                     ESTD_GUESS_DELAYED);
    assert_int_equal(estd_guess_guard_check(g, "carol", "10.0.0.7", 0, 0, 1001, &retry),
                     ESTD_GUESS_GO);
    estd_guess_guard_report(g, "carol", "10.0.0.7", ESTD_GUESS_SUCCEEDED, 1001);
    estd_guess_guard_free(g);
}

static void past_the_allowance_one_check_in_flight(void **state)
{
    estd_guess_guard *g = estd_guess_guard_new(&limits);
    unsigned retry = 0;
    int go = 0;
    (void)state;
    /* Within the free allowance eight at once all go (a fleet sharing a name). */
    for (int i = 0; i < 8; i++)
        go += estd_guess_guard_check(g, "dave", "10.0.0.9", 0, 0, 1000, &retry) == ESTD_GUESS_GO;
    assert_int_equal(go, 8);
    for (int i = 0; i < 8; i++)
        estd_guess_guard_report(g, "dave", "10.0.0.9", i < 3 ? ESTD_GUESS_FAILED
                                                             : ESTD_GUESS_ABANDONED, 1000);
    /* 3 failures: past the allowance, after the 1 s wait, one at a time. */
    assert_int_equal(estd_guess_guard_check(g, "dave", "10.0.0.9", 0, 0, 1001, &retry),
                     ESTD_GUESS_GO);
    assert_int_equal(estd_guess_guard_check(g, "dave", "10.0.0.9", 0, 0, 1001, &retry),
                     ESTD_GUESS_DELAYED);
    estd_guess_guard_report(g, "dave", "10.0.0.9", ESTD_GUESS_ABANDONED, 1001);
    /* Abandoned checks are no failures: the slot is free again at once. */
    assert_int_equal(fail_once(g, "dave", "10.0.0.9", 1001), ESTD_GUESS_GO);
    estd_guess_guard_free(g);
}

static void quiet_period_forgets_failures(void **state)
{
    estd_guess_guard *g = estd_guess_guard_new(&limits);
    unsigned retry = 0;
    (void)state;
    for (int i = 0; i < 5; i++)
        fail_once(g, "erin", "10.0.0.5", 1000 + 10 * i); /* 5 failures, last at 1040 */
    assert_int_equal(estd_guess_guard_check(g, "erin", "10.0.0.5", 0, 0, 1041, &retry),
                     ESTD_GUESS_DELAYED);
    /* 99 s after the last failure: still remembered; 100 s: forgotten. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(fail_once(g, "erin", "10.0.0.5", 1140), ESTD_GUESS_GO);
    assert_int_equal(fail_once(g, "erin", "10.0.0.5", 1140), ESTD_GUESS_DELAYED);
    estd_guess_guard_free(g);
}

static void backoff_is_capped(void **state)
{
    estd_guess_limits no_lock = {1, 0, 1000, 8};
    estd_guess_guard *g = estd_guess_guard_new(&no_lock);
    unsigned retry = 0;
    time_t t = 1000;
    (void)state;
    for (int i = 0; i < 40; i++) { /* far past 2^31: no overflow, never above 8 s */
        fail_once(g, "frank", "10.0.0.6", t);
        t += 8;
    }
    assert_int_equal(estd_guess_guard_check(g, "frank", "10.0.0.6", 0, 0, t - 8, &retry),
                     ESTD_GUESS_DELAYED);
    assert_int_equal(retry, 8);
    assert_int_equal(estd_guess_guard_check(g, "frank", "10.0.0.6", 0, 0, t, &retry),
                     ESTD_GUESS_GO);
    estd_guess_guard_report(g, "frank", "10.0.0.6", ESTD_GUESS_ABANDONED, t);
    estd_guess_guard_free(g);
}

static void many_names_stay_bounded(void **state)
{
    estd_guess_guard *g = estd_guess_guard_new(&limits);
    unsigned retry = 0;
    char name[32];
    (void)state;
    /* Past the table's size: old idle entries are evicted, nothing grows. */
    for (int i = 0; i < ESTD_GUESS_SLOTS + 1; i++) {
        snprintf(name, sizeof name, "user%d", i);
        assert_int_equal(estd_guess_guard_check(g, name, name, 0, 0, 1000, &retry), ESTD_GUESS_GO);
        estd_guess_guard_report(g, name, name, ESTD_GUESS_FAILED, 1000);
    }
    estd_guess_guard_free(g);
}

static void disabled_guard_lets_everything_through(void **state)
{
    estd_guess_limits off = {0, 0, 100, 8};
    estd_guess_guard *g = estd_guess_guard_new(&off);
    unsigned retry = 0;
    (void)state;
    for (int i = 0; i < 50; i++)
        assert_int_equal(fail_once(g, "gina", "10.0.0.8", 1000), ESTD_GUESS_GO);
    assert_int_equal(estd_guess_guard_check(NULL, "gina", "x", 0, 0, 1000, &retry), ESTD_GUESS_GO);
    estd_guess_guard_free(g);
}

UNIT_MAIN(
    cmocka_unit_test(free_failures_then_exponential_backoff),
    cmocka_unit_test(lock_after_m_failures_until_it_ends),
    cmocka_unit_test(operator_unlock_lifts_the_lock),
    cmocka_unit_test(other_users_and_addresses_are_not_slowed),
    cmocka_unit_test(recent_success_keeps_its_slot_under_attack),
    cmocka_unit_test(past_the_allowance_one_check_in_flight),
    cmocka_unit_test(quiet_period_forgets_failures),
    cmocka_unit_test(backoff_is_capped),
    cmocka_unit_test(many_names_stay_bounded),
    cmocka_unit_test(disabled_guard_lets_everything_through))
