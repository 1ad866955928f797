/* Operations keys of estd.conf (config_ops.h). Documented in the template
 * (config.c), estd.conf(5) and docs/operator.md "Operations". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"
#include "config_ops.h"
#include "estkit/csr.h"

void estd_ops_defaults(estd_ops_config *ops)
{
    memset(ops, 0, sizeof *ops);
    ops->tls_renew_days = ESTD_TLS_RENEW_DAYS_DEFAULT;
    ops->crl_days = ESTD_CRL_DAYS_DEFAULT;
}

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

est_status estd_ops_server_key_set(estd_ops_config *ops, const char *key, const char *value,
                                   est_error *err)
{
    if (strcmp(key, "tls_renew_days") == 0)
        return estd_config_set_uint(&ops->tls_renew_days, value, 0, ESTD_TLS_RENEW_DAYS_MAX, err);
    if (strcmp(key, "http_listen") == 0)
        return listen_address(ops->http_listen, sizeof ops->http_listen, value, 0, err);
    if (strcmp(key, "crl_days") == 0)
        return estd_config_set_uint(&ops->crl_days, value, 1, ESTD_CRL_DAYS_MAX, err);
    if (strcmp(key, "metrics_listen") == 0)
        return listen_address(ops->metrics_listen, sizeof ops->metrics_listen, value, 1, err);
    if (strcmp(key, "metrics_user") == 0) {
        if (strchr(value, ':') != NULL)
            return est_error_set(err, EST_E_CONFIG, "metrics_user must not contain ':'");
        return estd_config_set_string(ops->metrics_user, sizeof ops->metrics_user, value, err);
    }
    if (strcmp(key, "metrics_password_file") == 0)
        return estd_config_set_string(ops->metrics_password_file, sizeof ops->metrics_password_file, value, err);
    if (strcmp(key, "log_format") == 0) {
        if (strcasecmp(value, "text") == 0 || strcasecmp(value, "json") == 0) {
            ops->log_format = strcasecmp(value, "json") == 0 ? ESTD_LOG_JSON : ESTD_LOG_TEXT;
            return EST_OK;
        }
        return est_error_set(err, EST_E_CONFIG, "'%s' is not text or json", value);
    }
    if (strcmp(key, "log_target") == 0) {
        if (strcasecmp(value, "stderr") == 0 || strcasecmp(value, "syslog") == 0) {
            ops->log_target = strcasecmp(value, "syslog") == 0 ? ESTD_LOG_SYSLOG : ESTD_LOG_STDERR;
            return EST_OK;
        }
        return est_error_set(err, EST_E_CONFIG, "'%s' is not stderr or syslog", value);
    }
    return EST_E_NOT_FOUND;
}

/* RFC 5280 §4.2.1.13 / §4.2.2.1: relying parties fetch these over http
 * (https would need the certificate being checked); nothing else. */
static est_status url(char *dst, size_t cap, const char *value, est_error *err)
{
    if (value[0] != '\0' && strncasecmp(value, "http://", 7) != 0)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not an http:// URL", value);
    if (strpbrk(value, " \t\"<>") != NULL)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not a URL", value);
    return estd_config_set_string(dst, cap, value, err);
}

est_status estd_ops_ca_key_set(est_profile *profile, const char *key, const char *value,
                               est_error *err)
{
    if (strcmp(key, "crl_url") == 0)
        return url(profile->crl_url, sizeof profile->crl_url, value, err);
    if (strcmp(key, "ca_issuers_url") == 0)
        return url(profile->ca_issuers_url, sizeof profile->ca_issuers_url, value, err);
    return EST_E_NOT_FOUND;
}

est_status estd_ops_resolve(estd_ops_config *ops, const char *dir, est_error *err)
{
    char tmp[ESTD_OPS_PATH_MAX];
    int n;

    if (ops->metrics_password_file[0] == '\0' || ops->metrics_password_file[0] == '/')
        return EST_OK;
    n = snprintf(tmp, sizeof tmp, "%s/%s", dir, ops->metrics_password_file);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return est_error_set(err, EST_E_CONFIG, "path too long: %s/%s", dir,
                             ops->metrics_password_file);
    memcpy(ops->metrics_password_file, tmp, (size_t)n + 1);
    return EST_OK;
}
