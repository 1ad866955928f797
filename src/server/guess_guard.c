/* estd: guessing countermeasures (see guess_guard.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include "guess_guard.h"

#define TAG_LEN 32
#define SETS (ESTD_GUESS_SLOTS / ESTD_GUESS_WAYS)
_Static_assert(ESTD_GUESS_SLOTS % ESTD_GUESS_WAYS == 0, "whole sets");

/* What an entry counts: failures of a user name, failures from an address,
 * or the recent success of one (user, address) pair. */
typedef enum entry_kind { KIND_USER = 'u', KIND_ADDR = 'a', KIND_PAIR = 'p' } entry_kind;

typedef struct guess_entry {
    unsigned char tag[TAG_LEN];
    int used;
    unsigned failures;      /* since the last quiet period or lock */
    unsigned pending;       /* checks let through, outcome not reported yet */
    time_t last_failure;    /* 0 = none */
    time_t locked_at;       /* user names only; 0 = never locked */
    time_t locked_until;    /* locked while now < locked_until */
    time_t succeeded_until; /* pairs only: the pair is trusted until then */
} guess_entry;

struct estd_guess_guard {
    pthread_mutex_t lock;
    estd_guess_limits limits;
    EVP_MAC *mac;
    unsigned char key[32];
    guess_entry entries[ESTD_GUESS_SLOTS];
};

