/* estd serve: keeps the /cacerts of issuer = est labels fresh. One thread
 * fetches each upstream's /cacerts every upstream_cacerts_refresh_seconds;
 * a failed fetch leaves the last good copy in place and logs its age. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "issuer.h"
#include "upstream_refresh.h"

struct estd_refresher {
    estd_instance *inst;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    time_t due[ESTD_CONFIG_MAX_LABELS + 1];
};

static void *refresh_loop(void *arg)
{
    estd_refresher *r = arg;

    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        time_t now = time(NULL), next = now + 3600;
        struct timespec until = {0};

        for (size_t i = 0; i < r->inst->ca_count; i++) {
            estd_ca *ca = &r->inst->cas[i];
            est_error err;
            if (ca->upstream == NULL)
                continue;
            if (r->due[i] <= now) {
                pthread_mutex_unlock(&r->lock);
                if (estd_upstream_refresh(ca->upstream, &err) != EST_OK)
                    fprintf(stderr, "estd: CA '%s': upstream /cacerts: %s\n", ca->cfg->label,
                            err.message);
                pthread_mutex_lock(&r->lock);
                r->due[i] = time(NULL) + estd_upstream_refresh_seconds(ca->upstream);
            }
            if (r->due[i] < next)
                next = r->due[i];
        }
        until.tv_sec = next;
        if (!r->stopping)
            pthread_cond_timedwait(&r->wake, &r->lock, &until);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

est_status estd_refresher_start(estd_instance *inst, estd_refresher **out, est_error *err)
{
    estd_refresher *r;
    time_t now = time(NULL);
    int any = 0;

    *out = NULL;
    for (size_t i = 0; i < inst->ca_count; i++)
        any |= inst->cas[i].upstream != NULL;
    if (!any)
        return EST_OK;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    r->inst = inst;
    /* The instance fetched /cacerts as it opened: next time is a period on. */
    for (size_t i = 0; i < inst->ca_count; i++)
        if (inst->cas[i].upstream != NULL)
            r->due[i] = now + estd_upstream_refresh_seconds(inst->cas[i].upstream);
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
