/* estd: the HTTPS front end. Event-loop threads (one event base and one
 * evhttp each, each with its own SO_REUSEPORT listening socket) read
 * requests; handlers run on the worker pool; the reply is sent back on the
 * loop that owns the request. */
#ifndef ESTD_SERVER_H
#define ESTD_SERVER_H

#include <stdatomic.h>
#include <time.h>
#include <openssl/ssl.h>
#include "audit_limiter.h"
#include "authn.h"
#include "conn.h"
#include "instance.h"
#include "password_gate.h"
#include "pool.h"
#include "tls.h"

#define ESTD_BINDING_MAX 64

/* What a handler sees: copied out of the evhttp request on the loop thread,
 * so the worker never touches libevent objects. */
typedef struct estd_request {
    est_route route;
    estd_ca *ca;
    char method[8];
    char *uri;                  /* request-target as sent */
    char *authorization;        /* or NULL */
    char *content_type;         /* or NULL */
    uint8_t *body;
    size_t body_len;
    X509 *peer_cert;            /* owned reference, or NULL */
    STACK_OF(X509) *peer_chain; /* owned, or NULL */
    uint8_t binding[ESTD_BINDING_MAX];
    size_t binding_len;         /* 0 when no channel binding could be read */
    char *srp_user;             /* TLS-SRP user name of the connection, or NULL */
    unsigned base64_line;       /* RFC 7030 body lines for this client (estd_base64_line) */
    /* Basic password check through the gate (password_check.c). */
    estd_password_result password;
    int password_resumed;       /* 1: the gate resumed this request with password_verdict */
    estd_gate_verdict password_verdict;
    uint64_t password_parked_ms; /* when it was parked (monotonic), for the wait metric */
    estd_guess_pre guess_pre;   /* guessing guard asked before the gate (password_check.c) */
    char peer[64];              /* "ip:port" for logs */
    struct timespec started;    /* CLOCK_MONOTONIC when read, for latency */
    const char *tls_version;    /* SSL_get_version (static), or NULL */
} estd_request;

#define ESTD_WWW_AUTH_MAX 2

typedef struct estd_response {
    int status;
    char content_type[96];
    int base64_transfer;        /* add Content-Transfer-Encoding: base64 */
    char *body;                 /* owned, or NULL */
    size_t body_len;
    const char *shared_body;    /* borrowed prepared body (used when body is NULL) */
    size_t shared_len;
    char www_authenticate[ESTD_WWW_AUTH_MAX][384];
    int www_count;
    unsigned retry_after;       /* 0 = none */
    char who[128];              /* authenticated name, for the access log */
    int secret_body;            /* body holds a private key: cleansed on release */
} estd_response;

typedef struct estd_server {
    /* Replaced by a reload (reload.c); read it once per use. */
    estd_instance *_Atomic inst;
    SSL_CTX *ssl_ctx;
    est_digest_nonces *nonces;
    estd_credential_cache *credentials;
    estd_chain_cache *chains;
    estd_guess_guard *guard;    /* draft-04 §3.3.3 guessing countermeasures */
    estd_ticket_keys *tickets;  /* session ticket key ring, or NULL (no resumption) */
    char *dummy_hash;           /* a password hash nobody's password matches */
    int srp_index;              /* SSL ex_data index of a TLS-SRP login; -1 = SRP off */
    unsigned char srp_fake_key[32]; /* fake salts for SRP names without a verifier */
    estd_pool *pool;
    estd_audit_limiter *audit_limiter; /* auth-fail rows per address (may be NULL) */
    estd_password_gate *passwords; /* NULL: Basic checks hash inline (tests) */
    estd_conns *conns;          /* connection limits and deadlines (conn.c) */
    atomic_int in_flight;
    atomic_int stopping;
    atomic_int abandon;         /* stopping, grace over: queued jobs get 503 */
} estd_server;

/* --- handlers.c: run on a worker --- */
/* The RFC 7030 base64 line length to answer with: the CA's
 * base64_line_length, or 0 (one line) for a client that sent no User-Agent
 * while base64_unbroken_without_user_agent is on (strongSwan's pki decodes
 * with a base64 reader that does not skip line breaks; libest and curl send
 * a User-Agent). */
unsigned estd_base64_line(const estd_server *srv, const estd_ca *ca, int has_user_agent);
void estd_handle(estd_server *srv, const estd_request *req, estd_response *resp);
/* Prepared bodies, answered on the loop without a worker (/cacerts). 1 when
 * handled. */
int estd_handle_fast(estd_server *srv, const estd_request *req, estd_response *resp);

/* The client's address without the port, for the guessing guard. */
void estd_peer_address(const char *peer, char *out, size_t cap);

