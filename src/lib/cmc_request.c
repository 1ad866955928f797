/* Full PKI Requests (RFC 5272 §3.2): building one (the client side of
 * EST's /fullcmc) and parsing + verifying one (the server side). */
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "ca_internal.h"
#include "cmc_internal.h"

/* Body part IDs of what est_cmc_request_build writes. */
enum {
    BODY_PART_REQUEST = 1,
    BODY_PART_TRANSACTION_ID,
    BODY_PART_SENDER_NONCE,
    BODY_PART_IDENTIFICATION,
    BODY_PART_REVOKE,
};

/* CRLReason (RFC 5280 §5.3.1): 0..10, 7 unused. */
static int crl_reason_valid(long reason)
{
    return reason >= 0 && reason <= 10 && reason != 7;
}

/* --- building --- */

static est_status fresh_ids(est_cmc_ids *ids, est_error *err)
{
    uint8_t raw[8];
    uint64_t v = 0;

    if (RAND_bytes(raw, sizeof raw) != 1 ||
        RAND_bytes(ids->sender_nonce.data, EST_CMC_NONCE_LEN) != 1)
        return est_error_set_openssl(err, EST_E_INTERNAL, "random transaction ID");
    for (size_t i = 0; i < sizeof raw; i++)
        v = v << 8 | raw[i];
    /* Positive and never 0, so it reads well in logs. */
    ids->transaction_id = (int64_t)(v >> 1) | 1;
    ids->sender_nonce.len = EST_CMC_NONCE_LEN;
    return EST_OK;
}

static est_status add_typed_control(CMC_PKI_DATA *pki, uint32_t body_part,
                                    est_cmc_control control, int type, void *value,
                                    est_error *err)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    est_status rc;

    if (t == NULL || !ASN1_TYPE_set1(t, type, value)) {
        ASN1_TYPE_free(t);
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    rc = cmc_add_control(pki->controls, body_part, control, t, err);
    ASN1_TYPE_free(t);
    return rc;
}

static est_status add_id_controls(CMC_PKI_DATA *pki, const est_cmc_ids *ids,
                                  const char *identification, est_error *err)
{
    ASN1_INTEGER *tid = ASN1_INTEGER_new();
    ASN1_OCTET_STRING *nonce = ASN1_OCTET_STRING_new();
    ASN1_UTF8STRING *text = NULL;
    est_status rc = EST_E_NOMEM;

    if (tid == NULL || nonce == NULL || !ASN1_INTEGER_set_int64(tid, ids->transaction_id) ||
        !ASN1_OCTET_STRING_set(nonce, ids->sender_nonce.data, (int)ids->sender_nonce.len)) {
        est_error_set(err, rc, "out of memory");
        goto out;
    }
    if ((rc = add_typed_control(pki, BODY_PART_TRANSACTION_ID, EST_CMC_CONTROL_TRANSACTION_ID,
                                V_ASN1_INTEGER, tid, err)) != EST_OK ||
        (rc = add_typed_control(pki, BODY_PART_SENDER_NONCE, EST_CMC_CONTROL_SENDER_NONCE,
                                V_ASN1_OCTET_STRING, nonce, err)) != EST_OK)
        goto out;
    if (identification != NULL) {
        size_t len = strlen(identification);
        if (len == 0 || len > EST_CMC_TEXT_MAX) {
            rc = est_error_set(err, EST_E_INPUT, "identification must be 1 to %d bytes",
                               EST_CMC_TEXT_MAX);
            goto out;
        }
        if ((text = ASN1_UTF8STRING_new()) == NULL ||
            !ASN1_STRING_set(text, identification, (int)len)) {
            rc = est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
        rc = add_typed_control(pki, BODY_PART_IDENTIFICATION, EST_CMC_CONTROL_IDENTIFICATION,
                               V_ASN1_UTF8STRING, text, err);
    }
out:
    ASN1_INTEGER_free(tid);
    ASN1_OCTET_STRING_free(nonce);
    ASN1_UTF8STRING_free(text);
    return rc;
}

static est_status add_cert_request(CMC_PKI_DATA *pki, X509_REQ *csr, est_error *err)
{
    CMC_TAGGED_REQUEST *tr =
        (CMC_TAGGED_REQUEST *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TAGGED_REQUEST));
    CMC_TCR *tcr = (CMC_TCR *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TCR));

    if (tr == NULL || tcr == NULL)
        goto nomem;
    X509_REQ_free(tcr->request);
    ASN1_INTEGER_free(tcr->body_part_id);
    tcr->body_part_id = cmc_body_part_new(BODY_PART_REQUEST);
    tcr->request = X509_REQ_dup(csr);
    if (tcr->body_part_id == NULL || tcr->request == NULL)
        goto nomem;
    tr->type = EST_CMC_REQUEST_TCR;
    tr->d.tcr = tcr;
    tcr = NULL;
    if (!sk_CMC_TAGGED_REQUEST_push(pki->requests, tr))
        goto nomem;
    return EST_OK;
nomem:
    ASN1_item_free((ASN1_VALUE *)tcr, ASN1_ITEM_rptr(CMC_TCR));
    ASN1_item_free((ASN1_VALUE *)tr, ASN1_ITEM_rptr(CMC_TAGGED_REQUEST));
    return est_error_set_openssl(err, EST_E_NOMEM, "tagged certification request");
}

