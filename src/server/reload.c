/* SIGHUP reload (reload.h).
 *
 * What changes live: users and one-time codes (they live in the store and
 * are read per request anyway), the CAs with their trust anchors, chains,
 * /cacerts and /csrattrs bodies, the third-party trust, every [ca] policy
 * setting, realm and limits read per request, and the TLS certificate and
 * key (new handshakes; established connections keep theirs).
 *
 * What does not: the listening socket, the store, the thread and worker
 * counts, and settings baked into the event loops or caches at start
 * (fixed_settings below). A new value of those is reported and the running
 * one kept, so the configuration in memory always says what is in force.
 *
 * Instance lifetime: a request reads srv->inst after counting itself in
 * srv->in_flight (listener.c), so once in_flight has been seen at 0 after
 * the swap no request holds the old instance. The connection-count check
 * at accept reads one field outside any request, so a replaced instance is
 * also kept RETIRE_GRACE_SECONDS before it is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "metrics.h"
#include "reload.h"

#define RETIRE_GRACE_SECONDS 2

typedef struct retired {
    estd_instance *inst;
    time_t since;
    struct retired *next;
} retired;

struct estd_reloader {
    char listen_override[256]; /* "" = none */
    retired *retired;
};

estd_reloader *estd_reloader_new(const char *listen_override)
{
    estd_reloader *r = calloc(1, sizeof *r);

    if (r != NULL && listen_override != NULL)
        snprintf(r->listen_override, sizeof r->listen_override, "%s", listen_override);
    return r;
}

static void retired_free(retired *e)
{
    e->inst->store = NULL; /* shared with the current instance, which owns it */
    estd_instance_free(e->inst);
    free(e);
}

void estd_reloader_free(estd_reloader *r)
{
    if (r == NULL)
        return;
    while (r->retired != NULL) {
        retired *next = r->retired->next;
        retired_free(r->retired);
        r->retired = next;
    }
    free(r);
}

/* Keeps one running value: reports a change, copies the old value over the
 * new. Text and number settings alike, as their estd.conf spelling. */
#define KEEP_TEXT(name, field)                                                                  \
    do {                                                                                        \
        if (strcmp(next->field, cur->field) != 0) {                                             \
            fprintf(stderr, "estd: reload: %s changed to '%s': takes effect at restart; "       \
                            "keeping '%s'\n", name, next->field, cur->field);                  \
            memcpy(next->field, cur->field, sizeof next->field);                                \
        }                                                                                       \
    } while (0)
#define KEEP_NUMBER(name, field)                                                                \
    do {                                                                                        \
        if (next->field != cur->field) {                                                        \
            fprintf(stderr, "estd: reload: %s changed to %llu: takes effect at restart; "       \
                            "keeping %llu\n", name, (unsigned long long)next->field,           \
                    (unsigned long long)cur->field);                                            \
            next->field = cur->field;                                                           \
        }                                                                                       \
    } while (0)

static void fixed_settings(const estd_config *cur, estd_config *next, const char *listen_override)
{
    if (listen_override[0] != '\0')
        memcpy(next->listen, cur->listen, sizeof next->listen);
    KEEP_TEXT("listen", listen);
    KEEP_TEXT("store", store);
    KEEP_TEXT("tls_min_version", tls_min_version);
    KEEP_TEXT("tls_ciphers", tls_ciphers);
    KEEP_TEXT("tls_ciphersuites", tls_ciphersuites);
    KEEP_TEXT("tls_groups", tls_groups);
    KEEP_TEXT("http_listen", ops.http_listen);
    KEEP_TEXT("metrics_listen", ops.metrics_listen);
    KEEP_TEXT("metrics_user", ops.metrics_user);
    KEEP_TEXT("metrics_password_file", ops.metrics_password_file);
    KEEP_NUMBER("threads", threads);
    KEEP_NUMBER("workers", workers);
    KEEP_NUMBER("store_connections", store_connections);
    KEEP_NUMBER("store_wait_seconds", store_wait_seconds);
    KEEP_NUMBER("max_header_bytes", max_header_bytes);
    KEEP_NUMBER("timeout_seconds", timeout_seconds);
    KEEP_NUMBER("nonce_lifetime_seconds", nonce_lifetime_seconds);
    KEEP_NUMBER("credential_cache_seconds", credential_cache_seconds);
    KEEP_NUMBER("max_password_checks", max_password_checks);
    /* The counting windows live in the server, made at start. */
    KEEP_NUMBER("audit_auth_fail_window_seconds", audit_auth_fail_window_seconds);
    KEEP_NUMBER("tls_ticket_key_seconds", tls_ticket_key_seconds);
    KEEP_NUMBER("guess_delay_after", guess_delay_after);
    KEEP_NUMBER("guess_lock_after", guess_lock_after);
    KEEP_NUMBER("guess_lock_seconds", guess_lock_seconds);
    KEEP_NUMBER("guess_delay_max_seconds", guess_delay_max_seconds);
    KEEP_NUMBER("password_queue_max", password_queue_max);
    KEEP_NUMBER("password_queue_wait_ms", password_queue_wait_ms);
}

est_status estd_reload(estd_reloader *r, estd_server *srv, estd_tls_identity *tls)
{
    estd_instance *cur = srv->inst, *next = NULL;
    retired *e = calloc(1, sizeof *e);
    est_error err;
    est_status rc = EST_E_NOMEM;

    if (e == NULL) {
        fprintf(stderr, "estd: reload: out of memory; keeping the running configuration\n");
        return rc;
    }
    /* A new signer process opens the keys (and kek_file) as they are now. */
    if ((rc = estd_instance_open_serving(cur->cfg.dir, ESTD_OPEN_NO_STORE, &next, &err)) !=
            EST_OK ||
        (rc = estd_tls_identity_load(tls, next, &err)) != EST_OK) {
        fprintf(stderr, "estd: reload: %s; keeping the running configuration\n", err.message);
        goto out;
    }
    fixed_settings(&cur->cfg, &next->cfg, r->listen_override);
    next->store = cur->store;
    next->metrics = cur->metrics;
    srv->inst = next; /* atomic: requests from here on see next */
    if (srv->conns != NULL) {
        estd_conn_limits limits = estd_conn_limits_of(&next->cfg);
        estd_conns_configure(srv->conns, &limits);
    }
    estd_tag_table_clear(srv->chains); /* verdicts against the old anchors */
    e->inst = cur;
    e->since = time(NULL);
    e->next = r->retired;
    r->retired = e;
    e = NULL;
    fprintf(stderr, "estd: reload: done: %zu CA%s, TLS certificate %s\n", next->ca_count,
            next->ca_count == 1 ? "" : "s", next->cfg.tls_cert);
    rc = EST_OK;
out:
    estd_metrics_reload(cur->metrics, rc == EST_OK);
    if (rc != EST_OK)
        estd_instance_free(next);
    free(e);
    return rc;
}

void estd_reload_collect(estd_reloader *r, estd_server *srv)
{
    time_t now = time(NULL);
    retired **p = &r->retired;

    if (atomic_load(&srv->in_flight) != 0)
        return;
    while (*p != NULL) {
        retired *e = *p;
        if (now - e->since >= RETIRE_GRACE_SECONDS) {
            *p = e->next;
            retired_free(e);
            /* Verdicts cached by the last requests on it are keyed by the
             * addresses of stores just freed, which a new store may reuse. */
            estd_tag_table_clear(srv->chains);
        } else {
            p = &e->next;
        }
    }
}
