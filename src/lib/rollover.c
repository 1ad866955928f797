/* Root CA key rollover, RFC 4210 §4.4 (draft-04 §4.1.3, RFC 7030 §4.1.3:
 * /cacerts serves the rollover certificates).
 *
 * From the old root (cert + key) and a new key:
 *   NewWithNew  subject new, new key, self-signed          (the new root)
 *   NewWithOld  subject new, new key, issuer old, signed by the old key
 *   OldWithNew  subject old, old key, issuer new, signed by the new key
 * A relying party that trusts only the old root reaches the new key
 * through NewWithOld; one that trusts only the new root reaches the old
 * key (and everything it issued) through OldWithNew. */
#include <openssl/err.h>
#include "estkit/key.h"
#include "estkit/name.h"
#include "estkit/rollover.h"
#include "ca_internal.h"

static time_t later(time_t a, time_t b)
{
    return a > b ? a : b;
}

static time_t earlier(time_t a, time_t b)
{
    return a < b ? a : b;
}

static est_status rollover_check(X509 *old_cert, EVP_PKEY *old_key, EVP_PKEY *new_key,
                                 unsigned days, time_t now, est_error *err)
{
    time_t old_not_after;
    est_status rc;

    if (days == 0 || days > EST_VALIDITY_DAYS_MAX)
        return est_error_set(err, EST_E_INPUT, "new root validity of %u days (1-%d)", days,
                             EST_VALIDITY_DAYS_MAX);
    if (EVP_PKEY_eq(X509_get0_pubkey(old_cert), old_key) != 1) {
        ERR_clear_error();
        return est_error_set(err, EST_E_CA, "the old key does not match the old root");
    }
    if (EVP_PKEY_eq(old_key, new_key) == 1)
        return est_error_set(err, EST_E_INPUT, "the new key is the old key");
    ERR_clear_error();
    if ((rc = ca_time_to_time_t(X509_get0_notAfter(old_cert), &old_not_after, err)) != EST_OK)
        return rc;
    /* NewWithOld must lie inside the old root's validity: nothing left. */
    if (old_not_after <= now)
        return est_error_set(err, EST_E_CA, "the old root has expired; no link can be made");
    return EST_OK;
}

/* Every link certificate lies inside the validity of the root that signs
 * it. RFC 4210 §4.4 lets OldWithNew start at the old key's creation; that
 * is clipped to the new root's start, which changes nothing for a relying
 * party validating now. */
est_status est_ca_rollover_signer(X509 *old_cert, est_signer *old_signer, est_signer *new_signer,
                                  const char *subject_dn, unsigned days, X509 **new_with_new,
                                  X509 **new_with_old, X509 **old_with_new, est_error *err)
{
    EVP_PKEY *old_key, *new_key;
    X509_NAME *new_name = NULL;
    const X509_NAME *old_name;
    ASN1_OCTET_STRING *old_id = NULL, *new_id = NULL;
    X509 *nwn = NULL, *nwo = NULL, *own = NULL;
    time_t now = time(NULL), old_nb, old_na, new_nb, new_na;
    est_status rc;

    if (old_cert == NULL || old_signer == NULL || new_signer == NULL || new_with_new == NULL ||
        new_with_old == NULL || old_with_new == NULL ||
        (old_key = est_signer_get0_public_key(old_signer)) == NULL ||
        (new_key = est_signer_get0_public_key(new_signer)) == NULL)
        return est_error_set(err, EST_E_INTERNAL, "rollover: NULL argument");
    *new_with_new = *new_with_old = *old_with_new = NULL;
    if ((rc = rollover_check(old_cert, old_key, new_key, days, now, err)) != EST_OK)
        return rc;
    old_name = X509_get_subject_name(old_cert);
    if (subject_dn != NULL)
        rc = est_name_parse(subject_dn, &new_name, err);
    else if ((new_name = X509_NAME_dup(old_name)) == NULL)
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    if (rc != EST_OK ||
        (rc = ca_time_to_time_t(X509_get0_notBefore(old_cert), &old_nb, err)) != EST_OK ||
        (rc = ca_time_to_time_t(X509_get0_notAfter(old_cert), &old_na, err)) != EST_OK ||
        (rc = ca_key_id(old_cert, old_key, &old_id, err)) != EST_OK ||
        (rc = ca_key_id(NULL, new_key, &new_id, err)) != EST_OK)
        goto out;
    new_nb = now - EST_CA_BACKDATE_SECONDS;
    new_na = now + (time_t)days * EST_SECONDS_PER_DAY;
    if ((rc = ca_cert_make_ca_signed(new_name, new_name, new_key, new_nb, new_na, new_id,
                                     new_id, new_signer, &nwn, err)) != EST_OK ||
        (rc = ca_cert_make_ca_signed(new_name, old_name, new_key, later(new_nb, old_nb),
                                     earlier(new_na, old_na), new_id, old_id, old_signer, &nwo,
                                     err)) != EST_OK ||
        (rc = ca_cert_make_ca_signed(old_name, new_name, old_key, later(old_nb, new_nb),
                                     earlier(old_na, new_na), old_id, new_id, new_signer, &own,
                                     err)) != EST_OK) {
        est_error_prefix(err, rc, "rollover");
        goto out;
    }
    *new_with_new = nwn;
    *new_with_old = nwo;
    *old_with_new = own;
    nwn = nwo = own = NULL;
out:
    X509_free(nwn);
    X509_free(nwo);
    X509_free(own);
    ASN1_OCTET_STRING_free(old_id);
    ASN1_OCTET_STRING_free(new_id);
    X509_NAME_free(new_name);
    return rc;
}

est_status est_ca_rollover(X509 *old_cert, EVP_PKEY *old_key, EVP_PKEY *new_key,
                           const char *subject_dn, unsigned days, X509 **new_with_new,
                           X509 **new_with_old, X509 **old_with_new, est_error *err)
{
    est_signer *old_signer = NULL, *new_signer = NULL;
    est_status rc;

    if (old_cert == NULL || old_key == NULL || new_key == NULL || new_with_new == NULL ||
        new_with_old == NULL || old_with_new == NULL)
        return est_error_set(err, EST_E_INTERNAL, "rollover: NULL argument");
    if ((old_signer = est_signer_new_key(old_key)) == NULL ||
        (new_signer = est_signer_new_key(new_key)) == NULL)
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    else
        rc = est_ca_rollover_signer(old_cert, old_signer, new_signer, subject_dn, days,
                                    new_with_new, new_with_old, old_with_new, err);
    est_signer_free(old_signer);
    est_signer_free(new_signer);
    return rc;
}