/* RFC 5272 §6.11: issuerName + serialNumber name the certificate. */
static est_status add_revoke_request(CMC_PKI_DATA *pki, X509 *cert, int reason,
                                     est_error *err)
{
    CMC_REVOKE_REQUEST *rr =
        (CMC_REVOKE_REQUEST *)ASN1_item_new(ASN1_ITEM_rptr(CMC_REVOKE_REQUEST));
    ASN1_TYPE *t = NULL;
    est_status rc = EST_E_NOMEM;

    if (!crl_reason_valid(reason)) {
        rc = est_error_set(err, EST_E_INPUT, "CRL reason %d is not a CRLReason", reason);
        goto out;
    }
    if (rr == NULL || !X509_NAME_set(&rr->issuer, X509_get_issuer_name(cert)) ||
        !ASN1_ENUMERATED_set(rr->reason, reason)) {
        est_error_set(err, rc, "out of memory");
        goto out;
    }
    ASN1_INTEGER_free(rr->serial);
    if ((rr->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert))) == NULL ||
        ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(CMC_REVOKE_REQUEST), rr, &t) == NULL) {
        est_error_set(err, rc, "out of memory");
        goto out;
    }
    rc = cmc_add_control(pki->controls, BODY_PART_REVOKE, EST_CMC_CONTROL_REVOKE_REQUEST, t,
                         err);
out:
    ASN1_TYPE_free(t);
    ASN1_item_free((ASN1_VALUE *)rr, ASN1_ITEM_rptr(CMC_REVOKE_REQUEST));
    return rc;
}

static est_status key_sign_data(void *arg, const uint8_t *data, size_t len, uint8_t **sig,
                                size_t *sig_len, est_error *err)
{
    return est_signer_sign_data(arg, data, len, sig, sig_len, err);
}

/* Signs the PKIData DER: with signer_cert when given (issuer and serial
 * name it, and it travels in the SignedData), else with the CSR's key
 * named by its key identifier (RFC 5272 §3.2.1.3.1). */
static est_status sign_pki_data(const est_cmc_request_spec *spec, const uint8_t *content,
                                size_t content_len, uint8_t **der, size_t *der_len,
                                est_error *err)
{
    est_signer *signer = est_signer_new_key(spec->signer_key);
    ASN1_OBJECT *type = OBJ_nid2obj(NID_id_cct_PKIData);
    ASN1_OCTET_STRING *key_id = NULL;
    X509 *holder = NULL, *cert = spec->signer_cert;
    CMS_ContentInfo *cms = NULL;
    unsigned char *buf = NULL;
    int len;
    est_status rc = EST_E_NOMEM;

    if (signer == NULL) {
        est_error_set(err, rc, "out of memory");
        goto out;
    }
    if (cert == NULL) {
        if (EVP_PKEY_eq(X509_REQ_get0_pubkey(spec->csr), spec->signer_key) != 1) {
            rc = est_error_set(err, EST_E_INPUT, "without a signer certificate the CSR's own "
                                                 "key must sign the request");
            goto out;
        }
        if ((rc = cmc_csr_key_id(spec->csr, &key_id, err)) != EST_OK ||
            (rc = cmc_key_holder(spec->signer_key, key_id, spec->signer_key, &holder,
                                 err)) != EST_OK)
            goto out;
        cert = holder;
    } else if (X509_check_private_key(cert, spec->signer_key) != 1) {
        rc = est_error_set_openssl(err, EST_E_INPUT, "the signer key does not match the signer "
                                                     "certificate");
        goto out;
    }
    if ((rc = cmc_cms_sign(cert, spec->signer_key, holder != NULL, key_sign_data, signer, type,
                           content, content_len, NULL, &cms, err)) != EST_OK)
        goto out;
    len = i2d_CMS_ContentInfo(cms, &buf);
    rc = cmc_der_copy(buf, len, der, der_len, err);
out:
    OPENSSL_free(buf);
    CMS_ContentInfo_free(cms);
    X509_free(holder);
    ASN1_OCTET_STRING_free(key_id);
    est_signer_free(signer);
    return rc;
}

est_status est_cmc_request_build(const est_cmc_request_spec *spec, est_cmc_ids *ids,
                                 uint8_t **der, size_t *der_len, est_error *err)
{
    CMC_PKI_DATA *pki = NULL;
    unsigned char *content = NULL;
    int content_len;
    est_status rc;

    if (spec == NULL || ids == NULL || der == NULL || der_len == NULL ||
        spec->signer_key == NULL || (spec->csr == NULL) == (spec->revoke_cert == NULL) ||
        (spec->csr == NULL && spec->signer_cert == NULL))
        return est_error_set(err, EST_E_INTERNAL, "CMC request: needs a signer key and either a "
                                                  "CSR or a certificate to revoke (and then a "
                                                  "signer certificate)");
    pki = (CMC_PKI_DATA *)ASN1_item_new(ASN1_ITEM_rptr(CMC_PKI_DATA));
    if (pki == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if ((rc = fresh_ids(ids, err)) != EST_OK ||
        (rc = add_id_controls(pki, ids, spec->identification, err)) != EST_OK ||
        (spec->csr != NULL && (rc = add_cert_request(pki, spec->csr, err)) != EST_OK) ||
        (spec->revoke_cert != NULL &&
         (rc = add_revoke_request(pki, spec->revoke_cert, spec->revoke_reason, err)) != EST_OK))
        goto out;
    content_len = ASN1_item_i2d((ASN1_VALUE *)pki, &content, ASN1_ITEM_rptr(CMC_PKI_DATA));
    if (content_len <= 0) {
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "encoding PKIData");
        goto out;
    }
    rc = sign_pki_data(spec, content, (size_t)content_len, der, der_len, err);
out:
    OPENSSL_free(content);
    ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_DATA));
    return rc;
}
