/* estkit: issuing certificates from verified CSRs under a profile. */
#ifndef ESTKIT_ISSUE_H
#define ESTKIT_ISSUE_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/ca.h"
#include "estkit/csr.h"
#include "estkit/error.h"

/* Issues a certificate for the CSR's public key under profile. The CSR must
 * already have passed est_csr_check. subject: when non-NULL, used instead of
 * the CSR's subject (re-enroll keeps the old subject). *out: X509_free. */
EST_API est_status est_ca_issue(est_ca *ca, X509_REQ *csr, const est_profile *profile,
                                const X509_NAME *subject, X509 **out, est_error *err);
/* The same certificate, as built and signed rather than read back from its
 * DER: X509_get0_pubkey(*out) is NULL (the key is the CSR's), so it is fit
 * for i2d_X509 and its fields, not for path validation. Saves parsing the
 * key once more, which OpenSSL 3.0 makes expensive; estd uses it. */
EST_API est_status est_ca_issue_unparsed(est_ca *ca, X509_REQ *csr, const est_profile *profile,
                                         const X509_NAME *subject, X509 **out, est_error *err);
/* Issues for a bare public key (server key generation, TLS server cert):
 * names are DNS names or IP literals put in the SAN; eku as in the profile. */
EST_API est_status est_ca_issue_for_key(est_ca *ca, EVP_PKEY *public_key, const X509_NAME *subject,
                                        const char *const *names, size_t name_count,
                                        const est_profile *profile, X509 **out, est_error *err);

#endif
