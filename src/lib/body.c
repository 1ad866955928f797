/* EST body codec (docs/design.md §2; RFC 8951 §3.2; RFC 7030 §4; draft-04 §4).
 *
 * Decoding is liberal in shape and strict in content: raw DER, base64 with
 * any whitespace and line breaks, or the same base64 inside PEM armour are
 * all accepted; any other byte is an error with its offset, never skipped.
 * OpenSSL does all base64 work (EVP_DecodeUpdate, EVP_EncodeBlock) and the
 * DER length check (ASN1_get_object). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "estkit/body.h"

/* Longest PEM label we accept ("CERTIFICATE REQUEST" is 19). RFC 7468 sets
 * no bound; a long one is a sign of garbage, not of a real object. */
#define BODY_PEM_LABEL_MAX 64

/* Line length of the draft's PEM bodies (RFC 7468 §2: 64 characters).
 * RFC 7030 bodies take theirs from the caller (est_body_encode_lines). */
#define BODY_PEM_LINE_CHARS 64

static const char pem_begin[] = "-----BEGIN ";
static const char pem_end[] = "-----END ";
static const char pem_dashes[] = "-----";

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_base64(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

/* 1 when buf holds exactly one DER SEQUENCE (definite length) and nothing
 * else. ASN1_get_object only reads the identifier and length octets. */
static int is_whole_sequence(const uint8_t *buf, size_t len)
{
    const unsigned char *p = buf;
    long body_len = 0;
    int tag = 0, xclass = 0, ret;

    if (len < 2 || buf[0] != 0x30 || len > EST_BODY_MAX)
        return 0;
    ret = ASN1_get_object(&p, &body_len, &tag, &xclass, (long)len);
    ERR_clear_error(); /* a "too long" here is an answer, not a failure */
    if ((ret & 0x80) != 0 || ret != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
        xclass != V_ASN1_UNIVERSAL)
        return 0;
    return (size_t)(p - buf) + (size_t)body_len == len;
}

/* Decodes base64 text in[0..len) that may hold whitespace anywhere. Every
 * byte is checked first because EVP_DecodeUpdate silently stops at '-' and
 * would let trailing garbage through. Padding rules (no data after '=', a
 * multiple of four characters) are EVP_DecodeUpdate/Final's. */
static est_status decode_base64(const uint8_t *in, size_t len, size_t base, uint8_t **out,
                                size_t *out_len, est_error *err)
{
    EVP_ENCODE_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    int n = 0, m = 0;
    est_status rc = EST_E_INPUT;

    for (size_t i = 0; i < len; i++) {
        if (!is_space(in[i]) && !is_base64(in[i])) {
            rc = est_error_set(err, EST_E_INPUT,
                               "body is neither DER nor base64: byte 0x%02x at offset %zu",
                               in[i], base + i);
            goto out;
        }
    }
    /* Decoded data is at most 3/4 of the text; +3 covers a final group. */
    buf = OPENSSL_malloc(len / 4 * 3 + 3);
    ctx = EVP_ENCODE_CTX_new();
    if (buf == NULL || ctx == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "body: out of memory");
        goto out;
    }
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, buf, &n, in, (int)len) < 0 || EVP_DecodeFinal(ctx, buf + n, &m) < 0) {
        rc = est_error_set(err, EST_E_INPUT,
                           "body: bad base64 (misplaced '=' or length not a multiple of 4)");
        goto out;
    }
    if (n + m == 0) {
        rc = est_error_set(err, EST_E_INPUT, "body: no base64 data");
        goto out;
    }
    *out = buf;
    *out_len = (size_t)(n + m);
    buf = NULL;
    rc = EST_OK;
out:
    ERR_clear_error();
    EVP_ENCODE_CTX_free(ctx);
    OPENSSL_free(buf);
    return rc;
}

/* RFC 7468 §3: label = [ labelchar *( ( "-" / SP ) labelchar ) ], where
 * labelchar is printable ASCII except '-'. We also require it non-empty and
 * at most BODY_PEM_LABEL_MAX characters. */
static int is_labelchar(char c)
{
    return c > 0x20 && c < 0x7f && c != '-';
}

static int label_ok(const char *label)
{
    size_t len = strlen(label);

    if (len == 0 || len > BODY_PEM_LABEL_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (is_labelchar(label[i]))
            continue;
        if ((label[i] != '-' && label[i] != ' ') || i == 0 || i + 1 == len ||
            !is_labelchar(label[i - 1]) || !is_labelchar(label[i + 1]))
            return 0;
    }
    return 1;
}

/* Finds the PEM armour of RFC 7468 §2 in in[start..len): in[start] is the
 * first '-' of "-----BEGIN ". Sets the label and the span between the two
 * marker lines. Only whitespace may follow the END line (one object per
 * body). We do not use PEM_read_bio: it reads a blank line as the end of
 * RFC 1421 headers and hands '-' inside the data to EVP_DecodeUpdate, which
 * stops there; RFC 8951 asks for "any line breaks" and we want every other
 * byte checked, so armour here is two marker lines around the same liberal
 * base64 as an unarmoured body. */
