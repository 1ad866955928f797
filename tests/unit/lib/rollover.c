/* Tests src/lib/rollover.c: root key rollover links (RFC 4210 §4.4).
 *
 * X509_verify_cert never looks for an issuer of a self-signed target, so
 * "NewWithNew through NewWithOld" is checked the way a relying party that
 * trusts only the old root meets it: NewWithOld verifies against the old
 * root and carries NewWithNew's subject and key, and a certificate the new
 * root issues verifies through NewWithOld. Symmetrically for OldWithNew. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/x509v3.h>
#include "estkit/ca.h"
#include "estkit/key.h"
#include "estkit/signer.h"
#include "estkit/name.h"
#include "estkit/issue.h"
#include "estkit/rollover.h"
#include "ca_internal.h"
#include "ca_fixture.h"
#include "unit_main.h"

typedef ca_fixture_rollover fixture;

/* The old root (P-256, "CN=Root G1,O=Example") and its rollover to a P-384
 * key under new_dn. */
static fixture *make(unsigned old_days, unsigned new_days, const char *new_dn)
{
    fixture *f = ca_fixture_rollover_new(EST_KEY_EC_P256, "CN=Root G1,O=Example", old_days,
                                         EST_KEY_EC_P384, new_dn, new_days);

    assert_non_null(f);
    return f;
}

static X509 *leaf_from(X509 *ca_cert, EVP_PKEY *ca_key)
{
    est_ca *ca = est_ca_new(ca_cert, NULL, NULL, est_signer_new_key(ca_key));
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *csr = ca_fixture_csr(key, "CN=leaf", NULL, 0);
    X509 *leaf = NULL;

    assert_int_equal(est_ca_issue(ca, csr, NULL, NULL, &leaf, NULL), EST_OK);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    est_ca_free(ca);
    return leaf;
}

static STACK_OF(X509) *list_of(X509 *a)
{
    STACK_OF(X509) *list = sk_X509_new_null();
    assert_true(sk_X509_push(list, a));
    return list;
}

static void is_ca(X509 *cert)
{
    int critical = -1;
    BASIC_CONSTRAINTS *bc = ca_fixture_ext(cert, NID_basic_constraints, &critical);
    assert_non_null(bc);
    assert_true(bc->ca);
    assert_int_equal(critical, 1);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_check_ca(cert), 1);
}

static void the_four_certificates_have_the_right_names_and_keys(void **state)
{
    fixture *f = make(3650, 3650, "CN=Root G2,O=Example");
    X509_NAME *old_name = X509_get_subject_name(f->old_root), *new_name = NULL;
    (void)state;

    assert_int_equal(est_name_parse("CN=Root G2,O=Example", &new_name, NULL), EST_OK);
    /* NewWithNew: self-signed new root. */
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(f->new_root), new_name), 0);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(f->new_root), new_name), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(f->new_root), f->new_key), 1);
    assert_int_equal(X509_verify(f->new_root, f->new_key), 1);
    assert_int_equal(X509_get_signature_nid(f->new_root), NID_ecdsa_with_SHA384);
    /* NewWithOld: new subject and key, old issuer, old signature. */
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(f->new_with_old), new_name), 0);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(f->new_with_old), old_name), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(f->new_with_old), f->new_key), 1);
    assert_int_equal(X509_verify(f->new_with_old, f->old_key), 1);
    assert_int_equal(X509_get_signature_nid(f->new_with_old), NID_ecdsa_with_SHA256);
    /* OldWithNew: old subject and key, new issuer, new signature. */
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(f->old_with_new), old_name), 0);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(f->old_with_new), new_name), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(f->old_with_new), f->old_key), 1);
    assert_int_equal(X509_verify(f->old_with_new, f->new_key), 1);
    /* Key identifiers tie the links to the roots. */
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(f->new_with_old),
                                           X509_get0_subject_key_id(f->new_root)),
                     0);
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(f->new_with_old),
                                           X509_get0_subject_key_id(f->old_root)),
                     0);
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(f->old_with_new),
                                           X509_get0_subject_key_id(f->old_root)),
                     0);
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(f->old_with_new),
                                           X509_get0_subject_key_id(f->new_root)),
                     0);
    is_ca(f->new_root);
    is_ca(f->new_with_old);
    is_ca(f->old_with_new);
    X509_NAME_free(new_name);
    ca_fixture_rollover_free(f);
}

