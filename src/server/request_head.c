/* estd: HTTP/1.1 request heads as they arrive on the wire (RFC 9112).
 *
 * evhttp parses requests leniently: of two Content-Length headers it takes
 * the first and reads the rest of the body as a second request, it accepts
 * "Content-Length: +4", joins obs-fold lines and keeps a CR inside a value,
 * and a GET's Content-Length is ignored so its body becomes a request too.
 * Behind any front end that reads the same bytes differently, that is
 * request smuggling. estd therefore sees every byte before evhttp does
 * (conn.c): the stream below splits heads from bodies exactly as evhttp
 * will (lines end in LF, an optional CR before it; a head ends at the first
 * empty line; a body is Content-Length bytes), and evhttp only ever parses
 * heads estd_head_check accepted. Anything else is answered by conn.c and
 * the connection closed, so no byte after it is read as a request
 * (RFC 9112 §11.2).
 *
 * Decisions:
 * - Request line: exactly "METHOD SP target SP HTTP/1.x" (RFC 9112 §3).
 *   GET and POST only (501 otherwise: RFC 9110 §9.1); the target is
 *   origin-form ("/...", not "//...") or absolute-form "http(s)://host/..."
 *   with a plain host[:port] (RFC 9112 §3.2), visible ASCII only.
 * - Header lines: a token, ':' at once (RFC 9112 §5.1: whitespace before
 *   the colon MUST be refused), a value of visible characters, SP, HTAB or
 *   obs-text. A CR, NUL or other control character anywhere is refused
 *   (RFC 9110 §5.5), and so is obs-fold (RFC 9112 §5.2 lets a server
 *   refuse it).
 * - Content-Length: one, 1*DIGIT (RFC 9110 §8.6). Two are refused even when
 *   equal: no client sends them. Over max_body: 413 before the body is read.
 * - Transfer-Encoding: with Content-Length 400 (RFC 9112 §6.1); alone 411
 *   (RFC 9112 §6.3 lets a server require Content-Length; EST clients send
 *   it, and chunked parsing is a smuggling surface estd does not need).
 *   A POST without Content-Length is 411 too.
 * - Host: more than one, or none in HTTP/1.1, is 400 (RFC 9112 §3.2).
 * - Authorization: more than one is 400 (which would count?).
 * - Expect: only 100-continue (417 otherwise: RFC 9110 §10.1.1).
 * - GET carries no body (Content-Length other than 0 is 400). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "request_head.h"

static int refuse(estd_head_refusal *why, int status, const char *reason)
{
    if (why != NULL) {
        why->status = status;
        snprintf(why->reason, sizeof why->reason, "%s", reason);
    }
    return status;
}

/* RFC 9110 §5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* field-content characters: VCHAR, obs-text, SP, HTAB. */
static int is_value_char(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

void estd_http_trim_ows(const char **value, size_t *len)
{
    const char *v = *value;
    size_t n = *len;

    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    *value = v;
    *len = n;
}

static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* host[:port]: letters, digits, '.' and '-', then 1-5 digits of port
 * (what evhttp's URI parser takes without failing). */
static int plain_authority(const char *p, size_t len)
{
    size_t host = 0, port;

    while (host < len && (isalnum((unsigned char)p[host]) || p[host] == '.' || p[host] == '-'))
        host++;
    if (host == 0)
        return 0;
    if (host == len)
        return 1;
    if (p[host] != ':')
        return 0;
    port = len - host - 1;
    for (size_t i = host + 1; i < len; i++)
        if (!isdigit((unsigned char)p[i]))
            return 0;
    return port >= 1 && port <= 5 && strtoul(p + host + 1, NULL, 10) <= 65535;
}

static int target_ok(const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
            return 0;
    if (len >= 1 && t[0] == '/')
        return !(len >= 2 && t[1] == '/');
    for (size_t skip = 0; skip < 2; skip++) {
        const char *scheme = skip ? "https://" : "http://";
        size_t n = strlen(scheme);
        if (len > n && strncasecmp(t, scheme, n) == 0) {
            const char *slash = memchr(t + n, '/', len - n);
            size_t auth_len = slash ? (size_t)(slash - (t + n)) : len - n;
            return plain_authority(t + n, auth_len);
        }
    }
    return 0;
}

/* "GET /x HTTP/1.1" (line without its EOL). *http11 = version is 1.1. */
static int request_line_check(const char *line, size_t len, estd_head *out, int *http11,
                              estd_head_refusal *why)
{
    const char *sp1 = memchr(line, ' ', len), *sp2, *version;
    size_t method_len, version_len;

    if (sp1 == NULL)
        return refuse(why, 400, "malformed request line");
    method_len = (size_t)(sp1 - line);
    sp2 = memchr(sp1 + 1, ' ', len - method_len - 1);
    if (sp2 == NULL)
        return refuse(why, 400, "malformed request line");
    version = sp2 + 1;
    version_len = len - (size_t)(version - line);
    out->target_off = (size_t)(sp1 + 1 - line);
    out->target_len = (size_t)(sp2 - sp1 - 1);
    for (size_t i = 0; i < method_len; i++)
        if (!is_tchar((unsigned char)line[i]))
            return refuse(why, 400, "malformed request line");
    if (method_len == 0 || !target_ok(sp1 + 1, out->target_len) ||
        memchr(version, ' ', version_len) != NULL)
        return refuse(why, 400, "malformed request line");
    if (version_len == 8 && memcmp(version, "HTTP/1.", 7) == 0 &&
        (version[7] == '0' || version[7] == '1')) {
        *http11 = version[7] == '1';
    } else if (version_len == 8 && memcmp(version, "HTTP/", 5) == 0 && version[6] == '.' &&
               version[5] >= '0' && version[5] <= '9' && version[7] >= '0' && version[7] <= '9') {
        return refuse(why, 505, "HTTP version not supported");
    } else {
        return refuse(why, 400, "malformed request line");
    }
    if (method_len == 3 && memcmp(line, "GET", 3) == 0)
        out->method = ESTD_HEAD_GET;
    else if (method_len == 4 && memcmp(line, "POST", 4) == 0)
        out->method = ESTD_HEAD_POST;
    else
        return refuse(why, 501, "method not implemented (GET and POST only)");
    return 0;
}

/* 1*DIGIT, saturating at UINT64_MAX. */
static int content_length_parse(const char *v, size_t len, uint64_t *out)
{
    uint64_t n = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(v[i] - '0');
    }
    *out = n;
    return 0;
}

typedef struct head_counts {
    unsigned content_length, transfer_encoding, host, authorization;
} head_counts;

/* One header line (without its EOL) at offset off of the head. */
static int header_line_check(const char *head, size_t off, size_t len, estd_head *out,
                             head_counts *seen, estd_head_refusal *why)
{
    const char *line = head + off, *colon = memchr(line, ':', len), *v;
    size_t name_len, v_len;

    if (line[0] == ' ' || line[0] == '\t')
        return refuse(why, 400, "folded header line (obs-fold)");
    for (size_t i = 0; i < len; i++)
        if (!is_value_char((unsigned char)line[i]))
            return refuse(why, 400, "control character (CR, NUL, ...) in a header");
    if (colon == NULL || colon == line)
        return refuse(why, 400, "malformed header line");
    name_len = (size_t)(colon - line);
    for (size_t i = 0; i < name_len; i++)
        if (!is_tchar((unsigned char)line[i]))
            return refuse(why, 400, "malformed header name");
    v = colon + 1;
    v_len = len - name_len - 1;
    estd_http_trim_ows(&v, &v_len);
    if (name_is(line, name_len, "Content-Length")) {
        if (++seen->content_length > 1)
            return refuse(why, 400, "more than one Content-Length");
        if (content_length_parse(v, v_len, &out->content_length) != 0)
            return refuse(why, 400, "Content-Length is not a number");
    } else if (name_is(line, name_len, "Transfer-Encoding")) {
        seen->transfer_encoding++;
    } else if (name_is(line, name_len, "Host")) {
        if (++seen->host > 1)
            return refuse(why, 400, "more than one Host");
    } else if (name_is(line, name_len, "Authorization")) {
        if (++seen->authorization > 1)
            return refuse(why, 400, "more than one Authorization");
        out->authorization_off = (size_t)(v - head);
        out->authorization_len = v_len;
    } else if (name_is(line, name_len, "Expect")) {
        if (!(v_len == 12 && strncasecmp(v, "100-continue", 12) == 0))
            return refuse(why, 417, "only Expect: 100-continue is supported");
    }
    return 0;
}

/* Length of the line starting at off, without its EOL; *next = the offset
 * after the LF. The caller guarantees an LF follows. */
static size_t line_at(const char *head, size_t len, size_t off, size_t *next)
{
    const char *lf = memchr(head + off, '\n', len - off);
    size_t n = (size_t)(lf - (head + off));

    *next = off + n + 1;
    if (n > 0 && head[off + n - 1] == '\r')
        n--;
    return n;
}

int estd_head_check(const char *head, size_t len, uint64_t max_body, estd_head *out,
                    estd_head_refusal *why)
{
    head_counts seen = {0};
    size_t off = 0, next, n;
    int http11 = 0, rc;

    memset(out, 0, sizeof *out);
    if (len < 2 || head[len - 1] != '\n')
        return refuse(why, 400, "incomplete request head");
    n = line_at(head, len, 0, &next);
    if ((rc = request_line_check(head, n, out, &http11, why)) != 0)
        return rc;
    for (off = next;; off = next) {
        if (off >= len)
            return refuse(why, 400, "incomplete request head");
        n = line_at(head, len, off, &next);
        if (n == 0)
            break; /* the empty line */
        if ((rc = header_line_check(head, off, n, out, &seen, why)) != 0)
            return rc;
    }
    if (next != len)
        return refuse(why, 400, "bytes after the request head");
    if (seen.transfer_encoding > 0)
        return seen.content_length > 0
                   ? refuse(why, 400, "Content-Length together with Transfer-Encoding")
                   : refuse(why, 411, "Transfer-Encoding is not supported; send Content-Length");
    if (http11 && seen.host == 0)
        return refuse(why, 400, "HTTP/1.1 request without Host");
    if (out->method == ESTD_HEAD_GET && out->content_length > 0)
        return refuse(why, 400, "GET with a body");
    /* evhttp reads a POST without Content-Length as empty, or answers its
     * own HTML 400 when a Connection header is present. */
    if (out->method == ESTD_HEAD_POST && seen.content_length == 0)
        return refuse(why, 411, "POST without Content-Length");
    if (out->content_length > max_body) {
        char reason[96];
        snprintf(reason, sizeof reason, "request body larger than %llu bytes",
                 (unsigned long long)max_body);
        return refuse(why, 413, reason);
    }
    return 0;
}

const char *estd_http_reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

/* --- the stream --- */

void estd_head_stream_init(estd_head_stream *s, size_t max_head, uint64_t max_body)
{
    memset(s, 0, sizeof *s);
    s->max_head = max_head;
    s->max_body = max_body;
    s->position = ESTD_STREAM_BOUNDARY;
}

void estd_head_stream_release(estd_head_stream *s)
{
    free(s->head);
    s->head = NULL;
    s->len = s->cap = 0;
}

static int stream_refuse(estd_head_stream *s, int status, const char *reason)
{
    s->position = ESTD_STREAM_REFUSED;
    estd_head_stream_release(s);
    return refuse(&s->refusal, status, reason);
}

/* The head just got its last byte (an LF ending an empty line). */
static int head_done(estd_head_stream *s)
{
    estd_head h;
    int rc = estd_head_check(s->head, s->len, s->max_body, &h, &s->refusal);

    if (rc != 0) {
        s->position = ESTD_STREAM_REFUSED;
        estd_head_stream_release(s);
        return rc;
    }
    estd_head_stream_release(s); /* most connections carry one request */
    s->body_left = h.content_length;
    s->position = s->body_left > 0 ? ESTD_STREAM_BODY : ESTD_STREAM_BOUNDARY;
    if (s->position == ESTD_STREAM_BOUNDARY)
        s->requests++;
    return 0;
}

/* 1 when the LF just appended ends an empty line. */
static int ends_empty_line(const estd_head_stream *s)
{
    size_t n = s->len;
    return (n >= 2 && s->head[n - 2] == '\n') ||
           (n >= 3 && s->head[n - 2] == '\r' && s->head[n - 3] == '\n') ||
           n == 1 || (n == 2 && s->head[0] == '\r');
}

int estd_head_stream_feed(estd_head_stream *s, const uint8_t *bytes, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (s->position == ESTD_STREAM_REFUSED)
            return s->refusal.status;
        if (s->position == ESTD_STREAM_BODY) {
            size_t take = (uint64_t)(n - i) < s->body_left ? n - i : (size_t)s->body_left;
            s->body_left -= take;
            i += take;
            if (s->body_left == 0) {
                s->position = ESTD_STREAM_BOUNDARY;
                s->requests++;
            }
            continue;
        }
        if (s->len == s->max_head) {
            char reason[96];
            snprintf(reason, sizeof reason, "request head larger than %zu bytes", s->max_head);
            return stream_refuse(s, 431, reason);
        }
        if (s->len == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 512;
            char *grown = realloc(s->head, cap > s->max_head ? s->max_head : cap);
            if (grown == NULL)
                return stream_refuse(s, 503, "out of memory");
            s->head = grown;
            s->cap = cap > s->max_head ? s->max_head : cap;
        }
        s->position = ESTD_STREAM_HEAD;
        s->head[s->len++] = (char)bytes[i++];
        if (s->head[s->len - 1] == '\n' && ends_empty_line(s)) {
            int rc = head_done(s);
            if (rc != 0)
                return rc;
        }
    }
    return s->position == ESTD_STREAM_REFUSED ? s->refusal.status : 0;
}
