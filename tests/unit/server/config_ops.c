/* Tests src/server/config_ops.c: the operations keys of estd.conf, each
 * limit at its maximum and one past, the bare-port metrics address, the
 * http-only URLs, and keys that are not ours left to config.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"
#include "estkit/csr.h"
#include "unit_main.h"

static est_status server_key(estd_config *cfg, const char *key, const char *value)
{
    est_error err;
    char text[512];

    snprintf(text, sizeof text, "[server]\n%s = %s\n", key, value);
    return estd_config_parse(cfg, "test.conf", text, strlen(text), &err);
}

static void limits_at_and_past_the_maximum(void **state)
{
    estd_config *cfg = malloc(sizeof *cfg);
    char at[16], past[16];
    (void)state;

    estd_config_defaults(cfg, "/tmp");
    assert_int_equal(cfg->ops.tls_renew_days, ESTD_TLS_RENEW_DAYS_DEFAULT);
    assert_int_equal(cfg->ops.crl_days, ESTD_CRL_DAYS_DEFAULT);
    snprintf(at, sizeof at, "%d", ESTD_TLS_RENEW_DAYS_MAX);
    snprintf(past, sizeof past, "%d", ESTD_TLS_RENEW_DAYS_MAX + 1);
    assert_int_equal(server_key(cfg, "tls_renew_days", at), EST_OK);
    assert_int_equal(cfg->ops.tls_renew_days, ESTD_TLS_RENEW_DAYS_MAX);
    assert_int_equal(server_key(cfg, "tls_renew_days", past), EST_E_CONFIG);
    assert_int_equal(server_key(cfg, "tls_renew_days", "0"), EST_OK);
    snprintf(at, sizeof at, "%d", ESTD_CRL_DAYS_MAX);
    snprintf(past, sizeof past, "%d", ESTD_CRL_DAYS_MAX + 1);
    assert_int_equal(server_key(cfg, "crl_days", at), EST_OK);
    assert_int_equal(server_key(cfg, "crl_days", past), EST_E_CONFIG);
    assert_int_equal(server_key(cfg, "crl_days", "0"), EST_E_CONFIG);
    free(cfg);
}

static void listeners_and_log_settings(void **state)
{
    estd_config *cfg = malloc(sizeof *cfg);
    (void)state;

    estd_config_defaults(cfg, "/tmp");
    assert_string_equal(cfg->ops.metrics_listen, "");
    assert_int_equal(server_key(cfg, "metrics_listen", "9431"), EST_OK);
    assert_string_equal(cfg->ops.metrics_listen, "127.0.0.1:9431");
    assert_int_equal(server_key(cfg, "metrics_listen", "[::1]:9431"), EST_OK);
    assert_string_equal(cfg->ops.metrics_listen, "[::1]:9431");
    assert_int_equal(server_key(cfg, "http_listen", "nocolon"), EST_E_CONFIG);
    assert_int_equal(server_key(cfg, "http_listen", "127.0.0.1:8080"), EST_OK);
    assert_int_equal(server_key(cfg, "metrics_user", "a:b"), EST_E_CONFIG);
    assert_int_equal(server_key(cfg, "log_format", "json"), EST_OK);
    assert_int_equal(cfg->ops.log_format, ESTD_LOG_JSON);
    assert_int_equal(server_key(cfg, "log_format", "xml"), EST_E_CONFIG);
    assert_int_equal(server_key(cfg, "log_target", "syslog"), EST_OK);
    assert_int_equal(cfg->ops.log_target, ESTD_LOG_SYSLOG);
    assert_int_equal(server_key(cfg, "no_such_key", "1"), EST_E_CONFIG);
    free(cfg);
}

static void ca_urls_are_http_only(void **state)
{
    est_profile profile;
    est_error err;
    char long_url[EST_PROFILE_URL_MAX + 2];
    (void)state;

    memset(&profile, 0, sizeof profile);
    assert_int_equal(estd_ops_ca_key_set(&profile, "crl_url", "http://pki.example/ca.crl", &err),
                     EST_OK);
    assert_string_equal(profile.crl_url, "http://pki.example/ca.crl");
    assert_int_equal(estd_ops_ca_key_set(&profile, "ca_issuers_url", "https://x/ca.crt", &err),
                     EST_E_CONFIG);
    assert_int_equal(estd_ops_ca_key_set(&profile, "crl_url", "http://a b", &err), EST_E_CONFIG);
    /* EST_PROFILE_URL_MAX characters fit, one more does not. */
    memset(long_url, 'a', sizeof long_url - 1);
    memcpy(long_url, "http://", 7);
    long_url[EST_PROFILE_URL_MAX] = '\0';
    assert_int_equal(estd_ops_ca_key_set(&profile, "crl_url", long_url, &err), EST_OK);
    long_url[EST_PROFILE_URL_MAX] = 'a';
    long_url[EST_PROFILE_URL_MAX + 1] = '\0';
    assert_int_equal(estd_ops_ca_key_set(&profile, "crl_url", long_url, &err), EST_E_CONFIG);
    assert_int_equal(estd_ops_ca_key_set(&profile, "validity_days", "1", &err), EST_E_NOT_FOUND);
}

UNIT_MAIN(
    cmocka_unit_test(limits_at_and_past_the_maximum),
    cmocka_unit_test(listeners_and_log_settings),
    cmocka_unit_test(ca_urls_are_http_only))
