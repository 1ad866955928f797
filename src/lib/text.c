/* The one escaping rule for untrusted text in logs and audit records
 * (see estkit/text.h for what is kept and what is escaped, and why). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "estkit/text.h"

/* Longest text one input character becomes: 4 bytes, each as \xNN. */
#define ESCAPED_CHAR_MAX 16
#define ELLIPSIS "..."

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 §4 table), or 0
 * when the bytes there are not one. *cp = its code point. */
static size_t utf8_sequence(const uint8_t *p, size_t len, uint32_t *cp)
{
    uint8_t b = p[0], lo = 0x80, hi = 0xBF;
    size_t n;

    if (b >= 0xC2 && b <= 0xDF)
        n = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        n = 3;
    else if (b >= 0xF0 && b <= 0xF4)
        n = 4;
    else
        return 0;
    /* The second byte's range rules out overlong forms, surrogates and
     * code points beyond U+10FFFF. */
    if (b == 0xE0)
        lo = 0xA0;
    else if (b == 0xED)
        hi = 0x9F;
    else if (b == 0xF0)
        lo = 0x90;
    else if (b == 0xF4)
        hi = 0x8F;
    if (len < n || p[1] < lo || p[1] > hi)
        return 0;
    *cp = b & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if (i > 1 && (p[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3F);
    }
    return n;
}

/* Well-formed characters that still act as controls on a terminal or
 * change what a reader sees. */
static int is_control_character(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0x200E ||
           cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* The text for the character at p: written to item, its length returned;
 * *used = input bytes consumed. */
static size_t escape_one(const uint8_t *p, size_t len, char item[ESCAPED_CHAR_MAX], size_t *used)
{
    static const char hex[] = "0123456789ABCDEF";
    uint32_t cp = 0;
    size_t n = 1, out = 0;

    if (p[0] >= 0x20 && p[0] < 0x7F && p[0] != '\\' && p[0] != '"') {
        item[0] = (char)p[0];
        *used = 1;
        return 1;
    }
    if (p[0] >= 0x80 && (n = utf8_sequence(p, len, &cp)) != 0 && !is_control_character(cp)) {
        memcpy(item, p, n);
        *used = n;
        return n;
    }
    if (n == 0)
        n = 1; /* not UTF-8: escape this byte, resynchronise at the next */
    for (size_t i = 0; i < n; i++) {
        item[out++] = '\\';
        item[out++] = 'x';
        item[out++] = hex[p[i] >> 4];
        item[out++] = hex[p[i] & 0x0F];
    }
    *used = n;
    return out;
}

/* Writes the escaped text of in[0..len) into out while it fits within
 * limit bytes; returns the bytes written, *done = input bytes consumed. */
static size_t escape_until(const uint8_t *in, size_t len, char *out, size_t limit, size_t *done)
{
    char item[ESCAPED_CHAR_MAX];
    size_t pos = 0, i = 0, used, n;

    while (i < len) {
        n = escape_one(in + i, len - i, item, &used);
        if (pos + n > limit)
            break;
        if (out != NULL)
            memcpy(out + pos, item, n);
        pos += n;
        i += used;
    }
    *done = i;
    return pos;
}

int est_text_escape(const void *in, size_t in_len, char *out, size_t cap)
{
    const uint8_t *p = in;
    size_t done, pos;

    if (out == NULL || cap == 0)
        return 1;
    if (p == NULL)
        in_len = 0;
    /* First pass: does all of it fit? Then write it, else write what fits
     * with room left for the ellipsis. */
    escape_until(p, in_len, NULL, cap - 1, &done);
    if (done == in_len) {
        out[escape_until(p, in_len, out, cap - 1, &done)] = '\0';
        return 0;
    }
    if (cap - 1 < strlen(ELLIPSIS)) {
        memset(out, '.', cap - 1);
        out[cap - 1] = '\0';
        return 1;
    }
    pos = escape_until(p, in_len, out, cap - 1 - strlen(ELLIPSIS), &done);
    memcpy(out + pos, ELLIPSIS, sizeof ELLIPSIS);
    return 1;
}

char *est_text_escape_dup(const char *s, size_t max)
{
    size_t len, done, need;
    char *out;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    need = escape_until((const uint8_t *)s, len, NULL, max, &done);
    if ((out = OPENSSL_malloc(need + 1)) == NULL)
        return NULL;
    est_text_escape(s, len, out, need + 1);
    return out;
}
