/* estkit: HTTP authentication helpers (draft-04 §3.2.3; RFC 7617 Basic,
 * RFC 7616 Digest) and password storage. No I/O, no global state; the nonce
 * book is an object with its own lock so server threads can share it. */
#ifndef ESTKIT_AUTH_H
#define ESTKIT_AUTH_H

#include <stdint.h>
#include <time.h>
#include "estkit/api.h"
#include "estkit/error.h"

#define EST_AUTH_HEADER_MAX 4096
#define EST_USERNAME_MAX 128
#define EST_PASSWORD_MAX 256

/* --- Basic --- */
/* Parses "Basic <base64(user:pass)>". *user: est_free;
 * *password: est_secret_free. */
EST_API est_status est_basic_parse(const char *authorization, char **user, char **password,
                                   est_error *err);
/* Builds the header value "Basic ..." for a client; *out: est_secret_free
 * (it carries the password). */
EST_API est_status est_basic_build(const char *user, const char *password, char **out,
                                   est_error *err);

/* --- Digest --- */
typedef enum est_digest_alg {
    EST_DIGEST_MD5 = 0,    /* "MD5" (the seed's example) */
    EST_DIGEST_SHA256 = 1, /* "SHA-256" */
} est_digest_alg;

#define EST_DIGEST_HEX_MAX 65 /* 64 hex + NUL */

typedef struct est_digest_credentials {
    char *username, *realm, *nonce, *uri, *response, *algorithm, *cnonce, *opaque, *qop, *nc;
} est_digest_credentials;

/* Parses "Digest k=v, k="v", ..." into a new struct (unknown keys ignored,
 * duplicate keys rejected). */
EST_API est_status est_digest_parse(const char *authorization, est_digest_credentials **out,
                                    est_error *err);
EST_API void est_digest_credentials_free(est_digest_credentials *cred);
/* Maps the algorithm token (NULL = MD5) to an enum. */
EST_API est_status est_digest_alg_parse(const char *token, est_digest_alg *alg, est_error *err);
EST_API const char *est_digest_alg_name(est_digest_alg alg);

/* HA1 = H(user ":" realm ":" password), lowercase hex into out. */
EST_API est_status est_digest_ha1(est_digest_alg alg, const char *user, const char *realm,
                                  const char *password, char out[EST_DIGEST_HEX_MAX],
                                  est_error *err);
/* response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":" uri))
 * (qop=auth; with qop NULL: H(HA1 ":" nonce ":" HA2)). */
EST_API est_status est_digest_response(est_digest_alg alg, const char *ha1_hex, const char *nonce,
                                       const char *nc, const char *cnonce, const char *qop,
                                       const char *method, const char *uri,
                                       char out[EST_DIGEST_HEX_MAX], est_error *err);

/* Server-side nonces: HMAC-protected, carry their issue time, expire after
 * lifetime seconds; nc values must strictly increase per nonce (replay). */
typedef struct est_digest_nonces est_digest_nonces;
EST_API est_digest_nonces *est_digest_nonces_new(unsigned lifetime_seconds);
EST_API void est_digest_nonces_free(est_digest_nonces *book);
/* Replaces the book's random secret with a shared one (e.g. the store's),
 * so that every server holding it accepts the nonces of the others.
 * len: 16-32 bytes; EST_E_INPUT otherwise. Call before issuing. */
EST_API est_status est_digest_nonces_set_secret(est_digest_nonces *book, const uint8_t *secret,
                                                size_t len, est_error *err);
/* Writes a fresh nonce (NUL-terminated, <= 128 chars) into out. */
EST_API est_status est_digest_nonce_issue(est_digest_nonces *book, time_t now, char *out,
                                          size_t cap, est_error *err);
/* EST_OK; EST_E_AUTH with message "stale" for an expired but authentic
 * nonce; EST_E_AUTH for a forged nonce or a replayed/non-increasing nc. */
EST_API est_status est_digest_nonce_check(est_digest_nonces *book, const char *nonce,
                                          const char *nc, time_t now, est_error *err);

/* Verifies a full Digest Authorization against a stored HA1 (constant-time
 * compare). method/uri are the request's. */
EST_API est_status est_digest_verify(const est_digest_credentials *cred, const char *ha1_hex,
                                     const char *method, const char *request_uri, est_error *err);

#endif
