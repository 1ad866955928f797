/* estkit: keys, the signer seam, CSR checks and the embedded CA.
 *
 * The signer is where the CA private key lives (in-process key by default;
 * later a key-holding process or PKCS#11). The CA object combines a CA
 * certificate, its chain and a signer, and issues certificates from
 * verified CSRs under a profile. */
#ifndef ESTKIT_CA_H
#define ESTKIT_CA_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h> /* GENERAL_NAMES */
#include "estkit/error.h"

/* --- keys --- */
typedef enum est_key_type {
    EST_KEY_EC_P256 = 0,
    EST_KEY_EC_P384,
    EST_KEY_RSA_2048,
    EST_KEY_RSA_3072,
    EST_KEY_RSA_4096,
    EST_KEY_ED25519,
} est_key_type;

/* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519". */
est_status est_key_type_parse(const char *name, est_key_type *out, est_error *err);
const char *est_key_type_name(est_key_type type);
est_status est_key_generate(est_key_type type, EVP_PKEY **out, est_error *err);
/* The signature digest matched to a key: SHA-256 for P-256/RSA < 3072,
 * SHA-384 for P-384/RSA >= 3072, NULL for Ed25519. */
const EVP_MD *est_key_digest(const EVP_PKEY *key);

/* --- files (atomic: temp file O_EXCL + fsync + rename; keys mode 0600) --- */
est_status est_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                 est_error *err);
est_status est_file_read(const char *path, size_t max, uint8_t **data, size_t *len,
                         est_error *err);
est_status est_key_write_file(const char *path, EVP_PKEY *key, est_error *err); /* PKCS#8 PEM */
est_status est_key_read_file(const char *path, EVP_PKEY **key, est_error *err);
/* For secrets a server keeps: refuses a file that is not regular or whose
 * mode grants group/others anything (the message names the chmod), checked
 * with fstat on the descriptor it then reads. */
est_status est_file_read_secret(const char *path, size_t max, uint8_t **data, size_t *len,
                                est_error *err);
/* est_key_read_file through est_file_read_secret; passphrase (NULL = none)
 * decrypts an encrypted PKCS#8 PEM. */
est_status est_key_read_private(const char *path, const char *passphrase, EVP_PKEY **key,
                                est_error *err);
/* est_key_write_file, encrypted PKCS#8 when passphrase is non-NULL. */
est_status est_key_write_private(const char *path, EVP_PKEY *key, const char *passphrase,
                                 est_error *err);
est_status est_certs_write_file(const char *path, STACK_OF(X509) *certs, est_error *err);
est_status est_certs_read_file(const char *path, STACK_OF(X509) **certs, est_error *err);

/* --- signer seam --- */
typedef struct est_signer_ops {
    const char *name;
    est_status (*sign_cert)(void *impl, X509 *cert, const EVP_MD *md, est_error *err);
    est_status (*sign_crl)(void *impl, X509_CRL *crl, const EVP_MD *md, est_error *err);
    EVP_PKEY *(*get0_public_key)(void *impl);
    void (*free)(void *impl);
    /* Optional: signs data (md NULL = the key's own scheme, Ed25519) for
     * CMS SignerInfos (CMC responses, key packages). *sig malloc'd
     * (OPENSSL_free). A signer without it cannot sign CMS. */
    est_status (*sign_data)(void *impl, const EVP_MD *md, const uint8_t *data, size_t len,
                            uint8_t **sig, size_t *sig_len, est_error *err);
} est_signer_ops;

typedef struct est_signer est_signer;
est_signer *est_signer_new(const est_signer_ops *ops, void *impl);
/* The default: the private key in this process (takes a reference). */
est_signer *est_signer_new_key(EVP_PKEY *key);
/* The same with RSASSA-PSS signatures (RFC 4055: SHA-256, MGF1-SHA-256,
 * salt EST_RSA_PSS_SALT_LEN) on certificates, CRLs and CMS (RFC 4056);
 * NULL for a non-RSA key. */
