/* estd: client authentication. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include "authn.h"
#include "estkit/ca.h"
#include "estkit/password.h"
#include "estkit/mem.h"

static void append_method(estd_auth_result *out, const char *name)
{
    size_t used = strlen(out->method);
    snprintf(out->method + used, sizeof out->method - used, "%s%s", used ? "+" : "", name);
}

/* RFC 5280 path validation of the presented chain against one store; a
 * success is remembered for the next requests of the same certificate. */
static int chain_verifies(estd_chain_cache *chains, X509_STORE *store, X509 *leaf,
                          STACK_OF(X509) *chain, char *why, size_t why_len)
{
    X509_STORE_CTX *ctx;
    time_t now = time(NULL);
    int ok = 0;

    if (estd_chain_cache_hit(chains, store, leaf, now))
        return 1;
    if ((ctx = X509_STORE_CTX_new()) == NULL || !X509_STORE_CTX_init(ctx, store, leaf, chain))
        goto out;
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    ok = X509_verify_cert(ctx) == 1;
    if (ok)
        estd_chain_cache_put(chains, store, leaf, X509_STORE_CTX_get0_chain(ctx), now);
    else
        snprintf(why, why_len, "client certificate not accepted: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
    X509_STORE_CTX_free(ctx);
    return ok;
}

/* Asked of the store on every request, never cached: a revocation made
 * on any node sharing the store holds from its commit on. A store that
 * cannot answer fails closed (*down, and the certificate counts as
 * revoked). */
static int cert_is_revoked(estd_instance *inst, X509 *cert, int *down)
{
    char serial[41];
    est_cert_record *rec = NULL;
    est_status rc;
    int revoked = 0;

    if (est_serial_to_hex(X509_get0_serialNumber(cert), serial, NULL) != EST_OK)
        return 1;
    rc = est_store_cert_get(inst->store, serial, &rec, NULL);
    if (rc == EST_OK)
        revoked = rec->status == EST_CERT_REVOKED;
    else if (rc != EST_E_NOT_FOUND)
        revoked = *down = 1;
    est_cert_record_free(rec);
    return revoked;
}

static void authenticate_cert(estd_instance *inst, estd_ca *ca, estd_chain_cache *chains,
                              const estd_auth_input *in, estd_auth_result *out)
{
    X509 *cert = in->peer_cert;
    EXTENDED_KEY_USAGE *eku;

    out->presented |= ESTD_AUTH_CERT;
    if (chain_verifies(chains, ca->trust, cert, in->peer_chain, out->reason, sizeof out->reason)) {
        if (cert_is_revoked(inst, cert, &out->store_down)) {
            snprintf(out->reason, sizeof out->reason, "client certificate is revoked%s",
                     out->store_down ? " or the store cannot tell" : "");
            return;
        }
        out->satisfied |= ESTD_AUTH_CERT;
        append_method(out, "cert");
    } else if (inst->third_party != NULL &&
               chain_verifies(chains, inst->third_party, cert, in->peer_chain, out->reason,
                              sizeof out->reason)) {
        out->satisfied |= ESTD_AUTH_THIRD_PARTY;
        append_method(out, "third-party");
        out->reason[0] = '\0';
    } else {
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(cert), out->name, (int)sizeof out->name);
    /* draft-04 §3.7: an RA identifies itself with id-kp-cmcRA. */
    eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
    for (int i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
        if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_cmcRA)
            out->cert_is_ra = 1;
    EXTENDED_KEY_USAGE_free(eku);
}

/* The verdict the password gate reached for exactly these credentials
 * (and stored hash): 1 verified, -1 wrong, 0 none. */
static int gate_verdict(estd_credential_cache *credentials, const estd_password_result *pre,
                        const char *user, const char *password, const char *stored_hash)
{
    unsigned char tag[ESTD_TAG_LEN];
    int v = 0;

    if (pre != NULL && pre->result != 0 &&
        estd_credential_cache_tag(credentials, user, password, stored_hash, tag) &&
        CRYPTO_memcmp(tag, pre->tag, ESTD_TAG_LEN) == 0)
        v = pre->result;
    OPENSSL_cleanse(tag, sizeof tag);
    return v;
}

/* draft-04 §3.3.3: every password check passes the guessing guard first;
 * a refused attempt runs no hash at all. GO = go on (the caller then
 * reports the outcome); otherwise out says why. */
static int guard_admits(const estd_auth_caches *caches, const estd_auth_input *in,
                        const char *user, const est_user_record *rec, estd_auth_result *out)
{
    int trusted = (out->satisfied & (ESTD_AUTH_CERT | ESTD_AUTH_THIRD_PARTY | ESTD_AUTH_SRP)) != 0;
    const estd_guess_pre *pre = in->guess_pre;

    /* The password gate asked already (and holds the reservation). */
    if (pre != NULL && pre->decided && strcmp(pre->user, user) == 0) {
        out->guess = pre->verdict;
        out->retry_after = pre->retry_after;
    } else {
        out->guess = estd_guess_guard_check(caches->guard, user, in->peer_addr, trusted,
                                            rec != NULL ? rec->unlocked_at : 0, time(NULL),
                                            &out->retry_after);
    }
    if (out->guess == ESTD_GUESS_GO)
        return 1;
    snprintf(out->reason, sizeof out->reason,
             out->guess == ESTD_GUESS_LOCKED
                 ? "user name locked after failed attempts; retry in %u s"
                 : "too many failed attempts; retry in %u s",
             out->retry_after);
    return 0;
}

static void guard_report(const estd_auth_caches *caches, const estd_auth_input *in,
                         const char *user, estd_guess_outcome outcome, estd_auth_result *out)
{
    estd_guess_pre *pre = in->guess_pre;

    if (pre != NULL && pre->decided && strcmp(pre->user, user) == 0) {
        if (pre->settled)
            return;
        pre->settled = 1;
    }
    out->guess_locked_now =
        estd_guess_guard_report(caches->guard, user, in->peer_addr, outcome, time(NULL));
}

void estd_guess_pre_release(estd_guess_guard *guard, estd_guess_pre *pre)
{
    if (pre->decided && pre->verdict == ESTD_GUESS_GO && !pre->settled) {
        pre->settled = 1;
        estd_guess_guard_report(guard, pre->user, pre->addr, ESTD_GUESS_ABANDONED, time(NULL));
    }
}

/* Runs the slow hash: against the user's, or for an unknown user against
 * a dummy one, so that a name nobody has costs the same time as one that
 * exists (no enumeration by timing). */
static estd_guess_outcome basic_check(const estd_auth_caches *caches, const estd_auth_input *in,
                                      const char *user, const char *password,
                                      const est_user_record *rec, estd_auth_result *out)
{
    const char *hash = rec != NULL ? rec->password_hash : caches->dummy_hash;
    est_status verified;
    int gate = rec != NULL ? gate_verdict(caches->credentials, in->password, user, password, hash)
                           : 0;

    if (gate != 0) /* the password gate hashed these very credentials */
        return gate > 0 ? ESTD_GUESS_SUCCEEDED : ESTD_GUESS_FAILED;
    if (rec != NULL &&
        estd_credential_cache_hit(caches->credentials, user, password, hash, time(NULL)))
        return ESTD_GUESS_SUCCEEDED;
    if (hash == NULL)
        return ESTD_GUESS_FAILED;
    if (!estd_credential_cache_verify_begin(caches->credentials)) {
        out->busy = 1;
        snprintf(out->reason, sizeof out->reason, "too many password checks at once");
        return ESTD_GUESS_ABANDONED;
    }
    verified = est_password_verify(password, hash, NULL);
    estd_credential_cache_verify_end(caches->credentials);
    if (verified != EST_OK || rec == NULL)
        return ESTD_GUESS_FAILED;
    estd_credential_cache_put(caches->credentials, user, password, hash, time(NULL));
    return ESTD_GUESS_SUCCEEDED;
}

static void authenticate_basic(estd_instance *inst, const estd_auth_caches *caches,
                               const estd_auth_input *in, estd_auth_result *out)
{
    char *user = NULL, *password = NULL;
    est_user_record *rec = NULL;
    estd_guess_outcome outcome;
    est_status rc;

    out->presented |= ESTD_AUTH_BASIC;
    if (est_basic_parse(in->authorization, &user, &password, NULL) != EST_OK) {
        snprintf(out->reason, sizeof out->reason, "malformed Basic credentials");
        goto out;
    }
    /* The user row is read every time, so deleting a user or changing the
     * password takes effect at once; only the slow hash is cached. An
     * unknown name goes on (a dummy hash, counted like any other). */
    if ((rc = est_store_user_get(inst->store, user, &rec, NULL)) != EST_OK) {
        rec = NULL;
        if (rc != EST_E_NOT_FOUND) {
            out->store_down = 1;
            snprintf(out->reason, sizeof out->reason, "wrong user name or password");
            goto out;
        }
    }
    if (!guard_admits(caches, in, user, rec, out))
        goto out;
    outcome = basic_check(caches, in, user, password, rec, out);
    guard_report(caches, in, user, outcome, out);
    if (outcome != ESTD_GUESS_SUCCEEDED) {
        if (outcome == ESTD_GUESS_FAILED)
            snprintf(out->reason, sizeof out->reason, "wrong user name or password");
        goto out;
    }
    out->satisfied |= ESTD_AUTH_BASIC;
    append_method(out, "basic");
    if (out->name[0] == '\0')
        snprintf(out->name, sizeof out->name, "%s", user);
out:
    if (out->name[0] == '\0' && user != NULL)
        snprintf(out->attempted, sizeof out->attempted, "%s", user);
    est_free(user);
    est_secret_free(password);
    est_user_record_free(rec);
}

/* Verifies the response; SUCCEEDED only with a fresh nonce. A right
 * response with a stale or replayed nonce proves nothing either way
 * (it may be a recording): ABANDONED. */
static estd_guess_outcome digest_check(estd_instance *inst, est_digest_nonces *nonces,
                                       const estd_auth_input *in, est_digest_credentials *cred,
                                       est_digest_alg alg, const est_user_record *rec,
                                       estd_auth_result *out)
{
    const char *ha1 = NULL;
    est_error e;

    if (rec != NULL && rec->digest_realm != NULL && strcmp(rec->digest_realm, inst->cfg.realm) == 0)
        ha1 = alg == EST_DIGEST_SHA256 ? rec->digest_ha1_sha256 : rec->digest_ha1_md5;
    /* Verify before touching the nonce book: someone who saw a nonce but
     * lacks the password must not be able to burn its nc sequence. The
     * same answer for an unknown user and one without Digest. */
    if (ha1 == NULL || est_digest_verify(cred, ha1, in->method, in->uri, NULL) != EST_OK) {
        snprintf(out->reason, sizeof out->reason, "wrong user name or password");
        return ESTD_GUESS_FAILED;
    }
    if (est_digest_nonce_check(nonces, cred->nonce, cred->nc, time(NULL), &e) != EST_OK) {
        out->digest_stale = strstr(e.message, "stale") != NULL;
        snprintf(out->reason, sizeof out->reason, "Digest nonce rejected: %s", e.message);
        return ESTD_GUESS_ABANDONED;
    }
    return ESTD_GUESS_SUCCEEDED;
}

static void authenticate_digest(estd_instance *inst, const estd_auth_caches *caches,
                                const estd_auth_input *in, estd_auth_result *out)
{
    est_digest_credentials *cred = NULL;
    est_user_record *rec = NULL;
    est_digest_alg alg;
    estd_guess_outcome outcome;
    est_status rc;

    out->presented |= ESTD_AUTH_DIGEST;
    if (est_digest_parse(in->authorization, &cred, NULL) != EST_OK ||
        est_digest_alg_parse(cred->algorithm, &alg, NULL) != EST_OK) {
        snprintf(out->reason, sizeof out->reason, "malformed Digest credentials");
        goto out;
    }
    if (cred->realm == NULL || strcmp(cred->realm, inst->cfg.realm) != 0) {
        snprintf(out->reason, sizeof out->reason, "wrong user name or password");
        goto out;
    }
    if ((rc = est_store_user_get(inst->store, cred->username, &rec, NULL)) !=
        EST_OK) {
        rec = NULL;
        if (rc != EST_E_NOT_FOUND) {
            out->store_down = 1;
            snprintf(out->reason, sizeof out->reason, "wrong user name or password");
            goto out;
        }
    }
    if (!guard_admits(caches, in, cred->username, rec, out))
        goto out;
    outcome = digest_check(inst, caches->nonces, in, cred, alg, rec, out);
    guard_report(caches, in, cred->username, outcome, out);
    if (outcome != ESTD_GUESS_SUCCEEDED)
        goto out;
    out->satisfied |= ESTD_AUTH_DIGEST;
    append_method(out, "digest");
    if (out->name[0] == '\0')
        snprintf(out->name, sizeof out->name, "%s", cred->username);
out:
    if (out->name[0] == '\0' && cred != NULL && cred->username != NULL)
        snprintf(out->attempted, sizeof out->attempted, "%s", cred->username);
    est_digest_credentials_free(cred);
    est_user_record_free(rec);
}

/* draft-04 §3.3.3: the TLS-SRP handshake proved the password. The user
 * must still exist with a verifier (a resumed session outlives neither a
 * deletion nor the loss of the verifier). */
static void authenticate_srp(estd_instance *inst, const estd_auth_input *in,
                             estd_auth_result *out)
{
    est_user_record *rec = NULL;

    out->presented |= ESTD_AUTH_SRP;
    if (est_store_user_get(inst->store, in->srp_user, &rec, NULL) != EST_OK ||
        rec->srp_verifier == NULL) {
        snprintf(out->reason, sizeof out->reason, "SRP user '%.64s' no longer has a verifier",
                 in->srp_user);
        goto out;
    }
    out->satisfied |= ESTD_AUTH_SRP;
    append_method(out, "srp");
    if (out->name[0] == '\0')
        snprintf(out->name, sizeof out->name, "%s", in->srp_user);
out:
    est_user_record_free(rec);
}

est_status estd_authenticate(estd_instance *inst, estd_ca *ca, const estd_auth_caches *caches,
                             const estd_auth_input *in, estd_auth_result *out, est_error *err)
{
    memset(out, 0, sizeof *out);
    if (in->peer_cert != NULL)
        authenticate_cert(inst, ca, caches->chains, in, out);
    if (in->srp_user != NULL)
        authenticate_srp(inst, in, out);
    if (in->authorization != NULL) {
        if (strncasecmp(in->authorization, "Basic ", 6) == 0)
            authenticate_basic(inst, caches, in, out);
        else if (strncasecmp(in->authorization, "Digest ", 7) == 0)
            authenticate_digest(inst, caches, in, out);
        else
            snprintf(out->reason, sizeof out->reason, "unsupported authorization scheme");
    }
    (void)err;
    return EST_OK;
}

int estd_auth_allows(const estd_auth_policy *policy, const estd_auth_result *res)
{
    for (size_t i = 0; i < policy->count; i++) {
        unsigned need = policy->alternatives[i] & ~(unsigned)ESTD_AUTH_NONE;
        if ((need & res->satisfied) == need)
            return 1;
    }
    return 0;
}

unsigned estd_auth_http_schemes(const estd_auth_policy *policy)
{
    unsigned schemes = 0;
    for (size_t i = 0; i < policy->count; i++)
        schemes |= policy->alternatives[i] & (ESTD_AUTH_BASIC | ESTD_AUTH_DIGEST);
    return schemes;
}
