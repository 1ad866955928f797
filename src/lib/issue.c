/* Issuing end-entity certificates (draft-04 §3.4 simpleEnroll /
 * simpleReEnroll, §3.6 serverKeyGen): a profile decides validity and key
 * usages; the requester decides only the key, the subject and (when the
 * profile honours it) the subjectAltName. No other requested extension is
 * ever copied: in particular a CSR asking for CA:TRUE gets CA:FALSE. */
#include <string.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "estkit/issue.h"
#include "estkit/key.h"
#include "estkit/name.h"
#include "ca_internal.h"

/* RFC 1035 §2.3.4: a DNS name is at most 253 characters as text. */
#define EST_DNS_NAME_MAX 253

/* Validity: [now - backdate, now + days], nested in the CA's validity so
 * no relying party sees a certificate outlive its issuer. */
static est_status issue_validity(X509 *ca_cert, const est_profile *profile, time_t *not_before,
                                 time_t *not_after, est_error *err)
{
    time_t now = time(NULL), ca_not_before, ca_not_after;
    est_status rc;

    if (profile->validity_days == 0 || profile->validity_days > EST_VALIDITY_DAYS_MAX)
        return est_error_set(err, EST_E_CONFIG, "validity of %u days (1-%d)",
                             profile->validity_days, EST_VALIDITY_DAYS_MAX);
    if ((rc = ca_time_to_time_t(X509_get0_notBefore(ca_cert), &ca_not_before, err)) != EST_OK ||
        (rc = ca_time_to_time_t(X509_get0_notAfter(ca_cert), &ca_not_after, err)) != EST_OK)
        return rc;
    if (now >= ca_not_after)
        return est_error_set(err, EST_E_CA, "the CA certificate has expired");
    if (now < ca_not_before)
        return est_error_set(err, EST_E_CA, "the CA certificate is not valid yet");
    *not_before = now - (time_t)profile->backdate_seconds;
    if (*not_before < ca_not_before)
        *not_before = ca_not_before;
    *not_after = now + (time_t)profile->validity_days * EST_SECONDS_PER_DAY;
    if (*not_after > ca_not_after)
        *not_after = ca_not_after;
    return EST_OK;
}

/* RFC 5280 §4.2.1.3: digitalSignature for every key; keyEncipherment for
 * RSA (TLS RSA key transport), keyAgreement for EC (ECDH). Critical. */
static est_status add_key_usage(X509 *cert, EVP_PKEY *key, est_error *err)
{
    ASN1_BIT_STRING *usage = ASN1_BIT_STRING_new();
    int base = EVP_PKEY_get_base_id(key), ok;
    est_status rc;

    ok = usage != NULL && ASN1_BIT_STRING_set_bit(usage, 0, 1);
    if (ok && base == EVP_PKEY_RSA)
        ok = ASN1_BIT_STRING_set_bit(usage, 2, 1);
    if (ok && base == EVP_PKEY_EC)
        ok = ASN1_BIT_STRING_set_bit(usage, 4, 1);
    rc = ok ? ca_cert_add_ext(cert, NID_key_usage, 1, usage, err)
            : est_error_set(err, EST_E_NOMEM, "out of memory");
    ASN1_BIT_STRING_free(usage);
    return rc;
}

/* The profile's "clientAuth,serverAuth": OpenSSL short or long names or
 * dotted OIDs, comma separated; "" means no extendedKeyUsage. */
