/* Names from text: distinguished names ("CN=x,O=y" or "/CN=x/O=y") and
 * subjectAltName lists ("DNS:x,IP:1.2.3.4"). All encoding is OpenSSL's. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "estkit/name.h"

/* A subject DN string: real ones are < 200 characters. */
#define EST_DN_MAX 1024
/* A SAN list as text (est --san, estd's TLS names). */
#define SAN_TEXT_MAX 4096

/* --- distinguished names --- */

static void trim_spaces(char *s)
{
    size_t len = strlen(s), start = strspn(s, " ");

    while (len > start && s[len - 1] == ' ')
        len--;
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
}

/* Splits one TYPE=value off *p (up to an unescaped sep), removing escapes.
 * Spaces around TYPE and unescaped spaces around the value are dropped,
 * as in "CN=a, O=b". *more is set when a separator ended the component. */
static est_status next_component(const char **p, char sep, char *type, char *value,
                                 size_t *value_len, int *more, est_error *err)
{
    const char *s = *p;
    size_t type_len = 0, len = 0, keep = 0;
    int in_value = 0;

    for (; *s != '\0' && *s != sep; s++) {
        char c = *s;
        int escaped = 0;
        if (c == '\\') {
            if (s[1] == '\0')
                return est_error_set(err, EST_E_INPUT, "DN ends in a lone backslash");
            c = *++s;
            escaped = 1;
        }
        if (!in_value && c == '=' && !escaped) {
            in_value = 1;
        } else if (!in_value) {
            type[type_len++] = c;
        } else if (len > 0 || c != ' ' || escaped) {
            value[len++] = c;
            if (escaped || c != ' ')
                keep = len;
        }
    }
    *more = *s == sep;
    *p = *more ? s + 1 : s;
    type[type_len] = '\0';
    value[keep] = '\0';
    *value_len = keep;
    trim_spaces(type);
    if (!in_value)
        return est_error_set(err, EST_E_INPUT, "DN component '%.64s' is not TYPE=value", type);
    if (type[0] == '\0' || keep == 0)
        return est_error_set(err, EST_E_INPUT, "DN component '%.64s=%.64s' has an empty %s",
                             type, value, type[0] == '\0' ? "type" : "value");
    return EST_OK;
}

/* "CN=a,O=b" (RFC 4514 characters, '\' escapes) or "/CN=a/O=b" (the
 * `openssl req -subj` form). The attributes go into the name in the order
 * written, which is how OpenSSL and strongSwan print and parse DNs (RFC
 * 4514 strings list RDNs in reverse; operators type them as they see
 * them). One attribute per RDN: '+' has no special meaning. */
est_status est_name_parse(const char *dn, X509_NAME **out, est_error *err)
{
    X509_NAME *name = NULL;
    char *type = NULL, *value = NULL;
    const char *p;
    size_t len, value_len = 0;
    int more = 0;
    char sep;
    est_status rc = EST_E_NOMEM;

    if (dn == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "DN parse: NULL argument");
    *out = NULL;
    len = strnlen(dn, EST_DN_MAX + 1);
    if (len > EST_DN_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "DN longer than %d characters", EST_DN_MAX);
    sep = dn[0] == '/' ? '/' : ',';
    p = dn + (sep == '/');
    if (*p == '\0')
        return est_error_set(err, EST_E_INPUT, "empty DN");
    type = malloc(len + 1);
    value = malloc(len + 1);
    name = X509_NAME_new();
    if (type == NULL || value == NULL || name == NULL) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    do {
        int nid;
        if ((rc = next_component(&p, sep, type, value, &value_len, &more, err)) != EST_OK)
            goto out;
        rc = EST_E_INPUT;
        if ((nid = OBJ_txt2nid(type)) == NID_undef) {
            est_error_set(err, EST_E_INPUT, "unknown DN attribute type '%.64s'", type);
            goto out;
        }
        /* OpenSSL applies each attribute's string rules (C: 2 letters, CN <= 64). */
        if (!X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (unsigned char *)value,
                                        (int)value_len, -1, 0)) {
            est_error_set_openssl(err, EST_E_INPUT, "DN attribute %.64s='%.64s'", type, value);
            goto out;
        }
    } while (*p != '\0');
    if (more) {
        est_error_set(err, EST_E_INPUT, "DN ends in a separator");
        goto out;
    }
    *out = name;
    name = NULL;
    rc = EST_OK;
