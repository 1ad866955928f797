/* Internals shared by the CA files: ca.c (the object, serials, names,
 * certificate building blocks), issue.c, rollover.c and crl.c. */
#ifndef ESTKIT_CA_INTERNAL_H
#define ESTKIT_CA_INTERNAL_H

#include "estkit/ca.h"
#include "estkit/signer.h"
#include "estkit/csr.h"

#define EST_SECONDS_PER_DAY 86400L
/* Roots and rollover links start this far in the past, like issued
 * certificates (est_profile.backdate_seconds), so relying parties with a
 * slightly slow clock accept them at once. */
#define EST_CA_BACKDATE_SECONDS 300

est_signer *ca_get0_signer(const est_ca *ca);
/* EST_E_CA unless the signer's key is the CA certificate's key: caught
 * before signing, with a reason, not as a chain that never verifies. */
est_status ca_check_key(const est_ca *ca, est_error *err);

/* A v3 certificate with a random serial, the names, the public key and the
 * validity; not signed, no extensions. With spki (the same key as a
 * SubjectPublicKeyInfo) its algorithm and bits are copied as they are:
 * no re-encoding, but the certificate's X509_get0_pubkey is NULL until it
 * is parsed again. With spki NULL, key is encoded (slow on OpenSSL 3.0). */
est_status ca_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *key,
                       const X509_PUBKEY *spki, time_t not_before, time_t not_after, X509 **out,
                       est_error *err);
/* A CA certificate (CA:TRUE, keyCertSign|cRLSign, SKI, AKI) for key,
 * signed by signing_key: roots and rollover links. */
est_status ca_cert_make_ca(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *key,
                           time_t not_before, time_t not_after,
                           const ASN1_OCTET_STRING *subject_key_id,
                           const ASN1_OCTET_STRING *issuer_key_id, EVP_PKEY *signing_key,
                           X509 **out, est_error *err);
/* The same, signed through signer (a token key). */
est_status ca_cert_make_ca_signed(const X509_NAME *subject, const X509_NAME *issuer,
                                  EVP_PKEY *key, time_t not_before, time_t not_after,
                                  const ASN1_OCTET_STRING *subject_key_id,
                                  const ASN1_OCTET_STRING *issuer_key_id, est_signer *signer,
                                  X509 **out, est_error *err);
/* The key identifier: cert's subjectKeyIdentifier when it has one, else
 * the SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2, method 1) of
 * cert, or of key when cert is NULL (key is then required, and must be
 * cert's key when both are given). */
est_status ca_key_id(X509 *cert, EVP_PKEY *key, ASN1_OCTET_STRING **out, est_error *err);
/* The same SHA-1 straight from a SubjectPublicKeyInfo: no key re-encoding. */
est_status ca_key_id_of_spki(const X509_PUBKEY *spki, ASN1_OCTET_STRING **out, est_error *err);
/* Adds subjectKeyIdentifier and authorityKeyIdentifier (keyIdentifier only). */
est_status ca_cert_add_key_ids(X509 *cert, const ASN1_OCTET_STRING *subject_key_id,
                               const ASN1_OCTET_STRING *issuer_key_id, est_error *err);
/* Adds an extension from its OpenSSL structure (value is not consumed). */
est_status ca_cert_add_ext(X509 *cert, int nid, int critical, void *value, est_error *err);
/* cRLDistributionPoints and authorityInfoAccess caIssuers from the
 * profile's URLs, when set (issue_locations.c). */
est_status ca_cert_add_locations(X509 *cert, const est_profile *profile, est_error *err);

/* Hex as est_serial_to_hex writes it (either case) -> INTEGER. */
est_status ca_serial_from_hex(const char *hex, ASN1_INTEGER **out, est_error *err);
est_status ca_time_to_time_t(const ASN1_TIME *t, time_t *out, est_error *err);

#endif
