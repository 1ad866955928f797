/* HTTP Digest authentication (RFC 7616), draft-04 §3.2.3: the
 * Authorization header parser, HA1 and response computation, and the
 * server-side verification. The nonce book is in auth_digest_nonce.c. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "estkit/auth.h"

#define DIGEST_SCHEME "Digest"
/* RFC 7616 §3.4 defines 13 parameters; a header with more than this many is
 * not from a real client, and the duplicate check is quadratic in it. */
#define DIGEST_PARAMS_MAX 32
/* RFC 7616 §3.4: nc-value = 8LHEX. */
#define DIGEST_NC_LEN 8

/* The parameters we keep, by name (RFC 7616 §3.4); others are ignored. */
static const struct {
    const char *name;
    size_t offset;
} known_params[] = {
    {"username", offsetof(est_digest_credentials, username)},
    {"realm", offsetof(est_digest_credentials, realm)},
    {"nonce", offsetof(est_digest_credentials, nonce)},
    {"uri", offsetof(est_digest_credentials, uri)},
    {"response", offsetof(est_digest_credentials, response)},
    {"algorithm", offsetof(est_digest_credentials, algorithm)},
    {"cnonce", offsetof(est_digest_credentials, cnonce)},
    {"opaque", offsetof(est_digest_credentials, opaque)},
    {"qop", offsetof(est_digest_credentials, qop)},
    {"nc", offsetof(est_digest_credentials, nc)},
};

typedef struct param_span {
    const char *name;
    size_t len;
} param_span;

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 7230 §3.2.6 tchar. */
static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

void est_digest_credentials_free(est_digest_credentials *cred)
{
    if (cred == NULL)
        return;
    for (size_t i = 0; i < sizeof known_params / sizeof known_params[0]; i++)
        free(*(char **)((char *)cred + known_params[i].offset));
    free(cred);
}

/* value = token / quoted-string (RFC 7230 §3.2.6); quoted-pair is unescaped.
 * On success *pp is past the value and *out a new string. */
static est_status parse_value(const char **pp, const char *end, char **out, est_error *err)
{
    const char *p = *pp;
    char *v, *w;

    v = malloc((size_t)(end - p) + 1);
    if (v == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    w = v;
    if (p < end && *p == '"') {
        for (p++;; p++) {
            unsigned char c;
            if (p == end)
                goto bad;
            c = (unsigned char)*p;
            if (c == '"')
                break;
            if (c == '\\') {
                if (++p == end)
                    goto bad;
                c = (unsigned char)*p;
            }
            /* qdtext / quoted-pair: HTAB, SP, VCHAR, obs-text; no CTLs. */
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                goto bad;
            *w++ = (char)c;
        }
        p++;
    } else {
        while (p < end && is_tchar((unsigned char)*p))
            *w++ = *p++;
        if (w == v)
            goto bad;
    }
    *w = '\0';
    *pp = p;
    *out = v;
    return EST_OK;
bad:
    free(v);
    return est_error_set(err, EST_E_INPUT, "malformed Digest parameter value");
}

/* Rejects a repeated parameter name (RFC 7235 §2.1: each parameter name
 * MUST only occur once per challenge/credentials), then remembers it. */
static est_status note_param(param_span *seen, size_t *count, const char *name, size_t len,
                             est_error *err)
{
    for (size_t i = 0; i < *count; i++)
        if (seen[i].len == len && strncasecmp(seen[i].name, name, len) == 0)
            return est_error_set(err, EST_E_INPUT, "duplicate Digest parameter '%.*s'",
                                 (int)len, name);
    if (*count == DIGEST_PARAMS_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "more than %d Digest parameters",
                             DIGEST_PARAMS_MAX);
    seen[*count].name = name;
    seen[*count].len = len;
    (*count)++;
    return EST_OK;
}

/* Stores value under its field when name is one we keep (takes ownership
 * either way). */
static void store_param(est_digest_credentials *cred, const char *name, size_t len, char *value)
{
    for (size_t i = 0; i < sizeof known_params / sizeof known_params[0]; i++) {
        if (strlen(known_params[i].name) == len &&
            strncasecmp(known_params[i].name, name, len) == 0) {
            *(char **)((char *)cred + known_params[i].offset) = value;
            return;
        }
    }
    free(value);
}

/* auth-param list: #( token BWS "=" BWS ( token / quoted-string ) ),
 * RFC 7235 §2.1 with RFC 7230 §7 list rules (empty elements allowed). */
static est_status parse_params(const char *p, const char *end, est_digest_credentials *cred,
                               est_error *err)
{
    param_span seen[DIGEST_PARAMS_MAX];
    size_t count = 0;
    est_status rc;

    for (;;) {
        const char *name;
        size_t name_len;
        char *value = NULL;

        while (p < end && (is_ows(*p) || *p == ','))
            p++;
        if (p == end)
            return EST_OK;
        for (name = p; p < end && is_tchar((unsigned char)*p); p++)
            ;
        name_len = (size_t)(p - name);
        while (p < end && is_ows(*p))
            p++;
        if (name_len == 0 || p == end || *p != '=')
            return est_error_set(err, EST_E_INPUT, "malformed Digest parameter");
        for (p++; p < end && is_ows(*p); p++)
            ;
        rc = note_param(seen, &count, name, name_len, err);
        if (rc == EST_OK)
            rc = parse_value(&p, end, &value, err);
        if (rc != EST_OK)
            return rc;
        store_param(cred, name, name_len, value);
        while (p < end && is_ows(*p))
            p++;
        if (p < end && *p != ',')
            return est_error_set(err, EST_E_INPUT, "malformed Digest parameter list");
    }
}

static int is_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return s[len] == '\0';
}

