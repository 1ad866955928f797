/* estd: loading DIR into an instance (config, CAs, trust, store). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/x509v3.h>
#include "instance.h"
#include "issuer.h"
#include "keyproc.h"
#include "metrics.h"
#include "pkcs11.h"
#include "secrets.h"
#include "estkit/file.h"
#include "estkit/signer.h"
#include "estkit/ca.h"
#include "estkit/csrattrs.h"
#include "estkit/mem.h"

static est_status read_optional_certs(const char *path, STACK_OF(X509) **out, est_error *err)
{
    *out = NULL;
    if (path[0] == '\0' || access(path, F_OK) != 0)
        return EST_OK;
    return est_certs_read_file(path, out, err);
}

/* Anchors for client certificates this CA issued: the CA certificate and,
 * after a rollover, the older roots in extra. PARTIAL_CHAIN lets a
 * subordinate CA's own certificate be the anchor (the root stays out of
 * the decision: only this CA issues EST client certificates). */
static est_status ca_trust_build(estd_ca *ca, STACK_OF(X509) *extra, est_error *err)
{
    ca->trust = X509_STORE_new();
    if (ca->trust == NULL || !X509_STORE_add_cert(ca->trust, ca->cert))
        return est_error_set_openssl(err, EST_E_NOMEM, "trust store");
    for (int i = 0; extra != NULL && i < sk_X509_num(extra); i++) {
        X509 *c = sk_X509_value(extra, i);
        if (X509_check_ca(c) && !X509_STORE_add_cert(ca->trust, c))
            return est_error_set_openssl(err, EST_E_NOMEM, "trust store");
    }
    X509_STORE_set_flags(ca->trust, X509_V_FLAG_PARTIAL_CHAIN);
    return EST_OK;
}

static est_status ca_csrattrs_build(estd_ca *ca, est_error *err)
{
    char list[sizeof ca->cfg->csrattrs];
    char *save = NULL;
    est_status rc;

    ca->csrattrs = est_csrattrs_new();
    if (ca->csrattrs == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    memcpy(list, ca->cfg->csrattrs, sizeof list);
    for (char *tok = strtok_r(list, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save))
        if ((rc = est_csrattrs_add_oid(ca->csrattrs, tok, err)) != EST_OK)
            return est_error_prefix(err, rc, "csrattrs");
    /* draft-04 §3.5: a server that requires linking says so in /csrattrs;
     * so does one that needs a one-time code in challengePassword. */
    if ((ca->cfg->pop == ESTD_POP_REQUIRED || ca->cfg->challenge == ESTD_CHALLENGE_OTP) &&
        !est_csrattrs_has_nid(ca->csrattrs, NID_pkcs9_challengePassword))
        if (est_csrattrs_add_oid(ca->csrattrs, "1.2.840.113549.1.9.7", err) != EST_OK)
            return EST_E_INTERNAL;
    return EST_OK;
}

static est_dialect form_dialect(int form)
{
    return form == ESTD_BODY_DRAFT ? EST_DIALECT_DRAFT : EST_DIALECT_RFC7030;
}

static unsigned form_line(const estd_ca *ca, int form)
{
    return form == ESTD_BODY_RFC7030_UNBROKEN ? 0 : ca->cfg->base64_line_length;
}

estd_body_form estd_body_form_of(est_dialect dialect, unsigned base64_line)
{
    if (dialect == EST_DIALECT_DRAFT)
        return ESTD_BODY_DRAFT;
    return base64_line == 0 ? ESTD_BODY_RFC7030_UNBROKEN : ESTD_BODY_RFC7030;
}

static est_status ca_bodies_build(estd_ca *ca, est_error *err)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_status rc;

    rc = est_certs_only_build(ca->cacerts, &der, &der_len, err);
    for (int f = 0; rc == EST_OK && f < ESTD_BODY_FORMS; f++)
        rc = est_body_encode_lines(der, der_len, form_dialect(f), "PKCS7",
                                   form_line(ca, f), &ca->cacerts_body[f],
                                   &ca->cacerts_len[f], err);
    est_free(der);
    der = NULL;
    for (int f = 0; rc == EST_OK && f < ESTD_BODY_FORMS; f++) {
        rc = est_csrattrs_encode(ca->csrattrs, form_dialect(f), &der, &der_len, err);
        if (rc == EST_OK)
            rc = est_body_encode_lines(der, der_len, form_dialect(f), "CSR ATTRIBUTES",
                                       form_line(ca, f), &ca->csrattrs_body[f],
                                       &ca->csrattrs_len[f], err);
        est_free(der);
        der = NULL;
    }
    return rc;
}

