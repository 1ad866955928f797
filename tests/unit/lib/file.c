/* Tests src/lib/file.c: atomic writes, bounded reads, certificate files
 * (key files: tests/unit/lib/key.c). Each test works in its own fresh directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/pem.h>
#include "estkit/ca.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "ca_fixture.h"

/* The limits src/lib/file.c enforces (EST_CERTS_FILE_MAX,
 * EST_CERTS_FILE_MAX_CERTS). */
#define CERTS_FILE_MAX (1024 * 1024)
#define CERTS_FILE_MAX_CERTS 256

#include "tmp_dir.h"
#include "unit_main.h"


static void atomic_write_sets_exact_mode_and_content(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "a.bin");
    uint8_t *data = NULL;
    size_t len = 0;
    mode_t old = umask(0077);
    est_error err;

    assert_int_equal(est_file_write_atomic(path, "hello", 5, 0600, &err), EST_OK);
    assert_int_equal(file_mode(path), 0600);
    /* The mode asked for, not what the umask would leave of it. */
    assert_int_equal(est_file_write_atomic(path, "world!", 6, 0644, &err), EST_OK);
    assert_int_equal(file_mode(path), 0644);
    umask(old);
    assert_int_equal(est_file_read(path, 100, &data, &len, &err), EST_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(data, "world!", 6);
    assert_int_equal(data[len], '\0');
    OPENSSL_free(data);
    /* Replaced in place: no temporary file is left beside it. */
    assert_int_equal(count_entries(t->dir), 1);
}

static void atomic_write_failure_leaves_nothing(void **state)
{
    tmp_dir *t = *state;
    char path[160];
    est_error err;

    snprintf(path, sizeof path, "%s/missing/x.pem", t->dir);
    assert_int_equal(est_file_write_atomic(path, "x", 1, 0600, &err), EST_E_IO);
    assert_non_null(strstr(err.message, "missing"));
    /* Renaming over a directory fails after the temp file exists: it must go. */
    assert_int_equal(mkdir(in_dir(t, "adir"), 0700), 0);
    snprintf(path, sizeof path, "%s/adir", t->dir);
    assert_int_equal(est_file_write_atomic(path, "x", 1, 0600, &err), EST_E_IO);
    assert_int_equal(count_entries(t->dir), 1);
    rmdir(path);
}

static void read_at_limit_and_one_past(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "blob");
    static uint8_t blob[10001];
    uint8_t *data = NULL;
    size_t len = 0;
    est_error err;

    memset(blob, 'x', sizeof blob);
    write_raw(path, blob, 10000);
    assert_int_equal(est_file_read(path, 10000, &data, &len, &err), EST_OK);
    assert_int_equal(len, 10000);
    OPENSSL_free(data);
    assert_int_equal(est_file_read(path, 9999, &data, &len, &err), EST_E_TOO_LARGE);
    assert_null(data);
    assert_non_null(strstr(err.message, path));
    /* Empty file with max 0: fine; one byte with max 0: too large. */
    write_raw(path, blob, 0);
    assert_int_equal(est_file_read(path, 0, &data, &len, &err), EST_OK);
    assert_int_equal(len, 0);
    OPENSSL_free(data);
    write_raw(path, blob, 1);
    assert_int_equal(est_file_read(path, 0, &data, &len, &err), EST_E_TOO_LARGE);
}

static void read_missing_file_and_directory(void **state)
{
    tmp_dir *t = *state;
    uint8_t *data = NULL;
    size_t len = 0;
    est_error err;

    assert_int_equal(est_file_read(in_dir(t, "nope"), 10, &data, &len, &err), EST_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "nope"));
    assert_int_equal(est_file_read(t->dir, 10, &data, &len, &err), EST_E_IO);
    assert_null(data);
}


