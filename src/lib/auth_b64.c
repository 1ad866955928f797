/* Strict base64 helpers for the auth files (see auth_b64.h). OpenSSL does
 * the coding; this file only enforces the exact alphabet and padding,
 * because EVP_DecodeBlock skips whitespace and keeps padding bytes. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "auth_b64.h"

/* Largest input auth_b64_decode handles: it copies URL-safe text into a
 * stack buffer to translate it. Digest nonces are far shorter. */
#define AUTH_B64_URL_MAX 256

size_t auth_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap, int url)
{
    size_t len = AUTH_B64_LEN(n);

    if (cap < len + 1 || n > INT32_MAX / 2)
        return 0;
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    if (!url)
        return len;
    while (len > 0 && out[len - 1] == '=')
        out[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return len;
}

static int b64_char(char c, int url)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return url ? (c == '-' || c == '_') : (c == '+' || c == '/');
}

/* Checks the alphabet and where '=' may stand; returns the padding count
 * or -1. */
static int b64_shape(const char *in, size_t len, int url)
{
    size_t pad = 0;

    if (!url) {
        if (len % 4 != 0)
            return -1;
        while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
            pad++;
    } else if (len % 4 == 1) {
        return -1; /* 6 bits cannot end a byte */
    }
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_char(in[i], url))
            return -1;
    return (int)pad;
}

est_status auth_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                           size_t *out_len, int url)
{
    char tmp[AUTH_B64_URL_MAX + 4];
    int pad = b64_shape(in, len, url);
    int n;

    if (pad < 0)
        return EST_E_INPUT;
    if (url) {
        if (len > AUTH_B64_URL_MAX)
            return EST_E_TOO_LARGE;
        for (size_t i = 0; i < len; i++)
            tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
        while (len % 4 != 0) {
            tmp[len++] = '=';
            pad++;
        }
        in = tmp;
    }
    /* EVP_DecodeBlock writes whole 3-byte groups, padding included. */
    if (len / 4 * 3 > cap || len > INT32_MAX)
        return EST_E_TOO_LARGE;
    *out_len = 0;
    if (len == 0)
        return EST_OK;
    n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (url)
        OPENSSL_cleanse(tmp, len);
    if (n < 0 || (size_t)n != len / 4 * 3)
        return EST_E_INPUT;
    *out_len = (size_t)n - (size_t)pad;
    return EST_OK;
}