/* RFC 7616 §3.4: the parameters every response carries, and the ones qop
 * brings with it. */
static est_status check_required(const est_digest_credentials *c, est_error *err)
{
    if (c->username == NULL || c->realm == NULL || c->nonce == NULL || c->uri == NULL ||
        c->response == NULL)
        return est_error_set(err, EST_E_INPUT,
                             "Digest credentials lack username, realm, nonce, uri or response");
    if (strlen(c->username) > EST_USERNAME_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "user name longer than %d bytes",
                             EST_USERNAME_MAX);
    if (c->qop != NULL && (c->cnonce == NULL || c->nc == NULL))
        return est_error_set(err, EST_E_INPUT, "Digest qop without cnonce and nc");
    if (c->nc != NULL && (strlen(c->nc) != DIGEST_NC_LEN || !is_hex(c->nc, DIGEST_NC_LEN)))
        return est_error_set(err, EST_E_INPUT, "Digest nc is not 8 hex digits");
    return EST_OK;
}

est_status est_digest_parse(const char *authorization, est_digest_credentials **out,
                            est_error *err)
{
    static const size_t scheme_len = sizeof DIGEST_SCHEME - 1;
    est_digest_credentials *cred = NULL;
    const char *p, *end;
    size_t len;
    est_status rc;

    if (authorization == NULL || out == NULL)
        return est_error_set(err, EST_E_INPUT, "no Authorization header");
    *out = NULL;
    len = strnlen(authorization, EST_AUTH_HEADER_MAX + 1);
    if (len > EST_AUTH_HEADER_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "Authorization header longer than %d bytes",
                             EST_AUTH_HEADER_MAX);
    for (p = authorization; is_ows(*p); p++)
        ;
    end = authorization + len;
    /* The scheme name is case-insensitive (RFC 7235 §2.1). */
    if ((size_t)(end - p) <= scheme_len || strncasecmp(p, DIGEST_SCHEME, scheme_len) != 0 ||
        p[scheme_len] != ' ')
        return est_error_set(err, EST_E_INPUT, "not a Digest Authorization header");
    cred = calloc(1, sizeof *cred);
    if (cred == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    rc = parse_params(p + scheme_len, end, cred, err);
    if (rc == EST_OK)
        rc = check_required(cred, err);
    if (rc != EST_OK)
        goto out;
    *out = cred;
    cred = NULL;
    rc = EST_OK;
out:
    est_digest_credentials_free(cred);
    return rc;
}

est_status est_digest_alg_parse(const char *token, est_digest_alg *alg, est_error *err)
{
    /* RFC 7616 §3.4: absent means MD5. The "-sess" variants and
     * SHA-512-256 are valid but not offered by us. */
    if (token == NULL || strcasecmp(token, "MD5") == 0)
        *alg = EST_DIGEST_MD5;
    else if (strcasecmp(token, "SHA-256") == 0)
        *alg = EST_DIGEST_SHA256;
    else
        return est_error_set(err, EST_E_UNSUPPORTED, "Digest algorithm not supported");
    return EST_OK;
}

const char *est_digest_alg_name(est_digest_alg alg)
{
    switch (alg) {
    case EST_DIGEST_MD5: return "MD5";
    case EST_DIGEST_SHA256: return "SHA-256";
    }
    return NULL;
}

/* H(parts[0] ":" parts[1] ":" ...) as lowercase hex (RFC 7616 §3.4.1).
 * Streams the parts so a password is never copied into a joined buffer. */
static est_status digest_hex(est_digest_alg alg, const char *const *parts, size_t n,
                             char out[EST_DIGEST_HEX_MAX], est_error *err)
{
    static const char hex[] = "0123456789abcdef";
    const char *name = alg == EST_DIGEST_SHA256 ? "SHA256" : "MD5";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD *type = NULL;
    EVP_MD_CTX *ctx = NULL;
    est_status rc = EST_E_INTERNAL;
    int ok;

    if (alg != EST_DIGEST_MD5 && alg != EST_DIGEST_SHA256)
        return est_error_set(err, EST_E_INPUT, "unknown Digest algorithm");
    type = EVP_MD_fetch(NULL, name, NULL);
    ctx = EVP_MD_CTX_new();
    ok = type != NULL && ctx != NULL && EVP_DigestInit_ex2(ctx, type, NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1)) &&
             EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
    if (!ok || !EVP_DigestFinal_ex(ctx, md, &md_len) || md_len * 2 >= EST_DIGEST_HEX_MAX) {
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "Digest %s", name);
        goto out;
    }
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * md_len] = '\0';
    rc = EST_OK;
