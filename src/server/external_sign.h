/* estd: signing certificates and CRLs whose private key this process does
 * not hold (the signer process, a PKCS#11 token): fill in the algorithm
 * fields, encode the TBS, have `sign` sign it, put the signature in. */
#ifndef ESTD_EXTERNAL_SIGN_H
#define ESTD_EXTERNAL_SIGN_H

#include <openssl/x509.h>
#include "estkit.h"

/* The largest signature (RSA-4096: 512 bytes). */
#define ESTD_SIGNATURE_MAX 1024

/* Signs tbs (DER) into sig (ESTD_SIGNATURE_MAX bytes). */
typedef est_status (*estd_sign_fn)(void *arg, const uint8_t *tbs, size_t len, uint8_t *sig,
                                   size_t *sig_len, est_error *err);

/* alg: the AlgorithmIdentifier the signature carries (keyproc_sig_alg). */
est_status estd_cert_sign_external(X509 *cert, const X509_ALGOR *alg, estd_sign_fn sign,
                                   void *arg, est_error *err);
/* A CRL has no setter for its inner algorithm in OpenSSL 3.0: public_key's
 * type (EC or RSA) and md pick it, through a throwaway key of that type;
 * alg (as above) says whether it is RSASSA-PSS. */
est_status estd_crl_sign_external(X509_CRL *crl, EVP_PKEY *public_key, const EVP_MD *md,
                                  const X509_ALGOR *alg, estd_sign_fn sign, void *arg,
                                  est_error *err);

#endif
