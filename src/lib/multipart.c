/* multipart/mixed (RFC 2046 §5.1.1) as /serverkeygen uses it (RFC 7030
 * §4.4.2, draft-04 §4.4.2): a private-key part and a certs-only part.
 *
 * Building writes CRLF line ends, no preamble or epilogue, and both part
 * headers EST clients look for. Parsing follows §5.1.1's grammar with the
 * usual leniency: preamble and epilogue are ignored, LF-only line ends are
 * accepted, header names compare case-insensitively, folded header lines
 * (RFC 5322 §2.2.3) are unfolded, and headers other than Content-Type and
 * Content-Transfer-Encoding are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include "estkit/body.h"
#include "estkit/multipart.h"

/* Longest part header we read, unfolded. RFC 5322 §2.1.1 caps a line at
 * 998 characters; our two headers are far shorter. */
#define MULTIPART_HEADER_MAX 1024

static const char header_type[] = "Content-Type";
static const char header_encoding[] = "Content-Transfer-Encoding";

struct est_multipart {
    est_part parts[EST_MULTIPART_MAX_PARTS];
    size_t count;
};

est_multipart *est_multipart_new(void)
{
    return calloc(1, sizeof(est_multipart));
}

size_t est_multipart_part_count(const est_multipart *mp)
{
    return mp == NULL ? 0 : mp->count;
}

const est_part *est_multipart_get0_part(const est_multipart *mp, size_t i)
{
    return mp == NULL || i >= mp->count ? NULL : &mp->parts[i];
}

static void part_clear(est_part *part)
{
    free(part->content_type);
    free(part->transfer_encoding);
    if (part->body != NULL)
        OPENSSL_cleanse(part->body, part->body_len);
    free(part->body);
    memset(part, 0, sizeof *part);
}

void est_multipart_free(est_multipart *mp)
{
    if (mp == NULL)
        return;
    for (size_t i = 0; i < mp->count && i < EST_MULTIPART_MAX_PARTS; i++)
        part_clear(&mp->parts[i]);
    free(mp);
}

/* Header text: printable ASCII, tab and space, obs-text (RFC 5322 §3.2.5
 * obsolete but seen); never controls, which could end or split a line. */
static int header_byte_ok(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A header value we write must stay on its line and parse back as is
 * (the parser trims surrounding whitespace). */
static int value_ok(const char *value)
{
    size_t len;

    if (value == NULL)
        return 1;
    len = strlen(value);
    if (len == 0 || value[0] == ' ' || value[0] == '\t' || value[len - 1] == ' ' ||
        value[len - 1] == '\t')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!header_byte_ok((unsigned char)value[i]))
            return 0;
    return 1;
}

est_status est_multipart_add(est_multipart *mp, const char *content_type,
                             const char *transfer_encoding, const uint8_t *body, size_t body_len,
                             est_error *err)
{
    est_part part = {0};

    if (mp == NULL || (body == NULL && body_len != 0))
        return est_error_set(err, EST_E_INPUT, "multipart: no part to add");
    if (mp->count >= EST_MULTIPART_MAX_PARTS)
        return est_error_set(err, EST_E_TOO_LARGE, "multipart: more than %d parts",
                             EST_MULTIPART_MAX_PARTS);
    if (!value_ok(content_type) || !value_ok(transfer_encoding))
        return est_error_set(err, EST_E_INPUT,
                             "multipart: header value empty, padded or with control characters");
    if (content_type != NULL)
        part.content_type = strdup(content_type);
    if (transfer_encoding != NULL)
        part.transfer_encoding = strdup(transfer_encoding);
    part.body = malloc(body_len > 0 ? body_len : 1);
    if ((content_type != NULL && part.content_type == NULL) ||
        (transfer_encoding != NULL && part.transfer_encoding == NULL) || part.body == NULL) {
        part_clear(&part);
        return est_error_set(err, EST_E_NOMEM, "multipart: out of memory");
    }
    if (body_len > 0)
        memcpy(part.body, body, body_len);
    part.body_len = body_len;
    mp->parts[mp->count++] = part;
    return EST_OK;
}

/* RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace, where
 * bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," / "-" /
 * "." / "/" / ":" / "=" / "?" and bchars adds " ". */
static int boundary_ok(const char *boundary)
{
    size_t len;

    if (boundary == NULL)
        return 0;
    len = strnlen(boundary, EST_MULTIPART_MAX_BOUNDARY + 1);
    if (len == 0 || len > EST_MULTIPART_MAX_BOUNDARY || boundary[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = boundary[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("'()+_,-./:=? ", c) != NULL))
            return 0;
    }
    return 1;
}

