/* estd: where Basic password checks wait for a hashing slot.
 *
 * A password check costs one scrypt run (tens of milliseconds, 32 MiB, on
 * purpose), so at most max_running run at once. Instead of refusing the
 * rest (curl, strongSwan and libest do not retry a 503; a fleet powering up
 * together must not fail), a check that finds every slot taken is parked:
 *   - single flight: checks of the same credentials (the same tag, the
 *     HMAC the credential cache keys on) share one hash; the others wait
 *     for its verdict;
 *   - a bounded FIFO queue: at most queue_max distinct credentials wait,
 *     each at most wait_ms (checked when a slot frees); beyond either bound
 *     the caller answers 503 + Retry-After;
 *   - a parked check holds no thread: the gate calls the waiter's resume
 *     function later, from the thread that freed a slot.
 * The module knows nothing of HTTP or of the worker pool: a failed-guess
 * throttle can sit in front of estd_password_gate_enter. */
#ifndef ESTD_PASSWORD_GATE_H
#define ESTD_PASSWORD_GATE_H

#include <stdint.h>
#include "tag_table.h"

typedef struct estd_password_gate estd_password_gate;

typedef enum estd_gate_verdict {
    ESTD_GATE_VERIFIED = 1, /* the shared hash verified the password */
    ESTD_GATE_WRONG,        /* it did not */
    ESTD_GATE_YOUR_TURN,    /* a slot is yours: hash, then estd_password_gate_done */
    ESTD_GATE_EXPIRED,      /* waited wait_ms without a slot: answer 503 */
} estd_gate_verdict;

typedef enum estd_gate_admission {
    ESTD_GATE_RUN,    /* a slot is held: hash now, then estd_password_gate_done */
    ESTD_GATE_PARKED, /* resume(arg, verdict) follows once, from another thread */
    ESTD_GATE_FULL,   /* queue_max credentials wait already: answer 503 */
} estd_gate_admission;

typedef void (*estd_gate_resume_fn)(void *arg, estd_gate_verdict verdict);

/* max_running >= 1 slots; queue_max >= 1; wait_ms >= 1. NULL on failure. */
estd_password_gate *estd_password_gate_new(unsigned max_running, unsigned queue_max,
                                           unsigned wait_ms);
/* Nothing may be parked any more. NULL ok. */
void estd_password_gate_free(estd_password_gate *gate);

/* Asks for a check of the credentials tag at now_ms (a monotonic clock).
 * PARKED: resume(arg, ...) is called exactly once later, with VERIFIED or
 * WRONG (another check's verdict), YOUR_TURN or EXPIRED. */
estd_gate_admission estd_password_gate_enter(estd_password_gate *gate,
                                             const unsigned char tag[ESTD_TAG_LEN],
                                             estd_gate_resume_fn resume, void *arg,
                                             uint64_t now_ms);
/* The hash for tag (RUN or YOUR_TURN) is done: hands the verdict to its
 * waiters and the slot to the oldest queued check (expired ones get
 * EXPIRED). Resume functions run in this thread, after the lock is
 * released. */
void estd_password_gate_done(estd_password_gate *gate, const unsigned char tag[ESTD_TAG_LEN],
                             int verified, uint64_t now_ms);

/* Retry-After for a 503 from the gate: whole seconds of wait_ms, >= 1. */
unsigned estd_password_gate_retry_after(const estd_password_gate *gate);

/* Checks running and credentials queued, for tests and logs. */
void estd_password_gate_counts(estd_password_gate *gate, unsigned *running, unsigned *queued);

#endif
