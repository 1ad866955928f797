/* Tests src/server/credential_cache.c: hits only for the same user,
 * password and stored hash within the lifetime. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "credential_cache.h"
#include "unit_main.h"

static void verified_credentials_hit_within_lifetime(void **state)
{
    estd_credential_cache *c = estd_credential_cache_new(60, 1);
    (void)state;
    assert_non_null(c);
    assert_false(estd_credential_cache_hit(c, "alice", "pw", "$hash1", 1000));
    estd_credential_cache_put(c, "alice", "pw", "$hash1", 1000);
    assert_true(estd_credential_cache_hit(c, "alice", "pw", "$hash1", 1000));
    assert_true(estd_credential_cache_hit(c, "alice", "pw", "$hash1", 1059));
    assert_false(estd_credential_cache_hit(c, "alice", "pw", "$hash1", 1060)); /* expired */
    assert_false(estd_credential_cache_hit(c, "alice", "pw", "$hash1", 999));  /* clock went back */
    estd_credential_cache_free(c);
}

static void anything_else_misses(void **state)
{
    estd_credential_cache *c = estd_credential_cache_new(60, 1);
    (void)state;
    estd_credential_cache_put(c, "alice", "pw", "$hash1", 1000);
    assert_false(estd_credential_cache_hit(c, "alice", "wrong", "$hash1", 1001));
    assert_false(estd_credential_cache_hit(c, "bob", "pw", "$hash1", 1001));
    /* Password changed: the stored hash differs, the old entry is useless. */
    assert_false(estd_credential_cache_hit(c, "alice", "pw", "$hash2", 1001));
    /* Field boundaries matter: ("alic", "epw") is not ("alice", "pw"). */
    assert_false(estd_credential_cache_hit(c, "alic", "epw", "$hash1", 1001));
    estd_credential_cache_free(c);
}

static void lifetime_zero_disables(void **state)
{
    estd_credential_cache *c = estd_credential_cache_new(0, 1);
    (void)state;
    estd_credential_cache_put(c, "alice", "pw", "$hash1", 1000);
    assert_false(estd_credential_cache_hit(c, "alice", "pw", "$hash1", 1000));
    estd_credential_cache_free(c);
    estd_credential_cache_free(NULL);
}

static void verification_slots_are_bounded(void **state)
{
    estd_credential_cache *c = estd_credential_cache_new(60, 2);
    (void)state;
    assert_true(estd_credential_cache_verify_begin(c));
    assert_true(estd_credential_cache_verify_begin(c));
    assert_false(estd_credential_cache_verify_begin(c)); /* third at once: refused */
    estd_credential_cache_verify_end(c);
    assert_true(estd_credential_cache_verify_begin(c));
    estd_credential_cache_verify_end(c);
    estd_credential_cache_verify_end(c);
    estd_credential_cache_free(c);
}

UNIT_MAIN(
    cmocka_unit_test(verified_credentials_hit_within_lifetime),
    cmocka_unit_test(anything_else_misses),
    cmocka_unit_test(lifetime_zero_disables),
    cmocka_unit_test(verification_slots_are_bounded))
