/* CRL and CA certificate over plain HTTP (publish.h). Relying parties
 * fetch them without TLS (a CRL is signed, a CA certificate is checked by
 * its path), so this listener needs no key and answers from memory.
 *
 * When a CRL is made: at start, when the revoked certificates of the CA
 * differ from those of the CRL served (checked every
 * PUBLISH_CHECK_SECONDS, so a revocation by `estd revoke` or a CMC
 * revokeRequest is published within that), and when half of its validity
 * (crl_days) has passed, so it is always replaced well before nextUpdate
 * (RFC 5280 §5.1.2.5). Unchanged, a CRL is not signed again: no CRL number
 * is spent on a copy. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "crl_list.h"
#include "publish.h"

#define PUBLISH_CHECK_SECONDS 10

typedef struct published {
    char label[EST_LABEL_MAX + 1];
    unsigned char *crl;         /* DER, OPENSSL_malloc'd */
    size_t crl_len;
    unsigned char *cert;        /* DER */
    size_t cert_len;
    unsigned char revoked_digest[32]; /* of the revoked serials the CRL lists */
    time_t made_at;
} published;

struct estd_publisher {
    pthread_mutex_t lock;       /* cas[] between the main and the http thread */
    published cas[ESTD_CONFIG_MAX_LABELS + 1];
    size_t count;
    time_t next_check;
};

estd_publisher *estd_publisher_new(void)
{
    estd_publisher *p = calloc(1, sizeof *p);

    if (p != NULL)
        pthread_mutex_init(&p->lock, NULL);
    return p;
}

void estd_publisher_free(estd_publisher *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->count; i++) {
        OPENSSL_free(p->cas[i].crl);
        OPENSSL_free(p->cas[i].cert);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* SHA-256 over the serials, reasons and dates: equal when the CRL would
 * list the same entries. */
static void revoked_digest(const estd_revoked_list *l, unsigned char out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    memset(out, 0, 32);
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    for (size_t i = 0; i < l->count; i++) {
        EVP_DigestUpdate(ctx, l->serials[i], strlen(l->serials[i]) + 1);
        EVP_DigestUpdate(ctx, &l->entries[i].reason, sizeof l->entries[i].reason);
        EVP_DigestUpdate(ctx, &l->entries[i].revoked_at, sizeof l->entries[i].revoked_at);
    }
    EVP_DigestFinal_ex(ctx, out, NULL);
out:
    EVP_MD_CTX_free(ctx);
}

/* A new CRL for ca into slot when it is due; the slot changes under the
 * lock, all else happens outside it. */
static est_status refresh_one(estd_publisher *p, published *slot, estd_instance *inst,
                              estd_ca *ca, int force, est_error *err)
{
    estd_revoked_list list = {0};
    unsigned char digest[32], *der = NULL;
    unsigned days = inst->cfg.ops.crl_days;
    time_t now = time(NULL);
    X509_CRL *crl = NULL;
    long number = 0;
    int len;
    est_status rc;

    /* An RA label (issuer = est or cmp) has no CA key: its CRL is the
     * upstream CA's. */
    if (ca->ca == NULL)
        return EST_OK;
    if ((rc = estd_revoked_list_load(inst, ca->cfg->label, &list, err)) != EST_OK)
        goto out;
    revoked_digest(&list, digest);
    if (!force && slot->crl != NULL && memcmp(digest, slot->revoked_digest, sizeof digest) == 0 &&
        now - slot->made_at < (time_t)days * 86400 / 2)
        goto out;
    if ((rc = est_store_next_crl_number(inst->store, &number, err)) != EST_OK ||
        (rc = est_ca_make_crl(ca->ca, list.entries, list.count, number, days, &crl, err)) != EST_OK)
        goto out;
    if ((len = i2d_X509_CRL(crl, &der)) <= 0) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "encoding the CRL");
        goto out;
    }
    pthread_mutex_lock(&p->lock);
    OPENSSL_free(slot->crl);
    slot->crl = der;
    slot->crl_len = (size_t)len;
    memcpy(slot->revoked_digest, digest, sizeof digest);
    slot->made_at = now;
    pthread_mutex_unlock(&p->lock);
    der = NULL;
