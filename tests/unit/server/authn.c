/* Tests src/server/authn.c's policy evaluation: alternatives, combinations. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "authn.h"
#include "unit_main.h"

static estd_auth_policy policy(const char *text)
{
    estd_auth_policy p;
    est_error err;
    if (estd_auth_policy_parse(text, &p, &err) != EST_OK)
        fail_msg("%s", err.message);
    return p;
}

static void any_alternative_suffices(void **state)
{
    estd_auth_policy p = policy("cert, basic, digest");
    estd_auth_result r = {0};
    (void)state;
    assert_false(estd_auth_allows(&p, &r));
    r.satisfied = ESTD_AUTH_BASIC;
    assert_true(estd_auth_allows(&p, &r));
    r.satisfied = ESTD_AUTH_THIRD_PARTY;
    assert_false(estd_auth_allows(&p, &r));
}

static void combination_needs_every_part(void **state)
{
    estd_auth_policy p = policy("cert+basic");
    estd_auth_result r = {0};
    (void)state;
    r.satisfied = ESTD_AUTH_CERT;
    assert_false(estd_auth_allows(&p, &r));
    r.satisfied = ESTD_AUTH_BASIC;
    assert_false(estd_auth_allows(&p, &r));
    r.satisfied = ESTD_AUTH_CERT | ESTD_AUTH_BASIC;
    assert_true(estd_auth_allows(&p, &r));
    assert_int_equal(estd_auth_http_schemes(&p), ESTD_AUTH_BASIC);
}

static void none_allows_anyone(void **state)
{
    estd_auth_policy p = policy("none");
    estd_auth_result r = {0};
    (void)state;
    assert_true(estd_auth_allows(&p, &r));
    assert_int_equal(estd_auth_http_schemes(&p), 0);
}

static void third_party_plus_password(void **state)
{
    estd_auth_policy p = policy("cert, third-party+digest");
    estd_auth_result r = {0};
    (void)state;
    r.satisfied = ESTD_AUTH_THIRD_PARTY;
    assert_false(estd_auth_allows(&p, &r));
    r.satisfied |= ESTD_AUTH_DIGEST;
    assert_true(estd_auth_allows(&p, &r));
    assert_int_equal(estd_auth_http_schemes(&p), ESTD_AUTH_DIGEST);
}

UNIT_MAIN(
    cmocka_unit_test(any_alternative_suffices),
    cmocka_unit_test(combination_needs_every_part),
    cmocka_unit_test(none_allows_anyone),
    cmocka_unit_test(third_party_plus_password))
