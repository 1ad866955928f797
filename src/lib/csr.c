/* PKCS#10 CSR checks: parsing, proof of possession, key policy and the
 * attributes EST reads from a CSR (challengePassword, extensionRequest).
 *
 * draft-04 §3.4 / RFC 7030 §3.4: the CSR signature is the proof that the
 * requester holds the private key; it is checked with the CSR's own key
 * before anything else in the CSR is trusted. */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "estkit/ca.h"

/* RFC 2985 §5.4.1: ub-challenge-password is 255 characters. */
#define EST_CHALLENGE_PASSWORD_MAX 255

void est_profile_default(est_profile *profile)
{
    if (profile == NULL)
        return;
    memset(profile, 0, sizeof *profile);
    profile->validity_days = 365;
    profile->backdate_seconds = 300;
    strcpy(profile->extended_key_usage, "clientAuth");
    profile->honour_san = 1;
    profile->min_rsa_bits = 2048;
    profile->allow_ed25519 = 1;
}

est_status est_csr_parse(const uint8_t *der, size_t der_len, X509_REQ **out, est_error *err)
{
    const unsigned char *p = der;
    X509_REQ *csr;

    if (out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CSR parse: NULL argument");
    *out = NULL;
    if (der == NULL || der_len == 0)
        return est_error_set(err, EST_E_INPUT, "empty CSR");
    if (der_len > EST_CSR_MAX_DER)
        return est_error_set(err, EST_E_TOO_LARGE, "CSR of %zu bytes exceeds %d", der_len,
                             EST_CSR_MAX_DER);
    csr = d2i_X509_REQ(NULL, &p, (long)der_len);
    if (csr == NULL)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR is not a DER PKCS#10 request");
    if (p != der + der_len) {
        X509_REQ_free(csr);
        return est_error_set(err, EST_E_INPUT, "CSR followed by %zu trailing bytes",
                             (size_t)(der + der_len - p));
    }
    *out = csr;
    return EST_OK;
}

/* RFC 5480 §2.1.1: only namedCurve. Explicit parameters are how a weak or
 * look-alike curve gets past a name check (CVE-2020-0601), so they are
 * refused even when they happen to describe an allowed curve. */
static est_status check_ec_key(EVP_PKEY *key, est_error *err)
{
    char group[80];
    size_t group_len = 0;
    int from_explicit = 0, nid;

    if (EVP_PKEY_get_int_param(key, OSSL_PKEY_PARAM_EC_DECODED_FROM_EXPLICIT_PARAMS,
                               &from_explicit) == 1 &&
        from_explicit != 0)
        return est_error_set(err, EST_E_POLICY,
                             "EC key with explicit curve parameters (named curves only)");
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &group_len) != 1) {
        ERR_clear_error();
        return est_error_set(err, EST_E_POLICY, "EC key without a named curve");
    }
    nid = OBJ_sn2nid(group);
    if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 && nid != NID_secp521r1)
        return est_error_set(err, EST_E_POLICY,
                             "EC curve %s not allowed (P-256, P-384, P-521 only)", group);
    return EST_OK;
}

static est_status check_key_policy(EVP_PKEY *key, const est_profile *profile, est_error *err)
{
    int bits = EVP_PKEY_get_bits(key);

    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        if (bits < profile->min_rsa_bits)
            return est_error_set(err, EST_E_POLICY, "RSA key of %d bits (minimum %d)", bits,
                                 profile->min_rsa_bits);
        return EST_OK;
    case EVP_PKEY_EC:
        return check_ec_key(key, err);
    case EVP_PKEY_ED25519:
        if (!profile->allow_ed25519)
            return est_error_set(err, EST_E_POLICY, "Ed25519 keys not allowed");
        return EST_OK;
    default: {
        const char *name = EVP_PKEY_get0_type_name(key);
        return est_error_set(err, EST_E_POLICY, "key type %s not allowed",
                             name != NULL ? name : "(unknown)");
    }
    }
}

/* The SAN from the extensionRequest attribute (RFC 2985 §5.4.2).
 * EST_E_INPUT when the attribute or the extension does not decode or the
 * SAN is requested twice; *san is NULL when none was requested. */
