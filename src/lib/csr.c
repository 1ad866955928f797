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
#include "estkit/csr.h"
#include "csr_internal.h"

/* RFC 2985 §5.4.1: ub-challenge-password is 255 characters. */
#define EST_CHALLENGE_PASSWORD_MAX 255

/* Default CSR limits. Real device CSRs are a few hundred bytes with under
 * ten subject attributes and a handful of extensions; the defaults leave
 * an order of magnitude of room while keeping what is signed, stored and
 * printed small. RFC 5280's upper bounds (ub-common-name 64, ...) are lower
 * still but not universally honoured, so the value limit is generous. */
#define CSR_DEFAULT_MAX_BYTES 16384
#define CSR_DEFAULT_MAX_SUBJECT_BYTES 4096
#define CSR_DEFAULT_MAX_SUBJECT_RDNS 32
#define CSR_DEFAULT_MAX_VALUE_BYTES 1024
#define CSR_DEFAULT_MAX_ATTRIBUTES 16
#define CSR_DEFAULT_MAX_EXTENSIONS 32
#define CSR_DEFAULT_MAX_SAN_ENTRIES 100 /* what public CAs allow per certificate */
#define CSR_DEFAULT_MAX_SAN_BYTES 8192
#define CSR_DEFAULT_MAX_RSA_BITS 8192

void est_csr_limits_default(est_csr_limits *limits)
{
    if (limits == NULL)
        return;
    limits->max_bytes = CSR_DEFAULT_MAX_BYTES;
    limits->max_subject_bytes = CSR_DEFAULT_MAX_SUBJECT_BYTES;
    limits->max_subject_rdns = CSR_DEFAULT_MAX_SUBJECT_RDNS;
    limits->max_value_bytes = CSR_DEFAULT_MAX_VALUE_BYTES;
    limits->max_attributes = CSR_DEFAULT_MAX_ATTRIBUTES;
    limits->max_extensions = CSR_DEFAULT_MAX_EXTENSIONS;
    limits->max_san_entries = CSR_DEFAULT_MAX_SAN_ENTRIES;
    limits->max_san_bytes = CSR_DEFAULT_MAX_SAN_BYTES;
}

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
    profile->max_rsa_bits = CSR_DEFAULT_MAX_RSA_BITS;
    profile->allow_ed25519 = 1;
    profile->key_types = EST_KEY_ALLOW_ALL;
    est_csr_limits_default(&profile->csr_limits);
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
    /* EC and RSA requests without OpenSSL 3.0's decoder chain (csr_fast.c);
     * the rest, and every refusal, the usual way. */
    if ((csr = csr_decode_fast(der, der_len)) != NULL) {
        *out = csr;
        return EST_OK;
    }
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
static est_status check_ec_key(EVP_PKEY *key, unsigned key_types, est_error *err)
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
    if (!(key_types & (nid == NID_X9_62_prime256v1 ? EST_KEY_ALLOW_EC_P256
                       : nid == NID_secp384r1      ? EST_KEY_ALLOW_EC_P384
                                                   : EST_KEY_ALLOW_EC_P521)))
        return est_error_set(err, EST_E_POLICY, "EC curve %s not in this CA's csr_key_types",
                             group);
    return EST_OK;
}

