/* Tests src/server/config_upstream.c: the [ca] keys of an RA (issuer =
 * est | cmp). Each key parsed, numbers at and one past their bounds, what
 * an upstream issuer needs checked when the file is finished (URL, trust,
 * credentials in pairs), relative paths resolved, and the embedded default
 * untouched by the upstream keys' absence. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"
#include "unit_main.h"

static est_status set(estd_upstream_config *up, const char *key, const char *value)
{
    est_error err;
    return estd_upstream_key_set(up, key, value, &err);
}

static void test_defaults_and_keys(void **state)
{
    estd_upstream_config up;
    (void)state;

    estd_upstream_config_defaults(&up, "");
    assert_int_equal(up.issuer, ESTD_ISSUER_EMBEDDED);
    assert_string_equal(up.cacerts_cache, "ca/upstream-cacerts.pem");
    assert_int_equal(up.timeout_seconds, 30);
    assert_int_equal(up.max_response_bytes, 1u << 20);
    estd_upstream_config_defaults(&up, "lab");
    assert_string_equal(up.cacerts_cache, "ca-lab/upstream-cacerts.pem");
    assert_int_equal(set(&up, "issuer", "EST"), EST_OK);
    assert_int_equal(up.issuer, ESTD_ISSUER_EST);
    assert_int_equal(set(&up, "issuer", "cmp"), EST_OK);
    assert_int_equal(up.issuer, ESTD_ISSUER_CMP);
    assert_int_equal(set(&up, "issuer", "scep"), EST_E_CONFIG);
    assert_int_equal(set(&up, "upstream_url", "https://ca.example/.well-known/est"), EST_OK);
    assert_string_equal(up.url, "https://ca.example/.well-known/est");
    assert_int_equal(set(&up, "cmp_reference", "ra-1"), EST_OK);
    assert_string_equal(up.cmp_reference, "ra-1");
    assert_int_equal(set(&up, "upstream_csrattrs", "yes"), EST_OK);
    assert_true(up.csrattrs_from_upstream);
    assert_int_equal(set(&up, "upstream_csrattrs", "maybe"), EST_E_CONFIG);
    /* Not an upstream key: the [ca] parser goes on to "unknown key". */
    assert_int_equal(set(&up, "upstream_colour", "blue"), EST_E_NOT_FOUND);
}

static void test_number_bounds(void **state)
{
    estd_upstream_config up;
    char big[32];
    (void)state;

    estd_upstream_config_defaults(&up, "");
    assert_int_equal(set(&up, "upstream_timeout_seconds", "600"), EST_OK);
    assert_int_equal(set(&up, "upstream_timeout_seconds", "601"), EST_E_CONFIG);
    assert_int_equal(set(&up, "upstream_timeout_seconds", "0"), EST_E_CONFIG);
    assert_int_equal(set(&up, "upstream_max_response_bytes", "4096"), EST_OK);
    assert_int_equal(set(&up, "upstream_max_response_bytes", "4095"), EST_E_CONFIG);
    snprintf(big, sizeof big, "%u", 16u << 20);
    assert_int_equal(set(&up, "upstream_max_response_bytes", big), EST_OK);
    snprintf(big, sizeof big, "%u", (16u << 20) + 1);
    assert_int_equal(set(&up, "upstream_max_response_bytes", big), EST_E_CONFIG);
    assert_int_equal(set(&up, "upstream_cacerts_refresh_seconds", "1"), EST_OK);
    assert_int_equal(set(&up, "upstream_cacerts_refresh_seconds", "-5"), EST_E_CONFIG);
    assert_int_equal(set(&up, "upstream_cacerts_refresh_seconds", "10x"), EST_E_CONFIG);
}

static est_status finish(estd_upstream_config *up, est_error *err)
{
    return estd_upstream_config_finish(up, "/srv/ra", err);
}

static void test_finish_requirements(void **state)
{
    estd_upstream_config up;
    est_error err;
    (void)state;

    estd_upstream_config_defaults(&up, "");
    assert_int_equal(finish(&up, &err), EST_OK); /* embedded needs nothing */
    assert_string_equal(up.cacerts_cache, "/srv/ra/ca/upstream-cacerts.pem");

    estd_upstream_config_defaults(&up, "");
    set(&up, "issuer", "est");
    assert_int_equal(finish(&up, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "upstream_url"));
    set(&up, "upstream_url", "https://ca.example/.well-known/est");
    assert_int_equal(finish(&up, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "upstream_trust"));
    set(&up, "upstream_trust", "up.pem");
    set(&up, "upstream_cert", "ra.pem");
    assert_int_equal(finish(&up, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "go together"));
    set(&up, "upstream_key", "ra.key");
    assert_int_equal(finish(&up, &err), EST_OK);
    assert_string_equal(up.trust, "/srv/ra/up.pem");
    assert_string_equal(up.key, "/srv/ra/ra.key");
    set(&up, "upstream_user", "ra");
    assert_int_equal(finish(&up, &err), EST_E_CONFIG);

    estd_upstream_config_defaults(&up, "");
    set(&up, "issuer", "cmp");
    set(&up, "upstream_url", "http://ca.example/pkix/");
    assert_int_equal(finish(&up, &err), EST_E_CONFIG); /* no protection */
    set(&up, "cmp_secret_file", "/etc/secret");
    assert_int_equal(finish(&up, &err), EST_OK);
    set(&up, "upstream_csrattrs", "yes");
    assert_int_equal(finish(&up, &err), EST_E_CONFIG);
}

static void test_in_a_ca_section(void **state)
{
    static const char text[] = "[ca \"ra\"]\nissuer = est\nupstream_url = https://x/y\n"
                               "upstream_bogus = 1\n";
    estd_config *cfg = malloc(sizeof *cfg);
    est_error err;
    (void)state;

    assert_non_null(cfg);
    estd_config_defaults(cfg, "/srv/ra");
    assert_int_equal(estd_config_parse(cfg, "estd.conf", text, strlen(text), &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "estd.conf:4"));
    assert_non_null(strstr(err.message, "unknown key 'upstream_bogus'"));
    assert_int_equal(cfg->cas[1].upstream.issuer, ESTD_ISSUER_EST);
    assert_int_equal(cfg->cas[0].upstream.issuer, ESTD_ISSUER_EMBEDDED);
    free(cfg);
}

UNIT_MAIN(
    cmocka_unit_test(test_defaults_and_keys),
    cmocka_unit_test(test_number_bounds),
    cmocka_unit_test(test_finish_requirements),
    cmocka_unit_test(test_in_a_ca_section))
