/* The server's TLS certificate, renewed from its own CA (tls_renew.h).
 * Same key: a new key would be a second file to replace, and no rename
 * makes two files change at once; a crash between them would leave estd
 * unable to start. Rekeying is `estd init --force` or by hand. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/x509v3.h>
#include "tls_renew.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/csr.h"
#include "estkit/ca.h"
#include "estkit/issue.h"

/* A TLS certificate naming more than this is a configuration mistake (as
 * `estd init --server-name`). */
#define TLS_RENEW_NAMES_MAX 32
/* An IPv6 literal as text, with its NUL. */
#define TLS_RENEW_NAME_TEXT_MAX 254

typedef struct names {
    char text[TLS_RENEW_NAMES_MAX][TLS_RENEW_NAME_TEXT_MAX + 1];
    const char *list[TLS_RENEW_NAMES_MAX];
    size_t count;
} names;

/* The DNS names and IP addresses of cert's subjectAltName, as the strings
 * est_ca_issue_for_key takes. */
static est_status names_of(X509 *cert, names *out, est_error *err)
{
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    est_status rc = EST_OK;

    out->count = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(san) && rc == EST_OK; i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
        char *t = out->text[out->count];
        int type;
        ASN1_STRING *v = GENERAL_NAME_get0_value(gn, &type);
        int len = ASN1_STRING_length(v);

        if (type != GEN_DNS && type != GEN_IPADD)
            continue;
        if (out->count == TLS_RENEW_NAMES_MAX) {
            rc = est_error_set(err, EST_E_CONFIG, "more than %d names", TLS_RENEW_NAMES_MAX);
        } else if (type == GEN_DNS && len > 0 && len <= TLS_RENEW_NAME_TEXT_MAX) {
            memcpy(t, ASN1_STRING_get0_data(v), (size_t)len);
            t[len] = '\0';
            out->list[out->count] = t;
            out->count++;
        } else if (type == GEN_IPADD && (len == 4 || len == 16) &&
                   inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(v), t,
                             TLS_RENEW_NAME_TEXT_MAX) != NULL) {
            out->list[out->count] = t;
            out->count++;
        } else {
            rc = est_error_set(err, EST_E_CONFIG, "a subjectAltName entry estd cannot copy");
        }
    }
    GENERAL_NAMES_free(san);
    return rc;
}

static time_t not_after_of(const X509 *cert)
{
    struct tm tm;

    return ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1 ? timegm(&tm) : 0;
}

/* The new certificate, then the CA and what is above it: what a TLS
 * client needs to build the path (RFC 8446 §4.4.2). */
static est_status write_tls_cert(const estd_instance *inst, X509 *cert, est_error *err)
{
    const estd_ca *ca = &inst->cas[0];
    STACK_OF(X509) *all = sk_X509_new_null(), *above = NULL;
    est_status rc = EST_E_NOMEM;

    if (all == NULL || !sk_X509_push(all, cert) || !sk_X509_push(all, ca->cert)) {
        rc = est_error_set(err, rc, "out of memory");
        goto out;
    }
    if (ca->cfg->chain[0] != '\0' && access(ca->cfg->chain, F_OK) == 0) {
        if ((rc = est_certs_read_file(ca->cfg->chain, &above, err)) != EST_OK)
            goto out;
        for (int i = 0; i < sk_X509_num(above); i++)
            if (!sk_X509_push(all, sk_X509_value(above, i))) {
                rc = est_error_set(err, EST_E_NOMEM, "out of memory");
                goto out;
            }
    }
    rc = est_certs_write_file(inst->cfg.tls_cert, all, err);
out:
    sk_X509_free(all); /* borrowed */
    sk_X509_pop_free(above, X509_free);
    return rc;
}

static est_status issue(estd_instance *inst, X509 *old, EVP_PKEY *key, X509 **out, est_error *err)
{
    names *n = calloc(1, sizeof *n);
    est_profile profile;
    est_status rc;

    if (n == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if (inst->cas[0].ca == NULL) {
        free(n);
        return est_error_set(err, EST_E_UNSUPPORTED, "the default CA issues upstream (issuer = "
                                                     "est or cmp): renew the TLS certificate "
                                                     "out of band");
    }
    est_profile_default(&profile);
    profile.validity_days = ESTD_TLS_VALIDITY_DAYS;
    snprintf(profile.extended_key_usage, sizeof profile.extended_key_usage, "serverAuth");
    if ((rc = names_of(old, n, err)) == EST_OK)
        rc = est_ca_issue_for_key(inst->cas[0].ca, key, X509_get_subject_name(old), n->list,
                                  n->count, &profile, out, err);
    free(n);
    return rc;
}

est_status estd_tls_renew(estd_instance *inst, unsigned within_days, int force,
                          estd_tls_renewal *outcome, time_t *not_after, est_error *err)
{
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *key = NULL;
    X509 *old, *cert = NULL;
    char serial[41] = "", detail[128];
    est_status rc;

    *outcome = ESTD_TLS_NOT_DUE;
    if ((rc = est_certs_read_file(inst->cfg.tls_cert, &certs, err)) != EST_OK)
        goto out;
    if ((old = sk_X509_value(certs, 0)) == NULL) {
        rc = est_error_set(err, EST_E_CONFIG, "%s: no certificate", inst->cfg.tls_cert);
        goto out;
    }
    *not_after = not_after_of(old);
    if (!force && *not_after - time(NULL) > (time_t)within_days * 86400)
        goto out;
    if (inst->ca_count == 0 || inst->cas[0].ca == NULL) {
        rc = est_error_set(err, EST_E_INTERNAL, "the CA key is not loaded");
        goto out;
    }
    if ((rc = est_key_read_file(inst->cfg.tls_key, &key, err)) != EST_OK)
        goto out;
    if (X509_check_private_key(old, key) != 1) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "%s does not match %s", inst->cfg.tls_key,
                                   inst->cfg.tls_cert);
        goto out;
    }
    if ((rc = issue(inst, old, key, &cert, err)) != EST_OK)
        goto out;
    /* A CA that expires first would clip every renewal to the same day:
     * renewing again and again would change nothing. */
    if (!force && not_after_of(cert) <= *not_after) {
        rc = est_error_set(err, EST_E_CA, "the CA certificate expires before the TLS certificate; "
                                          "renew the CA first");
        goto out;
    }
    if ((rc = write_tls_cert(inst, cert, err)) != EST_OK)
        goto out;
    *not_after = not_after_of(cert);
    *outcome = ESTD_TLS_RENEWED;
    est_serial_to_hex(X509_get0_serialNumber(cert), serial, NULL);
    snprintf(detail, sizeof detail, "TLS certificate renewed, valid until %lld",
             (long long)*not_after);
    estd_audit(inst, "tls-renew", "", "estd", NULL, serial, detail);
out:
    sk_X509_pop_free(certs, X509_free);
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}