static est_status check_key_policy(EVP_PKEY *key, const est_profile *profile, est_error *err)
{
    int bits = EVP_PKEY_get_bits(key);

    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        if (!(profile->key_types & EST_KEY_ALLOW_RSA))
            return est_error_set(err, EST_E_POLICY, "RSA keys not in this CA's csr_key_types");
        if (bits < profile->min_rsa_bits)
            return est_error_set(err, EST_E_POLICY, "RSA key of %d bits (minimum %d)", bits,
                                 profile->min_rsa_bits);
        if (bits > profile->max_rsa_bits)
            return est_error_set(err, EST_E_POLICY, "RSA key of %d bits, limit max_rsa_bits = %d",
                                 bits, profile->max_rsa_bits);
        return EST_OK;
    case EVP_PKEY_EC:
        return check_ec_key(key, profile->key_types, err);
    case EVP_PKEY_ED25519:
        if (!profile->allow_ed25519 || !(profile->key_types & EST_KEY_ALLOW_ED25519))
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

/* --- limits (issue #12) --------------------------------------------------
 * draft-04 §4.2.1 leaves what a CSR may ask for to CA policy; these bounds
 * keep one request from costing the CA memory, disk and operator screens.
 * Counts and lengths only: nothing here verifies a signature. */

static est_status check_subject(const X509_NAME *name, const est_csr_limits *limits,
                                est_error *err)
{
    int der_len = i2d_X509_NAME(name, NULL), count = X509_NAME_entry_count(name);

    if (der_len < 0)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR subject does not encode");
    if ((size_t)der_len > limits->max_subject_bytes)
        return est_error_set(err, EST_E_POLICY,
                             "CSR subject is %d bytes, limit csr_max_subject_bytes = %zu", der_len,
                             limits->max_subject_bytes);
    /* Every attribute counts, also those sharing a multi-valued RDN. */
    if ((unsigned)count > limits->max_subject_rdns)
        return est_error_set(err, EST_E_POLICY,
                             "CSR subject has %d attributes, limit csr_max_subject_rdns = %u",
                             count, limits->max_subject_rdns);
    for (int i = 0; i < count; i++) {
        const ASN1_STRING *value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        int len = ASN1_STRING_length(value);

        if (len > 0 && (size_t)len > limits->max_value_bytes)
            return est_error_set(err, EST_E_POLICY,
                                 "CSR subject attribute %d is %d bytes, limit "
                                 "csr_max_value_bytes = %zu", i + 1, len, limits->max_value_bytes);
    }
    return EST_OK;
}

static est_status check_san(X509_EXTENSION *ext, const est_csr_limits *limits, est_error *err)
{
    int len = ASN1_STRING_length(X509_EXTENSION_get_data(ext)), count;
    GENERAL_NAMES *san;

    if (len > 0 && (size_t)len > limits->max_san_bytes)
        return est_error_set(err, EST_E_POLICY,
                             "CSR subjectAltName is %d bytes, limit csr_max_san_bytes = %zu", len,
                             limits->max_san_bytes);
    /* A SAN that does not decode is refused later, naming the problem. */
    if ((san = X509V3_EXT_d2i(ext)) == NULL) {
        ERR_clear_error();
        return EST_OK;
    }
    count = sk_GENERAL_NAME_num(san);
    GENERAL_NAMES_free(san);
    if ((unsigned)count > limits->max_san_entries)
        return est_error_set(err, EST_E_POLICY,
                             "CSR subjectAltName has %d names, limit csr_max_san_entries = %u",
                             count, limits->max_san_entries);
    return EST_OK;
}

static est_status check_extensions(X509_REQ *csr, const est_csr_limits *limits, est_error *err)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    est_status rc = EST_OK;
    int count, idx;

    if (exts == NULL)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR extensionRequest does not decode");
    count = sk_X509_EXTENSION_num(exts);
    if ((unsigned)count > limits->max_extensions)
        rc = est_error_set(err, EST_E_POLICY,
                           "CSR requests %d extensions, limit csr_max_extensions = %u", count,
                           limits->max_extensions);
    else if ((idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1)) >= 0)
        rc = check_san(sk_X509_EXTENSION_value(exts, idx), limits, err);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

est_status est_csr_check_limits(X509_REQ *csr, const est_csr_limits *limits, est_error *err)
{
    int der_len, attributes;
    est_status rc;

    if (csr == NULL || limits == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CSR limits: NULL argument");
    /* A parsed CSR keeps its signed part's encoding: this re-encodes nothing big. */
    if ((der_len = i2d_X509_REQ(csr, NULL)) < 0)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR does not encode");
    /* The specific limits first, so the refusal says what is too big;
     * the whole size last, for everything else (the key, padding). */
    if ((rc = check_subject(X509_REQ_get_subject_name(csr), limits, err)) != EST_OK)
        return rc;
    attributes = X509_REQ_get_attr_count(csr);
    if (attributes > 0 && (unsigned)attributes > limits->max_attributes)
        return est_error_set(err, EST_E_POLICY,
                             "CSR has %d attributes, limit csr_max_attributes = %u", attributes,
                             limits->max_attributes);
    if ((rc = check_extensions(csr, limits, err)) != EST_OK)
        return rc;
    if ((size_t)der_len > limits->max_bytes)
        return est_error_set(err, EST_E_POLICY, "CSR is %d bytes, limit csr_max_bytes = %zu",
                             der_len, limits->max_bytes);
    return EST_OK;
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
    if ((rc = est_csr_check_limits(csr, &profile->csr_limits, err)) != EST_OK)
        return rc;
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
    copy = OPENSSL_malloc((size_t)len + 1);
    if (copy == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    memcpy(copy, data, (size_t)len);
    copy[len] = '\0';
    *out = copy;
    return EST_OK;
}
