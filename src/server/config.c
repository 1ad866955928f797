/* estd configuration: parsing DIR/estd.conf (see config.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "config.h"
#include "config_keys.h"
#include "pkcs11.h"
#include "estkit/store.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/csr.h"
#include "estkit/mem.h"

#define CONFIG_LINE_MAX 2048

/* Every table of a section at its defaults; base is the section's struct. */
static void section_defaults(const estd_config_section *section, void *base, const char *label)
{
    for (size_t i = 0; i < section->count; i++)
        estd_config_table_defaults(section->parts[i].table, (char *)base + section->parts[i].base,
                                   label);
}

void estd_ca_config_defaults(estd_ca_config *ca, const char *label)
{
    memset(ca, 0, sizeof *ca);
    snprintf(ca->label, sizeof ca->label, "%s", label);
    /* The profile fields no key sets (backdate_seconds) keep the library's. */
    est_profile_default(&ca->profile);
    section_defaults(&estd_config_ca_section, ca, label);
    ca->base64_line_length = ESTD_LINE_INHERIT;
}

void estd_config_defaults(estd_config *cfg, const char *dir)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->dir, sizeof cfg->dir, "%s", dir);
    section_defaults(&estd_config_server_section, cfg, "");
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

/* key = value in a section: the first of its tables that has the key. */
static est_status section_key_set(const estd_config_section *section, void *base,
                                  const char *key, const char *value, est_error *err)
{
    for (size_t i = 0; i < section->count; i++) {
        est_status rc = estd_config_key_set(section->parts[i].table,
                                            (char *)base + section->parts[i].base, key, value, err);
        if (rc != EST_E_NOT_FOUND)
            return rc;
    }
    if (section == &estd_config_server_section)
        return est_error_set(err, EST_E_CONFIG, "unknown key '%s' in [server]", key);
    return est_error_set(err, EST_E_CONFIG, "unknown key '%s' in a [ca] section", key);
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
        return section_key_set(&estd_config_server_section, cfg, key, value, err);
    return section_key_set(&estd_config_ca_section, *ca, key, value, err);
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
    if (estd_config_table_resolve(&estd_server_keys, cfg, dir, err) != EST_OK ||
        estd_config_table_resolve(&estd_ops_server_keys, &cfg->ops, dir, err) != EST_OK ||
        (!est_store_spec_is_pg(cfg->store) &&
         resolve(cfg->store, sizeof cfg->store, dir, err) != EST_OK))
        return rc;
    for (size_t i = 0; i < cfg->ca_count; i++) {
        estd_ca_config *ca = &cfg->cas[i];
        if (ca->profile.max_rsa_bits < ca->profile.min_rsa_bits)
            return est_error_set(err, EST_E_CONFIG, "%s: [ca%s%s%s] max_rsa_bits %d is below "
                                 "min_rsa_bits %d", path, ca->label[0] ? " \"" : "", ca->label,
                                 ca->label[0] ? "\"" : "", ca->profile.max_rsa_bits,
                                 ca->profile.min_rsa_bits);
        if (estd_config_table_resolve(&estd_ca_keys, ca, dir, err) != EST_OK ||
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