/* Trusting only `trusted`: `link` verifies, and through it a leaf that
 * `issuer` (with `key`) signs; without the link, neither that leaf nor
 * `issuer` itself does. */
static void reaches_only_through(X509 *trusted, X509 *link, X509 *issuer, EVP_PKEY *key)
{
    X509 *leaf = leaf_from(issuer, key);
    STACK_OF(X509) *links = list_of(link);

    assert_int_equal(ca_fixture_verify(trusted, NULL, link, NULL), X509_V_OK);
    assert_int_equal(ca_fixture_verify(trusted, links, leaf, NULL), X509_V_OK);
    assert_int_not_equal(ca_fixture_verify(trusted, NULL, leaf, NULL), X509_V_OK);
    assert_int_not_equal(ca_fixture_verify(trusted, NULL, issuer, NULL), X509_V_OK);
    sk_X509_free(links);
    X509_free(leaf);
}

/* Trusting only the old root: NewWithOld verifies, and through it what
 * the new root issues; without it, nothing from the new root does. */
static void old_root_reaches_new_key_through_new_with_old(void **state)
{
    fixture *f = make(3650, 3650, "CN=Root G2,O=Example");
    (void)state;

    reaches_only_through(f->old_root, f->new_with_old, f->new_root, f->new_key);
    ca_fixture_rollover_free(f);
}

/* Trusting only the new root: OldWithNew verifies, and through it what
 * the old root issued before the rollover. */
static void new_root_reaches_old_key_through_old_with_new(void **state)
{
    fixture *f = make(3650, 3650, "CN=Root G2,O=Example");
    (void)state;

    reaches_only_through(f->new_root, f->old_with_new, f->old_root, f->old_key);
    ca_fixture_rollover_free(f);
}

/* The same subject for both generations: key identifiers keep the chains
 * apart. */
static void same_subject_rollover_still_chains(void **state)
{
    fixture *f = make(3650, 3650, NULL);
    X509 *new_leaf = leaf_from(f->new_root, f->new_key), *old_leaf = leaf_from(f->old_root, f->old_key);
    STACK_OF(X509) *to_new = list_of(f->new_with_old), *to_old = list_of(f->old_with_new);
    (void)state;

    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(f->new_root),
                                   X509_get_subject_name(f->old_root)),
                     0);
    assert_int_equal(ca_fixture_verify(f->old_root, to_new, new_leaf, NULL), X509_V_OK);
    assert_int_equal(ca_fixture_verify(f->new_root, to_old, old_leaf, NULL), X509_V_OK);
    sk_X509_free(to_new);
    sk_X509_free(to_old);
    X509_free(new_leaf);
    X509_free(old_leaf);
    ca_fixture_rollover_free(f);
}

static time_t not_after(X509 *cert)
{
    time_t t = 0;
    assert_int_equal(ca_time_to_time_t(X509_get0_notAfter(cert), &t, NULL), EST_OK);
    return t;
}

static time_t not_before(X509 *cert)
{
    time_t t = 0;
    assert_int_equal(ca_time_to_time_t(X509_get0_notBefore(cert), &t, NULL), EST_OK);
    return t;
}

