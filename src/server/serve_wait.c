/* `estd serve`'s main thread: signals and periodic tasks. The loops and
 * workers never see a signal (all are blocked there); this thread takes
 * them synchronously with sigtimedwait, so a reload runs in plain code,
 * not in a signal handler. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include "notify.h"
#include "serve_wait.h"
#include "tls_renew.h"

/* How often the periodic tasks run: freeing replaced instances, noticing
 * new TLS files (`estd tls renew`, an operator's copy). */
#define SERVE_TICK_SECONDS 1
/* How often the TLS certificate's expiry is checked against tls_renew_days. */
#define TLS_RENEW_CHECK_SECONDS 3600
/* How often the audit retention is applied (also once at start). */
#define AUDIT_PRUNE_SECONDS 3600

/* What identifies a file's content without reading it. */
typedef struct file_stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_stamp;

typedef struct tls_watch {
    file_stamp cert, key;
    time_t next_renew_check;
    time_t next_audit_prune; /* not TLS, but as periodic */
} tls_watch;

static void stamp_of(const char *path, file_stamp *s)
{
    struct stat st;

    memset(s, 0, sizeof *s);
    if (stat(path, &st) == 0) {
        s->dev = st.st_dev, s->ino = st.st_ino, s->size = st.st_size;
        s->mtime = st.st_mtim;
    }
}

/* 1 when the stamp changed (and records the new one). */
static int changed(const char *path, file_stamp *seen)
{
    file_stamp now;

    stamp_of(path, &now);
    if (memcmp(&now, seen, sizeof now) == 0)
        return 0;
    *seen = now;
    return 1;
}

static void tls_renew_check(estd_serve_state *st)
{
    estd_instance *inst = st->srv->inst;
    estd_tls_renewal outcome;
    time_t not_after = 0;
    est_error err;
    char when[32];

    if (inst->cfg.ops.tls_renew_days == 0)
        return;
    if (estd_tls_renew(inst, inst->cfg.ops.tls_renew_days, 0, &outcome, &not_after, &err) != EST_OK) {
        fprintf(stderr, "estd: TLS certificate renewal: %s; trying again in %d s\n", err.message,
                TLS_RENEW_CHECK_SECONDS);
    } else if (outcome == ESTD_TLS_RENEWED) {
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&not_after));
        fprintf(stderr, "estd: TLS certificate renewed (due within %u days), valid until %s\n",
                inst->cfg.ops.tls_renew_days, when);
    }
}

/* Issue #12: the audit windows that closed are written (every tick), and
 * the retention (audit_retention_days, audit_max_rows) is applied hourly;
 * both follow a reload. */
static void audit_tick(estd_serve_state *st, tls_watch *w, time_t now)
{
    est_error err;

    estd_audit_windows_flush(st->srv, (int64_t)now);
    if (now < w->next_audit_prune)
        return;
    w->next_audit_prune = now + AUDIT_PRUNE_SECONDS;
    if (estd_audit_prune_retention(st->srv->inst, (int64_t)now, NULL, &err) != EST_OK)
        fprintf(stderr, "estd: audit prune: %s; trying again in %d s\n", err.message,
                AUDIT_PRUNE_SECONDS);
}

static void tick(estd_serve_state *st, tls_watch *w)
{
    estd_instance *inst = st->srv->inst;
    time_t now = time(NULL);
    est_error err;
    int cert_changed, key_changed;

    estd_reload_collect(st->reloader, st->srv);
    audit_tick(st, w, now);
    if (st->publisher != NULL)
        estd_publisher_refresh(st->publisher, inst, 0);
    if (now >= w->next_renew_check) {
        w->next_renew_check = now + TLS_RENEW_CHECK_SECONDS;
        tls_renew_check(st);
    }
    cert_changed = changed(inst->cfg.tls_cert, &w->cert);
    key_changed = changed(inst->cfg.tls_key, &w->key);
    if (!cert_changed && !key_changed)
        return;
    if (estd_tls_identity_load(st->tls, inst, &err) == EST_OK)
        fprintf(stderr, "estd: %s changed: new connections get the new certificate\n",
                cert_changed ? inst->cfg.tls_cert : inst->cfg.tls_key);
    else
        fprintf(stderr, "estd: TLS files changed but not loaded: %s; keeping the running "
                        "certificate\n", err.message);
}

