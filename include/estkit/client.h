/* estkit: the EST client (draft-04 §4, RFC 7030 §4) on libcurl.
 *
 * One est_client is one server, one trust configuration, one set of
 * credentials and one HTTPS connection that later calls reuse. Handles share
 * nothing: use one per thread. Every call returns an est_status and fills
 * the optional est_error with a one-line reason; network, TLS and HTTP
 * reasons start with "host:port: ". See docs/client-api.md for an example.
 *
 * Server authorization (draft-04 §3.6.1) keeps two trust-anchor databases
 * apart: the explicit (Absolute) one accepts a server whose certificate
 * matches the URL's host (RFC 6125) or carries id-kp-cmcRA; a third-party
 * one (a bundle or the system store) needs the host match. The server is
 * authenticated during the TLS handshake, before any HTTP byte (and so any
 * credential) is sent. With no trust configured only est_client_cacerts
 * runs, as the bootstrap of draft-04 §4.1.1, and only when a bootstrap
 * callback accepts the certificates. */
#ifndef ESTKIT_CLIENT_H
#define ESTKIT_CLIENT_H

#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "estkit/api.h"
#include "estkit/key.h"
#include "estkit/csrattrs.h"
#include "estkit/error.h"
#include "estkit/types.h"

/* Largest response body read (a multipart answer holds a key and a
 * certs-only response, each up to EST_BODY_MAX when encoded). */
#define EST_CLIENT_RESPONSE_MAX ((size_t)2 << 20)
/* How much of a server's error text a message quotes. */
#define EST_CLIENT_SERVER_TEXT_MAX 160
#define EST_CLIENT_URL_MAX 1024
#define EST_CLIENT_TIMEOUT_DEFAULT 60      /* seconds per request */
#define EST_CLIENT_RETRY_AFTER_DEFAULT 60  /* a 202 without Retry-After */
#define EST_CLIENT_RETRY_AFTER_MIN 1       /* never spin on Retry-After: 0 */

typedef struct est_client est_client;

/* Bootstrap decision (draft-04 §4.1.1): the certificates came over an
 * unauthenticated connection. anchor is the newest self-signed one (the
 * trust anchor to be); certs is every certificate of the response, anchor
 * first, each validated against anchor. Return 1 to trust anchor, 0 not. */
typedef int (*est_client_bootstrap_fn)(void *arg, X509 *anchor, STACK_OF(X509) *certs);

/* Called before each wait after HTTP 202 (draft-04 §4.2.3: "SHOULD log"):
 * seconds about to be slept, seconds waited so far, the server's text. */
typedef void (*est_client_wait_fn)(void *arg, unsigned seconds, unsigned waited,
                                   const char *server_text);

/* A problem the client worked around without failing (one line, no
 * newline), e.g. a /csrattrs answer it could not use before an enroll. */
typedef void (*est_client_warn_fn)(void *arg, const char *message);

typedef enum est_http_auth {
    EST_HTTP_AUTH_ANY = 0, /* answer the server's 401 with Digest or Basic */
    EST_HTTP_AUTH_BASIC,   /* send Basic with every request, no 401 needed */
    EST_HTTP_AUTH_DIGEST,  /* Digest only */
} est_http_auth;

typedef struct est_client_config {
    /* "https://host[:port]" or "https://host[:port]/.well-known/est[/label]". */
    const char *server_url;
    const char *label;   /* CA label; NULL: the URL's, if any */
    est_dialect dialect; /* path spellings: RFC 7030 (default) or draft-04 */

    /* Explicit (Absolute) trust anchors: a PEM file; self-signed
     * certificates in it are anchors, others help build paths. */
    const char *explicit_trust_file;
    /* Third-party trust anchors: a PEM bundle, and/or the system store. */
    const char *third_party_trust_file;
    int third_party_system;

    /* HTTP authentication; the password is copied and cleansed on free. */
    const char *username;
    const char *password;
    est_http_auth http_auth;
    /* srp != 0: username/password are a TLS-SRP login (draft-04 §3.3.3,
     * RFC 5054; TLS 1.2), not HTTP credentials. The SRP handshake
     * authenticates the server too, so no trust anchor is needed: what is
     * fetched then is as trustworthy as the password (see docs). */
    int srp;
    /* TLS client certificate and key (PEM files). */
    const char *tls_cert_file;
    const char *tls_key_file;

    /* Highest TLS version: 0 = the best both sides have, 12 = TLS 1.2
     * (its channel binding is tls-unique), 13 = TLS 1.3 (tls-exporter). */
    int tls_max_version;
    long timeout_seconds;      /* per request; 0: EST_CLIENT_TIMEOUT_DEFAULT */
    unsigned max_wait_seconds; /* total wait on 202; 0: return EST_E_RETRY_LATER */
    est_client_wait_fn on_wait;
    void *on_wait_arg;
    est_client_bootstrap_fn bootstrap;
    void *bootstrap_arg;
    est_client_warn_fn on_warning; /* NULL: warnings are dropped */
    void *on_warning_arg;
    /* RFC 7030 request bodies: base64 lines of this many characters ended
     * by LF, 0 = one unbroken line (see est_body_encode_lines).
     * est_client_config_init sets EST_BODY_LINE_DEFAULT. */
    unsigned base64_line_length;
} est_client_config;

/* Zeroes cfg (RFC 7030 dialect, HTTP auth "any", default timeout, base64
 * lines of EST_BODY_LINE_DEFAULT). */
EST_API void est_client_config_init(est_client_config *cfg);

/* Checks the URL and label and loads the trust files. No network I/O. */
EST_API est_status est_client_new(const est_client_config *cfg, est_client **out, est_error *err);
EST_API void est_client_free(est_client *client);

