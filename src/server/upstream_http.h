/* estd: a small blocking HTTP/1.1 client for the upstream of an RA
 * (issuer = est). It runs on a worker thread, one connection per exchange
 * ("Connection: close"), bounded in time and size.
 *
 * Why not libcurl: estd links only OpenSSL, libevent and the store. Why not
 * OSSL_HTTP_transfer: in OpenSSL 3.0 it treats every status but 200 as an
 * error and hides the headers, and EST needs 202 + Retry-After and the
 * upstream's text/plain reason on a 4xx (draft-04 §4.2.3). */
#ifndef ESTD_UPSTREAM_HTTP_H
#define ESTD_UPSTREAM_HTTP_H

#include <openssl/ssl.h>
#include "config.h"
#include "estkit.h"

/* Response head larger than this is refused (the body has its own limit,
 * upstream_max_response_bytes). */
#define ESTD_HTTP_HEAD_MAX (16 * 1024)
#define ESTD_HTTP_REASON_MAX 200

typedef struct estd_http_response {
    int status;
    char content_type[128];
    int base64_transfer;          /* Content-Transfer-Encoding: base64 */
    unsigned retry_after;         /* delta-seconds; 0 = none or a date */
    uint8_t *body;                /* malloc'd, or NULL */
    size_t body_len;
    char reason[ESTD_HTTP_REASON_MAX]; /* printable: a text body's first line or the status text */
} estd_http_response;

void estd_http_response_release(estd_http_response *resp);

/* Parses a whole response (head and body, as read up to the close). A body
 * over max_body bytes is EST_E_TOO_LARGE; a body shorter than its
 * Content-Length, a chunked body or a malformed head EST_E_PROTOCOL. */
est_status estd_http_response_parse(const uint8_t *raw, size_t len, size_t max_body,
                                    estd_http_response *out, est_error *err);

typedef struct estd_upstream_http estd_upstream_http;

/* From upstream_url, upstream_trust, upstream_cert/key, upstream_user and
 * upstream_password_file. */
est_status estd_upstream_http_new(const estd_upstream_config *cfg, estd_upstream_http **out,
                                  est_error *err);
void estd_upstream_http_free(estd_upstream_http *up);
/* "https://host:port/path" for logs and the audit. */
const char *estd_upstream_http_get0_url(const estd_upstream_http *up);

/* One exchange: METHOD upstream_url/op. body may be NULL (GET). Errors:
 * EST_E_IO (unreachable, timeout), EST_E_TLS (handshake, upstream not
 * trusted), EST_E_PROTOCOL / EST_E_TOO_LARGE (answer unusable). Any HTTP
 * status is EST_OK with out->status set. */
est_status estd_upstream_http_exchange(const estd_upstream_http *up, const char *method,
                                       const char *op, const char *content_type,
                                       const uint8_t *body, size_t body_len,
                                       estd_http_response *out, est_error *err);

/* A status other than 200 -> the error code issuer.h maps to the device's
 * answer, with the upstream's reason; *retry_after from a 202. */
est_status estd_upstream_status_error(const estd_http_response *resp, unsigned *retry_after,
                                      est_error *err);

#endif
