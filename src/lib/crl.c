/* Certificate revocation lists (RFC 5280 §5): v2, with the CRL number and
 * authority key identifier extensions RFC 5280 §5.2 requires of a
 * conforming CA, one entry per revoked serial with its reason code. */
#include <strings.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "estkit/crl.h"
#include "estkit/key.h"
#include "ca_internal.h"

/* RFC 5280 §5.3.1 CRLReason. 7 is not used. */
static const struct {
    const char *name;
    int code;
} crl_reasons[] = {
    {"unspecified", 0},          {"keyCompromise", 1},        {"cACompromise", 2},
    {"affiliationChanged", 3},   {"superseded", 4},           {"cessationOfOperation", 5},
    {"certificateHold", 6},      {"removeFromCRL", 8},        {"privilegeWithdrawn", 9},
    {"aACompromise", 10},
};

/* RFC 5280 §5.3.1: removeFromCRL only appears in delta CRLs. */
#define CRL_REASON_REMOVE_FROM_CRL 8

est_status est_crl_reason_parse(const char *name, int *code, est_error *err)
{
    if (name == NULL || code == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CRL reason: NULL argument");
    for (size_t i = 0; i < sizeof crl_reasons / sizeof crl_reasons[0]; i++) {
        if (strcasecmp(name, crl_reasons[i].name) == 0) {
            *code = crl_reasons[i].code;
            return EST_OK;
        }
    }
    return est_error_set(err, EST_E_INPUT,
                         "unknown revocation reason '%.64s' (unspecified, keyCompromise, "
                         "cACompromise, affiliationChanged, superseded, cessationOfOperation, "
                         "certificateHold, privilegeWithdrawn, aACompromise)",
                         name);
}

static int reason_allowed(int code)
{
    for (size_t i = 0; i < sizeof crl_reasons / sizeof crl_reasons[0]; i++) {
        if (crl_reasons[i].code == code)
            return code != CRL_REASON_REMOVE_FROM_CRL;
    }
    return 0;
}

static est_status add_entry(X509_CRL *crl, const est_revoked_entry *entry, est_error *err)
{
    X509_REVOKED *revoked = X509_REVOKED_new();
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = NULL;
    ASN1_ENUMERATED *reason = NULL;
    est_status rc = EST_E_INPUT;

    if (entry->serial_hex == NULL) {
        est_error_set(err, EST_E_INPUT, "revoked entry without a serial");
        goto out;
    }
    if (entry->reason != -1 && !reason_allowed(entry->reason)) {
        est_error_set(err, EST_E_INPUT, "serial %.40s: reason code %d not allowed in a CRL",
                      entry->serial_hex, entry->reason);
        goto out;
    }
    if ((rc = ca_serial_from_hex(entry->serial_hex, &serial, err)) != EST_OK)
        goto out;
    rc = EST_E_CA;
    if (revoked == NULL || (when = ASN1_TIME_set(NULL, entry->revoked_at)) == NULL ||
        !X509_REVOKED_set_serialNumber(revoked, serial) ||
        !X509_REVOKED_set_revocationDate(revoked, when)) {
        est_error_set_openssl(err, EST_E_CA, "CRL entry %.40s", entry->serial_hex);
        goto out;
    }
    /* RFC 5280 §5.3.1: reasonCode is non-critical; absent means unspecified. */
    if (entry->reason != -1 &&
        ((reason = ASN1_ENUMERATED_new()) == NULL || !ASN1_ENUMERATED_set(reason, entry->reason) ||
         X509_REVOKED_add1_ext_i2d(revoked, NID_crl_reason, reason, 0, X509V3_ADD_DEFAULT) != 1)) {
        est_error_set_openssl(err, EST_E_CA, "CRL entry %.40s reason", entry->serial_hex);
        goto out;
    }
    if (!X509_CRL_add0_revoked(crl, revoked)) {
        est_error_set_openssl(err, EST_E_CA, "CRL entry %.40s", entry->serial_hex);
        goto out;
    }
    revoked = NULL;
    rc = EST_OK;
out:
    X509_REVOKED_free(revoked);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    ASN1_ENUMERATED_free(reason);
    return rc;
}

/* Sorted by serial (as X509_CRL_sort leaves it); the same serial twice
 * would be two contradicting statements about one certificate. */
static est_status check_unique(X509_CRL *crl, est_error *err)
{
    STACK_OF(X509_REVOKED) *list = X509_CRL_get_REVOKED(crl);

    for (int i = 1; i < sk_X509_REVOKED_num(list); i++) {
        const ASN1_INTEGER *a = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i - 1));
        const ASN1_INTEGER *b = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i));
        char hex[41];
        if (ASN1_INTEGER_cmp(a, b) == 0) {
            if (est_serial_to_hex(a, hex, NULL) != EST_OK)
                hex[0] = '\0';
            return est_error_set(err, EST_E_INPUT, "serial %s listed twice", hex);
        }
    }
    return EST_OK;
}

