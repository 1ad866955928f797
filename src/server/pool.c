/* estd: worker pool (mutex + condition variable over a FIFO). */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include "pool.h"

typedef struct pool_job {
    estd_pool_fn fn;
    void *arg;
    struct pool_job *next;
} pool_job;

struct estd_pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    pool_job *head, *tail;
    size_t queued;
    int stopping;
    unsigned count;
    pthread_t *threads;
};

static void *pool_thread(void *arg)
{
    estd_pool *pool = arg;
    struct sched_param batch = {0};

    /* SCHED_BATCH (no privilege needed): a job handed over no longer
     * preempts the event loop that queued it in the middle of its pass;
     * the loop reads and queues what else is ready first. At 8-32
     * keep-alive enrollments on one core: ~10 -> ~8 context switches per
     * enrollment (docs/PERFORMANCE.md, "Issue #19: the pipeline"). */
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch);

    for (;;) {
        pool_job *job;
        pthread_mutex_lock(&pool->lock);
        while (pool->head == NULL && !pool->stopping)
            pthread_cond_wait(&pool->ready, &pool->lock);
        job = pool->head;
        if (job == NULL) { /* stopping and drained */
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        pool->head = job->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pool->queued--;
        pthread_mutex_unlock(&pool->lock);
        job->fn(job->arg);
        free(job);
    }
}

estd_pool *estd_pool_new(unsigned threads)
{
    estd_pool *pool = calloc(1, sizeof *pool);

    if (pool == NULL)
        return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    pool->threads = calloc(threads, sizeof *pool->threads);
    if (pool->threads == NULL)
        goto fail;
    for (; pool->count < threads; pool->count++)
        if (pthread_create(&pool->threads[pool->count], NULL, pool_thread, pool) != 0)
            goto fail;
    return pool;
fail:
    estd_pool_free(pool);
    return NULL;
}

void estd_pool_free(estd_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->count; i++)
        pthread_join(pool->threads[i], NULL);
    free(pool->threads);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->ready);
    free(pool);
}

int estd_pool_submit(estd_pool *pool, estd_pool_fn fn, void *arg)
{
    pool_job *job = malloc(sizeof *job);
    int rc = -1;

    if (job == NULL)
        return -1;
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    if (!pool->stopping && pool->queued < ESTD_POOL_QUEUE_MAX) {
        if (pool->tail)
            pool->tail->next = job;
        else
            pool->head = job;
        pool->tail = job;
        pool->queued++;
        pthread_cond_signal(&pool->ready);
        rc = 0;
    }
    pthread_mutex_unlock(&pool->lock);
    if (rc != 0)
        free(job);
    return rc;
}
