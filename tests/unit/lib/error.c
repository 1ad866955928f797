/* Tests src/lib/error.c: codes, messages, OpenSSL reasons. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "estkit/error.h"
#include "unit_main.h"

static void set_returns_code_and_formats(void **state)
{
    est_error err;
    (void)state;
    assert_int_equal(est_error_set(&err, EST_E_INPUT, "bad %s %d", "thing", 7), EST_E_INPUT);
    assert_int_equal(err.code, EST_E_INPUT);
    assert_string_equal(err.message, "bad thing 7");
    assert_int_equal(est_error_set(NULL, EST_E_IO, "x"), EST_E_IO);
}

static void openssl_reason_is_appended_and_queue_cleared(void **state)
{
    est_error err;
    (void)state;
    /* Provoke a real OpenSSL error: an unknown digest fetch. */
    EVP_MD *md = EVP_MD_fetch(NULL, "no-such-digest", NULL);
    assert_null(md);
    est_error_set_openssl(&err, EST_E_CA, "fetch");
    assert_true(strncmp(err.message, "fetch: ", 7) == 0);
    assert_true(strlen(err.message) > 7);
    assert_int_equal(ERR_peek_error(), 0);
}

static void prefix_sets_and_returns_the_code(void **state)
{
    est_error err;
    (void)state;
    est_error_set(&err, EST_E_STORE, "disk full");
    assert_int_equal(est_error_prefix(&err, EST_E_STORE, "store %s", "/x.db"), EST_E_STORE);
    assert_string_equal(err.message, "store /x.db: disk full");
    assert_int_equal(err.code, EST_E_STORE);
}

/* Issue 11: with err == NULL the prefix returned EST_OK and turned the
 * caller's failure into success. The status never depends on err. */
static void prefix_without_err_keeps_the_failure(void **state)
{
    (void)state;
    assert_int_equal(est_error_prefix(NULL, EST_E_INPUT, "context"), EST_E_INPUT);
    assert_int_equal(est_error_prefix(NULL, EST_E_IO, "%s", "x"), EST_E_IO);
    /* A failure path that passes EST_OK by mistake still reports failure. */
    assert_int_equal(est_error_prefix(NULL, EST_OK, "context"), EST_E_INTERNAL);
}

static void every_code_has_a_message(void **state)
{
    (void)state;
    for (int c = EST_OK; c <= EST_E_UNAVAILABLE; c++)
        assert_string_not_equal(est_strerror((est_status)c), "unknown error");
    assert_string_equal(est_strerror((est_status)999), "unknown error");
}

UNIT_MAIN(
    cmocka_unit_test(set_returns_code_and_formats),
    cmocka_unit_test(openssl_reason_is_appended_and_queue_cleared),
    cmocka_unit_test(prefix_sets_and_returns_the_code),
    cmocka_unit_test(prefix_without_err_keeps_the_failure),
    cmocka_unit_test(every_code_has_a_message))