static est_status add_crl_extensions(X509_CRL *crl, est_ca *ca, long crl_number, est_error *err)
{
    X509 *ca_cert = est_ca_get0_cert(ca);
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    est_status rc = EST_E_NOMEM;

    if (number == NULL || akid == NULL || !ASN1_INTEGER_set_int64(number, crl_number)) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = ca_key_id(ca_cert, X509_get0_pubkey(ca_cert), &akid->keyid, err)) != EST_OK)
        goto out;
    /* RFC 5280 §5.2.1, §5.2.3: both non-critical. */
    if (X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0,
                              X509V3_ADD_DEFAULT) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_DEFAULT) != 1) {
        rc = est_error_set_openssl(err, EST_E_CA, "CRL extensions");
        goto out;
    }
    rc = EST_OK;
out:
    ASN1_INTEGER_free(number);
    AUTHORITY_KEYID_free(akid);
    return rc;
}

static est_status set_crl_times(X509_CRL *crl, unsigned next_update_days, est_error *err)
{
    time_t now = time(NULL);
    ASN1_TIME *last = ASN1_TIME_set(NULL, now);
    ASN1_TIME *next = ASN1_TIME_set(NULL, now + (time_t)next_update_days * EST_SECONDS_PER_DAY);
    est_status rc = EST_OK;

    if (last == NULL || next == NULL || !X509_CRL_set1_lastUpdate(crl, last) ||
        !X509_CRL_set1_nextUpdate(crl, next))
        rc = est_error_set_openssl(err, EST_E_CA, "CRL times");
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    return rc;
}

est_status est_ca_make_crl(est_ca *ca, const est_revoked_entry *entries, size_t count,
                           long crl_number, unsigned next_update_days, X509_CRL **out,
                           est_error *err)
{
    X509_CRL *crl = NULL;
    est_status rc = EST_E_CA;

    if (ca == NULL || out == NULL || (entries == NULL && count > 0))
        return est_error_set(err, EST_E_INTERNAL, "make CRL: NULL argument");
    *out = NULL;
    /* RFC 5280 §5.2.3: a non-negative integer. */
    if (crl_number < 0)
        return est_error_set(err, EST_E_INPUT, "negative CRL number %ld", crl_number);
    if (next_update_days == 0 || next_update_days > EST_VALIDITY_DAYS_MAX)
        return est_error_set(err, EST_E_INPUT, "CRL next update in %u days (1-%d)",
                             next_update_days, EST_VALIDITY_DAYS_MAX);
    if ((rc = ca_check_key(ca, err)) != EST_OK)
        return rc;
    rc = EST_E_CA;
    if ((crl = X509_CRL_new()) == NULL || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
        !X509_CRL_set_issuer_name(crl, X509_get_subject_name(est_ca_get0_cert(ca)))) {
        est_error_set_openssl(err, EST_E_CA, "building the CRL");
        goto out;
    }
    if ((rc = set_crl_times(crl, next_update_days, err)) != EST_OK)
        goto out;
    for (size_t i = 0; i < count; i++) {
        if ((rc = add_entry(crl, &entries[i], err)) != EST_OK)
            goto out;
    }
    if (!X509_CRL_sort(crl)) {
        rc = est_error_set_openssl(err, EST_E_CA, "sorting the CRL");
        goto out;
    }
    if ((rc = check_unique(crl, err)) != EST_OK ||
        (rc = add_crl_extensions(crl, ca, crl_number, err)) != EST_OK ||
        (rc = est_signer_sign_crl(ca_get0_signer(ca), crl, err)) != EST_OK)
        goto out;
    *out = crl;
    crl = NULL;
out:
    X509_CRL_free(crl);
    return rc;
}
