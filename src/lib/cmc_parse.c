/* Reading a Full PKI Request (RFC 5272 §3.2) on the server: the CMS
 * wrapper, the PKIData, the controls EST needs, and the signature.
 *
 * Two kinds of failure: input that is no Full PKI Request at all is an
 * error (the server answers 400 text/plain, draft-04 §4.3.1), while a
 * well-formed request the server cannot honour (an unknown control, CRMF,
 * a duplicate body part) parses with its fail reason set, so the
 * answer can be a CMC response that echoes transactionId and nonce. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "cmc_internal.h"

/* Body parts a PKIData may hold in all: every list is bounded. */
#define BODY_PARTS_MAX (EST_CMC_MAX_CONTROLS + EST_CMC_MAX_REQUESTS + 2 * EST_CMC_MAX_CONTROLS)

typedef struct body_parts {
    uint32_t ids[BODY_PARTS_MAX];
    size_t count;
} body_parts;

struct est_cmc_request {
    CMS_ContentInfo *cms;
    STACK_OF(X509) *certs;          /* the SignedData's certificates (owned) */
    ASN1_INTEGER *transaction_id;   /* NULL when absent */
    int has_sender_nonce;
    est_cmc_nonce sender_nonce;
    char identification[EST_CMC_TEXT_MAX + 1]; /* "" when absent */
    est_cmc_cert_request requests[EST_CMC_MAX_REQUESTS];
    size_t request_count;
    est_cmc_revoke revokes[EST_CMC_MAX_REVOKES];
    size_t revoke_count;
    /* The first reason the request must fail although it parsed (an
     * unknown control, CRMF, a duplicate body part, ...): the server still
     * answers with a CMC response echoing the ids above. */
    est_cmc_fail fail;              /* EST_CMC_FAIL_NONE when none */
    uint32_t fail_body_part;        /* 0 = the PKIData as a whole */
    char fail_reason[EST_CMC_TEXT_MAX + 1];
};

static void request_fail(est_cmc_request *req, est_cmc_fail fail, uint32_t body_part,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Keeps the first failure: it is the one the requester must fix first. */
static void request_fail(est_cmc_request *req, est_cmc_fail fail, uint32_t body_part,
                         const char *fmt, ...)
{
    va_list ap;

    if (req->fail != EST_CMC_FAIL_NONE)
        return;
    req->fail = fail;
    req->fail_body_part = body_part;
    va_start(ap, fmt);
    vsnprintf(req->fail_reason, sizeof req->fail_reason, fmt, ap);
    va_end(ap);
}

/* RFC 5272 §3.2.2: body part IDs are unique within a PKIData. */
static est_status body_part_note(est_cmc_request *req, body_parts *seen, const ASN1_INTEGER *v,
                                 uint32_t *out, est_error *err)
{
    uint32_t id;

    if (!cmc_body_part_get(v, &id))
        return est_error_set(err, EST_E_INPUT, "a bodyPartID is outside 0..4294967295");
    for (size_t i = 0; i < seen->count; i++)
        if (seen->ids[i] == id)
            request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "bodyPartID %u is used twice", id);
    if (seen->count < BODY_PARTS_MAX)
        seen->ids[seen->count++] = id;
    *out = id;
    return EST_OK;
}

static void read_transaction_id(est_cmc_request *req, uint32_t id, const ASN1_TYPE *v)
{
    if (req->transaction_id != NULL)
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "more than one transactionId");
    else if (ASN1_TYPE_get(v) != V_ASN1_INTEGER)
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "transactionId is not an INTEGER");
    else if ((req->transaction_id = ASN1_INTEGER_dup(v->value.integer)) == NULL)
        request_fail(req, EST_CMC_FAIL_INTERNAL_CA_ERROR, id, "out of memory");
}

static void read_sender_nonce(est_cmc_request *req, uint32_t id, const ASN1_TYPE *v)
{
    const ASN1_OCTET_STRING *s = v->value.octet_string;

    if (req->has_sender_nonce) {
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "more than one senderNonce");
        return;
    }
    if (ASN1_TYPE_get(v) != V_ASN1_OCTET_STRING || ASN1_STRING_length(s) < 1 ||
        ASN1_STRING_length(s) > EST_CMC_NONCE_MAX) {
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id,
                     "senderNonce must be an OCTET STRING of 1 to %d octets", EST_CMC_NONCE_MAX);
        return;
    }
    req->sender_nonce.len = (size_t)ASN1_STRING_length(s);
    memcpy(req->sender_nonce.data, ASN1_STRING_get0_data(s), req->sender_nonce.len);
    req->has_sender_nonce = 1;
}