typedef struct out_buf {
    uint8_t *data;
    size_t len, cap;
} out_buf;

static void put(out_buf *out, const void *bytes, size_t n)
{
    if (n > 0 && out->len + n <= out->cap)
        memcpy(out->data + out->len, bytes, n);
    out->len += n; /* an overrun shows as len > cap and is caught below */
}

static void put_str(out_buf *out, const char *s)
{
    put(out, s, strlen(s));
}

static void put_header(out_buf *out, const char *name, const char *value)
{
    if (value == NULL)
        return;
    put_str(out, name);
    put_str(out, ": ");
    put_str(out, value);
    put_str(out, "\r\n");
}

/* Writes the whole body into out (a counting pass when out->cap is 0). */
static void write_body(const est_multipart *mp, const char *boundary, out_buf *out)
{
    for (size_t i = 0; i < mp->count; i++) {
        const est_part *part = &mp->parts[i];

        put_str(out, "--");
        put_str(out, boundary);
        put_str(out, "\r\n");
        put_header(out, header_type, part->content_type);
        put_header(out, header_encoding, part->transfer_encoding);
        put_str(out, "\r\n");
        put(out, part->body, part->body_len);
        put_str(out, "\r\n");
    }
    put_str(out, "--");
    put_str(out, boundary);
    put_str(out, "--\r\n");
}

est_status est_multipart_build(const est_multipart *mp, const char *boundary, uint8_t **out,
                               size_t *out_len, est_error *err)
{
    out_buf count = {NULL, 0, 0}, buf = {NULL, 0, 0};
    char dash_boundary[EST_MULTIPART_MAX_BOUNDARY + 3];
    est_status rc = EST_E_INPUT;

    *out = NULL;
    *out_len = 0;
    if (!boundary_ok(boundary)) {
        rc = est_error_set(err, EST_E_INPUT, "multipart: invalid boundary");
        goto out;
    }
    if (mp == NULL || mp->count == 0) {
        rc = est_error_set(err, EST_E_INPUT, "multipart: no parts (RFC 2046 needs one)");
        goto out;
    }
    /* §5.1.1: the boundary must not occur in any part. */
    snprintf(dash_boundary, sizeof dash_boundary, "--%s", boundary);
    for (size_t i = 0; i < mp->count; i++) {
        if (mp->parts[i].body_len > 0 && memmem(mp->parts[i].body, mp->parts[i].body_len,
                                                dash_boundary, strlen(dash_boundary)) != NULL) {
            rc = est_error_set(err, EST_E_INPUT, "multipart: boundary occurs in part %zu", i + 1);
            goto out;
        }
    }
    write_body(mp, boundary, &count);
    buf.cap = count.len;
    buf.data = OPENSSL_malloc(buf.cap);
    if (buf.data == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "multipart: out of memory");
        goto out;
    }
    write_body(mp, boundary, &buf);
    if (buf.len != buf.cap) {
        rc = est_error_set(err, EST_E_INTERNAL, "multipart: size %zu != %zu", buf.len, buf.cap);
        goto out;
    }
    *out = buf.data;
    *out_len = buf.len;
    buf.data = NULL;
    rc = EST_OK;
out:
    OPENSSL_free(buf.data);
    return rc;
}

/* ---- parsing ---- */

typedef struct delimiter {
    size_t content_end; /* where the previous part ends (its CRLF/LF dropped) */
    size_t next;        /* first byte after the delimiter line */
    int close;          /* "--boundary--" */
} delimiter;

/* Finds the next delimiter line at or after from: "--boundary" at the start
 * of the input or of a line, then "--" (close), or transport padding (spaces,
 * tabs) and a line end. "--boundaryX" is ordinary content. */
static int find_delimiter(const uint8_t *in, size_t len, size_t from, const char *dash_boundary,
                          delimiter *d)
{
    size_t dlen = strlen(dash_boundary);

    while (from < len) {
        const uint8_t *hit = memmem(in + from, len - from, dash_boundary, dlen);
        size_t at, pos;

        if (hit == NULL)
            return 0;
        at = (size_t)(hit - in);
        from = at + 1;
        if (at > 0 && in[at - 1] != '\n')
            continue;
        pos = at + dlen;
        d->content_end = at == 0 ? 0 : at - 1;
        if (d->content_end > 0 && in[d->content_end - 1] == '\r')
            d->content_end--;
        if (len - pos >= 2 && in[pos] == '-' && in[pos + 1] == '-') {
            d->close = 1;
            d->next = len;
            return 1;
        }
        while (pos < len && (in[pos] == ' ' || in[pos] == '\t'))
            pos++;
        if (pos < len && in[pos] == '\r')
            pos++;
        if (pos < len && in[pos] == '\n') {
            d->close = 0;
            d->next = pos + 1;
            return 1;
        }
    }
    return 0;
}