estd_guess_guard *estd_guess_guard_new(const estd_guess_limits *limits)
{
    estd_guess_guard *guard = calloc(1, sizeof *guard);

    if (guard == NULL)
        return NULL;
    guard->limits = *limits;
    if (RAND_bytes(guard->key, sizeof guard->key) != 1 ||
        (guard->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
        pthread_mutex_init(&guard->lock, NULL) != 0) {
        EVP_MAC_free(guard->mac);
        OPENSSL_cleanse(guard->key, sizeof guard->key);
        free(guard);
        return NULL;
    }
    return guard;
}

void estd_guess_guard_free(estd_guess_guard *guard)
{
    if (guard == NULL)
        return;
    pthread_mutex_destroy(&guard->lock);
    EVP_MAC_free(guard->mac);
    OPENSSL_cleanse(guard, sizeof *guard);
    free(guard);
}

/* HMAC(key, kind || user || NUL || addr || NUL): the NULs keep ("ab","c")
 * and ("a","bc") apart; a keyed hash keeps anyone from choosing names that
 * share a set. */
static int tag_make(const estd_guess_guard *guard, entry_kind kind, const char *user,
                    const char *addr, unsigned char tag[TAG_LEN])
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(guard->mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    unsigned char k = (unsigned char)kind;
    size_t out_len = 0;
    int ok = ctx != NULL && EVP_MAC_init(ctx, guard->key, sizeof guard->key, params) &&
             EVP_MAC_update(ctx, &k, 1) &&
             EVP_MAC_update(ctx, (const unsigned char *)user, strlen(user) + 1) &&
             EVP_MAC_update(ctx, (const unsigned char *)addr, strlen(addr) + 1) &&
             EVP_MAC_final(ctx, tag, &out_len, TAG_LEN) && out_len == TAG_LEN;

    EVP_MAC_CTX_free(ctx);
    return ok;
}

static time_t last_activity(const guess_entry *e)
{
    time_t t = e->last_failure;

    if (e->locked_until > t)
        t = e->locked_until;
    if (e->succeeded_until > t)
        t = e->succeeded_until;
    return t;
}

/* The entry for tag, or (create) a fresh one in its set: an empty way,
 * else the least valuable one - never one with checks in flight, unlocked
 * before locked, then the longest idle. NULL when not found (or the whole
 * set has checks in flight). Under guard->lock. */
static guess_entry *entry_find(estd_guess_guard *guard, const unsigned char tag[TAG_LEN],
                               int create)
{
    size_t index = 0;
    guess_entry *set, *victim = NULL;

    memcpy(&index, tag, sizeof index);
    set = &guard->entries[(index % SETS) * ESTD_GUESS_WAYS];
    for (int i = 0; i < ESTD_GUESS_WAYS; i++)
        if (set[i].used && CRYPTO_memcmp(set[i].tag, tag, TAG_LEN) == 0)
            return &set[i];
    if (!create)
        return NULL;
    for (int i = 0; i < ESTD_GUESS_WAYS; i++) {
        guess_entry *e = &set[i];
        if (!e->used) {
            victim = e;
            break;
        }
        if (e->pending > 0)
            continue;
        if (victim == NULL || (victim->locked_until != 0) > (e->locked_until != 0) ||
            ((victim->locked_until != 0) == (e->locked_until != 0) &&
             last_activity(e) < last_activity(victim)))
            victim = e;
    }
    if (victim != NULL) {
        memset(victim, 0, sizeof *victim);
        memcpy(victim->tag, tag, TAG_LEN);
        victim->used = 1;
    }
    return victim;
}

/* Forgets what has expired: a lock that ran out, or failures after a
 * quiet period of lock_seconds. An unlock by the operator (unlocked_at)
 * lifts a lock or back-off that began no later than it. */
static void entry_age(const estd_guess_guard *guard, guess_entry *e, int64_t unlocked_at,
                      time_t now)
{
    time_t began = e->locked_at > e->last_failure ? e->locked_at : e->last_failure;

    if (e->locked_until != 0 && now >= e->locked_until)
        e->locked_until = 0;
    if (e->pending == 0 && e->last_failure != 0 &&
        now - e->last_failure >= (time_t)guard->limits.lock_seconds)
        e->failures = 0;
    if (unlocked_at != 0 && began != 0 && unlocked_at >= (int64_t)began) {
        e->locked_until = 0;
        e->failures = 0;
    }
}

/* Seconds to wait after the k-th failure: 0 for the free ones, then 1, 2,
 * 4, ... up to delay_max. */
static time_t backoff(const estd_guess_limits *limits, unsigned failures)
{
    unsigned past = failures - limits->delay_after;

    if (failures < limits->delay_after)
        return 0;
    if (past >= 31 || (1u << past) > limits->delay_max_seconds)
        return limits->delay_max_seconds;
    return (time_t)1 << past;
}

/* GO, or DELAYED with *retry_after. Within the free allowance anything
 * goes (a fleet of devices sharing one name logs in at once); beyond it
 * only one check at a time, after its wait. */
static estd_guess_verdict entry_gate(const estd_guess_limits *limits, const guess_entry *e,
                                     time_t now, unsigned *retry_after)
{
    time_t ready;

    if (e->failures < limits->delay_after)
        return ESTD_GUESS_GO;
    if (e->pending > 0) {
        *retry_after = 1;
        return ESTD_GUESS_DELAYED;
    }
    ready = e->last_failure + backoff(limits, e->failures);
    if (now >= ready)
        return ESTD_GUESS_GO;
    *retry_after = (unsigned)(ready - now);
    return ESTD_GUESS_DELAYED;
}

static int pair_trusted(estd_guess_guard *guard, const char *user, const char *addr, time_t now)
{
    unsigned char tag[TAG_LEN];
    guess_entry *pair;

    if (!tag_make(guard, KIND_PAIR, user, addr, tag))
        return 0;
    pair = entry_find(guard, tag, 0);
    return pair != NULL && now < pair->succeeded_until;
}

estd_guess_verdict estd_guess_guard_check(estd_guess_guard *guard, const char *user,
                                          const char *addr, int trusted, int64_t unlocked_at,
                                          time_t now, unsigned *retry_after)
{
    unsigned char user_tag[TAG_LEN], addr_tag[TAG_LEN];
    guess_entry *u, *a = NULL;
    estd_guess_verdict verdict = ESTD_GUESS_DELAYED;

    *retry_after = 1;
    if (guard == NULL || guard->limits.delay_after == 0)
        return ESTD_GUESS_GO;
    /* Fail closed: without a tag there is no counting. */
    if (!tag_make(guard, KIND_USER, user, "", user_tag) ||
        !tag_make(guard, KIND_ADDR, "", addr, addr_tag))
        return ESTD_GUESS_DELAYED;
    pthread_mutex_lock(&guard->lock);
    /* u holds a reservation while a is found, so a cannot evict it. */
    if ((u = entry_find(guard, user_tag, 1)) != NULL) {
        u->pending++;
        a = entry_find(guard, addr_tag, 1);
        u->pending--;
    }
    if (u == NULL || a == NULL)
        goto out; /* every way of a set has a check in flight: a flood */
    entry_age(guard, u, unlocked_at, now);
    entry_age(guard, a, 0, now);
    if (u->locked_until != 0) {
        *retry_after = (unsigned)(u->locked_until - now);
        verdict = ESTD_GUESS_LOCKED;
        goto out;
    }
    trusted = trusted || pair_trusted(guard, user, addr, now);
    if (!trusted && (verdict = entry_gate(&guard->limits, a, now, retry_after)) != ESTD_GUESS_GO)
        goto out;
    if (!trusted && (verdict = entry_gate(&guard->limits, u, now, retry_after)) != ESTD_GUESS_GO)
        goto out;
    u->pending++;
    a->pending++;
    verdict = ESTD_GUESS_GO;
out:
    pthread_mutex_unlock(&guard->lock);
    OPENSSL_cleanse(user_tag, sizeof user_tag);
    return verdict;
}

/* Under guard->lock. Returns 1 when the failure locked the entry. */
static int entry_settle(const estd_guess_limits *limits, guess_entry *e, int is_user,
                        estd_guess_outcome outcome, time_t now)
{
    if (e == NULL)
        return 0; /* evicted meanwhile (only idle entries are: not this one) */
    if (e->pending > 0)
        e->pending--;
    if (outcome != ESTD_GUESS_FAILED)
        return 0;
    e->failures++;
    e->last_failure = now;
    if (!is_user || limits->lock_after == 0 || e->failures < limits->lock_after)
        return 0;
    e->locked_at = now;
    e->locked_until = now + (time_t)limits->lock_seconds;
    e->failures = 0;
    return 1;
}

int estd_guess_guard_report(estd_guess_guard *guard, const char *user, const char *addr,
                            estd_guess_outcome outcome, time_t now)
{
    unsigned char user_tag[TAG_LEN], addr_tag[TAG_LEN], pair_tag[TAG_LEN];
    int locked = 0;

    if (guard == NULL || guard->limits.delay_after == 0 ||
        !tag_make(guard, KIND_USER, user, "", user_tag) ||
        !tag_make(guard, KIND_ADDR, "", addr, addr_tag) ||
        !tag_make(guard, KIND_PAIR, user, addr, pair_tag))
        return 0;
    pthread_mutex_lock(&guard->lock);
    locked = entry_settle(&guard->limits, entry_find(guard, user_tag, 0), 1, outcome, now);
    entry_settle(&guard->limits, entry_find(guard, addr_tag, 0), 0, outcome, now);
    if (outcome == ESTD_GUESS_SUCCEEDED) {
        guess_entry *pair = entry_find(guard, pair_tag, 1);
        if (pair != NULL)
            pair->succeeded_until = now + (time_t)guard->limits.lock_seconds;
    }
    pthread_mutex_unlock(&guard->lock);
    return locked;
}
