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

#define TAG_LEN ESTD_TAG_LEN

struct estd_credential_cache {
    pthread_mutex_t lock; /* guards verifying */
    unsigned lifetime;
    unsigned max_verifying, verifying;
    unsigned char key[32];
    estd_tag_table *verified;
};

estd_credential_cache *estd_credential_cache_new(unsigned lifetime_seconds, unsigned max_verifying)
{
    estd_credential_cache *cache = calloc(1, sizeof *cache);

    if (cache == NULL)
        return NULL;
    if (RAND_bytes(cache->key, sizeof cache->key) != 1 ||
        (cache->verified = estd_tag_table_new()) == NULL) {
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
    estd_tag_table_free(cache->verified);
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

int estd_credential_cache_tag(estd_credential_cache *cache, const char *user,
                              const char *password, const char *stored_hash,
                              unsigned char tag[ESTD_TAG_LEN])
{
    return cache != NULL && tag_make(cache, user, password, stored_hash, tag);
}

int estd_credential_cache_hit(estd_credential_cache *cache, const char *user,
                              const char *password, const char *stored_hash, time_t now)
{
    unsigned char tag[TAG_LEN];
    int hit;

    if (cache == NULL || cache->lifetime == 0 || !tag_make(cache, user, password, stored_hash, tag))
        return 0;
    hit = estd_tag_table_hit(cache->verified, tag, now);
    OPENSSL_cleanse(tag, sizeof tag);
    return hit;
}

void estd_credential_cache_put(estd_credential_cache *cache, const char *user,
                               const char *password, const char *stored_hash, time_t now)
{
    unsigned char tag[TAG_LEN];

    if (cache == NULL || cache->lifetime == 0 || !tag_make(cache, user, password, stored_hash, tag))
        return;
    estd_tag_table_put(cache->verified, tag, now, now + (time_t)cache->lifetime);
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

unsigned estd_credential_cache_verifying(estd_credential_cache *cache)
{
    unsigned n;

    if (cache == NULL)
        return 0;
    pthread_mutex_lock(&cache->lock);
    n = cache->verifying;
    pthread_mutex_unlock(&cache->lock);
    return n;
}
