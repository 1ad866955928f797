/* Tests src/lib/auth_basic.c: RFC 7617 Basic credentials, both ways. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "estkit/auth.h"
#include "estkit/mem.h"
#include "unit_main.h"

/* "Basic " + base64(plain[0..len)) into a new string. */
static char *basic_of(const char *plain, size_t len)
{
    char *out = malloc(6 + 4 * ((len + 2) / 3) + 1);
    assert_non_null(out);
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, (int)len);
    return out;
}

static est_status parse(const char *header, char **user, char **password)
{
    est_error err;
    est_status rc = est_basic_parse(header, user, password, &err);
    if (rc != EST_OK) {
        assert_int_equal(err.code, rc);
        assert_null(*user);
        assert_null(*password);
    }
    return rc;
}

static void rfc7617_example_parses(void **state)
{
    char *user = NULL, *password = NULL;
    (void)state;
    /* RFC 7617 §2: Aladdin / open sesame. */
    assert_int_equal(parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &user, &password), EST_OK);
    assert_string_equal(user, "Aladdin");
    assert_string_equal(password, "open sesame");
    free(user);
    est_secret_free(password);
}

static void scheme_is_case_insensitive_and_ows_is_trimmed(void **state)
{
    static const char *const headers[] = {
        "basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "BASIC QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Basic    QWxhZGRpbjpvcGVuIHNlc2FtZQ==", " \tBasic QWxhZGRpbjpvcGVuIHNlc2FtZQ== \t",
    };
    (void)state;
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *user = NULL, *password = NULL;
        assert_int_equal(parse(headers[i], &user, &password), EST_OK);
        assert_string_equal(user, "Aladdin");
        assert_string_equal(password, "open sesame");
        free(user);
        est_secret_free(password);
    }
}

static void password_may_contain_colons_and_user_may_be_empty(void **state)
{
    char *user = NULL, *password = NULL, *h;
    (void)state;
    h = basic_of("u:p:a:ss", 8);
    assert_int_equal(parse(h, &user, &password), EST_OK);
    assert_string_equal(user, "u");
    assert_string_equal(password, "p:a:ss");
    free(h);
    free(user);
    est_secret_free(password);
    /* draft-04 §3.2.3: a client MAY send an empty user name. */
    h = basic_of(":secret", 7);
    assert_int_equal(parse(h, &user, &password), EST_OK);
    assert_string_equal(user, "");
    assert_string_equal(password, "secret");
    free(h);
    free(user);
    est_secret_free(password);
}

static void malformed_headers_are_rejected(void **state)
{
    static const char *const headers[] = {
        "",
        "Basic",
        "Basic ",
        "Basic    ",
        "Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Basic\tQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Basics QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ",      /* padding missing */
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=",     /* truncated */
        "Basic QWxhZGRp bjpvcGVuIHNlc2FtZQ==",   /* space inside */
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ===",   /* extra padding */
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==QUJD", /* data after padding */
        "Basic QWxh*GRpbjpvcGVuIHNlc2FtZQ==",    /* not base64 */
        "Basic QWxhZGRpbg==",                    /* "Aladdin": no colon */
        "Basic QWxhZGRpbjpvcGVu\nIHNlc2FtZQ==",
    };
    (void)state;
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *user = NULL, *password = NULL;
        print_message("header '%s'\n", headers[i]);
        assert_int_equal(parse(headers[i], &user, &password), EST_E_INPUT);
    }
}

static void control_characters_are_rejected(void **state)
{
    static const char *const plains[] = {"us\ter:pw", "user:p\rw", "user:pw\n", "u\x7f:pw"};
    (void)state;
    for (size_t i = 0; i < sizeof plains / sizeof plains[0]; i++) {
        char *user = NULL, *password = NULL;
        char *h = basic_of(plains[i], strlen(plains[i]));
        assert_int_equal(parse(h, &user, &password), EST_E_INPUT);
        free(h);
    }
    {
        /* An embedded NUL would truncate the C strings we hand out. */
        char *user = NULL, *password = NULL;
        char *h = basic_of("user:pw\0x", 9);
        assert_int_equal(parse(h, &user, &password), EST_E_INPUT);
        free(h);
    }
}

static void user_and_password_limits(void **state)
{
    char plain[EST_USERNAME_MAX + EST_PASSWORD_MAX + 8];
    char *user = NULL, *password = NULL, *h;
    (void)state;
    /* Both at their limit. */
    memset(plain, 'u', EST_USERNAME_MAX);
    plain[EST_USERNAME_MAX] = ':';
    memset(plain + EST_USERNAME_MAX + 1, 'p', EST_PASSWORD_MAX);
    h = basic_of(plain, EST_USERNAME_MAX + 1 + EST_PASSWORD_MAX);
    assert_int_equal(parse(h, &user, &password), EST_OK);
    assert_int_equal(strlen(user), EST_USERNAME_MAX);
    assert_int_equal(strlen(password), EST_PASSWORD_MAX);
    free(h);
    free(user);
    est_secret_free(password);
    /* User one past. */
    memset(plain, 'u', EST_USERNAME_MAX + 1);
    plain[EST_USERNAME_MAX + 1] = ':';
    plain[EST_USERNAME_MAX + 2] = 'p';
    h = basic_of(plain, EST_USERNAME_MAX + 3);
    assert_int_equal(parse(h, &user, &password), EST_E_TOO_LARGE);
    free(h);
    /* Password one past. */
    plain[0] = 'u';
    plain[1] = ':';
    memset(plain + 2, 'p', EST_PASSWORD_MAX + 1);
    h = basic_of(plain, EST_PASSWORD_MAX + 3);
    assert_int_equal(parse(h, &user, &password), EST_E_TOO_LARGE);
    free(h);
}

