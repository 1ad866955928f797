/* estd: verified-credential cache (see credential_cache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include "credential_cache.h"

#define TAG_LEN 32

typedef struct cache_slot {
    unsigned char tag[TAG_LEN];
    time_t verified_at; /* 0 = empty */
} cache_slot;

struct estd_credential_cache {
    pthread_mutex_t lock;
    unsigned lifetime;
    unsigned max_verifying, verifying;
    unsigned char key[32];
    cache_slot slots[ESTD_CREDENTIAL_CACHE_SLOTS];
};

estd_credential_cache *estd_credential_cache_new(unsigned lifetime_seconds, unsigned max_verifying)
{
    estd_credential_cache *cache = calloc(1, sizeof *cache);

    if (cache == NULL)
        return NULL;
    if (RAND_bytes(cache->key, sizeof cache->key) != 1) {
        free(cache);
        return NULL;
    }
    cache->lifetime = lifetime_seconds;
    cache->max_verifying = max_verifying > 0 ? max_verifying : 1;
    pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void estd_credential_cache_free(estd_credential_cache *cache)
{
    if (cache == NULL)
        return;
    pthread_mutex_destroy(&cache->lock);
    OPENSSL_cleanse(cache, sizeof *cache);
    free(cache);
}

/* The NUL separators keep ("ab","c") and ("a","bc") apart. */
static int tag_make(const estd_credential_cache *cache, const char *user, const char *password,
                    const char *stored_hash, unsigned char tag[TAG_LEN])
{
    const char *parts[3] = {user, password, stored_hash};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t out_len = 0;
    int ok = ctx != NULL && EVP_MAC_init(ctx, cache->key, sizeof cache->key, params);

    for (int i = 0; ok && i < 3; i++)
        ok = EVP_MAC_update(ctx, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    ok = ok && EVP_MAC_final(ctx, tag, &out_len, TAG_LEN) && out_len == TAG_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok;
}

static size_t slot_index(const unsigned char tag[TAG_LEN])
{
    size_t v = 0;
    memcpy(&v, tag, sizeof v);
    return v % ESTD_CREDENTIAL_CACHE_SLOTS;
}

int estd_credential_cache_hit(estd_credential_cache *cache, const char *user,
                              const char *password, const char *stored_hash, time_t now)
{
    unsigned char tag[TAG_LEN];
    cache_slot *slot;
    int hit;

    if (cache == NULL || cache->lifetime == 0 || !tag_make(cache, user, password, stored_hash, tag))
        return 0;
    pthread_mutex_lock(&cache->lock);
    slot = &cache->slots[slot_index(tag)];
    hit = slot->verified_at != 0 && now >= slot->verified_at &&
          now - slot->verified_at < (time_t)cache->lifetime &&
          CRYPTO_memcmp(slot->tag, tag, TAG_LEN) == 0;
    pthread_mutex_unlock(&cache->lock);
    OPENSSL_cleanse(tag, sizeof tag);
    return hit;
}

void estd_credential_cache_put(estd_credential_cache *cache, const char *user,
                               const char *password, const char *stored_hash, time_t now)
{
    unsigned char tag[TAG_LEN];
    cache_slot *slot;

    if (cache == NULL || cache->lifetime == 0 || !tag_make(cache, user, password, stored_hash, tag))
        return;
    pthread_mutex_lock(&cache->lock);
    slot = &cache->slots[slot_index(tag)];
    memcpy(slot->tag, tag, TAG_LEN);
    slot->verified_at = now;
    pthread_mutex_unlock(&cache->lock);
    OPENSSL_cleanse(tag, sizeof tag);
}

int estd_credential_cache_verify_begin(estd_credential_cache *cache)
{
    int ok;

    if (cache == NULL)
        return 1;
    pthread_mutex_lock(&cache->lock);
    ok = cache->verifying < cache->max_verifying;
    if (ok)
        cache->verifying++;
    pthread_mutex_unlock(&cache->lock);
    return ok;
}

void estd_credential_cache_verify_end(estd_credential_cache *cache)
{
    if (cache == NULL)
        return;
    pthread_mutex_lock(&cache->lock);
    if (cache->verifying > 0)
        cache->verifying--;
    pthread_mutex_unlock(&cache->lock);
}
