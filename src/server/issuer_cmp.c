/* estd: issuer = cmp. estd is an RA in front of a CMP CA (RFC 4210, the
 * lightweight CMP profile RFC 9483) and talks to it with OpenSSL's own CMP
 * client (OSSL_CMP_*), not a hand-written encoder. The device's PKCS#10
 * goes up unchanged in a p10cr (RFC 4210 §5.3.1): the CA checks its
 * signature, the RA protects the message with its own key or, for
 * bootstrap, a shared-secret MAC. A device's re-enrollment is a kur
 * naming the certificate being renewed (kur_setup).
 *
 * Polling (RFC 4210 §5.3.22) maps to draft-04 §4.2.3's 202: when the CA
 * says "waiting", the CMP transaction is parked under the CSR's hash and
 * the device's repeat of the same request sends the next pollReq. Parked
 * transactions live in memory only (a restart forgets them; the device's
 * next repeat then starts a new transaction). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/sha.h>
#include "issuer.h"
#include "estkit/key.h"
#include "estkit/file.h"

/* Transactions waiting at the CA at once; the oldest is dropped beyond. */
#define CMP_WAITING_MAX 64
/* A shared secret is a line of text; longer is a mistake. */
#define CMP_SECRET_MAX 256

typedef struct cmp_waiting {
    unsigned char csr_hash[SHA256_DIGEST_LENGTH];
    OSSL_CMP_CTX *ctx;           /* NULL = free slot */
    time_t since;
} cmp_waiting;

struct estd_cmp_upstream {
    char *host, *port, *path;
    int tls;
    X509 *srv_cert;              /* the CA's CMP signer (pinned), or NULL with a MAC */
    X509 *ra_cert;
    EVP_PKEY *ra_key;
    uint8_t *secret;
    size_t secret_len;
    est_ca *responder;           /* signs /fullcmc answers with the RA's key, or NULL */
    const estd_upstream_config *cfg;
    pthread_mutex_t lock;        /* guards waiting[] */
    cmp_waiting waiting[CMP_WAITING_MAX];
};

static est_status load_credentials(estd_cmp_upstream *up, est_error *err)
{
    const estd_upstream_config *cfg = up->cfg;
    STACK_OF(X509) *certs = NULL;
    est_status rc = EST_OK;

    if (cfg->trust[0] != '\0') {
        if ((rc = est_certs_read_file(cfg->trust, &certs, err)) != EST_OK)
            return est_error_prefix(err, rc, "upstream_trust");
        up->srv_cert = sk_X509_shift(certs);
        sk_X509_pop_free(certs, X509_free);
        certs = NULL;
    }
    if (cfg->cert[0] != '\0') {
        if ((rc = est_certs_read_file(cfg->cert, &certs, err)) != EST_OK ||
            (rc = est_key_read_file(cfg->key, &up->ra_key, err)) != EST_OK)
            return est_error_prefix(err, rc, "upstream_cert/upstream_key");
        up->ra_cert = sk_X509_shift(certs);
        sk_X509_pop_free(certs, X509_free);
        /* RFC 5272 §3.2.1: an RA may sign the CMC response it returns. */
        if ((up->responder = est_ca_new(up->ra_cert, NULL, NULL,
                                        est_signer_new_key(up->ra_key))) == NULL)
            return est_error_set(err, EST_E_NOMEM, "out of memory");
        if (up->srv_cert == NULL && cfg->cmp_secret_file[0] == '\0')
            return est_error_set(err, EST_E_CONFIG, "issuer = cmp with a signature needs "
                                                    "upstream_trust (the CA's CMP signer)");
    }
    if (cfg->cmp_secret_file[0] != '\0') {
        rc = estd_secret_read(cfg->cmp_secret_file, CMP_SECRET_MAX, "cmp_secret_file",
                              &up->secret, &up->secret_len, err);
    }
    return rc;
}

