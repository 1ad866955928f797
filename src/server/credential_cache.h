/* estd: a cache of recently verified Basic credentials.
 *
 * Verifying a password costs one scrypt run (tens of milliseconds, on
 * purpose). A device that sends Basic credentials with every request would
 * pay it each time, so a successful check is remembered — safely:
 *   - entries are keyed by HMAC-SHA256(per-process random key, user, password,
 *     stored hash): no password or password-equivalent is kept;
 *   - an entry only matches the stored hash it was verified against, so a
 *     password change (new salt, new hash) invalidates it at once;
 *   - entries live at most lifetime seconds; the table is bounded;
 *   - comparison is constant-time. */
#ifndef ESTD_CREDENTIAL_CACHE_H
#define ESTD_CREDENTIAL_CACHE_H

#include <stddef.h>
#include <time.h>
#include "tag_table.h"

typedef struct estd_credential_cache estd_credential_cache;

/* lifetime_seconds 0 disables the cache (every check misses).
 * max_verifying: how many slow password verifications may run at once;
 * beyond that a request is answered 503, so a flood of wrong passwords
 * (which are never cached) cannot occupy every worker. */
estd_credential_cache *estd_credential_cache_new(unsigned lifetime_seconds,
                                                 unsigned max_verifying);
void estd_credential_cache_free(estd_credential_cache *cache);
/* Slow checks running now (for metrics). */
unsigned estd_credential_cache_verifying(estd_credential_cache *cache);

/* 1 when user/password was verified against stored_hash less than lifetime
 * seconds before now. */
int estd_credential_cache_hit(estd_credential_cache *cache, const char *user,
                              const char *password, const char *stored_hash, time_t now);
/* Takes a verification slot: 1 = go ahead (call _verify_end after), 0 =
 * too many running. */
int estd_credential_cache_verify_begin(estd_credential_cache *cache);
void estd_credential_cache_verify_end(estd_credential_cache *cache);

/* The cache's key for these credentials (HMAC-SHA256 under the cache's
 * key), also when caching is off: what single flight coalesces on. 1 on
 * success. */
int estd_credential_cache_tag(estd_credential_cache *cache, const char *user,
                              const char *password, const char *stored_hash,
                              unsigned char tag[ESTD_TAG_LEN]);

/* Remembers a successful verification. */
void estd_credential_cache_put(estd_credential_cache *cache, const char *user,
                               const char *password, const char *stored_hash, time_t now);

#endif
