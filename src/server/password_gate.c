/* estd: the password check queue (see password_gate.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "password_gate.h"

typedef struct gate_waiter {
    estd_gate_resume_fn resume;
    void *arg;
    estd_gate_verdict verdict; /* set when it moves to a wake-up list */
    struct gate_waiter *next;
} gate_waiter;

/* One credential being hashed (running) or waiting for a slot (queued).
 * A queued entry's first waiter is the one that will hash. */
typedef struct gate_entry {
    unsigned char tag[ESTD_TAG_LEN];
    int running;
    uint64_t since_ms;
    gate_waiter *waiters, *last;
    struct gate_entry *next;
} gate_entry;

struct estd_password_gate {
    pthread_mutex_t lock;
    unsigned max_running, queue_max, wait_ms;
    unsigned running_count, queued_count;
    gate_entry *running;            /* unordered */
    gate_entry *queue_head, *queue_tail; /* FIFO */
};

estd_password_gate *estd_password_gate_new(unsigned max_running, unsigned queue_max,
                                           unsigned wait_ms)
{
    estd_password_gate *gate;

    if (max_running == 0 || queue_max == 0 || wait_ms == 0)
        return NULL;
    gate = calloc(1, sizeof *gate);
    if (gate == NULL)
        return NULL;
    pthread_mutex_init(&gate->lock, NULL);
    gate->max_running = max_running;
    gate->queue_max = queue_max;
    gate->wait_ms = wait_ms;
    return gate;
}

static void entry_free(gate_entry *e)
{
    while (e != NULL && e->waiters != NULL) {
        gate_waiter *w = e->waiters;
        e->waiters = w->next;
        free(w);
    }
    if (e != NULL)
        OPENSSL_cleanse(e->tag, sizeof e->tag);
    free(e);
}

void estd_password_gate_free(estd_password_gate *gate)
{
    if (gate == NULL)
        return;
    while (gate->running != NULL) {
        gate_entry *e = gate->running;
        gate->running = e->next;
        entry_free(e);
    }
    while (gate->queue_head != NULL) {
        gate_entry *e = gate->queue_head;
        gate->queue_head = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&gate->lock);
    free(gate);
}

static gate_entry *find(gate_entry *list, const unsigned char tag[ESTD_TAG_LEN])
{
    for (; list != NULL; list = list->next)
        if (CRYPTO_memcmp(list->tag, tag, ESTD_TAG_LEN) == 0)
            return list;
    return NULL;
}

static int add_waiter(gate_entry *e, estd_gate_resume_fn resume, void *arg)
{
    gate_waiter *w = calloc(1, sizeof *w);

    if (w == NULL)
        return 0;
    w->resume = resume;
    w->arg = arg;
    if (e->last != NULL)
        e->last->next = w;
    else
        e->waiters = w;
    e->last = w;
    return 1;
}

static gate_entry *entry_new(const unsigned char tag[ESTD_TAG_LEN], uint64_t now_ms)
{
    gate_entry *e = calloc(1, sizeof *e);

    if (e != NULL) {
        memcpy(e->tag, tag, ESTD_TAG_LEN);
        e->since_ms = now_ms;
    }
    return e;
}

estd_gate_admission estd_password_gate_enter(estd_password_gate *gate,
                                             const unsigned char tag[ESTD_TAG_LEN],
                                             estd_gate_resume_fn resume, void *arg,
                                             uint64_t now_ms)
{
    estd_gate_admission out = ESTD_GATE_FULL;
    gate_entry *e;

    pthread_mutex_lock(&gate->lock);
    /* Single flight: the same credentials already hashing or queued. */
    if ((e = find(gate->running, tag)) != NULL || (e = find(gate->queue_head, tag)) != NULL) {
        out = add_waiter(e, resume, arg) ? ESTD_GATE_PARKED : ESTD_GATE_FULL;
    } else if (gate->running_count < gate->max_running) {
        if ((e = entry_new(tag, now_ms)) != NULL) {
            e->running = 1;
            e->next = gate->running;
            gate->running = e;
            gate->running_count++;
            out = ESTD_GATE_RUN;
        }
    } else if (gate->queued_count < gate->queue_max) {
        if ((e = entry_new(tag, now_ms)) != NULL && add_waiter(e, resume, arg)) {
            if (gate->queue_tail != NULL)
                gate->queue_tail->next = e;
            else
                gate->queue_head = e;
            gate->queue_tail = e;
            gate->queued_count++;
            out = ESTD_GATE_PARKED;
        } else {
            entry_free(e);
        }
    }
    pthread_mutex_unlock(&gate->lock);
    return out;
}

