/* estload: HTTP/1.1 request text and response framing.
 *
 * A load generator needs only the framing of a response (status, where the
 * body ends, whether the server closes); the body itself is checked by
 * OpenSSL through pki_check_certs_only. We never pipeline, so a response
 * is complete once Content-Length bytes follow the head. docs/design.md §2 has every
 * EST server response carry Content-Length; RFC 7030 §3.2 leaves the rest
 * to HTTP/1.1, so chunked framing is refused as unsupported here rather
 * than mis-framed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "estload.h"

static const char *op_path(load_op op)
{
    switch (op) {
    case LOAD_OP_CACERTS:
        return "cacerts";
    case LOAD_OP_ENROLL:
        return "simpleenroll";
    case LOAD_OP_REENROLL:
        return "simplereenroll";
    case LOAD_OP_IDLE:
        break;
    }
    return "cacerts";
}

size_t http_build_request(const load_config *cfg, const char *csr_b64, char *buf, size_t cap)
{
    char target[512];
    int n;

    /* RFC 7030 §3.2.2: /.well-known/est[/label]/operation. */
    snprintf(target, sizeof target, "/.well-known/est/%s%s%s", cfg->label ? cfg->label : "",
             cfg->label ? "/" : "", op_path(cfg->op));
    if (cfg->op == LOAD_OP_CACERTS || csr_b64 == NULL) {
        n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: */*\r\n%s%s%s%s\r\n", target,
                     cfg->host, cfg->port, cfg->basic_header ? "Authorization: " : "",
                     cfg->basic_header ? cfg->basic_header : "", cfg->basic_header ? "\r\n" : "",
                     cfg->fresh ? "Connection: close\r\n" : "");
    } else {
        /* RFC 7030 §4.2.1: "Content-Type: application/pkcs10", body the
         * base64 DER (RFC 8951 §3.2: whitespace optional, we send none). */
        n = snprintf(buf, cap,
                     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: */*\r\n"
                     "Content-Type: application/pkcs10\r\nContent-Length: %zu\r\n%s%s%s%s\r\n%s",
                     target, cfg->host, cfg->port, strlen(csr_b64),
                     cfg->basic_header ? "Authorization: " : "",
                     cfg->basic_header ? cfg->basic_header : "", cfg->basic_header ? "\r\n" : "",
                     cfg->fresh ? "Connection: close\r\n" : "", csr_b64);
    }
    if (n < 0 || (size_t)n >= cap)
        return 0;
    return (size_t)n;
}

/* Value of a header line "Name: value" when name matches, else NULL. */
static const char *header_value(const char *line, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);

    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return NULL;
    line += nlen + 1;
    len -= nlen + 1;
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    *vlen = len;
    return line;
}

static int parse_header(const char *line, size_t len, http_response *out, char *why,
                        size_t why_len)
{
    const char *v;
    size_t vlen;

    if ((v = header_value(line, len, "Content-Length", &vlen)) != NULL) {
        char digits[24];
        char *end;
        long value;
        if (vlen == 0 || vlen >= sizeof digits || out->content_length >= 0)
            goto bad;
        memcpy(digits, v, vlen);
        digits[vlen] = '\0';
        value = strtol(digits, &end, 10);
        if (*end != '\0' || value < 0 || value > ESTLOAD_MAX_BODY_BYTES)
            goto bad;
        out->content_length = value;
    } else if ((v = header_value(line, len, "Transfer-Encoding", &vlen)) != NULL) {
        snprintf(why, why_len, "Transfer-Encoding in response: unsupported, want Content-Length");
        return -1;
    } else if ((v = header_value(line, len, "Connection", &vlen)) != NULL) {
        if (vlen == 5 && strncasecmp(v, "close", 5) == 0)
            out->connection_close = 1;
    } else if ((v = header_value(line, len, "Content-Type", &vlen)) != NULL) {
        snprintf(out->content_type, sizeof out->content_type, "%.*s", (int)vlen, v);
    }
    return 0;
bad:
    snprintf(why, why_len, "bad Content-Length header");
    return -1;
}

int http_parse_head(const char *buf, size_t len, http_response *out, char *why, size_t why_len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    const char *line, *eol;

    if (end == NULL) {
        if (len > ESTLOAD_MAX_HEAD_BYTES) {
            snprintf(why, why_len, "response head over %d bytes", ESTLOAD_MAX_HEAD_BYTES);
            return -1;
        }
        return 0;
    }
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    out->head_len = (size_t)(end - buf) + 4;
    /* "HTTP/1.1 200 OK" (RFC 9112 §4). */
    if (out->head_len < 14 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
        buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' ||
        buf[11] > '9') {
        snprintf(why, why_len, "bad status line");
        return -1;
    }
    out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (buf[7] == '0')
        out->connection_close = 1; /* HTTP/1.0 closes unless told otherwise */
    line = memchr(buf, '\n', out->head_len) + 1;
    while (line < end + 2) {
        eol = memchr(line, '\r', (size_t)(end + 2 - line));
        if (eol == NULL || eol == line)
            break;
        if (parse_header(line, (size_t)(eol - line), out, why, why_len) != 0)
            return -1;
        line = eol + 2;
    }
    if (out->content_length < 0) {
        snprintf(why, why_len, "response without Content-Length (status %d)", out->status);
        return -1;
    }
    return 1;
}