out:
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(type);
    return rc;
}

est_status est_digest_ha1(est_digest_alg alg, const char *user, const char *realm,
                          const char *password, char out[EST_DIGEST_HEX_MAX], est_error *err)
{
    const char *parts[3] = {user, realm, password};

    if (user == NULL || realm == NULL || password == NULL || out == NULL)
        return est_error_set(err, EST_E_INPUT, "Digest HA1 needs user, realm and password");
    return digest_hex(alg, parts, 3, out, err);
}

static size_t hex_len(est_digest_alg alg)
{
    return alg == EST_DIGEST_SHA256 ? 64 : 32;
}

est_status est_digest_response(est_digest_alg alg, const char *ha1_hex, const char *nonce,
                               const char *nc, const char *cnonce, const char *qop,
                               const char *method, const char *uri,
                               char out[EST_DIGEST_HEX_MAX], est_error *err)
{
    char ha2[EST_DIGEST_HEX_MAX];
    const char *a2[2] = {method, uri};
    est_status rc;

    if (ha1_hex == NULL || nonce == NULL || method == NULL || uri == NULL || out == NULL)
        return est_error_set(err, EST_E_INPUT, "Digest response needs HA1, nonce, method, uri");
    if (strlen(ha1_hex) != hex_len(alg) || !is_hex(ha1_hex, hex_len(alg)))
        return est_error_set(err, EST_E_INPUT, "HA1 is not a %s hex digest",
                             est_digest_alg_name(alg) ? est_digest_alg_name(alg) : "known");
    rc = digest_hex(alg, a2, 2, ha2, err); /* RFC 7616 §3.4.3, qop=auth */
    if (rc != EST_OK)
        return rc;
    if (qop == NULL) {
        /* RFC 2069 compatibility (RFC 7616 §3.4.1 drops it, but some old
         * servers still answer without qop). */
        const char *parts[3] = {ha1_hex, nonce, ha2};
        return digest_hex(alg, parts, 3, out, err);
    }
    if (strcasecmp(qop, "auth") != 0)
        return est_error_set(err, EST_E_UNSUPPORTED, "Digest qop '%s' not supported",
                             strcasecmp(qop, "auth-int") == 0 ? "auth-int" : "other");
    if (nc == NULL || cnonce == NULL)
        return est_error_set(err, EST_E_INPUT, "Digest qop=auth needs nc and cnonce");
    {
        const char *parts[6] = {ha1_hex, nonce, nc, cnonce, qop, ha2};
        return digest_hex(alg, parts, 6, out, err);
    }
}

est_status est_digest_verify(const est_digest_credentials *cred, const char *ha1_hex,
                             const char *method, const char *request_uri, est_error *err)
{
    char expected[EST_DIGEST_HEX_MAX], got[EST_DIGEST_HEX_MAX];
    est_digest_alg alg;
    size_t len;
    est_status rc;

    if (cred == NULL || ha1_hex == NULL || method == NULL || request_uri == NULL)
        return est_error_set(err, EST_E_INPUT, "Digest verify: missing argument");
    if ((rc = check_required(cred, err)) != EST_OK ||
        (rc = est_digest_alg_parse(cred->algorithm, &alg, err)) != EST_OK)
        return rc;
    /* RFC 7616 §3.3: qop MUST be used; without it there is no cnonce/nc and
     * so no replay protection. We only ever offer qop="auth". */
    if (cred->qop == NULL || strcasecmp(cred->qop, "auth") != 0)
        return est_error_set(err, EST_E_AUTH, "Digest credentials without qop=auth");
    /* RFC 7616 §3.4: the server MUST check that "uri" names the resource of
     * the request line, or the response could be replayed on another URI. */
    if (strcmp(cred->uri, request_uri) != 0)
        return est_error_set(err, EST_E_AUTH, "Digest uri does not match the request");
    rc = est_digest_response(alg, ha1_hex, cred->nonce, cred->nc, cred->cnonce, cred->qop,
                             method, cred->uri, expected, err);
    if (rc != EST_OK)
        return rc;
    len = strlen(cred->response);
    if (len != strlen(expected))
        return est_error_set(err, EST_E_AUTH, "Digest response does not match");
    /* LHEX is lower case, but be liberal: fold case before comparing. */
    for (size_t i = 0; i <= len; i++)
        got[i] = (char)tolower((unsigned char)cred->response[i]);
    if (CRYPTO_memcmp(got, expected, len) != 0)
        return est_error_set(err, EST_E_AUTH, "Digest response does not match");
    return EST_OK;
}
