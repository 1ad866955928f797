/* The metrics listener (metrics_http.h):
 *   /metrics  Prometheus text exposition 0.0.4 (HTTP Basic when
 *             metrics_user is set: the counters tell who enrolls how often)
 *   /healthz  liveness: the process answers (200)
 *   /readyz   readiness: not stopping, the store answers a read, and every
 *             CA has its signing key (200, else 503 with the reason) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "metrics.h"
#include "metrics_http.h"

/* "Basic " + base64 of "user:password" (64 + 1 + 128 bytes). */
#define METRICS_PASSWORD_MAX 128
#define METRICS_AUTH_MAX 300

struct estd_metrics_http {
    estd_server *srv;
    char expected[METRICS_AUTH_MAX]; /* "" = no authentication */
};

static est_status read_password(const char *path, char out[METRICS_PASSWORD_MAX + 1],
                                est_error *err)
{
    struct stat st;
    FILE *f;
    size_t n;

    if (path[0] == '\0')
        return est_error_set(err, EST_E_CONFIG, "metrics_user needs metrics_password_file");
    if (stat(path, &st) != 0 || (st.st_mode & 077) != 0)
        return est_error_set(err, EST_E_CONFIG, "%s: missing, or readable by group or others",
                             path);
    if ((f = fopen(path, "r")) == NULL)
        return est_error_set(err, EST_E_IO, "%s: cannot open", path);
    if (fgets(out, METRICS_PASSWORD_MAX + 1, f) == NULL)
        out[0] = '\0';
    fclose(f);
    n = strcspn(out, "\r\n");
    out[n] = '\0';
    return n > 0 ? EST_OK : est_error_set(err, EST_E_CONFIG, "%s: empty password", path);
}

est_status estd_metrics_http_new(estd_server *srv, estd_metrics_http **out, est_error *err)
{
    const estd_ops_config *ops = &srv->inst->cfg.ops;
    estd_metrics_http *h = calloc(1, sizeof *h);
    char password[METRICS_PASSWORD_MAX + 1], pair[ESTD_OPS_USER_MAX + METRICS_PASSWORD_MAX + 2];
    est_status rc = EST_OK;

    if (h == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    h->srv = srv;
    if (ops->metrics_user[0] != '\0') {
        if ((rc = read_password(ops->metrics_password_file, password, err)) == EST_OK) {
            int n = snprintf(pair, sizeof pair, "%s:%s", ops->metrics_user, password);
            memcpy(h->expected, "Basic ", 6);
            EVP_EncodeBlock((unsigned char *)h->expected + 6, (const unsigned char *)pair, n);
        }
        OPENSSL_cleanse(password, sizeof password);
        OPENSSL_cleanse(pair, sizeof pair);
    }
    if (rc != EST_OK) {
        free(h);
        return rc;
    }
    *out = h;
    return EST_OK;
}

void estd_metrics_http_free(estd_metrics_http *h)
{
    if (h == NULL)
        return;
    OPENSSL_cleanse(h->expected, sizeof h->expected);
    free(h);
}

/* Constant time in the length of what was sent. */
static int authorized(const estd_metrics_http *h, const char *authorization)
{
    size_t want = strlen(h->expected);

    if (want == 0)
        return 1;
    return authorization != NULL && strlen(authorization) == want &&
           CRYPTO_memcmp(authorization, h->expected, want) == 0;
}

/* Why the server is not ready, or NULL. The caller counts itself in
 * in_flight, so the instance it reads is not freed meanwhile (reload.c). */
static const char *not_ready(estd_server *srv, char *why, size_t cap)
{
    estd_instance *inst = srv->inst;
    est_cert_record *rec = NULL;
    est_error err;
    est_status rc;

    if (atomic_load(&srv->stopping))
        return "stopping";
    rc = est_store_cert_get(inst->store, "00", &rec, &err);
    est_cert_record_free(rec);
    if (rc != EST_OK && rc != EST_E_NOT_FOUND) {
        snprintf(why, cap, "store: %s", err.message);
        return why;
    }
    for (size_t i = 0; i < inst->ca_count; i++)
        if (inst->cas[i].ca == NULL) {
            snprintf(why, cap, "CA '%s' has no signing key", inst->cas[i].cfg->label);
            return why;
        }
    return NULL;
}

/* Hashes running: through the password gate, and the rare inline ones
 * (authn.c, when a verdict no longer matches the stored hash). */
static long password_checks(estd_server *srv)
{
    unsigned running = 0, queued = 0;

    if (srv->passwords != NULL)
        estd_password_gate_counts(srv->passwords, &running, &queued);
    return (long)running + (long)estd_credential_cache_verifying(srv->credentials);
}

static void metrics_reply(estd_metrics_http *h, estd_plain_reply *reply)
{
    estd_server *srv = h->srv;
    estd_metrics_gauges g = {
        estd_conns_open(srv->conns),
        atomic_load(&srv->in_flight) - 1, /* not this scrape */
        password_checks(srv),
    };
    size_t len = 0;
    char *body = estd_metrics_render(srv->inst->metrics, &g, &len);

    if (body == NULL) {
        *reply = (estd_plain_reply){503, "text/plain", "out of memory\n", 14, NULL, NULL};
        return;
    }
    *reply = (estd_plain_reply){200, "text/plain; version=0.0.4; charset=utf-8", body, len, NULL,
                                body};
}

void estd_metrics_http_handle(void *arg, const char *path, const char *authorization,
                              estd_plain_reply *reply)
{
    estd_metrics_http *h = arg;
    char detail[200], *line = NULL;
    const char *reason;
    int n;

    if (strcmp(path, "/healthz") == 0) {
        *reply = (estd_plain_reply){200, "text/plain", "ok\n", 3, NULL, NULL};
        return;
    }
    if (strcmp(path, "/metrics") != 0 && strcmp(path, "/readyz") != 0)
        return; /* 404 */
    if (strcmp(path, "/metrics") == 0 && !authorized(h, authorization)) {
        *reply = (estd_plain_reply){401, "text/plain", "authentication required\n", 24,
                                    "Basic realm=\"estd metrics\"", NULL};
        return;
    }
    atomic_fetch_add(&h->srv->in_flight, 1);
    if (strcmp(path, "/metrics") == 0) {
        metrics_reply(h, reply);
    } else if ((reason = not_ready(h->srv, detail, sizeof detail)) != NULL) {
        if ((n = asprintf(&line, "not ready: %s\n", reason)) < 0)
            *reply = (estd_plain_reply){503, "text/plain", "not ready\n", 10, NULL, NULL};
        else
            *reply = (estd_plain_reply){503, "text/plain", line, (size_t)n, NULL, line};
    } else {
        *reply = (estd_plain_reply){200, "text/plain", "ready\n", 6, NULL, NULL};
    }
    atomic_fetch_sub(&h->srv->in_flight, 1);
}