static est_status find_armour(const uint8_t *in, size_t len, size_t start, char **label,
                              size_t *b64_start, size_t *b64_end, est_error *err)
{
    const char *s = (const char *)in;
    size_t pos = start + strlen(pem_begin), label_len, end_pos, search;
    char end_marker[sizeof pem_end + BODY_PEM_LABEL_MAX + sizeof pem_dashes];
    char label_buf[BODY_PEM_LABEL_MAX + 1];
    const char *hit;

    /* The label ends at the first "-----" within BODY_PEM_LABEL_MAX. */
    search = len - pos < BODY_PEM_LABEL_MAX + 5 ? len - pos : BODY_PEM_LABEL_MAX + 5;
    hit = memmem(in + pos, search, pem_dashes, 5);
    label_len = hit == NULL ? 0 : (size_t)(hit - (s + pos));
    if (hit == NULL || label_len == 0 || label_len > BODY_PEM_LABEL_MAX)
        return est_error_set(err, EST_E_INPUT, "body: malformed PEM BEGIN line");
    memcpy(label_buf, s + pos, label_len);
    label_buf[label_len] = '\0';
    if (!label_ok(label_buf))
        return est_error_set(err, EST_E_INPUT, "body: malformed PEM label");
    snprintf(end_marker, sizeof end_marker, "%s%.*s%s", pem_end, (int)label_len, s + pos,
             pem_dashes);
    *b64_start = pos + label_len + 5;
    hit = memmem(in + *b64_start, len - *b64_start, end_marker, strlen(end_marker));
    if (hit == NULL)
        return est_error_set(err, EST_E_INPUT, "body: PEM END line for \"%.*s\" missing",
                             (int)label_len, s + pos);
    *b64_end = (size_t)(hit - s);
    for (end_pos = *b64_end + strlen(end_marker); end_pos < len; end_pos++)
        if (!is_space(in[end_pos]))
            return est_error_set(err, EST_E_INPUT,
                                 "body: data after the PEM END line at offset %zu", end_pos);
    *label = OPENSSL_strndup(s + pos, label_len);
    if (*label == NULL)
        return est_error_set(err, EST_E_NOMEM, "body: out of memory");
    return EST_OK;
}

est_status est_body_decode(const uint8_t *in, size_t in_len, uint8_t **der, size_t *der_len,
                           char **pem_label, est_error *err)
{
    size_t start = 0, b64_start = 0, b64_end;
    char *label = NULL;
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    est_status rc;

    *der = NULL;
    *der_len = 0;
    if (pem_label != NULL)
        *pem_label = NULL;
    if (in_len > EST_BODY_MAX) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "body: %zu bytes, limit %zu", in_len,
                           EST_BODY_MAX);
        goto out;
    }
    /* Liberal in what we accept: libest ends /csrattrs with a NUL byte,
     * and text bodies often end in a line break. Only text is trimmed: raw
     * DER opens with 0x30 (base64 of DER with 'M', PEM with '-'), and DER
     * with bytes after its end stays an error. */
    if (in_len > 0 && in[0] != 0x30)
        while (in_len > 0 && (in[in_len - 1] == '\0' || is_space(in[in_len - 1])))
            in_len--;
    if (in_len == 0) {
        rc = est_error_set(err, EST_E_INPUT, "body: empty");
        goto out;
    }
    /* Raw DER: the header's length covers the input exactly. '0' (0x30) can
     * also open base64 text, but base64 of DER starts with 'M'. */
    if (is_whole_sequence(in, in_len)) {
        buf = OPENSSL_malloc(in_len);
        if (buf == NULL) {
            rc = est_error_set(err, EST_E_NOMEM, "body: out of memory");
            goto out;
        }
        memcpy(buf, in, in_len);
        buf_len = in_len;
    } else {
        while (start < in_len && is_space(in[start]))
            start++;
        b64_start = start;
        b64_end = in_len;
        if (in_len - start >= strlen(pem_begin) &&
            memcmp(in + start, pem_begin, strlen(pem_begin)) == 0) {
            rc = find_armour(in, in_len, start, &label, &b64_start, &b64_end, err);
            if (rc != EST_OK)
                goto out;
        }
        rc = decode_base64(in + b64_start, b64_end - b64_start, b64_start, &buf, &buf_len, err);
        if (rc != EST_OK)
            goto out;
        if (!is_whole_sequence(buf, buf_len)) {
            rc = est_error_set(err, EST_E_INPUT,
                               "body: decoded data is not one DER SEQUENCE (%zu bytes)", buf_len);
            goto out;
        }
    }
    *der = buf;
    *der_len = buf_len;
    buf = NULL;
    if (pem_label != NULL) {
        *pem_label = label;
        label = NULL;
    }
    rc = EST_OK;
