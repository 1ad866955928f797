/* Full PKI Responses (RFC 5272 §3.2.3): building one, signed by the CA
 * (the server side of /fullcmc), and parsing + verifying one (the client). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include "cmc_internal.h"

/* --- building --- */

static CMC_BODY_PART_REFERENCE *body_part_reference(uint32_t id)
{
    CMC_BODY_PART_REFERENCE *ref = (CMC_BODY_PART_REFERENCE *)ASN1_item_new(
        ASN1_ITEM_rptr(CMC_BODY_PART_REFERENCE));

    if (ref == NULL)
        return NULL;
    ref->type = 0; /* bodyPartID */
    if ((ref->d.id = cmc_body_part_new(id)) == NULL) {
        ASN1_item_free((ASN1_VALUE *)ref, ASN1_ITEM_rptr(CMC_BODY_PART_REFERENCE));
        return NULL;
    }
    return ref;
}

/* One CMCStatusInfoV2 (RFC 5272 §6.1.1) as an attribute value. */
static est_status status_value(const est_cmc_status_entry *entry, ASN1_TYPE **out, est_error *err)
{
    CMC_STATUS_INFO_V2 *info =
        (CMC_STATUS_INFO_V2 *)ASN1_item_new(ASN1_ITEM_rptr(CMC_STATUS_INFO_V2));
    ASN1_INTEGER *fail = NULL;
    size_t count = entry->body_part_count;
    int ok = info != NULL && ASN1_INTEGER_set(info->status, entry->status);

    if (count > sizeof entry->body_parts / sizeof entry->body_parts[0]) {
        ASN1_item_free((ASN1_VALUE *)info, ASN1_ITEM_rptr(CMC_STATUS_INFO_V2));
        return est_error_set(err, EST_E_INTERNAL, "too many body parts in a status");
    }
    /* bodyList is SIZE (1..MAX): 0 refers to the PKIData as a whole. */
    for (size_t i = 0; ok && i < (count ? count : 1); i++) {
        CMC_BODY_PART_REFERENCE *ref = body_part_reference(count ? entry->body_parts[i] : 0);
        ok = ref != NULL && sk_CMC_BODY_PART_REFERENCE_push(info->body_list, ref);
        if (!ok)
            ASN1_item_free((ASN1_VALUE *)ref, ASN1_ITEM_rptr(CMC_BODY_PART_REFERENCE));
    }
    if (ok && entry->text != NULL) {
        size_t len = strnlen(entry->text, EST_CMC_TEXT_MAX);
        ok = (info->status_string = ASN1_UTF8STRING_new()) != NULL &&
             ASN1_STRING_set(info->status_string, entry->text, (int)len);
    }
    if (ok && entry->status == EST_CMC_FAILED && entry->fail != EST_CMC_FAIL_NONE) {
        ok = (fail = ASN1_INTEGER_new()) != NULL && ASN1_INTEGER_set(fail, entry->fail) &&
             (info->other_info = ASN1_TYPE_new()) != NULL;
        if (ok) {
            ASN1_TYPE_set(info->other_info, V_ASN1_INTEGER, fail);
            fail = NULL;
        }
    }
    *out = NULL;
    if (ok)
        ok = ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(CMC_STATUS_INFO_V2), info, out) != NULL;
    ASN1_INTEGER_free(fail);
    ASN1_item_free((ASN1_VALUE *)info, ASN1_ITEM_rptr(CMC_STATUS_INFO_V2));
    return ok ? EST_OK : est_error_set(err, EST_E_NOMEM, "out of memory");
}

static est_status add_string_control(CMC_PKI_RESPONSE *resp, uint32_t id,
                                     est_cmc_control control, int type, const uint8_t *data,
                                     size_t len, est_error *err)
{
    ASN1_STRING *s = ASN1_STRING_type_new(type);
    ASN1_TYPE *t = ASN1_TYPE_new();
    est_status rc = EST_E_NOMEM;

    if (s == NULL || t == NULL || !ASN1_STRING_set(s, data, (int)len)) {
        est_error_set(err, rc, "out of memory");
        ASN1_STRING_free(s);
    } else {
        ASN1_TYPE_set(t, type, s);
        rc = cmc_add_control(resp->controls, id, control, t, err);
    }
    ASN1_TYPE_free(t);
    return rc;
}

