/* estkit: the one error convention.
 *
 * Every fallible function returns an est_status (EST_OK = 0) and, when the
 * caller passes a non-NULL est_error, fills it with the same code and a
 * one-line human-readable reason (including OpenSSL's reason where one
 * exists). The library never prints. Codes are never renumbered. */
#ifndef ESTKIT_ERROR_H
#define ESTKIT_ERROR_H

#include "estkit/api.h"

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum est_status {
    EST_OK = 0,
    EST_E_NOMEM = 1,        /* allocation failed */
    EST_E_INPUT = 2,        /* malformed input: bad base64, DER, CSR, header */
    EST_E_TOO_LARGE = 3,    /* input over a named size limit */
    EST_E_IO = 4,           /* file or network I/O */
    EST_E_TLS = 5,          /* TLS handshake or verification */
    EST_E_PROTOCOL = 6,     /* the peer broke the EST/HTTP rules */
    EST_E_AUTH = 7,         /* authentication missing or wrong */
    EST_E_POLICY = 8,       /* authenticated but not allowed */
    EST_E_CA = 9,           /* the CA could not issue/sign */
    EST_E_STORE = 10,       /* the store failed */
    EST_E_RETRY_LATER = 11, /* accepted, not ready: HTTP 202 + Retry-After */
    EST_E_NOT_FOUND = 12,   /* no such object (serial, user, label, ...) */
    EST_E_UNSUPPORTED = 13, /* valid but not implemented/offered */
    EST_E_CONFIG = 14,      /* configuration file or option */
    EST_E_INTERNAL = 15,    /* a bug: an invariant did not hold */
    EST_E_CONFLICT = 16,    /* already exists (user, serial, file) */
    EST_E_UNAVAILABLE = 17, /* a needed service (the store's database, the signer process) is
                               down for now: HTTP 503 + Retry-After */
} est_status;

#define EST_ERROR_MESSAGE_MAX 256

typedef struct est_error {
    est_status code;
    char message[EST_ERROR_MESSAGE_MAX];
} est_error;

/* Short fixed description of a code ("malformed input"). Never NULL. */
EST_API const char *est_strerror(est_status code);

/* Sets err (if non-NULL) to code and a printf-formatted reason; returns code
 * so callers can write `return est_error_set(err, EST_E_INPUT, "...")`. */
EST_API est_status est_error_set(est_error *err, est_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like est_error_set, then appends ": <OpenSSL's first queued reason>" when
 * the OpenSSL error queue holds one, and clears that queue. */
EST_API est_status est_error_set_openssl(est_error *err, est_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err's message (if err is non-NULL) with "context: ", sets its
 * code to code, and returns code. The caller passes the failure it is
 * reporting, so the status it returns never depends on whether the caller
 * asked for a message (err == NULL is a documented value everywhere). */
EST_API est_status est_error_prefix(est_error *err, est_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resets err (if non-NULL) to EST_OK with an empty message. */
EST_API void est_error_clear(est_error *err);

#ifdef __cplusplus
}
#endif
#endif