/* Moves every waiter of e onto *wake (resumed after the lock) with
 * verdict; e keeps none. */
static void wake_all(gate_entry *e, estd_gate_verdict verdict, gate_waiter **wake)
{
    while (e->waiters != NULL) {
        gate_waiter *w = e->waiters;
        e->waiters = w->next;
        w->verdict = verdict;
        w->next = *wake;
        *wake = w;
    }
    e->last = NULL;
}

/* Removes the running entry for tag; NULL when there is none. */
static gate_entry *take_running(estd_password_gate *gate, const unsigned char tag[ESTD_TAG_LEN])
{
    for (gate_entry **p = &gate->running; *p != NULL; p = &(*p)->next) {
        if (CRYPTO_memcmp((*p)->tag, tag, ESTD_TAG_LEN) == 0) {
            gate_entry *e = *p;
            *p = e->next;
            gate->running_count--;
            return e;
        }
    }
    return NULL;
}

/* Gives free slots to the oldest queued checks; those that waited past
 * wait_ms are expired instead (their entries go to *dead). */
static void promote(estd_password_gate *gate, uint64_t now_ms, gate_waiter **wake,
                    gate_entry **dead)
{
    while (gate->running_count < gate->max_running && gate->queue_head != NULL) {
        gate_entry *e = gate->queue_head;
        gate_waiter *leader;

        gate->queue_head = e->next;
        if (gate->queue_head == NULL)
            gate->queue_tail = NULL;
        gate->queued_count--;
        if (now_ms - e->since_ms > gate->wait_ms) {
            wake_all(e, ESTD_GATE_EXPIRED, wake);
            e->next = *dead;
            *dead = e;
            continue;
        }
        /* The first waiter hashes; the rest wait on for its verdict. */
        leader = e->waiters;
        e->waiters = leader->next;
        if (e->waiters == NULL)
            e->last = NULL;
        leader->verdict = ESTD_GATE_YOUR_TURN;
        leader->next = *wake;
        *wake = leader;
        e->running = 1;
        e->next = gate->running;
        gate->running = e;
        gate->running_count++;
    }
}

void estd_password_gate_done(estd_password_gate *gate, const unsigned char tag[ESTD_TAG_LEN],
                             int verified, uint64_t now_ms)
{
    gate_waiter *wake = NULL;
    gate_entry *dead = NULL, *e;

    pthread_mutex_lock(&gate->lock);
    if ((e = take_running(gate, tag)) != NULL) {
        wake_all(e, verified ? ESTD_GATE_VERIFIED : ESTD_GATE_WRONG, &wake);
        e->next = dead;
        dead = e;
    }
    promote(gate, now_ms, &wake, &dead);
    pthread_mutex_unlock(&gate->lock);
    /* Resume outside the lock: a resumption may enter the gate again. */
    while (wake != NULL) {
        gate_waiter *w = wake;
        wake = w->next;
        w->resume(w->arg, w->verdict);
        free(w);
    }
    while (dead != NULL) {
        e = dead;
        dead = e->next;
        entry_free(e);
    }
}

unsigned estd_password_gate_retry_after(const estd_password_gate *gate)
{
    unsigned s = (gate->wait_ms + 999) / 1000;
    return s > 0 ? s : 1;
}

void estd_password_gate_counts(estd_password_gate *gate, unsigned *running, unsigned *queued)
{
    pthread_mutex_lock(&gate->lock);
    *running = gate->running_count;
    *queued = gate->queued_count;
    pthread_mutex_unlock(&gate->lock);
}
