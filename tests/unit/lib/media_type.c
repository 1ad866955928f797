/* Tests src/lib/media_type.c: RFC 9110 §8.3.1 media types with token and
 * quoted-string parameters, case rules, malformed input and both limits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "estkit/media_type.h"
#include "unit_main.h"

static est_media_type *parse_ok(const char *text)
{
    est_media_type *mt = NULL;
    est_error err = {0};

    assert_int_equal(est_media_type_parse(text, &mt, &err), EST_OK);
    assert_non_null(mt);
    return mt;
}

static void parse_fails(const char *text, est_status code)
{
    est_media_type *mt = (est_media_type *)1;
    est_error err = {0};

    assert_int_equal(est_media_type_parse(text, &mt, &err), code);
    assert_null(mt);
    assert_int_equal(err.code, code);
    assert_true(strlen(err.message) > 0);
}

static void essence_is_lowercased_and_compared_case_insensitively(void **state)
{
    (void)state;
    est_media_type *mt = parse_ok("Application/PKCS10");
    assert_string_equal(est_media_type_get0_essence(mt), "application/pkcs10");
    assert_true(est_media_type_is(mt, "application/pkcs10"));
    assert_true(est_media_type_is(mt, "APPLICATION/pkcs10"));
    assert_false(est_media_type_is(mt, "application/pkcs7-mime"));
    assert_false(est_media_type_is(mt, "application/pkcs1"));
    assert_false(est_media_type_is(mt, NULL));
    assert_null(est_media_type_get0_param(mt, "charset"));
    est_media_type_free(mt);
}

static void token_parameters(void **state)
{
    (void)state;
    est_media_type *mt = parse_ok("application/pkcs7-mime; smime-type=Certs-Only");
    assert_true(est_media_type_is(mt, "application/pkcs7-mime"));
    /* Names are case-insensitive, values are kept as sent. */
    assert_string_equal(est_media_type_get0_param(mt, "SMIME-Type"), "Certs-Only");
    assert_null(est_media_type_get0_param(mt, "smime"));
    est_media_type_free(mt);

    mt = parse_ok("text/plain;charset=utf-8;format=flowed");
    assert_string_equal(est_media_type_get0_param(mt, "charset"), "utf-8");
    assert_string_equal(est_media_type_get0_param(mt, "format"), "flowed");
    est_media_type_free(mt);
}

static void quoted_string_parameters(void **state)
{
    (void)state;
    est_media_type *mt = parse_ok("multipart/mixed; boundary=\"a b;c=\\\"d\\\\e\"; x=\"\"");
    assert_string_equal(est_media_type_get0_param(mt, "boundary"), "a b;c=\"d\\e");
    assert_string_equal(est_media_type_get0_param(mt, "x"), "");
    est_media_type_free(mt);
    /* obs-text (RFC 9110 §5.6.4) is allowed inside quotes. */
    mt = parse_ok("a/b; p=\"caf\xc3\xa9\"");
    assert_string_equal(est_media_type_get0_param(mt, "p"), "caf\xc3\xa9");
    est_media_type_free(mt);
}

static void optional_whitespace_and_empty_parameters(void **state)
{
    (void)state;
    /* The draft-04 appendix writes a space before ';'. */
    est_media_type *mt = parse_ok("multipart/mixed ; boundary=estServerExampleBoundary");
    assert_true(est_media_type_is(mt, "multipart/mixed"));
    assert_string_equal(est_media_type_get0_param(mt, "boundary"), "estServerExampleBoundary");
    est_media_type_free(mt);

    static const char *const texts[] = {
        "  a/b  ", "\ta/b\t;\tc=d\t", "a/b;", "a/b; ;c=d", "a/b;;;c=d;", "a/b ; c=d ; ",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        mt = parse_ok(texts[i]);
        assert_string_equal(est_media_type_get0_essence(mt), "a/b");
        if (strchr(texts[i], 'c') != NULL)
            assert_string_equal(est_media_type_get0_param(mt, "c"), "d");
        est_media_type_free(mt);
    }
}

static void malformed_media_types_are_rejected(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "", "   ", "application", "application/", "/pkcs10", "app lication/x", "a/b c",
        "a/b/c", "a/b;c", "a/b;c=", "a/b;=d", "a/b; c =d", "a/b; c= d", "a/b;c=\"x",
        "a/b;c=\"x\\", "a/b;c=\"\x01\"", "a/b;c=\"x\\\x01\"", "a/b;c=d e", "a/b,c/d",
        "a/b;c=\"x\"y", "a@b/c", "a/b@", "a/b;c@=d", "a/b;c=d@", "a/b\r\n", "\x80/b",
        "a/b;c=\"x\r\"",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        parse_fails(texts[i], EST_E_INPUT);
    parse_fails(NULL, EST_E_INPUT);
}

