/* Test fixtures for the CMC unit tests: see cmc_fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/objects.h>
#include "ca_fixture.h"
#include "cmc_fixture.h"
#include "estkit/csr.h"
#include "estkit/issue.h"

X509 *cmc_fixture_issue(est_ca *ca, EVP_PKEY *key, const char *cn, const char *eku)
{
    est_profile profile;
    X509_REQ *csr = ca_fixture_csr(key, cn, NULL, 0);
    X509 *cert = NULL;

    est_profile_default(&profile);
    snprintf(profile.extended_key_usage, sizeof profile.extended_key_usage, "%s", eku);
    if (csr == NULL || est_ca_issue(ca, csr, &profile, NULL, &cert, NULL) != EST_OK)
        cert = NULL;
    X509_REQ_free(csr);
    return cert;
}

int cmc_fixture_setup(cmc_fixture *f, est_key_type ca_type)
{
    memset(f, 0, sizeof *f);
    f->ca = ca_fixture_root_ca(ca_type, "CN=CMC Test CA", 365, &f->ca_cert, &f->ca_key);
    f->client_key = ca_fixture_key(EST_KEY_EC_P256);
    f->csr = ca_fixture_csr(f->client_key, "CN=cmc-client", "client.example", 0);
    f->ra_key = ca_fixture_key(EST_KEY_EC_P256);
    if (f->ca == NULL || f->csr == NULL || f->ra_key == NULL)
        return -1;
    f->ra_cert = cmc_fixture_issue(f->ca, f->ra_key, "CN=cmc-ra", "cmcRA");
    return f->ra_cert != NULL ? 0 : -1;
}

void cmc_fixture_teardown(cmc_fixture *f)
{
    est_ca_free(f->ca);
    X509_free(f->ca_cert);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->client_key);
    X509_REQ_free(f->csr);
    EVP_PKEY_free(f->ra_key);
    X509_free(f->ra_cert);
    memset(f, 0, sizeof *f);
}

ASN1_TYPE *cmc_fixture_octets(size_t len, unsigned char fill)
{
    ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
    ASN1_TYPE *t = ASN1_TYPE_new();
    unsigned char *buf = malloc(len + 1);

    if (s == NULL || t == NULL || buf == NULL) {
        ASN1_OCTET_STRING_free(s);
        ASN1_TYPE_free(t);
        free(buf);
        return NULL;
    }
    memset(buf, fill, len + 1);
    ASN1_OCTET_STRING_set(s, buf, (int)len);
    ASN1_TYPE_set(t, V_ASN1_OCTET_STRING, s);
    free(buf);
    return t;
}

int cmc_fixture_add_control(CMC_PKI_DATA *pki, uint32_t body_part, const char *oid,
                            const ASN1_TYPE *value)
{
    CMC_TAGGED_ATTRIBUTE *attr =
        (CMC_TAGGED_ATTRIBUTE *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TAGGED_ATTRIBUTE));
    ASN1_TYPE *copy = (ASN1_TYPE *)ASN1_item_dup(ASN1_ITEM_rptr(ASN1_ANY), (void *)value);

    if (attr == NULL || copy == NULL || !ASN1_INTEGER_set_uint64(attr->body_part_id, body_part) ||
        (attr->type = OBJ_txt2obj(oid, 1)) == NULL || !sk_ASN1_TYPE_push(attr->values, copy)) {
        ASN1_TYPE_free(copy);
        ASN1_item_free((ASN1_VALUE *)attr, ASN1_ITEM_rptr(CMC_TAGGED_ATTRIBUTE));
        return 0;
    }
    return sk_CMC_TAGGED_ATTRIBUTE_push(pki->controls, attr) > 0;
}

CMC_PKI_DATA *cmc_fixture_pki_data(X509_REQ *csr)
{
    CMC_PKI_DATA *pki = (CMC_PKI_DATA *)ASN1_item_new(ASN1_ITEM_rptr(CMC_PKI_DATA));
    ASN1_INTEGER *tid = ASN1_INTEGER_new();
    ASN1_TYPE *t = ASN1_TYPE_new(), *nonce = cmc_fixture_octets(8, 0x5a);
    int ok = pki != NULL && tid != NULL && t != NULL && nonce != NULL && ASN1_INTEGER_set(tid, 7);

    if (ok) {
        ASN1_TYPE_set(t, V_ASN1_INTEGER, tid);
        tid = NULL;
        ok = cmc_fixture_add_control(pki, 2, "1.3.6.1.5.5.7.7.5", t) &&
             cmc_fixture_add_control(pki, 3, "1.3.6.1.5.5.7.7.6", nonce);
    }
    if (ok && csr != NULL) {
        CMC_TAGGED_REQUEST *tr =
            (CMC_TAGGED_REQUEST *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TAGGED_REQUEST));
        CMC_TCR *tcr = (CMC_TCR *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TCR));
        ok = tr != NULL && tcr != NULL && ASN1_INTEGER_set(tcr->body_part_id, 1);
        if (ok) {
            X509_REQ_free(tcr->request);
            tcr->request = X509_REQ_dup(csr);
            tr->type = EST_CMC_REQUEST_TCR;
            tr->d.tcr = tcr;
            tcr = NULL;
            ok = sk_CMC_TAGGED_REQUEST_push(pki->requests, tr) > 0;
            if (ok)
                tr = NULL;
        }
        ASN1_item_free((ASN1_VALUE *)tcr, ASN1_ITEM_rptr(CMC_TCR));
        ASN1_item_free((ASN1_VALUE *)tr, ASN1_ITEM_rptr(CMC_TAGGED_REQUEST));
    }
    ASN1_INTEGER_free(tid);
    ASN1_TYPE_free(t);
    ASN1_TYPE_free(nonce);
    if (!ok) {
        ASN1_item_free((ASN1_VALUE *)pki, ASN1_ITEM_rptr(CMC_PKI_DATA));
        return NULL;
    }
    return pki;
}

static est_status fixture_sign_data(void *arg, const uint8_t *data, size_t len, uint8_t **sig,
                                    size_t *sig_len, est_error *err)
{
    return est_signer_sign_data(arg, data, len, sig, sig_len, err);
}

uint8_t *cmc_fixture_sign_content(const uint8_t *content, size_t content_len, int nid,
                                  EVP_PKEY *key, X509 *cert, X509_REQ *csr, size_t *len)
{
    est_signer *signer = est_signer_new_key(key);
    ASN1_OCTET_STRING *key_id = NULL;
    X509 *holder = NULL;
    CMS_ContentInfo *cms = NULL;
    unsigned char *der = NULL;
    uint8_t *out = NULL;
    int n;

    if (signer == NULL)
        goto out;
    if (cert == NULL) {
        if (cmc_csr_key_id(csr, &key_id, NULL) != EST_OK ||
            cmc_key_holder(key, key_id, key, &holder, NULL) != EST_OK)
            goto out;
    }
    if (cmc_cms_sign(cert != NULL ? cert : holder, key, cert == NULL, fixture_sign_data, signer,
                     OBJ_nid2obj(nid), content, content_len, NULL, &cms, NULL) != EST_OK)
        goto out;
    n = i2d_CMS_ContentInfo(cms, &der);
    if (n > 0 && (out = malloc((size_t)n)) != NULL) {
        memcpy(out, der, (size_t)n);
        *len = (size_t)n;
    }
out:
    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    X509_free(holder);
    ASN1_OCTET_STRING_free(key_id);
    est_signer_free(signer);
    return out;
}

uint8_t *cmc_fixture_sign(const CMC_PKI_DATA *pki, int nid, EVP_PKEY *key, X509 *cert,
                          X509_REQ *csr, size_t *len)
{
    unsigned char *content = NULL;
    int content_len = ASN1_item_i2d((const ASN1_VALUE *)pki, &content,
                                    ASN1_ITEM_rptr(CMC_PKI_DATA));
    uint8_t *out = NULL;

    if (content_len > 0)
        out = cmc_fixture_sign_content(content, (size_t)content_len, nid, key, cert, csr, len);
    OPENSSL_free(content);
    return out;
}

int cmc_fixture_group_setup(void **state)
{
    cmc_fixture *f = calloc(1, sizeof *f);
    *state = f;
    return f != NULL ? cmc_fixture_setup(f, EST_KEY_EC_P256) : -1;
}

int cmc_fixture_group_teardown(void **state)
{
    cmc_fixture_teardown(*state);
    free(*state);
    return 0;
}
