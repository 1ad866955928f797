/* estd: TLS-SRP (see tls_srp.h).
 *
 * Built with OpenSSL's deprecated API visible (CMakeLists.txt gives this
 * one file OPENSSL_API_COMPAT=10101 and no OPENSSL_NO_DEPRECATED): the SRP
 * functions are deprecated in 3.0, with no replacement.
 *
 * A login attempt is followed from the ClientHello to the end of the
 * connection: the username callback asks the guessing guard first (a
 * delayed or locked name gets a fatal access_denied alert and no SRP
 * exchange), then hands OpenSSL the user's salt and verifier - or, for a
 * name without one, a fake salt (HMAC of the name, stable, so names
 * cannot be probed by salt) and a random verifier, so the exchange runs
 * the same and fails the same. The attempt rides on the connection
 * (ex_data) and is settled once: success at the first request, failure
 * when the connection ends with its handshake unfinished (the Finished
 * check failed, or the client gave up after seeing the salt). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/srp.h>
#include "server.h"
#include "tls_srp.h"

#define SRP_FAKE_SALT_LEN 20 /* as long as OpenSSL's random salts */
#define SRP_AUDIT_TEXT_MAX 160

typedef struct srp_attempt {
    estd_server *srv;
    char user[EST_USERNAME_MAX + 1];
    char addr[64];
    int settled;
} srp_attempt;

typedef struct srp_audit_job {
    estd_server *srv;
    char event[32], user[EST_USERNAME_MAX + 1], addr[64], detail[SRP_AUDIT_TEXT_MAX];
} srp_audit_job;

static char *bn_hex(const BIGNUM *bn)
{
    char *hex = BN_bn2hex(bn), *copy = hex != NULL ? strdup(hex) : NULL;

    OPENSSL_free(hex);
    return copy;
}

est_status estd_srp_verifier_make(const char *user, const char *password, const char **group,
                                  char **salt_hex, char **verifier_hex, est_error *err)
{
    SRP_gN *gn = SRP_get_default_gN(ESTD_SRP_GROUP);
    BIGNUM *salt = NULL, *verifier = NULL;
    est_status rc = EST_E_INTERNAL;

    *salt_hex = *verifier_hex = NULL;
    /* salt NULL in: OpenSSL draws a random one. */
    if (gn == NULL ||
        SRP_create_verifier_BN_ex(user, password, &salt, &verifier, gn->N, gn->g, NULL, NULL) != 1) {
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "SRP verifier");
        goto out;
    }
    *salt_hex = bn_hex(salt);
    *verifier_hex = bn_hex(verifier);
    if (*salt_hex == NULL || *verifier_hex == NULL) {
        free(*salt_hex);
        free(*verifier_hex);
        *salt_hex = *verifier_hex = NULL;
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    *group = ESTD_SRP_GROUP;
    rc = EST_OK;
out:
    BN_free(salt);
    BN_clear_free(verifier);
    return rc;
}

static void srp_audit_run(void *arg)
{
    srp_audit_job *job = arg;

    estd_audit(job->srv->inst, job->event, "", job->addr, job->user, NULL, job->detail);
    free(job);
}

/* Audit writes wait for an fsync: never on the event loop. */
static void srp_audit(estd_server *srv, const char *event, const char *user, const char *addr,
                      const char *detail)
{
    srp_audit_job *job = calloc(1, sizeof *job);

    if (job == NULL)
        return;
    job->srv = srv;
    snprintf(job->event, sizeof job->event, "%s", event);
    snprintf(job->user, sizeof job->user, "%s", user);
    snprintf(job->addr, sizeof job->addr, "%s", addr);
    snprintf(job->detail, sizeof job->detail, "%s", detail);
    if (estd_pool_submit(srv->pool, srp_audit_run, job) != 0) {
        fprintf(stderr, "estd: audit: %s %s from %s: %s (not stored: pool busy)\n", event, user,
                addr, detail);
        free(job);
    }
}