est_signer *est_signer_new_key_pss(EVP_PKEY *key);
/* est_signer_new for a backend whose every signature is RSASSA-PSS with
 * those parameters: the seam verifies sign_data so, and CMS SignerInfos
 * name rsassaPss. NULL (impl released) unless the public key is RSA. */
est_signer *est_signer_new_pss(const est_signer_ops *ops, void *impl);
int est_signer_is_pss(const est_signer *signer);
#define EST_RSA_PSS_SALT_LEN 32
/* Sets pctx (an RSA signing context) to those PSS parameters; 1 on success. */
int est_rsa_pss_setup(EVP_PKEY_CTX *pctx);
/* A SHA-256 digest-sign context for RSA key with the PSS parameters. */
EVP_MD_CTX *est_rsa_pss_ctx_new(EVP_PKEY *key);
/* The rsassaPss AlgorithmIdentifier those signatures carry, or NULL. */
X509_ALGOR *est_rsa_pss_algor(EVP_PKEY *key);
void est_signer_free(est_signer *signer);
EVP_PKEY *est_signer_get0_public_key(est_signer *signer);
est_status est_signer_sign_cert(est_signer *signer, X509 *cert, est_error *err);
est_status est_signer_sign_crl(est_signer *signer, X509_CRL *crl, est_error *err);
/* Signs data with the digest est_key_digest picks (none for Ed25519) and
 * verifies the signature before returning it. EST_E_UNSUPPORTED when the
 * backend has no sign_data. *sig malloc'd (OPENSSL_free). */
est_status est_signer_sign_data(est_signer *signer, const uint8_t *data, size_t len, uint8_t **sig,
                                size_t *sig_len, est_error *err);

/* --- profile and CSR checks --- */

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

void est_csr_limits_default(est_csr_limits *limits);

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

void est_profile_default(est_profile *profile);

#define EST_CSR_MAX_DER 65536

/* Parses a DER PKCS#10 (no trailing bytes). EC (named P-256/P-384/P-521)
 * and RSA requests are read without OpenSSL 3.0's decoder chain
 * (csr_fast.c, ~5x faster): the X509_REQ encodes to exactly der, and its
 * key is backed by OpenSSL's legacy EC_KEY/RSA. EVP calls work on it
 * (verify, EVP_PKEY_eq, i2d_PUBKEY, group name,
 * EVP_PKEY_get1_encoded_public_key), but OpenSSL 3.0 answers
 * EVP_PKEY_get_octet_string_param(OSSL_PKEY_PARAM_PUB_KEY) with no bytes. */
est_status est_csr_parse(const uint8_t *der, size_t der_len, X509_REQ **out, est_error *err);
/* Proof of possession and key policy: the CSR is within profile's
 * csr_limits (checked first, est_csr_check_limits); the CSR signature
 * verifies with its own key; RSA from min_rsa_bits to max_rsa_bits, EC only
 * named P-256/P-384/P-521, Ed25519 when allowed (Ed448 never); subject or
 * SAN non-empty. EST_E_INPUT / EST_E_POLICY + reason. */
est_status est_csr_check(X509_REQ *csr, const est_profile *profile, est_error *err);
/* Only the size and count limits (for /serverkeygen, which ignores the
 * CSR's key). EST_E_POLICY naming the limit, EST_E_INPUT when the CSR's
 * extensionRequest does not decode. */
est_status est_csr_check_limits(X509_REQ *csr, const est_csr_limits *limits, est_error *err);
/* challengePassword as text (malloc'd; est_secret_free), EST_E_NOT_FOUND when absent. */
est_status est_csr_get_challenge_password(X509_REQ *csr, char **out, est_error *err);
/* The subjectAltName requested in the CSR's extensionRequest, or NULL. */
GENERAL_NAMES *est_csr_get1_san(X509_REQ *csr);

/* --- the CA --- */
typedef struct est_ca est_ca;

/* cert: the issuing CA certificate; chain: the certificates above it up to
 * the root (NULL for a root CA); extra: further certificates /cacerts must
 * serve (rollover links; may be NULL). Takes references; the signer is
 * owned by the CA from here on. */
