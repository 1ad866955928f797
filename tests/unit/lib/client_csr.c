/* Tests src/lib/client_csr.c: the CSR the client builds (read back with
 * the server's own parser and checks), subjectAltName parsing, and what a
 * /csrattrs answer asks of the key (draft-04 §4.5.2, seed vectors
 * included: 1.3.132.0.4 is sect113r1 and must never mean P-384). */
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
#include "ca_fixture.h"

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

static int gen_type(GENERAL_NAMES *names, int i)
{
    return sk_GENERAL_NAME_value(names, i)->type;
}

static void san_forms(void **state)
{
    GENERAL_NAMES *names = NULL;
    est_error err;

    (void)state;
    assert_int_equal(est_san_parse("dns:a.example, ip:192.0.2.1,IP:2001:db8::1", &names, &err),
                     EST_OK);
    assert_int_equal(est_san_parse("email:x@example.com,URI:https://x.example/,rid:1.2.3", &names,
                                   &err), EST_OK);
    assert_int_equal(est_san_parse("bare.example,198.51.100.7,::1", &names, &err), EST_OK);
    assert_int_equal(sk_GENERAL_NAME_num(names), 9);
    assert_int_equal(gen_type(names, 0), GEN_DNS);
    assert_int_equal(gen_type(names, 1), GEN_IPADD);
    assert_int_equal(gen_type(names, 2), GEN_IPADD);
    assert_int_equal(gen_type(names, 3), GEN_EMAIL);
    assert_int_equal(gen_type(names, 4), GEN_URI);
    assert_int_equal(gen_type(names, 5), GEN_RID);
    assert_int_equal(gen_type(names, 6), GEN_DNS);
    assert_int_equal(gen_type(names, 7), GEN_IPADD);
    assert_int_equal(gen_type(names, 8), GEN_IPADD);
    GENERAL_NAMES_free(names);
}

static void san_malformed(void **state)
{
    GENERAL_NAMES *names = NULL;
    char big[5000];
    est_error err;

    (void)state;
    assert_int_equal(est_san_parse("foo:bar", &names, &err), EST_E_INPUT);
    assert_null(names);
    assert_int_equal(est_san_parse("IP:999.1.1.1", &names, &err), EST_E_INPUT);
    assert_int_equal(est_san_parse("DNS:", &names, &err), EST_E_INPUT);
    assert_int_equal(est_san_parse(" , ,", &names, &err), EST_E_INPUT);
    assert_int_equal(est_san_parse("", &names, &err), EST_E_INPUT);
    assert_null(names);
    memset(big, 'a', sizeof big);
    big[4097] = '\0';
    assert_int_equal(est_san_parse(big, &names, &err), EST_E_TOO_LARGE);
    /* A failure after a success keeps what the caller already had. */
    assert_int_equal(est_san_parse("ok.example", &names, &err), EST_OK);
    assert_int_equal(est_san_parse("foo:bar", &names, &err), EST_E_INPUT);
    assert_int_equal(sk_GENERAL_NAME_num(names), 1);
    GENERAL_NAMES_free(names);
}

static void san_count_limit(void **state)
{
    GENERAL_NAMES *names = NULL;
    char item[32];
    est_error err;

    (void)state;
    for (int i = 0; i < EST_SAN_MAX_NAMES; i++) {
        snprintf(item, sizeof item, "n%d.example", i);
        assert_int_equal(est_san_parse(item, &names, &err), EST_OK);
    }
    assert_int_equal(sk_GENERAL_NAME_num(names), EST_SAN_MAX_NAMES);
    assert_int_equal(est_san_parse("one.too.many", &names, &err), EST_E_TOO_LARGE);
    assert_int_equal(sk_GENERAL_NAME_num(names), EST_SAN_MAX_NAMES);
    GENERAL_NAMES_free(names);
}

