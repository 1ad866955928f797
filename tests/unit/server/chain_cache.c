/* Tests src/server/chain_cache.c: a verified chain is remembered for the
 * same store and the same leaf only, for at most ESTD_CHAIN_CACHE_SECONDS,
 * and never beyond the validity of a certificate it rests on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <time.h>
#include "ca_fixture.h"
#include "chain_cache.h"
#include "estkit/issue.h"
#include "unit_main.h"

typedef struct fixture {
    est_ca *ca;
    X509 *root, *leaf, *other;
    STACK_OF(X509) *chain; /* leaf, root: what X509_STORE_CTX_get0_chain gives */
    X509_STORE *store, *other_store;
    time_t not_after;      /* the leaf's */
} fixture;

static X509 *issue(est_ca *ca, EVP_PKEY *key, const char *dn)
{
    X509_REQ *csr = ca_fixture_csr(key, dn, NULL, 0);
    X509 *cert = NULL;
    est_error err;

    if (csr == NULL || est_ca_issue(ca, csr, NULL, NULL, &cert, &err) != EST_OK)
        fail_msg("issue %s", dn);
    X509_REQ_free(csr);
    return cert;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    struct tm tm;

    f->ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Chain Cache Root", 30, &f->root, NULL);
    assert_non_null(f->ca);
    f->leaf = issue(f->ca, key, "CN=device-1");
    f->other = issue(f->ca, key, "CN=device-2");
    f->chain = sk_X509_new_null();
    sk_X509_push(f->chain, f->leaf);
    sk_X509_push(f->chain, f->root);
    f->store = X509_STORE_new();
    f->other_store = X509_STORE_new();
    assert_true(ASN1_TIME_to_tm(X509_get0_notAfter(f->leaf), &tm));
    f->not_after = timegm(&tm);
    EVP_PKEY_free(key);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    sk_X509_free(f->chain);
    X509_free(f->leaf);
    X509_free(f->other);
    X509_free(f->root);
    X509_STORE_free(f->store);
    X509_STORE_free(f->other_store);
    est_ca_free(f->ca);
    free(f);
    return 0;
}

static void hits_within_the_lifetime_only(void **state)
{
    fixture *f = *state;
    estd_chain_cache *c = estd_chain_cache_new();
    time_t now = time(NULL);

    assert_non_null(c);
    assert_false(estd_chain_cache_hit(c, f->store, f->leaf, now));
    estd_chain_cache_put(c, f->store, f->leaf, f->chain, now);
    assert_true(estd_chain_cache_hit(c, f->store, f->leaf, now));
    assert_true(estd_chain_cache_hit(c, f->store, f->leaf, now + ESTD_CHAIN_CACHE_SECONDS - 1));
    assert_false(estd_chain_cache_hit(c, f->store, f->leaf, now + ESTD_CHAIN_CACHE_SECONDS));
    estd_chain_cache_free(c);
}

static void other_store_or_leaf_misses(void **state)
{
    fixture *f = *state;
    estd_chain_cache *c = estd_chain_cache_new();
    time_t now = time(NULL);

    estd_chain_cache_put(c, f->store, f->leaf, f->chain, now);
    /* Verified against our CA's store says nothing about the third-party one. */
    assert_false(estd_chain_cache_hit(c, f->other_store, f->leaf, now));
    /* Same issuer, same key, another certificate. */
    assert_false(estd_chain_cache_hit(c, f->store, f->other, now));
    estd_chain_cache_free(c);
}

static void not_remembered_past_a_certificate_expiry(void **state)
{
    fixture *f = *state;
    estd_chain_cache *c = estd_chain_cache_new();
    time_t late = f->not_after - ESTD_CHAIN_CACHE_SECONDS / 2;

    /* The leaf expires before the entry would: verify again every time. */
    estd_chain_cache_put(c, f->store, f->leaf, f->chain, late);
    assert_false(estd_chain_cache_hit(c, f->store, f->leaf, late));
    estd_chain_cache_put(c, f->store, f->leaf, f->chain, late - ESTD_CHAIN_CACHE_SECONDS);
    assert_true(estd_chain_cache_hit(c, f->store, f->leaf, late - ESTD_CHAIN_CACHE_SECONDS));
    estd_chain_cache_free(c);
}

static void null_cache_never_hits(void **state)
{
    fixture *f = *state;

    estd_chain_cache_put(NULL, f->store, f->leaf, f->chain, 1000);
    assert_false(estd_chain_cache_hit(NULL, f->store, f->leaf, 1000));
    estd_chain_cache_free(NULL);
}

UNIT_MAIN_GROUP(setup, teardown,
    cmocka_unit_test(hits_within_the_lifetime_only),
    cmocka_unit_test(other_store_or_leaf_misses),
    cmocka_unit_test(not_remembered_past_a_certificate_expiry),
    cmocka_unit_test(null_cache_never_hits))
