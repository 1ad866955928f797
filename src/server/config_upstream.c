/* estd configuration: the keys of a [ca] section that make estd a
 * Registration Authority in front of an upstream CA (draft-04 §2, §3.7).
 *
 *   issuer = est | cmp | embedded
 *   upstream_url, upstream_trust, upstream_cert, upstream_key,
 *   upstream_user, upstream_password_file, cmp_secret_file, cmp_reference,
 *   upstream_cacerts_cache, upstream_timeout_seconds,
 *   upstream_max_response_bytes, upstream_cacerts_refresh_seconds,
 *   upstream_csrattrs */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"

/* Defaults: an exchange with the upstream takes at most 30 s; an answer
 * over 1 MiB is refused (a certs-only reply is a few KiB); /cacerts is
 * fetched again every hour. */
#define UPSTREAM_TIMEOUT_DEFAULT 30
#define UPSTREAM_MAX_RESPONSE_DEFAULT (1u << 20)
#define UPSTREAM_MAX_RESPONSE_LIMIT (16u << 20)
#define UPSTREAM_REFRESH_DEFAULT 3600

void estd_upstream_config_defaults(estd_upstream_config *up, const char *label)
{
    memset(up, 0, sizeof *up);
    up->issuer = ESTD_ISSUER_EMBEDDED;
    if (label[0] == '\0')
        snprintf(up->cacerts_cache, sizeof up->cacerts_cache, "ca/upstream-cacerts.pem");
    else
        snprintf(up->cacerts_cache, sizeof up->cacerts_cache, "ca-%s/upstream-cacerts.pem",
                 label);
    up->timeout_seconds = UPSTREAM_TIMEOUT_DEFAULT;
    up->max_response_bytes = UPSTREAM_MAX_RESPONSE_DEFAULT;
    up->cacerts_refresh_seconds = UPSTREAM_REFRESH_DEFAULT;
}

static const struct {
    const char *key;
    size_t offset;
    size_t cap;
} text_keys[] = {
#define TEXT_KEY(name, field) {name, offsetof(estd_upstream_config, field), \
                               sizeof(((estd_upstream_config *)0)->field)}
    TEXT_KEY("upstream_url", url),
    TEXT_KEY("upstream_trust", trust),
    TEXT_KEY("upstream_cert", cert),
    TEXT_KEY("upstream_key", key),
    TEXT_KEY("upstream_user", user),
    TEXT_KEY("upstream_password_file", password_file),
    TEXT_KEY("cmp_secret_file", cmp_secret_file),
    TEXT_KEY("cmp_reference", cmp_reference),
    TEXT_KEY("upstream_cacerts_cache", cacerts_cache),
#undef TEXT_KEY
};

est_status estd_upstream_key_set(estd_upstream_config *up, const char *key, const char *value,
                                 est_error *err)
{
    if (strcmp(key, "issuer") == 0) {
        if (strcasecmp(value, "embedded") == 0)
            up->issuer = ESTD_ISSUER_EMBEDDED;
        else if (strcasecmp(value, "est") == 0)
            up->issuer = ESTD_ISSUER_EST;
        else if (strcasecmp(value, "cmp") == 0)
            up->issuer = ESTD_ISSUER_CMP;
        else
            return est_error_set(err, EST_E_CONFIG, "'%s' is not embedded, est or cmp", value);
        return EST_OK;
    }
    for (size_t i = 0; i < sizeof text_keys / sizeof text_keys[0]; i++)
        if (strcmp(key, text_keys[i].key) == 0)
            return estd_config_set_string((char *)up + text_keys[i].offset, text_keys[i].cap, value, err);
    if (strcmp(key, "upstream_csrattrs") == 0)
        return estd_config_set_bool(&up->csrattrs_from_upstream, value, err);
    if (strcmp(key, "upstream_timeout_seconds") == 0)
        return estd_config_set_uint(&up->timeout_seconds, value, 1, 600, err);
    if (strcmp(key, "upstream_max_response_bytes") == 0)
        return estd_config_set_uint(&up->max_response_bytes, value, 4096, UPSTREAM_MAX_RESPONSE_LIMIT, err);
    if (strcmp(key, "upstream_cacerts_refresh_seconds") == 0)
        return estd_config_set_uint(&up->cacerts_refresh_seconds, value, 1, 7 * 86400, err);
    return EST_E_NOT_FOUND;
}

/* Resolves paths and checks that an upstream issuer has what it needs. */
est_status estd_upstream_config_finish(estd_upstream_config *up, const char *dir, est_error *err)
{
    char *paths[] = {up->trust, up->cert, up->key, up->password_file, up->cmp_secret_file,
                     up->cacerts_cache};

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (estd_config_path_resolve(paths[i], ESTD_PATH_MAX, dir, err) != EST_OK)
            return EST_E_CONFIG;
    if (up->issuer == ESTD_ISSUER_EMBEDDED)
        return EST_OK;
    if (up->url[0] == '\0')
        return est_error_set(err, EST_E_CONFIG, "issuer = %s needs upstream_url",
                             up->issuer == ESTD_ISSUER_EST ? "est" : "cmp");
    if ((up->cert[0] == '\0') != (up->key[0] == '\0'))
        return est_error_set(err, EST_E_CONFIG, "upstream_cert and upstream_key go together");
    if ((up->user[0] == '\0') != (up->password_file[0] == '\0'))
        return est_error_set(err, EST_E_CONFIG,
                             "upstream_user and upstream_password_file go together");
    if (up->issuer == ESTD_ISSUER_EST && up->trust[0] == '\0')
        return est_error_set(err, EST_E_CONFIG,
                             "issuer = est needs upstream_trust (the upstream's TLS anchor)");
    if (up->csrattrs_from_upstream && up->issuer != ESTD_ISSUER_EST)
        return est_error_set(err, EST_E_CONFIG, "upstream_csrattrs needs issuer = est");
    if (up->issuer == ESTD_ISSUER_CMP && up->cert[0] == '\0' && up->cmp_secret_file[0] == '\0')
        return est_error_set(err, EST_E_CONFIG, "issuer = cmp needs upstream_cert + upstream_key "
                                                "or cmp_secret_file");
    return EST_OK;
}
