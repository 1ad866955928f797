/* estkit: Full PKI Requests and Responses of CMC (RFC 5272, RFC 6402) as
 * EST's /fullcmc uses them (draft-04 §4.3, RFC 7030 §4.3).
 *
 * Client side: est_cmc_request_build (an enrollment with a PKCS#10 request,
 * or a revokeRequest) and est_cmc_response_parse. Server side:
 * est_cmc_request_parse + est_cmc_request_verify, then
 * est_cmc_response_build, signed by the CA through the signer seam.
 *
 * Requests carry PKCS#10 only: CRMF (RFC 4211) parses but is reported as
 * unsupported; nested CMS content and other messages are refused. */
#ifndef ESTKIT_CMC_H
#define ESTKIT_CMC_H

#include <stdint.h>
#include <openssl/x509.h>
#include <openssl/cms.h>
#include "estkit/api.h"
#include "estkit/ca.h"
#include "estkit/error.h"

/* Size limits, each enforced where the input is read. */
#define EST_CMC_MAX_DER (256 * 1024)  /* a whole Full PKI Request or Response */
#define EST_CMC_MAX_CONTROLS 32       /* TaggedAttributes in a controlSequence */
#define EST_CMC_MAX_REQUESTS 8        /* PKCS#10 requests in one PKIData */
#define EST_CMC_MAX_REVOKES 8         /* revokeRequest controls in one PKIData */
#define EST_CMC_MAX_STATUSES 8        /* CMCStatusInfoV2 controls in a response */
#define EST_CMC_MAX_CERTS 64          /* certificates in a response */
#define EST_CMC_NONCE_MAX 64          /* senderNonce / recipientNonce octets */
#define EST_CMC_NONCE_LEN 16          /* the nonces this library makes */
#define EST_CMC_TEXT_MAX 255          /* identification, statusString */

/* CMCStatus (RFC 5272 §6.1.1). */
typedef enum est_cmc_status {
    EST_CMC_SUCCESS = 0,
    EST_CMC_FAILED = 2,
    EST_CMC_PENDING = 3,
    EST_CMC_NO_SUPPORT = 4,
    EST_CMC_CONFIRM_REQUIRED = 5,
    EST_CMC_POP_REQUIRED = 6,
    EST_CMC_PARTIAL = 7,
} est_cmc_status;

/* CMCFailInfo (RFC 5272 §6.1.4). */
typedef enum est_cmc_fail {
    EST_CMC_FAIL_NONE = -1,
    EST_CMC_FAIL_BAD_ALG = 0,
    EST_CMC_FAIL_BAD_MESSAGE_CHECK = 1,
    EST_CMC_FAIL_BAD_REQUEST = 2,
    EST_CMC_FAIL_BAD_TIME = 3,
    EST_CMC_FAIL_BAD_CERT_ID = 4,
    EST_CMC_FAIL_UNSUPPORTED_EXT = 5,
    EST_CMC_FAIL_MUST_ARCHIVE_KEYS = 6,
    EST_CMC_FAIL_BAD_IDENTITY = 7,
    EST_CMC_FAIL_POP_REQUIRED = 8,
    EST_CMC_FAIL_POP_FAILED = 9,
    EST_CMC_FAIL_NO_KEY_REUSE = 10,
    EST_CMC_FAIL_INTERNAL_CA_ERROR = 11,
    EST_CMC_FAIL_TRY_LATER = 12,
    EST_CMC_FAIL_AUTH_DATA_FAIL = 13,
} est_cmc_fail;

/* "badRequest", ...; "none" for EST_CMC_FAIL_NONE, "unknown" otherwise. */
EST_API const char *est_cmc_fail_name(est_cmc_fail fail);
/* "success", "failed", ...; "unknown" otherwise. */
EST_API const char *est_cmc_status_name(est_cmc_status status);

typedef struct est_cmc_nonce {
    uint8_t data[EST_CMC_NONCE_MAX];
    size_t len;
} est_cmc_nonce;

/* --- client side --- */