static void header_length_limit(void **state)
{
    static const char token[] = "QWxhZGRpbjpvcGVuIHNlc2FtZQ==";
    char header[EST_AUTH_HEADER_MAX + 2];
    size_t spaces = EST_AUTH_HEADER_MAX - 5 - (sizeof token - 1);
    char *user = NULL, *password = NULL;
    (void)state;
    /* Exactly EST_AUTH_HEADER_MAX bytes: "Basic" + spaces + token. */
    memcpy(header, "Basic", 5);
    memset(header + 5, ' ', spaces);
    memcpy(header + 5 + spaces, token, sizeof token);
    assert_int_equal(strlen(header), EST_AUTH_HEADER_MAX);
    assert_int_equal(parse(header, &user, &password), EST_OK);
    assert_string_equal(password, "open sesame");
    free(user);
    est_secret_free(password);
    /* One more byte. */
    memset(header + 5, ' ', spaces + 1);
    memcpy(header + 6 + spaces, token, sizeof token);
    assert_int_equal(strlen(header), EST_AUTH_HEADER_MAX + 1);
    assert_int_equal(parse(header, &user, &password), EST_E_TOO_LARGE);
}

static void build_then_parse_round_trips(void **state)
{
    char *h = NULL, *user = NULL, *password = NULL;
    (void)state;
    assert_int_equal(est_basic_build("Aladdin", "open sesame", &h, NULL), EST_OK);
    assert_string_equal(h, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    est_secret_free(h);
    assert_int_equal(est_basic_build("est\xc3\xbcser", "p:w:\xe2\x82\xac", &h, NULL), EST_OK);
    assert_int_equal(parse(h, &user, &password), EST_OK);
    assert_string_equal(user, "est\xc3\xbcser");
    assert_string_equal(password, "p:w:\xe2\x82\xac");
    est_secret_free(h);
    free(user);
    est_secret_free(password);
    assert_int_equal(est_basic_build("", "", &h, NULL), EST_OK);
    assert_string_equal(h, "Basic Og==");
    est_secret_free(h);
}

static void build_rejects_what_parse_would(void **state)
{
    char big[EST_PASSWORD_MAX + 2];
    char *h = (char *)0x1;
    est_error err;
    (void)state;
    assert_int_equal(est_basic_build("a:b", "pw", &h, &err), EST_E_INPUT);
    assert_null(h);
    assert_int_equal(est_basic_build("ab", "p\nw", &h, &err), EST_E_INPUT);
    assert_int_equal(est_basic_build(NULL, "pw", &h, &err), EST_E_INPUT);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(est_basic_build("u", big, &h, &err), EST_E_TOO_LARGE);
    big[EST_PASSWORD_MAX] = '\0';
    assert_int_equal(est_basic_build("u", big, &h, &err), EST_OK);
    est_secret_free(h);
    big[EST_USERNAME_MAX + 1] = '\0';
    assert_int_equal(est_basic_build(big, "pw", &h, &err), EST_E_TOO_LARGE);
    big[EST_USERNAME_MAX] = '\0';
    assert_int_equal(est_basic_build(big, "pw", &h, &err), EST_OK);
    est_secret_free(h);
}

static void null_arguments_are_rejected(void **state)
{
    char *user = NULL, *password = NULL;
    (void)state;
    assert_int_equal(est_basic_parse(NULL, &user, &password, NULL), EST_E_INPUT);
    assert_int_equal(est_basic_parse("Basic Og==", NULL, &password, NULL), EST_E_INPUT);
    est_secret_free(NULL);
}

UNIT_MAIN(
    cmocka_unit_test(rfc7617_example_parses),
    cmocka_unit_test(scheme_is_case_insensitive_and_ows_is_trimmed),
    cmocka_unit_test(password_may_contain_colons_and_user_may_be_empty),
    cmocka_unit_test(malformed_headers_are_rejected),
    cmocka_unit_test(control_characters_are_rejected),
    cmocka_unit_test(user_and_password_limits),
    cmocka_unit_test(header_length_limit),
    cmocka_unit_test(build_then_parse_round_trips),
    cmocka_unit_test(build_rejects_what_parse_would),
    cmocka_unit_test(null_arguments_are_rejected))
