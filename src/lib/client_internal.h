/* estkit client internals shared by src/lib/client*.c (not installed). */
#ifndef ESTKIT_CLIENT_INTERNAL_H
#define ESTKIT_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <openssl/ssl.h>
#include "estkit/channel_binding.h"
#include "estkit/client.h"
#include "estkit/media_type.h"

/* Channel binding checks around one transfer (draft-04 §3.5). */
typedef enum est_binding_mode {
    EST_BINDING_OFF = 0,
    EST_BINDING_RECORD, /* remember this connection's binding */
    EST_BINDING_CHECK,  /* refuse to send unless the binding equals the recorded one */
} est_binding_mode;

typedef struct est_http_response {
    long status;
    char content_type[EST_MEDIA_TYPE_MAX + 1];
    char retry_after[64];
    uint8_t *body;
    size_t len, cap;
    int too_large;
} est_http_response;

struct est_client {
    char *host;        /* URL host without brackets, for the name check */
    char *server;      /* "host:port" for messages */
    char *base_url;    /* "https://host:port/.well-known/est[/label]" */
    est_dialect dialect;

    X509_STORE *explicit_store;    /* Absolute TAs, or NULL */
    X509_STORE *third_party_store; /* Third-party TAs, or NULL */

    char *username, *password;
    est_http_auth http_auth;
    int srp; /* username/password are a TLS-SRP login */
    char *tls_cert_file, *tls_key_file;
    int tls_max_version;
    long timeout_seconds;
    unsigned max_wait_seconds;
    est_client_wait_fn on_wait;
    void *on_wait_arg;
    est_client_bootstrap_fn bootstrap;
    void *bootstrap_arg;
    est_client_warn_fn on_warning;
    void *on_warning_arg;
    unsigned base64_line;

    CURL *curl; /* the authenticated handle: its connection is reused */

    /* Per-transfer state, filled by the callbacks. */
    char tls_failure[EST_ERROR_MESSAGE_MAX]; /* why the verify callback refused */
    est_binding_mode binding_mode;
    uint8_t binding[EST_CHANNEL_BINDING_MAX];
    size_t binding_len;
    int binding_mismatch;
    int binding_armed; /* the next /fullcmc must go on the bound connection */

    long last_status;
    unsigned retry_after;
    uint8_t *last_request; /* the DER CSR of the last enroll POST */
    size_t last_request_len;
};

/* client_url.c */
est_status client_url_parse(const char *url, const char *label, char **host, char **server,
                            char **base_url, est_error *err);

/* client_tls.c */
est_status client_load_trust(est_client *client, const est_client_config *cfg,
                             est_error *err);
/* A store holding every certificate of certs as a trust anchor. */
est_status client_store_from_certs(STACK_OF(X509) *certs, X509_STORE **out, est_error *err);
/* The server-authorization decision (draft-04 §3.6.1) on the presented
 * leaf and the rest of the peer's chain (may be NULL). 1 = accept; 0 =
 * refuse with the reason in reason[0..cap). */
int client_check_server(est_client *client, X509 *leaf, STACK_OF(X509) *peer_chain,
                        char *reason, size_t cap);
CURLcode client_ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *arg);
int client_prereq_cb(void *arg, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port);

/* client_http.c */
void http_response_reset(est_http_response *resp);
void http_response_free(est_http_response *resp);
/* Appends body bytes; 0 (and too_large set) past EST_CLIENT_RESPONSE_MAX
 * or when out of memory. */
int http_response_append(est_http_response *resp, const void *data, size_t n);
/* Takes one header line ("Name: value\r\n" or a status line). */
void http_response_header(est_http_response *resp, const char *line, size_t n);
/* One request on curl (the client's handle, or a bootstrap handle).
 * content_type NULL = GET. Transport failures are errors; any HTTP status
 * is EST_OK with resp->status set. */
est_status client_http(est_client *client, CURL *curl, est_operation op,
                       const char *content_type, const uint8_t *body, size_t body_len,
                       est_http_response *resp, est_error *err);
/* Turns a non-2xx (or unexpected) status into an error quoting the
 * server's text; EST_OK for 200. */
est_status client_status_error(est_client *client, est_operation op,
                               const est_http_response *resp, est_error *err);
/* The first line of a text/plain (or untyped) body, printable, bounded. */
void client_server_text(const est_http_response *resp, char *out, size_t cap);
/* Checks Content-Type against the expected essence (a missing one passes:
 * the body decoder decides). */
est_status client_check_type(est_client *client, const est_http_response *resp,
                             const char *essence, est_error *err);
/* Seconds from a Retry-After value (delta-seconds or HTTP-date). */
unsigned client_retry_after_parse(const char *value);
/* The authenticated handle, created on first use. */
est_status client_handle(est_client *client, CURL **out, est_error *err);
CURL *client_curl_new(est_client *client, int with_credentials);

/* client_cacerts.c */
est_status client_decode_certs(est_client *client, const est_http_response *resp,
                               STACK_OF(X509) **certs, est_error *err);

/* client_enroll.c */
/* The enroll-like exchange shared by enroll, re-enroll and serverkeygen:
 * /csrattrs, key choice, CSR with optional channel binding, POST to op on
 * the same connection, waits on 202. *generated: a key made here (caller
 * frees; also on error). resp: the final 200 response. */
est_status client_request_cert(est_client *client, est_operation op,
                               const est_enroll_params *params, EVP_PKEY **generated,
                               est_http_response *resp, est_error *err);
/* The certificate of certs whose public key is key (any when key NULL). */
est_status client_pick_cert(est_client *client, STACK_OF(X509) *certs, EVP_PKEY *key,
                            X509 **out, est_error *err);

/* client_keygen.c: the multipart answer of /serverkeygen (status 200). */
est_status client_keygen_parse(est_client *client, const est_http_response *resp,
                               X509 **cert, EVP_PKEY **key, est_error *err);

#endif