/* "host:port" as messages name the server. */
EST_API const char *est_client_get0_server(const est_client *client);
/* The base URL ("https://host:port/.well-known/est[/label]"). */
EST_API const char *est_client_get0_base_url(const est_client *client);
/* 1 when a trust anchor is configured or was bootstrapped. */
EST_API int est_client_is_trusted(const est_client *client);
/* HTTP status of the last response (0 when none). */
EST_API long est_client_get_http_status(const est_client *client);
/* After EST_E_RETRY_LATER: the server's Retry-After in seconds. */
EST_API unsigned est_client_get_retry_after(const est_client *client);
/* After EST_E_RETRY_LATER: the request to repeat (est_client_enroll_csr). */
EST_API est_status est_client_get0_last_request(const est_client *client, const uint8_t **der,
                                                size_t *der_len);

/* GET /cacerts (draft-04 §4.1). On success *certs holds the trust anchor
 * (newest self-signed certificate) first, then every other certificate of
 * the response, each validated against it (§4.1.3). Without trust, runs the
 * bootstrap: on acceptance the handle trusts these certificates from now
 * on, on a new connection (save them for explicit_trust_file); on refusal
 * EST_E_AUTH. Caller frees with sk_X509_pop_free(certs, X509_free). */
EST_API est_status est_client_cacerts(est_client *client, STACK_OF(X509) * *certs, est_error *err);

/* GET /csrattrs (draft-04 §4.5). HTTP 204 and 404 give an empty list. */
EST_API est_status est_client_csrattrs(est_client *client, est_csrattrs **out, est_error *err);

typedef struct est_enroll_params {
    EVP_PKEY *key;          /* the key to certify; NULL: generate one */
    int key_type_set;       /* 1: generate key_type; 0: what /csrattrs asks, else ec-p256 */
    est_key_type key_type;
    const X509_NAME *subject;   /* enroll/serverkeygen; re-enroll copies the cert's */
    const GENERAL_NAMES *san;   /* enroll/serverkeygen; re-enroll copies the cert's */
    X509 *cert;                 /* re-enroll: the certificate being renewed */
    const char *mac_address;    /* sent when /csrattrs asks for macAddress */
    int pop_link;               /* 1: always link; 0: when /csrattrs asks */
    int skip_csrattrs;          /* 1: do not ask /csrattrs first */
} est_enroll_params;

/* /simpleenroll and /simplereenroll (draft-04 §4.2): asks /csrattrs (unless
 * skipped), generates the key if needed, builds and signs the CSR (with the
 * channel binding of this connection in challengePassword when linking,
 * §3.5), posts it on the same connection, and waits on 202 up to
 * max_wait_seconds. *cert: the issued certificate; *new_key: the generated
 * key (NULL when params->key was given). EST_E_RETRY_LATER: still pending;
 * the generated key is then returned too, to repeat the request later. */
EST_API est_status est_client_enroll(est_client *client, const est_enroll_params *params,
                                     X509 **cert, EVP_PKEY **new_key, est_error *err);
EST_API est_status est_client_reenroll(est_client *client, const est_enroll_params *params,
                                       X509 **cert, EVP_PKEY **new_key, est_error *err);
/* Posts a ready DER CSR as-is to op (EST_OP_SIMPLEENROLL or _SIMPLEREENROLL):
 * the repeat of a pending request. */
EST_API est_status est_client_enroll_csr(est_client *client, est_operation op,
                                         const uint8_t *csr_der, size_t csr_len, X509 **cert,
                                         est_error *err);

/* /serverkeygen (draft-04 §4.4): the CSR is signed with params->key or a
 * throwaway key; the server's multipart answer gives *key (PKCS#8) and
 * *cert, whose public keys must match. */
EST_API est_status est_client_serverkeygen(est_client *client, const est_enroll_params *params,
                                           X509 **cert, EVP_PKEY **key, est_error *err);

/* /fullcmc (draft-04 §4.3): posts a Full PKI Request (DER) and returns the
 * response DER (a Full or Simple PKI Response) for the caller to parse;
 * *resp_der: est_free. */
EST_API est_status est_client_fullcmc(est_client *client, const uint8_t *req_der, size_t req_len,
                                      uint8_t **resp_der, size_t *resp_len, est_error *err);

/* The channel binding (base64, draft-04 §3.5) of the connection the last
 * GET /csrattrs ran on, for a CSR the caller builds itself (one inside a
 * Full PKI Request). The next est_client_fullcmc is then sent on that same
 * connection only (EST_E_TLS if it was lost). EST_E_TLS when there is none. */
EST_API est_status est_client_get_channel_binding(est_client *client, char *out, size_t cap,
                                                  est_error *err);

/* --- trust helpers --- */

/* draft-04 §4.1.3: picks the newest self-signed certificate (latest
 * notAfter) of certs as the trust anchor and validates every other against
 * it. *ordered: anchor first, then the rest. EST_E_TLS names the first
 * certificate that does not validate. */
EST_API est_status est_cacerts_select_anchor(STACK_OF(X509) * certs, STACK_OF(X509) * *ordered,
                                             est_error *err);

/* "sha256:HEX" (colons allowed, any case) matches cert's SHA-256:
 * EST_OK, EST_E_AUTH on a mismatch, EST_E_INPUT on a malformed text.
 * cert NULL: checks the text only. */
EST_API est_status est_fingerprint_check(X509 *cert, const char *fingerprint, est_error *err);
/* Colon-separated upper-case hex of the digest of cert's DER. */
#define EST_FINGERPRINT_TEXT_MAX (3 * EVP_MAX_MD_SIZE)
EST_API est_status est_fingerprint_text(X509 *cert, const EVP_MD *md, char *out, size_t cap,
                                        est_error *err);

#endif
