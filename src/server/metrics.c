/* estd's metrics (metrics.h) in the Prometheus text exposition format
 * 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats): "# HELP",
 * "# TYPE", then one "name{labels} value" line per series; histograms as
 * cumulative _bucket{le=...} series ending in le="+Inf", plus _sum and
 * _count. Checked with a real parser (python3-prometheus-client, promtool)
 * in e2e/server_metrics.
 *
 * One mutex guards everything: an update is a few additions, next to a
 * TLS handshake and a signature per request it does not show. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "metrics.h"

/* Request latency buckets, seconds: from a /cacerts answered from memory
 * to an RSA-4096 server key generation. */
static const double latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10};
#define LATENCY_BUCKETS (sizeof latency_buckets / sizeof latency_buckets[0])
/* Store commits: one fsync, shared by the writes waiting together. */
static const double commit_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,   0.25,   0.5,   1};
#define COMMIT_BUCKETS (sizeof commit_buckets / sizeof commit_buckets[0])

/* Operations: the six EST ones, and "-" for a request that named none. */
static const char *const operations[] = {"cacerts", "simpleenroll", "simplereenroll", "fullcmc",
                                         "serverkeygen", "csrattrs", "-"};
#define OPERATIONS (sizeof operations / sizeof operations[0])
static const char *const issue_operations[] = {"enroll", "renew", "rekey", "serverkeygen",
                                               "fullcmc", "other"};
#define ISSUE_OPERATIONS (sizeof issue_operations / sizeof issue_operations[0])
static const char *const schemes[] = {"basic", "digest", "cert", "none"};
#define SCHEMES (sizeof schemes / sizeof schemes[0])
static const char *const tls_versions[] = {"TLSv1.2", "TLSv1.3", "other"};
#define TLS_VERSIONS (sizeof tls_versions / sizeof tls_versions[0])

#define HISTOGRAM_BUCKETS_MAX 16
_Static_assert(LATENCY_BUCKETS < HISTOGRAM_BUCKETS_MAX && COMMIT_BUCKETS < HISTOGRAM_BUCKETS_MAX,
               "one more slot is needed for +Inf");

typedef struct histogram {
    unsigned long long buckets[HISTOGRAM_BUCKETS_MAX]; /* per bucket; cumulated when rendered */
    unsigned long long count;
    double sum;
} histogram;

/* The last series slot: requests beyond ESTD_METRICS_REQUEST_SERIES_MAX - 1
 * distinct series, as operation="-", label="other", status="other". */
#define OVERFLOW_SERIES (ESTD_METRICS_REQUEST_SERIES_MAX - 1)

typedef struct request_series {
    unsigned char op, label;
    int status;                     /* 0 = "other" */
    unsigned long long count;
} request_series;

struct estd_metrics {
    pthread_mutex_t lock;
    char labels[ESTD_METRICS_LABELS_MAX][68]; /* index 0: "other" */
    size_t label_count;
    request_series requests[ESTD_METRICS_REQUEST_SERIES_MAX];
    size_t request_count;
    histogram latency[OPERATIONS];
    histogram commit, password_wait, signer;
    unsigned long long issued[ISSUE_OPERATIONS];
    unsigned long long revoked, auth_failures[SCHEMES], password_refused;
    unsigned long long tls_handshakes[TLS_VERSIONS], reloads_ok, reloads_failed, signer_failures;
};

estd_metrics *estd_metrics_new(void)
{
    estd_metrics *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    snprintf(m->labels[0], sizeof m->labels[0], "other");
    m->label_count = 1;
    return m;
}

void estd_metrics_free(estd_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static size_t index_of(const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i + 1 < count; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return count - 1; /* the last entry: "-" / "other" */
}

static void observe(histogram *h, const double *bounds, size_t n, double value)
{
    size_t i = 0;

    while (i < n && value > bounds[i])
        i++;
    h->buckets[i]++; /* i == n: only +Inf */
    h->count++;
    h->sum += value;
}

/* Caller holds the lock. */
static unsigned char label_index(estd_metrics *m, const char *label)
{
    for (size_t i = 1; i < m->label_count; i++)
        if (strcmp(m->labels[i], label) == 0)
            return (unsigned char)i;
    if (m->label_count == ESTD_METRICS_LABELS_MAX || strlen(label) >= sizeof m->labels[0])
        return 0;
    snprintf(m->labels[m->label_count], sizeof m->labels[0], "%s", label);
    return (unsigned char)m->label_count++;
}

void estd_metrics_request(estd_metrics *m, const char *operation, const char *label, int status,
                          double seconds)
{
    size_t op = index_of(operations, OPERATIONS, operation), i;
    unsigned char l;

    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    l = label_index(m, label);
    observe(&m->latency[op], latency_buckets, LATENCY_BUCKETS, seconds);
    for (i = 0; i < m->request_count; i++) {
        request_series *s = &m->requests[i];
        if (s->op == op && s->label == l && s->status == status)
            break;
    }
    if (i == m->request_count && i < OVERFLOW_SERIES) {
        m->requests[m->request_count++] = (request_series){(unsigned char)op, l, status, 0};
    } else if (i == m->request_count) {
        /* Full: the last slot counts every other request as one series. */
        i = OVERFLOW_SERIES;
        if (m->request_count == OVERFLOW_SERIES)
            m->requests[m->request_count++] =
                (request_series){(unsigned char)(OPERATIONS - 1), 0, 0, 0};
    }
    m->requests[i].count++;
    pthread_mutex_unlock(&m->lock);
}

void estd_metrics_issued(estd_metrics *m, const char *operation, double commit_seconds)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->issued[index_of(issue_operations, ISSUE_OPERATIONS, operation)]++;
    observe(&m->commit, commit_buckets, COMMIT_BUCKETS, commit_seconds);
    pthread_mutex_unlock(&m->lock);
}

