/* estd: a cache of client certificate chains that verified.
 *
 * A keep-alive client presents the same certificate on every request, and
 * RFC 5280 path validation of it costs about as much as the enrollment's
 * own signature check. A success is remembered, safely:
 *   - keyed by SHA-256 of (trust store identity, leaf certificate DER): the
 *     TLS handshake proved possession of exactly that certificate's key, so
 *     the same bytes get the same verdict against the same store;
 *   - a store's identity is its address; a reload (reload.c) builds new
 *     stores and clears the cache when it swaps them in and again when it
 *     frees the old ones, so a verdict cannot outlive its anchors, nor be
 *     found under a reused address;
 *   - entries live at most ESTD_CHAIN_CACHE_SECONDS, and are not made when
 *     any certificate of the verified chain expires sooner;
 *   - failures are never cached, revocation is not cached at all (the
 *     store is asked on every request), the table is bounded. */
#ifndef ESTD_CHAIN_CACHE_H
#define ESTD_CHAIN_CACHE_H

#include <time.h>
#include <openssl/x509.h>
#include "tag_table.h"

#define ESTD_CHAIN_CACHE_SECONDS 60

typedef estd_tag_table estd_chain_cache;

estd_chain_cache *estd_chain_cache_new(void);
void estd_chain_cache_free(estd_chain_cache *cache);

/* 1 when leaf verified against store less than ESTD_CHAIN_CACHE_SECONDS
 * before now (and its chain is still within validity). */
int estd_chain_cache_hit(estd_chain_cache *cache, const X509_STORE *store, X509 *leaf, time_t now);
/* Remembers that leaf verified against store with the given chain (as
 * X509_STORE_CTX_get0_chain returned it: leaf first). */
void estd_chain_cache_put(estd_chain_cache *cache, const X509_STORE *store, X509 *leaf,
                          STACK_OF(X509) *verified_chain, time_t now);

#endif