typedef struct est_cmc_request_spec {
    X509_REQ *csr;              /* enroll: a signed PKCS#10 request, or NULL */
    X509 *revoke_cert;          /* revoke: the certificate to revoke, or NULL */
    int revoke_reason;          /* CRLReason (RFC 5280 §5.3.1) for revoke_cert */
    EVP_PKEY *signer_key;       /* signs the SignedData */
    /* NULL: the signer is the CSR's own key, named by its key identifier
     * (RFC 5272 §3.2.1.3.1); else this certificate is the signer and is
     * included in the SignedData (an RA, or the certificate being revoked). */
    X509 *signer_cert;
    const char *identification; /* id-cmc-identification, or NULL */
} est_cmc_request_spec;

/* What a request carried that the response must echo. */
typedef struct est_cmc_ids {
    int64_t transaction_id;     /* positive, random */
    est_cmc_nonce sender_nonce; /* EST_CMC_NONCE_LEN random octets */
} est_cmc_ids;

/* Builds a Full PKI Request: PKIData (controls transactionId and
 * senderNonce, then either the PKCS#10 as body part 1 or a revokeRequest)
 * in a SignedData with content type id-cct-PKIData. ids receives the fresh
 * transactionId and senderNonce. *der: est_free. */
EST_API est_status est_cmc_request_build(const est_cmc_request_spec *spec, est_cmc_ids *ids,
                                         uint8_t **der, size_t *der_len, est_error *err);

typedef struct est_cmc_response {
    /* The first CMCStatusInfoV2 that is not success, else success. */
    est_cmc_status status;
    est_cmc_fail fail_info;       /* EST_CMC_FAIL_NONE unless status is failed */
    char status_string[EST_CMC_TEXT_MAX + 1];
    int has_transaction_id;
    int64_t transaction_id;
    est_cmc_nonce recipient_nonce; /* len 0 when absent */
    est_cmc_nonce sender_nonce;
    STACK_OF(X509) *certs;        /* every certificate of the SignedData */
    X509 *signer;                 /* the one that signed (also in certs) */
} est_cmc_response;

/* Parses and verifies a Full PKI Response (SignedData, content type
 * id-cct-PKIResponse, one signer whose certificate is included). trust:
 * when non-NULL, the signer certificate must chain to it; NULL checks the
 * signature only (integrity, not origin). A Simple PKI Response (certs-only)
 * is EST_E_PROTOCOL: parse it with est_certs_only_parse. */
EST_API est_status est_cmc_response_parse(const uint8_t *der, size_t der_len, X509_STORE *trust,
                                          est_cmc_response **out, est_error *err);
EST_API void est_cmc_response_free(est_cmc_response *resp);
/* EST_E_PROTOCOL unless resp echoes ids (transactionId, recipientNonce). */
EST_API est_status est_cmc_response_check_ids(const est_cmc_response *resp, const est_cmc_ids *ids,
                                              est_error *err);
/* The certificate in resp whose public key is key (borrowed), or NULL. */
EST_API X509 *est_cmc_response_get0_cert_for_key(const est_cmc_response *resp, const EVP_PKEY *key);

/* --- server side --- */

typedef struct est_cmc_cert_request {
    uint32_t body_part_id;
    X509_REQ *csr;
} est_cmc_cert_request;

typedef struct est_cmc_revoke {
    uint32_t body_part_id;      /* of the revokeRequest control */
    X509_NAME *issuer;
    ASN1_INTEGER *serial;
    char serial_hex[41];        /* as est_serial_to_hex writes it */
    int reason;                 /* CRLReason */
} est_cmc_revoke;

/* A parsed Full PKI Request (opaque): its ids, its PKCS#10 requests and
 * revokeRequests, and the first reason it must fail although it parsed. */
typedef struct est_cmc_request est_cmc_request;

/* Parses a Full PKI Request (DER of a ContentInfo). EST_E_INPUT when it is
 * not one (not SignedData, detached or undecodable PKIData, trailing
 * bytes); EST_E_TOO_LARGE over a limit. A SignedData of another content
 * type parses with est_cmc_request_fail = badRequest so it can be answered
 * in CMC. The signature is not checked here: see est_cmc_request_verify.
 * *out: free with est_cmc_request_free. */
