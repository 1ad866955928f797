/* Tests src/lib/password.c: scrypt password storage. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include "estkit/auth.h"
#include "estkit/password.h"
#include "estkit/mem.h"
#include "unit_main.h"

#define PREFIX "$scrypt$ln=15,r=8,p=1$"

static est_status verify(const char *password, const char *encoded)
{
    est_error err;
    est_status rc = est_password_verify(password, encoded, &err);
    if (rc != EST_OK)
        assert_int_equal(err.code, rc);
    return rc;
}

/* Builds an encoding with our own scrypt call, independent of password.c,
 * so that a mistake in both directions cannot cancel out. */
static char *independent_hash(const char *password, unsigned ln, unsigned r, unsigned p)
{
    static const unsigned char salt[16] = "0123456789abcdef";
    unsigned char hash[32];
    char salt_b64[32], hash_b64[64];
    uint64_t n = (uint64_t)1 << ln;
    uint32_t r32 = r, p32 = p;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
                                          strlen(password)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sizeof salt),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    char *out = malloc(256);

    assert_non_null(ctx);
    assert_int_equal(EVP_KDF_derive(ctx, hash, sizeof hash, params), 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    EVP_EncodeBlock((unsigned char *)salt_b64, salt, sizeof salt);
    EVP_EncodeBlock((unsigned char *)hash_b64, hash, sizeof hash);
    snprintf(out, 256, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", ln, r, p, salt_b64, hash_b64);
    return out;
}

static void hash_then_verify(void **state)
{
    char *a = NULL, *b = NULL;
    (void)state;
    assert_int_equal(est_password_hash("correct horse", &a, NULL), EST_OK);
    assert_int_equal(strncmp(a, PREFIX, strlen(PREFIX)), 0);
    /* 16-byte salt and 32-byte hash, base64 with padding. */
    assert_int_equal(strlen(a), strlen(PREFIX) + 24 + 1 + 44);
    assert_int_equal(verify("correct horse", a), EST_OK);
    assert_int_equal(verify("correct horsf", a), EST_E_AUTH);
    assert_int_equal(verify("correct horse ", a), EST_E_AUTH);
    assert_int_equal(verify("", a), EST_E_AUTH);
    /* Salted: the same password hashes differently each time. */
    assert_int_equal(est_password_hash("correct horse", &b, NULL), EST_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(verify("correct horse", b), EST_OK);
    est_free(a);
    est_free(b);
}

static void verify_reads_parameters_from_the_encoding(void **state)
{
    char *enc = independent_hash("pw", 10, 4, 2);
    (void)state;
    assert_int_equal(verify("pw", enc), EST_OK);
    assert_int_equal(verify("pX", enc), EST_E_AUTH);
    free(enc);
    enc = independent_hash("pw", 15, 8, 1);
    assert_int_equal(verify("pw", enc), EST_OK);
    free(enc);
}

/* Each bound of password.c, at its value: still verified. One past each is
 * in absurd_parameters_are_refused_before_any_work. */
static void parameters_at_their_limits_are_accepted(void **state)
{
    static const unsigned sets[][3] = {
        {17, 2, 1},  /* ln maximum (SCRYPT_LN_MAX) */
        {15, 1, 1},  /* RFC 7914 §2: N < 2^(16 r), at its limit for r = 1 */
        {15, 15, 1}, /* 61.4 MiB: just under SCRYPT_MAXMEM */
        {10, 32, 1}, /* r maximum */
        {10, 1, 16}, /* p maximum */
        {13, 32, 16}, /* work N*r*p = 2^22 = SCRYPT_WORK_MAX */
        {1, 1, 1},   /* minimum */
    };
    (void)state;
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        char *enc = independent_hash("pw", sets[i][0], sets[i][1], sets[i][2]);
        print_message("encoding '%s'\n", enc);
        assert_int_equal(verify("pw", enc), EST_OK);
        free(enc);
    }
}

static void empty_password_and_length_limit(void **state)
{
    char pw[EST_PASSWORD_MAX + 2];
    char *enc = NULL;
    (void)state;
    assert_int_equal(est_password_hash("", &enc, NULL), EST_OK);
    assert_int_equal(verify("", enc), EST_OK);
    assert_int_equal(verify("x", enc), EST_E_AUTH);
    est_free(enc);
    memset(pw, 'p', EST_PASSWORD_MAX);
    pw[EST_PASSWORD_MAX] = '\0';
    assert_int_equal(est_password_hash(pw, &enc, NULL), EST_OK);
    assert_int_equal(verify(pw, enc), EST_OK);
    pw[EST_PASSWORD_MAX] = 'p';
    pw[EST_PASSWORD_MAX + 1] = '\0';
    assert_int_equal(verify(pw, enc), EST_E_TOO_LARGE);
    est_free(enc);
    enc = (char *)0x1;
    assert_int_equal(est_password_hash(pw, &enc, NULL), EST_E_TOO_LARGE);
    assert_null(enc);
}

static void tampered_hash_is_a_mismatch(void **state)
{
    char *enc = NULL;
    size_t len;
    (void)state;
    assert_int_equal(est_password_hash("pw", &enc, NULL), EST_OK);
    len = strlen(enc);
    enc[len - 3] = enc[len - 3] == 'A' ? 'B' : 'A'; /* last full base64 group */
    assert_int_equal(verify("pw", enc), EST_E_AUTH);
    est_free(enc);
    assert_int_equal(est_password_hash("pw", &enc, NULL), EST_OK);
    /* Change one salt character to another base64 character (an XOR could
     * leave the alphabet, which is an input error, not a mismatch). */
    enc[strlen(PREFIX) + 2] = enc[strlen(PREFIX) + 2] == 'A' ? 'B' : 'A';
    assert_int_equal(verify("pw", enc), EST_E_AUTH);
    est_free(enc);
}

static void malformed_encodings_are_input_errors(void **state)
{
    char *good = NULL, bad[512];
    const char *salt_hash;
    (void)state;
    assert_int_equal(est_password_hash("pw", &good, NULL), EST_OK);
    salt_hash = good + strlen(PREFIX);
    static const char *const prefixes[] = {
        "$scrypt$ln=15,r=8,p=1",  "$scrypt$ln=15,r=8,p=1$$", "$scrypt2$ln=15,r=8,p=1$",
        "$Scrypt$ln=15,r=8,p=1$", "scrypt$ln=15,r=8,p=1$",   "$scrypt$ln=15,r=8$",
        "$scrypt$r=8,ln=15,p=1$", "$scrypt$ln=15,r=8,p=1,x=1$", "$scrypt$ln=015,r=8,p=1$",
        "$scrypt$ln=+15,r=8,p=1$", "$scrypt$ln= 15,r=8,p=1$", "$scrypt$ln=15 ,r=8,p=1$",
        "$scrypt$ln=15;r=8;p=1$", "$scrypt$ln=,r=8,p=1$",     "$scrypt$ln=15,r=8,p=1$$$",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        snprintf(bad, sizeof bad, "%s%s", prefixes[i], salt_hash);
        print_message("encoding '%s'\n", bad);
        assert_int_equal(verify("pw", bad), EST_E_INPUT);
    }
    /* Field damage: salt or hash not base64, truncated, extra bytes. */
    snprintf(bad, sizeof bad, "%s", good);
    bad[strlen(PREFIX) + 3] = '*';
    assert_int_equal(verify("pw", bad), EST_E_INPUT);
    snprintf(bad, sizeof bad, "%s", good);
    bad[strlen(bad) - 1] = '\0'; /* hash loses its padding */
    assert_int_equal(verify("pw", bad), EST_E_INPUT);
    snprintf(bad, sizeof bad, "%sAAAA", good);
    assert_int_equal(verify("pw", bad), EST_E_INPUT);
    snprintf(bad, sizeof bad, "%s$", good);
    assert_int_equal(verify("pw", bad), EST_E_INPUT);
    snprintf(bad, sizeof bad, "%s\n", good);
    assert_int_equal(verify("pw", bad), EST_E_INPUT);
    snprintf(bad, sizeof bad, PREFIX "AAAAAAAA$%s", strchr(salt_hash, '$') + 1); /* 6-byte salt */
    assert_int_equal(verify("pw", bad), EST_E_INPUT);
    snprintf(bad, sizeof bad, PREFIX "%.24s$AAAAAAAAAAAAAAAAAAAA", salt_hash); /* 15-byte hash */
    assert_int_equal(verify("pw", bad), EST_E_INPUT);
    assert_int_equal(verify("pw", ""), EST_E_INPUT);
    assert_int_equal(verify("pw", NULL), EST_E_INPUT);
    assert_int_equal(verify(NULL, good), EST_E_INPUT);
    est_free(good);
}

static void absurd_parameters_are_refused_before_any_work(void **state)
{
    static const char *const params[] = {
        "ln=30,r=8,p=1",  /* 2^30 blocks */
        "ln=18,r=2,p=1",  /* ln one over its maximum */
        "ln=16,r=1,p=1",  /* N = 2^(16 r): RFC 7914 §2 wants less */
        "ln=20,r=8,p=1",  /* 1 GiB of memory */
        "ln=15,r=16,p=1", /* 64 MiB and a bit: just over the memory bound */
        "ln=10,r=33,p=1", /* r one over its maximum */
        "ln=10,r=8,p=17", /* p one over its maximum */
        "ln=17,r=3,p=16", /* work N*r*p = 1.5 * 2^22, memory fine */
        "ln=0,r=8,p=1",   "ln=15,r=0,p=1", "ln=15,r=8,p=0",
        "ln=99999999999999999999,r=8,p=1",
    };
    char *good = NULL, bad[512];
    (void)state;
    assert_int_equal(est_password_hash("pw", &good, NULL), EST_OK);
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        clock_t start = clock();
        snprintf(bad, sizeof bad, "$scrypt$%s%s", params[i], strchr(good + 8, '$'));
        print_message("encoding '%s'\n", bad);
        assert_int_equal(verify("pw", bad), EST_E_INPUT);
        /* Refused by parsing, not by running the KDF. */
        assert_true(clock() - start < CLOCKS_PER_SEC / 20);
    }
    est_free(good);
}

UNIT_MAIN(
    cmocka_unit_test(hash_then_verify),
    cmocka_unit_test(verify_reads_parameters_from_the_encoding),
    cmocka_unit_test(parameters_at_their_limits_are_accepted),
    cmocka_unit_test(empty_password_and_length_limit),
    cmocka_unit_test(tampered_hash_is_a_mismatch),
    cmocka_unit_test(malformed_encodings_are_input_errors),
    cmocka_unit_test(absurd_parameters_are_refused_before_any_work))
