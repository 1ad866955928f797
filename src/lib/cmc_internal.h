/* CMC internals shared by cmc.c (ASN.1 templates, OIDs, CMS signing),
 * cmc_request.c (Full PKI Requests) and cmc_response.c (Full PKI
 * Responses), and key_package.c (which signs with the same CMS helper).
 *
 * The structures follow the ASN.1 module of RFC 5272 §3 and RFC 6402
 * (IMPLICIT TAGS). Each is an OpenSSL ASN.1 template; no DER is written
 * or read by hand. */
#ifndef ESTKIT_CMC_INTERNAL_H
#define ESTKIT_CMC_INTERNAL_H

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/safestack.h>
#include "estkit/cmc.h"

/* TaggedAttribute ::= SEQUENCE { bodyPartID, attrType, attrValues SET OF } */
typedef struct CMC_TAGGED_ATTRIBUTE_st {
    ASN1_INTEGER *body_part_id;
    ASN1_OBJECT *type;
    STACK_OF(ASN1_TYPE) *values;
} CMC_TAGGED_ATTRIBUTE;
DECLARE_ASN1_ITEM(CMC_TAGGED_ATTRIBUTE)
DEFINE_STACK_OF(CMC_TAGGED_ATTRIBUTE)

/* TaggedCertificationRequest ::= SEQUENCE { bodyPartID, CertificationRequest } */
typedef struct CMC_TCR_st {
    ASN1_INTEGER *body_part_id;
    X509_REQ *request;
} CMC_TCR;
DECLARE_ASN1_ITEM(CMC_TCR)

/* orm [2] SEQUENCE { bodyPartID, requestMessageType, requestMessageValue } */
typedef struct CMC_ORM_st {
    ASN1_INTEGER *body_part_id;
    ASN1_OBJECT *type;
    ASN1_TYPE *value;
} CMC_ORM;
DECLARE_ASN1_ITEM(CMC_ORM)

#define EST_CMC_REQUEST_TCR 0
#define EST_CMC_REQUEST_CRM 1
#define EST_CMC_REQUEST_ORM 2

/* TaggedRequest ::= CHOICE { tcr [0], crm [1] CertReqMsg, orm [2] }.
 * CRMF's CertReqMsg is kept as an opaque SEQUENCE: it is refused, but
 * must still parse so the refusal can name its body part. */
typedef struct CMC_TAGGED_REQUEST_st {
    int type;
    union {
        CMC_TCR *tcr;
        STACK_OF(ASN1_TYPE) *crm;
        CMC_ORM *orm;
    } d;
} CMC_TAGGED_REQUEST;
DECLARE_ASN1_ITEM(CMC_TAGGED_REQUEST)
DEFINE_STACK_OF(CMC_TAGGED_REQUEST)

/* TaggedContentInfo ::= SEQUENCE { bodyPartID, contentInfo } (content
 * kept opaque: nested CMS is refused). */
typedef struct CMC_TAGGED_CONTENT_st {
    ASN1_INTEGER *body_part_id;
    ASN1_TYPE *content;
} CMC_TAGGED_CONTENT;
DECLARE_ASN1_ITEM(CMC_TAGGED_CONTENT)
DEFINE_STACK_OF(CMC_TAGGED_CONTENT)

/* OtherMsg ::= SEQUENCE { bodyPartID, otherMsgType, otherMsgValue } */
typedef struct CMC_OTHER_MSG_st {
    ASN1_INTEGER *body_part_id;
    ASN1_OBJECT *type;
    ASN1_TYPE *value;
} CMC_OTHER_MSG;
DECLARE_ASN1_ITEM(CMC_OTHER_MSG)
DEFINE_STACK_OF(CMC_OTHER_MSG)

/* PKIData ::= SEQUENCE { controlSequence, reqSequence, cmsSequence,
 * otherMsgSequence } (RFC 5272 §3.2.1) */
