/* Operations keys of estd.conf (config_ops.h), as rows of the key tables
 * (config_keys.h). Documented in the template, estd.conf(5) and
 * docs/operator.md "Operations". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"
#include "config_keys.h"
#include "config_ops.h"
#include "estkit/csr.h"

_Static_assert(sizeof(estd_log_format) == sizeof(int), "choice fields are ints");
_Static_assert(sizeof(estd_log_target) == sizeof(int), "choice fields are ints");

static est_status listen_address(char *dst, size_t cap, const char *value, int bare_port_local,
                                 est_error *err)
{
    if (bare_port_local && value[0] != '\0' && strspn(value, "0123456789") == strlen(value)) {
        int n = snprintf(dst, cap, "127.0.0.1:%s", value);
        return n > 0 && (size_t)n < cap ? EST_OK
                                        : est_error_set(err, EST_E_CONFIG, "port too long");
    }
    if (value[0] != '\0' && strrchr(value, ':') == NULL)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not HOST:PORT", value);
    return estd_config_set_string(dst, cap, value, err);
}

static est_status set_http_listen(void *base, const estd_config_key *key, const char *value,
                                  est_error *err)
{
    return listen_address((char *)base + key->offset, key->cap, value, 0, err);
}

/* A bare port binds 127.0.0.1. */
static est_status set_metrics_listen(void *base, const estd_config_key *key, const char *value,
                                     est_error *err)
{
    return listen_address((char *)base + key->offset, key->cap, value, 1, err);
}

static est_status set_metrics_user(void *base, const estd_config_key *key, const char *value,
                                   est_error *err)
{
    if (strchr(value, ':') != NULL)
        return est_error_set(err, EST_E_CONFIG, "metrics_user must not contain ':'");
    return estd_config_set_string((char *)base + key->offset, key->cap, value, err);
}

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const log_targets[] = {"stderr", "syslog", NULL};

#define O estd_ops_config
static const estd_config_key ops_server_keys[] = {
    ESTD_UINT(O, "tls_renew_days", tls_renew_days, 0, ESTD_TLS_RENEW_DAYS_MAX,
              ESTD_TLS_RENEW_DAYS_DEFAULT,
              "Operations. Renew the TLS certificate (same key, same names, from the\n"
              "default CA) when it expires within this many days; 0 = never. Also by\n"
              "hand: `estd tls renew DIR`."),
    ESTD_CUSTOM(O, "http_listen", http_listen, set_http_listen, NULL, 0,
                "Plain HTTP (no TLS) for relying parties: /ca.crl and /ca.crt of the\n"
                "default CA, /LABEL/ca.crl and /LABEL/ca.crt of the others. The CRL is\n"
                "made by estd, valid crl_days, and made again at half that or when a\n"
                "certificate is revoked. Empty = off. Point crl_url / ca_issuers_url here."),
    ESTD_UINT(O, "crl_days", crl_days, 1, ESTD_CRL_DAYS_MAX, ESTD_CRL_DAYS_DEFAULT, NULL),
    ESTD_CUSTOM(O, "metrics_listen", metrics_listen, set_metrics_listen, NULL, 0,
                "Prometheus metrics (/metrics), /healthz and /readyz over plain HTTP.\n"
                "A bare port binds 127.0.0.1. Empty = off. With metrics_user, HTTP Basic\n"
                "with the password in the first line of metrics_password_file (0600)."),
    ESTD_CUSTOM(O, "metrics_user", metrics_user, set_metrics_user, NULL, 0, NULL),
    ESTD_STRING(O, "metrics_password_file", metrics_password_file, NULL, ESTD_KEY_PATH, NULL),
    ESTD_CHOICE(O, "log_format", log_format, log_formats, ESTD_LOG_TEXT,
                "Access log: text or json lines, to stderr (journald) or syslog."),
    ESTD_CHOICE(O, "log_target", log_target, log_targets, ESTD_LOG_STDERR, NULL),
};
#undef O

/* RFC 5280 §4.2.1.13 / §4.2.2.1: relying parties fetch these over http
 * (https would need the certificate being checked); nothing else. */
static est_status set_url(void *base, const estd_config_key *key, const char *value,
                          est_error *err)
{
    if (value[0] != '\0' && strncasecmp(value, "http://", 7) != 0)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not an http:// URL", value);
    if (strpbrk(value, " \t\"<>") != NULL)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not a URL", value);
    return estd_config_set_string((char *)base + key->offset, key->cap, value, err);
}

static const estd_config_key ops_ca_keys[] = {
    ESTD_CUSTOM(est_profile, "crl_url", crl_url, set_url, NULL, 0,
                "http:// URLs put in every certificate issued: where its CRL is\n"
                "(cRLDistributionPoints) and where the CA certificate is (AIA\n"
                "caIssuers); e.g. http://pki.example:8080/ca.crl. Empty = none."),
    ESTD_CUSTOM(est_profile, "ca_issuers_url", ca_issuers_url, set_url, NULL, 0, NULL),
};

const estd_config_table estd_ops_server_keys = ESTD_TABLE(ops_server_keys);
const estd_config_table estd_ops_ca_keys = ESTD_TABLE(ops_ca_keys);

est_status estd_ops_ca_key_set(est_profile *profile, const char *key, const char *value,
                               est_error *err)
{
    return estd_config_key_set(&estd_ops_ca_keys, profile, key, value, err);
}
