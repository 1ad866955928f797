/* Tests src/lib/file.c: atomic writes, bounded reads, key and certificate
 * files. Each test works in its own fresh directory. */
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
#include "ca_fixture.h"

/* The limits src/lib/file.c enforces (EST_KEY_FILE_MAX,
 * EST_CERTS_FILE_MAX, EST_CERTS_FILE_MAX_CERTS). */
#define KEY_FILE_MAX 65536
#define CERTS_FILE_MAX (1024 * 1024)
#define CERTS_FILE_MAX_CERTS 256

typedef struct {
    char dir[64];
    char path[128];
} tmp_dir;

static int make_dir(void **state)
{
    tmp_dir *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    strcpy(t->dir, "/tmp/estkit-file-XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int remove_dir(void **state)
{
    tmp_dir *t = *state;
    DIR *d = opendir(t->dir);
    struct dirent *e;
    char path[512];

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", t->dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(t->dir);
    free(t);
    return 0;
}

static const char *in_dir(tmp_dir *t, const char *name)
{
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    return t->path;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static mode_t file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* Writes len bytes of c to path with stdio (not the code under test). */
static void write_raw(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

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

/* Pads a PEM file to exactly size bytes with leading text lines, which
 * PEM readers skip. */
static void write_padded(const char *path, const char *pem, size_t size)
{
    size_t pem_len = strlen(pem), pad = size - pem_len;
    char *buf = malloc(size);

    assert_true(size > pem_len);
    assert_non_null(buf);
    memset(buf, 'p', pad);
    for (size_t i = 79; i < pad; i += 80)
        buf[i] = '\n';
    buf[pad - 1] = '\n';
    memcpy(buf + pad, pem, pem_len);
    write_raw(path, buf, size);
    free(buf);
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

static char *cert_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL, *copy;
    long n;

    assert_int_equal(PEM_write_bio_X509(bio, cert), 1);
    n = BIO_get_mem_data(bio, &p);
    copy = strndup(p, (size_t)n);
    BIO_free(bio);
    return copy;
}

static void certs_read_rejects_empty_garbage_and_damage(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "bad.pem");
    X509 *root = NULL;
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=damage", 30, &root, NULL);
    STACK_OF(X509) *in = NULL;
    char *pem = cert_pem(root), *two;
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
    X509_free(root);
    est_ca_free(ca);
}

static void certs_count_and_size_limits(void **state)
{
    tmp_dir *t = *state;
    const char *path = in_dir(t, "many.pem");
    X509 *root = NULL;
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=many", 30, &root, NULL);
    STACK_OF(X509) *in = NULL;
    char *pem = cert_pem(root), *all;
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
    X509_free(root);
    est_ca_free(ca);
}

#define WITH_DIR(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        WITH_DIR(atomic_write_sets_exact_mode_and_content),
        WITH_DIR(atomic_write_failure_leaves_nothing),
        WITH_DIR(read_at_limit_and_one_past),
        WITH_DIR(read_missing_file_and_directory),
        WITH_DIR(key_round_trips_as_pkcs8_with_mode_0600),
        WITH_DIR(reading_a_non_key_file_names_the_path),
        WITH_DIR(encrypted_key_is_refused_without_prompt),
        WITH_DIR(key_file_at_limit_and_one_past),
        WITH_DIR(certs_round_trip_in_order),
        WITH_DIR(certs_write_refuses_empty_list),
        WITH_DIR(certs_read_rejects_empty_garbage_and_damage),
        WITH_DIR(certs_count_and_size_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
