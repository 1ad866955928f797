/* estload: an EST load generator (issue #7).
 *
 * One thread, one epoll set, N non-blocking TLS connections driven by
 * OpenSSL directly: no process per request, no client library between us
 * and the wire. It speaks the RFC 7030 dialect exactly (§4.1.2 GET
 * /.well-known/est/cacerts, §4.2.1 POST .../simpleenroll with
 * Content-Type: application/pkcs10 and a base64 DER body, §4.2.2
 * .../simplereenroll), checks every answer is 200 application/pkcs7-mime
 * holding a certs-only response, and so can be pointed at any EST server.
 *
 * Files: main.c (commands and options), engine.c (the connection state
 * machine), http.c (request text, response framing), pki.c (keys, CSRs,
 * client identities), stats.c (latency percentiles, /proc sampling). */
#ifndef ESTLOAD_H
#define ESTLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Most connections one run drives (epoll set, fd budget). */
#define ESTLOAD_MAX_CONNECTIONS 20000
/* A response head larger than this is a protocol error (docs/design.md §2: real
 * clients need headers in the first 1 KiB; 16 KiB is generous). */
#define ESTLOAD_MAX_HEAD_BYTES (16 * 1024)
/* Largest response body accepted (a certs-only with a long chain). */
#define ESTLOAD_MAX_BODY_BYTES (1024 * 1024)
/* Largest request we build: headers plus a base64 CSR (RSA-4096 ~ 2.3 KiB). */
#define ESTLOAD_MAX_REQUEST_BYTES (8 * 1024)

typedef enum load_op {
    LOAD_OP_CACERTS = 0,
    LOAD_OP_ENROLL,
    LOAD_OP_REENROLL,
    LOAD_OP_IDLE, /* handshake, then hold the connection: memory per connection */
} load_op;

typedef enum load_auth {
    LOAD_AUTH_NONE = 0,
    LOAD_AUTH_CERT,  /* TLS client certificate */
    LOAD_AUTH_BASIC, /* HTTP Basic, sent up front */
} load_auth;

/* A client certificate with its key; for re-enrollment also the CSR that
 * renews it (same subject, same key: RFC 7030 §4.2.2). */
typedef struct load_identity {
    X509 *cert;
    EVP_PKEY *key;
    char *reenroll_csr_b64;
} load_identity;

/* Pre-generated CSRs, base64 of DER, one per enrollment. With keys (the
 * `issue` command) key[i] belongs to csr[i]; else keys is NULL. */
typedef struct load_csrs {
    char **csr_b64;
    EVP_PKEY **keys;
    size_t count;
} load_csrs;

typedef struct load_config {
    char host[256];
    char port[16];
    const char *trust_file;
    const char *label;  /* CA label path segment, or NULL */
    const char *group;  /* TLS key-exchange group list, e.g. "P-256" */
    const char *tls_version; /* NULL (negotiate), "1.2" or "1.3" */
    load_op op;
    load_auth auth;
    int fresh;          /* new TCP+TLS connection per operation, no resumption */
    int resume;         /* with fresh: resume each slot's last TLS session (ticket) */
    unsigned connections;
    double duration;    /* seconds of measurement, when count == 0 */
    unsigned long count; /* operations in total, or 0 for duration */
    char *basic_header; /* "Basic ..." when auth is basic */
    pid_t server_pid;   /* sample its CPU and RSS, or 0 */
    load_identity *identities; /* one per connection (cert auth), cycled */
    size_t identity_count;
    load_csrs csrs;
    const char *save_dir; /* `issue`: write client-N.crt/.key here */
} load_config;

/* What a run measured. */
typedef struct load_result {
    unsigned long ok;       /* 200 + certs-only within the window */
    unsigned long errors;   /* failed operations (any cause) */
    unsigned long http_errors; /* of which: a non-200 status */
    unsigned long unfinished; /* in flight when the window closed */
    unsigned long connects; /* TCP+TLS handshakes done */
    unsigned long resumed;  /* of which: abbreviated (session resumed) */
    double seconds;         /* measurement window */
    double p50_ms, p90_ms, p99_ms, max_ms, mean_ms;
    double server_cpu_pct;  /* of one core; 200 = two cores busy */
    long server_rss_kib;    /* highest VmRSS sampled */
    long server_rss_start_kib;
    unsigned long csrs_used; /* more than the CSRs given: some were sent twice */
    char first_error[256];
} load_result;

/* engine.c */
int load_run(const load_config *cfg, load_result *res);

/* http.c */
typedef struct http_response {
    int status;
    long content_length;
    size_t head_len;    /* bytes up to and including the blank line */
    int connection_close;
    char content_type[128];
} http_response;

/* Builds the request for one operation into buf (cap bytes). Returns the
 * length, or 0 when it does not fit. */
size_t http_build_request(const load_config *cfg, const char *csr_b64, char *buf, size_t cap);
/* Parses a response head in buf[0..len). Returns 1 when complete and valid,
 * 0 when more bytes are needed, -1 on a malformed head (why filled). */
int http_parse_head(const char *buf, size_t len, http_response *out, char *why, size_t why_len);

/* pki.c */
EVP_PKEY *pki_keygen(const char *key_type);
/* base64(DER) of a CSR for subject CN=cn (or the given name), signed by key. */
char *pki_csr_b64(EVP_PKEY *key, const char *cn, const X509_NAME *name);
int pki_csrs_generate(load_csrs *csrs, const char *key_type, size_t count, size_t key_pool,
                      const char *prefix, int keep_keys);
int pki_csrs_write(const load_csrs *csrs, const char *path);
int pki_csrs_read(load_csrs *csrs, const char *path);
void pki_csrs_free(load_csrs *csrs);
int pki_identities_load(const char *dir, int with_reenroll, load_identity **out, size_t *count);
void pki_identities_free(load_identity *ids, size_t count);
/* Checks a response body is a base64 certs-only; *cert (optional) gets
 * the first certificate. */
int pki_check_certs_only(const char *body, size_t len, X509 **cert, char *why, size_t why_len);
int pki_save_identity(const char *dir, size_t index, X509 *cert, EVP_PKEY *key);

/* stats.c */
typedef struct latency_log {
    uint32_t *us;
    size_t count, cap;
} latency_log;

int latency_add(latency_log *log, uint64_t ns);
void latency_summarise(latency_log *log, load_result *res);
void latency_free(latency_log *log);
uint64_t now_ns(void);
/* utime+stime of pid in clock ticks and its VmRSS; 0 on success. */
int proc_sample(pid_t pid, unsigned long long *ticks, long *rss_kib);

#endif
