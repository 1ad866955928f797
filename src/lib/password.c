/* Password storage: salted scrypt (RFC 7914) through OpenSSL's KDF.
 *
 * Encoding: "$scrypt$ln=<log2 N>,r=<r>,p=<p>$<base64 salt>$<base64 hash>"
 * (RFC 4648 §4 base64 with padding). The parameters travel with the hash so
 * they can be raised later without invalidating stored rows; when verifying,
 * they are bounded first, because a store row is input too: a hostile or
 * corrupted one must not make us allocate gigabytes or spin for minutes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include "estkit/auth.h"
#include "estkit/password.h"
#include "auth_b64.h"

/* What we write: N = 2^15, r = 8, p = 1 (32 MiB, the RFC 7914 §2
 * interactive-login suggestion scaled to today's hardware). */
#define SCRYPT_LN 15
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SCRYPT_SALT_LEN 16
#define SCRYPT_HASH_LEN 32
/* What we accept when verifying. Memory is 128 * r * (N + 2 + p) bytes and
 * RFC 7914 §2 wants N < 2^(16 r), so ln = 17 (with r = 2) is the most the
 * memory bound allows anyway. */
#define SCRYPT_LN_MAX 17
#define SCRYPT_R_MAX 32
#define SCRYPT_P_MAX 16
#define SCRYPT_MAXMEM ((uint64_t)64 << 20)
#define SCRYPT_WORK_MAX ((uint64_t)1 << 22) /* N * r * p: 16x our default */
#define SCRYPT_SALT_MIN 8
#define SCRYPT_SALT_MAX 64
#define SCRYPT_HASH_MIN 16
#define SCRYPT_HASH_MAX 64
#define SCRYPT_PREFIX "$scrypt$"
/* Longest encoding we parse: prefix, parameters, two base64 fields. */
#define SCRYPT_ENCODED_MAX 256

typedef struct scrypt_params {
    unsigned ln, r, p;
} scrypt_params;

static est_status scrypt_derive(const char *password, const uint8_t *salt, size_t salt_len,
                                const scrypt_params *sp, uint8_t *out, size_t out_len,
                                est_error *err)
{
    uint64_t n = (uint64_t)1 << sp->ln, maxmem = SCRYPT_MAXMEM;
    uint32_t r = sp->r, p = sp->p;
    OSSL_PARAM params[7];
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *ctx = NULL;
    est_status rc = EST_E_INTERNAL;

    /* An empty password still needs a non-NULL pointer for OSSL_PARAM. */
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
                                                  strlen(password));
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
    params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
    params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
    params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
    params[6] = OSSL_PARAM_construct_end();
    kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    if (ctx == NULL || EVP_KDF_derive(ctx, out, out_len, params) != 1) {
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "scrypt");
        goto out;
    }
    rc = EST_OK;
out:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

est_status est_password_hash(const char *password, char **encoded, est_error *err)
{
    static const scrypt_params sp = {SCRYPT_LN, SCRYPT_R, SCRYPT_P};
    uint8_t salt[SCRYPT_SALT_LEN], hash[SCRYPT_HASH_LEN];
    char salt_b64[AUTH_B64_LEN(SCRYPT_SALT_LEN) + 1], hash_b64[AUTH_B64_LEN(SCRYPT_HASH_LEN) + 1];
    char *text = NULL;
    est_status rc;
    int n;

    if (password == NULL || encoded == NULL)
        return est_error_set(err, EST_E_INPUT, "no password");
    *encoded = NULL;
    if (strnlen(password, EST_PASSWORD_MAX + 1) > EST_PASSWORD_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "password longer than %d bytes",
                             EST_PASSWORD_MAX);
    if (RAND_bytes(salt, sizeof salt) != 1)
        return est_error_set_openssl(err, EST_E_INTERNAL, "salt");
    rc = scrypt_derive(password, salt, sizeof salt, &sp, hash, sizeof hash, err);
    if (rc != EST_OK)
        goto out;
    auth_b64_encode(salt, sizeof salt, salt_b64, sizeof salt_b64, 0);
    auth_b64_encode(hash, sizeof hash, hash_b64, sizeof hash_b64, 0);
    text = OPENSSL_malloc(SCRYPT_ENCODED_MAX);
    if (text == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    n = snprintf(text, SCRYPT_ENCODED_MAX, SCRYPT_PREFIX "ln=%u,r=%u,p=%u$%s$%s", sp.ln, sp.r,
                 sp.p, salt_b64, hash_b64);
    if (n < 0 || n >= SCRYPT_ENCODED_MAX) {
        rc = est_error_set(err, EST_E_INTERNAL, "password encoding too long");
        goto out;
    }
    *encoded = text;
    text = NULL;
    rc = EST_OK;
out:
    OPENSSL_free(text);
    OPENSSL_cleanse(hash, sizeof hash);
    return rc;
}

/* Reads "<key>=<decimal>" at *pp, value in [1, max]. No sign, no spaces,
 * no leading zeros, so each number has exactly one spelling. */
static int read_param(const char **pp, const char *key, unsigned max, unsigned *out)
{
    const char *p = *pp;
    size_t key_len = strlen(key);
    unsigned v = 0;

    if (strncmp(p, key, key_len) != 0 || p[key_len] != '=')
        return 0;
    p += key_len + 1;
    if (*p < '1' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned)(*p++ - '0');
        if (v > max)
            return 0;
    }
    *pp = p;
    *out = v;
    return 1;
}

