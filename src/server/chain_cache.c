/* estd: verified client chain cache (see chain_cache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "chain_cache.h"

#define TAG_LEN 32

typedef struct chain_slot {
    unsigned char tag[TAG_LEN];
    time_t expires; /* 0 = empty */
} chain_slot;

struct estd_chain_cache {
    pthread_mutex_t lock;
    chain_slot slots[ESTD_CHAIN_CACHE_SLOTS];
};

estd_chain_cache *estd_chain_cache_new(void)
{
    estd_chain_cache *cache = calloc(1, sizeof *cache);

    if (cache != NULL)
        pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void estd_chain_cache_free(estd_chain_cache *cache)
{
    if (cache == NULL)
        return;
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

static int tag_make(const X509_STORE *store, X509 *leaf, unsigned char tag[TAG_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int der_len = i2d_X509(leaf, &der), ok;

    ok = md != NULL && der_len > 0 && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(md, &store, sizeof store) && EVP_DigestUpdate(md, der, (size_t)der_len) &&
         EVP_DigestFinal_ex(md, tag, NULL);
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    return ok;
}

static chain_slot *slot_for(estd_chain_cache *cache, const unsigned char tag[TAG_LEN])
{
    size_t v = 0;

    memcpy(&v, tag, sizeof v);
    return &cache->slots[v % ESTD_CHAIN_CACHE_SLOTS];
}

int estd_chain_cache_hit(estd_chain_cache *cache, const X509_STORE *store, X509 *leaf, time_t now)
{
    unsigned char tag[TAG_LEN];
    chain_slot *slot;
    int hit;

    if (cache == NULL || !tag_make(store, leaf, tag))
        return 0;
    pthread_mutex_lock(&cache->lock);
    slot = slot_for(cache, tag);
    hit = slot->expires != 0 && now < slot->expires &&
          CRYPTO_memcmp(slot->tag, tag, TAG_LEN) == 0;
    pthread_mutex_unlock(&cache->lock);
    return hit;
}

void estd_chain_cache_put(estd_chain_cache *cache, const X509_STORE *store, X509 *leaf,
                          STACK_OF(X509) *verified_chain, time_t now)
{
    time_t expires = now + ESTD_CHAIN_CACHE_SECONDS;
    unsigned char tag[TAG_LEN];
    chain_slot *slot;

    if (cache == NULL || verified_chain == NULL)
        return;
    /* A verdict must not outlive a certificate it rests on. */
    for (int i = 0; i < sk_X509_num(verified_chain); i++)
        if (X509_cmp_time(X509_get0_notAfter(sk_X509_value(verified_chain, i)), &expires) <= 0)
            return;
    if (!tag_make(store, leaf, tag))
        return;
    pthread_mutex_lock(&cache->lock);
    slot = slot_for(cache, tag);
    memcpy(slot->tag, tag, TAG_LEN);
    slot->expires = expires;
    pthread_mutex_unlock(&cache->lock);
}