static void read_identification(est_cmc_request *req, uint32_t id, const ASN1_TYPE *v)
{
    const ASN1_STRING *s = v->value.utf8string;
    int len = ASN1_TYPE_get(v) == V_ASN1_UTF8STRING ? ASN1_STRING_length(s) : -1;

    if (len < 1 || len > EST_CMC_TEXT_MAX ||
        memchr(ASN1_STRING_get0_data(s), '\0', (size_t)len) != NULL) {
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id,
                     "identification must be a UTF8String of 1 to %d bytes", EST_CMC_TEXT_MAX);
        return;
    }
    memcpy(req->identification, ASN1_STRING_get0_data(s), (size_t)len);
    req->identification[len] = '\0';
}

/* RFC 5272 §6.11. */
static est_status read_revoke(est_cmc_request *req, uint32_t id, const ASN1_TYPE *v,
                              est_error *err)
{
    CMC_REVOKE_REQUEST *rr = NULL;
    est_cmc_revoke *out;
    long reason;
    est_status rc = EST_OK;

    if (req->revoke_count == EST_CMC_MAX_REVOKES)
        return est_error_set(err, EST_E_TOO_LARGE, "more than %d revokeRequests",
                             EST_CMC_MAX_REVOKES);
    if (ASN1_TYPE_get(v) != V_ASN1_SEQUENCE ||
        (rr = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(CMC_REVOKE_REQUEST), v)) == NULL) {
        ERR_clear_error();
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "revokeRequest is malformed");
        return EST_OK;
    }
    reason = ASN1_ENUMERATED_get(rr->reason);
    if (reason < 0 || reason > 10 || reason == 7) {
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "revokeRequest reason %ld is not a "
                                                        "CRLReason", reason);
        goto out;
    }
    out = &req->revokes[req->revoke_count];
    if (est_serial_to_hex(rr->serial, out->serial_hex, NULL) != EST_OK) {
        request_fail(req, EST_CMC_FAIL_BAD_CERT_ID, id, "revokeRequest serial number is not "
                                                        "one this CA could have issued");
        goto out;
    }
    out->body_part_id = id;
    out->reason = (int)reason;
    out->issuer = rr->issuer;
    out->serial = rr->serial;
    rr->issuer = NULL;
    rr->serial = NULL;
    req->revoke_count++;
out:
    ASN1_item_free((ASN1_VALUE *)rr, ASN1_ITEM_rptr(CMC_REVOKE_REQUEST));
    return rc;
}

/* Controls have no criticality flag in CMC: one this server does not act
 * on fails the request (badRequest) instead of being silently dropped. */
static est_status read_control(est_cmc_request *req, body_parts *seen,
                               const CMC_TAGGED_ATTRIBUTE *attr, est_error *err)
{
    est_cmc_control control = cmc_control_of(attr->type);
    int nvalues = sk_ASN1_TYPE_num(attr->values);
    const ASN1_TYPE *v = nvalues > 0 ? sk_ASN1_TYPE_value(attr->values, 0) : NULL;
    char oid[80] = "";
    uint32_t id;
    est_status rc;

    if ((rc = body_part_note(req, seen, attr->body_part_id, &id, err)) != EST_OK)
        return rc;
    if (nvalues != 1 && control != EST_CMC_CONTROL_REVOKE_REQUEST) {
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "a control must carry exactly one value");
        return EST_OK;
    }
    switch (control) {
    case EST_CMC_CONTROL_TRANSACTION_ID:
        read_transaction_id(req, id, v);
        return EST_OK;
    case EST_CMC_CONTROL_SENDER_NONCE:
        read_sender_nonce(req, id, v);
        return EST_OK;
    case EST_CMC_CONTROL_IDENTIFICATION:
        read_identification(req, id, v);
        return EST_OK;
    case EST_CMC_CONTROL_REVOKE_REQUEST:
        for (int i = 0; rc == EST_OK && i < nvalues; i++)
            rc = read_revoke(req, id, sk_ASN1_TYPE_value(attr->values, i), err);
        return rc;
    case EST_CMC_CONTROL_IDENTITY_PROOF:
    case EST_CMC_CONTROL_IDENTITY_PROOF_V2:
    case EST_CMC_CONTROL_POP_LINK_RANDOM:
    case EST_CMC_CONTROL_POP_LINK_WITNESS:
    case EST_CMC_CONTROL_POP_LINK_WITNESS_V2:
        /* RFC 5272 §6.2-6.3: these prove identity with a shared secret this
         * server does not hold; EST links a request to the TLS channel
         * instead (challengePassword, draft-04 §3.5). */
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "shared-secret identity proof and POP "
                     "linking are not supported; put the TLS channel binding in "
                     "challengePassword");
        return EST_OK;
    case EST_CMC_CONTROL_STATUS_INFO:
    case EST_CMC_CONTROL_STATUS_INFO_V2:
    case EST_CMC_CONTROL_RECIPIENT_NONCE:
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "a response control in a request");
        return EST_OK;
    case EST_CMC_CONTROL_UNKNOWN:
        break;
    }
    OBJ_obj2txt(oid, sizeof oid, attr->type, 1);
    request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "unsupported control %s", oid);
    return EST_OK;
}