static void repeated_parameter_is_rejected(void **state)
{
    (void)state;
    parse_fails("multipart/mixed; boundary=a; boundary=b", EST_E_INPUT);
    parse_fails("multipart/mixed; boundary=a; BOUNDARY=\"a\"", EST_E_INPUT);
}

static void length_limit_at_and_past(void **state)
{
    char text[EST_MEDIA_TYPE_MAX + 2];
    est_media_type *mt;
    (void)state;

    /* A long subtype. */
    memcpy(text, "a/", 2);
    memset(text + 2, 'b', EST_MEDIA_TYPE_MAX - 2);
    text[EST_MEDIA_TYPE_MAX] = '\0';
    mt = parse_ok(text);
    assert_int_equal(strlen(est_media_type_get0_essence(mt)), EST_MEDIA_TYPE_MAX);
    est_media_type_free(mt);
    text[EST_MEDIA_TYPE_MAX] = 'b';
    text[EST_MEDIA_TYPE_MAX + 1] = '\0';
    parse_fails(text, EST_E_TOO_LARGE);

    /* The most parameters, with long quoted values, filling the limit. */
    size_t lengths[EST_MEDIA_TYPE_MAX_PARAMS];
    size_t used = (size_t)snprintf(text, sizeof text, "a/b");
    for (int i = 0; i < EST_MEDIA_TYPE_MAX_PARAMS; i++) {
        size_t left = EST_MEDIA_TYPE_MAX - used;
        size_t per = left / (size_t)(EST_MEDIA_TYPE_MAX_PARAMS - i);

        lengths[i] = per - strlen(";p0=\"\"");
        used += (size_t)snprintf(text + used, sizeof text - used, ";p%d=\"%0*d\"", i,
                                 (int)lengths[i], 0);
    }
    assert_int_equal(used, EST_MEDIA_TYPE_MAX);
    mt = parse_ok(text);
    for (int i = 0; i < EST_MEDIA_TYPE_MAX_PARAMS; i++) {
        char name[8];
        snprintf(name, sizeof name, "p%d", i);
        assert_int_equal(strlen(est_media_type_get0_param(mt, name)), lengths[i]);
    }
    est_media_type_free(mt);
}

static void parameter_count_at_and_past(void **state)
{
    char text[256];
    size_t used;
    est_media_type *mt;
    (void)state;

    used = (size_t)snprintf(text, sizeof text, "a/b");
    for (int i = 0; i < EST_MEDIA_TYPE_MAX_PARAMS; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "; p%d=v%d", i, i);
    mt = parse_ok(text);
    for (int i = 0; i < EST_MEDIA_TYPE_MAX_PARAMS; i++) {
        char name[8], value[8];
        snprintf(name, sizeof name, "P%d", i);
        snprintf(value, sizeof value, "v%d", i);
        assert_string_equal(est_media_type_get0_param(mt, name), value);
    }
    est_media_type_free(mt);
    /* Empty parameters do not count. */
    snprintf(text + used, sizeof text - used, ";;");
    mt = parse_ok(text);
    est_media_type_free(mt);
    snprintf(text + used, sizeof text - used, "; p%d=v", EST_MEDIA_TYPE_MAX_PARAMS);
    parse_fails(text, EST_E_TOO_LARGE);
}

static void null_is_harmless(void **state)
{
    (void)state;
    est_media_type_free(NULL);
    assert_null(est_media_type_get0_essence(NULL));
    assert_false(est_media_type_is(NULL, "a/b"));
    assert_null(est_media_type_get0_param(NULL, "a"));
}

UNIT_MAIN(
    cmocka_unit_test(essence_is_lowercased_and_compared_case_insensitively),
    cmocka_unit_test(token_parameters),
    cmocka_unit_test(quoted_string_parameters),
    cmocka_unit_test(optional_whitespace_and_empty_parameters),
    cmocka_unit_test(malformed_media_types_are_rejected),
    cmocka_unit_test(repeated_parameter_is_rejected),
    cmocka_unit_test(length_limit_at_and_past),
    cmocka_unit_test(parameter_count_at_and_past),
    cmocka_unit_test(null_is_harmless))
