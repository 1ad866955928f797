/* Test fixtures for the CMC and key package unit tests
 * (tests/unit/lib/cmc*.c, key_package.c): a CA with an RA and a client,
 * and hand-made PKIData for requests the library would never build. */
#ifndef ESTKIT_TEST_CMC_FIXTURE_H
#define ESTKIT_TEST_CMC_FIXTURE_H

#include "estkit/cmc.h"
#include "estkit/key.h"
#include "cmc_internal.h"

typedef struct cmc_fixture {
    est_ca *ca;
    X509 *ca_cert;
    EVP_PKEY *ca_key;
    EVP_PKEY *client_key;
    X509_REQ *csr;           /* CN=cmc-client, signed by client_key */
    EVP_PKEY *ra_key;
    X509 *ra_cert;           /* CN=cmc-ra, EKU cmcRA, issued by ca */
} cmc_fixture;

/* 0 on success. */
int cmc_fixture_setup(cmc_fixture *f, est_key_type ca_type);
void cmc_fixture_teardown(cmc_fixture *f);
/* cmocka group setup and teardown: *state is a cmc_fixture with an
 * EC P-256 CA, for the tests that share one. */
int cmc_fixture_group_setup(void **state);
int cmc_fixture_group_teardown(void **state);

/* A certificate for key issued by ca, CN=cn, extended key usage eku ("" =
 * none). */
X509 *cmc_fixture_issue(est_ca *ca, EVP_PKEY *key, const char *cn, const char *eku);

/* A PKIData: csr (when non-NULL) as body part 1, transactionId 7 as body
 * part 2, an 8-octet senderNonce as body part 3. */
CMC_PKI_DATA *cmc_fixture_pki_data(X509_REQ *csr);
/* pki signed into a Full PKI Request with content type nid: by cert's key
 * when cert is non-NULL, else by key named by csr's key identifier. *len
 * set; free() the result. NULL on failure. */
uint8_t *cmc_fixture_sign(const CMC_PKI_DATA *pki, int nid, EVP_PKEY *key, X509 *cert,
                          X509_REQ *csr, size_t *len);
/* As cmc_fixture_sign for any content bytes. */
uint8_t *cmc_fixture_sign_content(const uint8_t *content, size_t content_len, int nid,
                                  EVP_PKEY *key, X509 *cert, X509_REQ *csr, size_t *len);
/* An OCTET STRING of len bytes of fill, as an attribute value. */
ASN1_TYPE *cmc_fixture_octets(size_t len, unsigned char fill);
/* Adds a control with one value (value copied); 0 on failure. */
int cmc_fixture_add_control(CMC_PKI_DATA *pki, uint32_t body_part, const char *oid,
                            const ASN1_TYPE *value);

#endif
