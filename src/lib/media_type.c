/* Media types (RFC 9110 §8.3.1, grammar in §5.6):
 *
 *   media-type = type "/" subtype parameters
 *   parameters = *( OWS ";" OWS [ parameter ] )
 *   parameter  = parameter-name "=" ( token / quoted-string )
 *
 * Type, subtype and parameter names are tokens and compare
 * case-insensitively (kept lowercased); values are kept as sent, with the
 * quotes and quoted-pair backslashes of a quoted-string removed. Leading and
 * trailing whitespace of the whole field value is ignored (§5.5). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "estkit/media_type.h"

/* Every string we keep is a piece of the input with at most one NUL added,
 * so twice the input limit is always enough; appends still check. */
#define MEDIA_TYPE_STORE (2 * EST_MEDIA_TYPE_MAX + 2)

struct est_media_type {
    size_t essence;                            /* offset in store */
    size_t names[EST_MEDIA_TYPE_MAX_PARAMS];   /* lowercased, offsets */
    size_t values[EST_MEDIA_TYPE_MAX_PARAMS];  /* as sent, offsets */
    size_t count;
    size_t used;
    char store[MEDIA_TYPE_STORE];
};

typedef struct cursor {
    const char *s;
    size_t pos;
} cursor;

/* RFC 9110 §5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 §5.6.4: qdtext and the second octet of a quoted-pair. */
static int is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

static int is_quoted_pair_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c <= 0x7e) || c >= 0x80;
}

static void skip_ows(cursor *c)
{
    while (c->s[c->pos] == ' ' || c->s[c->pos] == '\t')
        c->pos++;
}

static int store_char(est_media_type *mt, char ch)
{
    if (mt->used >= sizeof mt->store)
        return 0;
    mt->store[mt->used++] = ch;
    return 1;
}

/* Copies a token at the cursor into the store (lowercased when lower);
 * returns its offset, or (size_t)-1 when there is none or no room. */
static size_t take_token(est_media_type *mt, cursor *c, int lower)
{
    size_t start = mt->used, begin = c->pos;

    while (is_tchar((unsigned char)c->s[c->pos])) {
        char ch = c->s[c->pos++];

        if (lower && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (!store_char(mt, ch))
            return (size_t)-1;
    }
    if (c->pos == begin || !store_char(mt, '\0'))
        return (size_t)-1;
    return start;
}

/* Copies the quoted-string at the cursor (which is on the opening quote)
 * without its quotes and backslashes; returns its offset or (size_t)-1. */
static size_t take_quoted(est_media_type *mt, cursor *c)
{
    size_t start = mt->used;

    c->pos++;
    for (;;) {
        unsigned char ch = (unsigned char)c->s[c->pos];

        if (ch == '"')
            break;
        if (ch == '\\') {
            ch = (unsigned char)c->s[++c->pos];
            if (!is_quoted_pair_char(ch))
                return (size_t)-1;
        } else if (!is_qdtext(ch)) {
            return (size_t)-1; /* includes the NUL of an unterminated string */
        }
        if (!store_char(mt, (char)ch))
            return (size_t)-1;
        c->pos++;
    }
    c->pos++;
    if (!store_char(mt, '\0'))
        return (size_t)-1;
    return start;
}

/* Parses "name=value" at the cursor into the next parameter slot. */
static est_status take_parameter(est_media_type *mt, cursor *c, est_error *err)
{
    size_t name, value, at = c->pos;

    if (mt->count == EST_MEDIA_TYPE_MAX_PARAMS)
        return est_error_set(err, EST_E_TOO_LARGE, "media type: more than %d parameters",
                             EST_MEDIA_TYPE_MAX_PARAMS);
    name = take_token(mt, c, 1);
    if (name == (size_t)-1 || c->s[c->pos] != '=')
        return est_error_set(err, EST_E_INPUT, "media type: bad parameter at offset %zu", at);
    c->pos++;
    at = c->pos;
    value = c->s[c->pos] == '"' ? take_quoted(mt, c) : take_token(mt, c, 0);
    if (value == (size_t)-1)
        return est_error_set(err, EST_E_INPUT, "media type: bad parameter value at offset %zu",
                             at);
    /* A repeated name (say two boundaries) has no single meaning. */
    for (size_t i = 0; i < mt->count; i++)
        if (strcmp(mt->store + mt->names[i], mt->store + name) == 0)
            return est_error_set(err, EST_E_INPUT, "media type: parameter \"%s\" repeated",
                                 mt->store + name);
    mt->names[mt->count] = name;
    mt->values[mt->count] = value;
    mt->count++;
    return EST_OK;
}

/* type "/" subtype, stored lowercased as one string. */
static est_status take_essence(est_media_type *mt, cursor *c, est_error *err)
{
    size_t type = take_token(mt, c, 1);

    if (type == (size_t)-1 || c->s[c->pos] != '/')
        return est_error_set(err, EST_E_INPUT, "media type: expected type/subtype");
    mt->store[mt->used - 1] = '/'; /* replaces the token's NUL */
    c->pos++;
    if (take_token(mt, c, 1) == (size_t)-1)
        return est_error_set(err, EST_E_INPUT, "media type: expected subtype after '/'");
    mt->essence = type;
    return EST_OK;
}

est_status est_media_type_parse(const char *text, est_media_type **out, est_error *err)
{
    est_media_type *mt = NULL;
    cursor c = {text, 0};
    size_t len;
    est_status rc = EST_E_INPUT;

    *out = NULL;
    if (text == NULL) {
        rc = est_error_set(err, EST_E_INPUT, "media type: missing");
        goto out;
    }
    len = strnlen(text, EST_MEDIA_TYPE_MAX + 1);
    if (len > EST_MEDIA_TYPE_MAX) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "media type: longer than %d characters",
                           EST_MEDIA_TYPE_MAX);
        goto out;
    }
    mt = calloc(1, sizeof *mt);
    if (mt == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "media type: out of memory");
        goto out;
    }
    skip_ows(&c);
    rc = take_essence(mt, &c, err);
    if (rc != EST_OK)
        goto out;
    for (;;) {
        skip_ows(&c);
        if (c.s[c.pos] != ';')
            break;
        c.pos++;
        skip_ows(&c);
        /* §5.6.6 allows empty parameters ("a/b;;c=d", "a/b;"). */
        if (c.s[c.pos] == ';' || c.s[c.pos] == '\0')
            continue;
        rc = take_parameter(mt, &c, err);
        if (rc != EST_OK)
            goto out;
    }
    if (c.s[c.pos] != '\0') {
        rc = est_error_set(err, EST_E_INPUT, "media type: unexpected character at offset %zu",
                           c.pos);
        goto out;
    }
    *out = mt;
    mt = NULL;
    rc = EST_OK;
out:
    free(mt);
    return rc;
}

void est_media_type_free(est_media_type *mt)
{
    free(mt);
}

const char *est_media_type_get0_essence(const est_media_type *mt)
{
    return mt == NULL ? NULL : mt->store + mt->essence;
}

int est_media_type_is(const est_media_type *mt, const char *essence)
{
    if (mt == NULL || essence == NULL)
        return 0;
    return strcasecmp(mt->store + mt->essence, essence) == 0;
}

const char *est_media_type_get0_param(const est_media_type *mt, const char *name)
{
    if (mt == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < mt->count; i++)
        if (strcasecmp(mt->store + mt->names[i], name) == 0)
            return mt->store + mt->values[i];
    return NULL;
}