static void attempt_settle(srp_attempt *a, estd_guess_outcome outcome)
{
    if (a->settled)
        return;
    a->settled = 1;
    if (estd_guess_guard_report(a->srv->guard, a->user, a->addr, outcome, time(NULL)))
        srp_audit(a->srv, "user-locked", a->user, a->addr,
                  "failed password attempts reached guess_lock_after");
    if (outcome == ESTD_GUESS_FAILED)
        srp_audit(a->srv, "auth-fail", a->user, a->addr,
                  "SRP handshake failed (wrong password, or abandoned after the salt)");
}

/* ex_data free: the connection is gone. */
static void attempt_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    srp_attempt *a = ptr;
    (void)ad, (void)idx, (void)argl, (void)argp;

    if (a == NULL)
        return;
    attempt_settle(a, SSL_is_init_finished(parent) ? ESTD_GUESS_SUCCEEDED : ESTD_GUESS_FAILED);
    free(a);
}

static void peer_address(SSL *ssl, char *out, size_t cap)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    int fd = SSL_get_fd(ssl);
    const void *addr = NULL;

    snprintf(out, cap, "?");
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&sa, &len) != 0)
        return;
    if (sa.ss_family == AF_INET)
        addr = &((struct sockaddr_in *)&sa)->sin_addr;
    else if (sa.ss_family == AF_INET6)
        addr = &((struct sockaddr_in6 *)&sa)->sin6_addr;
    if (addr == NULL || inet_ntop(sa.ss_family, addr, out, (socklen_t)cap) == NULL)
        snprintf(out, cap, "?");
}

/* RFC 5054 §2.5.1.3: for an unknown name, a salt that is the same on
 * every try (keyed hash of the name) and a verifier nobody can match. */
static int fake_params(const estd_server *srv, const char *user, const SRP_gN *gn, BIGNUM **salt,
                       BIGNUM **verifier)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    if (HMAC(EVP_sha256(), srv->srp_fake_key, sizeof srv->srp_fake_key,
             (const unsigned char *)user, strlen(user), mac, &mac_len) == NULL)
        return 0;
    *salt = BN_bin2bn(mac, SRP_FAKE_SALT_LEN, NULL);
    *verifier = BN_new();
    return *salt != NULL && *verifier != NULL && BN_rand_range(*verifier, gn->N) == 1;
}

/* The stored salt and verifier, or fake ones. 1 = set on ssl. */
static int server_params(const estd_server *srv, SSL *ssl, const char *user,
                         const est_user_record *rec)
{
    SRP_gN *gn = NULL;
    BIGNUM *salt = NULL, *verifier = NULL;
    int ok = 0;

    if (rec != NULL && rec->srp_verifier != NULL && rec->srp_salt != NULL &&
        rec->srp_group != NULL && (gn = SRP_get_default_gN(rec->srp_group)) != NULL) {
        ok = BN_hex2bn(&salt, rec->srp_salt) > 0 && BN_hex2bn(&verifier, rec->srp_verifier) > 0;
    } else {
        gn = SRP_get_default_gN(ESTD_SRP_GROUP);
        ok = gn != NULL && fake_params(srv, user, gn, &salt, &verifier);
    }
    ok = ok && SSL_set_srp_server_param(ssl, gn->N, gn->g, salt, verifier, NULL) > 0;
    BN_free(salt);
    BN_clear_free(verifier);
    return ok;
}