/* Accepts "Name=value" in place of "Name: value" only for the two header
 * names we read: the draft-04 appendix's /serverKeyGen example writes
 * "Content-Type=application/pkcs8", and answers from implementations built
 * on it may still do so. For any other name an '=' line is an error, so
 * this cannot turn a body line into a header by accident. */
static int known_header(const char *name, size_t len)
{
    return (len == strlen(header_type) && strncasecmp(name, header_type, len) == 0) ||
           (len == strlen(header_encoding) && strncasecmp(name, header_encoding, len) == 0);
}

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* Stores one unfolded header line (line[0..len)) into part. */
static est_status take_header(est_part *part, size_t index, const char *line, size_t len,
                              est_error *err)
{
    const char *colon = memchr(line, ':', len), *eq = memchr(line, '=', len), *sep = colon;
    size_t name_len, value_start, value_end;
    char **slot = NULL;

    if (eq != NULL && (colon == NULL || eq < colon)) {
        name_len = (size_t)(eq - line);
        while (name_len > 0 && is_wsp(line[name_len - 1]))
            name_len--;
        if (known_header(line, name_len))
            sep = eq;
    }
    if (sep == NULL || sep == line)
        return est_error_set(err, EST_E_INPUT, "multipart: part %zu: malformed header line",
                             index);
    name_len = (size_t)(sep - line);
    while (name_len > 0 && is_wsp(line[name_len - 1]))
        name_len--; /* RFC 5322 §4.5 obsolete: WSP before the colon */
    for (size_t i = 0; i < name_len; i++)
        if (line[i] <= 0x20 || line[i] >= 0x7f)
            return est_error_set(err, EST_E_INPUT, "multipart: part %zu: bad header name", index);
    if (name_len == strlen(header_type) && strncasecmp(line, header_type, name_len) == 0)
        slot = &part->content_type;
    else if (name_len == strlen(header_encoding) && strncasecmp(line, header_encoding, name_len) == 0)
        slot = &part->transfer_encoding;
    if (slot == NULL)
        return EST_OK; /* other headers (Content-ID, ...) do not matter to EST */
    value_start = (size_t)(sep - line) + 1;
    value_end = len;
    while (value_start < value_end && is_wsp(line[value_start]))
        value_start++;
    while (value_end > value_start && is_wsp(line[value_end - 1]))
        value_end--;
    if (*slot != NULL)
        return est_error_set(err, EST_E_INPUT, "multipart: part %zu: header %.*s repeated", index,
                             (int)name_len, line);
    if (value_start == value_end)
        return est_error_set(err, EST_E_INPUT, "multipart: part %zu: header %.*s empty", index,
                             (int)name_len, line);
    *slot = strndup(line + value_start, value_end - value_start);
    return *slot == NULL ? est_error_set(err, EST_E_NOMEM, "multipart: out of memory") : EST_OK;
}

/* Unfolds in[start..end) (a header and its continuation lines) by dropping
 * their line ends (RFC 5322 §2.2.3), then stores it. */
static est_status flush_header(est_part *part, size_t index, const uint8_t *in, size_t start,
                               size_t end, size_t *headers, est_error *err)
{
    char line[MULTIPART_HEADER_MAX];
    size_t len = 0;

    if (++*headers > EST_MULTIPART_MAX_PART_HEADERS)
        return est_error_set(err, EST_E_TOO_LARGE, "multipart: part %zu: more than %d headers",
                             index, EST_MULTIPART_MAX_PART_HEADERS);
    for (size_t i = start; i < end; i++) {
        if (in[i] == '\n' || (in[i] == '\r' && i + 1 < end && in[i + 1] == '\n'))
            continue;
        if (!header_byte_ok(in[i]))
            return est_error_set(err, EST_E_INPUT,
                                 "multipart: part %zu: control character in header", index);
        if (len == sizeof line)
            return est_error_set(err, EST_E_TOO_LARGE,
                                 "multipart: part %zu: header longer than %d bytes", index,
                                 MULTIPART_HEADER_MAX);
        line[len++] = (char)in[i];
    }
    return take_header(part, index, line, len, err);
}

