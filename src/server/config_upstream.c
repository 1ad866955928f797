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
#include "config_keys.h"

/* Defaults: an exchange with the upstream takes at most 30 s; an answer
 * over 1 MiB is refused (a certs-only reply is a few KiB); /cacerts is
 * fetched again every hour. */
#define UPSTREAM_TIMEOUT_DEFAULT 30
#define UPSTREAM_TIMEOUT_MAX 600
#define UPSTREAM_MAX_RESPONSE_DEFAULT (1u << 20)
#define UPSTREAM_MAX_RESPONSE_MIN 4096
#define UPSTREAM_MAX_RESPONSE_LIMIT (16u << 20)
#define UPSTREAM_REFRESH_DEFAULT 3600
#define UPSTREAM_REFRESH_MAX (7 * 86400)

_Static_assert(sizeof(estd_issuer_kind) == sizeof(int), "choice fields are ints");

static const char *const issuers[] = {"embedded", "est", "cmp", NULL};

/* Only issuer is in the template; docs/operator.md section 18 has the rest. */
#define U estd_upstream_config
#define UPSTREAM_TEXT(name, field, flags) \
    ESTD_STRING(U, name, field, NULL, ESTD_KEY_HIDDEN | (flags), NULL)
#define UPSTREAM_UINT(n, field, lo, hi, d)                                                 \
    {.name = n, .type = ESTD_KEY_UINT, .offset = offsetof(U, field), .min = lo, .max = hi, \
     .def = d, .flags = ESTD_KEY_HIDDEN}
static const estd_config_key upstream_keys[] = {
    ESTD_CHOICE(U, "issuer", issuer, issuers, ESTD_ISSUER_EMBEDDED,
                "Who issues: embedded (this CA's key), or est / cmp to be a Registration\n"
                "Authority in front of an upstream CA (upstream_url, upstream_trust,\n"
                "upstream_cert, upstream_key, ...: see docs/operator.md, section 18)."),
    UPSTREAM_TEXT("upstream_url", url, 0),
    UPSTREAM_TEXT("upstream_trust", trust, ESTD_KEY_PATH),
    UPSTREAM_TEXT("upstream_cert", cert, ESTD_KEY_PATH),
    UPSTREAM_TEXT("upstream_key", key, ESTD_KEY_PATH),
    UPSTREAM_TEXT("upstream_user", user, 0),
    UPSTREAM_TEXT("upstream_password_file", password_file, ESTD_KEY_PATH),
    UPSTREAM_TEXT("cmp_secret_file", cmp_secret_file, ESTD_KEY_PATH),
    UPSTREAM_TEXT("cmp_reference", cmp_reference, 0),
    ESTD_STRING(U, "upstream_cacerts_cache", cacerts_cache, "ca/upstream-cacerts.pem",
                ESTD_KEY_HIDDEN | ESTD_KEY_PATH | ESTD_KEY_LABEL_PATH, NULL),
    UPSTREAM_UINT("upstream_timeout_seconds", timeout_seconds, 1, UPSTREAM_TIMEOUT_MAX,
                  UPSTREAM_TIMEOUT_DEFAULT),
    UPSTREAM_UINT("upstream_max_response_bytes", max_response_bytes, UPSTREAM_MAX_RESPONSE_MIN,
                  UPSTREAM_MAX_RESPONSE_LIMIT, UPSTREAM_MAX_RESPONSE_DEFAULT),
    UPSTREAM_UINT("upstream_cacerts_refresh_seconds", cacerts_refresh_seconds, 1,
                  UPSTREAM_REFRESH_MAX, UPSTREAM_REFRESH_DEFAULT),
    {.name = "upstream_csrattrs", .type = ESTD_KEY_BOOL,
     .offset = offsetof(U, csrattrs_from_upstream), .flags = ESTD_KEY_HIDDEN},
};
#undef UPSTREAM_TEXT
#undef UPSTREAM_UINT
#undef U

const estd_config_table estd_upstream_keys = ESTD_TABLE(upstream_keys);

void estd_upstream_config_defaults(estd_upstream_config *up, const char *label)
{
    memset(up, 0, sizeof *up);
    estd_config_table_defaults(&estd_upstream_keys, up, label);
}

est_status estd_upstream_key_set(estd_upstream_config *up, const char *key, const char *value,
                                 est_error *err)
{
    return estd_config_key_set(&estd_upstream_keys, up, key, value, err);
}

/* Resolves paths and checks that an upstream issuer has what it needs. */
est_status estd_upstream_config_finish(estd_upstream_config *up, const char *dir, est_error *err)
{
    if (estd_config_table_resolve(&estd_upstream_keys, up, dir, err) != EST_OK)
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