est_status estd_cmp_upstream_open(const estd_ca_config *cfg, estd_cmp_upstream **out,
                                  est_error *err)
{
    estd_cmp_upstream *up = calloc(1, sizeof *up);
    est_status rc;

    if (up == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    pthread_mutex_init(&up->lock, NULL);
    up->cfg = &cfg->upstream;
    if (!OSSL_HTTP_parse_url(cfg->upstream.url, &up->tls, NULL, &up->host, &up->port, NULL,
                             &up->path, NULL, NULL)) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "upstream_url '%s' is not a usable URL",
                                   cfg->upstream.url);
        goto out;
    }
    /* RFC 6712 §3: CMP messages carry their own protection; https would
     * need a TLS client here too, left for later. */
    if (up->tls) {
        rc = est_error_set(err, EST_E_CONFIG, "issuer = cmp speaks http:// only (CMP messages "
                                              "are protected themselves)");
        goto out;
    }
    if ((rc = load_credentials(up, err)) != EST_OK)
        goto out;
    *out = up;
    up = NULL;
out:
    estd_cmp_upstream_free(up);
    return rc;
}

void estd_cmp_upstream_free(estd_cmp_upstream *up)
{
    if (up == NULL)
        return;
    for (int i = 0; i < CMP_WAITING_MAX; i++)
        OSSL_CMP_CTX_free(up->waiting[i].ctx);
    OPENSSL_free(up->host);
    OPENSSL_free(up->port);
    OPENSSL_free(up->path);
    X509_free(up->srv_cert);
    est_ca_free(up->responder);
    X509_free(up->ra_cert);
    EVP_PKEY_free(up->ra_key);
    if (up->secret != NULL)
        OPENSSL_clear_free(up->secret, up->secret_len);
    pthread_mutex_destroy(&up->lock);
    free(up);
}

/* RFC 4210 §5.3.18: the RA confirms only a certificate for the device's
 * key; otherwise its certConf tells the CA it was refused. */
typedef struct confirm_arg {
    X509_REQ *csr;
    int foreign_key;             /* set when the CA's certificate was refused */
} confirm_arg;

static int cert_confirm(OSSL_CMP_CTX *ctx, X509 *cert, int fail_info, const char **text)
{
    confirm_arg *arg = OSSL_CMP_CTX_get_certConf_cb_arg(ctx);

    /* OpenSSL may have found the mismatch itself (fail_info set). */
    if (EVP_PKEY_eq(X509_REQ_get0_pubkey(arg->csr), X509_get0_pubkey(cert)) != 1) {
        arg->foreign_key = 1;
        if (fail_info == 0)
            *text = "certificate is not for the requested key";
        return fail_info | 1 << OSSL_CMP_PKIFAILUREINFO_incorrectData;
    }
    return fail_info;
}

/* OpenSSL's CMP client logs to stderr unless told otherwise; estd reports
 * through the device's answer and the audit log instead. */
static int quiet_log(const char *func, const char *file, int line, OSSL_CMP_severity level,
                     const char *msg)
{
    (void)func, (void)file, (void)line, (void)level, (void)msg;
    return 1;
}

/* A fresh CMP context for one p10cr/kur transaction (csr), or for a
 * revocation (csr NULL). Each message is bounded
 * by upstream_timeout_seconds; no total timeout, since OpenSSL 3.0 counts
 * a parked transaction's polling against it and a device may take long to
 * come back (OSSL_CMP_try_certreq never sleeps). */