/* Reads the headers of in[start..end) up to the first empty line; sets
 * *body to the first body byte (end when there is no empty line: a part of
 * headers only, RFC 2046 §5.1.1 "body-part := MIME-part-headers [CRLF
 * *OCTET]"). */
static est_status parse_headers(est_part *part, size_t index, const uint8_t *in, size_t start,
                                size_t end, size_t *body, est_error *err)
{
    size_t pos = start, header_start = 0, header_end = 0, headers = 0;
    int in_header = 0;
    est_status rc;

    *body = end;
    while (pos < end) {
        const uint8_t *lf = memchr(in + pos, '\n', end - pos);
        size_t line_end = lf == NULL ? end : (size_t)(lf - in), next = lf == NULL ? end : line_end + 1;
        size_t content_end = line_end > pos && in[line_end - 1] == '\r' ? line_end - 1 : line_end;

        if (content_end == pos) {
            *body = next;
            break;
        }
        if (is_wsp((char)in[pos])) {
            if (!in_header)
                return est_error_set(err, EST_E_INPUT,
                                     "multipart: part %zu: continuation line without header",
                                     index);
        } else {
            if (in_header && (rc = flush_header(part, index, in, header_start, header_end,
                                                &headers, err)) != EST_OK)
                return rc;
            header_start = pos;
            in_header = 1;
        }
        header_end = content_end;
        pos = next;
    }
    if (in_header)
        return flush_header(part, index, in, header_start, header_end, &headers, err);
    return EST_OK;
}

static est_status take_part(est_multipart *mp, const uint8_t *in, size_t start, size_t end,
                            est_error *err)
{
    est_part *part;
    size_t body = 0;
    est_status rc;

    if (mp->count == EST_MULTIPART_MAX_PARTS)
        return est_error_set(err, EST_E_TOO_LARGE, "multipart: more than %d parts",
                             EST_MULTIPART_MAX_PARTS);
    part = &mp->parts[mp->count++]; /* counted now so est_multipart_free frees it */
    rc = parse_headers(part, mp->count, in, start, end, &body, err);
    if (rc != EST_OK)
        return rc;
    part->body_len = end - body;
    part->body = malloc(part->body_len > 0 ? part->body_len : 1);
    if (part->body == NULL)
        return est_error_set(err, EST_E_NOMEM, "multipart: out of memory");
    if (part->body_len > 0)
        memcpy(part->body, in + body, part->body_len);
    return EST_OK;
}

est_status est_multipart_parse(const uint8_t *in, size_t in_len, const char *boundary,
                               est_multipart **out, est_error *err)
{
    char dash_boundary[EST_MULTIPART_MAX_BOUNDARY + 3];
    est_multipart *mp = NULL;
    delimiter d = {0}, next = {0};
    est_status rc = EST_E_INPUT;

    *out = NULL;
    if (!boundary_ok(boundary)) {
        rc = est_error_set(err, EST_E_INPUT, "multipart: missing or invalid boundary");
        goto out;
    }
    if (in_len > EST_BODY_MAX) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "multipart: %zu bytes, limit %zu", in_len,
                           EST_BODY_MAX);
        goto out;
    }
    snprintf(dash_boundary, sizeof dash_boundary, "--%s", boundary);
    if (in == NULL || !find_delimiter(in, in_len, 0, dash_boundary, &d)) {
        rc = est_error_set(err, EST_E_INPUT, "multipart: boundary \"%s\" not found", boundary);
        goto out;
    }
    if (d.close) {
        rc = est_error_set(err, EST_E_INPUT, "multipart: no part before the close delimiter");
        goto out;
    }
    mp = est_multipart_new();
    if (mp == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "multipart: out of memory");
        goto out;
    }
    do {
        if (!find_delimiter(in, in_len, d.next, dash_boundary, &next)) {
            rc = est_error_set(err, EST_E_INPUT, "multipart: close delimiter missing");
            goto out;
        }
        /* An empty part's content end can fall before its start: the line
         * end closing the delimiter line also opens the next one. */
        rc = take_part(mp, in, d.next, next.content_end > d.next ? next.content_end : d.next, err);
        if (rc != EST_OK)
            goto out;
        d = next;
    } while (!d.close);
    *out = mp;
    mp = NULL;
    rc = EST_OK;
out:
    est_multipart_free(mp);
    return rc;
}
