/* EST request path routing (draft-04 §3.2.2, RFC 7030 §3.2.2).
 *
 * Accepted shape: "/.well-known/est" "/" [label "/"] operation ["?" query].
 * The request-target may also arrive in absolute-form
 * ("https://host/.well-known/est/..."; RFC 7230 §5.3.2 says a server MUST
 * accept it), so the scheme and authority are skipped.
 *
 * Decisions (docs/design.md §2 leaves them open):
 * - The prefix "/.well-known/est" is matched case-sensitively (RFC 8615
 *   well-known names are case-sensitive); only the operation segment is
 *   compared without case.
 * - A trailing slash after the operation ("/cacerts/") is EST_E_NOT_FOUND:
 *   RFC 7030 §3.2.2 names exactly one resource per operation, and
 *   "/cacerts/" is a different URI. No client in the field sends it.
 * - An empty segment ("//") is EST_E_INPUT: it is an empty label.
 * - Labels are checked before the operation so a hostile label ("..",
 *   "%2F") is reported as such even when the operation is unknown. */
#include <string.h>
#include <strings.h>
#include "estkit/route.h"

/* Segment spellings, indexed by est_operation. draft-04 §3.2.2 uses mixed
 * case; RFC 7030 §3.2.2 the same names in lower case. */
static const char *const draft_names[EST_OP_COUNT] = {
    [EST_OP_CACERTS] = "CACerts",           [EST_OP_SIMPLEENROLL] = "simpleEnroll",
    [EST_OP_SIMPLEREENROLL] = "simpleReEnroll", [EST_OP_FULLCMC] = "fullCMC",
    [EST_OP_SERVERKEYGEN] = "serverKeyGen",  [EST_OP_CSRATTRS] = "CSRAttrs",
};
static const char *const rfc_names[EST_OP_COUNT] = {
    [EST_OP_CACERTS] = "cacerts",           [EST_OP_SIMPLEENROLL] = "simpleenroll",
    [EST_OP_SIMPLEREENROLL] = "simplereenroll", [EST_OP_FULLCMC] = "fullcmc",
    [EST_OP_SERVERKEYGEN] = "serverkeygen",  [EST_OP_CSRATTRS] = "csrattrs",
};

const char *est_operation_path(est_operation op, est_dialect dialect)
{
    if ((int)op < 0 || op >= EST_OP_COUNT)
        return NULL;
    return dialect == EST_DIALECT_DRAFT ? draft_names[op] : rfc_names[op];
}

/* Finds the operation named by seg[0..len): exact draft spelling first,
 * then any case. Returns 0 when no operation has this name. */
static int operation_lookup(const char *seg, size_t len, est_operation *op, est_dialect *dialect)
{
    for (int i = 0; i < EST_OP_COUNT; i++) {
        if (strlen(rfc_names[i]) != len)
            continue;
        if (strncmp(seg, draft_names[i], len) == 0) {
            *op = (est_operation)i;
            *dialect = EST_DIALECT_DRAFT;
            return 1;
        }
        if (strncasecmp(seg, rfc_names[i], len) == 0) {
            *op = (est_operation)i;
            *dialect = EST_DIALECT_RFC7030;
            return 1;
        }
    }
    return 0;
}

static int label_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/* The label rules on a counted string (the path's segment is not
 * NUL-terminated). */
static est_status label_check_n(const char *label, size_t len, est_error *err)
{
    est_operation op;
    est_dialect dialect;

    if (len == 0)
        return est_error_set(err, EST_E_INPUT, "empty CA label");
    if (len > EST_LABEL_MAX)
        return est_error_set(err, EST_E_INPUT, "CA label longer than %d characters", EST_LABEL_MAX);
    if (memchr(label, '%', len) != NULL)
        return est_error_set(err, EST_E_INPUT, "percent-encoding is not allowed in a CA label");
    for (size_t i = 0; i < len; i++)
        if (!label_char_ok(label[i]))
            return est_error_set(err, EST_E_INPUT,
                                 "CA label may only contain A-Z a-z 0-9 - _ .");
    /* ".", ".." and hidden-file-like names: a label may end up in a file
     * name or a log line; nothing legitimate needs a leading dot. */
    if (label[0] == '.')
        return est_error_set(err, EST_E_INPUT, "CA label must not start with '.'");
    /* docs/design.md §2: "/est/<label>/<op>" must never be ambiguous with "/est/<op>". */
    if (operation_lookup(label, len, &op, &dialect))
        return est_error_set(err, EST_E_INPUT, "CA label must not be an operation name");
    return EST_OK;
}

est_status est_label_check(const char *label, est_error *err)
{
    if (label == NULL)
        return est_error_set(err, EST_E_INPUT, "no CA label");
    return label_check_n(label, strnlen(label, EST_LABEL_MAX + 1), err);
}

/* Skips "scheme://authority" of an absolute-form request-target. */
static const char *skip_absolute_form(const char *path)
{
    const char *p;

    if (strncasecmp(path, "https://", 8) == 0)
        p = path + 8;
    else if (strncasecmp(path, "http://", 7) == 0)
        p = path + 7;
    else
        return path;
    p += strcspn(p, "/?#");
    return p;
}

est_status est_route_parse(const char *path, est_route *out, est_error *err)
{
    static const size_t prefix_len = sizeof EST_PATH_PREFIX - 1;
    const char *p, *slash;
    size_t len;
    est_route r = {0};

    if (path == NULL || out == NULL)
        return est_error_set(err, EST_E_INPUT, "no request path");
    /* The bound covers the whole request-target, query included. */
    if (strnlen(path, EST_PATH_MAX + 1) > EST_PATH_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "request path longer than %d bytes",
                             EST_PATH_MAX);
    p = skip_absolute_form(path);
    len = strcspn(p, "?"); /* the query string carries nothing for EST */
    if (len < prefix_len + 1 || memcmp(p, EST_PATH_PREFIX "/", prefix_len + 1) != 0)
        return est_error_set(err, EST_E_NOT_FOUND, "not an EST path");
    p += prefix_len + 1;
    len -= prefix_len + 1;
    if ((len > 0 && p[0] == '/') || memmem(p, len, "//", 2) != NULL)
        return est_error_set(err, EST_E_INPUT, "empty segment in request path");
    if (len > 0 && p[len - 1] == '/')
        return est_error_set(err, EST_E_NOT_FOUND, "no such EST resource (trailing '/')");

    slash = memchr(p, '/', len);
    if (slash != NULL) {
        size_t label_len = (size_t)(slash - p);
        est_status rc = label_check_n(p, label_len, err);
        if (rc != EST_OK)
            return rc;
        memcpy(r.label, p, label_len);
        r.label[label_len] = '\0';
        len -= label_len + 1;
        p = slash + 1;
        if (memchr(p, '/', len) != NULL)
            return est_error_set(err, EST_E_NOT_FOUND, "no such EST resource");
    }
    if (!operation_lookup(p, len, &r.op, &r.dialect))
        return est_error_set(err, EST_E_NOT_FOUND, "unknown EST operation");
    *out = r;
    return EST_OK;
}