static est_status request_san(X509_REQ *csr, GENERAL_NAMES **san, est_error *err)
{
    STACK_OF(X509_EXTENSION) *exts;
    int critical = -1;
    est_status rc = EST_OK;

    *san = NULL;
    exts = X509_REQ_get_extensions(csr);
    if (exts == NULL)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR extensionRequest does not decode");
    *san = X509V3_get_d2i(exts, NID_subject_alt_name, &critical, NULL);
    if (*san == NULL && critical == -2)
        rc = est_error_set(err, EST_E_INPUT, "CSR requests subjectAltName twice");
    else if (*san == NULL && critical >= 0)
        rc = est_error_set_openssl(err, EST_E_INPUT, "CSR subjectAltName does not decode");
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

/* Key policy before the signature: a key we refuse costs no verification
 * (an attacker's huge RSA key must not buy CPU time). */
est_status est_csr_check(X509_REQ *csr, const est_profile *profile, est_error *err)
{
    est_profile defaults;
    GENERAL_NAMES *san = NULL;
    EVP_PKEY *key;
    est_status rc;

    if (csr == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CSR check: NULL CSR");
    if (profile == NULL) {
        est_profile_default(&defaults);
        profile = &defaults;
    }
    /* RFC 2986 §4.1: version is 0 (v1). */
    if (X509_REQ_get_version(csr) != X509_REQ_VERSION_1)
        return est_error_set(err, EST_E_INPUT, "CSR version field %ld (must be 0, v1)",
                             X509_REQ_get_version(csr));
    key = X509_REQ_get0_pubkey(csr);
    if (key == NULL)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR public key unreadable");
    if ((rc = check_key_policy(key, profile, err)) != EST_OK)
        return rc;
    if (X509_REQ_verify(csr, key) != 1)
        return est_error_set_openssl(err, EST_E_INPUT,
                                     "CSR signature does not verify (no proof of possession)");
    if ((rc = request_san(csr, &san, err)) != EST_OK)
        return rc;
    if (X509_NAME_entry_count(X509_REQ_get_subject_name(csr)) == 0 &&
        (san == NULL || sk_GENERAL_NAME_num(san) == 0))
        rc = est_error_set(err, EST_E_INPUT, "CSR has neither a subject nor a subjectAltName");
    GENERAL_NAMES_free(san);
    return rc;
}

GENERAL_NAMES *est_csr_get1_san(X509_REQ *csr)
{
    GENERAL_NAMES *san = NULL;

    if (csr == NULL || request_san(csr, &san, NULL) != EST_OK)
        return NULL;
    return san;
}

/* RFC 2985 §5.4.1: challengePassword is a DirectoryString; EST clients
 * send PrintableString or UTF8String (draft-04 §3.5 puts base64 in it). */
est_status est_csr_get_challenge_password(X509_REQ *csr, char **out, est_error *err)
{
    X509_ATTRIBUTE *attr;
    ASN1_TYPE *value;
    const unsigned char *data;
    int idx, len;
    char *copy;

    if (csr == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "challengePassword: NULL argument");
    *out = NULL;
    idx = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1);
    if (idx < 0)
        return est_error_set(err, EST_E_NOT_FOUND, "CSR has no challengePassword");
    if (X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, idx) >= 0)
        return est_error_set(err, EST_E_INPUT, "CSR has more than one challengePassword");
    attr = X509_REQ_get_attr(csr, idx);
    if (X509_ATTRIBUTE_count(attr) != 1)
        return est_error_set(err, EST_E_INPUT, "challengePassword must have one value");
    value = X509_ATTRIBUTE_get0_type(attr, 0);
    if (value == NULL ||
        (value->type != V_ASN1_PRINTABLESTRING && value->type != V_ASN1_UTF8STRING))
        return est_error_set(err, EST_E_INPUT,
                             "challengePassword is not a PrintableString or UTF8String");
    data = ASN1_STRING_get0_data(value->value.asn1_string);
    len = ASN1_STRING_length(value->value.asn1_string);
    if (len > EST_CHALLENGE_PASSWORD_MAX)
        return est_error_set(err, EST_E_INPUT, "challengePassword longer than %d characters",
                             EST_CHALLENGE_PASSWORD_MAX);
    if (len < 0 || (len > 0 && memchr(data, '\0', (size_t)len) != NULL))
        return est_error_set(err, EST_E_INPUT, "challengePassword contains a NUL byte");
    copy = malloc((size_t)len + 1);
    if (copy == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    memcpy(copy, data, (size_t)len);
    copy[len] = '\0';
    *out = copy;
    return EST_OK;
}