static est_csrattrs *attrs_from_b64(const char *b64)
{
    uint8_t *der = NULL;
    size_t len = 0;
    est_csrattrs *attrs = NULL;

    assert_int_equal(est_body_decode((const uint8_t *)b64, strlen(b64), &der, &len, NULL, NULL),
                     EST_OK);
    assert_int_equal(est_csrattrs_decode(der, len, &attrs, NULL), EST_OK);
    free(der);
    return attrs;
}

static void seed_vector_wishes(void **state)
{
    /* macAddress, challengePassword, 1.3.132.0.4 (sect113r1), sha384. */
    est_csrattrs *attrs =
        attrs_from_b64("MCYGBysGAQEBARYGCSqGSIb3DQEJBwYFK4EEAAQGCWCGSAFlAwQCAg==");
    est_key_type type = EST_KEY_RSA_4096;
    const EVP_MD *md = NULL;
    int set = 1;

    (void)state;
    est_csrattrs_key_wishes(attrs, &set, &type, &md);
    assert_int_equal(set, 0); /* never P-384 from the erratum OID */
    assert_ptr_equal(md, EVP_sha384());
    assert_true(est_csrattrs_has_nid(attrs, NID_pkcs9_challengePassword));
    est_csrattrs_free(attrs);
}

static void wishes(est_csrattrs *attrs, int want_set, est_key_type want)
{
    est_key_type type = EST_KEY_ED25519;
    const EVP_MD *md;
    int set = 0;

    est_csrattrs_key_wishes(attrs, &set, &type, &md);
    assert_int_equal(set, want_set);
    if (want_set)
        assert_int_equal(type, want);
}

static X509_ATTRIBUTE *attribute(int nid, int value_type, void *value)
{
    return X509_ATTRIBUTE_create(nid, value_type, value);
}

static void curve_and_algorithm_wishes(void **state)
{
    est_csrattrs *a = est_csrattrs_new(), *b = est_csrattrs_new(), *c = est_csrattrs_new();
    est_csrattrs *d = est_csrattrs_new();
    ASN1_INTEGER *bits = ASN1_INTEGER_new();

    (void)state;
    /* Bare OIDs in either order: the curve says more than the algorithm. */
    assert_int_equal(est_csrattrs_add_oid(a, "secp384r1", NULL), EST_OK);
    assert_int_equal(est_csrattrs_add_oid(a, "id-ecPublicKey", NULL), EST_OK);
    wishes(a, 1, EST_KEY_EC_P384);
    assert_int_equal(est_csrattrs_add_oid(b, "id-ecPublicKey", NULL), EST_OK);
    wishes(b, 1, EST_KEY_EC_P256);
    assert_int_equal(est_csrattrs_add_oid(b, "1.3.132.0.34", NULL), EST_OK);
    wishes(b, 1, EST_KEY_EC_P384);
    /* RFC 7030 attribute forms. */
    assert_int_equal(est_csrattrs_add_attribute(c, attribute(NID_X9_62_id_ecPublicKey,
                     V_ASN1_OBJECT, OBJ_nid2obj(NID_secp384r1)), NULL), EST_OK);
    wishes(c, 1, EST_KEY_EC_P384);
    ASN1_INTEGER_set(bits, 3072);
    assert_int_equal(est_csrattrs_add_attribute(d, attribute(NID_rsaEncryption, V_ASN1_INTEGER,
                                                             bits), NULL), EST_OK);
    wishes(d, 1, EST_KEY_RSA_3072);
    wishes(NULL, 0, EST_KEY_EC_P256);
    est_csrattrs_free(a);
    est_csrattrs_free(b);
    est_csrattrs_free(c);
    est_csrattrs_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csr_carries_subject_san_and_attributes),
        cmocka_unit_test(csr_without_extras_has_none),
        cmocka_unit_test(csr_digest_follows_params_and_key),
        cmocka_unit_test(csr_needs_a_name_and_a_key),
        cmocka_unit_test(san_forms),
        cmocka_unit_test(san_malformed),
        cmocka_unit_test(san_count_limit),
        cmocka_unit_test(seed_vector_wishes),
        cmocka_unit_test(curve_and_algorithm_wishes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
