/* estd serve: keeps the /cacerts of issuer = est labels fresh. One thread
 * fetches each upstream's /cacerts every upstream_cacerts_refresh_seconds;
 * a failed fetch leaves the last good copy in place and logs its age.
 * It works on whatever instance serves now (a SIGHUP reload swaps it) and,
 * like a request, counts itself in srv->in_flight while it holds one, so
 * the reload does not free an instance under it (reload.c). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "issuer.h"
#include "server.h"
#include "upstream_refresh.h"

struct estd_refresher {
    estd_server *srv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    _Atomic int stopping;
    time_t due[ESTD_CONFIG_MAX_LABELS + 1];
};

/* One round over the serving instance's upstream labels; the earliest
 * time one is due again. */
static time_t refresh_round(estd_refresher *r)
{
    estd_instance *inst;
    time_t now = time(NULL), next = now + 3600;

    atomic_fetch_add(&r->srv->in_flight, 1);
    inst = r->srv->inst;
    for (size_t i = 0; i < inst->ca_count && !r->stopping; i++) {
        estd_ca *ca = &inst->cas[i];
        est_error err;
        if (ca->upstream == NULL)
            continue;
        if (r->due[i] == 0)
            r->due[i] = now + estd_upstream_refresh_seconds(ca->upstream);
        if (r->due[i] <= now) {
            if (estd_upstream_refresh(ca->upstream, &err) != EST_OK)
                fprintf(stderr, "estd: CA '%s': upstream /cacerts: %s\n", ca->cfg->label,
                        err.message);
            r->due[i] = time(NULL) + estd_upstream_refresh_seconds(ca->upstream);
        }
        if (r->due[i] < next)
            next = r->due[i];
    }
    atomic_fetch_sub(&r->srv->in_flight, 1);
    return next;
}

static void *refresh_loop(void *arg)
{
    estd_refresher *r = arg;

    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        struct timespec until = {0};

        pthread_mutex_unlock(&r->lock);
        until.tv_sec = refresh_round(r);
        pthread_mutex_lock(&r->lock);
        if (!r->stopping)
            pthread_cond_timedwait(&r->wake, &r->lock, &until);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

est_status estd_refresher_start(estd_server *srv, estd_refresher **out, est_error *err)
{
    estd_refresher *r;

    *out = NULL;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    /* due[i] = 0: the instance fetched /cacerts as it opened, so the first
     * round schedules the next fetch a period on. */
    r->srv = srv;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pthread_create(&r->thread, NULL, refresh_loop, r) != 0) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return est_error_set(err, EST_E_NOMEM, "cannot start the /cacerts refresh thread");
    }
    *out = r;
    return EST_OK;
}

void estd_refresher_stop(estd_refresher *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
