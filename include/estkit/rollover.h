/* estkit: root key rollover (RFC 4210 §4.4). */
#ifndef ESTKIT_ROLLOVER_H
#define ESTKIT_ROLLOVER_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/error.h"
#include "estkit/signer.h"

/* From the old root (cert + key) and a new key, makes NewWithNew
 * (self-signed, subject_dn), NewWithOld (new key signed by the old key) and
 * OldWithNew (old key signed by the new key); each X509_free. */
EST_API est_status est_ca_rollover(X509 *old_cert, EVP_PKEY *old_key, EVP_PKEY *new_key,
                                   const char *subject_dn, unsigned days, X509 **new_with_new,
                                   X509 **new_with_old, X509 **old_with_new, est_error *err);
/* The same for keys this process may not hold (PKCS#11 tokens): each link
 * signed through its key's signer, for the signer's public key. */
EST_API est_status est_ca_rollover_signer(X509 *old_cert, est_signer *old_signer,
                                          est_signer *new_signer, const char *subject_dn,
                                          unsigned days, X509 **new_with_new, X509 **new_with_old,
                                          X509 **old_with_new, est_error *err);

#endif