/* One counter increment under the lock. */
static void count(estd_metrics *m, unsigned long long *counter)
{
    pthread_mutex_lock(&m->lock);
    (*counter)++;
    pthread_mutex_unlock(&m->lock);
}

void estd_metrics_revoked(estd_metrics *m)
{
    if (m != NULL)
        count(m, &m->revoked);
}

void estd_metrics_auth_failure(estd_metrics *m, const char *scheme)
{
    if (m != NULL)
        count(m, &m->auth_failures[index_of(schemes, SCHEMES, scheme)]);
}

void estd_metrics_password_check_refused(estd_metrics *m)
{
    if (m != NULL)
        count(m, &m->password_refused);
}

void estd_metrics_reload(estd_metrics *m, int ok)
{
    if (m != NULL)
        count(m, ok ? &m->reloads_ok : &m->reloads_failed);
}

void estd_metrics_password_wait(estd_metrics *m, double seconds)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    observe(&m->password_wait, latency_buckets, LATENCY_BUCKETS, seconds);
    pthread_mutex_unlock(&m->lock);
}

void estd_metrics_signer(estd_metrics *m, double seconds, int ok)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    observe(&m->signer, commit_buckets, COMMIT_BUCKETS, seconds);
    if (!ok)
        m->signer_failures++;
    pthread_mutex_unlock(&m->lock);
}

static void on_tls_info(const SSL *ssl, int where, int ret)
{
    estd_metrics *m = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    (void)ret;

    if (m != NULL && (where & SSL_CB_HANDSHAKE_DONE))
        count(m, &m->tls_handshakes[index_of(tls_versions, TLS_VERSIONS, SSL_get_version(ssl))]);
}

void estd_metrics_watch_tls(estd_metrics *m, SSL_CTX *ctx)
{
    if (m == NULL)
        return;
    SSL_CTX_set_app_data(ctx, m);
    SSL_CTX_set_info_callback(ctx, on_tls_info);
}

/* --- rendering ---------------------------------------------------------- */

typedef struct text {
    char *data;
    size_t len, cap;
    int failed;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        char *bigger = realloc(t->data, t->cap * 2 + (size_t)n);
        if (bigger == NULL) {
            t->failed = 1;
            return;
        }
        t->data = bigger;
        t->cap = t->cap * 2 + (size_t)n;
    }
}

static void family(text *t, const char *name, const char *type, const char *help)
{
    add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values: the format escapes backslash, double quote and newline.
 * CA labels are [A-Za-z0-9._-] (est_label_check) but escaped anyway. */
static void add_quoted(text *t, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            add(t, "\\%c", *p);
        else if (*p == '\n')
            add(t, "\\n");
        else
            add(t, "%c", *p);
    }
}

static void add_histogram(text *t, const char *name, const char *labels, const histogram *h,
                          const double *bounds, size_t n)
{
    unsigned long long cumulative = 0;

    for (size_t i = 0; i < n; i++) {
        cumulative += h->buckets[i];
        add(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, labels[0] ? "," : "", bounds[i],
            cumulative);
    }
    add(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, labels[0] ? "," : "", h->count);
    if (labels[0] != '\0')
        add(t, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name, labels, h->sum, name, labels,
            h->count);
    else
        add(t, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, h->count);
}

