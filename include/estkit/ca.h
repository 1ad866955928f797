/* estkit: the CA object: an issuing certificate, its chain and a signer;
 * serial numbers; self-signed roots.
 *
 * Issuing lives in issue.h, CRLs in crl.h, root rollover in rollover.h,
 * the signer seam in signer.h. */
#ifndef ESTKIT_CA_H
#define ESTKIT_CA_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/error.h"
#include "estkit/signer.h"

typedef struct est_ca est_ca;

/* cert: the issuing CA certificate; chain: the certificates above it up to
 * the root (NULL for a root CA); extra: further certificates /cacerts must
 * serve (rollover links; may be NULL). Takes references; the signer is
 * owned by the CA from here on. NULL on allocation failure. */
EST_API est_ca *est_ca_new(X509 *cert, STACK_OF(X509) * chain, STACK_OF(X509) * extra,
                           est_signer *signer);
/* Releases the CA and its signer; NULL ok. */
EST_API void est_ca_free(est_ca *ca);
/* The issuing CA certificate, borrowed. */
EST_API X509 *est_ca_get0_cert(const est_ca *ca);
/* What /cacerts serves: CA cert, chain, extra (borrowed). */
EST_API STACK_OF(X509) * est_ca_get0_cacerts(const est_ca *ca);

/* Serial numbers: 16 random bytes with the top bit cleared (positive, 127
 * bits of entropy, <= 20 octets); *out: ASN1_INTEGER_free. Hex as
 * `openssl x509 -serial` prints it. */
EST_API est_status est_serial_random(ASN1_INTEGER **out, est_error *err);
EST_API est_status est_serial_to_hex(const ASN1_INTEGER *serial, char out[41], est_error *err);

/* A self-signed root: CA:TRUE critical, keyCertSign+cRLSign, SKI;
 * *out: X509_free. */
EST_API est_status est_ca_make_root(EVP_PKEY *key, const char *subject_dn, unsigned days,
                                    X509 **out, est_error *err);
/* The same for a key this process does not hold (a PKCS#11 token): signed
 * through signer, for its public key. */
EST_API est_status est_ca_make_root_signer(est_signer *signer, const char *subject_dn,
                                           unsigned days, X509 **out, est_error *err);

#endif