static int username_cb(SSL *ssl, int *alert, void *arg)
{
    estd_server *srv = arg;
    const char *user = SSL_get_srp_username(ssl);
    estd_instance *inst;
    est_user_record *rec = NULL;
    srp_attempt *a = calloc(1, sizeof *a);
    estd_guess_verdict verdict;
    unsigned retry = 0;
    char detail[SRP_AUDIT_TEXT_MAX];
    int rc = SSL3_AL_FATAL;

    *alert = SSL_AD_INTERNAL_ERROR;
    if (a == NULL || user == NULL || strlen(user) > EST_USERNAME_MAX)
        goto out;
    a->srv = srv;
    snprintf(a->user, sizeof a->user, "%s", user);
    peer_address(ssl, a->addr, sizeof a->addr);
    inst = srv->inst; /* read once: a reload may replace it */
    if (est_store_user_get(inst->store, user, &rec, NULL) != EST_OK)
        rec = NULL;
    verdict = estd_guess_guard_check(srv->guard, user, a->addr, 0, rec ? rec->unlocked_at : 0,
                                     time(NULL), &retry);
    if (verdict != ESTD_GUESS_GO) {
        *alert = SSL_AD_ACCESS_DENIED;
        snprintf(detail, sizeof detail, "SRP login refused before the exchange: %s; retry in %u s",
                 verdict == ESTD_GUESS_LOCKED ? "user name locked" : "too many failed attempts",
                 retry);
        srp_audit(srv, "auth-throttled", a->user, a->addr, detail);
        goto out;
    }
    if (SSL_set_ex_data(ssl, srv->srp_index, a) != 1) {
        estd_guess_guard_report(srv->guard, a->user, a->addr, ESTD_GUESS_ABANDONED, time(NULL));
        goto out;
    }
    a = NULL; /* the connection owns it: attempt_free settles it */
    if (server_params(srv, ssl, user, rec))
        rc = SSL_ERROR_NONE;
out:
    free(a);
    est_user_record_free(rec);
    return rc;
}

int estd_srp_wanted(const estd_server *srv)
{
    const estd_config *cfg = &srv->inst->cfg;

    for (size_t i = 0; i < cfg->ca_count; i++)
        for (size_t j = 0; j < ESTD_AUTH_ALTERNATIVES_MAX; j++)
            if ((cfg->cas[i].enroll_auth.alternatives[j] | cfg->cas[i].reenroll_auth.alternatives[j]) &
                ESTD_AUTH_SRP)
                return 1;
    return 0;
}

est_status estd_srp_install(estd_server *srv, est_error *err)
{
    char list[sizeof srv->inst->cfg.tls_ciphers + 8];

    if (strcmp(srv->inst->cfg.tls_min_version, "1.3") == 0)
        return est_error_set(err, EST_E_CONFIG, "a policy names srp, but TLS-SRP needs TLS 1.2 "
                                                "and tls_min_version is 1.3");
    srv->srp_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, attempt_free);
    if (srv->srp_index < 0 || RAND_priv_bytes(srv->srp_fake_key, sizeof srv->srp_fake_key) != 1)
        return est_error_set_openssl(err, EST_E_INTERNAL, "SRP set-up");
    /* RFC 5054 suites after tls_ciphers: a client that offers both kinds
     * without meaning SRP gets what it would get elsewhere. RFC 5054 has
     * only CBC suites (tls_ciphers leaves CBC out: LUCKY13): the price of
     * SRP, paid only when a policy names it. */
    snprintf(list, sizeof list, "%s:SRP", srv->inst->cfg.tls_ciphers);
    if (SSL_CTX_set_cipher_list(srv->ssl_ctx, list) != 1 ||
        SSL_CTX_set_srp_cb_arg(srv->ssl_ctx, srv) != 1 ||
        SSL_CTX_set_srp_username_callback(srv->ssl_ctx, username_cb) != 1)
        return est_error_set_openssl(err, EST_E_TLS, "SRP cipher suites");
    return EST_OK;
}

const char *estd_srp_user(estd_server *srv, SSL *ssl)
{
    const char *user;
    srp_attempt *a;

    if (srv->srp_index < 0 || (user = SSL_get_srp_username(ssl)) == NULL)
        return NULL;
    a = SSL_get_ex_data(ssl, srv->srp_index);
    if (a != NULL)
        attempt_settle(a, ESTD_GUESS_SUCCEEDED);
    return user;
}
