/* The one error convention: est_status codes plus an optional message. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include "estkit/error.h"
#include "estkit/types.h"

const char *est_strerror(est_status code)
{
    /* A switch, so the compiler flags a code without a message. */
    switch (code) {
    case EST_OK: return "no error";
    case EST_E_NOMEM: return "out of memory";
    case EST_E_INPUT: return "malformed input";
    case EST_E_TOO_LARGE: return "input too large";
    case EST_E_IO: return "I/O error";
    case EST_E_TLS: return "TLS error";
    case EST_E_PROTOCOL: return "protocol error";
    case EST_E_AUTH: return "authentication failed";
    case EST_E_POLICY: return "not allowed by policy";
    case EST_E_CA: return "CA error";
    case EST_E_STORE: return "store error";
    case EST_E_RETRY_LATER: return "retry later";
    case EST_E_NOT_FOUND: return "not found";
    case EST_E_UNSUPPORTED: return "not supported";
    case EST_E_CONFIG: return "configuration error";
    case EST_E_INTERNAL: return "internal error";
    case EST_E_CONFLICT: return "already exists";
    case EST_E_UNAVAILABLE: return "temporarily unavailable";
    }
    return "unknown error";
}

__attribute__((format(printf, 3, 0)))
static void error_vset(est_error *err, est_status code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

est_status est_error_set(est_error *err, est_status code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    va_start(ap, fmt);
    error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

est_status est_error_set_openssl(est_error *err, est_status code, const char *fmt, ...)
{
    va_list ap;
    unsigned long e;

    if (err == NULL) {
        ERR_clear_error();
        return code;
    }
    va_start(ap, fmt);
    error_vset(err, code, fmt, ap);
    va_end(ap);
    /* The first queued error is the root cause; later ones are context. */
    e = ERR_peek_error();
    if (e != 0) {
        size_t used = strlen(err->message);
        const char *reason = ERR_reason_error_string(e);
        char buf[128];

        if (reason == NULL) {
            ERR_error_string_n(e, buf, sizeof buf);
            reason = buf;
        }
        snprintf(err->message + used, sizeof err->message - used, ": %s", reason);
    }
    ERR_clear_error();
    return code;
}

est_status est_error_prefix(est_error *err, est_status code, const char *fmt, ...)
{
    char prefix[EST_ERROR_MESSAGE_MAX];
    char old[EST_ERROR_MESSAGE_MAX];
    va_list ap;

    /* Never EST_OK here: this reports a failure, with or without text. */
    if (code == EST_OK)
        code = EST_E_INTERNAL;
    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
    return code;
}

void est_error_clear(est_error *err)
{
    if (err == NULL)
        return;
    err->code = EST_OK;
    err->message[0] = '\0';
}