/* Bounds the work a stored row may ask for (see the limits above), and
 * applies RFC 7914 §2's N < 2^(128 r / 8) so OpenSSL never refuses it. */
static int params_sane(const scrypt_params *sp)
{
    uint64_t n = (uint64_t)1 << sp->ln;

    /* OpenSSL's own estimate (crypto/kdf scrypt): B = 128 r p, V = 128 r (N + 2). */
    return sp->ln < 16 * sp->r && 128 * (uint64_t)sp->r * (n + 2 + sp->p) <= SCRYPT_MAXMEM &&
           n * sp->r * sp->p <= SCRYPT_WORK_MAX;
}

/* Decodes one base64 field ending at end into out; its length must be in
 * [min, max]. */
static int read_b64(const char *p, const char *end, uint8_t *out, size_t cap, size_t min,
                    size_t max, size_t *len)
{
    return auth_b64_decode(p, (size_t)(end - p), out, cap, len, 0) == EST_OK && *len >= min &&
           *len <= max;
}

est_status est_password_verify(const char *password, const char *encoded, est_error *err)
{
    uint8_t salt[AUTH_B64_DECODE_CAP(SCRYPT_ENCODED_MAX)], want[AUTH_B64_DECODE_CAP(SCRYPT_ENCODED_MAX)];
    uint8_t got[SCRYPT_HASH_MAX];
    size_t salt_len = 0, want_len = 0;
    const char *p, *dollar, *end;
    scrypt_params sp;
    est_status rc;

    if (password == NULL || encoded == NULL)
        return est_error_set(err, EST_E_INPUT, "no password or stored hash");
    if (strnlen(password, EST_PASSWORD_MAX + 1) > EST_PASSWORD_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "password longer than %d bytes",
                             EST_PASSWORD_MAX);
    if (strnlen(encoded, SCRYPT_ENCODED_MAX + 1) > SCRYPT_ENCODED_MAX ||
        strncmp(encoded, SCRYPT_PREFIX, sizeof SCRYPT_PREFIX - 1) != 0)
        return est_error_set(err, EST_E_INPUT, "stored password is not an scrypt hash");
    p = encoded + sizeof SCRYPT_PREFIX - 1;
    if (!read_param(&p, "ln", SCRYPT_LN_MAX, &sp.ln) || *p++ != ',' ||
        !read_param(&p, "r", SCRYPT_R_MAX, &sp.r) || *p++ != ',' ||
        !read_param(&p, "p", SCRYPT_P_MAX, &sp.p) || *p++ != '$' || !params_sane(&sp))
        return est_error_set(err, EST_E_INPUT, "stored scrypt parameters malformed or too costly");
    dollar = strchr(p, '$');
    end = p + strlen(p);
    if (dollar == NULL ||
        !read_b64(p, dollar, salt, sizeof salt, SCRYPT_SALT_MIN, SCRYPT_SALT_MAX, &salt_len) ||
        !read_b64(dollar + 1, end, want, sizeof want, SCRYPT_HASH_MIN, SCRYPT_HASH_MAX,
                  &want_len))
        return est_error_set(err, EST_E_INPUT, "stored scrypt salt or hash malformed");
    rc = scrypt_derive(password, salt, salt_len, &sp, got, want_len, err);
    if (rc != EST_OK)
        goto out;
    rc = EST_OK;
    if (CRYPTO_memcmp(got, want, want_len) != 0)
        rc = est_error_set(err, EST_E_AUTH, "wrong password");
out:
    OPENSSL_cleanse(got, sizeof got);
    return rc;
}