static est_status read_request(est_cmc_request *req, body_parts *seen,
                               CMC_TAGGED_REQUEST *tr, est_error *err)
{
    est_cmc_cert_request *out;
    uint32_t id = 0;
    est_status rc;

    switch (tr->type) {
    case EST_CMC_REQUEST_TCR:
        if ((rc = body_part_note(req, seen, tr->d.tcr->body_part_id, &id, err)) != EST_OK)
            return rc;
        out = &req->requests[req->request_count++];
        out->body_part_id = id;
        out->csr = tr->d.tcr->request; /* taken over from the PKIData */
        tr->d.tcr->request = NULL;
        return EST_OK;
    case EST_CMC_REQUEST_CRM:
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, 0, "CRMF certificate requests are not "
                                                       "supported: send PKCS#10");
        return EST_OK;
    default:
        if ((rc = body_part_note(req, seen, tr->d.orm->body_part_id, &id, err)) != EST_OK)
            return rc;
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "other request messages are not "
                                                        "supported: send PKCS#10");
        return EST_OK;
    }
}

static est_status read_pki_data(est_cmc_request *req, CMC_PKI_DATA *pki, est_error *err)
{
    body_parts seen = {.count = 0};
    int ncontrols = sk_CMC_TAGGED_ATTRIBUTE_num(pki->controls);
    int nrequests = sk_CMC_TAGGED_REQUEST_num(pki->requests);
    int ncontents = sk_CMC_TAGGED_CONTENT_num(pki->contents);
    int nothers = sk_CMC_OTHER_MSG_num(pki->others);
    uint32_t id;
    est_status rc = EST_OK;

    if (ncontrols > EST_CMC_MAX_CONTROLS || ncontents > EST_CMC_MAX_CONTROLS ||
        nothers > EST_CMC_MAX_CONTROLS)
        return est_error_set(err, EST_E_TOO_LARGE, "more than %d controls or other body parts",
                             EST_CMC_MAX_CONTROLS);
    if (nrequests > EST_CMC_MAX_REQUESTS)
        return est_error_set(err, EST_E_TOO_LARGE, "more than %d certification requests",
                             EST_CMC_MAX_REQUESTS);
    for (int i = 0; rc == EST_OK && i < ncontrols; i++)
        rc = read_control(req, &seen, sk_CMC_TAGGED_ATTRIBUTE_value(pki->controls, i), err);
    for (int i = 0; rc == EST_OK && i < nrequests; i++)
        rc = read_request(req, &seen, sk_CMC_TAGGED_REQUEST_value(pki->requests, i), err);
    /* RFC 5272 §3.2.1.4-3.2.1.5: nested CMS and other messages (RA
     * batching, ...) are not something an EST CA acts on. */
    for (int i = 0; rc == EST_OK && i < ncontents; i++)
        if ((rc = body_part_note(req, &seen, sk_CMC_TAGGED_CONTENT_value(pki->contents, i)
                                                 ->body_part_id, &id, err)) == EST_OK)
            request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "nested CMS content is not "
                                                            "supported");
    for (int i = 0; rc == EST_OK && i < nothers; i++)
        if ((rc = body_part_note(req, &seen,
                                 sk_CMC_OTHER_MSG_value(pki->others, i)->body_part_id, &id,
                                 err)) == EST_OK)
            request_fail(req, EST_CMC_FAIL_BAD_REQUEST, id, "other messages are not supported");
    if (rc == EST_OK && req->request_count == 0 && req->revoke_count == 0)
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, 0, "neither a certification request nor a "
                                                       "revokeRequest");
    return rc;
}