static est_status add_extended_key_usage(X509 *cert, const est_profile *profile, est_error *err)
{
    char list[sizeof profile->extended_key_usage];
    EXTENDED_KEY_USAGE *eku = NULL;
    char *save = NULL, *item;
    est_status rc = EST_E_CONFIG;

    if (memchr(profile->extended_key_usage, '\0', sizeof list) == NULL)
        return est_error_set(err, EST_E_CONFIG, "extended key usage list not terminated");
    memcpy(list, profile->extended_key_usage, sizeof list);
    if ((eku = sk_ASN1_OBJECT_new_null()) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    for (item = strtok_r(list, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        ASN1_OBJECT *obj;
        size_t len;
        item += strspn(item, " ");
        for (len = strlen(item); len > 0 && item[len - 1] == ' '; len--)
            item[len - 1] = '\0';
        if (*item == '\0')
            continue;
        if ((obj = OBJ_txt2obj(item, 0)) == NULL) {
            rc = est_error_set(err, EST_E_CONFIG, "unknown extended key usage '%s'", item);
            ERR_clear_error();
            goto out;
        }
        if (!sk_ASN1_OBJECT_push(eku, obj)) {
            ASN1_OBJECT_free(obj);
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
    }
    rc = sk_ASN1_OBJECT_num(eku) == 0 ? EST_OK
                                      : ca_cert_add_ext(cert, NID_ext_key_usage, 0, eku, err);
out:
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    return rc;
}

static est_status add_extensions(X509 *cert, est_ca *ca, EVP_PKEY *key, const X509_PUBKEY *spki,
                                 GENERAL_NAMES *san, const est_profile *profile, est_error *err)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    ASN1_OCTET_STRING *subject_id = NULL, *issuer_id = NULL;
    X509 *ca_cert = est_ca_get0_cert(ca);
    est_status rc = EST_E_NOMEM;

    if (bc == NULL) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    bc->ca = 0; /* RFC 5280 §4.2.1.9: an end entity, said explicitly and critically */
    if ((rc = ca_cert_add_ext(cert, NID_basic_constraints, 1, bc, err)) != EST_OK ||
        (rc = add_key_usage(cert, key, err)) != EST_OK ||
        (rc = add_extended_key_usage(cert, profile, err)) != EST_OK ||
        (rc = ca_key_id_of_spki(spki, &subject_id, err)) != EST_OK ||
        (rc = ca_key_id(ca_cert, NULL, &issuer_id, err)) != EST_OK ||
        (rc = ca_cert_add_key_ids(cert, subject_id, issuer_id, err)) != EST_OK ||
        (rc = ca_cert_add_locations(cert, profile, err)) != EST_OK)
        goto out;
    /* RFC 5280 §4.2.1.6: with an empty subject the SAN must be critical. */
    if (san != NULL && sk_GENERAL_NAME_num(san) > 0)
        rc = ca_cert_add_ext(cert, NID_subject_alt_name,
                             X509_NAME_entry_count(X509_get_subject_name(cert)) == 0, san, err);
out:
    BASIC_CONSTRAINTS_free(bc);
    ASN1_OCTET_STRING_free(subject_id);
    ASN1_OCTET_STRING_free(issuer_id);
    return rc;
}

/* The signed certificate read back from its DER, as relying parties will
 * read it: built from a copied SubjectPublicKeyInfo it has no decoded key
 * (X509_get0_pubkey NULL), which path validation and callers need. *cert
 * is replaced, or freed and NULL on failure. */
static est_status reparse(X509 **cert, est_error *err)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int len = i2d_X509(*cert, &der);
    X509 *parsed = NULL;

    p = der;
    if (len > 0)
        parsed = d2i_X509(NULL, &p, len);
    OPENSSL_free(der);
    X509_free(*cert);
    *cert = parsed;
    return parsed != NULL ? EST_OK
                          : est_error_set_openssl(err, EST_E_CA, "reading back the certificate");
}

/* key is the subject's public key decoded (its type picks the key usage),
 * spki the same key as the SubjectPublicKeyInfo that goes into the
 * certificate: callers hold both already, and deriving one from the other
 * is what OpenSSL 3.0 makes expensive. */
static est_status issue(est_ca *ca, EVP_PKEY *key, const X509_PUBKEY *spki,
                        const X509_NAME *subject, GENERAL_NAMES *san, const est_profile *profile,
                        X509 **out, est_error *err)
{
    X509 *ca_cert = est_ca_get0_cert(ca), *cert = NULL;
    time_t not_before = 0, not_after = 0;
    est_status rc;

    if (X509_NAME_entry_count(subject) == 0 && (san == NULL || sk_GENERAL_NAME_num(san) == 0))
        return est_error_set(err, EST_E_POLICY,
                             "the certificate would have neither a subject nor a subjectAltName");
    if ((rc = ca_check_key(ca, err)) != EST_OK ||
        (rc = issue_validity(ca_cert, profile, &not_before, &not_after, err)) != EST_OK ||
        (rc = ca_cert_new(subject, X509_get_subject_name(ca_cert), key, spki, not_before,
                          not_after, &cert, err)) != EST_OK ||
        (rc = add_extensions(cert, ca, key, spki, san, profile, err)) != EST_OK ||
        (rc = est_signer_sign_cert(ca_get0_signer(ca), cert, err)) != EST_OK)
        goto out;
    *out = cert;
    cert = NULL;
out:
    X509_free(cert);
    return rc;
}

est_status est_ca_issue(est_ca *ca, X509_REQ *csr, const est_profile *profile,
                        const X509_NAME *subject, X509 **out, est_error *err)
{
    est_status rc = est_ca_issue_unparsed(ca, csr, profile, subject, out, err);

    return rc == EST_OK ? reparse(out, err) : rc;
}

est_status est_ca_issue_unparsed(est_ca *ca, X509_REQ *csr, const est_profile *profile,
                                 const X509_NAME *subject, X509 **out, est_error *err)
{
    est_profile defaults;
    GENERAL_NAMES *san = NULL;
    EVP_PKEY *key;
    est_status rc;

    if (ca == NULL || csr == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "issue: NULL argument");
    *out = NULL;
    if (profile == NULL) {
        est_profile_default(&defaults);
        profile = &defaults;
    }
    if ((key = X509_REQ_get0_pubkey(csr)) == NULL)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR public key unreadable");
    if (profile->honour_san)
        san = est_csr_get1_san(csr);
    rc = issue(ca, key, X509_REQ_get_X509_PUBKEY(csr),
               subject != NULL ? subject : X509_REQ_get_subject_name(csr), san, profile, out, err);
    GENERAL_NAMES_free(san);
    return rc;
}

/* LDH labels, dots, a leading wildcard label and '_' (SRV-style names). */
static int dns_name_ok(const char *name)
{
    size_t len = strnlen(name, EST_DNS_NAME_MAX + 1);

    return len > 0 && len <= EST_DNS_NAME_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*") ==
               len &&
           name[0] != '.' && name[0] != '-';
}

/* An IP literal (a2i_IPADDRESS: dotted IPv4 or IPv6) becomes an iPAddress,
 * anything else must be a DNS name. */
static est_status name_to_general_name(const char *text, GENERAL_NAME **out, est_error *err)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(text);
    ASN1_IA5STRING *dns = NULL;
    GENERAL_NAME *gen = GENERAL_NAME_new();

    ERR_clear_error(); /* a2i_IPADDRESS raises an error for every DNS name */
    *out = NULL;
    if (gen == NULL)
        goto nomem;
    if (ip != NULL) {
        GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
        *out = gen;
        return EST_OK;
    }
    if (!dns_name_ok(text)) {
        GENERAL_NAME_free(gen);
        return est_error_set(err, EST_E_INPUT, "'%.64s' is neither an IP address nor a DNS name",
                             text);
    }
    if ((dns = ASN1_IA5STRING_new()) == NULL || !ASN1_STRING_set(dns, text, (int)strlen(text)))
        goto nomem;
    GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
    *out = gen;
    return EST_OK;
nomem:
    ASN1_IA5STRING_free(dns);
    GENERAL_NAME_free(gen);
    return est_error_set(err, EST_E_NOMEM, "out of memory");
}

