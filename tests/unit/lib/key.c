/* Tests src/lib/key.c: key type names, generation of every type, digests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "estkit/ca.h"

static const est_key_type all_types[] = {EST_KEY_EC_P256,  EST_KEY_EC_P384,  EST_KEY_RSA_2048,
                                         EST_KEY_RSA_3072, EST_KEY_RSA_4096, EST_KEY_ED25519};

static void type_names_round_trip(void **state)
{
    est_key_type type;
    est_error err;
    (void)state;
    for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
        const char *name = est_key_type_name(all_types[i]);
        assert_int_equal(est_key_type_parse(name, &type, &err), EST_OK);
        assert_int_equal(type, all_types[i]);
    }
    assert_int_equal(est_key_type_parse("EC-P384", &type, &err), EST_OK);
    assert_int_equal(type, EST_KEY_EC_P384);
    assert_string_equal(est_key_type_name(EST_KEY_RSA_3072), "rsa-3072");
    assert_string_equal(est_key_type_name((est_key_type)99), "unknown");
}

static void unknown_type_name_is_input_error(void **state)
{
    est_key_type type = EST_KEY_EC_P256;
    est_error err;
    (void)state;
    assert_int_equal(est_key_type_parse("dsa-1024", &type, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "dsa-1024"));
    assert_int_equal(est_key_type_parse("", &type, &err), EST_E_INPUT);
    assert_int_equal(est_key_type_parse("ec-p2566", &type, &err), EST_E_INPUT);
    assert_int_equal(est_key_type_parse(NULL, &type, &err), EST_E_INTERNAL);
}

/* Every type generates, signs a certificate through the signer seam, and
 * that signature verifies with the key (and not with another key). */
static void every_key_type_generates_and_signs(void **state)
{
    static const struct {
        int base_id, bits;
    } expect[] = {{EVP_PKEY_EC, 256},    {EVP_PKEY_EC, 384},    {EVP_PKEY_RSA, 2048},
                  {EVP_PKEY_RSA, 3072},  {EVP_PKEY_RSA, 4096},  {EVP_PKEY_ED25519, 256}};
    EVP_PKEY *other = NULL;
    est_error err;
    (void)state;
    assert_int_equal(est_key_generate(EST_KEY_EC_P256, &other, &err), EST_OK);
    for (size_t i = 0; i < sizeof all_types / sizeof all_types[0]; i++) {
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        assert_int_equal(est_key_generate(all_types[i], &key, &err), EST_OK);
        assert_int_equal(EVP_PKEY_get_base_id(key), expect[i].base_id);
        assert_int_equal(EVP_PKEY_get_bits(key), expect[i].bits);
        assert_int_equal(est_ca_make_root(key, "CN=key test", 1, &cert, &err), EST_OK);
        assert_int_equal(X509_verify(cert, key), 1);
        assert_int_not_equal(X509_verify(cert, other), 1);
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    EVP_PKEY_free(other);
}

static void generate_rejects_unknown_type(void **state)
{
    EVP_PKEY *key = (EVP_PKEY *)1;
    est_error err;
    (void)state;
    assert_int_equal(est_key_generate((est_key_type)42, &key, &err), EST_E_INPUT);
    assert_null(key);
}

static void digest_matches_key_strength(void **state)
{
    static const struct {
        est_key_type type;
        int md_nid; /* NID_undef: no digest (EdDSA) */
    } cases[] = {{EST_KEY_EC_P256, NID_sha256},  {EST_KEY_EC_P384, NID_sha384},
                 {EST_KEY_RSA_2048, NID_sha256}, {EST_KEY_RSA_3072, NID_sha384},
                 {EST_KEY_ED25519, NID_undef}};
    EVP_PKEY *p521;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EVP_PKEY *key = NULL;
        const EVP_MD *md;
        assert_int_equal(est_key_generate(cases[i].type, &key, NULL), EST_OK);
        md = est_key_digest(key);
        if (cases[i].md_nid == NID_undef)
            assert_null(md);
        else
            assert_int_equal(EVP_MD_get_type(md), cases[i].md_nid);
        EVP_PKEY_free(key);
    }
    p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    assert_non_null(p521);
    assert_int_equal(EVP_MD_get_type(est_key_digest(p521)), NID_sha512);
    EVP_PKEY_free(p521);
    assert_null(est_key_digest(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(type_names_round_trip),
        cmocka_unit_test(unknown_type_name_is_input_error),
        cmocka_unit_test(every_key_type_generates_and_signs),
        cmocka_unit_test(generate_rejects_unknown_type),
        cmocka_unit_test(digest_matches_key_strength),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