/* Each link lies inside the validity of the root that signs it. */
static void links_never_outlive_their_signer(void **state)
{
    fixture *short_old = make(30, 3650, "CN=Root G2");
    fixture *short_new = make(3650, 30, "CN=Root G2");
    (void)state;

    assert_int_equal(not_after(short_old->new_with_old), not_after(short_old->old_root));
    assert_true(not_after(short_old->new_root) > not_after(short_old->old_root));
    assert_int_equal(not_after(short_new->old_with_new), not_after(short_new->new_root));
    assert_int_equal(not_after(short_new->new_with_old), not_after(short_new->new_root));
    assert_true(not_before(short_new->old_with_new) >= not_before(short_new->new_root));
    assert_true(not_before(short_new->new_with_old) >= not_before(short_new->old_root));
    ca_fixture_rollover_free(short_old);
    ca_fixture_rollover_free(short_new);
}

static void rollover_refuses_bad_input(void **state)
{
    EVP_PKEY *old_key = ca_fixture_key(EST_KEY_EC_P256), *new_key = ca_fixture_key(EST_KEY_EC_P256);
    X509 *old_root = NULL, *a = (X509 *)1, *b = (X509 *)1, *c = (X509 *)1;
    est_error err;
    (void)state;

    assert_int_equal(est_ca_make_root(old_key, "CN=Old", 365, &old_root, NULL), EST_OK);
    /* The "old key" must be the old root's. */
    assert_int_equal(est_ca_rollover(old_root, new_key, old_key, "CN=New", 365, &a, &b, &c, &err),
                     EST_E_CA);
    assert_null(a);
    assert_int_equal(est_ca_rollover(old_root, old_key, old_key, "CN=New", 365, &a, &b, &c, &err),
                     EST_E_INPUT);
    assert_int_equal(est_ca_rollover(old_root, old_key, new_key, "CN=New", 0, &a, &b, &c, &err),
                     EST_E_INPUT);
    assert_int_equal(
        est_ca_rollover(old_root, old_key, new_key, "CN=New", 36501, &a, &b, &c, &err),
        EST_E_INPUT);
    assert_int_equal(est_ca_rollover(old_root, old_key, new_key, "XX=New", 365, &a, &b, &c, &err),
                     EST_E_INPUT);
    assert_null(a);
    assert_null(b);
    assert_null(c);
    X509_free(old_root);
    EVP_PKEY_free(old_key);
    EVP_PKEY_free(new_key);
}

static void expired_old_root_cannot_be_linked(void **state)
{
    EVP_PKEY *old_key = ca_fixture_key(EST_KEY_EC_P256), *new_key = ca_fixture_key(EST_KEY_EC_P256);
    X509_NAME *name = NULL;
    ASN1_OCTET_STRING *id = NULL;
    X509 *old_root = NULL, *a = NULL, *b = NULL, *c = NULL;
    time_t now = time(NULL);
    est_error err;
    (void)state;

    assert_int_equal(est_name_parse("CN=Old", &name, NULL), EST_OK);
    assert_int_equal(ca_key_id(NULL, old_key, &id, NULL), EST_OK);
    assert_int_equal(ca_cert_make_ca(name, name, old_key, now - 10 * 86400, now - 60, id, id,
                                     old_key, &old_root, &err),
                     EST_OK);
    assert_int_equal(est_ca_rollover(old_root, old_key, new_key, "CN=New", 365, &a, &b, &c, &err),
                     EST_E_CA);
    assert_non_null(strstr(err.message, "expired"));
    X509_free(old_root);
    ASN1_OCTET_STRING_free(id);
    X509_NAME_free(name);
    EVP_PKEY_free(old_key);
    EVP_PKEY_free(new_key);
}

UNIT_MAIN(
    cmocka_unit_test(the_four_certificates_have_the_right_names_and_keys),
    cmocka_unit_test(old_root_reaches_new_key_through_new_with_old),
    cmocka_unit_test(new_root_reaches_old_key_through_old_with_new),
    cmocka_unit_test(same_subject_rollover_still_chains),
    cmocka_unit_test(links_never_outlive_their_signer),
    cmocka_unit_test(rollover_refuses_bad_input),
    cmocka_unit_test(expired_old_root_cannot_be_linked))
