/* Tests src/lib/name.c: distinguished names and subjectAltName lists
 * from text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>
#include "estkit/name.h"
#include "unit_main.h"

static void name_text(X509_NAME *name, char *out, size_t cap)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    assert_true(X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0);
    n = BIO_get_mem_data(bio, &p);
    assert_true(n >= 0 && (size_t)n < cap);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
}

static void name_parses_both_forms_in_order(void **state)
{
    static const struct {
        const char *dn, *text;
    } cases[] = {
        {"CN=a,O=b", "CN = a, O = b"},
        {"/CN=a/O=b", "CN = a, O = b"},
        {"CN=device 1, O=Example, C=DE", "CN = device 1, O = Example, C = DE"},
        {"CN=a\\,b,O=c", "CN = \"a,b\", O = c"},
        {"/CN=a,b/O=c\\/d", "CN = \"a,b\", O = c/d"},
        {"CN=\\ padded\\ ", "CN = \" padded \""},
        {"commonName=x,2.5.4.10=y", "CN = x, O = y"},
        {"CN=caf\xc3\xa9", "CN = caf\xc3\xa9"},
    };
    char text[256];
    est_error err;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        X509_NAME *name = NULL;
        assert_int_equal(est_name_parse(cases[i].dn, &name, &err), EST_OK);
        name_text(name, text, sizeof text);
        assert_string_equal(text, cases[i].text);
        X509_NAME_free(name);
    }
}

static void name_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "", "/", "CN", "=a", "CN=", "CN= ", "XX=a", "CN=a,", "/CN=a/", "CN=a,,O=b",
        "CN=a\\", "C=USA", "CN=a,O",
    };
    X509_NAME *name = NULL;
    est_error err;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(est_name_parse(bad[i], &name, &err), EST_E_INPUT);
        assert_null(name);
        assert_true(strlen(err.message) > 0);
    }
}

/* A DN of exactly n characters: "CN=x" and OU components whose values
 * stay within the 64 characters X.520 allows. While more than 64
 * characters remain a 44-character component goes in, so the last one
 * always gets a value of at least 17. */
static char *dn_of_length(size_t n)
{
    char *dn = malloc(n + 1);
    size_t used = (size_t)sprintf(dn, "CN=x");

    while (used < n) {
        size_t left = n - used, value = left > 64 ? 40 : left - 4;
        used += (size_t)sprintf(dn + used, ",OU=");
        memset(dn + used, 'x', value);
        used += value;
        dn[used] = '\0';
    }
    assert_int_equal(strlen(dn), n);
    return dn;
}

static void name_length_limit_at_and_one_past(void **state)
{
    char *at = dn_of_length(1024), *past = dn_of_length(1025);
    X509_NAME *name = NULL;
    est_error err;
    (void)state;

    assert_int_equal(est_name_parse(at, &name, &err), EST_OK);
    X509_NAME_free(name);
    name = NULL;
    assert_int_equal(est_name_parse(past, &name, &err), EST_E_TOO_LARGE);
    assert_null(name);
    free(at);
    free(past);
}

static int gen_type(GENERAL_NAMES *names, int i)
{
    return sk_GENERAL_NAME_value(names, i)->type;
}

static void san_forms(void **state)
{
    GENERAL_NAMES *names = NULL;
    est_error err;

    (void)state;
    assert_int_equal(est_san_parse("dns:a.example, ip:192.0.2.1,IP:2001:db8::1", &names, &err),
                     EST_OK);
    assert_int_equal(est_san_parse("email:x@example.com,URI:https://x.example/,rid:1.2.3", &names,
                                   &err), EST_OK);
    assert_int_equal(est_san_parse("bare.example,198.51.100.7,::1", &names, &err), EST_OK);
    assert_int_equal(sk_GENERAL_NAME_num(names), 9);
    assert_int_equal(gen_type(names, 0), GEN_DNS);
    assert_int_equal(gen_type(names, 1), GEN_IPADD);
    assert_int_equal(gen_type(names, 2), GEN_IPADD);
    assert_int_equal(gen_type(names, 3), GEN_EMAIL);
    assert_int_equal(gen_type(names, 4), GEN_URI);
    assert_int_equal(gen_type(names, 5), GEN_RID);
    assert_int_equal(gen_type(names, 6), GEN_DNS);
    assert_int_equal(gen_type(names, 7), GEN_IPADD);
    assert_int_equal(gen_type(names, 8), GEN_IPADD);
    GENERAL_NAMES_free(names);
}

static void san_malformed(void **state)
{
    GENERAL_NAMES *names = NULL;
    char big[5000];
    est_error err;

    (void)state;
    assert_int_equal(est_san_parse("foo:bar", &names, &err), EST_E_INPUT);
    assert_null(names);
    assert_int_equal(est_san_parse("IP:999.1.1.1", &names, &err), EST_E_INPUT);
    assert_int_equal(est_san_parse("DNS:", &names, &err), EST_E_INPUT);
    assert_int_equal(est_san_parse(" , ,", &names, &err), EST_E_INPUT);
    assert_int_equal(est_san_parse("", &names, &err), EST_E_INPUT);
    assert_null(names);
    memset(big, 'a', sizeof big);
    big[4097] = '\0';
    assert_int_equal(est_san_parse(big, &names, &err), EST_E_TOO_LARGE);
    /* A failure after a success keeps what the caller already had. */
    assert_int_equal(est_san_parse("ok.example", &names, &err), EST_OK);
    assert_int_equal(est_san_parse("foo:bar", &names, &err), EST_E_INPUT);
    assert_int_equal(sk_GENERAL_NAME_num(names), 1);
    GENERAL_NAMES_free(names);
}

static void san_count_limit(void **state)
{
    GENERAL_NAMES *names = NULL;
    char item[32];
    est_error err;

    (void)state;
    for (int i = 0; i < EST_SAN_MAX_NAMES; i++) {
        snprintf(item, sizeof item, "n%d.example", i);
        assert_int_equal(est_san_parse(item, &names, &err), EST_OK);
    }
    assert_int_equal(sk_GENERAL_NAME_num(names), EST_SAN_MAX_NAMES);
    assert_int_equal(est_san_parse("one.too.many", &names, &err), EST_E_TOO_LARGE);
    assert_int_equal(sk_GENERAL_NAME_num(names), EST_SAN_MAX_NAMES);
    GENERAL_NAMES_free(names);
}

UNIT_MAIN(
    cmocka_unit_test(name_parses_both_forms_in_order),
    cmocka_unit_test(name_rejects_malformed),
    cmocka_unit_test(name_length_limit_at_and_one_past),
    cmocka_unit_test(san_forms),
    cmocka_unit_test(san_malformed),
    cmocka_unit_test(san_count_limit))
