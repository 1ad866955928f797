/* estkit: certification requests (PKCS#10, RFC 2986): the profile and
 * limits a CA applies, parsing and checking a CSR (csr.c), and building one
 * (csr_build.c). */
#ifndef ESTKIT_CSR_H
#define ESTKIT_CSR_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h> /* GENERAL_NAMES */
#include "estkit/api.h"
#include "estkit/error.h"

/* What one CSR may carry (issue #12: a 60 kB subject and 2,500 extensions
 * were issued). Each refusal names the limit by its estd.conf key, e.g.
 * "CSR subject is 61440 bytes, limit csr_max_subject_bytes = 4096". */
typedef struct est_csr_limits {
    size_t max_bytes;               /* csr_max_bytes: the whole DER; default 16384 */
    size_t max_subject_bytes;       /* csr_max_subject_bytes: subject DER; default 4096 */
    unsigned max_subject_rdns;      /* csr_max_subject_rdns: subject attributes; default 32 */
    size_t max_value_bytes;         /* csr_max_value_bytes: one subject value; default 1024 */
    unsigned max_attributes;        /* csr_max_attributes: PKCS#10 attributes; default 16 */
    unsigned max_extensions;        /* csr_max_extensions: extensionRequest; default 32 */
    unsigned max_san_entries;       /* csr_max_san_entries: subjectAltName names; default 100 */
    size_t max_san_bytes;           /* csr_max_san_bytes: subjectAltName DER; default 8192 */
} est_csr_limits;

/* Fills limits with the defaults above. */
EST_API void est_csr_limits_default(est_csr_limits *limits);

/* Key algorithms a CSR may use (est_profile.key_types, estd.conf
 * csr_key_types). EC means named curves only, never explicit parameters;
 * Ed448 and other types are never allowed. */
enum {
    EST_KEY_ALLOW_RSA = 1u << 0,
    EST_KEY_ALLOW_EC_P256 = 1u << 1,
    EST_KEY_ALLOW_EC_P384 = 1u << 2,
    EST_KEY_ALLOW_EC_P521 = 1u << 3,
    EST_KEY_ALLOW_ED25519 = 1u << 4,
};
#define EST_KEY_ALLOW_ALL 0x1fu

/* A distribution-point or caIssuers URL in a profile. */
#define EST_PROFILE_URL_MAX 255

/* Validity and CRL periods are whole days up to 100 years: a typo like
 * 36500000 is refused, and the arithmetic stays far from overflow. Every
 * day count estkit and its tools accept (validity, --days, expiry and
 * renewal windows, audit retention) stops here. */
#define EST_VALIDITY_DAYS_MAX 36500

typedef struct est_profile {
    unsigned validity_days;       /* default 365 */
    unsigned backdate_seconds;    /* notBefore = now - this; default 300 */
    char extended_key_usage[128]; /* comma list of OpenSSL short names; default "clientAuth"; "" = none */
    int honour_san;               /* copy subjectAltName from the CSR; default 1 */
    int min_rsa_bits;             /* default 2048 */
    int max_rsa_bits;             /* default 8192: verifying a huge key costs the CA */
    int allow_ed25519;            /* default 1 (with EST_KEY_ALLOW_ED25519: both needed) */
    unsigned key_types;           /* EST_KEY_ALLOW_* bits; default EST_KEY_ALLOW_ALL */
    est_csr_limits csr_limits;    /* est_csr_limits_default */
    /* Where relying parties find revocation and the issuer, put in every
     * certificate issued (RFC 5280 §4.2.1.13 cRLDistributionPoints,
     * §4.2.2.1 authorityInfoAccess caIssuers); "" = none. http URLs. */
    char crl_url[EST_PROFILE_URL_MAX + 1];
    char ca_issuers_url[EST_PROFILE_URL_MAX + 1];
} est_profile;

/* Fills profile with the defaults above. */
EST_API void est_profile_default(est_profile *profile);

#define EST_CSR_MAX_DER 65536

/* Parses a DER PKCS#10 (no trailing bytes); *out: X509_REQ_free. EC
 * (named P-256/P-384/P-521) and RSA requests are read without OpenSSL
 * 3.0's decoder chain (csr_fast.c, ~5x faster): the X509_REQ encodes to
 * exactly der, and its key is backed by OpenSSL's legacy EC_KEY/RSA. EVP
 * calls work on it (verify, EVP_PKEY_eq, i2d_PUBKEY, group name,
 * EVP_PKEY_get1_encoded_public_key), but OpenSSL 3.0 answers
 * EVP_PKEY_get_octet_string_param(OSSL_PKEY_PARAM_PUB_KEY) with no bytes. */
EST_API est_status est_csr_parse(const uint8_t *der, size_t der_len, X509_REQ **out,
                                 est_error *err);
/* Proof of possession and key policy: the CSR is within profile's
 * csr_limits (checked first, est_csr_check_limits); the CSR signature
 * verifies with its own key; RSA from min_rsa_bits to max_rsa_bits, EC only
 * named P-256/P-384/P-521, Ed25519 when allowed (Ed448 never); subject or
 * SAN non-empty. EST_E_INPUT / EST_E_POLICY + reason. */
EST_API est_status est_csr_check(X509_REQ *csr, const est_profile *profile, est_error *err);
/* Only the size and count limits (for /serverkeygen, which ignores the
 * CSR's key). EST_E_POLICY naming the limit, EST_E_INPUT when the CSR's
 * extensionRequest does not decode. */
EST_API est_status est_csr_check_limits(X509_REQ *csr, const est_csr_limits *limits,
                                        est_error *err);
/* challengePassword as text (est_secret_free), EST_E_NOT_FOUND when absent. */
EST_API est_status est_csr_get_challenge_password(X509_REQ *csr, char **out, est_error *err);
/* The subjectAltName requested in the CSR's extensionRequest
 * (GENERAL_NAMES_free), or NULL. */
EST_API GENERAL_NAMES *est_csr_get1_san(X509_REQ *csr);

/* --- building a request (csr_build.c) --- */

typedef struct est_csr_params {
    EVP_PKEY *key;
    const EVP_MD *md;               /* NULL: est_key_digest(key) */
    const X509_NAME *subject;       /* NULL: empty subject (then san is needed) */
    const GENERAL_NAMES *san;       /* NULL: none */
    const char *challenge_password; /* NULL: none */
    const char *mac_address;        /* NULL: none; else macAddress (1.3.6.1.1.1.1.22) */
} est_csr_params;

/* Builds and signs a PKCS#10 request (SAN in an extensionRequest);
 * *out: X509_REQ_free. */
EST_API est_status est_csr_build(const est_csr_params *params, X509_REQ **out, est_error *err);

#endif