/* statusInfoV2 entries, transactionId, recipientNonce, senderNonce. */
static est_status response_controls(CMC_PKI_RESPONSE *resp, const est_cmc_response_spec *spec,
                                    est_error *err)
{
    uint8_t nonce[EST_CMC_NONCE_LEN];
    uint32_t id = 1;
    est_status rc = EST_OK;

    for (size_t i = 0; rc == EST_OK && i < spec->status_count; i++) {
        ASN1_TYPE *t = NULL;
        if ((rc = status_value(&spec->statuses[i], &t, err)) == EST_OK)
            rc = cmc_add_control(resp->controls, id++, EST_CMC_CONTROL_STATUS_INFO_V2, t, err);
        ASN1_TYPE_free(t);
    }
    /* RFC 5272 §6.6: transactionId is echoed; the request's senderNonce
     * comes back as recipientNonce, with a fresh senderNonce of ours. */
    if (rc == EST_OK && spec->transaction_id != NULL) {
        ASN1_TYPE *t = ASN1_TYPE_new();
        ASN1_INTEGER *tid = ASN1_INTEGER_dup(spec->transaction_id);
        if (t == NULL || tid == NULL) {
            ASN1_INTEGER_free(tid);
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        } else {
            ASN1_TYPE_set(t, V_ASN1_INTEGER, tid);
            rc = cmc_add_control(resp->controls, id++, EST_CMC_CONTROL_TRANSACTION_ID, t, err);
        }
        ASN1_TYPE_free(t);
    }
    if (rc == EST_OK && spec->recipient_nonce != NULL && spec->recipient_nonce->len > 0)
        rc = add_string_control(resp, id++, EST_CMC_CONTROL_RECIPIENT_NONCE, V_ASN1_OCTET_STRING,
                                spec->recipient_nonce->data,
                                spec->recipient_nonce->len <= EST_CMC_NONCE_MAX
                                    ? spec->recipient_nonce->len : EST_CMC_NONCE_MAX, err);
    if (rc == EST_OK && RAND_bytes(nonce, sizeof nonce) != 1)
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "random nonce");
    if (rc == EST_OK)
        rc = add_string_control(resp, id, EST_CMC_CONTROL_SENDER_NONCE, V_ASN1_OCTET_STRING, nonce,
                                sizeof nonce, err);
    return rc;
}

est_status est_cmc_response_build(est_ca *ca, const est_cmc_response_spec *spec, uint8_t **der,
                                  size_t *der_len, est_error *err)
{
    CMC_PKI_RESPONSE *resp = NULL;
    unsigned char *content = NULL;
    int content_len;
    est_status rc;

    if (ca == NULL || spec == NULL || der == NULL || der_len == NULL || spec->statuses == NULL ||
        spec->status_count == 0 || spec->status_count > EST_CMC_MAX_STATUSES)
        return est_error_set(err, EST_E_INTERNAL, "CMC response: 1 to %d statuses needed",
                             EST_CMC_MAX_STATUSES);
    resp = (CMC_PKI_RESPONSE *)ASN1_item_new(ASN1_ITEM_rptr(CMC_PKI_RESPONSE));
    if (resp == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if ((rc = response_controls(resp, spec, err)) != EST_OK)
        goto out;
    content_len = ASN1_item_i2d((ASN1_VALUE *)resp, &content, ASN1_ITEM_rptr(CMC_PKI_RESPONSE));
    if (content_len <= 0) {
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "encoding PKIResponse");
        goto out;
    }
    /* RFC 5272 §3.2.3: issued certificates travel in the SignedData's
     * certificates field. */
    rc = cmc_cms_sign_ca(ca, OBJ_nid2obj(NID_id_cct_PKIResponse), content, (size_t)content_len,
                         spec->certs, der, der_len, err);
out:
    OPENSSL_free(content);
    ASN1_item_free((ASN1_VALUE *)resp, ASN1_ITEM_rptr(CMC_PKI_RESPONSE));
    return rc;
}

/* --- parsing --- */

