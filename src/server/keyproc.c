/* estd: the signer process (see keyproc.h for the design).
 *
 * `estd keyproc DIR N`: opens the CA keys named in DIR/estd.conf, says
 * hello on connection 0, sandboxes itself, and answers requests on fds
 * 3..3+N-1 until the network process closes them. Every request is checked
 * (keyproc_request_check) before it is signed; a refused one is answered
 * with a reason and logged, and the signer carries on. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "keyproc.h"
#include "keyproc_wire.h"
#include "pkcs11.h"
#include "sandbox.h"
#include "secrets.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/signer.h"

#define KEYPROC_FIRST_FD 3

typedef struct keyproc_state {
    keyproc_key keys[KEYPROC_KEYS_MAX];
    size_t key_count;
    int uses_files; /* a PKCS#11 module reads its token while signing */
    pthread_barrier_t sandboxed; /* no request is read before the sandbox is on */
} keyproc_state;

typedef struct keyproc_conn {
    keyproc_state *state;
    int fd;
    unsigned index; /* also its PKCS#11 session */
} keyproc_conn;

/* A token key must be the certificate's: one test signature, verified. */
static est_status p11_key_check(keyproc_key *k, const estd_ca_config *cfg, est_error *err)
{
    static const uint8_t probe[] = "estd: does the token hold the CA certificate's key?";
    uint8_t sig[KEYPROC_SIGNATURE_MAX];
    size_t sig_len = 0;
    const EVP_MD *md = est_key_digest(k->key);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    est_status rc;
    int ok;

    rc = estd_p11_sign(k->p11, 0, k->key, 0, probe, sizeof probe, sig, sizeof sig, &sig_len, err);
    ok = rc == EST_OK && ctx != NULL &&
         EVP_DigestVerifyInit_ex(ctx, NULL, EVP_MD_get0_name(md), NULL, NULL, k->key, NULL) == 1 &&
         EVP_DigestVerify(ctx, sig, sig_len, probe, sizeof probe) == 1;
    EVP_MD_CTX_free(ctx);
    if (rc == EST_OK && !ok)
        rc = est_error_set_openssl(err, EST_E_CONFIG, "the token key does not match the "
                                   "certificate %s", cfg->cert);
    return rc;
}