est_ca *est_ca_new(X509 *cert, STACK_OF(X509) *chain, STACK_OF(X509) *extra, est_signer *signer);
void est_ca_free(est_ca *ca);
X509 *est_ca_get0_cert(const est_ca *ca);
/* What /cacerts serves: CA cert, chain, extra. */
STACK_OF(X509) *est_ca_get0_cacerts(const est_ca *ca);

/* Serial numbers: 16 random bytes with the top bit cleared (positive, 127
 * bits of entropy, <= 20 octets). Hex as `openssl x509 -serial` prints it. */
est_status est_serial_random(ASN1_INTEGER **out, est_error *err);
est_status est_serial_to_hex(const ASN1_INTEGER *serial, char out[41], est_error *err);

/* Issues a certificate for the CSR's public key under profile. The CSR must
 * already have passed est_csr_check. subject: when non-NULL, used instead of
 * the CSR's subject (re-enroll keeps the old subject). */
est_status est_ca_issue(est_ca *ca, X509_REQ *csr, const est_profile *profile,
                        const X509_NAME *subject, X509 **out, est_error *err);
/* The same certificate, as built and signed rather than read back from its
 * DER: X509_get0_pubkey(*out) is NULL (the key is the CSR's), so it is fit
 * for i2d_X509 and its fields, not for path validation. Saves parsing the
 * key once more, which OpenSSL 3.0 makes expensive; estd uses it. */
est_status est_ca_issue_unparsed(est_ca *ca, X509_REQ *csr, const est_profile *profile,
                                 const X509_NAME *subject, X509 **out, est_error *err);
/* Issues for a bare public key (server key generation, TLS server cert):
 * names are DNS names or IP literals put in the SAN; eku as in the profile. */
est_status est_ca_issue_for_key(est_ca *ca, EVP_PKEY *public_key, const X509_NAME *subject,
                                const char *const *names, size_t name_count,
                                const est_profile *profile, X509 **out, est_error *err);

/* A self-signed root: CA:TRUE critical, keyCertSign+cRLSign, SKI. */
est_status est_ca_make_root(EVP_PKEY *key, const char *subject_dn, unsigned days, X509 **out,
                            est_error *err);
/* The same for a key this process does not hold (a PKCS#11 token): signed
 * through signer, for its public key. */
est_status est_ca_make_root_signer(est_signer *signer, const char *subject_dn, unsigned days,
                                   X509 **out, est_error *err);
/* Parses "CN=x,O=y" or "/CN=x/O=y" into a name. */
est_status est_name_parse(const char *dn, X509_NAME **out, est_error *err);

/* Root key rollover (RFC 4210 §4.4): from the old root (cert + key) and a
 * new key, makes NewWithNew (self-signed, subject_dn), NewWithOld (new key
 * signed by the old key) and OldWithNew (old key signed by the new key). */
est_status est_ca_rollover(X509 *old_cert, EVP_PKEY *old_key, EVP_PKEY *new_key,
                           const char *subject_dn, unsigned days, X509 **new_with_new,
                           X509 **new_with_old, X509 **old_with_new, est_error *err);
/* The same for keys this process may not hold (PKCS#11 tokens): each link
 * signed through its key's signer, for the signer's public key. */
est_status est_ca_rollover_signer(X509 *old_cert, est_signer *old_signer, est_signer *new_signer,
                                  const char *subject_dn, unsigned days, X509 **new_with_new,
                                  X509 **new_with_old, X509 **old_with_new, est_error *err);

typedef struct est_revoked_entry {
    const char *serial_hex;
    time_t revoked_at;
    int reason; /* CRL reason code (RFC 5280 §5.3.1), -1 = none */
} est_revoked_entry;

/* A signed CRL (v2, CRL number, AKI, nextUpdate now + next_update_days). */
est_status est_ca_make_crl(est_ca *ca, const est_revoked_entry *entries, size_t count,
                           long crl_number, unsigned next_update_days, X509_CRL **out,
                           est_error *err);
/* "keyCompromise" etc. (RFC 5280 names, case-insensitive) -> code. */
est_status est_crl_reason_parse(const char *name, int *code, est_error *err);

#endif
