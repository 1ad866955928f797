/* estd: the network process's side of the signer process (keyproc.h).
 *
 * A pool of connections guarded by one mutex: a worker takes a free one,
 * does its round trip without the lock, and gives it back. A connection
 * belongs to one generation of the signer; when a round trip fails the
 * signer is declared lost (killed, reaped, logged) and the next request
 * after a pause starts a new one, within a budget of restarts per window.
 * While it is down, signing fails with EST_E_UNAVAILABLE (503). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "keyproc.h"
#include "external_sign.h"
#include "keyproc_wire.h"
#include "estkit/signer.h"

/* Socket buffers that hold a request of KEYPROC_REQUEST_MAX whole. */
#define KEYPROC_SOCKET_BUFFER (KEYPROC_REQUEST_MAX + 4096)

struct estd_keyproc {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char dir[4096];
    unsigned n;
    int fds[KEYPROC_CONNECTIONS_MAX];  /* free connections of this generation */
    unsigned free_count;
    unsigned long generation;
    pid_t pid;                         /* 0 while down */
    int starting;
    time_t window_start, last_attempt;
    unsigned restarts_in_window;
    uint8_t hashes[KEYPROC_KEYS_MAX][32];
    size_t key_count;
};

typedef struct remote_signer {
    estd_keyproc *kp;
    unsigned index;
    EVP_PKEY *public_key;
    X509_ALGOR *sig_alg;
} remote_signer;

static int wait_readable(int fd, int seconds)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;

    do
        r = poll(&p, 1, seconds * 1000);
    while (r < 0 && errno == EINTR);
    return r;
}

/* After fork in a threaded process only async-signal-safe calls: move the
 * child's ends to 3..3+n-1 (via fds above that range, so none is
 * overwritten), close the rest, exec estd itself. */