static OSSL_CMP_CTX *context_new(const estd_cmp_upstream *up, X509_REQ *csr, est_error *err)
{
    OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
    int ok = ctx != NULL && OSSL_CMP_CTX_set_log_cb(ctx, quiet_log) &&
             OSSL_CMP_CTX_set1_server(ctx, up->host) &&
             OSSL_CMP_CTX_set_serverPort(ctx, atoi(up->port)) &&
             OSSL_CMP_CTX_set1_serverPath(ctx, up->path) &&
             OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT,
                                     (int)up->cfg->timeout_seconds) &&
             /* A parked transaction must not count on a kept connection. */
             OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_KEEP_ALIVE, 0) &&
             (csr == NULL || (OSSL_CMP_CTX_set1_p10CSR(ctx, csr) &&
                              OSSL_CMP_CTX_set_certConf_cb(ctx, cert_confirm)));

    if (ok && up->secret != NULL)
        ok = OSSL_CMP_CTX_set1_secretValue(ctx, up->secret, (int)up->secret_len) &&
             OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)up->cfg->cmp_reference,
                                              (int)strlen(up->cfg->cmp_reference));
    else if (ok)
        ok = OSSL_CMP_CTX_set1_cert(ctx, up->ra_cert) && OSSL_CMP_CTX_set1_pkey(ctx, up->ra_key);
    if (ok && up->srv_cert != NULL)
        ok = OSSL_CMP_CTX_set1_srvCert(ctx, up->srv_cert);
    if (!ok) {
        est_error_set_openssl(err, EST_E_NOMEM, "CMP context");
        OSSL_CMP_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* RFC 4210 §5.3.5 key update for a re-enrollment: the request is built
 * from the device's CSR (key, subject, extensions) and names the
 * certificate being renewed. The RA checked the CSR's signature, so it
 * asserts proof of possession as raVerified (RFC 4211 §4.3). */
static int kur_setup(OSSL_CMP_CTX *ctx, X509_REQ *csr, X509 *old)
{
    EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
    X509_EXTENSIONS *exts = X509_REQ_get_extensions(csr);
    int ok;

    if (pub == NULL || !EVP_PKEY_up_ref(pub)) {
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        return 0;
    }
    ok = OSSL_CMP_CTX_set0_newPkey(ctx, 0, pub);
    if (!ok)
        EVP_PKEY_free(pub);
    ok = ok && OSSL_CMP_CTX_set1_oldCert(ctx, old) &&
         OSSL_CMP_CTX_set1_subjectName(ctx, X509_REQ_get_subject_name(csr)) &&
         OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_POPO_METHOD, OSSL_CRMF_POPO_RAVERIFIED);
    if (ok && exts != NULL && sk_X509_EXTENSION_num(exts) > 0) {
        ok = OSSL_CMP_CTX_set0_reqExtensions(ctx, exts);
        if (ok)
            exts = NULL;
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

/* Takes the parked transaction for this CSR, if any. */
static OSSL_CMP_CTX *waiting_take(estd_cmp_upstream *up, const unsigned char *hash)
{
    OSSL_CMP_CTX *ctx = NULL;

    pthread_mutex_lock(&up->lock);
    for (int i = 0; i < CMP_WAITING_MAX && ctx == NULL; i++) {
        if (up->waiting[i].ctx != NULL &&
            memcmp(up->waiting[i].csr_hash, hash, SHA256_DIGEST_LENGTH) == 0) {
            ctx = up->waiting[i].ctx;
            up->waiting[i].ctx = NULL;
        }
    }
    pthread_mutex_unlock(&up->lock);
    return ctx;
}

static void waiting_park(estd_cmp_upstream *up, const unsigned char *hash, OSSL_CMP_CTX *ctx)
{
    int slot = 0;

    pthread_mutex_lock(&up->lock);
    for (int i = 0; i < CMP_WAITING_MAX; i++) {
        if (up->waiting[i].ctx == NULL) {
            slot = i;
            break;
        }
        if (up->waiting[i].since < up->waiting[slot].since)
            slot = i;
    }
    OSSL_CMP_CTX_free(up->waiting[slot].ctx);
    memcpy(up->waiting[slot].csr_hash, hash, SHA256_DIGEST_LENGTH);
    up->waiting[slot].ctx = ctx;
    up->waiting[slot].since = time(NULL);
    pthread_mutex_unlock(&up->lock);
}

/* The CA's refusal (PKIStatus rejection) -> 403 with its words; no answer
 * or an unusable one -> 503. */
static est_status failure(OSSL_CMP_CTX *ctx, est_error *err)
{
    char status[256] = "";
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "";

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    if (OSSL_CMP_CTX_get_status(ctx) == OSSL_CMP_PKISTATUS_rejection) {
        OSSL_CMP_CTX_snprint_PKIStatus(ctx, status, sizeof status);
        return est_error_set(err, EST_E_AUTH, "upstream CMP CA rejected the request: %s", status);
    }
    if (OSSL_CMP_CTX_get_status(ctx) < 0)
        return est_error_set(err, EST_E_IO, "upstream CMP server unreachable or no answer: %s",
                             reason);
    return est_error_set(err, EST_E_PROTOCOL, "upstream CMP answer unusable: %s", reason);
}

est_status estd_issuer_cmp_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr,
                                 const estd_requester *who, const char *operation, X509 **out,
                                 unsigned *retry_after, est_error *err)
{
    estd_cmp_upstream *up = ca->cmp;
    unsigned char hash[SHA256_DIGEST_LENGTH], *der = NULL;
    int der_len = i2d_X509_REQ(csr, &der), check_after = 0, res;
    OSSL_CMP_CTX *ctx = NULL;
    confirm_arg confirm = {csr, 0};
    STACK_OF(X509) *extra = NULL;
    char via[1100], subject[256];
    X509 *cert;
    est_status rc;

    if (der_len <= 0)
        return est_error_set_openssl(err, EST_E_NOMEM, "encoding the CSR");
    SHA256(der, (size_t)der_len, hash);
    OPENSSL_free(der);
    snprintf(via, sizeof via, "cmp %s", up->cfg->url);
    X509_NAME_oneline(X509_REQ_get_subject_name(csr), subject, sizeof subject);
    estd_audit(inst, "forward", ca->cfg->label, who->name, subject, NULL, via);
    if ((ctx = waiting_take(up, hash)) == NULL) {
        if ((ctx = context_new(up, csr, err)) == NULL)
            return err->code;
        if (who->renewing != NULL && !kur_setup(ctx, csr, who->renewing)) {
            OSSL_CMP_CTX_free(ctx);
            return est_error_set_openssl(err, EST_E_NOMEM, "CMP key update request");
        }
    }
    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, &confirm);
    /* A repeat of a re-enrollment is a re-enrollment too (same request). */
    res = OSSL_CMP_try_certreq(ctx, who->renewing != NULL ? OSSL_CMP_KUR : OSSL_CMP_P10CR, NULL,
                               &check_after);
    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, NULL);
    if (res == -1) {
        /* RFC 4210 §5.3.22: the CA is waiting; the device repeats. */
        *retry_after = check_after > 0 ? (unsigned)check_after : ca->cfg->retry_after_seconds;
        waiting_park(up, hash, ctx);
        ctx = NULL;
        rc = est_error_set(err, EST_E_RETRY_LATER, "upstream CMP CA is processing the request");
    } else if (confirm.foreign_key) {
        ERR_clear_error();
        rc = est_error_set(err, EST_E_PROTOCOL, "upstream returned a certificate for another key");
    } else if (res == 0 || (cert = OSSL_CMP_CTX_get0_newCert(ctx)) == NULL) {
        rc = failure(ctx, err);
    } else {
        extra = OSSL_CMP_CTX_get1_extraCertsIn(ctx);
        rc = estd_issuer_accept(inst, ca, csr, cert, extra, ca->cacerts, who, operation, via, err);
        if (rc == EST_OK && (*out = X509_dup(cert)) == NULL)
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    if (rc != EST_OK) /* success: the "issue" row, as for issuer = est */
        estd_audit(inst, estd_forward_event(rc), ca->cfg->label, who->name, subject, NULL,
                   err->message);
    sk_X509_pop_free(extra, X509_free);
    OSSL_CMP_CTX_free(ctx);
    return rc;
}

