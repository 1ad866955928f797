/* Test fixtures for the CA unit tests (tests/unit/lib/{key,file,signer,
 * csr,ca,issue,rollover,crl}.c): keys, CSRs, root CAs, chain checks. Every
 * function returns NULL / an error on failure; tests assert on it. */
#ifndef ESTKIT_TEST_CA_FIXTURE_H
#define ESTKIT_TEST_CA_FIXTURE_H

#include <openssl/x509.h>
#include "estkit/ca.h"
#include "estkit/key.h"

EVP_PKEY *ca_fixture_key(est_key_type type);
/* A PKCS#10 request signed by key (digest per est_key_digest).
 * subject_dn NULL = empty subject; dns NULL = no SAN; ask_ca adds
 * basicConstraints CA:TRUE to the extensionRequest. */
X509_REQ *ca_fixture_csr(EVP_PKEY *key, const char *subject_dn, const char *dns, int ask_ca);
/* DER of req (malloc'd through OpenSSL). */
unsigned char *ca_fixture_csr_der(X509_REQ *req, size_t *len);
/* A root CA of the given key type valid for days; *root and *key get
 * references when non-NULL. */
est_ca *ca_fixture_root_ca(est_key_type type, const char *dn, unsigned days, X509 **root,
                           EVP_PKEY **key);
/* A root key rollover (RFC 4210 §4.4) made by est_ca_rollover: the old
 * root (and a CA issuing under it), the new key, and the three links. */
typedef struct ca_fixture_rollover {
    est_ca *old_ca;
    X509 *old_root, *new_root, *new_with_old, *old_with_new;
    EVP_PKEY *old_key, *new_key;
} ca_fixture_rollover;

/* The old root: an old_type key, old_dn, old_days; the new root: a
 * new_type key, new_dn (NULL: the old root's subject), new_days. */
ca_fixture_rollover *ca_fixture_rollover_new(est_key_type old_type, const char *old_dn,
                                             unsigned old_days, est_key_type new_type,
                                             const char *new_dn, unsigned new_days);
void ca_fixture_rollover_free(ca_fixture_rollover *r);
/* X509_verify_cert(target) with trusted as the only trust anchor (NULL:
 * none) and untrusted as candidate intermediates; X509_V_OK or the error.
 * crl non-NULL turns on CRL checking for the leaf. */
int ca_fixture_verify(X509 *trusted, STACK_OF(X509) *untrusted, X509 *target, X509_CRL *crl);
/* The extension of nid in cert, its criticality in *critical. */
void *ca_fixture_ext(X509 *cert, int nid, int *critical);

#endif