static void child_exec(const char *dir, const int *ends, unsigned n)
{
    int tmp[KEYPROC_CONNECTIONS_MAX];
    char count[16] = {0};
    char *argv[] = {"estd", "keyproc", (char *)dir, count, NULL};
    unsigned v = n, len = 0;
    char digits[16];

    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    for (unsigned i = 0; i < n; i++)
        if ((tmp[i] = fcntl(ends[i], F_DUPFD, 3 + (int)n)) < 0)
            _exit(127);
    for (unsigned i = 0; i < n; i++)
        if (dup2(tmp[i], 3 + (int)i) < 0)
            _exit(127);
    close_range(3 + n, ~0u, 0);
    do
        digits[len++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    for (unsigned i = 0; i < len; i++)
        count[i] = digits[len - 1 - i];
    execv("/proc/self/exe", argv);
    _exit(127);
}

static void reap(estd_keyproc *kp, const char *why)
{
    int status = 0;

    if (kp->pid <= 0)
        return;
    kill(kp->pid, SIGKILL);
    while (waitpid(kp->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (why != NULL) {
        if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
            fprintf(stderr, "estd: signer: process %d lost (%s): killed by signal %d\n",
                    (int)kp->pid, why, WTERMSIG(status));
        else if (WIFEXITED(status))
            fprintf(stderr, "estd: signer: process %d lost (%s): exit status %d\n",
                    (int)kp->pid, why, WEXITSTATUS(status));
        else
            fprintf(stderr, "estd: signer: process %d lost (%s)\n", (int)kp->pid, why);
    }
    kp->pid = 0;
}

static void close_free(estd_keyproc *kp)
{
    for (unsigned i = 0; i < kp->free_count; i++)
        close(kp->fds[i]);
    kp->free_count = 0;
}

static est_status hello_read(estd_keyproc *kp, int fd, est_error *err)
{
    uint8_t msg[KEYPROC_HELLO_MAX + 1];
    ssize_t n;

    if (wait_readable(fd, KEYPROC_START_TIMEOUT_SECONDS) <= 0)
        return est_error_set(err, EST_E_UNAVAILABLE, "signer process: no answer in %d s",
                             KEYPROC_START_TIMEOUT_SECONDS);
    n = recv(fd, msg, sizeof msg - 1, 0);
    if (n <= 0)
        return est_error_set(err, EST_E_UNAVAILABLE, "signer process exited at start");
    if (msg[0] != KEYPROC_OK) {
        msg[n] = '\0';
        return est_error_set(err, EST_E_CONFIG, "%s", (const char *)msg + 1);
    }
    if (n < 2 || (size_t)n != 2 + (size_t)msg[1] * 32 || msg[1] > KEYPROC_KEYS_MAX)
        return est_error_set(err, EST_E_INTERNAL, "signer process: malformed hello");
    kp->key_count = msg[1];
    memcpy(kp->hashes, msg + 2, kp->key_count * 32);
    return EST_OK;
}

/* Starts a signer generation; called with the lock held (or before any
 * thread exists). */
static est_status spawn(estd_keyproc *kp, est_error *err)
{
    int ours[KEYPROC_CONNECTIONS_MAX], theirs[KEYPROC_CONNECTIONS_MAX];
    int size = KEYPROC_SOCKET_BUFFER;
    unsigned made = 0;
    est_status rc;
    pid_t pid;

    for (; made < kp->n; made++) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
            rc = est_error_set(err, EST_E_UNAVAILABLE, "socketpair: %s", strerror(errno));
            goto out;
        }
        ours[made] = pair[0], theirs[made] = pair[1];
        setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        setsockopt(pair[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if ((pid = fork()) < 0) {
        rc = est_error_set(err, EST_E_UNAVAILABLE, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0)
        child_exec(kp->dir, theirs, kp->n);
    kp->pid = pid;
    kp->generation++;
    for (unsigned i = 0; i < made; i++)
        close(theirs[i]);
    rc = hello_read(kp, ours[0], err);
    if (rc != EST_OK) {
        reap(kp, NULL);
        for (unsigned i = 0; i < made; i++)
            close(ours[i]);
        return rc;
    }
    memcpy(kp->fds, ours, made * sizeof *ours);
    kp->free_count = made;
    return EST_OK;
out:
    for (unsigned i = 0; i < made; i++)
        close(ours[i]), close(theirs[i]);
    return rc;
}

est_status estd_keyproc_start(const char *dir, unsigned n, estd_keyproc **out, est_error *err)
{
    estd_keyproc *kp = calloc(1, sizeof *kp);
    est_status rc;

    *out = NULL;
    if (kp == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if (n < 1 || n > KEYPROC_CONNECTIONS_MAX || strlen(dir) >= sizeof kp->dir) {
        free(kp);
        return est_error_set(err, EST_E_INTERNAL, "keyproc: bad arguments");
    }
    snprintf(kp->dir, sizeof kp->dir, "%s", dir);
    kp->n = n;
    pthread_mutex_init(&kp->lock, NULL);
    pthread_cond_init(&kp->freed, NULL);
    if ((rc = spawn(kp, err)) != EST_OK) {
        estd_keyproc_free(kp);
        return rc;
    }
    *out = kp;
    return EST_OK;
}

void estd_keyproc_free(estd_keyproc *kp)
{
    int status;

    if (kp == NULL)
        return;
    close_free(kp);
    /* EOF on every connection: the signer exits by itself, unless it hangs
     * in a token call; then it is killed. */
    for (int i = 0; kp->pid > 0 && i < KEYPROC_STOP_SECONDS * 100; i++) {
        pid_t r = waitpid(kp->pid, &status, WNOHANG);
        if (r == kp->pid || (r < 0 && errno != EINTR))
            kp->pid = 0;
        else
            usleep(10000);
    }
    reap(kp, NULL);
    pthread_mutex_destroy(&kp->lock);
    pthread_cond_destroy(&kp->freed);
    free(kp);
}

pid_t estd_keyproc_pid(estd_keyproc *kp)
{
    pid_t pid;

    pthread_mutex_lock(&kp->lock);
    pid = kp->pid;
    pthread_mutex_unlock(&kp->lock);
    return pid;
}

/* With the lock held: a signer to talk to, restarting a lost one when the
 * budget allows. */
static est_status ensure_running(estd_keyproc *kp, est_error *err)
{
    time_t now = time(NULL);
    est_status rc;

    if (kp->pid > 0)
        return EST_OK;
    if (kp->starting || now == kp->last_attempt)
        return est_error_set(err, EST_E_UNAVAILABLE, "the signer process is restarting");
    if (now - kp->window_start >= KEYPROC_RESTART_WINDOW_SECONDS) {
        kp->window_start = now;
        kp->restarts_in_window = 0;
    }
    if (kp->restarts_in_window >= KEYPROC_RESTARTS_PER_WINDOW)
        return est_error_set(err, EST_E_UNAVAILABLE, "the signer process failed %d times in "
                             "%d s; not restarting yet", KEYPROC_RESTARTS_PER_WINDOW,
                             KEYPROC_RESTART_WINDOW_SECONDS);
    kp->restarts_in_window++;
    kp->last_attempt = now;
    kp->starting = 1;
    rc = spawn(kp, err);
    kp->starting = 0;
    if (rc != EST_OK) {
        fprintf(stderr, "estd: signer: restart %u failed: %s\n", kp->restarts_in_window,
                err->message);
        return est_error_set(err, EST_E_UNAVAILABLE, "the signer process is down");
    }
    fprintf(stderr, "estd: signer: restarted as process %d\n", (int)kp->pid);
    return EST_OK;
}

static est_status conn_take(estd_keyproc *kp, int *fd, unsigned long *generation,
                            est_error *err)
{
    est_status rc = EST_OK;

    pthread_mutex_lock(&kp->lock);
    for (;;) {
        if ((rc = ensure_running(kp, err)) != EST_OK)
            break;
        if (kp->free_count > 0) {
            *fd = kp->fds[--kp->free_count];
            *generation = kp->generation;
            break;
        }
        pthread_cond_wait(&kp->freed, &kp->lock);
    }
    pthread_mutex_unlock(&kp->lock);
    return rc;
}

/* Gives the connection back; lost = the round trip failed, so this
 * generation is over. */
static void conn_give(estd_keyproc *kp, int fd, unsigned long generation, int lost)
{
    pthread_mutex_lock(&kp->lock);
    if (generation != kp->generation) {
        close(fd);
    } else if (lost) {
        close(fd);
        close_free(kp);
        reap(kp, "no answer");
    } else {
        kp->fds[kp->free_count++] = fd;
    }
    pthread_cond_broadcast(&kp->freed);
    pthread_mutex_unlock(&kp->lock);
}

/* One round trip: the signature into sig (KEYPROC_SIGNATURE_MAX). */
static est_status roundtrip(estd_keyproc *kp, keyproc_op op, unsigned index,
                            const uint8_t *payload, size_t len, uint8_t *sig, size_t *sig_len,
                            est_error *err)
{
    uint8_t header[KEYPROC_HEADER_BYTES] = {KEYPROC_VERSION, (uint8_t)op, (uint8_t)index, 0};
    uint8_t reply[KEYPROC_REPLY_MAX + 1];
    struct iovec iov[2] = {{header, sizeof header}, {(void *)payload, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    unsigned long generation = 0;
    ssize_t n = -1;
    est_status rc;
    int fd = -1;

    if (len > KEYPROC_REQUEST_MAX - KEYPROC_HEADER_BYTES)
        return est_error_set(err, EST_E_TOO_LARGE, "over %d bytes to sign", KEYPROC_REQUEST_MAX);
    if ((rc = conn_take(kp, &fd, &generation, err)) != EST_OK)
        return rc;
    if (sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)(sizeof header + len) &&
        wait_readable(fd, KEYPROC_REPLY_TIMEOUT_SECONDS) > 0)
        n = recv(fd, reply, sizeof reply, 0);
    /* A signer whose token failed answers so and exits: it is lost too. */
    conn_give(kp, fd, generation,
              n <= 0 || n > KEYPROC_REPLY_MAX || reply[0] == KEYPROC_UNAVAILABLE);
    if (n <= 0 || n > KEYPROC_REPLY_MAX)
        return est_error_set(err, EST_E_UNAVAILABLE, "the signer process is down");
    if (reply[0] != KEYPROC_OK) {
        reply[n] = '\0';
        return est_error_set(err, reply[0] == KEYPROC_UNAVAILABLE ? EST_E_UNAVAILABLE : EST_E_CA,
                             "%s: %s", reply[0] == KEYPROC_UNAVAILABLE ? "unavailable" : "refused",
                             (const char *)reply + 1);
    }
    *sig_len = (size_t)n - 1;
    memcpy(sig, reply + 1, *sig_len);
    return EST_OK;
}

/* --- the est_signer backed by the signer process --- */

static est_status remote_sign_tbs(void *arg, const uint8_t *tbs, size_t len, uint8_t *sig,
                                  size_t *sig_len, est_error *err)
{
    remote_signer *r = arg;

    return roundtrip(r->kp, KEYPROC_SIGN_CERT, r->index, tbs, len, sig, sig_len, err);
}

static est_status remote_sign_cert(void *impl, X509 *cert, const EVP_MD *md, est_error *err)
{
    remote_signer *r = impl;

    (void)md; /* the signer process picks est_key_digest(key), as the seam did */
    return estd_cert_sign_external(cert, r->sig_alg, remote_sign_tbs, r, err);
}

static est_status remote_sign_tbs_crl(void *arg, const uint8_t *tbs, size_t len, uint8_t *sig,
                                      size_t *sig_len, est_error *err)
{
    remote_signer *r = arg;

    return roundtrip(r->kp, KEYPROC_SIGN_CRL, r->index, tbs, len, sig, sig_len, err);
}

static est_status remote_sign_crl(void *impl, X509_CRL *crl, const EVP_MD *md, est_error *err)
{
    remote_signer *r = impl;

    return estd_crl_sign_external(crl, r->public_key, md, r->sig_alg, remote_sign_tbs_crl, r,
                                  err);
}

static est_status remote_sign_data(void *impl, const EVP_MD *md, const uint8_t *data,
                                   size_t len, uint8_t **sig, size_t *sig_len, est_error *err)
{
    remote_signer *r = impl;
    uint8_t buf[KEYPROC_SIGNATURE_MAX];
    size_t n = 0;
    est_status rc;

    (void)md;
    if ((rc = roundtrip(r->kp, KEYPROC_SIGN_DATA, r->index, data, len, buf, &n, err)) != EST_OK)
        return rc;
    if ((*sig = OPENSSL_memdup(buf, n)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    *sig_len = n;
    return EST_OK;
}

static EVP_PKEY *remote_get0_public_key(void *impl)
{
    return ((remote_signer *)impl)->public_key;
}

static void remote_free(void *impl)
{
    remote_signer *r = impl;

    if (r == NULL)
        return;
    EVP_PKEY_free(r->public_key);
    X509_ALGOR_free(r->sig_alg);
    free(r);
}

static const est_signer_ops remote_signer_ops = {
    .name = "process",
    .sign_cert = remote_sign_cert,
    .sign_crl = remote_sign_crl,
    .get0_public_key = remote_get0_public_key,
    .free = remote_free,
    .sign_data = remote_sign_data,
};

est_status estd_keyproc_signer_new(estd_keyproc *kp, unsigned index, X509 *cert, int pss,
                                   est_signer **out, est_error *err)
{
    remote_signer *r = calloc(1, sizeof *r);
    uint8_t hash[32];
    est_status rc = EST_E_NOMEM;

    *out = NULL;
    if (r == NULL)
        return est_error_set(err, rc, "out of memory");
    r->kp = kp;
    r->index = index;
    r->public_key = X509_get_pubkey(cert);
    if (r->public_key == NULL || !keyproc_key_hash(r->public_key, hash)) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "the CA certificate's key");
        goto out;
    }
    pthread_mutex_lock(&kp->lock);
    rc = index < kp->key_count && memcmp(kp->hashes[index], hash, 32) == 0 ? EST_OK : EST_E_CONFIG;
    pthread_mutex_unlock(&kp->lock);
    if (rc != EST_OK) {
        est_error_set(err, rc, "the signer process holds no key for this certificate");
        goto out;
    }
    if ((rc = keyproc_sig_alg(r->public_key, pss, &r->sig_alg, err)) != EST_OK)
        goto out;
    *out = pss ? est_signer_new_pss(&remote_signer_ops, r) : est_signer_new(&remote_signer_ops, r);
    r = NULL;
    if (*out == NULL)
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
out:
    remote_free(r);
    return rc;
}
