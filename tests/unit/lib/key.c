/* Tests src/lib/key.c: key type names, generation of every type, digests,
 * PEM key files (each file test in its own fresh directory). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "estkit/ca.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "ca_fixture.h"
#include "tmp_dir.h"
#include "unit_main.h"

/* The limit src/lib/key.c enforces (EST_KEY_FILE_MAX). */
#define KEY_FILE_MAX 65536

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

static void key_round_trips_as_pkcs8_with_mode_0600(void **state)
{
    tmp_dir *t = *state;
    const est_key_type types[] = {EST_KEY_EC_P256, EST_KEY_RSA_2048, EST_KEY_ED25519};
    est_error err;

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const char *path = in_dir(t, "key.pem");
        EVP_PKEY *key = ca_fixture_key(types[i]), *back = NULL;
        uint8_t *data = NULL;
        size_t len = 0;
        mode_t old = umask(0);

        assert_non_null(key);
        assert_int_equal(est_key_write_file(path, key, &err), EST_OK);
        umask(old);
        assert_int_equal(file_mode(path), 0600);
        assert_int_equal(est_file_read(path, 100000, &data, &len, &err), EST_OK);
        assert_true(strncmp((char *)data, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
        OPENSSL_free(data);
        assert_int_equal(est_key_read_file(path, &back, &err), EST_OK);
        assert_int_equal(EVP_PKEY_eq(key, back), 1);
        EVP_PKEY_free(back);
        EVP_PKEY_free(key);
    }
    assert_int_equal(count_entries(t->dir), 1);
}

static void reading_a_non_key_file_names_the_path(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "cert.pem");
    EVP_PKEY *key = (EVP_PKEY *)1;
    X509 *root = NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=file test", 30, &root, NULL);
    est_error err;

    assert_non_null(ca);
    assert_true(sk_X509_push(certs, root));
    assert_int_equal(est_certs_write_file(path, certs, &err), EST_OK);
    assert_int_equal(est_key_read_file(path, &key, &err), EST_E_INPUT);
    assert_null(key);
    assert_non_null(strstr(err.message, path));
    write_raw(path, "garbage", 7);
    assert_int_equal(est_key_read_file(path, &key, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, path));
    assert_int_equal(est_key_read_file(in_dir(t, "absent.pem"), &key, &err), EST_E_NOT_FOUND);
    sk_X509_pop_free(certs, X509_free);
    est_ca_free(ca);
}

/* A passphrase-protected key is refused, never prompted for on a tty. */
static void encrypted_key_is_refused_without_prompt(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "enc.pem");
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256), *back = NULL;
    FILE *f = fopen(path, "w");
    est_error err;

    assert_non_null(f);
    assert_int_equal(PEM_write_PKCS8PrivateKey(f, key, EVP_aes_256_cbc(), "secret", 6, NULL,
                                               NULL),
                     1);
    fclose(f);
    assert_int_equal(est_key_read_file(path, &back, &err), EST_E_INPUT);
    assert_null(back);
    EVP_PKEY_free(key);
}

static char *key_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL, *copy;
    long n;

    assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &p);
    copy = strndup(p, (size_t)n);
    BIO_free(bio);
    return copy;
}

static void key_file_at_limit_and_one_past(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "big.pem");
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256), *back = NULL;
    char *pem = key_pem(key);
    est_error err;

    write_padded(path, pem, KEY_FILE_MAX);
    assert_int_equal(est_key_read_file(path, &back, &err), EST_OK);
    assert_int_equal(EVP_PKEY_eq(key, back), 1);
    EVP_PKEY_free(back);
    back = NULL;
    write_padded(path, pem, KEY_FILE_MAX + 1);
    assert_int_equal(est_key_read_file(path, &back, &err), EST_E_TOO_LARGE);
    assert_null(back);
    free(pem);
    EVP_PKEY_free(key);
}

UNIT_MAIN(
    cmocka_unit_test(type_names_round_trip),
    cmocka_unit_test(unknown_type_name_is_input_error),
    cmocka_unit_test(every_key_type_generates_and_signs),
    cmocka_unit_test(generate_rejects_unknown_type),
    cmocka_unit_test(digest_matches_key_strength),
    WITH_DIR(key_round_trips_as_pkcs8_with_mode_0600),
    WITH_DIR(reading_a_non_key_file_names_the_path),
    WITH_DIR(encrypted_key_is_refused_without_prompt),
    WITH_DIR(key_file_at_limit_and_one_past))