static est_status key_open(const estd_ca_config *cfg, unsigned sessions, keyproc_key *k,
                           est_error *err)
{
    STACK_OF(X509) *certs = NULL;
    est_status rc;

    if ((rc = est_certs_read_file(cfg->cert, &certs, err)) != EST_OK)
        goto out;
    k->cert = sk_X509_shift(certs);
    if (estd_key_is_pkcs11(cfg->key)) {
        if ((k->key = X509_get_pubkey(k->cert)) == NULL) {
            rc = est_error_set_openssl(err, EST_E_CONFIG, "%s: no public key", cfg->cert);
            goto out;
        }
        if ((rc = estd_p11_key_open(cfg->key, sessions, &k->p11, err)) != EST_OK ||
            (rc = p11_key_check(k, cfg, err)) != EST_OK)
            goto out;
    } else {
        if ((rc = estd_ca_key_load(cfg, &k->key, err)) != EST_OK)
            goto out;
        if (X509_check_private_key(k->cert, k->key) != 1) {
            rc = est_error_set_openssl(err, EST_E_CONFIG, "%s: key does not match the "
                                       "certificate %s", cfg->key, cfg->cert);
            goto out;
        }
    }
    k->pss = cfg->signature_pss;
    rc = keyproc_sig_alg(k->key, k->pss, &k->sig_alg, err);
out:
    if (rc != EST_OK && cfg->label[0] != '\0')
        est_error_prefix(err, rc, "CA '%s'", cfg->label);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static est_status keys_open(const char *dir, unsigned sessions, keyproc_state *s,
                            est_error *err)
{
    estd_config *cfg = calloc(1, sizeof *cfg);
    est_status rc = EST_E_NOMEM;

    if (cfg == NULL)
        return est_error_set(err, rc, "out of memory");
    if ((rc = estd_config_load(cfg, dir, err)) != EST_OK)
        goto out;
    for (size_t i = 0; i < cfg->ca_count; i++) {
        s->key_count = i + 1;
        /* An RA label (issuer = est / cmp) has no key here: its slot stays
         * empty and requests for it are refused (keyproc_request_check). */
        if (cfg->cas[i].upstream.issuer != ESTD_ISSUER_EMBEDDED)
            continue;
        if ((rc = key_open(&cfg->cas[i], sessions, &s->keys[i], err)) != EST_OK)
            goto out;
        s->uses_files |= s->keys[i].p11 != NULL;
    }
out:
    free(cfg);
    return rc;
}

static void keys_free(keyproc_state *s)
{
    for (size_t i = 0; i < s->key_count; i++) {
        EVP_PKEY_free(s->keys[i].key);
        estd_p11_key_free(s->keys[i].p11);
        X509_free(s->keys[i].cert);
        X509_ALGOR_free(s->keys[i].sig_alg);
    }
    s->key_count = 0;
}

static void send_hello(int fd, const keyproc_state *s, const est_error *failed)
{
    uint8_t msg[KEYPROC_HELLO_MAX];
    size_t len = 0;

    if (failed != NULL) {
        size_t n = strnlen(failed->message, KEYPROC_REASON_MAX);
        msg[len++] = KEYPROC_REFUSED;
        memcpy(msg + len, failed->message, n);
        len += n;
    } else {
        msg[len++] = KEYPROC_OK;
        msg[len++] = (uint8_t)s->key_count;
        for (size_t i = 0; i < s->key_count; i++, len += 32)
            if (s->keys[i].key == NULL || !keyproc_key_hash(s->keys[i].key, msg + len))
                memset(msg + len, 0, 32); /* no key: matches no certificate */
    }
    (void)send(fd, msg, len, MSG_NOSIGNAL);
}

/* signature = pss: certificates and CRLs (whose check matched k->sig_alg)
 * and CMS signed attributes (RFC 4056) alike. */
static est_status key_sign(const keyproc_key *k, unsigned session, const uint8_t *data,
                           size_t len, uint8_t *sig, size_t *sig_len, est_error *err)
{
    const EVP_MD *md = est_key_digest(k->key);
    int pss = k->pss;
    EVP_MD_CTX *ctx;
    size_t cap = 0;
    est_status rc = EST_E_CA;

    if (k->p11 != NULL)
        return estd_p11_sign(k->p11, session, k->key, pss, data, len, sig,
                             KEYPROC_SIGNATURE_MAX, sig_len, err);
    if (pss)
        ctx = est_rsa_pss_ctx_new(k->key);
    else if ((ctx = EVP_MD_CTX_new()) != NULL &&
             EVP_DigestSignInit_ex(ctx, NULL, md ? EVP_MD_get0_name(md) : NULL, NULL, NULL,
                                   k->key, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    if (ctx == NULL ||
        EVP_DigestSign(ctx, NULL, &cap, data, len) != 1 || cap > KEYPROC_SIGNATURE_MAX ||
        EVP_DigestSign(ctx, sig, &cap, data, len) != 1) {
        est_error_set_openssl(err, rc, "signing");
        goto out;
    }
    *sig_len = cap;
    rc = EST_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* One request -> one reply; a refusal is logged and answered, never fatal.
 * A token failure is answered "unavailable" and ends this signer: the
 * network process starts a new one, which logs in afresh. */
static size_t answer(keyproc_state *s, unsigned session, const uint8_t *msg, size_t len,
                     uint8_t *reply, int *fatal)
{
    keyproc_request req;
    size_t sig_len = 0;
    est_error err;
    est_status rc;
    size_t n;

    rc = keyproc_request_check(s->keys, s->key_count, msg, len, &req, &err);
    if (rc == EST_OK)
        rc = key_sign(&s->keys[req.key_index], session, req.payload, req.payload_len, reply + 1,
                      &sig_len, &err);
    if (rc == EST_OK) {
        reply[0] = KEYPROC_OK;
        return 1 + sig_len;
    }
    *fatal = rc == EST_E_UNAVAILABLE;
    fprintf(stderr, "estd: signer: %s: %s\n", *fatal ? "token failed" : "refused a request",
            err.message);
    reply[0] = *fatal ? KEYPROC_UNAVAILABLE : KEYPROC_REFUSED;
    n = strnlen(err.message, KEYPROC_REASON_MAX);
    memcpy(reply + 1, err.message, n);
    return 1 + n;
}

/* Serves one connection until the network process closes it; then the
 * whole signer exits (_exit: nothing to flush, and the sandbox would not
 * let a leak checker at exit do its work). */
static void *conn_serve(void *arg)
{
    keyproc_conn *c = arg;
    uint8_t *msg = malloc(KEYPROC_REQUEST_MAX + 1);
    uint8_t reply[KEYPROC_REPLY_MAX];

    pthread_barrier_wait(&c->state->sandboxed);
    if (msg == NULL)
        _exit(1);
    for (;;) {
        /* MSG_TRUNC: the true length of a message larger than the buffer. */
        ssize_t n = recv(c->fd, msg, KEYPROC_REQUEST_MAX + 1, MSG_TRUNC);
        size_t reply_len;
        int fatal = 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(n == 0 ? 0 : 1);
        reply_len = answer(c->state, c->index, msg, (size_t)n, reply, &fatal);
        if (send(c->fd, reply, reply_len, MSG_NOSIGNAL) != (ssize_t)reply_len || fatal)
            _exit(fatal ? 3 : 1);
    }
    return NULL;
}

static int parse_count(const char *text, unsigned *n)
{
    char *end = NULL;
    unsigned long v = strtoul(text, &end, 10);

    if (end == text || *end != '\0' || v < 1 || v > KEYPROC_CONNECTIONS_MAX)
        return 0;
    *n = (unsigned)v;
    return 1;
}

int estd_keyproc_main(int argc, char **argv)
{
    static keyproc_state state;
    static keyproc_conn conns[KEYPROC_CONNECTIONS_MAX];
    pthread_t thread;
    unsigned n = 0;
    est_error err;

    if (argc != 3 || !parse_count(argv[2], &n)) {
        fputs("estd keyproc is started by estd serve, not by hand\n", stderr);
        return 1;
    }
    /* Whatever else was inherited is not ours to hold. */
    close_range(KEYPROC_FIRST_FD + n, ~0u, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    /* What ps, pgrep and the kernel's seccomp log call us. */
    prctl(PR_SET_NAME, "estd-signer", 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    if (keys_open(argv[1], n, &state, &err) != EST_OK) {
        send_hello(KEYPROC_FIRST_FD, NULL, &err);
        keys_free(&state);
        return 1;
    }
    pthread_barrier_init(&state.sandboxed, NULL, n);
    for (unsigned i = 0; i < n; i++) {
        conns[i].state = &state;
        conns[i].fd = KEYPROC_FIRST_FD + (int)i;
        conns[i].index = i;
        if (i > 0 && pthread_create(&thread, NULL, conn_serve, &conns[i]) != 0) {
            est_error_set(&err, EST_E_NOMEM, "signer: cannot start a thread");
            send_hello(KEYPROC_FIRST_FD, NULL, &err);
            _exit(1);
        }
    }
    {
        est_status rc = estd_sandbox_apply(state.uses_files, &err);
        if (rc == EST_E_UNSUPPORTED) {
            fprintf(stderr, "estd: signer: %s; only prctl() limits apply\n", err.message);
        } else if (rc != EST_OK) {
            est_error_prefix(&err, rc, "signer sandbox");
            send_hello(KEYPROC_FIRST_FD, NULL, &err);
            _exit(1);
        }
    }
    send_hello(KEYPROC_FIRST_FD, &state, NULL);
    conn_serve(&conns[0]);
    return 0;
}
