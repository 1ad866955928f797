/* HTTP Basic authentication (RFC 7617), draft-04 §3.2.3.
 *
 * credentials = "Basic" 1*SP token68, token68 = base64(user-id ":" password)
 * (RFC 7617 §2). The scheme name is case-insensitive (RFC 7235 §2.1). The
 * decoded user-id and password are UTF-8 (RFC 7617 §2.1 charset) and MUST
 * NOT contain control characters; the user-id MUST NOT contain ':'. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include "estkit/auth.h"
#include "estkit/mem.h"
#include "auth_b64.h"

#define BASIC_SCHEME "Basic"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 7617 §2: no control characters in user-id or password. */
static int has_control(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

static char *dup_n(const uint8_t *s, size_t len)
{
    char *out = OPENSSL_malloc(len + 1);

    if (out == NULL)
        return NULL;
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

/* Splits "user:password" (decoded, len bytes) into two new strings. */
static est_status split_user_password(const uint8_t *plain, size_t len, char **user,
                                      char **password, est_error *err)
{
    const uint8_t *colon = memchr(plain, ':', len);
    size_t user_len, password_len;

    if (colon == NULL)
        return est_error_set(err, EST_E_INPUT, "Basic credentials without ':'");
    if (has_control(plain, len))
        return est_error_set(err, EST_E_INPUT, "control character in Basic credentials");
    user_len = (size_t)(colon - plain);
    password_len = len - user_len - 1;
    if (user_len > EST_USERNAME_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "user name longer than %d bytes",
                             EST_USERNAME_MAX);
    if (password_len > EST_PASSWORD_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "password longer than %d bytes",
                             EST_PASSWORD_MAX);
    *user = dup_n(plain, user_len);
    *password = dup_n(colon + 1, password_len);
    if (*user == NULL || *password == NULL) {
        OPENSSL_free(*user);
        est_secret_free(*password);
        *user = *password = NULL;
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    return EST_OK;
}

est_status est_basic_parse(const char *authorization, char **user, char **password,
                           est_error *err)
{
    static const size_t scheme_len = sizeof BASIC_SCHEME - 1;
    uint8_t plain[AUTH_B64_DECODE_CAP(EST_AUTH_HEADER_MAX)];
    const char *p, *end;
    size_t len, plain_len = 0;
    est_status rc;

    if (authorization == NULL || user == NULL || password == NULL)
        return est_error_set(err, EST_E_INPUT, "no Authorization header");
    *user = *password = NULL;
    len = strnlen(authorization, EST_AUTH_HEADER_MAX + 1);
    if (len > EST_AUTH_HEADER_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "Authorization header longer than %d bytes",
                             EST_AUTH_HEADER_MAX);
    /* Surrounding OWS is not part of a field value (RFC 7230 §3.2.4). */
    p = authorization;
    end = authorization + len;
    while (p < end && is_ows(*p))
        p++;
    while (end > p && is_ows(end[-1]))
        end--;
    len = (size_t)(end - p);
    if (len <= scheme_len || strncasecmp(p, BASIC_SCHEME, scheme_len) != 0 || p[scheme_len] != ' ')
        return est_error_set(err, EST_E_INPUT, "not a Basic Authorization header");
    p += scheme_len;
    len -= scheme_len;
    while (len > 0 && *p == ' ') {
        p++;
        len--;
    }
    rc = auth_b64_decode(p, len, plain, sizeof plain, &plain_len, 0);
    if (rc != EST_OK) {
        est_error_set(err, EST_E_INPUT, "Basic credentials are not base64");
        goto out;
    }
    rc = split_user_password(plain, plain_len, user, password, err);
out:
    OPENSSL_cleanse(plain, sizeof plain);
    return rc;
}

est_status est_basic_build(const char *user, const char *password, char **out, est_error *err)
{
    static const size_t scheme_len = sizeof BASIC_SCHEME; /* with the space */
    uint8_t plain[EST_USERNAME_MAX + 1 + EST_PASSWORD_MAX];
    size_t user_len, password_len, plain_len, cap;
    est_status rc = EST_E_INPUT;
    char *text = NULL;

    if (user == NULL || password == NULL || out == NULL)
        return est_error_set(err, EST_E_INPUT, "no user name or password");
    *out = NULL;
    user_len = strnlen(user, EST_USERNAME_MAX + 1);
    password_len = strnlen(password, EST_PASSWORD_MAX + 1);
    if (user_len > EST_USERNAME_MAX || password_len > EST_PASSWORD_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "user name or password too long");
    if (memchr(user, ':', user_len) != NULL)
        return est_error_set(err, EST_E_INPUT, "a Basic user name cannot contain ':'");
    if (has_control((const uint8_t *)user, user_len) ||
        has_control((const uint8_t *)password, password_len))
        return est_error_set(err, EST_E_INPUT, "control character in user name or password");
    memcpy(plain, user, user_len);
    plain[user_len] = ':';
    memcpy(plain + user_len + 1, password, password_len);
    plain_len = user_len + 1 + password_len;
    cap = scheme_len + AUTH_B64_LEN(plain_len) + 1;
    text = OPENSSL_malloc(cap);
    if (text == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    memcpy(text, BASIC_SCHEME " ", scheme_len);
    auth_b64_encode(plain, plain_len, text + scheme_len, cap - scheme_len, 0);
    *out = text;
    rc = EST_OK;
out:
    OPENSSL_cleanse(plain, sizeof plain);
    return rc;
}