out:
    OPENSSL_free(der);
    X509_CRL_free(crl);
    estd_revoked_list_release(&list);
    return rc;
}

/* The CA certificates and labels, as the (reloaded) instance has them. */
static void sync_cas(estd_publisher *p, estd_instance *inst)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < inst->ca_count; i++) {
        published *slot = &p->cas[i];
        unsigned char *der = NULL;
        int len = i2d_X509(inst->cas[i].cert, &der);

        if (strcmp(slot->label, inst->cas[i].cfg->label) != 0) {
            OPENSSL_free(slot->crl);
            memset(slot, 0, sizeof *slot);
            snprintf(slot->label, sizeof slot->label, "%s", inst->cas[i].cfg->label);
        }
        if (len > 0) {
            OPENSSL_free(slot->cert);
            slot->cert = der;
            slot->cert_len = (size_t)len;
        }
    }
    for (size_t i = inst->ca_count; i < p->count; i++) {
        OPENSSL_free(p->cas[i].crl);
        OPENSSL_free(p->cas[i].cert);
        memset(&p->cas[i], 0, sizeof p->cas[i]);
    }
    p->count = inst->ca_count;
    pthread_mutex_unlock(&p->lock);
}

void estd_publisher_refresh(estd_publisher *p, estd_instance *inst, int force)
{
    time_t now = time(NULL);
    est_error err;

    if (!force && now < p->next_check)
        return;
    p->next_check = now + PUBLISH_CHECK_SECONDS;
    if (force)
        sync_cas(p, inst);
    for (size_t i = 0; i < inst->ca_count; i++)
        if (refresh_one(p, &p->cas[i], inst, &inst->cas[i], force, &err) != EST_OK)
            fprintf(stderr, "estd: CRL of CA '%s': %s; serving the previous one\n",
                    inst->cas[i].cfg->label, err.message);
}

/* "/ca.crl" -> label "", "/LABEL/ca.crt" -> "LABEL"; *crl set by suffix.
 * 0 when the path is neither. */
static int parse_path(const char *path, char label[EST_LABEL_MAX + 1], int *crl)
{
    const char *slash = strrchr(path, '/');
    size_t n;

    if (path[0] != '/' || slash == NULL)
        return 0;
    if (strcmp(slash, "/ca.crl") == 0)
        *crl = 1;
    else if (strcmp(slash, "/ca.crt") == 0)
        *crl = 0;
    else
        return 0;
    n = (size_t)(slash - path);
    if (n == 0) {
        label[0] = '\0';
        return 1;
    }
    if (n - 1 > EST_LABEL_MAX || memchr(path + 1, '/', n - 1) != NULL)
        return 0;
    memcpy(label, path + 1, n - 1);
    label[n - 1] = '\0';
    return 1;
}

void estd_publisher_handle(void *arg, const char *path, const char *authorization,
                           estd_plain_reply *reply)
{
    estd_publisher *p = arg;
    char label[EST_LABEL_MAX + 1];
    int crl;
    (void)authorization;

    if (!parse_path(path, label, &crl))
        return; /* 404 */
    /* The main thread may replace the bodies once the lock is released:
     * the reply gets its own copy. */
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->count; i++) {
        published *slot = &p->cas[i];
        const unsigned char *der = crl ? slot->crl : slot->cert;
        size_t len = crl ? slot->crl_len : slot->cert_len;
        char *copy;

        if (strcmp(slot->label, label) != 0 || der == NULL)
            continue;
        if ((copy = malloc(len)) == NULL) {
            *reply = (estd_plain_reply){503, "text/plain", "out of memory\n", 14, NULL, NULL};
            break;
        }
        memcpy(copy, der, len);
        *reply = (estd_plain_reply){200, crl ? "application/pkix-crl" : "application/pkix-cert",
                                    copy, len, NULL, copy};
        break;
    }
    pthread_mutex_unlock(&p->lock);
}
