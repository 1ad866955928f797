/* estd: the signer process's wire protocol (see keyproc.c).
 *
 * One request per SOCK_SEQPACKET message, one reply per request, on a
 * connection that carries one request at a time:
 *
 *   request: version (1) | op | key index | 0 | payload
 *   reply:   status (0 signed, 1 refused) | signature, or a one-line reason
 *
 * The payload is what gets signed, never a digest: a DER TBSCertificate
 * (KEYPROC_SIGN_CERT), TBSCertList (KEYPROC_SIGN_CRL) or CMS signedAttrs
 * (KEYPROC_SIGN_DATA). The signer parses it fully and checks it is for its
 * key before signing (a TBSCertificate or TBSCertList whose signature
 * algorithm is the key's and whose issuer is the key's certificate;
 * signedAttrs with contentType and messageDigest).
 * Nothing in the protocol returns key material. The first message on
 * connection 0 is the signer's hello: ready + the SHA-256 of each key's
 * SubjectPublicKeyInfo, or failed + why. */
#ifndef ESTD_KEYPROC_WIRE_H
#define ESTD_KEYPROC_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "config.h"
#include "external_sign.h"

#define KEYPROC_VERSION 1
#define KEYPROC_HEADER_BYTES 4
/* A TBSCertificate carries the CSR's subject, SAN and key (a CSR is at
 * most EST_CSR_MAX_DER = 64 KiB) plus our extensions: twice that is ample.
 * A larger request is refused, not truncated. */
#define KEYPROC_REQUEST_MAX (128 * 1024)
/* RSA-4096 signs 512 bytes; DER ECDSA P-521 ~139. */
#define KEYPROC_SIGNATURE_MAX ESTD_SIGNATURE_MAX
#define KEYPROC_REASON_MAX 200
#define KEYPROC_REPLY_MAX (1 + KEYPROC_SIGNATURE_MAX)
#define KEYPROC_KEYS_MAX (ESTD_CONFIG_MAX_LABELS + 1)
#define KEYPROC_HELLO_MAX (2 + KEYPROC_KEYS_MAX * 32 + KEYPROC_REASON_MAX)

typedef enum keyproc_op {
    KEYPROC_SIGN_CERT = 1,
    KEYPROC_SIGN_DATA = 2,
    KEYPROC_SIGN_CRL = 3,
} keyproc_op;

typedef enum keyproc_status {
    KEYPROC_OK = 0,
    KEYPROC_REFUSED = 1,
    KEYPROC_UNAVAILABLE = 2, /* the token failed; the signer restarts */
} keyproc_status;

struct estd_p11_key;

/* What the signer knows of one of its keys. */
typedef struct keyproc_key {
    EVP_PKEY *key;       /* private, or public when p11 holds the private half */
    struct estd_p11_key *p11; /* a PKCS#11 token key; NULL for a key file */
    X509 *cert;          /* its CA certificate */
    X509_ALGOR *sig_alg; /* the AlgorithmIdentifier its signatures carry */
    int pss;             /* signature = pss: certificates and CRLs are RSASSA-PSS */
} keyproc_key;

/* The signature AlgorithmIdentifier for key with est_key_digest's digest
 * (ECDSA, RSA PKCS#1 v1.5, Ed25519), or with pss RSASSA-PSS (RFC 4055
 * parameters, est_rsa_pss_algor; EST_E_CONFIG for a non-RSA key).
 * EST_E_UNSUPPORTED for other keys. */
est_status keyproc_sig_alg(EVP_PKEY *key, int pss, X509_ALGOR **out, est_error *err);

/* A parsed and checked request; payload points into the message. */
typedef struct keyproc_request {
    keyproc_op op;
    unsigned key_index;
    const uint8_t *payload;
    size_t payload_len;
} keyproc_request;

/* The signer's check of one message against its keys: well-formed, in
 * bounds, for one of them. EST_E_INPUT/EST_E_TOO_LARGE/EST_E_POLICY + why. */
est_status keyproc_request_check(const keyproc_key *keys, size_t key_count, const uint8_t *msg,
                                 size_t len, keyproc_request *out, est_error *err);

/* The SHA-256 of key's SubjectPublicKeyInfo, in hellos. */
int keyproc_key_hash(EVP_PKEY *key, uint8_t out[32]);

#endif