/* --- password_check.c --- */
/* Checks a Basic password through srv->passwords before the handler runs.
 * 1: go on (req->password holds any verdict); 0: parked, resume(arg, v)
 * follows, which must set password_resumed/password_verdict and call this
 * again; -1: resp holds the 503. A request the gate resumed with its turn
 * always hashes (others wait on it), even if its client has left. */
int estd_password_precheck(estd_server *srv, estd_request *req, estd_response *resp,
                           estd_gate_resume_fn resume, void *arg);

/* --- enroll.c --- */
void estd_handle_enroll(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                        estd_response *resp);
/* Steps of enrollment the other CSR-carrying operations share. Each
 * returns 1 to go on, or 0 with resp holding the refusal. */
/* The body is not empty (400 naming what) and its Content-Type, when
 * given, is media_type (415 naming what arrived). */
int estd_body_check(const estd_request *req, const char *media_type, const char *what,
                    estd_response *resp);
int estd_csr_from_body(const estd_request *req, int check, X509_REQ **csr, estd_response *resp);
int estd_pop_link_check(const estd_request *req, X509_REQ *csr, estd_response *resp);
int estd_csrattrs_check(const estd_request *req, X509_REQ *csr, estd_response *resp);
/* challenge_password = one-time-code: spends the CSR's code (403 when
 * missing or not valid); *otp_id = the code spent, 0 when none. 1 = go on. */
int estd_otp_check(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                   X509_REQ *csr, int64_t *otp_id, estd_response *resp);
/* Records what a spent code (otp_id != 0) bought: cert's serial, or none. */
void estd_otp_settle(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                     int64_t otp_id, X509 *cert, const char *outcome);
/* The device's answer when estd_issue failed (issuer.h's table); 503 and
 * 202 carry Retry-After (the upstream's, else retry_after_seconds). */
void estd_issue_refusal(const estd_request *req, const est_error *err, estd_response *resp);
/* Manual approval (202 + Retry-After); 1 when resp is final. */
int estd_approval_gate(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                       X509_REQ *csr, const char *operation, estd_response *resp);

/* --- serverkeygen.c (draft-04 §4.4, RFC 7030 §4.4) --- */
/* 1 when this CA offers server key generation, else resp holds the 501. */
int estd_serverkeygen_offered(const estd_request *req, estd_response *resp);
void estd_handle_serverkeygen(estd_server *srv, const estd_request *req,
                              const estd_auth_result *auth, estd_response *resp);

/* --- fullcmc.c (draft-04 §4.3, RFC 7030 §4.3) --- */
int estd_fullcmc_offered(const estd_request *req, estd_response *resp);
void estd_handle_fullcmc(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                         estd_response *resp);

/* --- fullcmc_forward.c: /fullcmc through an RA (issuer = est) --- */
void estd_fullcmc_forward(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                          estd_response *resp);

/* --- response.c --- */
/* A text/plain error with a one-line reason (printf-style). */
void estd_response_error(estd_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Retry-After of a 503 for an unreachable store or signer process: a
 * PostgreSQL restart or failover, a signer restart, take seconds. */
#define ESTD_STORE_RETRY_AFTER 5
/* A failure of the CA or the store: 503 + Retry-After when the store's
 * database or the signer process is unreachable (EST_E_UNAVAILABLE: the
 * client should simply come back), else status with err's message. */
void estd_response_failure(estd_response *resp, int status, const est_error *err);
/* Sets a body (takes ownership of body) with a content type. */
void estd_response_body(estd_response *resp, int status, const char *content_type,
                        int base64_transfer, char *body, size_t len);
void estd_response_release(estd_response *resp);
/* Audits a refusal ("reject") with the one-line reason resp carries. */
void estd_audit_refusal(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                        const estd_response *resp);
/* An authentication failure for the audit log: written, or counted into
 * its address's window (audit_limiter.h). */
void estd_audit_auth_failure(estd_server *srv, const estd_request *req,
                             const estd_auth_result *auth, const char *event, const char *reason);
/* One row for a closed window's counted failures (count column = them). */
void estd_audit_window_write(estd_server *srv, const estd_audit_window *window);
/* Writes the windows closed by now (INT64_MAX: all, at shutdown). */
void estd_audit_windows_flush(estd_server *srv, int64_t now);
/* Adds the 401 challenges for the schemes the policy accepts. */
void estd_response_challenge(estd_server *srv, estd_response *resp, unsigned schemes, int stale);

/* --- listener.c --- */
typedef struct estd_loops estd_loops;
est_status estd_loops_start(estd_server *srv, unsigned threads, estd_loops **out, est_error *err);
/* Stops accepting, waits for in-flight requests (up to grace seconds),
 * then stops the loops and joins them, then the worker pool (srv->pool is
 * freed and set to NULL); every request still held is answered or freed. */
void estd_loops_stop(estd_loops *loops, unsigned grace_seconds);

#endif