static void certs_round_trip_in_order(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "chain.pem");
    X509 *a = NULL, *b = NULL;
    est_ca *ca_a = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=A", 30, &a, NULL);
    est_ca *ca_b = ca_fixture_root_ca(EST_KEY_ED25519, "CN=B", 30, &b, NULL);
    STACK_OF(X509) *out = sk_X509_new_null(), *in = NULL;
    est_error err;

    assert_true(sk_X509_push(out, a) && sk_X509_push(out, b));
    assert_int_equal(est_certs_write_file(path, out, &err), EST_OK);
    assert_int_equal(file_mode(path), 0644);
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_OK);
    assert_int_equal(sk_X509_num(in), 2);
    assert_int_equal(X509_cmp(sk_X509_value(in, 0), a), 0);
    assert_int_equal(X509_cmp(sk_X509_value(in, 1), b), 0);
    sk_X509_pop_free(in, X509_free);
    sk_X509_pop_free(out, X509_free);
    est_ca_free(ca_a);
    est_ca_free(ca_b);
}

static void certs_write_refuses_empty_list(void **state)
{
    tmp_dir *t = *state;
    STACK_OF(X509) *none = sk_X509_new_null();
    est_error err;

    assert_int_equal(est_certs_write_file(in_dir(t, "x.pem"), none, &err), EST_E_INPUT);
    assert_int_equal(count_entries(t->dir), 0);
    sk_X509_free(none);
}

/* A fresh root certificate named dn, as PEM text (malloc'd). */
static char *root_pem(const char *dn)
{
    X509 *root = NULL;
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P256, dn, 30, &root, NULL);
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL, *copy;
    long n;

    assert_non_null(ca);
    assert_int_equal(PEM_write_bio_X509(bio, root), 1);
    n = BIO_get_mem_data(bio, &p);
    copy = strndup(p, (size_t)n);
    BIO_free(bio);
    X509_free(root);
    est_ca_free(ca);
    return copy;
}

static void certs_read_rejects_empty_garbage_and_damage(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "bad.pem");
    STACK_OF(X509) *in = NULL;
    char *pem = root_pem("CN=damage"), *two;
    size_t len = strlen(pem);
    est_error err;

    write_raw(path, "", 0);
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, path));
    write_raw(path, "not a certificate\n", 18);
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_E_INPUT);
    /* A good first certificate does not excuse a damaged second one. */
    two = malloc(2 * len);
    memcpy(two, pem, len);
    memcpy(two + len, pem, len);
    two[len + 100] = '!';
    write_raw(path, two, 2 * len);
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_E_INPUT);
    assert_null(in);
    /* Truncated inside the base64. */
    write_raw(path, pem, len / 2);
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_E_INPUT);
    free(two);
    free(pem);
}

static void certs_count_and_size_limits(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "many.pem");
    STACK_OF(X509) *in = NULL;
    char *pem = root_pem("CN=many"), *all;
    size_t len = strlen(pem);
    est_error err;

    all = malloc(len * (CERTS_FILE_MAX_CERTS + 1));
    for (int i = 0; i <= CERTS_FILE_MAX_CERTS; i++)
        memcpy(all + (size_t)i * len, pem, len);
    write_raw(path, all, len * CERTS_FILE_MAX_CERTS);
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_OK);
    assert_int_equal(sk_X509_num(in), CERTS_FILE_MAX_CERTS);
    sk_X509_pop_free(in, X509_free);
    in = NULL;
    write_raw(path, all, len * (CERTS_FILE_MAX_CERTS + 1));
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_E_TOO_LARGE);
    assert_null(in);
    write_padded(path, pem, CERTS_FILE_MAX);
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_OK);
    assert_int_equal(sk_X509_num(in), 1);
    sk_X509_pop_free(in, X509_free);
    in = NULL;
    write_padded(path, pem, CERTS_FILE_MAX + 1);
    assert_int_equal(est_certs_read_file(path, &in, &err), EST_E_TOO_LARGE);
    free(all);
    free(pem);
}

UNIT_MAIN(
    WITH_DIR(atomic_write_sets_exact_mode_and_content),
    WITH_DIR(atomic_write_failure_leaves_nothing),
    WITH_DIR(read_at_limit_and_one_past),
    WITH_DIR(read_missing_file_and_directory),
    WITH_DIR(certs_round_trip_in_order),
    WITH_DIR(certs_write_refuses_empty_list),
    WITH_DIR(certs_read_rejects_empty_garbage_and_damage),
    WITH_DIR(certs_count_and_size_limits))
