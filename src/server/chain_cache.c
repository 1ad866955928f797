/* estd: verified client chain cache (see chain_cache.h). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "chain_cache.h"

/* The cache is a tag table; the tag says which chain against which store. */
estd_chain_cache *estd_chain_cache_new(void)
{
    return estd_tag_table_new();
}

void estd_chain_cache_free(estd_chain_cache *cache)
{
    estd_tag_table_free(cache);
}

static int tag_make(const X509_STORE *store, X509 *leaf, unsigned char tag[ESTD_TAG_LEN])
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

int estd_chain_cache_hit(estd_chain_cache *cache, const X509_STORE *store, X509 *leaf, time_t now)
{
    unsigned char tag[ESTD_TAG_LEN];

    return cache != NULL && tag_make(store, leaf, tag) &&
           estd_tag_table_hit(cache, tag, now);
}

void estd_chain_cache_put(estd_chain_cache *cache, const X509_STORE *store, X509 *leaf,
                          STACK_OF(X509) *verified_chain, time_t now)
{
    time_t until = now + ESTD_CHAIN_CACHE_SECONDS;
    unsigned char tag[ESTD_TAG_LEN];

    if (cache == NULL || verified_chain == NULL)
        return;
    /* A verdict must not outlive a certificate it rests on. */
    for (int i = 0; i < sk_X509_num(verified_chain); i++)
        if (X509_cmp_time(X509_get0_notAfter(sk_X509_value(verified_chain, i)), &until) <= 0)
            return;
    if (tag_make(store, leaf, tag))
        estd_tag_table_put(cache, tag, now, until);
}