est_ca *estd_cmp_upstream_get0_responder(const estd_cmp_upstream *up)
{
    return up->responder;
}

/* RFC 4210 §5.3.9 revocation request for a certificate of this CA (the
 * device's /fullcmc revokeRequest, checked by fullcmc.c). */
est_status estd_issuer_cmp_revoke(estd_instance *inst, estd_ca *ca, X509 *cert, int reason,
                                  const char *actor, est_error *err)
{
    estd_cmp_upstream *up = ca->cmp;
    OSSL_CMP_CTX *ctx = context_new(up, NULL, err);
    char via[1100], subject[256];
    est_status rc = EST_OK;

    if (ctx == NULL)
        return err->code;
    snprintf(via, sizeof via, "rr: cmp %s", up->cfg->url);
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    estd_audit(inst, "forward", ca->cfg->label, actor, subject, NULL, via);
    if (!OSSL_CMP_CTX_set1_oldCert(ctx, cert) ||
        !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_REVOCATION_REASON, reason))
        rc = est_error_set_openssl(err, EST_E_NOMEM, "CMP revocation request");
    else if (OSSL_CMP_exec_RR_ses(ctx) != 1)
        rc = failure(ctx, err);
    if (rc != EST_OK)
        estd_audit(inst, estd_forward_event(rc), ca->cfg->label, actor, subject, NULL,
                   err->message);
    OSSL_CMP_CTX_free(ctx);
    return rc;
}