static int push_ref(STACK_OF(X509) *stack, X509 *cert)
{
    if (!sk_X509_push(stack, cert))
        return 0;
    X509_up_ref(cert);
    return 1;
}

/* What /cacerts serves. After a rollover extra holds OldWithOld and the two
 * link certificates. Links come first: path builders (OpenSSL's among them)
 * take the first untrusted certificate whose subject and key identifier
 * match, so a device holding only the old root must meet NewWithOld before
 * the self-signed NewWithNew, and a device holding only the new root must
 * meet OldWithNew before OldWithOld (draft-04 §4.1.3). */
static est_status cacerts_build(estd_ca *ca, STACK_OF(X509) *chain, STACK_OF(X509) *extra,
                                est_error *err)
{
    int n_extra = extra != NULL ? sk_X509_num(extra) : 0;

    ca->cacerts = sk_X509_new_null();
    if (ca->cacerts == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n_extra; i++) {
            X509 *c = sk_X509_value(extra, i);
            int self_signed = X509_self_signed(c, 0) == 1;
            if (self_signed == (pass == 1) && !push_ref(ca->cacerts, c))
                return est_error_set(err, EST_E_NOMEM, "out of memory");
        }
        if (pass == 0) {
            if (!push_ref(ca->cacerts, ca->cert))
                return est_error_set(err, EST_E_NOMEM, "out of memory");
            for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
                if (!push_ref(ca->cacerts, sk_X509_value(chain, i)))
                    return est_error_set(err, EST_E_NOMEM, "out of memory");
        }
    }
    return EST_OK;
}

/* issuer = est: the CA is the upstream's, as its /cacerts says; there is
 * no key here (issuer.h). */
static est_status ca_load_upstream(estd_ca *ca, unsigned flags, est_error *err)
{
    STACK_OF(X509) *cacerts = NULL;
    est_status rc;

    rc = estd_upstream_open(ca->cfg, (flags & ESTD_OPEN_UPSTREAM) != 0, &ca->upstream, &cacerts,
                            err);
    if (rc != EST_OK)
        return rc;
    ca->cacerts = cacerts;
    ca->cert = sk_X509_value(cacerts, 0);
    X509_up_ref(ca->cert);
    if ((rc = ca_trust_build(ca, cacerts, err)) != EST_OK ||
        (rc = ca_csrattrs_build(ca, err)) != EST_OK || (rc = ca_bodies_build(ca, err)) != EST_OK)
        return rc;
    return EST_OK;
}

