/* estd serve DIR [--listen HOST:PORT]: run the EST server in the
 * foreground; logs go to stderr; SIGTERM/SIGINT stop it gracefully
 * (in-flight requests finish, nothing half-written); SIGHUP reloads
 * (reload.c). */
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "commands.h"
#include "keyproc.h"
#include "notify.h"
#include "secrets.h"
#include "serve_wait.h"
#include "server.h"
#include "tls_srp.h"
#include "upstream_refresh.h"
#include "estkit/password.h"
#include "estkit/mem.h"

#define SERVE_GRACE_SECONDS 30

/* The cores this process may run on (taskset, cgroup cpusets), not the
 * machine's: threads beyond them only add context switches. */
static unsigned cores(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Workers sign and then wait for the store's fsync; while one waits the
 * others sign, and the writes waiting together share one commit (group
 * commit). With workers = cores an enrollment's fsync idles the core;
 * bench/ measured enroll-cert on 1 core at 32 clients: 1 worker 572 ops/s,
 * 4: 1004, 8: 1168, 16: 1355, 32: 1327. */
#define WORKERS_PER_CORE 16
#define WORKERS_MAX 256

/* The guessing guard, and the hash unknown user names are checked
 * against: of a random password with today's parameters, so that its
 * check costs what a real user's does. */
static est_status guard_start(estd_server *srv, est_error *err)
{
    const estd_config *cfg = &srv->inst->cfg;
    estd_guess_limits limits = {cfg->guess_delay_after, cfg->guess_lock_after,
                                cfg->guess_lock_seconds, cfg->guess_delay_max_seconds};
    unsigned char random[16];
    char password[2 * sizeof random + 1];
    est_status rc;

    if (RAND_bytes(random, sizeof random) != 1)
        return est_error_set_openssl(err, EST_E_INTERNAL, "random dummy password");
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(password + 2 * i, 3, "%02x", random[i]);
    rc = est_password_hash(password, &srv->dummy_hash, err);
    OPENSSL_cleanse(password, sizeof password);
    OPENSSL_cleanse(random, sizeof random);
    if (rc != EST_OK)
        return rc;
    if ((srv->guard = estd_guess_guard_new(&limits)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    return EST_OK;
}

/* Descriptors besides client connections: the listener's duplicates, the
 * store, logs, the loops' and workers' own. */
#define SERVE_RESERVED_FDS 64

/* max_connections needs a descriptor each: raise the soft limit up to the
 * hard one if it is lower (as nginx's worker_rlimit_nofile), and say so
 * when even the hard limit is too low. */
static void nofile_raise(unsigned max_connections)
{
    rlim_t want = (rlim_t)max_connections + SERVE_RESERVED_FDS;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        fprintf(stderr, "estd: serve: max_connections = %u needs %llu file descriptors; the "
                "limit is %llu (raise it: ulimit -n, systemd LimitNOFILE=)\n", max_connections,
                (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

/* The password gate: max_password_checks hashes at once (0 = one per
 * core), and never every worker, so certificate-authenticated requests
 * always find one. Parked checks hold no worker. */
static estd_password_gate *password_gate_new(const estd_config *cfg, unsigned ncores,
                                             unsigned workers)
{
    unsigned slots = cfg->max_password_checks ? cfg->max_password_checks : ncores;

    if (workers > 1 && slots > workers - 1)
        slots = workers - 1;
    return estd_password_gate_new(slots, cfg->password_queue_max, cfg->password_queue_wait_ms);
}

static void serve_usage(FILE *f)
{
    fputs("usage: estd serve DIR [--listen HOST:PORT]\n"
          "Serves EST over HTTPS in the foreground until SIGTERM or SIGINT;\n"
          "SIGHUP reloads estd.conf and the files it names.\n", f);
}

int estd_serve_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *listen = NULL;
    estd_instance *inst = NULL;
    estd_server srv = {.srp_index = -1};
    estd_loops *loops = NULL;
    estd_refresher *refresher = NULL;
    estd_serve_state state = {.srv = &srv};
    est_error err;
    uint8_t secret[32];
    sigset_t stop_signals;
    unsigned ncores = cores(), workers;
    int opt, sig, status = 1;

    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == 'l')
            listen = optarg;
        else if (opt == 'h') {
            serve_usage(stdout);
            return 0;
        } else {
            serve_usage(stderr);
            return 1;
        }
    }
    if (optind + 1 != argc) {
        serve_usage(stderr);
        return 1;
    }
    /* Block the stop and reload signals in every thread; main waits for them. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();

    if (estd_state_dir_check(argv[optind], &err) != EST_OK ||
        estd_instance_open_serving(argv[optind], ESTD_OPEN_UPSTREAM, &inst, &err) != EST_OK) {
        estd_fail("serve", "%s", err.message);
        return 1;
    }
    if (listen != NULL)
        snprintf(inst->cfg.listen, sizeof inst->cfg.listen, "%s", listen);
    nofile_raise(inst->cfg.max_connections);
    srv.inst = inst;
    if (inst->cfg.tls_ticket_key_seconds > 0 &&
        (srv.tickets = estd_ticket_keys_new(inst->cfg.tls_ticket_key_seconds)) == NULL) {
        estd_fail("serve", "cannot make session ticket keys");
        goto out;
    }
    if (estd_tls_context_new(inst, srv.tickets, &srv.ssl_ctx, &err) != EST_OK) {
        estd_fail("serve", "%s", err.message);
        goto out;
    }
    srv.nonces = est_digest_nonces_new(inst->cfg.nonce_lifetime_seconds);
    /* max_password_checks 0 = one per core: scrypt is pure CPU (and 32 MiB
     * each), so more at once finish no sooner and hold workers longer. */
    srv.credentials = estd_credential_cache_new(
        inst->cfg.credential_cache_seconds,
        inst->cfg.max_password_checks ? inst->cfg.max_password_checks : ncores);
    workers = ncores * WORKERS_PER_CORE < WORKERS_MAX ? ncores * WORKERS_PER_CORE : WORKERS_MAX;
    if (inst->cfg.workers)
        workers = inst->cfg.workers;
    srv.pool = estd_pool_new(workers);
    srv.chains = estd_chain_cache_new();
    srv.passwords = password_gate_new(&inst->cfg, ncores, workers);
    srv.audit_limiter = estd_audit_limiter_new(inst->cfg.audit_auth_fail_window_seconds);
    state.tls = estd_tls_identity_new(srv.ssl_ctx);
    state.reloader = estd_reloader_new(listen);
    if (srv.nonces == NULL || srv.credentials == NULL || srv.chains == NULL || srv.pool == NULL ||
        srv.passwords == NULL || srv.audit_limiter == NULL || state.tls == NULL ||
        state.reloader == NULL) {
        estd_fail("serve", "out of memory");
        goto out;
    }
    if (guard_start(&srv, &err) != EST_OK ||
        (estd_srp_wanted(&srv) && estd_srp_install(&srv, &err) != EST_OK)) {
        estd_fail("serve", "%s", err.message);
        goto out;
    }
    /* The store's secret: a nonce from any node sharing the store is
     * accepted here too. */
    if (est_store_nonce_secret(inst->store, secret, sizeof secret, &err) != EST_OK ||
        est_digest_nonces_set_secret(srv.nonces, secret, sizeof secret, &err) != EST_OK) {
        OPENSSL_cleanse(secret, sizeof secret);
        estd_fail("serve", "%s: %s", inst->cfg.store, err.message);
        goto out;
    }
    OPENSSL_cleanse(secret, sizeof secret);
    /* Before the loops: it hooks metrics into the TLS context. */
    if (estd_serve_side_start(&state, &err) != EST_OK) {
        estd_fail("serve", "%s", err.message);
        goto out;
    }
    if (estd_loops_start(&srv, inst->cfg.threads ? inst->cfg.threads : ncores, &loops, &err) !=
        EST_OK) {
        estd_fail("serve", "%s", err.message);
        goto out;
    }
    if (estd_refresher_start(&srv, &refresher, &err) != EST_OK) {
        estd_fail("serve", "%s", err.message);
        goto out;
    }
    fprintf(stderr, "estd: serving EST on https://%s/.well-known/est (%zu CA%s)\n",
            inst->cfg.listen, inst->ca_count, inst->ca_count == 1 ? "" : "s");
    if (inst->keyproc != NULL)
        fprintf(stderr, "estd: signer process %d holds the CA keys\n",
                (int)estd_keyproc_pid(inst->keyproc));
    estd_notify_ready(inst->cfg.listen);
    sig = estd_serve_wait(&state, &stop_signals);
    estd_notify_stopping();
    fprintf(stderr, "estd: %s received, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    estd_refresher_stop(refresher); /* before the drain: it counts in in_flight */
    refresher = NULL;
    estd_loops_stop(loops, SERVE_GRACE_SECONDS);
    loops = NULL;
    /* Nothing counted is lost: every open window is written. */
    estd_audit_windows_flush(&srv, INT64_MAX);
    status = 0;
out:
    estd_refresher_stop(refresher);
    estd_loops_stop(loops, 0);
    estd_serve_side_stop(&state);
    estd_pool_free(srv.pool);
    estd_password_gate_free(srv.passwords); /* after the pool: jobs resume from it */
    est_digest_nonces_free(srv.nonces);
    estd_credential_cache_free(srv.credentials);
    estd_chain_cache_free(srv.chains);
    estd_audit_limiter_free(srv.audit_limiter);
    estd_guess_guard_free(srv.guard);
    est_secret_free(srv.dummy_hash);
    SSL_CTX_free(srv.ssl_ctx);
    estd_ticket_keys_free(srv.tickets);
    estd_tls_identity_free(state.tls);
    estd_reloader_free(state.reloader);
    estd_instance_free(srv.inst != NULL ? srv.inst : inst);
    return status;
}
