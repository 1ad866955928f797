/* Internals of the CSR files: csr.c (est_csr_parse and the checks) and
 * csr_fast.c (the request read without OpenSSL 3.0's key decoders). */
#ifndef ESTKIT_CSR_INTERNAL_H
#define ESTKIT_CSR_INTERNAL_H

#include "estkit/csr.h"

/* The DER PKCS#10 der as an X509_REQ whose key was built without an
 * OSSL_DECODER chain (EC on a named P-256/P-384/P-521 curve, RSA) and which
 * encodes back to exactly der; NULL for anything else, with nothing left on
 * OpenSSL's error queue: the caller then takes d2i_X509_REQ. */
X509_REQ *csr_decode_fast(const uint8_t *der, size_t der_len);

#endif