int estd_serve_wait(estd_serve_state *st, const sigset_t *signals)
{
    const struct timespec timeout = {SERVE_TICK_SECONDS, 0};
    tls_watch w = {0};

    /* What serve loaded at start is what the files hold now. */
    stamp_of(st->srv->inst->cfg.tls_cert, &w.cert);
    stamp_of(st->srv->inst->cfg.tls_key, &w.key);
    tick(st, &w);
    for (;;) {
        int sig = sigtimedwait(signals, NULL, &timeout);

        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig == SIGHUP) {
            fprintf(stderr, "estd: SIGHUP received, reloading\n");
            estd_notify_reloading();
            if (estd_reload(st->reloader, st->srv, st->tls) == EST_OK) {
                /* No ticket from before the reload resumes (tls_tickets.h). */
                if (st->srv->tickets != NULL && !estd_ticket_keys_reset(st->srv->tickets, time(NULL)))
                    fprintf(stderr, "estd: reload: new session ticket keys failed; keeping "
                                    "the old ones\n");
                if (st->publisher != NULL)
                    estd_publisher_refresh(st->publisher, st->srv->inst, 1);
                estd_notify_reloaded("serving EST; configuration reloaded");
            } else {
                estd_notify_reloaded("serving EST; reload failed, previous configuration kept");
            }
            /* The reload loaded the TLS files as they are now. */
            stamp_of(st->srv->inst->cfg.tls_cert, &w.cert);
            stamp_of(st->srv->inst->cfg.tls_key, &w.key);
        } else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            perror("estd: sigtimedwait");
        }
        tick(st, &w);
    }
}

est_status estd_serve_side_start(estd_serve_state *st, est_error *err)
{
    const estd_ops_config *ops = &st->srv->inst->cfg.ops;
    est_status rc;

    if ((st->metrics = estd_metrics_new()) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    st->srv->inst->metrics = st->metrics;
    estd_metrics_watch_tls(st->metrics, st->srv->ssl_ctx);
    /* Opened whatever log_target says now: a reload may switch to syslog. */
    openlog("estd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    if (ops->http_listen[0] == '\0' && ops->metrics_listen[0] == '\0')
        return EST_OK;
    if ((st->plain = estd_plain_new()) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if (ops->http_listen[0] != '\0') {
        if ((st->publisher = estd_publisher_new()) == NULL)
            return est_error_set(err, EST_E_NOMEM, "out of memory");
        estd_publisher_refresh(st->publisher, st->srv->inst, 1);
        if ((rc = estd_plain_listen(st->plain, ops->http_listen, estd_publisher_handle,
                                    st->publisher, err)) != EST_OK)
            return est_error_prefix(err, rc, "http_listen");
        fprintf(stderr, "estd: serving CRLs and CA certificates on http://%s/\n",
                ops->http_listen);
    }
    if (ops->metrics_listen[0] != '\0') {
        if ((rc = estd_metrics_http_new(st->srv, &st->metrics_http, err)) != EST_OK ||
            (rc = estd_plain_listen(st->plain, ops->metrics_listen, estd_metrics_http_handle,
                                    st->metrics_http, err)) != EST_OK)
            return est_error_prefix(err, rc, "metrics_listen");
        fprintf(stderr, "estd: metrics on http://%s/metrics%s\n", ops->metrics_listen,
                ops->metrics_user[0] ? " (HTTP Basic)" : "");
    }
    return estd_plain_start(st->plain, err);
}

void estd_serve_side_stop(estd_serve_state *st)
{
    estd_plain_free(st->plain);
    st->plain = NULL;
    estd_publisher_free(st->publisher);
    st->publisher = NULL;
    estd_metrics_http_free(st->metrics_http);
    st->metrics_http = NULL;
    if (st->srv->inst != NULL)
        st->srv->inst->metrics = NULL;
    estd_metrics_free(st->metrics);
    st->metrics = NULL;
    closelog();
}