static est_status parse_content(est_cmc_request *req, est_error *err)
{
    const ASN1_OCTET_STRING *content = cmc_cms_get0_econtent(req->cms);
    const ASN1_OBJECT *type = CMS_get0_eContentType(req->cms);
    const unsigned char *p, *end;
    CMC_PKI_DATA *pki;
    char oid[80] = "";
    est_status rc;

    if (content == NULL)
        return est_error_set(err, EST_E_INPUT, "the SignedData carries no content (detached)");
    if (OBJ_obj2nid(type) != NID_id_cct_PKIData) {
        OBJ_obj2txt(oid, sizeof oid, type, 1);
        request_fail(req, EST_CMC_FAIL_BAD_REQUEST, 0, "content type %s is not id-cct-PKIData "
                                                       "(1.3.6.1.5.5.7.12.2)", oid);
        return EST_OK;
    }
    p = ASN1_STRING_get0_data(content);
    end = p + ASN1_STRING_length(content);
    pki = (CMC_PKI_DATA *)ASN1_item_d2i(NULL, &p, end - p, ASN1_ITEM_rptr(CMC_PKI_DATA));
    if (pki == NULL || p != end) {
        ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_DATA));
        return est_error_set_openssl(err, EST_E_INPUT, "PKIData does not decode");
    }
    rc = read_pki_data(req, pki, err);
    ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_DATA));
    return rc;
}

