/* Tests src/server/pool.c: every submitted job runs exactly once, also
 * those still queued when the pool is freed; a full queue refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <unistd.h>
#include <cmocka.h>
#include "pool.h"
#include "unit_main.h"

static void count_job(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void every_job_runs_once_including_queued_at_free(void **state)
{
    atomic_int counter = 0;
    estd_pool *pool = estd_pool_new(3);
    (void)state;

    assert_non_null(pool);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(estd_pool_submit(pool, count_job, &counter), 0);
    estd_pool_free(pool);
    assert_int_equal(atomic_load(&counter), 1000);
}

static atomic_int gate_open;
static void blocking_job(void *arg)
{
    (void)arg;
    while (!atomic_load(&gate_open))
        usleep(1000);
}

static void full_queue_refuses(void **state)
{
    estd_pool *pool = estd_pool_new(1);
    int refused = 0;
    (void)state;

    atomic_store(&gate_open, 0);
    /* One job occupies the only thread; the queue then fills up. */
    for (int i = 0; i < ESTD_POOL_QUEUE_MAX + 2; i++)
        if (estd_pool_submit(pool, blocking_job, NULL) != 0)
            refused++;
    assert_true(refused >= 1);
    atomic_store(&gate_open, 1);
    estd_pool_free(pool);
}

static void free_null_is_noop(void **state)
{
    (void)state;
    estd_pool_free(NULL);
}

UNIT_MAIN(
    cmocka_unit_test(every_job_runs_once_including_queued_at_free),
    cmocka_unit_test(full_queue_refuses),
    cmocka_unit_test(free_null_is_noop))