out:
    X509_NAME_free(name);
    free(type);
    free(value);
    return rc;
}

/* --- subjectAltName lists --- */

/* "dns:x" -> "DNS:x"; a bare name gets IP: or DNS:. OpenSSL's parser wants
 * its own spelling of the type. */
static est_status san_item(const char *item, char *out, size_t cap, est_error *err)
{
    static const char *const types[] = {"DNS", "IP", "email", "URI", "RID"};
    const char *colon = strchr(item, ':');
    unsigned char addr[16];

    for (size_t i = 0; colon != NULL && i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        if ((size_t)(colon - item) == n && strncasecmp(item, types[i], n) == 0) {
            snprintf(out, cap, "%s:%s", types[i], colon + 1);
            return EST_OK;
        }
    }
    if (inet_pton(AF_INET, item, addr) == 1 || inet_pton(AF_INET6, item, addr) == 1)
        snprintf(out, cap, "IP:%s", item);
    else if (colon == NULL)
        snprintf(out, cap, "DNS:%s", item);
    else
        return est_error_set(err, EST_E_INPUT, "subjectAltName %s: unknown type (DNS, IP, "
                                               "email, URI, RID)", item);
    return EST_OK;
}

/* One "TYPE:value" through OpenSSL's subjectAltName parser. */
static est_status san_one(const char *spec, GENERAL_NAMES *names, est_error *err)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, spec);
    GENERAL_NAMES *one = ext ? X509V3_EXT_d2i(ext) : NULL;
    est_status rc = EST_E_INPUT;

    if (one == NULL) {
        est_error_set_openssl(err, EST_E_INPUT, "subjectAltName %s", spec);
        goto out;
    }
    while (sk_GENERAL_NAME_num(one) > 0) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_shift(one);
        if (sk_GENERAL_NAME_num(names) >= EST_SAN_MAX_NAMES || !sk_GENERAL_NAME_push(names, gn)) {
            GENERAL_NAME_free(gn);
            rc = est_error_set(err, EST_E_TOO_LARGE, "more than %d subjectAltNames",
                               EST_SAN_MAX_NAMES);
            goto out;
        }
    }
    rc = EST_OK;
out:
    GENERAL_NAMES_free(one);
    X509_EXTENSION_free(ext);
    return rc;
}

est_status est_san_parse(const char *text, GENERAL_NAMES **names, est_error *err)
{
    char spec[SAN_TEXT_MAX + 8], *copy = NULL, *save = NULL, *tok;
    int created = 0;
    est_status rc = EST_E_INPUT;

    if (text == NULL || names == NULL)
        return est_error_set(err, EST_E_INTERNAL, "subjectAltName: NULL argument");
    if (strlen(text) > SAN_TEXT_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "subjectAltName longer than %d characters",
                             SAN_TEXT_MAX);
    if ((copy = strdup(text)) == NULL ||
        (*names == NULL && (created = 1, *names = GENERAL_NAMES_new()) == NULL)) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            continue;
        if ((rc = san_item(tok, spec, sizeof spec, err)) != EST_OK ||
            (rc = san_one(spec, *names, err)) != EST_OK)
            goto out;
    }
    rc = sk_GENERAL_NAME_num(*names) > 0 ? EST_OK
                                          : est_error_set(err, EST_E_INPUT, "empty subjectAltName");
out:
    if (rc != EST_OK && created) {
        GENERAL_NAMES_free(*names);
        *names = NULL;
    }
    free(copy);
    return rc;
}