static int copy_nonce(const ASN1_TYPE *v, est_cmc_nonce *out)
{
    int len = ASN1_TYPE_get(v) == V_ASN1_OCTET_STRING ? ASN1_STRING_length(v->value.octet_string)
                                                      : -1;

    if (len < 1 || len > EST_CMC_NONCE_MAX)
        return 0;
    memcpy(out->data, ASN1_STRING_get0_data(v->value.octet_string), (size_t)len);
    out->len = (size_t)len;
    return 1;
}

/* CMCStatusInfo (v1) reads with the V2 template: its bodyList of plain
 * INTEGERs is V2's first CHOICE alternative. */
static est_status read_status(est_cmc_response *resp, const ASN1_TYPE *v, est_error *err)
{
    CMC_STATUS_INFO_V2 *info = NULL;
    long status;

    if (ASN1_TYPE_get(v) != V_ASN1_SEQUENCE ||
        (info = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(CMC_STATUS_INFO_V2), v)) == NULL)
        return est_error_set_openssl(err, EST_E_PROTOCOL, "malformed CMCStatusInfoV2");
    status = ASN1_INTEGER_get(info->status);
    /* The first status that is not success is the one that matters. */
    if (resp->status == EST_CMC_SUCCESS && status != EST_CMC_SUCCESS) {
        resp->status = (est_cmc_status)status;
        if (info->status_string != NULL)
            snprintf(resp->status_string, sizeof resp->status_string, "%.*s",
                     ASN1_STRING_length(info->status_string),
                     (const char *)ASN1_STRING_get0_data(info->status_string));
        if (info->other_info != NULL && ASN1_TYPE_get(info->other_info) == V_ASN1_INTEGER)
            resp->fail_info = (est_cmc_fail)ASN1_INTEGER_get(info->other_info->value.integer);
    } else if (resp->status_string[0] == '\0' && info->status_string != NULL) {
        snprintf(resp->status_string, sizeof resp->status_string, "%.*s",
                 ASN1_STRING_length(info->status_string),
                 (const char *)ASN1_STRING_get0_data(info->status_string));
    }
    ASN1_item_free((ASN1_VALUE *)info, ASN1_ITEM_rptr(CMC_STATUS_INFO_V2));
    return EST_OK;
}

static est_status read_response_control(est_cmc_response *resp,
                                        const CMC_TAGGED_ATTRIBUTE *attr, int *statuses,
                                        est_error *err)
{
    const ASN1_TYPE *v = sk_ASN1_TYPE_value(attr->values, 0);

    if (sk_ASN1_TYPE_num(attr->values) != 1)
        return est_error_set(err, EST_E_PROTOCOL, "a response control without exactly one value");
    switch (cmc_control_of(attr->type)) {
    case EST_CMC_CONTROL_STATUS_INFO:
    case EST_CMC_CONTROL_STATUS_INFO_V2:
        ++*statuses;
        return read_status(resp, v, err);
    case EST_CMC_CONTROL_TRANSACTION_ID:
        if (ASN1_TYPE_get(v) != V_ASN1_INTEGER ||
            ASN1_INTEGER_get_int64(&resp->transaction_id, v->value.integer) != 1)
            return est_error_set(err, EST_E_PROTOCOL, "transactionId is not a 64-bit INTEGER");
        resp->has_transaction_id = 1;
        return EST_OK;
    case EST_CMC_CONTROL_RECIPIENT_NONCE:
        return copy_nonce(v, &resp->recipient_nonce)
                   ? EST_OK
                   : est_error_set(err, EST_E_PROTOCOL, "malformed recipientNonce");
    case EST_CMC_CONTROL_SENDER_NONCE:
        return copy_nonce(v, &resp->sender_nonce)
                   ? EST_OK
                   : est_error_set(err, EST_E_PROTOCOL, "malformed senderNonce");
    default:
        return EST_OK; /* informational for a client */
    }
}