est_status est_ca_issue_for_key(est_ca *ca, EVP_PKEY *public_key, const X509_NAME *subject,
                                const char *const *names, size_t name_count,
                                const est_profile *profile, X509 **out, est_error *err)
{
    est_profile defaults;
    GENERAL_NAMES *san = NULL;
    X509_NAME *empty = NULL;
    X509_PUBKEY *spki = NULL;
    est_status rc = EST_E_NOMEM;

    if (ca == NULL || public_key == NULL || out == NULL || (names == NULL && name_count > 0))
        return est_error_set(err, EST_E_INTERNAL, "issue for key: NULL argument");
    *out = NULL;
    if (profile == NULL) {
        est_profile_default(&defaults);
        profile = &defaults;
    }
    if ((san = GENERAL_NAMES_new()) == NULL ||
        (subject == NULL && (subject = empty = X509_NAME_new()) == NULL)) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < name_count; i++) {
        GENERAL_NAME *gen;
        if ((rc = name_to_general_name(names[i], &gen, err)) != EST_OK)
            goto out;
        if (!sk_GENERAL_NAME_push(san, gen)) {
            GENERAL_NAME_free(gen);
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
    }
    if (!X509_PUBKEY_set(&spki, public_key)) {
        rc = est_error_set_openssl(err, EST_E_INPUT, "public key unusable");
        goto out;
    }
    if ((rc = issue(ca, public_key, spki, subject, san, profile, out, err)) == EST_OK)
        rc = reparse(out, err);
out:
    GENERAL_NAMES_free(san);
    X509_NAME_free(empty);
    X509_PUBKEY_free(spki);
    return rc;
}