static void render_requests(text *t, const estd_metrics *m)
{
    char labels[64];

    family(t, "estd_requests_total", "counter", "EST requests answered, by operation, CA label and HTTP status.");
    for (size_t i = 0; i < m->request_count; i++) {
        const request_series *s = &m->requests[i];
        add(t, "estd_requests_total{operation=\"%s\",label=\"", operations[s->op]);
        add_quoted(t, m->labels[s->label]);
        if (s->status == 0)
            add(t, "\",status=\"other\"} %llu\n", s->count);
        else
            add(t, "\",status=\"%d\"} %llu\n", s->status, s->count);
    }
    family(t, "estd_request_duration_seconds", "histogram",
           "Time from reading an EST request to queueing its answer, by operation.");
    for (size_t op = 0; op < OPERATIONS; op++) {
        snprintf(labels, sizeof labels, "operation=\"%s\"", operations[op]);
        add_histogram(t, "estd_request_duration_seconds", labels, &m->latency[op],
                      latency_buckets, LATENCY_BUCKETS);
    }
}

static void render_events(text *t, const estd_metrics *m)
{
    family(t, "estd_certificates_issued_total", "counter",
           "Certificates issued and stored, by operation (renew and rekey are re-enrollments).");
    for (size_t i = 0; i < ISSUE_OPERATIONS; i++)
        add(t, "estd_certificates_issued_total{operation=\"%s\"} %llu\n", issue_operations[i],
            m->issued[i]);
    family(t, "estd_certificates_revoked_total", "counter",
           "Certificates revoked by CMC revokeRequest (estd revoke is counted by the CRL).");
    add(t, "estd_certificates_revoked_total %llu\n", m->revoked);
    family(t, "estd_auth_failures_total", "counter", "Requests whose credentials were refused, by scheme.");
    for (size_t i = 0; i < SCHEMES; i++)
        add(t, "estd_auth_failures_total{scheme=\"%s\"} %llu\n", schemes[i], m->auth_failures[i]);
    family(t, "estd_password_checks_refused_total", "counter",
           "Basic requests answered 503 because every password-check slot was busy.");
    add(t, "estd_password_checks_refused_total %llu\n", m->password_refused);
    family(t, "estd_password_check_wait_seconds", "histogram",
           "Time a Basic request waited for a password-check slot.");
    add_histogram(t, "estd_password_check_wait_seconds", "", &m->password_wait, latency_buckets,
                  LATENCY_BUCKETS);
    family(t, "estd_signer_roundtrip_seconds", "histogram",
           "Requests to the signing process, until its answer.");
    add_histogram(t, "estd_signer_roundtrip_seconds", "", &m->signer, commit_buckets,
                  COMMIT_BUCKETS);
    family(t, "estd_signer_failures_total", "counter", "Signing requests that failed or got no answer.");
    add(t, "estd_signer_failures_total %llu\n", m->signer_failures);
    family(t, "estd_store_commit_seconds", "histogram",
           "Time to commit an issued certificate and its audit row to the store.");
    add_histogram(t, "estd_store_commit_seconds", "", &m->commit, commit_buckets, COMMIT_BUCKETS);
    family(t, "estd_tls_handshakes_total", "counter", "Completed TLS handshakes, by protocol version.");
    for (size_t i = 0; i < TLS_VERSIONS; i++)
        add(t, "estd_tls_handshakes_total{version=\"%s\"} %llu\n", tls_versions[i],
            m->tls_handshakes[i]);
    family(t, "estd_reloads_total", "counter", "SIGHUP reloads, by result.");
    add(t, "estd_reloads_total{result=\"ok\"} %llu\nestd_reloads_total{result=\"failed\"} %llu\n",
        m->reloads_ok, m->reloads_failed);
}

char *estd_metrics_render(estd_metrics *m, const estd_metrics_gauges *g, size_t *len)
{
    text t = {malloc(16384), 0, 16384, 0};

    if (t.data == NULL)
        return NULL;
    family(&t, "estd_build_info", "gauge", "Version of estd and the OpenSSL it runs with.");
    add(&t, "estd_build_info{version=\"%s\",openssl=\"", ESTKIT_VERSION);
    add_quoted(&t, OpenSSL_version(OPENSSL_VERSION));
    add(&t, "\"} 1\n");
    family(&t, "estd_connections_open", "gauge", "TLS connections open.");
    add(&t, "estd_connections_open %ld\n", g->connections_open);
    family(&t, "estd_requests_in_flight", "gauge", "EST requests read and not yet answered.");
    add(&t, "estd_requests_in_flight %ld\n", g->requests_in_flight);
    family(&t, "estd_password_checks_in_progress", "gauge",
           "Slow password hashes running now (at most max_password_checks).");
    add(&t, "estd_password_checks_in_progress %ld\n", g->password_checks_in_progress);
    pthread_mutex_lock(&m->lock);
    render_requests(&t, m);
    render_events(&t, m);
    pthread_mutex_unlock(&m->lock);
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    *len = t.len;
    return t.data;
}