est_status est_cmc_request_parse(const uint8_t *der, size_t der_len, est_cmc_request **out,
                                 est_error *err)
{
    const unsigned char *p = der;
    est_cmc_request *req;
    est_status rc;

    if (der == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CMC request parse: NULL argument");
    if (der_len > EST_CMC_MAX_DER)
        return est_error_set(err, EST_E_TOO_LARGE, "Full PKI Request larger than %d bytes",
                             EST_CMC_MAX_DER);
    if ((req = calloc(1, sizeof *req)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    req->fail = EST_CMC_FAIL_NONE;
    req->cms = d2i_CMS_ContentInfo(NULL, &p, (long)der_len);
    if (req->cms == NULL || p != der + der_len) {
        rc = est_error_set_openssl(err, EST_E_INPUT, req->cms == NULL
                                                         ? "not a CMS ContentInfo"
                                                         : "trailing bytes after the ContentInfo");
        goto out;
    }
    if (OBJ_obj2nid(CMS_get0_type(req->cms)) != NID_pkcs7_signed) {
        rc = est_error_set(err, EST_E_INPUT, "a Full PKI Request is a CMS SignedData");
        goto out;
    }
    req->certs = CMS_get1_certs(req->cms);
    if (sk_X509_num(req->certs) > EST_CMC_MAX_CERTS) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "more than %d certificates", EST_CMC_MAX_CERTS);
        goto out;
    }
    rc = parse_content(req, err);
out:
    if (rc != EST_OK) {
        est_cmc_request_free(req);
        return rc;
    }
    *out = req;
    return EST_OK;
}

const ASN1_INTEGER *est_cmc_request_get0_transaction_id(const est_cmc_request *req)
{
    return req->transaction_id;
}

const est_cmc_nonce *est_cmc_request_get0_sender_nonce(const est_cmc_request *req)
{
    return req->has_sender_nonce ? &req->sender_nonce : NULL;
}

const char *est_cmc_request_get0_identification(const est_cmc_request *req)
{
    return req->identification;
}

size_t est_cmc_request_cert_request_count(const est_cmc_request *req)
{
    return req->request_count;
}

const est_cmc_cert_request *est_cmc_request_get0_cert_request(const est_cmc_request *req,
                                                              size_t i)
{
    return i < req->request_count ? &req->requests[i] : NULL;
}

size_t est_cmc_request_revoke_count(const est_cmc_request *req)
{
    return req->revoke_count;
}

const est_cmc_revoke *est_cmc_request_get0_revoke(const est_cmc_request *req, size_t i)
{
    return i < req->revoke_count ? &req->revokes[i] : NULL;
}

STACK_OF(X509) *est_cmc_request_get0_certs(const est_cmc_request *req)
{
    return req->certs;
}

est_cmc_fail est_cmc_request_fail(const est_cmc_request *req)
{
    return req->fail;
}

uint32_t est_cmc_request_fail_body_part(const est_cmc_request *req)
{
    return req->fail_body_part;
}

const char *est_cmc_request_get0_fail_reason(const est_cmc_request *req)
{
    return req->fail_reason;
}

void est_cmc_request_free(est_cmc_request *req)
{
    if (req == NULL)
        return;
    CMS_ContentInfo_free(req->cms);
    sk_X509_pop_free(req->certs, X509_free);
    ASN1_INTEGER_free(req->transaction_id);
    for (size_t i = 0; i < req->request_count; i++)
        X509_REQ_free(req->requests[i].csr);
    for (size_t i = 0; i < req->revoke_count; i++) {
        X509_NAME_free(req->revokes[i].issuer);
        ASN1_INTEGER_free(req->revokes[i].serial);
    }
    free(req);
}

/* The signer among the SignedData certificates, else the PKCS#10 key
 * whose identifier the SignerInfo names. *holder gets a stand-in
 * certificate for the latter (owned by the caller). */
static est_status find_signer(est_cmc_request *req, CMS_SignerInfo *si, X509 **cert,
                              X509 **holder, int *request_index, est_error *err)
{
    ASN1_OCTET_STRING *signer_key_id = NULL, *key_id = NULL;
    est_status rc = EST_OK;

    for (int i = 0; i < sk_X509_num(req->certs); i++) {
        if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(req->certs, i)) == 0) {
            *cert = sk_X509_value(req->certs, i);
            return EST_OK;
        }
    }
    ERR_clear_error();
    if (CMS_SignerInfo_get0_signer_id(si, &signer_key_id, NULL, NULL) != 1 ||
        signer_key_id == NULL)
        return est_error_set(err, EST_E_AUTH, "the signer certificate is not included");
    for (size_t i = 0; rc == EST_OK && i < req->request_count; i++) {
        if ((rc = cmc_csr_key_id(req->requests[i].csr, &key_id, err)) != EST_OK)
            break;
        if (ASN1_OCTET_STRING_cmp(key_id, signer_key_id) == 0) {
            rc = cmc_key_holder(X509_REQ_get0_pubkey(req->requests[i].csr), NULL, NULL,
                                holder, err);
            *request_index = (int)i;
            ASN1_OCTET_STRING_free(key_id);
            return rc;
        }
        ASN1_OCTET_STRING_free(key_id);
        key_id = NULL;
    }
    if (rc != EST_OK)
        return rc;
    return est_error_set(err, EST_E_AUTH, "the signer is neither an included certificate nor "
                                          "the key of a certification request");
}

est_status est_cmc_request_verify(est_cmc_request *req, X509 **signer_cert, int *signer_request,
                                  est_error *err)
{
    STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(req->cms);
    X509 *cert = NULL, *holder = NULL;
    int index = -1;
    est_status rc = EST_E_AUTH;

    if (sk_CMS_SignerInfo_num(infos) != 1) {
        est_error_set(err, rc, "a Full PKI Request needs exactly one signer, not %d",
                      sk_CMS_SignerInfo_num(infos));
        goto out;
    }
    if ((rc = find_signer(req, sk_CMS_SignerInfo_value(infos, 0), &cert, &holder, &index,
                          err)) != EST_OK)
        goto out;
    /* The signer's chain and authority are the caller's policy; here only
     * the signature over the signed attributes and the content digest. */
    CMS_SignerInfo_set1_signer_cert(sk_CMS_SignerInfo_value(infos, 0),
                                    cert != NULL ? cert : holder);
    if (CMS_verify(req->cms, NULL, NULL, NULL, NULL,
                   CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY) != 1) {
        rc = est_error_set_openssl(err, EST_E_AUTH, "the Full PKI Request signature does not "
                                                    "verify");
        goto out;
    }
    *signer_cert = cert;
    *signer_request = index;
    rc = EST_OK;
out:
    X509_free(holder);
    return rc;
}
