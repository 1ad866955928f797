/* Tests src/server/keyproc.c, the signer process, as a process: this
 * binary re-executes itself as `keyproc DIR 1` (as estd does) with one
 * socketpair end as fd 3. Malformed requests (garbage, a bare header,
 * KEYPROC_REQUEST_MAX + 1 bytes, another CA's TBSCertificate) are each
 * answered "refused" with a reason, and the same signer then signs a good
 * TBSCertificate whose signature verifies with the CA key: it never
 * crashes on bad input. The hello carries the SHA-256 of the CA's public
 * key; EOF makes the signer exit 0. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/x509.h>
#include "ca_fixture.h"
#include "keyproc.h"
#include "keyproc_wire.h"
#include "estkit/file.h"
#include "estkit/csr.h"
#include "estkit/issue.h"

typedef struct fixture {
    char dir[64];
    est_ca *ca, *other;
    X509 *cert;
    EVP_PKEY *key;
    X509_REQ *csr;
    int fd;
    pid_t pid;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char path[128];
    STACK_OF(X509) *certs = sk_X509_new_null();
    EVP_PKEY *device = ca_fixture_key(EST_KEY_EC_P256);
    FILE *conf;
    int pair[2];

    strcpy(f->dir, "/tmp/estkit-keyproc-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Keyproc CA", 30, &f->cert, &f->key);
    f->other = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Other CA", 30, NULL, NULL);
    f->csr = ca_fixture_csr(device, "CN=device", NULL, 0);
    EVP_PKEY_free(device);
    sk_X509_push(certs, f->cert);
    snprintf(path, sizeof path, "%s/ca.pem", f->dir);
    if (est_certs_write_file(path, certs, NULL) != EST_OK)
        return -1;
    sk_X509_free(certs);
    snprintf(path, sizeof path, "%s/ca.key", f->dir);
    if (est_key_write_file(path, f->key, NULL) != EST_OK)
        return -1;
    snprintf(path, sizeof path, "%s/estd.conf", f->dir);
    if ((conf = fopen(path, "w")) == NULL)
        return -1;
    fputs("[ca]\ncert = ca.pem\nkey = ca.key\n", conf);
    fclose(conf);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0)
        return -1;
    if ((f->pid = fork()) == 0) {
        dup2(pair[1], 3);
        execl("/proc/self/exe", "unit", "keyproc", f->dir, "1", (char *)NULL);
        _exit(127);
    }
    close(pair[1]);
    f->fd = pair[0];
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    int status = -1;

    close(f->fd);
    waitpid(f->pid, &status, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    est_ca_free(f->ca);
    est_ca_free(f->other);
    X509_free(f->cert);
    EVP_PKEY_free(f->key);
    X509_REQ_free(f->csr);
    free(f);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1; /* EOF: a clean exit */
}

static size_t roundtrip(fixture *f, const uint8_t *msg, size_t len, uint8_t *reply)
{
    ssize_t n;

    assert_int_equal(send(f->fd, msg, len, 0), (ssize_t)len);
    n = recv(f->fd, reply, KEYPROC_REPLY_MAX, 0);
    assert_true(n > 0);
    return (size_t)n;
}

static uint8_t *tbs_request(fixture *f, est_ca *ca, size_t *len, uint8_t **tbs, int *tbs_len)
{
    est_profile profile;
    X509 *cert = NULL;
    uint8_t *msg;

    est_profile_default(&profile);
    assert_int_equal(est_ca_issue(ca, f->csr, &profile, NULL, &cert, NULL), EST_OK);
    *tbs = NULL;
    *tbs_len = i2d_re_X509_tbs(cert, tbs);
    X509_free(cert);
    *len = KEYPROC_HEADER_BYTES + (size_t)*tbs_len;
    msg = calloc(1, *len);
    msg[0] = KEYPROC_VERSION, msg[1] = KEYPROC_SIGN_CERT;
    memcpy(msg + KEYPROC_HEADER_BYTES, *tbs, (size_t)*tbs_len);
    return msg;
}

static void test_refuses_malformed_then_signs(void **state)
{
    fixture *f = *state;
    uint8_t reply[KEYPROC_REPLY_MAX], hash[32], *big = calloc(1, KEYPROC_REQUEST_MAX + 1);
    uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0x30, 0x80}, header[] = {1, 1, 0, 0};
    uint8_t *msg, *tbs;
    size_t len, n;
    int tbs_len;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    n = (size_t)recv(f->fd, reply, sizeof reply, 0); /* hello */
    assert_int_equal(n, 2 + 32);
    assert_int_equal(reply[0], KEYPROC_OK);
    assert_int_equal(reply[1], 1);
    assert_true(keyproc_key_hash(f->key, hash));
    assert_memory_equal(reply + 2, hash, 32);

    assert_int_equal(roundtrip(f, garbage, sizeof garbage, reply) > 1, 1);
    assert_int_equal(reply[0], KEYPROC_REFUSED);
    assert_int_equal(roundtrip(f, header, sizeof header, reply) > 1, 1);
    assert_int_equal(reply[0], KEYPROC_REFUSED);
    big[0] = KEYPROC_VERSION, big[1] = KEYPROC_SIGN_CERT;
    n = roundtrip(f, big, KEYPROC_REQUEST_MAX + 1, reply);
    assert_int_equal(reply[0], KEYPROC_REFUSED);
    assert_true(n > 1 && memmem(reply + 1, n - 1, "request over", 12) != NULL);
    msg = tbs_request(f, f->other, &len, &tbs, &tbs_len);
    n = roundtrip(f, msg, len, reply);
    assert_int_equal(reply[0], KEYPROC_REFUSED);
    assert_true(memmem(reply + 1, n - 1, "issuer is not this key's CA", 27) != NULL);
    free(msg);
    OPENSSL_free(tbs);

    msg = tbs_request(f, f->ca, &len, &tbs, &tbs_len);
    n = roundtrip(f, msg, len, reply);
    assert_int_equal(reply[0], KEYPROC_OK);
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, f->key), 1);
    assert_int_equal(EVP_DigestVerify(ctx, reply + 1, n - 1, tbs, (size_t)tbs_len), 1);
    EVP_MD_CTX_free(ctx);
    free(msg);
    free(big);
    OPENSSL_free(tbs);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refuses_malformed_then_signs, setup, teardown),
    };
    /* Re-executed as the signer process, like estd. */
    if (argc > 1 && strcmp(argv[1], "keyproc") == 0)
        return estd_keyproc_main(argc - 1, argv + 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
