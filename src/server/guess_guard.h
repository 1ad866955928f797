/* estd: countermeasures against password guessing (draft-04 §3.3.3: "the
 * server SHOULD ... implement countermeasures against password guessing";
 * applied to Basic and Digest alike).
 *
 * Failed password checks are counted per user name and per client address.
 * The first delay_after failures are free (people mistype); after that the
 * next check waits an exponential back-off (1 s, 2 s, 4 s, ... at most
 * delay_max seconds after the last failure); an attempt that comes sooner
 * is refused WITHOUT running the password hash, so a flood of guesses
 * costs the server nothing and earns the attacker nothing. lock_after
 * failures of one user name lock it for lock_seconds (or until
 * `estd user unlock`). An address is never locked, only slowed.
 *
 * Who is not slowed:
 *   - other accounts: counters are per user name, and the address counter
 *     is skipped for a (user, address) pair that succeeded in the last
 *     lock_seconds and for clients the caller vouches for (a verified
 *     client certificate);
 *   - that same recently successful pair also skips its user's back-off,
 *     so the legitimate device keeps its slot while someone elsewhere
 *     guesses its password (a lock still applies to everyone: that is
 *     what a lock is for).
 *
 * Concurrency: a check that is let through holds a reservation until its
 * outcome is reported. Past the free allowance a name or address with a
 * check in flight gets no second one, so N threads firing at once get no
 * more real checks there than one thread would; within the allowance
 * checks run side by side (devices sharing a name start together), so a
 * first burst may overshoot the allowance by the checks it had in flight.
 *
 * Memory is bounded: entries live in ESTD_GUESS_SLOTS slots, 4-way set
 * associative, keyed by HMAC-SHA256(per-process key, kind, name) so
 * nobody can aim names at one set; a full set evicts its least recently
 * failed entry. Locks are kept in memory: a restart clears them. */
#ifndef ESTD_GUESS_GUARD_H
#define ESTD_GUESS_GUARD_H

#include <stdint.h>
#include <time.h>

#define ESTD_GUESS_SLOTS 16384
#define ESTD_GUESS_WAYS 4
#define ESTD_GUESS_BACKOFF_MAX_SECONDS 86400

typedef struct estd_guess_limits {
    unsigned delay_after;       /* free failures before back-off; 0 = guard off */
    unsigned lock_after;        /* failures of one user name that lock it; 0 = never */
    unsigned lock_seconds;      /* how long a lock lasts; also the memory of a failure */
    unsigned delay_max_seconds; /* the back-off's ceiling */
} estd_guess_limits;

typedef enum estd_guess_verdict {
    ESTD_GUESS_GO = 0,  /* check the password, then report the outcome */
    ESTD_GUESS_DELAYED, /* too soon after failures: refuse without checking */
    ESTD_GUESS_LOCKED,  /* the user name is locked: refuse without checking */
} estd_guess_verdict;

typedef enum estd_guess_outcome {
    ESTD_GUESS_FAILED = 0,    /* a real check said no */
    ESTD_GUESS_SUCCEEDED = 1, /* a real check said yes */
    ESTD_GUESS_ABANDONED = 2, /* no check ran after all (e.g. no slot free) */
} estd_guess_outcome;

typedef struct estd_guess_guard estd_guess_guard;

/* NULL on failure. A guard with delay_after 0 lets everything through. */
estd_guess_guard *estd_guess_guard_new(const estd_guess_limits *limits);
void estd_guess_guard_free(estd_guess_guard *guard); /* NULL ok */

/* Before a password check for user from addr. trusted: the client proved
 * something else (a verified certificate), skip the address counter.
 * unlocked_at: when `estd user unlock` last ran for user (0 = never); a
 * lock older than that is lifted. On ESTD_GUESS_GO the caller MUST report
 * the outcome with estd_guess_guard_report; otherwise *retry_after says
 * when to come back (seconds, >= 1). A NULL guard always says GO. */
estd_guess_verdict estd_guess_guard_check(estd_guess_guard *guard, const char *user,
                                          const char *addr, int trusted, int64_t unlocked_at,
                                          time_t now, unsigned *retry_after);

/* The outcome of a check that was let through. Returns 1 when this
 * failure locked the user name (for the audit log). */
int estd_guess_guard_report(estd_guess_guard *guard, const char *user, const char *addr,
                            estd_guess_outcome outcome, time_t now);

#endif
