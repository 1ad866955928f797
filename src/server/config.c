/* estd configuration: parsing DIR/estd.conf (see config.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "config.h"
#include "pkcs11.h"
#include "estkit/store.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/csr.h"
#include "estkit/mem.h"

#define CONFIG_LINE_MAX 2048

void estd_ca_config_defaults(estd_ca_config *ca, const char *label)
{
    memset(ca, 0, sizeof *ca);
    snprintf(ca->label, sizeof ca->label, "%s", label);
    if (label[0] == '\0') {
        snprintf(ca->cert, sizeof ca->cert, "ca/ca.pem");
        snprintf(ca->key, sizeof ca->key, "ca/ca.key");
        snprintf(ca->chain, sizeof ca->chain, "ca/chain.pem");
        snprintf(ca->extra, sizeof ca->extra, "ca/extra.pem");
    } else {
        snprintf(ca->cert, sizeof ca->cert, "ca-%s/ca.pem", label);
        snprintf(ca->key, sizeof ca->key, "ca-%s/ca.key", label);
        snprintf(ca->chain, sizeof ca->chain, "ca-%s/chain.pem", label);
        snprintf(ca->extra, sizeof ca->extra, "ca-%s/extra.pem", label);
    }
    est_profile_default(&ca->profile);
    ca->enroll_auth.alternatives[0] = ESTD_AUTH_CERT;
    /* No Digest by default: it needs unsalted, password-equivalent HA1 in
     * the store (`estd user add --digest`); see docs/operator.md. */
    ca->enroll_auth.alternatives[1] = ESTD_AUTH_BASIC;
    ca->enroll_auth.count = 2;
    ca->reenroll_auth.alternatives[0] = ESTD_AUTH_CERT;
    ca->reenroll_auth.count = 1;
    ca->pop = ESTD_POP_OPTIONAL;
    ca->challenge = ESTD_CHALLENGE_CHANNEL_BINDING;
    ca->approval = ESTD_APPROVAL_AUTO;
    ca->retry_after_seconds = 60;
    ca->trust_ra = 1;
    ca->serverkeygen_key_type = EST_KEY_EC_P256;
    ca->fullcmc = 1;
    ca->base64_line_length = ESTD_LINE_INHERIT;
    estd_upstream_config_defaults(&ca->upstream, label);
}

void estd_config_defaults(estd_config *cfg, const char *dir)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->dir, sizeof cfg->dir, "%s", dir);
    snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:8443");
    snprintf(cfg->tls_cert, sizeof cfg->tls_cert, "tls/server.pem");
    snprintf(cfg->tls_key, sizeof cfg->tls_key, "tls/server.key");
    snprintf(cfg->tls_min_version, sizeof cfg->tls_min_version, "1.2");
    snprintf(cfg->store, sizeof cfg->store, "estd.db");
    snprintf(cfg->realm, sizeof cfg->realm, "estkit");
    cfg->max_body_bytes = 64 * 1024;
    cfg->max_header_bytes = 8 * 1024;
    cfg->timeout_seconds = 30;
    cfg->max_connections = 4096;
    cfg->nonce_lifetime_seconds = 300;
    cfg->store_connections = 8;
    cfg->store_wait_seconds = 10;
    cfg->credential_cache_seconds = 60;
    cfg->audit_auth_fail_window_seconds = 60;
    cfg->audit_retention_days = 365;
    cfg->audit_max_rows = 1000000;
    cfg->tls_ticket_key_seconds = 3600;
    cfg->guess_delay_after = 5;
    cfg->guess_lock_after = 20;
    cfg->guess_lock_seconds = 900;
    cfg->guess_delay_max_seconds = 60;
    cfg->password_queue_max = 256;
    cfg->password_queue_wait_ms = 10000;
    cfg->base64_line_length = EST_BODY_LINE_DEFAULT;
    cfg->base64_unbroken_without_user_agent = 1;
    cfg->max_connections_per_address = 64;
    cfg->handshake_timeout_seconds = 10;
    cfg->request_head_timeout_seconds = 10;
    cfg->request_body_timeout_seconds = 30;
    snprintf(cfg->tls_ciphers, sizeof cfg->tls_ciphers, "%s", ESTD_TLS_CIPHERS_DEFAULT);
    snprintf(cfg->tls_ciphersuites, sizeof cfg->tls_ciphersuites, "%s",
             ESTD_TLS_CIPHERSUITES_DEFAULT);
    snprintf(cfg->tls_groups, sizeof cfg->tls_groups, "%s", ESTD_TLS_GROUPS_DEFAULT);
    estd_ops_defaults(&cfg->ops);
    estd_ca_config_defaults(&cfg->cas[0], "");
    cfg->ca_count = 1;
}

const estd_ca_config *estd_config_find_ca(const estd_config *cfg, const char *label)
{
    for (size_t i = 0; i < cfg->ca_count; i++)
        if (strcmp(cfg->cas[i].label, label) == 0)
            return &cfg->cas[i];
    return NULL;
}

static const struct {
    const char *name;
    unsigned bit;
} auth_names[] = {
    {"cert", ESTD_AUTH_CERT},     {"third-party", ESTD_AUTH_THIRD_PARTY},
    {"basic", ESTD_AUTH_BASIC},   {"digest", ESTD_AUTH_DIGEST},
    {"none", ESTD_AUTH_NONE},     {"srp", ESTD_AUTH_SRP},
};

static est_status auth_term_parse(const char *term, size_t len, unsigned *bit, est_error *err)
{
    for (size_t i = 0; i < sizeof auth_names / sizeof auth_names[0]; i++) {
        if (strlen(auth_names[i].name) == len && strncasecmp(term, auth_names[i].name, len) == 0) {
            *bit = auth_names[i].bit;
            return EST_OK;
        }
    }
    return est_error_set(err, EST_E_CONFIG,
                         "unknown authentication method '%.*s' (cert, third-party, basic, digest, none)",
                         (int)len, term);
}

