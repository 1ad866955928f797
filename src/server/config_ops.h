/* Operations settings in estd.conf (config_ops.c): TLS certificate
 * renewal, plain-HTTP publication of CRL and CA certificate, metrics,
 * access log; and the [ca] URLs issued certificates carry. One block of
 * keys: the rows of estd_ops_server_keys and estd_ops_ca_keys (config_ops.c). */
#ifndef ESTD_CONFIG_OPS_H
#define ESTD_CONFIG_OPS_H

#include "estkit.h"

#define ESTD_OPS_LISTEN_MAX 256
#define ESTD_OPS_PATH_MAX 4096
#define ESTD_OPS_USER_MAX 64

/* Renew the TLS certificate when it expires within this many days; below
 * the 825 days a renewal gets, or every check would renew again. */
#define ESTD_TLS_RENEW_DAYS_MAX 365
#define ESTD_TLS_RENEW_DAYS_DEFAULT 30
/* nextUpdate of the CRL http_listen serves; it is made again at half. */
#define ESTD_CRL_DAYS_MAX 366
#define ESTD_CRL_DAYS_DEFAULT 7

typedef enum estd_log_format { ESTD_LOG_TEXT = 0, ESTD_LOG_JSON = 1 } estd_log_format;
typedef enum estd_log_target { ESTD_LOG_STDERR = 0, ESTD_LOG_SYSLOG = 1 } estd_log_target;

typedef struct estd_ops_config {
    unsigned tls_renew_days;                   /* 0 = never */
    char http_listen[ESTD_OPS_LISTEN_MAX];     /* "" = off */
    unsigned crl_days;
    char metrics_listen[ESTD_OPS_LISTEN_MAX];  /* "" = off; a bare port = 127.0.0.1:port */
    char metrics_user[ESTD_OPS_USER_MAX];      /* "" = no authentication */
    char metrics_password_file[ESTD_OPS_PATH_MAX];
    estd_log_format log_format;
    estd_log_target log_target;
} estd_ops_config;

/* One [ca] key (crl_url, ca_issuers_url) into the profile; EST_E_NOT_FOUND
 * when not one of them. */
est_status estd_ops_ca_key_set(est_profile *profile, const char *key, const char *value,
                               est_error *err);

#endif