out:
    OPENSSL_free(buf);
    OPENSSL_free(label);
    return rc;
}

/* Writes b64[0..len) to out in lines of line_chars (0: one line), each
 * ended by eol; returns the bytes written. out must have room. */
static size_t write_lines(char *out, const char *b64, size_t len, size_t line_chars,
                          const char *eol)
{
    size_t written = 0, eol_len = strlen(eol);

    if (line_chars == 0)
        line_chars = len;
    for (size_t i = 0; i < len; i += line_chars) {
        size_t n = len - i < line_chars ? len - i : line_chars;

        memcpy(out + written, b64 + i, n);
        memcpy(out + written + n, eol, eol_len);
        written += n + eol_len;
    }
    return written;
}

est_status est_body_line_check(unsigned line_chars, est_error *err)
{
    if (line_chars == 0 || (line_chars % 4 == 0 && line_chars <= EST_BODY_LINE_MAX))
        return EST_OK;
    return est_error_set(err, EST_E_INPUT,
                         "base64 line length %u: use 0 (one line) or a multiple of 4 up to %u",
                         line_chars, EST_BODY_LINE_MAX);
}

est_status est_body_encode(const uint8_t *der, size_t der_len, est_dialect dialect,
                           const char *pem_label, char **out, size_t *out_len, est_error *err)
{
    return est_body_encode_lines(der, der_len, dialect, pem_label, EST_BODY_LINE_DEFAULT, out,
                                 out_len, err);
}

est_status est_body_encode_lines(const uint8_t *der, size_t der_len, est_dialect dialect,
                                 const char *pem_label, unsigned line_chars, char **out,
                                 size_t *out_len, est_error *err)
{
    int draft = dialect == EST_DIALECT_DRAFT;
    /* RFC 7030 bodies: RFC 4648 base64 in RFC 2045 §6.8-length lines
     * (RFC 8951 §3.2 decoders accept line breaks; OpenSSL's base64 BIO as
     * libest uses it needs them), or one line with no end for peers that do
     * not skip whitespace (strongSwan's pki). Lines end in LF, not RFC
     * 2045's CRLF: every decoder that takes one takes the other, except
     * coreutils `base64 -d`, which refuses CR. draft-04: PEM, 64-character
     * lines ended by LF (RFC 7468 §2). */
    size_t line = draft ? BODY_PEM_LINE_CHARS : line_chars;
    const char *eol = draft || line_chars > 0 ? "\n" : "";
    size_t b64_len = 4 * ((der_len + 2) / 3), lines, total, pos = 0;
    char *b64 = NULL, *buf = NULL;
    est_status rc = EST_E_INPUT;

    *out = NULL;
    *out_len = 0;
    if (!draft && (rc = est_body_line_check(line_chars, err)) != EST_OK)
        goto out;
    if (der_len == 0 || der == NULL) {
        rc = est_error_set(err, EST_E_INPUT, "body: nothing to encode");
        goto out;
    }
    if (draft && (pem_label == NULL || !label_ok(pem_label))) {
        rc = est_error_set(err, EST_E_INPUT, "body: draft-04 body needs a valid PEM label");
        goto out;
    }
    /* What we send must pass our own decoder's EST_BODY_MAX. */
    lines = line == 0 ? 1 : (b64_len + line - 1) / line;
    total = b64_len + lines * strlen(eol);
    if (draft)
        total += strlen(pem_begin) + strlen(pem_end) + 2 * strlen(pem_dashes) +
                 2 * strlen(pem_label) + 2 * strlen(eol);
    if (der_len > EST_BODY_MAX || total > EST_BODY_MAX) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "body: encoding %zu bytes exceeds limit %zu",
                           der_len, EST_BODY_MAX);
        goto out;
    }
    b64 = OPENSSL_malloc(b64_len + 1);
    buf = OPENSSL_malloc(total + 1);
    if (b64 == NULL || buf == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "body: out of memory");
        goto out;
    }
    EVP_EncodeBlock((unsigned char *)b64, der, (int)der_len);
    if (draft)
        pos += (size_t)snprintf(buf, total + 1, "%s%s%s%s", pem_begin, pem_label, pem_dashes, eol);
    pos += write_lines(buf + pos, b64, b64_len, line, eol);
    if (draft)
        pos += (size_t)snprintf(buf + pos, total + 1 - pos, "%s%s%s%s", pem_end, pem_label,
                                pem_dashes, eol);
    if (pos != total) {
        rc = est_error_set(err, EST_E_INTERNAL, "body: size %zu != %zu", pos, total);
        goto out;
    }
    buf[total] = '\0';
    *out = buf;
    *out_len = total;
    buf = NULL;
    rc = EST_OK;
out:
    OPENSSL_free(b64);
    OPENSSL_free(buf);
    return rc;
}
