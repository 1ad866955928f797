/* estd: Basic password checks before a request's handler runs, through
 * the password gate (password_gate.h): a check that cannot hash now parks
 * the request, which holds no worker until the gate resumes it. The
 * handler's authentication (authn.c) then uses the verdict, so it never
 * hashes a password the gate already checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include "metrics.h"
#include "server.h"
#include "estkit/password.h"
#include "estkit/mem.h"

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One slow hash, holding a gate slot; a success is remembered. */
static int verify(estd_server *srv, const char *user, const char *password, const char *stored)
{
    int ok = est_password_verify(password, stored, NULL) == EST_OK;

    if (ok)
        estd_credential_cache_put(srv->credentials, user, password, stored, time(NULL));
    return ok;
}

/* The gate said it is this request's turn: hash for the tag it entered
 * with and hand the verdict on. Should the stored hash have changed since
 * (a new password), the waiters get "wrong" for the old tag, which their
 * own tags no longer match: each then checks for itself. */
static void hash_turn(estd_server *srv, estd_request *req, const char *user,
                      const char *password, const char *stored, const unsigned char *tag)
{
    int same = tag != NULL && CRYPTO_memcmp(tag, req->password.tag, ESTD_TAG_LEN) == 0;
    int ok = same && verify(srv, user, password, stored);

    estd_password_gate_done(srv->passwords, req->password.tag, ok, monotonic_ms());
    req->password.result = same ? (ok ? 1 : -1) : 0;
}

/* draft-04 §3.3.3: the guessing guard before any hash or queue slot
 * (guess_guard.h). Its answer rides on the request: authn.c refuses a
 * delayed or locked name without a hash, or reports the outcome of this
 * check; a request that ends without one gives the reservation back
 * (estd_guess_pre_release in listener.c). 1 = go on to the gate. */
static int guard_admits(estd_server *srv, estd_request *req, const char *user,
                        const est_user_record *rec)
{
    estd_guess_pre *pre = &req->guess_pre;

    snprintf(pre->user, sizeof pre->user, "%s", user);
    estd_peer_address(req->peer, pre->addr, sizeof pre->addr);
    pre->verdict = estd_guess_guard_check(srv->guard, pre->user, pre->addr, 0, rec->unlocked_at,
                                          time(NULL), &pre->retry_after);
    pre->decided = 1;
    return pre->verdict == ESTD_GUESS_GO;
}

static int refuse_busy(estd_server *srv, estd_response *resp, const char *why)
{
    estd_metrics_password_check_refused(srv->inst->metrics);
    estd_response_error(resp, 503, "%s; retry later", why);
    resp->retry_after = estd_password_gate_retry_after(srv->passwords);
    return -1;
}

int estd_password_precheck(estd_server *srv, estd_request *req, estd_response *resp,
                           estd_gate_resume_fn resume, void *arg)
{
    int resumed = req->password_resumed, go = 1;
    estd_gate_verdict verdict = req->password_verdict;
    char *user = NULL, *password = NULL;
    est_user_record *rec = NULL;
    unsigned char tag[ESTD_TAG_LEN];
    int have_tag = 0;

    req->password_resumed = 0;
    if (resumed)
        estd_metrics_password_wait(srv->inst->metrics,
                                   (double)(monotonic_ms() - req->password_parked_ms) / 1000.0);
    if (srv->passwords == NULL || req->authorization == NULL ||
        strncasecmp(req->authorization, "Basic ", 6) != 0)
        return 1;
    if (resumed && verdict == ESTD_GATE_EXPIRED)
        return refuse_busy(srv, resp, "server busy checking passwords");
    if (resumed && verdict != ESTD_GATE_YOUR_TURN) {
        req->password.result = verdict == ESTD_GATE_VERIFIED ? 1 : -1;
        return 1;
    }
    /* Unknown users and malformed headers cost no hash: authn.c refuses. */
    if (est_basic_parse(req->authorization, &user, &password, NULL) == EST_OK &&
        est_store_user_get(srv->inst->store, user, &rec, NULL) == EST_OK)
        have_tag = estd_credential_cache_tag(srv->credentials, user, password,
                                             rec->password_hash, tag);
    if (resumed) { /* ESTD_GATE_YOUR_TURN: a slot is held and must be given back */
        hash_turn(srv, req, user, password, rec ? rec->password_hash : NULL,
                  have_tag ? tag : NULL);
        goto out;
    }
    if (!have_tag ||
        estd_credential_cache_hit(srv->credentials, user, password, rec->password_hash, time(NULL)) ||
        !guard_admits(srv, req, user, rec))
        goto out;
    memcpy(req->password.tag, tag, sizeof tag);
    req->password_parked_ms = monotonic_ms();
    switch (estd_password_gate_enter(srv->passwords, tag, resume, arg, req->password_parked_ms)) {
    case ESTD_GATE_RUN:
        hash_turn(srv, req, user, password, rec->password_hash, tag);
        break;
    case ESTD_GATE_PARKED:
        go = 0;
        break;
    case ESTD_GATE_FULL:
        go = refuse_busy(srv, resp, "too many password checks waiting");
        break;
    }
out:
    OPENSSL_cleanse(tag, sizeof tag);
    est_free(user);
    est_secret_free(password);
    est_user_record_free(rec);
    return go;
}
