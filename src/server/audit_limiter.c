/* estd: counting repeated authentication failures into audit rows (see
 * audit_limiter.h). A flat table searched linearly: at most
 * ESTD_AUDIT_LIMITER_SLOTS short string compares per failure, small beside
 * the request that caused it, and no hash for an attacker to collide. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit_limiter.h"

typedef struct slot {
    estd_audit_window window; /* counted may be 0 while open */
} slot;

struct estd_audit_limiter {
    pthread_mutex_t lock;
    unsigned window_seconds;
    size_t used;
    slot slots[ESTD_AUDIT_LIMITER_SLOTS];
};

estd_audit_limiter *estd_audit_limiter_new(unsigned window_seconds)
{
    estd_audit_limiter *limiter = calloc(1, sizeof *limiter);

    if (limiter == NULL)
        return NULL;
    if (pthread_mutex_init(&limiter->lock, NULL) != 0) {
        free(limiter);
        return NULL;
    }
    limiter->window_seconds = window_seconds;
    return limiter;
}

void estd_audit_limiter_free(estd_audit_limiter *limiter)
{
    if (limiter == NULL)
        return;
    pthread_mutex_destroy(&limiter->lock);
    free(limiter);
}

unsigned estd_audit_limiter_window(const estd_audit_limiter *limiter)
{
    return limiter->window_seconds;
}

static int window_ended(const estd_audit_limiter *limiter, const slot *s, int64_t now)
{
    return now == INT64_MAX || now - s->window.start >= (int64_t)limiter->window_seconds;
}

/* Moves slot i's window out (to *closed when it counted anything) and
 * frees the slot by moving the last one into it. */
static int slot_close(estd_audit_limiter *limiter, size_t i, estd_audit_window *closed)
{
    int counted = limiter->slots[i].window.counted > 0;

    if (counted)
        *closed = limiter->slots[i].window;
    limiter->slots[i] = limiter->slots[--limiter->used];
    return counted;
}

static size_t oldest_slot(const estd_audit_limiter *limiter)
{
    size_t oldest = 0;

    for (size_t i = 1; i < limiter->used; i++)
        if (limiter->slots[i].window.start < limiter->slots[oldest].window.start)
            oldest = i;
    return oldest;
}

estd_audit_verdict estd_audit_limiter_hit(estd_audit_limiter *limiter, const char *address,
                                          const char *event, const char *label, int64_t now,
                                          estd_audit_window *closed, int *closed_out)
{
    estd_audit_verdict verdict = ESTD_AUDIT_WRITE;
    slot *s;
    size_t i;

    *closed_out = 0;
    if (limiter->window_seconds == 0)
        return ESTD_AUDIT_WRITE;
    pthread_mutex_lock(&limiter->lock);
    for (i = 0; i < limiter->used; i++)
        if (strcmp(limiter->slots[i].window.address, address) == 0 &&
            strcmp(limiter->slots[i].window.event, event) == 0)
            break;
    if (i < limiter->used && !window_ended(limiter, &limiter->slots[i], now)) {
        limiter->slots[i].window.counted++;
        verdict = ESTD_AUDIT_COUNTED;
        goto out;
    }
    if (i < limiter->used)
        *closed_out = slot_close(limiter, i, closed);
    else if (limiter->used == ESTD_AUDIT_LIMITER_SLOTS)
        *closed_out = slot_close(limiter, oldest_slot(limiter), closed);
    s = &limiter->slots[limiter->used++];
    memset(s, 0, sizeof *s);
    snprintf(s->window.address, sizeof s->window.address, "%s", address);
    snprintf(s->window.event, sizeof s->window.event, "%s", event);
    snprintf(s->window.label, sizeof s->window.label, "%s", label != NULL ? label : "");
    s->window.start = now;
out:
    pthread_mutex_unlock(&limiter->lock);
    return verdict;
}

size_t estd_audit_limiter_take_closed(estd_audit_limiter *limiter, int64_t now,
                                      estd_audit_window *out, size_t cap)
{
    size_t n = 0, i = 0;

    pthread_mutex_lock(&limiter->lock);
    while (i < limiter->used && n < cap) {
        if (window_ended(limiter, &limiter->slots[i], now))
            n += (size_t)slot_close(limiter, i, &out[n]); /* slot i now holds the last one */
        else
            i++;
    }
    pthread_mutex_unlock(&limiter->lock);
    return n;
}