typedef struct CMC_PKI_DATA_st {
    STACK_OF(CMC_TAGGED_ATTRIBUTE) *controls;
    STACK_OF(CMC_TAGGED_REQUEST) *requests;
    STACK_OF(CMC_TAGGED_CONTENT) *contents;
    STACK_OF(CMC_OTHER_MSG) *others;
} CMC_PKI_DATA;
DECLARE_ASN1_ITEM(CMC_PKI_DATA)

/* PKIResponse ::= SEQUENCE { controlSequence, cmsSequence,
 * otherMsgSequence } (RFC 5272 §3.2.3) */
typedef struct CMC_PKI_RESPONSE_st {
    STACK_OF(CMC_TAGGED_ATTRIBUTE) *controls;
    STACK_OF(CMC_TAGGED_CONTENT) *contents;
    STACK_OF(CMC_OTHER_MSG) *others;
} CMC_PKI_RESPONSE;
DECLARE_ASN1_ITEM(CMC_PKI_RESPONSE)

/* BodyPartReference ::= CHOICE { bodyPartID, bodyPartPath SEQUENCE OF } */
typedef struct CMC_BODY_PART_REFERENCE_st {
    int type;
    union {
        ASN1_INTEGER *id;
        STACK_OF(ASN1_INTEGER) *path;
    } d;
} CMC_BODY_PART_REFERENCE;
DECLARE_ASN1_ITEM(CMC_BODY_PART_REFERENCE)
DEFINE_STACK_OF(CMC_BODY_PART_REFERENCE)

/* CMCStatusInfoV2 ::= SEQUENCE { cMCStatus, bodyList, statusString
 * OPTIONAL, otherInfo OPTIONAL } (RFC 5272 §6.1.1). otherInfo is a CHOICE
 * of failInfo INTEGER and two SEQUENCEs that share a tag, so it is read as
 * ANY and told apart by its type. */
typedef struct CMC_STATUS_INFO_V2_st {
    ASN1_INTEGER *status;
    STACK_OF(CMC_BODY_PART_REFERENCE) *body_list;
    ASN1_UTF8STRING *status_string;
    ASN1_TYPE *other_info;
} CMC_STATUS_INFO_V2;
DECLARE_ASN1_ITEM(CMC_STATUS_INFO_V2)

/* RevokeRequest ::= SEQUENCE { issuerName, serialNumber, reason,
 * invalidityDate OPTIONAL, passphrase OPTIONAL, comment OPTIONAL }
 * (RFC 5272 §6.11) */
typedef struct CMC_REVOKE_REQUEST_st {
    X509_NAME *issuer;
    ASN1_INTEGER *serial;
    ASN1_ENUMERATED *reason;
    ASN1_GENERALIZEDTIME *invalidity_date;
    ASN1_OCTET_STRING *passphrase;
    ASN1_UTF8STRING *comment;
} CMC_REVOKE_REQUEST;
DECLARE_ASN1_ITEM(CMC_REVOKE_REQUEST)

/* The controls this library knows (RFC 5272 §6, RFC 6402). */
typedef enum est_cmc_control {
    EST_CMC_CONTROL_UNKNOWN = 0,
    EST_CMC_CONTROL_STATUS_INFO,     /* id-cmc 1 */
    EST_CMC_CONTROL_IDENTIFICATION,  /* id-cmc 2 */
    EST_CMC_CONTROL_IDENTITY_PROOF,  /* id-cmc 3 */
    EST_CMC_CONTROL_TRANSACTION_ID,  /* id-cmc 5 */
    EST_CMC_CONTROL_SENDER_NONCE,    /* id-cmc 6 */
    EST_CMC_CONTROL_RECIPIENT_NONCE, /* id-cmc 7 */
    EST_CMC_CONTROL_REVOKE_REQUEST,  /* id-cmc 17 */
    EST_CMC_CONTROL_POP_LINK_RANDOM, /* id-cmc 22 */
    EST_CMC_CONTROL_POP_LINK_WITNESS,    /* id-cmc 23 */
    EST_CMC_CONTROL_STATUS_INFO_V2,      /* id-cmc 25 */
    EST_CMC_CONTROL_POP_LINK_WITNESS_V2, /* id-cmc 33 */
    EST_CMC_CONTROL_IDENTITY_PROOF_V2,   /* id-cmc 34 */
} est_cmc_control;

