/* estd: parsing an upstream's HTTP/1.1 response (RFC 9112 §4, §6) for the
 * RA client (upstream_http.c). Only what EST answers need: the status, the
 * content type, Content-Transfer-Encoding (RFC 7030 §4), Retry-After
 * (draft-04 §4.2.3) and a Content-Length-delimited or close-delimited body.
 * Chunked bodies are refused rather than half-supported. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "request_head.h"
#include "upstream_http.h"

/* Retry-After beyond a day is treated as a day: a device is not told to
 * go away for longer on the upstream's word. */
#define HTTP_RETRY_AFTER_MAX 86400

void estd_http_response_release(estd_http_response *resp)
{
    if (resp == NULL)
        return;
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

/* Copies up to the first line break, keeping printable ASCII only (the
 * reason is logged and shown to devices). */
static void printable_line(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        if (src[i] == '\r' || src[i] == '\n')
            break;
        dst[n++] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
    }
    dst[n] = '\0';
}

static int parse_decimal(const char *s, size_t len, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;

    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]) || v > (max - (unsigned)(s[i] - '0')) / 10)
            return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 1;
}

typedef struct head_fields {
    int has_length;
    unsigned long long length;
} head_fields;

/* One "Name: value" line (without its CRLF). */
static est_status header_line(const char *line, size_t len, estd_http_response *out,
                              head_fields *f, est_error *err)
{
    const char *colon = memchr(line, ':', len);
    const char *v;
    size_t name_len, v_len;
    unsigned long long n;

    if (colon == NULL || colon == line)
        return est_error_set(err, EST_E_PROTOCOL, "upstream sent a malformed header line");
    name_len = (size_t)(colon - line);
    v = colon + 1;
    v_len = len - name_len - 1;
    estd_http_trim_ows(&v, &v_len);
#define IS(name) (name_len == sizeof(name) - 1 && strncasecmp(line, name, name_len) == 0)
    if (IS("Content-Length")) {
        if (f->has_length || !parse_decimal(v, v_len, (unsigned long long)SIZE_MAX / 2, &n))
            return est_error_set(err, EST_E_PROTOCOL, "upstream sent a bad Content-Length");
        f->has_length = 1;
        f->length = n;
    } else if (IS("Transfer-Encoding")) {
        return est_error_set(err, EST_E_PROTOCOL, "upstream sent Transfer-Encoding %.*s "
                                                  "(only Content-Length bodies are read)",
                             (int)(v_len < 40 ? v_len : 40), v);
    } else if (IS("Content-Type")) {
        printable_line(out->content_type, sizeof out->content_type, (const uint8_t *)v, v_len);
    } else if (IS("Content-Transfer-Encoding")) {
        out->base64_transfer = v_len == 6 && strncasecmp(v, "base64", 6) == 0;
    } else if (IS("Retry-After")) {
        /* RFC 9110 §10.2.3: delta-seconds or an HTTP-date; a date leaves
         * the choice to the caller's default. */
        if (parse_decimal(v, v_len, ~0ull, &n))
            out->retry_after = n > HTTP_RETRY_AFTER_MAX ? HTTP_RETRY_AFTER_MAX
                                                        : (n == 0 ? 1 : (unsigned)n);
    }
#undef IS
    return EST_OK;
}

/* "HTTP/1.1 200 OK" */
static est_status status_line(const char *line, size_t len, estd_http_response *out,
                              est_error *err)
{
    unsigned long long code;

    if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ' || !parse_decimal(line + 9, 3, 999, &code) || code < 100 ||
        (len > 12 && line[12] != ' '))
        return est_error_set(err, EST_E_PROTOCOL, "upstream did not answer HTTP/1.x");
    out->status = (int)code;
    printable_line(out->reason, sizeof out->reason, (const uint8_t *)line + (len > 13 ? 13 : len),
                   len > 13 ? len - 13 : 0);
    return EST_OK;
}

static est_status body_take(const uint8_t *p, size_t avail, size_t max_body,
                            const head_fields *f, estd_http_response *out, est_error *err)
{
    size_t n = avail;

    if (f->has_length) {
        if (f->length > max_body)
            return est_error_set(err, EST_E_TOO_LARGE, "upstream answer of %llu bytes is over "
                                                       "the %zu-byte limit", f->length, max_body);
        if (f->length > avail)
            return est_error_set(err, EST_E_PROTOCOL, "upstream answer truncated: %zu of %llu "
                                                      "bytes", avail, f->length);
        n = (size_t)f->length;
    } else if (avail > max_body) {
        return est_error_set(err, EST_E_TOO_LARGE, "upstream answer is over the %zu-byte limit",
                             max_body);
    }
    if (n == 0)
        return EST_OK;
    if ((out->body = malloc(n)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    memcpy(out->body, p, n);
    out->body_len = n;
    /* A refusal's text/plain body is the upstream's one-line reason. */
    if (out->status >= 300 && strncasecmp(out->content_type, "text/plain", 10) == 0)
        printable_line(out->reason, sizeof out->reason, out->body, n);
    return EST_OK;
}

est_status estd_http_response_parse(const uint8_t *raw, size_t len, size_t max_body,
                                    estd_http_response *out, est_error *err)
{
    head_fields f = {0};
    size_t pos = 0;
    est_status rc;
    int first = 1;

    memset(out, 0, sizeof *out);
    for (;;) {
        const uint8_t *eol = memchr(raw + pos, '\n', len - pos);
        size_t line_len;

        if (eol == NULL || (size_t)(eol - raw) > ESTD_HTTP_HEAD_MAX) {
            rc = est_error_set(err, EST_E_PROTOCOL, eol == NULL ? "upstream answer truncated "
                                                                  "in its head"
                                                                : "upstream answer head too "
                                                                  "large");
            goto out;
        }
        line_len = (size_t)(eol - (raw + pos));
        if (line_len == 0 || raw[pos + line_len - 1] != '\r') {
            rc = est_error_set(err, EST_E_PROTOCOL, "upstream answer lines do not end in CRLF");
            goto out;
        }
        line_len--;
        if (line_len == 0 && !first)
            break;
        if (memchr(raw + pos, '\0', line_len) != NULL) {
            rc = est_error_set(err, EST_E_PROTOCOL, "upstream answer head holds a NUL byte");
            goto out;
        }
        rc = first ? status_line((const char *)raw + pos, line_len, out, err)
                   : header_line((const char *)raw + pos, line_len, out, &f, err);
        if (rc != EST_OK)
            goto out;
        first = 0;
        pos = (size_t)(eol - raw) + 1;
    }
    pos = (size_t)((const uint8_t *)memchr(raw + pos, '\n', len - pos) - raw) + 1;
    rc = body_take(raw + pos, len - pos, max_body, &f, out, err);
out:
    if (rc != EST_OK)
        estd_http_response_release(out);
    return rc;
}