/* The in-process signer: the admin commands' (they are not network-facing). */
static est_status key_signer_make(void *arg, unsigned index, const estd_ca_config *cfg,
                                  X509 *cert, est_signer **out, est_error *err)
{
    EVP_PKEY *key = NULL;
    est_status rc;

    (void)arg, (void)index;
    *out = NULL;
    if (estd_key_is_pkcs11(cfg->key))
        return estd_p11_signer_new(cfg->key, X509_get0_pubkey(cert), cfg->signature_pss, out,
                                   err);
    if ((rc = estd_ca_key_load(cfg, &key, err)) != EST_OK)
        return rc;
    if (!X509_check_private_key(cert, key))
        rc = est_error_set_openssl(err, EST_E_CONFIG, "%s: key does not match the certificate %s",
                                   cfg->key, cfg->cert);
    else if (cfg->signature_pss && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
        rc = est_error_set(err, EST_E_CONFIG, "signature = pss needs an RSA CA key");
    else if ((*out = cfg->signature_pss ? est_signer_new_key_pss(key)
                                        : est_signer_new_key(key)) == NULL)
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    EVP_PKEY_free(key);
    return rc;
}

typedef struct signer_source {
    estd_signer_make_fn make; /* NULL: no keys */
    void *arg;
    unsigned flags;           /* enum estd_open_flags */
} signer_source;

static est_status ca_load(estd_ca *ca, const estd_ca_config *cfg, unsigned index,
                          const signer_source *src, est_error *err)
{
    STACK_OF(X509) *certs = NULL, *chain = NULL, *extra = NULL;
    est_signer *signer = NULL;
    est_status rc;

    ca->cfg = cfg;
    /* kek_file serves /serverkeygen whoever issues (read once: kek.h). */
    if (cfg->kek_file[0] != '\0' &&
        (rc = estd_kek_table_load(cfg->kek_file, &ca->keks, err)) != EST_OK)
        goto out;
    if (cfg->upstream.issuer == ESTD_ISSUER_EST) {
        rc = ca_load_upstream(ca, src->flags, err);
        goto out;
    }
    rc = est_certs_read_file(cfg->cert, &certs, err);
    if (rc != EST_OK)
        goto out;
    ca->cert = sk_X509_value(certs, 0);
    X509_up_ref(ca->cert);
    if ((rc = read_optional_certs(cfg->chain, &chain, err)) != EST_OK ||
        (rc = read_optional_certs(cfg->extra, &extra, err)) != EST_OK)
        goto out;
    if ((rc = cacerts_build(ca, chain, extra, err)) != EST_OK)
        goto out;
    /* issuer = est / cmp: cert is the upstream CA's; the key stays there. */
    if (src->make != NULL && cfg->upstream.issuer == ESTD_ISSUER_EMBEDDED) {
        if ((rc = src->make(src->arg, index, cfg, ca->cert, &signer, err)) != EST_OK)
            goto out;
        /* est_ca_new owns the signer from here on, also when it fails. */
        ca->ca = est_ca_new(ca->cert, chain, extra, signer);
        if (ca->ca == NULL) {
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
    }
    if (cfg->upstream.issuer == ESTD_ISSUER_CMP &&
        (rc = estd_cmp_upstream_open(cfg, &ca->cmp, err)) != EST_OK)
        goto out;
    if ((rc = ca_trust_build(ca, extra, err)) != EST_OK ||
        (rc = ca_csrattrs_build(ca, err)) != EST_OK || (rc = ca_bodies_build(ca, err)) != EST_OK)
        goto out;
    rc = EST_OK;
out:
    if (rc != EST_OK && ca->cfg->label[0] != '\0')
        est_error_prefix(err, rc, "CA '%s'", ca->cfg->label);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(extra, X509_free);
    return rc;
}

static void ca_release(estd_ca *ca)
{
    estd_upstream_free(ca->upstream);
    estd_cmp_upstream_free(ca->cmp);
    est_ca_free(ca->ca);
    X509_free(ca->cert);
    sk_X509_pop_free(ca->cacerts, X509_free);
    est_csrattrs_free(ca->csrattrs);
    X509_STORE_free(ca->trust);
    estd_kek_table_free(ca->keks);
    for (int f = 0; f < ESTD_BODY_FORMS; f++) {
        est_free(ca->cacerts_body[f]);
        est_free(ca->csrattrs_body[f]);
    }
    memset(ca, 0, sizeof *ca);
}

static est_status third_party_load(estd_instance *inst, est_error *err)
{
    STACK_OF(X509) *certs = NULL;
    est_status rc;

    if (inst->cfg.third_party_trust[0] == '\0')
        return EST_OK;
    rc = est_certs_read_file(inst->cfg.third_party_trust, &certs, err);
    if (rc != EST_OK)
        return rc;
    inst->third_party = X509_STORE_new();
    rc = EST_E_NOMEM;
    if (inst->third_party == NULL)
        goto out;
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (!X509_STORE_add_cert(inst->third_party, sk_X509_value(certs, i)))
            goto out;
    rc = EST_OK;
out:
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static est_status instance_open(const char *dir, const signer_source *src, estd_instance **out,
                                est_error *err)
{
    estd_instance *inst = calloc(1, sizeof *inst);
    est_store_pg_options pg;
    est_status rc = EST_E_NOMEM;

    if (inst == NULL)
        return est_error_set(err, rc, "out of memory");
    if ((rc = estd_config_load(&inst->cfg, dir, err)) != EST_OK)
        goto out;
    for (size_t i = 0; i < inst->cfg.ca_count; i++) {
        rc = ca_load(&inst->cas[i], &inst->cfg.cas[i], (unsigned)i, src, err);
        inst->ca_count = i + 1;
        if (rc != EST_OK)
            goto out;
    }
    if ((rc = third_party_load(inst, err)) != EST_OK)
        goto out;
    pg.connections = inst->cfg.store_connections;
    pg.wait_seconds = inst->cfg.store_wait_seconds;
    if (!(src->flags & ESTD_OPEN_NO_STORE) &&
        (rc = est_store_open(inst->cfg.store, 0, &pg, &inst->store, err)) != EST_OK)
        goto out;
    rc = EST_OK;
out:
    if (rc != EST_OK) {
        estd_instance_free(inst);
        return rc;
    }
    *out = inst;
    return EST_OK;
}

est_status estd_instance_open(const char *dir, unsigned flags, estd_instance **out, est_error *err)
{
    signer_source src = {flags & ESTD_OPEN_KEYS ? key_signer_make : NULL, NULL, flags};

    return instance_open(dir, &src, out, err);
}

static est_status keyproc_signer_make(void *arg, unsigned index, const estd_ca_config *cfg,
                                      X509 *cert, est_signer **out, est_error *err)
{
    return estd_keyproc_signer_new(arg, index, cert, cfg->signature_pss, out, err);
}

/* A signer process of its own for each instance: a reload starts a new
 * one that opens the keys estd.conf names now, and the old one goes with
 * the instance it served. Forked before any thread at start; at a reload
 * only async-signal-safe calls run between fork and exec (keyproc.h). */
est_status estd_instance_open_serving(const char *dir, unsigned flags, estd_instance **out,
                                      est_error *err)
{
    estd_config *cfg = calloc(1, sizeof *cfg);
    estd_keyproc *kp = NULL;
    signer_source src = {keyproc_signer_make, NULL, flags & ~(unsigned)ESTD_OPEN_KEYS};
    est_status rc = EST_E_NOMEM;

    *out = NULL;
    if (cfg == NULL)
        return est_error_set(err, rc, "out of memory");
    if ((rc = estd_config_load(cfg, dir, err)) != EST_OK)
        goto out;
    if (cfg->signer_in_process) {
        rc = estd_instance_open(dir, flags | ESTD_OPEN_KEYS, out, err);
        goto out;
    }
    if ((rc = estd_keyproc_start(dir, KEYPROC_CONNECTIONS, &kp, err)) != EST_OK)
        goto out;
    src.arg = kp;
    if ((rc = instance_open(dir, &src, out, err)) != EST_OK)
        goto out;
    (*out)->keyproc = kp;
    kp = NULL;
out:
    estd_keyproc_free(kp);
    free(cfg);
    return rc;
}

void estd_instance_free(estd_instance *inst)
{
    if (inst == NULL)
        return;
    for (size_t i = 0; i < inst->ca_count; i++)
        ca_release(&inst->cas[i]);
    X509_STORE_free(inst->third_party);
    est_store_close(inst->store);
    estd_keyproc_free(inst->keyproc); /* after the CAs: their signers borrow it */
    free(inst);
}

estd_ca *estd_instance_find_ca(estd_instance *inst, const char *label)
{
    for (size_t i = 0; i < inst->ca_count; i++)
        if (strcmp(inst->cas[i].cfg->label, label) == 0)
            return &inst->cas[i];
    return NULL;
}

est_status estd_audit(estd_instance *inst, const char *event, const char *label, const char *actor,
                      const char *subject, const char *serial, const char *detail)
{
    est_audit_event ev = {event, label, actor, subject, serial, detail, 1};

    if (strcmp(event, "revoke") == 0)
        estd_metrics_revoked(inst->metrics);
    return est_store_audit_append(inst->store, &ev, NULL);
}

est_status estd_audit_prune_retention(estd_instance *inst, int64_t now, int64_t *removed,
                                      est_error *err)
{
    est_audit_prune what = {0, inst->cfg.audit_max_rows};

    if (inst->cfg.audit_retention_days > 0)
        what.before = now - (int64_t)inst->cfg.audit_retention_days * ESTD_SECONDS_PER_DAY;
    if (removed != NULL)
        *removed = 0;
    if (what.before <= 0 && what.keep_rows == 0)
        return EST_OK;
    return est_store_audit_prune(inst->store, &what, removed, err);
}

est_status estd_issue(estd_instance *inst, estd_ca *ca, X509_REQ *csr, const X509_NAME *subject,
                      const estd_requester *who, const char *operation, X509 **out,
                      unsigned *retry_after, est_error *err)
{
    unsigned ignored = 0;

    if (retry_after == NULL)
        retry_after = &ignored;
    *retry_after = 0;
    switch (ca->cfg->upstream.issuer) {
    case ESTD_ISSUER_EMBEDDED:
        return estd_issuer_embedded_issue(inst, ca, csr, subject, who, operation, out, err);
    case ESTD_ISSUER_EST:
        return estd_issuer_est_issue(inst, ca, csr, who, operation, out, retry_after, err);
    case ESTD_ISSUER_CMP:
        return estd_issuer_cmp_issue(inst, ca, csr, who, operation, out, retry_after, err);
    }
    return est_error_set(err, EST_E_INTERNAL, "unknown issuer");
}
