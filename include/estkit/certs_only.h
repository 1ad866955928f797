/* estkit: the certs-only CMC Simple PKI Response (RFC 5272 §4.1): a
 * degenerate PKCS#7/CMS SignedData with certificates and no signers. */
#ifndef ESTKIT_CERTS_ONLY_H
#define ESTKIT_CERTS_ONLY_H

#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/error.h"

#define EST_CERTS_ONLY_MAX_CERTS 64

/* Builds the DER from certs (order kept). *der: est_free. */
EST_API est_status est_certs_only_build(STACK_OF(X509) * certs, uint8_t **der, size_t *der_len,
                                        est_error *err);

/* Parses DER into a new stack of certificates (caller frees with
 * sk_X509_pop_free(certs, X509_free)). Rejects trailing bytes, a content
 * type other than signedData, signers, and more than
 * EST_CERTS_ONLY_MAX_CERTS certificates. A response with no certificate is
 * an error. */
EST_API est_status est_certs_only_parse(const uint8_t *der, size_t der_len, STACK_OF(X509) * *certs,
                                        est_error *err);

#endif