EST_API est_status est_cmc_request_parse(const uint8_t *der, size_t der_len, est_cmc_request **out,
                                         est_error *err);
/* Frees req and everything it holds; NULL is a no-op. */
EST_API void est_cmc_request_free(est_cmc_request *req);

/* Accessors. Pointers are borrowed from req: valid until
 * est_cmc_request_free, never freed by the caller. */
/* The transactionId control, or NULL when absent. */
EST_API const ASN1_INTEGER *est_cmc_request_get0_transaction_id(const est_cmc_request *req);
/* The senderNonce control, or NULL when absent. */
EST_API const est_cmc_nonce *est_cmc_request_get0_sender_nonce(const est_cmc_request *req);
/* The id-cmc-identification text; "" when absent. */
EST_API const char *est_cmc_request_get0_identification(const est_cmc_request *req);
/* The PKCS#10 requests (at most EST_CMC_MAX_REQUESTS); get0 is NULL when i
 * is not below the count. */
EST_API size_t est_cmc_request_cert_request_count(const est_cmc_request *req);
EST_API const est_cmc_cert_request *est_cmc_request_get0_cert_request(const est_cmc_request *req,
                                                                      size_t i);
/* The revokeRequest controls (at most EST_CMC_MAX_REVOKES), likewise. */
EST_API size_t est_cmc_request_revoke_count(const est_cmc_request *req);
EST_API const est_cmc_revoke *est_cmc_request_get0_revoke(const est_cmc_request *req, size_t i);
/* The SignedData's certificates (the signer's chain, as sent). */
EST_API STACK_OF(X509) *est_cmc_request_get0_certs(const est_cmc_request *req);
/* The first reason the request must fail although it parsed (an unknown
 * control, CRMF, a duplicate body part, ...): the server still answers in
 * CMC, echoing the ids. EST_CMC_FAIL_NONE when none; then the body part
 * is 0 and the reason "". Body part 0 = the PKIData as a whole. */
EST_API est_cmc_fail est_cmc_request_fail(const est_cmc_request *req);
EST_API uint32_t est_cmc_request_fail_body_part(const est_cmc_request *req);
EST_API const char *est_cmc_request_get0_fail_reason(const est_cmc_request *req);

/* Checks the request's single SignerInfo. The signer is either a
 * certificate included in the SignedData (*signer_cert, borrowed; chain
 * and authorization are the caller's policy) or the key of one of the
 * PKCS#10 requests, named by its key identifier (*signer_request = its
 * index, else -1). EST_E_AUTH when the signature does not verify or the
 * signer cannot be found. */
EST_API est_status est_cmc_request_verify(est_cmc_request *req, X509 **signer_cert,
                                          int *signer_request, est_error *err);

typedef struct est_cmc_status_entry {
    est_cmc_status status;
    est_cmc_fail fail;          /* for EST_CMC_FAILED */
    uint32_t body_parts[EST_CMC_MAX_REQUESTS + EST_CMC_MAX_REVOKES];
    size_t body_part_count;     /* 0 = the PKIData as a whole (bodyPartID 0) */
    const char *text;           /* statusString, or NULL */
} est_cmc_status_entry;

typedef struct est_cmc_response_spec {
    const est_cmc_status_entry *statuses;
    size_t status_count;        /* 1..EST_CMC_MAX_STATUSES */
    const ASN1_INTEGER *transaction_id;   /* echoed when non-NULL */
    const est_cmc_nonce *recipient_nonce; /* the request's senderNonce, or NULL */
    STACK_OF(X509) *certs;      /* issued certificates, or NULL */
} est_cmc_response_spec;

/* Builds a Full PKI Response (PKIResponse in SignedData, content type
 * id-cct-PKIResponse) signed by the CA; certificates: spec->certs and the
 * CA certificate. A fresh senderNonce is added. *der: est_free. */
EST_API est_status est_cmc_response_build(est_ca *ca, const est_cmc_response_spec *spec,
                                          uint8_t **der, size_t *der_len, est_error *err);

#endif
