/* Tests src/lib/csr_build.c: the CSR a client builds (read back with the
 * server's own parser and checks). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include "client_internal.h"
#include "estkit/auth.h"
#include "estkit/body.h"
#include "estkit/key.h"
#include "estkit/csr.h"
#include "estkit/name.h"
#include "estkit/mem.h"
#include "estkit/csrattrs.h"
#include "ca_fixture.h"
#include "unit_main.h"

/* Signs with params, re-parses the DER and runs the server's checks. */
static X509_REQ *build_and_reparse(const est_csr_params *p)
{
    X509_REQ *req = NULL, *back = NULL;
    unsigned char *der = NULL;
    est_profile profile;
    est_error err;
    int len;

    if (est_csr_build(p, &req, &err) != EST_OK)
        fail_msg("build: %s", err.message);
    len = i2d_X509_REQ(req, &der);
    assert_true(len > 0);
    assert_int_equal(est_csr_parse(der, (size_t)len, &back, &err), EST_OK);
    est_profile_default(&profile);
    if (est_csr_check(back, &profile, &err) != EST_OK)
        fail_msg("check: %s", err.message);
    OPENSSL_free(der);
    X509_REQ_free(req);
    return back;
}

static void csr_carries_subject_san_and_attributes(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    GENERAL_NAMES *san = NULL;
    X509_NAME *name = NULL;
    est_csr_params p = {.key = key, .challenge_password = "c2VjcmV0LWJpbmRpbmc+/w==",
                        .mac_address = "00:11:22:33:44:55"};
    X509_REQ *req;
    GENERAL_NAMES *back_san;
    char *cp = NULL, subject[128];
    ASN1_OBJECT *mac = OBJ_txt2obj("1.3.6.1.1.1.1.22", 1);
    int idx;
    ASN1_TYPE *v;

    (void)state;
    assert_int_equal(est_name_parse("CN=device-1,O=Example", &name, NULL), EST_OK);
    assert_int_equal(est_san_parse("DNS:dev1.example,IP:10.0.0.1", &san, NULL), EST_OK);
    p.subject = name;
    p.san = san;
    req = build_and_reparse(&p);
    X509_NAME_oneline(X509_REQ_get_subject_name(req), subject, sizeof subject);
    assert_string_equal(subject, "/CN=device-1/O=Example");
    back_san = est_csr_get1_san(req);
    assert_non_null(back_san);
    assert_int_equal(sk_GENERAL_NAME_num(back_san), 2);
    assert_int_equal(GENERAL_NAME_cmp(sk_GENERAL_NAME_value(back_san, 0),
                                      sk_GENERAL_NAME_value(san, 0)), 0);
    assert_int_equal(est_csr_get_challenge_password(req, &cp, NULL), EST_OK);
    assert_string_equal(cp, "c2VjcmV0LWJpbmRpbmc+/w==");
    idx = X509_REQ_get_attr_by_OBJ(req, mac, -1);
    assert_true(idx >= 0);
    v = X509_ATTRIBUTE_get0_type(X509_REQ_get_attr(req, idx), 0);
    assert_int_equal(v->type, V_ASN1_IA5STRING);
    assert_memory_equal(ASN1_STRING_get0_data(v->value.ia5string), "00:11:22:33:44:55", 17);
    est_secret_free(cp);
    ASN1_OBJECT_free(mac);
    GENERAL_NAMES_free(back_san);
    X509_REQ_free(req);
    GENERAL_NAMES_free(san);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
}

static void csr_without_extras_has_none(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_NAME *name = NULL;
    est_csr_params p = {.key = key};
    X509_REQ *req;
    char *cp = NULL;

    (void)state;
    assert_int_equal(est_name_parse("CN=plain", &name, NULL), EST_OK);
    p.subject = name;
    req = build_and_reparse(&p);
    /* draft-04 §3.5: no binding, no challengePassword at all. */
    assert_int_equal(est_csr_get_challenge_password(req, &cp, NULL), EST_E_NOT_FOUND);
    assert_null(est_csr_get1_san(req));
    assert_int_equal(X509_REQ_get_attr_count(req), 0);
    X509_REQ_free(req);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
}

static int signature_nid(X509_REQ *req)
{
    const X509_ALGOR *alg = NULL;

    X509_REQ_get0_signature(req, NULL, &alg);
    return OBJ_obj2nid(alg->algorithm);
}

static void csr_digest_follows_params_and_key(void **state)
{
    EVP_PKEY *ec = ca_fixture_key(EST_KEY_EC_P256), *ed = ca_fixture_key(EST_KEY_ED25519);
    EVP_PKEY *p384 = ca_fixture_key(EST_KEY_EC_P384);
    GENERAL_NAMES *san = NULL;
    est_csr_params p = {0};
    X509_REQ *req;

    (void)state;
    assert_int_equal(est_san_parse("only.example", &san, NULL), EST_OK);
    p.san = san; /* no subject: a SAN alone is enough */
    p.key = ec;
    req = build_and_reparse(&p);
    assert_int_equal(signature_nid(req), NID_ecdsa_with_SHA256);
    X509_REQ_free(req);
    p.md = EVP_sha384(); /* what /csrattrs asked for */
    req = build_and_reparse(&p);
    assert_int_equal(signature_nid(req), NID_ecdsa_with_SHA384);
    X509_REQ_free(req);
    p.md = NULL;
    p.key = p384;
    req = build_and_reparse(&p);
    assert_int_equal(signature_nid(req), NID_ecdsa_with_SHA384);
    X509_REQ_free(req);
    p.md = EVP_sha256(); /* Ed25519 ignores any digest */
    p.key = ed;
    req = build_and_reparse(&p);
    assert_int_equal(signature_nid(req), NID_ED25519);
    X509_REQ_free(req);
    GENERAL_NAMES_free(san);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(p384);
}

static void csr_needs_a_name_and_a_key(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_NAME *empty = X509_NAME_new();
    est_csr_params p = {.key = key, .subject = empty};
    X509_REQ *req = (X509_REQ *)1;
    est_error err;
    char mac[80];

    (void)state;
    assert_int_equal(est_csr_build(&p, &req, &err), EST_E_INPUT);
    assert_null(req);
    p.key = NULL;
    assert_int_equal(est_csr_build(&p, &req, &err), EST_E_INTERNAL);
    assert_int_equal(est_csr_build(NULL, &req, &err), EST_E_INTERNAL);
    /* macAddress: 64 characters pass, 65 do not. */
    assert_int_equal(X509_NAME_add_entry_by_txt(empty, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"x", -1, -1, 0), 1);
    p.key = key;
    memset(mac, 'a', sizeof mac);
    mac[64] = '\0';
    p.mac_address = mac;
    assert_int_equal(est_csr_build(&p, &req, &err), EST_OK);
    X509_REQ_free(req);
    mac[64] = 'a';
    mac[65] = '\0';
    assert_int_equal(est_csr_build(&p, &req, &err), EST_E_TOO_LARGE);
    X509_NAME_free(empty);
    EVP_PKEY_free(key);
}

UNIT_MAIN(
    cmocka_unit_test(csr_carries_subject_san_and_attributes),
    cmocka_unit_test(csr_without_extras_has_none),
    cmocka_unit_test(csr_digest_follows_params_and_key),
    cmocka_unit_test(csr_needs_a_name_and_a_key))
