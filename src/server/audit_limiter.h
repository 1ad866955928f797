/* estd: audit rows for repeated authentication failures, one per address
 * per window (issue #12: every 401 wrote a row, so a flood of bad passwords
 * was unbounded disk growth).
 *
 * The first failure from an address in a window is written at once, with
 * its details (who was tried, why it failed). The window's further
 * failures are only counted, and written as one row carrying the count
 * when the window has closed: seen at the address's next failure, by the
 * periodic estd_audit_limiter_take_closed, or at shutdown. The sum of the
 * rows' count column is then the number of failures.
 *
 * This counts audit rows only; it decides nothing about who may log in.
 * Thread-safe (one mutex); memory bounded by ESTD_AUDIT_LIMITER_SLOTS. */
#ifndef ESTD_AUDIT_LIMITER_H
#define ESTD_AUDIT_LIMITER_H

#include <stdint.h>
#include "estkit.h"

/* Addresses tracked at once. When all are in use, the oldest window is
 * closed early (its count handed out for writing) to make room: a flood
 * from more addresses than this costs more rows, never more memory. */
#define ESTD_AUDIT_LIMITER_SLOTS 4096
#define ESTD_AUDIT_ADDRESS_MAX 64 /* an IPv6 literal with zone fits */

typedef struct estd_audit_limiter estd_audit_limiter;

/* A closed window whose counted failures are to be written. */
#define ESTD_AUDIT_EVENT_MAX 31

typedef struct estd_audit_window {
    char address[ESTD_AUDIT_ADDRESS_MAX];
    char event[ESTD_AUDIT_EVENT_MAX + 1]; /* "auth-fail", "auth-throttled": a window each */
    char label[EST_LABEL_MAX + 1]; /* CA label of the window's first failure */
    int64_t start;                 /* Unix seconds */
    unsigned counted;              /* failures after the first one; > 0 */
} estd_audit_window;

typedef enum estd_audit_verdict {
    ESTD_AUDIT_WRITE = 0,   /* first failure of a window: write its row now */
    ESTD_AUDIT_COUNTED = 1, /* counted into the open window: no row now */
} estd_audit_verdict;

/* window_seconds 0: every failure is written (no counting). NULL when out
 * of memory. */
estd_audit_limiter *estd_audit_limiter_new(unsigned window_seconds);
void estd_audit_limiter_free(estd_audit_limiter *limiter); /* NULL ok */

/* A failure (event) from address (for label) at now. *closed_out is set to 1 and
 * *closed filled when this call closed a window with counted failures (the
 * address's own expired window, or the oldest one evicted for room). */
estd_audit_verdict estd_audit_limiter_hit(estd_audit_limiter *limiter, const char *address,
                                          const char *event, const char *label, int64_t now,
                                          estd_audit_window *closed, int *closed_out);

/* Closes the windows that ended by now (every window when now is
 * INT64_MAX, at shutdown) and copies up to cap of those with counted
 * failures to out. Returns how many were copied; call again while it
 * returns cap. */
size_t estd_audit_limiter_take_closed(estd_audit_limiter *limiter, int64_t now,
                                      estd_audit_window *out, size_t cap);

unsigned estd_audit_limiter_window(const estd_audit_limiter *limiter);

#endif