est_status estd_auth_policy_parse(const char *text, estd_auth_policy *out, est_error *err)
{
    estd_auth_policy policy = {0};
    const char *p = text;

    while (*p != '\0') {
        unsigned combo = 0;
        /* One alternative: terms joined by '+', ended by ',' or the end. */
        for (;;) {
            const char *start, *end;
            unsigned bit = 0;
            while (*p == ' ' || *p == '\t')
                p++;
            start = p;
            while (*p != '\0' && *p != '+' && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            end = p;
            while (*p == ' ' || *p == '\t')
                p++;
            if (end == start)
                return est_error_set(err, EST_E_CONFIG, "empty authentication method in '%s'", text);
            if (auth_term_parse(start, (size_t)(end - start), &bit, err) != EST_OK)
                return EST_E_CONFIG;
            combo |= bit;
            if (*p != '+')
                break;
            p++;
        }
        if ((combo & ESTD_AUTH_NONE) && combo != ESTD_AUTH_NONE)
            return est_error_set(err, EST_E_CONFIG, "'none' cannot be combined with other methods");
        if (policy.count == ESTD_AUTH_ALTERNATIVES_MAX)
            return est_error_set(err, EST_E_CONFIG, "more than %d authentication alternatives",
                                 ESTD_AUTH_ALTERNATIVES_MAX);
        policy.alternatives[policy.count++] = combo;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return est_error_set(err, EST_E_CONFIG, "unexpected '%c' in '%s'", *p, text);
    }
    if (policy.count == 0)
        return est_error_set(err, EST_E_CONFIG, "no authentication method given");
    *out = policy;
    return EST_OK;
}

/* --- typed value setters --------------------------------------------- */

static est_status set_string(char *dst, size_t cap, const char *value, est_error *err)
{
    if (strlen(value) >= cap)
        return est_error_set(err, EST_E_CONFIG, "value longer than %zu characters", cap - 1);
    memcpy(dst, value, strlen(value) + 1);
    return EST_OK;
}

static est_status set_uint(unsigned *dst, const char *value, unsigned min, unsigned max,
                           est_error *err)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || v < min || v > max)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not a whole number from %u to %u",
                             value, min, max);
    *dst = (unsigned)v;
    return EST_OK;
}

/* base64_line_length: 0 or a multiple of 4 up to EST_BODY_LINE_MAX. */
static est_status set_line_length(unsigned *dst, const char *value, est_error *err)
{
    unsigned u;
    est_status rc = set_uint(&u, value, 0, EST_BODY_LINE_MAX, err);

    if (rc != EST_OK)
        return rc;
    if (est_body_line_check(u, NULL) != EST_OK)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not 0 or a multiple of 4 up to %u",
                             value, EST_BODY_LINE_MAX);
    *dst = u;
    return EST_OK;
}

static est_status set_bool(int *dst, const char *value, est_error *err)
{
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0) {
        *dst = 1;
        return EST_OK;
    }
    if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0) {
        *dst = 0;
        return EST_OK;
    }
    return est_error_set(err, EST_E_CONFIG, "'%s' is not yes or no", value);
}

static est_status set_choice(int *dst, const char *value, const char *const *choices,
                             est_error *err)
{
    for (int i = 0; choices[i] != NULL; i++) {
        if (strcasecmp(value, choices[i]) == 0) {
            *dst = i;
            return EST_OK;
        }
    }
    return est_error_set(err, EST_E_CONFIG, "'%s' is not one of the allowed values (%s, ...)",
                         value, choices[0]);
}

/* [server] keys of the front door: connection limits, deadlines, TLS
 * suites. EST_E_NOT_FOUND when key is not one of them. */
static est_status front_door_key_set(estd_config *cfg, const char *key, const char *value,
                                     est_error *err)
{
    static const struct {
        const char *name;
        size_t offset;
        unsigned min, max;
    } uints[] = {
        {"max_connections_per_address", offsetof(estd_config, max_connections_per_address), 1,
         1000000},
        {"handshake_timeout_seconds", offsetof(estd_config, handshake_timeout_seconds), 1, 3600},
        {"request_head_timeout_seconds", offsetof(estd_config, request_head_timeout_seconds), 1,
         3600},
        {"request_body_timeout_seconds", offsetof(estd_config, request_body_timeout_seconds), 1,
         3600},
    };
    static const struct {
        const char *name;
        size_t offset, cap;
    } strings[] = {
        {"tls_ciphers", offsetof(estd_config, tls_ciphers), sizeof cfg->tls_ciphers},
        {"tls_ciphersuites", offsetof(estd_config, tls_ciphersuites), sizeof cfg->tls_ciphersuites},
        {"tls_groups", offsetof(estd_config, tls_groups), sizeof cfg->tls_groups},
    };

    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
        if (strcmp(key, uints[i].name) == 0)
            return set_uint((unsigned *)((char *)cfg + uints[i].offset), value, uints[i].min,
                            uints[i].max, err);
    }
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (strcmp(key, strings[i].name) == 0)
            return value[0] == '\0'
                       ? est_error_set(err, EST_E_CONFIG, "%s must not be empty", key)
                       : set_string((char *)cfg + strings[i].offset, strings[i].cap, value, err);
    }
    return EST_E_NOT_FOUND;
}