est_cmc_control cmc_control_of(const ASN1_OBJECT *type);
/* A new OBJECT for a control (never UNKNOWN), or NULL on allocation failure. */
ASN1_OBJECT *cmc_control_object(est_cmc_control control);

/* BodyPartID ::= INTEGER (0..4294967295) (RFC 5272 §3.2.2). */
int cmc_body_part_get(const ASN1_INTEGER *v, uint32_t *out);
ASN1_INTEGER *cmc_body_part_new(uint32_t id);

/* Appends a TaggedAttribute with one value (value is copied). */
est_status cmc_add_control(STACK_OF(CMC_TAGGED_ATTRIBUTE) *controls, uint32_t body_part,
                           est_cmc_control control, const ASN1_TYPE *value, est_error *err);

/* A malloc'd copy of DER from an i2d call (len <= 0 = that call failed). */
est_status cmc_der_copy(const unsigned char *der, int len, uint8_t **out, size_t *out_len,
                        est_error *err);

/* A SignedData (RFC 5652 §5) with content of the given type, one
 * SignerInfo with signed attributes (contentType, signingTime,
 * messageDigest), and the certificates in certs (may be NULL) plus the
 * signer's. The signature comes from sign_data() over the DER of the
 * signed attributes, so the private key can live behind the signer seam.
 * key_id != 0 names the signer by subjectKeyIdentifier. */
typedef est_status (*cmc_cms_sign_fn)(void *arg, const uint8_t *data, size_t len, uint8_t **sig,
                                      size_t *sig_len, est_error *err);
est_status cmc_cms_sign(X509 *signer_cert, EVP_PKEY *signer_public_key, int key_id,
                        cmc_cms_sign_fn sign_data, void *arg, const ASN1_OBJECT *content_type, const uint8_t *content,
                        size_t content_len, STACK_OF(X509) *certs, CMS_ContentInfo **out,
                        est_error *err);
/* cmc_cms_sign with the CA's signer (signer seam) and certificate. */
est_status cmc_cms_sign_ca(est_ca *ca, const ASN1_OBJECT *content_type, const uint8_t *content,
                           size_t content_len, STACK_OF(X509) *certs, uint8_t **der,
                           size_t *der_len, est_error *err);
/* A certificate that only carries key (and key_id as its
 * subjectKeyIdentifier when non-NULL): the stand-in OpenSSL's CMS code
 * needs for a signer without a certificate, a PKCS#10 key signing its own
 * Full PKI Request (RFC 5272 §3.2.1.3.1). Self-signed with private_key
 * when given (needed to name the signer by key_id). Never sent. */
est_status cmc_key_holder(EVP_PKEY *key, const ASN1_OCTET_STRING *key_id,
                          EVP_PKEY *private_key, X509 **out, est_error *err);
/* The identifier a request's key is named by: the CSR's
 * subjectKeyIdentifier extension when present, else RFC 5280 §4.2.1.2
 * method 1 (SHA-1 of the subjectPublicKey bits). */
est_status cmc_csr_key_id(X509_REQ *csr, ASN1_OCTET_STRING **out, est_error *err);

/* Verifies a SignedData with one signer whose certificate is in certs (the
 * SignedData's own); with trust, the signer must chain to it (any
 * purpose). *signer borrowed from certs. */
est_status cmc_cms_verify_signed(CMS_ContentInfo *cms, STACK_OF(X509) *certs, X509_STORE *trust,
                                 X509 **signer, est_error *err);

/* The eContent of a SignedData (embedded, not detached), or NULL. */
const ASN1_OCTET_STRING *cmc_cms_get0_econtent(CMS_ContentInfo *cms);

#endif
