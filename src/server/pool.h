/* estd: a fixed pool of worker threads for work that must not stall an
 * event loop: password hashing, chain and CSR verification, signing, key
 * generation, durable store writes. */
#ifndef ESTD_POOL_H
#define ESTD_POOL_H

#include <stddef.h>

#define ESTD_POOL_QUEUE_MAX 8192 /* beyond this, submit refuses: answer 503 */

typedef void (*estd_pool_fn)(void *arg);
typedef struct estd_pool estd_pool;

estd_pool *estd_pool_new(unsigned threads);
/* Runs every queued job, then joins the threads. NULL ok. */
void estd_pool_free(estd_pool *pool);
/* 0 on success, -1 when the queue is full or the pool is stopping. */
int estd_pool_submit(estd_pool *pool, estd_pool_fn fn, void *arg);

#endif