static est_status server_key_set(estd_config *cfg, const char *key, const char *value,
                                 est_error *err)
{
    unsigned u;
    est_status rc;

    if (strcmp(key, "listen") == 0)
        return set_string(cfg->listen, sizeof cfg->listen, value, err);
    if (strcmp(key, "threads") == 0)
        return set_uint(&cfg->threads, value, 0, 256, err);
    if (strcmp(key, "workers") == 0)
        return set_uint(&cfg->workers, value, 0, 256, err);
    if (strcmp(key, "tls_cert") == 0)
        return set_string(cfg->tls_cert, sizeof cfg->tls_cert, value, err);
    if (strcmp(key, "tls_key") == 0)
        return set_string(cfg->tls_key, sizeof cfg->tls_key, value, err);
    if (strcmp(key, "tls_min_version") == 0) {
        if (strcmp(value, "1.2") != 0 && strcmp(value, "1.3") != 0)
            return est_error_set(err, EST_E_CONFIG, "'%s' is not 1.2 or 1.3", value);
        return set_string(cfg->tls_min_version, sizeof cfg->tls_min_version, value, err);
    }
    if (strcmp(key, "tls_ticket_key_seconds") == 0)
        return set_uint(&cfg->tls_ticket_key_seconds, value, 0, 86400 * 7, err);
    if (strcmp(key, "third_party_trust") == 0)
        return set_string(cfg->third_party_trust, sizeof cfg->third_party_trust, value, err);
    if (strcmp(key, "store") == 0)
        return set_string(cfg->store, sizeof cfg->store, value, err);
    if (strcmp(key, "realm") == 0) {
        if (strpbrk(value, "\"\\") != NULL)
            return est_error_set(err, EST_E_CONFIG, "realm must not contain quotes or backslashes");
        return set_string(cfg->realm, sizeof cfg->realm, value, err);
    }
    if (strcmp(key, "digest_algorithm") == 0)
        return est_digest_alg_parse(value, &cfg->digest_algorithm, err) == EST_OK
                   ? EST_OK
                   : est_error_set(err, EST_E_CONFIG, "'%s' is not MD5 or SHA-256", value);
    if (strcmp(key, "max_body_bytes") == 0) {
        rc = set_uint(&u, value, 1024, ESTD_MAX_BODY_BYTES_LIMIT, err);
        cfg->max_body_bytes = u;
        return rc;
    }
    if (strcmp(key, "max_header_bytes") == 0) {
        rc = set_uint(&u, value, 1024, 1u << 20, err);
        cfg->max_header_bytes = u;
        return rc;
    }
    if (strcmp(key, "timeout_seconds") == 0)
        return set_uint(&cfg->timeout_seconds, value, 1, 3600, err);
    if (strcmp(key, "max_connections") == 0)
        return set_uint(&cfg->max_connections, value, 1, 1000000, err);
    if (strcmp(key, "max_password_checks") == 0)
        return set_uint(&cfg->max_password_checks, value, 0, 256, err);
    if (strcmp(key, "signer") == 0) {
        static const char *const signers[] = {"process", "in-process", NULL};
        return set_choice(&cfg->signer_in_process, value, signers, err);
    }
    if (strcmp(key, "credential_cache_seconds") == 0)
        return set_uint(&cfg->credential_cache_seconds, value, 0, 3600, err);
    if (strcmp(key, "store_connections") == 0)
        return set_uint(&cfg->store_connections, value, 1, 256, err);
    if (strcmp(key, "store_wait_seconds") == 0)
        return set_uint(&cfg->store_wait_seconds, value, 1, 300, err);
    if (strcmp(key, "nonce_lifetime_seconds") == 0)
        return set_uint(&cfg->nonce_lifetime_seconds, value, 10, 86400, err);
    if (strcmp(key, "audit_auth_fail_window_seconds") == 0)
        return set_uint(&cfg->audit_auth_fail_window_seconds, value, 0, 86400, err);
    if (strcmp(key, "audit_retention_days") == 0)
        return set_uint(&cfg->audit_retention_days, value, 0, 36500, err);
    if (strcmp(key, "audit_max_rows") == 0)
        return set_uint(&cfg->audit_max_rows, value, 0, 1000000000, err);
    if (strcmp(key, "guess_delay_after") == 0)
        return set_uint(&cfg->guess_delay_after, value, 0, 1000, err);
    if (strcmp(key, "guess_lock_after") == 0)
        return set_uint(&cfg->guess_lock_after, value, 0, 100000, err);
    if (strcmp(key, "guess_lock_seconds") == 0)
        return set_uint(&cfg->guess_lock_seconds, value, 1, 86400 * 30, err);
    if (strcmp(key, "guess_delay_max_seconds") == 0)
        return set_uint(&cfg->guess_delay_max_seconds, value, 1, 86400, err);
    if (strcmp(key, "password_queue_max") == 0)
        return set_uint(&cfg->password_queue_max, value, 1, ESTD_PASSWORD_QUEUE_MAX_LIMIT, err);
    if (strcmp(key, "password_queue_wait_ms") == 0)
        return set_uint(&cfg->password_queue_wait_ms, value, 1, ESTD_PASSWORD_QUEUE_WAIT_MS_LIMIT,
                        err);
    if (strcmp(key, "base64_line_length") == 0)
        return set_line_length(&cfg->base64_line_length, value, err);
    if (strcmp(key, "base64_unbroken_without_user_agent") == 0)
        return set_bool(&cfg->base64_unbroken_without_user_agent, value, err);
    if ((rc = front_door_key_set(cfg, key, value, err)) != EST_E_NOT_FOUND)
        return rc;
    if ((rc = estd_ops_server_key_set(&cfg->ops, key, value, err)) != EST_E_NOT_FOUND)
        return rc;
    return est_error_set(err, EST_E_CONFIG, "unknown key '%s' in [server]", key);
}

/* The csr_* keys: one row per est_csr_limits field (issue #12). Ranges:
 * small enough to keep a CSR inside est_csr_parse's EST_CSR_MAX_DER, large
 * enough for any real certificate. */
static const struct {
    const char *key;
    size_t offset;
    int is_size; /* size_t field, else unsigned */
    unsigned min, max;
} csr_limit_keys[] = {
    {"csr_max_bytes", offsetof(est_csr_limits, max_bytes), 1, 256, EST_CSR_MAX_DER},
    {"csr_max_subject_bytes", offsetof(est_csr_limits, max_subject_bytes), 1, 64, EST_CSR_MAX_DER},
    {"csr_max_subject_rdns", offsetof(est_csr_limits, max_subject_rdns), 0, 1, 1000},
    {"csr_max_value_bytes", offsetof(est_csr_limits, max_value_bytes), 1, 16, EST_CSR_MAX_DER},
    {"csr_max_attributes", offsetof(est_csr_limits, max_attributes), 0, 0, 1000},
    {"csr_max_extensions", offsetof(est_csr_limits, max_extensions), 0, 0, 10000},
    {"csr_max_san_entries", offsetof(est_csr_limits, max_san_entries), 0, 0, 10000},
    {"csr_max_san_bytes", offsetof(est_csr_limits, max_san_bytes), 1, 0, EST_CSR_MAX_DER},
};

