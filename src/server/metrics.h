/* Counters, gauges and histograms of a running estd, rendered in the
 * Prometheus text exposition format 0.0.4 (metrics.c). Each hook is one
 * call from the code that knows the event; every hook accepts a NULL
 * metrics (admin commands, unit tests) and does nothing then. Thread-safe. */
#ifndef ESTD_METRICS_H
#define ESTD_METRICS_H

#include <stddef.h>
#include <openssl/ssl.h>

/* Distinct (operation, label, status) request series kept; requests beyond
 * are counted under status="other" so a flood of odd statuses cannot grow
 * memory. */
#define ESTD_METRICS_REQUEST_SERIES_MAX 1024
/* Distinct CA label values; beyond: label="other". */
#define ESTD_METRICS_LABELS_MAX 64

typedef struct estd_metrics estd_metrics;

estd_metrics *estd_metrics_new(void);
void estd_metrics_free(estd_metrics *m);

/* One answered EST request. operation: est_operation_path's name, or "-";
 * label: the CA label ("" default), or "-" for no CA. */
void estd_metrics_request(estd_metrics *m, const char *operation, const char *label, int status,
                          double seconds);
/* A certificate committed to the store by operation ("enroll", "renew",
 * "rekey", "serverkeygen", "fullcmc"); commit_seconds: the store write. */
void estd_metrics_issued(estd_metrics *m, const char *operation, double commit_seconds);
void estd_metrics_revoked(estd_metrics *m);
/* Credentials presented and refused; scheme "basic", "digest", "cert", "none". */
void estd_metrics_auth_failure(estd_metrics *m, const char *scheme);
/* A Basic request answered 503 because every password-check slot was busy. */
void estd_metrics_password_check_refused(estd_metrics *m);
void estd_metrics_reload(estd_metrics *m, int ok);
/* For the password-check queue: how long a Basic request waited for a
 * check slot. */
void estd_metrics_password_wait(estd_metrics *m, double seconds);
/* For a separate signing process: one request to it and its answer;
 * ok 0 = it failed or did not answer. */
void estd_metrics_signer(estd_metrics *m, double seconds, int ok);
/* Counts completed handshakes by protocol version (an SSL info callback
 * on ctx; install before any connection). */
void estd_metrics_watch_tls(estd_metrics *m, SSL_CTX *ctx);

/* Gauges read at scrape time from their owners. */
typedef struct estd_metrics_gauges {
    long connections_open;
    long requests_in_flight;
    long password_checks_in_progress;
} estd_metrics_gauges;

/* The exposition (malloc'd, *len bytes, NUL-terminated). NULL when out of
 * memory. */
char *estd_metrics_render(estd_metrics *m, const estd_metrics_gauges *gauges, size_t *len);

#endif