static est_status read_pki_response(est_cmc_response *resp, CMS_ContentInfo *cms, est_error *err)
{
    const ASN1_OCTET_STRING *content = cmc_cms_get0_econtent(cms);
    const unsigned char *p, *end;
    CMC_PKI_RESPONSE *pki;
    int n, statuses = 0;
    est_status rc = EST_OK;

    if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_id_cct_PKIResponse || content == NULL)
        return est_error_set(err, EST_E_PROTOCOL, "not a Full PKI Response (content type is not "
                                                  "id-cct-PKIResponse)");
    p = ASN1_STRING_get0_data(content);
    end = p + ASN1_STRING_length(content);
    pki = (CMC_PKI_RESPONSE *)ASN1_item_d2i(NULL, &p, end - p,
                                                ASN1_ITEM_rptr(CMC_PKI_RESPONSE));
    if (pki == NULL || p != end) {
        ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_RESPONSE));
        return est_error_set_openssl(err, EST_E_PROTOCOL, "PKIResponse does not decode");
    }
    n = sk_CMC_TAGGED_ATTRIBUTE_num(pki->controls);
    if (n > EST_CMC_MAX_CONTROLS)
        rc = est_error_set(err, EST_E_TOO_LARGE, "more than %d controls", EST_CMC_MAX_CONTROLS);
    for (int i = 0; rc == EST_OK && i < n; i++)
        rc = read_response_control(resp, sk_CMC_TAGGED_ATTRIBUTE_value(pki->controls, i),
                                   &statuses, err);
    if (rc == EST_OK && statuses == 0)
        rc = est_error_set(err, EST_E_PROTOCOL, "the Full PKI Response carries no status");
    ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_RESPONSE));
    return rc;
}

static est_status verify_response(est_cmc_response *resp, CMS_ContentInfo *cms, X509_STORE *trust,
                                  est_error *err)
{
    X509 *signer = NULL;
    est_status rc = cmc_cms_verify_signed(cms, resp->certs, trust, &signer, err);

    if (rc != EST_OK) {
        est_error_prefix(err, rc, "Full PKI Response");
        return rc;
    }
    resp->signer = signer;
    return EST_OK;
}

est_status est_cmc_response_parse(const uint8_t *der, size_t der_len, X509_STORE *trust,
                                  est_cmc_response **out, est_error *err)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = NULL;
    est_cmc_response *resp = NULL;
    est_status rc = EST_E_PROTOCOL;

    if (der == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CMC response parse: NULL argument");
    if (der_len > EST_CMC_MAX_DER)
        return est_error_set(err, EST_E_TOO_LARGE, "Full PKI Response larger than %d bytes",
                             EST_CMC_MAX_DER);
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)der_len);
    if (cms == NULL || p != der + der_len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
        rc = est_error_set_openssl(err, EST_E_PROTOCOL, "the response is not a CMS SignedData");
        goto out;
    }
    if ((resp = calloc(1, sizeof *resp)) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    resp->fail_info = EST_CMC_FAIL_NONE;
    resp->certs = CMS_get1_certs(cms);
    if (resp->certs == NULL && (resp->certs = sk_X509_new_null()) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    if (sk_X509_num(resp->certs) > EST_CMC_MAX_CERTS) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "more than %d certificates", EST_CMC_MAX_CERTS);
        goto out;
    }
    if ((rc = read_pki_response(resp, cms, err)) != EST_OK ||
        (rc = verify_response(resp, cms, trust, err)) != EST_OK)
        goto out;
    *out = resp;
    resp = NULL;
out:
    ERR_clear_error();
    est_cmc_response_free(resp);
    CMS_ContentInfo_free(cms);
    return rc;
}

void est_cmc_response_free(est_cmc_response *resp)
{
    if (resp == NULL)
        return;
    sk_X509_pop_free(resp->certs, X509_free);
    free(resp);
}

est_status est_cmc_response_check_ids(const est_cmc_response *resp, const est_cmc_ids *ids,
                                      est_error *err)
{
    if (!resp->has_transaction_id || resp->transaction_id != ids->transaction_id)
        return est_error_set(err, EST_E_PROTOCOL, "the response does not echo our transactionId");
    if (resp->recipient_nonce.len != ids->sender_nonce.len ||
        CRYPTO_memcmp(resp->recipient_nonce.data, ids->sender_nonce.data,
                      ids->sender_nonce.len) != 0)
        return est_error_set(err, EST_E_PROTOCOL, "the response does not echo our senderNonce");
    return EST_OK;
}

X509 *est_cmc_response_get0_cert_for_key(const est_cmc_response *resp, const EVP_PKEY *key)
{
    for (int i = 0; resp != NULL && key != NULL && i < sk_X509_num(resp->certs); i++)
        if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(resp->certs, i)), key) == 1)
            return sk_X509_value(resp->certs, i);
    return NULL;
}