static est_status csr_limit_set(est_csr_limits *limits, const char *key, const char *value,
                                est_error *err)
{
    for (size_t i = 0; i < sizeof csr_limit_keys / sizeof csr_limit_keys[0]; i++) {
        char *field = (char *)limits + csr_limit_keys[i].offset;
        unsigned u = 0;
        est_status rc;

        if (strcmp(key, csr_limit_keys[i].key) != 0)
            continue;
        rc = set_uint(&u, value, csr_limit_keys[i].min, csr_limit_keys[i].max, err);
        if (rc == EST_OK && csr_limit_keys[i].is_size)
            *(size_t *)(void *)field = u;
        else if (rc == EST_OK)
            *(unsigned *)(void *)field = u;
        return rc;
    }
    return est_error_set(err, EST_E_CONFIG, "unknown key '%s' in a [ca] section", key);
}

/* csr_key_types = rsa, ec-p256, ec-p384, ec-p521, ed25519 (any subset). */
static est_status key_types_set(unsigned *out, const char *value, est_error *err)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"rsa", EST_KEY_ALLOW_RSA},         {"ec-p256", EST_KEY_ALLOW_EC_P256},
                 {"ec-p384", EST_KEY_ALLOW_EC_P384}, {"ec-p521", EST_KEY_ALLOW_EC_P521},
                 {"ed25519", EST_KEY_ALLOW_ED25519}};
    unsigned bits = 0;
    const char *p = value;

    while (*p != '\0') {
        size_t len, i;
        p += strspn(p, " \t,");
        if ((len = strcspn(p, " \t,")) == 0)
            break;
        for (i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == len && strncasecmp(p, names[i].name, len) == 0)
                break;
        if (i == sizeof names / sizeof names[0])
            return est_error_set(err, EST_E_CONFIG, "unknown key type '%.*s' (rsa, ec-p256, "
                                 "ec-p384, ec-p521, ed25519)", (int)len, p);
        bits |= names[i].bit;
        p += len;
    }
    if (bits == 0)
        return est_error_set(err, EST_E_CONFIG, "csr_key_types lists no key type");
    *out = bits;
    return EST_OK;
}

/* The [ca] keys of the certificate profile and the CSR checks; the last
 * stop for a [ca] key (unknown keys are errors). */
static est_status profile_key_set(est_profile *profile, const char *key, const char *value,
                                  est_error *err)
{
    unsigned u = 0;
    est_status rc;

    if (strcmp(key, "validity_days") == 0)
        return set_uint(&profile->validity_days, value, 1, 36500, err);
    if (strcmp(key, "extended_key_usage") == 0)
        return set_string(profile->extended_key_usage, sizeof profile->extended_key_usage, value,
                          err);
    if (strcmp(key, "honour_san") == 0)
        return set_bool(&profile->honour_san, value, err);
    if (strcmp(key, "min_rsa_bits") == 0 || strcmp(key, "max_rsa_bits") == 0) {
        int *bits = strcmp(key, "min_rsa_bits") == 0 ? &profile->min_rsa_bits
                                                      : &profile->max_rsa_bits;
        if ((rc = set_uint(&u, value, 2048, 16384, err)) == EST_OK)
            *bits = (int)u;
        return rc;
    }
    if (strcmp(key, "allow_ed25519") == 0)
        return set_bool(&profile->allow_ed25519, value, err);
    if (strcmp(key, "csr_key_types") == 0)
        return key_types_set(&profile->key_types, value, err);
    if (strncmp(key, "csr_", 4) == 0)
        return csr_limit_set(&profile->csr_limits, key, value, err);
    return est_error_set(err, EST_E_CONFIG, "unknown key '%s' in a [ca] section", key);
}

static est_status ca_key_set(estd_ca_config *ca, const char *key, const char *value,
                             est_error *err)
{
    static const char *const pop_modes[] = {"optional", "required", NULL};
    static const char *const challenge_modes[] = {"channel-binding", "one-time-code", NULL};
    static const char *const approvals[] = {"auto", "manual", NULL};
    int choice = 0;
    est_status rc;

    if (strcmp(key, "cert") == 0)
        return set_string(ca->cert, sizeof ca->cert, value, err);
    if (strcmp(key, "key") == 0)
        return set_string(ca->key, sizeof ca->key, value, err);
    if (strcmp(key, "chain") == 0)
        return set_string(ca->chain, sizeof ca->chain, value, err);
    if (strcmp(key, "signature") == 0) {
        static const char *const schemes[] = {"pkcs1", "pss", NULL};
        return set_choice(&ca->signature_pss, value, schemes, err);
    }
    if (strcmp(key, "extra") == 0)
        return set_string(ca->extra, sizeof ca->extra, value, err);
    if (strcmp(key, "enroll_auth") == 0)
        return estd_auth_policy_parse(value, &ca->enroll_auth, err);
    if (strcmp(key, "reenroll_auth") == 0)
        return estd_auth_policy_parse(value, &ca->reenroll_auth, err);
    if (strcmp(key, "pop_linking") == 0) {
        rc = set_choice(&choice, value, pop_modes, err);
        ca->pop = (estd_pop_mode)choice;
        return rc;
    }
    if (strcmp(key, "challenge_password") == 0) {
        rc = set_choice(&choice, value, challenge_modes, err);
        ca->challenge = (estd_challenge_meaning)choice;
        return rc;
    }
    if (strcmp(key, "approval") == 0) {
        rc = set_choice(&choice, value, approvals, err);
        ca->approval = (estd_approval)choice;
        return rc;
    }
    if (strcmp(key, "retry_after_seconds") == 0)
        return set_uint(&ca->retry_after_seconds, value, 1, 86400, err);
    if (strcmp(key, "allow_subject_change") == 0)
        return set_bool(&ca->allow_subject_change, value, err);
    if (strcmp(key, "trust_ra") == 0)
        return set_bool(&ca->trust_ra, value, err);
    if (strcmp(key, "serverkeygen") == 0)
        return set_bool(&ca->serverkeygen, value, err);
    if (strcmp(key, "serverkeygen_key_type") == 0) {
        ca->serverkeygen_key_from_csr = strcmp(value, "csr") == 0;
        if (ca->serverkeygen_key_from_csr)
            return EST_OK;
        return est_key_type_parse(value, &ca->serverkeygen_key_type, err) == EST_OK
                   ? EST_OK
                   : est_error_set(err, EST_E_CONFIG, "'%s' is not csr or a key type (ec-p256, "
                                                      "ec-p384, rsa-2048, ...)", value);
    }
    if (strcmp(key, "serverkeygen_require_encryption") == 0)
        return set_bool(&ca->serverkeygen_require_encryption, value, err);
    if (strcmp(key, "kek_file") == 0)
        return set_string(ca->kek_file, sizeof ca->kek_file, value, err);
    if (strcmp(key, "key_passphrase_file") == 0)
        return set_string(ca->key_passphrase_file, sizeof ca->key_passphrase_file, value, err);
    if (strcmp(key, "key_passphrase_credential") == 0) {
        /* A credential name, not a path: systemd puts it in its own directory. */
        if (strchr(value, '/') != NULL || strcmp(value, "..") == 0 || strcmp(value, ".") == 0)
            return est_error_set(err, EST_E_CONFIG, "key_passphrase_credential is a credential "
                                                    "name, not a path");
        return set_string(ca->key_passphrase_credential, sizeof ca->key_passphrase_credential,
                          value, err);
    }
    if (strcmp(key, "fullcmc") == 0)
        return set_bool(&ca->fullcmc, value, err);
    if (strcmp(key, "csrattrs") == 0)
        return set_string(ca->csrattrs, sizeof ca->csrattrs, value, err);
    if (strcmp(key, "enforce_csrattrs") == 0)
        return set_bool(&ca->enforce_csrattrs, value, err);
    if (strcmp(key, "base64_line_length") == 0)
        return set_line_length(&ca->base64_line_length, value, err);
    if ((rc = estd_upstream_key_set(&ca->upstream, key, value, err)) != EST_E_NOT_FOUND)
        return rc;
    if ((rc = estd_ops_ca_key_set(&ca->profile, key, value, err)) != EST_E_NOT_FOUND)
        return rc;
    return profile_key_set(&ca->profile, key, value, err);
}

/* --- the file ---------------------------------------------------------- */

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* "[server]", "[ca]", "[ca "label"]" -> section; sets *ca to the CA being
 * configured (NULL for [server]). */
static est_status section_open(estd_config *cfg, char *line, estd_ca_config **ca, est_error *err)
{
    size_t len = strlen(line);
    char *inner, *quote, *label_end;

    if (len < 3 || line[len - 1] != ']')
        return est_error_set(err, EST_E_CONFIG, "malformed section header");
    line[len - 1] = '\0';
    inner = trim(line + 1);
    if (strcmp(inner, "server") == 0) {
        *ca = NULL;
        return EST_OK;
    }
    if (strcmp(inner, "ca") == 0) {
        *ca = &cfg->cas[0];
        return EST_OK;
    }
    if (strncmp(inner, "ca", 2) != 0 || (inner[2] != ' ' && inner[2] != '\t'))
        return est_error_set(err, EST_E_CONFIG, "unknown section [%s]", inner);
    quote = trim(inner + 2);
    label_end = strrchr(quote, '"');
    if (quote[0] != '"' || label_end == quote || label_end[1] != '\0')
        return est_error_set(err, EST_E_CONFIG, "a labelled CA section is [ca \"LABEL\"]");
    *label_end = '\0';
    if (est_label_check(quote + 1, err) != EST_OK) {
        if (err != NULL)
            err->code = EST_E_CONFIG;
        return EST_E_CONFIG;
    }
    if (estd_config_find_ca(cfg, quote + 1) != NULL)
        return est_error_set(err, EST_E_CONFIG, "CA label '%s' defined twice", quote + 1);
    if (cfg->ca_count == ESTD_CONFIG_MAX_LABELS + 1)
        return est_error_set(err, EST_E_CONFIG, "more than %d CA labels", ESTD_CONFIG_MAX_LABELS);
    *ca = &cfg->cas[cfg->ca_count++];
    estd_ca_config_defaults(*ca, quote + 1);
    return EST_OK;
}

/* Drops a " # comment" tail; '#' inside a value needs a space before it to
 * start a comment, so OIDs and paths containing '#' are not cut. */
static void strip_comment(char *line)
{
    for (char *p = line; *p != '\0'; p++) {
        if ((*p == '#' || *p == ';') && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}

static est_status config_line(estd_config *cfg, char *raw, int *in_section, estd_ca_config **ca,
                              est_error *err)
{
    char *line, *eq, *key, *value;

    strip_comment(raw);
    line = trim(raw);
    if (*line == '\0')
        return EST_OK;
    if (*line == '[') {
        *in_section = 1;
        return section_open(cfg, line, ca, err);
    }
    if (!*in_section)
        return est_error_set(err, EST_E_CONFIG, "setting outside a section");
    eq = strchr(line, '=');
    if (eq == NULL)
        return est_error_set(err, EST_E_CONFIG, "expected 'key = value'");
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    if (*key == '\0')
        return est_error_set(err, EST_E_CONFIG, "empty key");
    if (*ca == NULL)
        return server_key_set(cfg, key, value, err);
    return ca_key_set(*ca, key, value, err);
}

est_status estd_config_parse(estd_config *cfg, const char *name, const char *text, size_t len,
                             est_error *err)
{
    char line[CONFIG_LINE_MAX];
    estd_ca_config *ca = NULL;
    int in_section = 0;
    size_t pos = 0;
    unsigned lineno = 0;
    est_status rc;

    if (len > ESTD_CONFIG_MAX_BYTES)
        return est_error_set(err, EST_E_CONFIG, "%s: larger than %d bytes", name,
                             ESTD_CONFIG_MAX_BYTES);
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

        lineno++;
        if (n >= sizeof line)
            return est_error_set(err, EST_E_CONFIG, "%s:%u: line longer than %d bytes", name,
                                 lineno, CONFIG_LINE_MAX - 1);
        if (memchr(text + pos, '\0', n) != NULL)
            return est_error_set(err, EST_E_CONFIG, "%s:%u: NUL byte", name, lineno);
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        if ((rc = config_line(cfg, line, &in_section, &ca, err)) != EST_OK)
            return est_error_prefix(err, rc, "%s:%u", name, lineno);
    }
    return EST_OK;
}

/* Makes a relative path absolute under dir ("" stays ""). */
static est_status resolve(char *path, size_t cap, const char *dir, est_error *err)
{
    char tmp[ESTD_PATH_MAX];
    int n;

    if (path[0] == '\0' || path[0] == '/' || estd_key_is_pkcs11(path))
        return EST_OK;
    n = snprintf(tmp, sizeof tmp, "%s/%s", dir, path);
    if (n < 0 || (size_t)n >= cap)
        return est_error_set(err, EST_E_CONFIG, "path too long: %s/%s", dir, path);
    memcpy(path, tmp, (size_t)n + 1);
    return EST_OK;
}

est_status estd_config_path_resolve(char *path, size_t cap, const char *dir, est_error *err)
{
    return resolve(path, cap, dir, err);
}

est_status estd_config_set_string(char *dst, size_t cap, const char *value, est_error *err)
{
    return set_string(dst, cap, value, err);
}

est_status estd_config_set_uint(unsigned *dst, const char *value, unsigned min, unsigned max,
                                est_error *err)
{
    return set_uint(dst, value, min, max, err);
}

est_status estd_config_set_bool(int *dst, const char *value, est_error *err)
{
    return set_bool(dst, value, err);
}

est_status estd_config_load(estd_config *cfg, const char *dir, est_error *err)
{
    char path[ESTD_PATH_MAX];
    uint8_t *text = NULL;
    size_t len = 0;
    est_status rc;

    estd_config_defaults(cfg, dir);
    snprintf(path, sizeof path, "%s/estd.conf", dir);
    if (access(path, F_OK) != 0)
        return est_error_set(err, EST_E_CONFIG, "%s: not found (run `estd init %s` first)", path,
                             dir);
    rc = est_file_read(path, ESTD_CONFIG_MAX_BYTES, &text, &len, err);
    if (rc != EST_OK)
        return rc;
    rc = estd_config_parse(cfg, path, (const char *)text, len, err);
    est_free(text);
    if (rc != EST_OK)
        return rc;
    rc = EST_E_CONFIG;
    if (resolve(cfg->tls_cert, sizeof cfg->tls_cert, dir, err) != EST_OK ||
        resolve(cfg->tls_key, sizeof cfg->tls_key, dir, err) != EST_OK ||
        resolve(cfg->third_party_trust, sizeof cfg->third_party_trust, dir, err) != EST_OK ||
        (!est_store_spec_is_pg(cfg->store) &&
         resolve(cfg->store, sizeof cfg->store, dir, err) != EST_OK) ||
        estd_ops_resolve(&cfg->ops, dir, err) != EST_OK)
        return rc;
    for (size_t i = 0; i < cfg->ca_count; i++) {
        estd_ca_config *ca = &cfg->cas[i];
        if (ca->profile.max_rsa_bits < ca->profile.min_rsa_bits)
            return est_error_set(err, EST_E_CONFIG, "%s: [ca%s%s%s] max_rsa_bits %d is below "
                                 "min_rsa_bits %d", path, ca->label[0] ? " \"" : "", ca->label,
                                 ca->label[0] ? "\"" : "", ca->profile.max_rsa_bits,
                                 ca->profile.min_rsa_bits);
        if (resolve(ca->cert, sizeof ca->cert, dir, err) != EST_OK ||
            resolve(ca->key, sizeof ca->key, dir, err) != EST_OK ||
            resolve(ca->chain, sizeof ca->chain, dir, err) != EST_OK ||
            resolve(ca->extra, sizeof ca->extra, dir, err) != EST_OK ||
            resolve(ca->kek_file, sizeof ca->kek_file, dir, err) != EST_OK ||
            resolve(ca->key_passphrase_file, sizeof ca->key_passphrase_file, dir, err) != EST_OK ||
            estd_upstream_config_finish(&ca->upstream, dir, err) != EST_OK)
            return rc;
        if (ca->key_passphrase_file[0] != '\0' && ca->key_passphrase_credential[0] != '\0')
            return est_error_set(err, EST_E_CONFIG, "CA '%s': key_passphrase_file and "
                                 "key_passphrase_credential: choose one", ca->label);
        /* A [ca] without its own base64_line_length takes [server]'s. */
        if (ca->base64_line_length == ESTD_LINE_INHERIT)
            ca->base64_line_length = cfg->base64_line_length;
    }
    return EST_OK;
}

static const char config_template[] =
"# estd.conf: configuration of one estd instance (written by `estd init`).\n"
"# Relative paths are relative to this directory. Unknown keys are errors.\n"
"\n"
"[server]\n"
"# Address to serve HTTPS on. Bind to loopback unless devices reach it.\n"
"listen = %s\n"
"# Event-loop threads (0 = one per core estd may run on) and worker threads\n"
"# that sign and write the store (0 = 16 per core: while some wait for the\n"
"# disk, others sign, and waiting writes share one commit).\n"
"threads = 0\n"
"workers = 0\n"
"# The server's TLS certificate (followed by its chain) and key.\n"
"tls_cert = tls/server.pem\n"
"tls_key = tls/server.key\n"
"# Oldest TLS version accepted: 1.2 or 1.3.\n"
"tls_min_version = 1.2\n"
"# TLS session resumption (tickets, TLS 1.2 and 1.3): the ticket key changes\n"
"# this often; a ticket is good for twice as long. 0 = no resumption.\n"
"tls_ticket_key_seconds = 3600\n"
"# PEM bundle of third-party CAs whose client certificates may authenticate\n"
"# (e.g. a manufacturer's IDevID CA); used with the 'third-party' method.\n"
"third_party_trust =\n"
"# The certificate store: a SQLite file (WAL mode), or a PostgreSQL database\n"
"# shared by several estd nodes: a libpq URI (postgresql://USER@HOST/DB) or\n"
"# keyword string; the password goes in a passfile (PGPASSFILE), not here.\n"
"store = estd.db\n"
"# PostgreSQL only: connections per node, and how long a request waits for\n"
"# one before it is answered 503 + Retry-After.\n"
"store_connections = 8\n"
"store_wait_seconds = 10\n"
"# HTTP Basic/Digest realm. Digest users are bound to it: after changing it,\n"
"# set their passwords again with `estd user add --force`.\n"
"realm = estkit\n"
"# Algorithm the Digest challenge offers: MD5 (what every client speaks)\n"
"# or SHA-256 (RFC 7616). Credentials in either are verified.\n"
"digest_algorithm = MD5\n"
"# Limits: request body (413 beyond), request head (431 beyond), idle\n"
"# keep-alive timeout, connections.\n"
"max_body_bytes = 65536\n"
"max_header_bytes = 8192\n"
"timeout_seconds = 30\n"
"max_connections = 4096\n"
"# How long a Digest nonce stays fresh.\n"
"nonce_lifetime_seconds = 300\n"
"# Seconds a verified Basic password is remembered, so a device that sends\n"
"# credentials on every request does not pay a slow hash each time. Only\n"
"# an HMAC of the credentials is kept; a password change applies at once.\n"
"# 0 = verify every time.\n"
"credential_cache_seconds = 60\n"
"# Slow password checks allowed at once (wrong passwords are never cached);\n"
"# beyond that Basic requests get 503 + Retry-After, leaving workers for\n"
"# certificate-authenticated clients. 0 = one per core.\n"
"max_password_checks = 0\n"
"# The audit table: repeated authentication failures from one address are\n"
"# written once per window, the rest counted into one row (0 = a row for\n"
"# each). Rows older than audit_retention_days (0 = forever) and beyond the\n"
"# newest audit_max_rows (0 = no cap) are pruned hourly while serving and\n"
"# by `estd audit prune`.\n"
"audit_auth_fail_window_seconds = 60\n"
"audit_retention_days = 365\n"
"audit_max_rows = 1000000\n"
"# Password guessing (Basic, Digest): after guess_delay_after failures for a\n"
"# user name or from an address, each further check waits 1, 2, 4 ... up to\n"
"# guess_delay_max_seconds after the last failure (sooner: 401, no check).\n"
"# guess_lock_after failures lock the user name for guess_lock_seconds, or\n"
"# until `estd user unlock`. 0 = off / never lock.\n"
"guess_delay_after = 5\n"
"guess_lock_after = 20\n"
"guess_lock_seconds = 900\n"
"guess_delay_max_seconds = 60\n"
"# A Basic check beyond max_password_checks waits in a queue (and checks\n"
"# of the same user and password share one hash); 503 + Retry-After only\n"
"# when this many wait already or the wait would pass password_queue_wait_ms.\n"
"password_queue_max = 256\n"
"password_queue_wait_ms = 10000\n"
"# RFC 7030 bodies are base64 in lines of this many characters ended by\n"
"# LF (RFC 2045 lengths; libest needs lines); 0 = one unbroken line. A [ca]\n"
"# section may set its own. Clients that send no User-Agent (strongSwan's\n"
"# pki, which cannot read line breaks) get one line while this is yes.\n"
"base64_line_length = 64\n"
"base64_unbroken_without_user_agent = yes\n"
"# The front door (docs/operator.md, \"Limits\"). Connections one client\n"
"# address may hold (IPv6: one /64); more are closed at once. At\n"
"# max_connections the oldest idle, else the oldest unfinished connection\n"
"# is closed to admit a new one. Total deadlines (not idle timers): TLS\n"
"# handshake from accept, a request head, a request body.\n"
"max_connections_per_address = 64\n"
"handshake_timeout_seconds = 10\n"
"request_head_timeout_seconds = 10\n"
"request_body_timeout_seconds = 30\n"
"# TLS 1.2 ciphers, TLS 1.3 ciphersuites, key-exchange groups (OpenSSL\n"
"# syntax). Default: Mozilla's intermediate profile, AEAD only.\n"
"tls_ciphers = " ESTD_TLS_CIPHERS_DEFAULT "\n"
"tls_ciphersuites = " ESTD_TLS_CIPHERSUITES_DEFAULT "\n"
"tls_groups = " ESTD_TLS_GROUPS_DEFAULT "\n"
"# Operations. Renew the TLS certificate (same key, same names, from the\n"
"# default CA) when it expires within this many days; 0 = never. Also by\n"
"# hand: `estd tls renew DIR`.\n"
"tls_renew_days = 30\n"
"# Plain HTTP (no TLS) for relying parties: /ca.crl and /ca.crt of the\n"
"# default CA, /LABEL/ca.crl and /LABEL/ca.crt of the others. The CRL is\n"
"# made by estd, valid crl_days, and made again at half that or when a\n"
"# certificate is revoked. Empty = off. Point crl_url / ca_issuers_url here.\n"
"http_listen =\n"
"crl_days = 7\n"
"# Prometheus metrics (/metrics), /healthz and /readyz over plain HTTP.\n"
"# A bare port binds 127.0.0.1. Empty = off. With metrics_user, HTTP Basic\n"
"# with the password in the first line of metrics_password_file (0600).\n"
"metrics_listen =\n"
"metrics_user =\n"
"metrics_password_file =\n"
"# Access log: text or json lines, to stderr (journald) or syslog.\n"
"log_format = text\n"
"log_target = stderr\n"
"# Where CA keys are used: process = a separate signer process that alone\n"
"# opens them and only signs (the network process never holds a CA key);\n"
"# in-process = in this process (no isolation; for measurements).\n"
"signer = process\n"
"\n"
"[ca]\n"
"# The default CA, served at /.well-known/est/<operation>.\n"
"# More CAs: a section [ca \"LABEL\"] with the same keys, served at\n"
"# /.well-known/est/LABEL/<operation>.\n"
"cert = ca/ca.pem\n"
"# The CA key: a PEM file (mode 0600; may be an encrypted PKCS#8 PEM).\n"
"# Its passphrase, if encrypted: key_passphrase_file = PATH (mode 0600) or\n"
"# key_passphrase_credential = NAME (a systemd credential, read from\n"
"# $CREDENTIALS_DIRECTORY/NAME). Never on the command line.\n"
"key = ca/ca.key\n"
"# Certificates above the CA up to the root (subordinate CA), and more\n"
"# certificates /cacerts serves (rollover links). Missing files are fine.\n"
"chain = ca/chain.pem\n"
"extra = ca/extra.pem\n"
"# Profile of issued certificates.\n"
"validity_days = 365\n"
"# Comma list of OpenSSL short names: clientAuth, serverAuth, ...\n"
"extended_key_usage = clientAuth\n"
"# Copy the subjectAltName a CSR requests (other requested extensions never).\n"
"honour_san = yes\n"
"# Keys a CSR may carry (any of rsa, ec-p256, ec-p384, ec-p521, ed25519):\n"
"# RSA of min_rsa_bits to max_rsa_bits, EC on named curves only (never\n"
"# explicit parameters), Ed25519 also needs allow_ed25519. Ed448 and other\n"
"# types are refused.\n"
"csr_key_types = rsa, ec-p256, ec-p384, ec-p521, ed25519\n"
"min_rsa_bits = 2048\n"
"max_rsa_bits = 8192\n"
"allow_ed25519 = yes\n"
"# Limits on one CSR (400 naming the limit beyond): the whole DER, the\n"
"# subject's DER, its attributes (RDN components) and one value's bytes,\n"
"# PKCS#10 attributes, requested extensions, subjectAltName names and DER.\n"
"csr_max_bytes = 16384\n"
"csr_max_subject_bytes = 4096\n"
"csr_max_subject_rdns = 32\n"
"csr_max_value_bytes = 1024\n"
"csr_max_attributes = 16\n"
"csr_max_extensions = 32\n"
"csr_max_san_entries = 100\n"
"csr_max_san_bytes = 8192\n"
"# Who may enroll / re-enroll. Alternatives separated by ',', combined\n"
"# methods by '+': cert (issued by this CA), third-party (third_party_trust),\n"
"# basic, digest, none. Example: enroll_auth = cert, third-party+basic\n"
"# digest also needs users added with `estd user add --digest`, which\n"
"# stores unsalted, password-equivalent HA1 (see docs/operator.md).\n"
"enroll_auth = cert, basic\n"
"reenroll_auth = cert\n"
"# Proof-of-possession linking (channel binding in challengePassword):\n"
"# optional = checked when present; required = refused when missing.\n"
"pop_linking = optional\n"
"# What challengePassword means: channel-binding (draft-04 section 3.5:\n"
"# the TLS channel binding) or one-time-code (a code from `estd otp add`,\n"
"# good for one new enrollment by /simpleenroll or /serverkeygen; /fullcmc\n"
"# enrollment is then refused, re-enroll needs no code). With one-time-code,\n"
"# channel binding can still be sent in estIdentityLinking (RFC 7894).\n"
"challenge_password = channel-binding\n"
"# auto = issue at once; manual = answer 202 and wait for `estd pending approve`.\n"
"approval = auto\n"
"retry_after_seconds = 60\n"
"# Whether re-enroll may change the subject and subjectAltName.\n"
"allow_subject_change = no\n"
"# Client certificates of this CA carrying id-kp-cmcRA are RAs (draft-04\n"
"# section 3.7): their CSRs need not be linked to the RA's own TLS session,\n"
"# and their re-enroll requests may carry their clients' subjects.\n"
"trust_ra = yes\n"
"# Offer /serverkeygen (off by default: the server then knows the key).\n"
"serverkeygen = no\n"
"# What it generates: a key type (ec-p256, ec-p384, rsa-2048, rsa-3072,\n"
"# rsa-4096, ed25519) or csr (the type of the key in the request).\n"
"serverkeygen_key_type = ec-p256\n"
"# Refuse to return a key without encryption beyond TLS: the CSR must then\n"
"# carry a DecryptKeyIdentifier (a key from kek_file) or an\n"
"# AsymmetricDecryptKeyIdentifier (the TLS client certificate's key).\n"
"serverkeygen_require_encryption = no\n"
"# Pre-shared key-encryption keys, one per line: ID_HEX KEY_HEX (16, 24 or\n"
"# 32 bytes of key). Keep it mode 0600; estd refuses a wider one.\n"
"kek_file =\n"
"# Offer /fullcmc (Full PKI Requests: PKCS#10 enrollment, revokeRequest).\n"
"fullcmc = yes\n"
"# What /csrattrs lists: comma list of OIDs or OpenSSL names, e.g.\n"
"# challengePassword, 1.3.6.1.1.1.1.22. With pop_linking = required the\n"
"# challengePassword OID is listed anyway.\n"
"csrattrs =\n"
"# Refuse CSRs that lack an attribute /csrattrs asks for.\n"
"enforce_csrattrs = no\n"
"# http:// URLs put in every certificate issued: where its CRL is\n"
"# (cRLDistributionPoints) and where the CA certificate is (AIA\n"
"# caIssuers); e.g. http://pki.example:8080/ca.crl. Empty = none.\n"
"crl_url =\n"
"ca_issuers_url =\n"
"# Who issues: embedded (this CA's key), or est / cmp to be a Registration\n"
"# Authority in front of an upstream CA (upstream_url, upstream_trust,\n"
"# upstream_cert, upstream_key, ...: see docs/operator.md, section 18).\n"
"issuer = embedded\n";

est_status estd_config_template(const char *listen, char **out, est_error *err)
{
    size_t cap = sizeof config_template + strlen(listen);
    char *text = malloc(cap);

    if (text == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    snprintf(text, cap, config_template, listen);
    *out = text;
    return EST_OK;
}
