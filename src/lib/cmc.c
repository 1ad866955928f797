/* CMC building blocks (RFC 5272 §3, RFC 6402): the ASN.1 templates of the
 * structures, the control OIDs, body part IDs, and CMS SignedData signing
 * through a callback, so the CA key can stay behind the signer seam. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "ca_internal.h"
#include "cmc_internal.h"
#include "estkit/key.h"

/* --- ASN.1 templates (the CMC module is IMPLICIT TAGS) --- */

ASN1_SEQUENCE(CMC_TAGGED_ATTRIBUTE) = {
    ASN1_SIMPLE(CMC_TAGGED_ATTRIBUTE, body_part_id, ASN1_INTEGER),
    ASN1_SIMPLE(CMC_TAGGED_ATTRIBUTE, type, ASN1_OBJECT),
    ASN1_SET_OF(CMC_TAGGED_ATTRIBUTE, values, ASN1_ANY),
} ASN1_SEQUENCE_END(CMC_TAGGED_ATTRIBUTE)

ASN1_SEQUENCE(CMC_TCR) = {
    ASN1_SIMPLE(CMC_TCR, body_part_id, ASN1_INTEGER),
    ASN1_SIMPLE(CMC_TCR, request, X509_REQ),
} ASN1_SEQUENCE_END(CMC_TCR)

ASN1_SEQUENCE(CMC_ORM) = {
    ASN1_SIMPLE(CMC_ORM, body_part_id, ASN1_INTEGER),
    ASN1_SIMPLE(CMC_ORM, type, ASN1_OBJECT),
    ASN1_SIMPLE(CMC_ORM, value, ASN1_ANY),
} ASN1_SEQUENCE_END(CMC_ORM)

ASN1_CHOICE(CMC_TAGGED_REQUEST) = {
    ASN1_IMP(CMC_TAGGED_REQUEST, d.tcr, CMC_TCR, EST_CMC_REQUEST_TCR),
    ASN1_IMP_SEQUENCE_OF(CMC_TAGGED_REQUEST, d.crm, ASN1_ANY, EST_CMC_REQUEST_CRM),
    ASN1_IMP(CMC_TAGGED_REQUEST, d.orm, CMC_ORM, EST_CMC_REQUEST_ORM),
} ASN1_CHOICE_END(CMC_TAGGED_REQUEST)

ASN1_SEQUENCE(CMC_TAGGED_CONTENT) = {
    ASN1_SIMPLE(CMC_TAGGED_CONTENT, body_part_id, ASN1_INTEGER),
    ASN1_SIMPLE(CMC_TAGGED_CONTENT, content, ASN1_ANY),
} ASN1_SEQUENCE_END(CMC_TAGGED_CONTENT)

ASN1_SEQUENCE(CMC_OTHER_MSG) = {
    ASN1_SIMPLE(CMC_OTHER_MSG, body_part_id, ASN1_INTEGER),
    ASN1_SIMPLE(CMC_OTHER_MSG, type, ASN1_OBJECT),
    ASN1_SIMPLE(CMC_OTHER_MSG, value, ASN1_ANY),
} ASN1_SEQUENCE_END(CMC_OTHER_MSG)

ASN1_SEQUENCE(CMC_PKI_DATA) = {
    ASN1_SEQUENCE_OF(CMC_PKI_DATA, controls, CMC_TAGGED_ATTRIBUTE),
    ASN1_SEQUENCE_OF(CMC_PKI_DATA, requests, CMC_TAGGED_REQUEST),
    ASN1_SEQUENCE_OF(CMC_PKI_DATA, contents, CMC_TAGGED_CONTENT),
    ASN1_SEQUENCE_OF(CMC_PKI_DATA, others, CMC_OTHER_MSG),
} ASN1_SEQUENCE_END(CMC_PKI_DATA)

ASN1_SEQUENCE(CMC_PKI_RESPONSE) = {
    ASN1_SEQUENCE_OF(CMC_PKI_RESPONSE, controls, CMC_TAGGED_ATTRIBUTE),
    ASN1_SEQUENCE_OF(CMC_PKI_RESPONSE, contents, CMC_TAGGED_CONTENT),
    ASN1_SEQUENCE_OF(CMC_PKI_RESPONSE, others, CMC_OTHER_MSG),
} ASN1_SEQUENCE_END(CMC_PKI_RESPONSE)

ASN1_CHOICE(CMC_BODY_PART_REFERENCE) = {
    ASN1_SIMPLE(CMC_BODY_PART_REFERENCE, d.id, ASN1_INTEGER),
    ASN1_SEQUENCE_OF(CMC_BODY_PART_REFERENCE, d.path, ASN1_INTEGER),
} ASN1_CHOICE_END(CMC_BODY_PART_REFERENCE)

ASN1_SEQUENCE(CMC_STATUS_INFO_V2) = {
    ASN1_SIMPLE(CMC_STATUS_INFO_V2, status, ASN1_INTEGER),
    ASN1_SEQUENCE_OF(CMC_STATUS_INFO_V2, body_list, CMC_BODY_PART_REFERENCE),
    ASN1_OPT(CMC_STATUS_INFO_V2, status_string, ASN1_UTF8STRING),
    ASN1_OPT(CMC_STATUS_INFO_V2, other_info, ASN1_ANY),
} ASN1_SEQUENCE_END(CMC_STATUS_INFO_V2)

ASN1_SEQUENCE(CMC_REVOKE_REQUEST) = {
    ASN1_SIMPLE(CMC_REVOKE_REQUEST, issuer, X509_NAME),
    ASN1_SIMPLE(CMC_REVOKE_REQUEST, serial, ASN1_INTEGER),
    ASN1_SIMPLE(CMC_REVOKE_REQUEST, reason, ASN1_ENUMERATED),
    ASN1_OPT(CMC_REVOKE_REQUEST, invalidity_date, ASN1_GENERALIZEDTIME),
    ASN1_OPT(CMC_REVOKE_REQUEST, passphrase, ASN1_OCTET_STRING),
    ASN1_OPT(CMC_REVOKE_REQUEST, comment, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(CMC_REVOKE_REQUEST)

/* SignedAttributes ::= SET SIZE (1..MAX) OF Attribute (RFC 5652 §5.3),
 * DER-sorted: what a SignerInfo's signature covers (§5.4). */
typedef STACK_OF(X509_ATTRIBUTE) EST_CMS_SIGNED_ATTRS;
ASN1_ITEM_TEMPLATE(EST_CMS_SIGNED_ATTRS) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_ORDER, 0, SignedAttributes, X509_ATTRIBUTE)
static_ASN1_ITEM_TEMPLATE_END(EST_CMS_SIGNED_ATTRS)

/* --- names --- */

const char *est_cmc_fail_name(est_cmc_fail fail)
{
    switch (fail) {
    case EST_CMC_FAIL_NONE: return "none";
    case EST_CMC_FAIL_BAD_ALG: return "badAlg";
    case EST_CMC_FAIL_BAD_MESSAGE_CHECK: return "badMessageCheck";
    case EST_CMC_FAIL_BAD_REQUEST: return "badRequest";
    case EST_CMC_FAIL_BAD_TIME: return "badTime";
    case EST_CMC_FAIL_BAD_CERT_ID: return "badCertId";
    case EST_CMC_FAIL_UNSUPPORTED_EXT: return "unsupportedExt";
    case EST_CMC_FAIL_MUST_ARCHIVE_KEYS: return "mustArchiveKeys";
    case EST_CMC_FAIL_BAD_IDENTITY: return "badIdentity";
    case EST_CMC_FAIL_POP_REQUIRED: return "popRequired";
    case EST_CMC_FAIL_POP_FAILED: return "popFailed";
    case EST_CMC_FAIL_NO_KEY_REUSE: return "noKeyReuse";
    case EST_CMC_FAIL_INTERNAL_CA_ERROR: return "internalCAError";
    case EST_CMC_FAIL_TRY_LATER: return "tryLater";
    case EST_CMC_FAIL_AUTH_DATA_FAIL: return "authDataFail";
    }
    return "unknown";
}

const char *est_cmc_status_name(est_cmc_status status)
{
    switch (status) {
    case EST_CMC_SUCCESS: return "success";
    case EST_CMC_FAILED: return "failed";
    case EST_CMC_PENDING: return "pending";
    case EST_CMC_NO_SUPPORT: return "noSupport";
    case EST_CMC_CONFIRM_REQUIRED: return "confirmRequired";
    case EST_CMC_POP_REQUIRED: return "popRequired";
    case EST_CMC_PARTIAL: return "partial";
    }
    return "unknown";
}

/* --- controls --- */

static const struct {
    est_cmc_control control;
    const char *oid;
} control_oids[] = {
    {EST_CMC_CONTROL_STATUS_INFO, "1.3.6.1.5.5.7.7.1"},
    {EST_CMC_CONTROL_IDENTIFICATION, "1.3.6.1.5.5.7.7.2"},
    {EST_CMC_CONTROL_IDENTITY_PROOF, "1.3.6.1.5.5.7.7.3"},
    {EST_CMC_CONTROL_TRANSACTION_ID, "1.3.6.1.5.5.7.7.5"},
    {EST_CMC_CONTROL_SENDER_NONCE, "1.3.6.1.5.5.7.7.6"},
    {EST_CMC_CONTROL_RECIPIENT_NONCE, "1.3.6.1.5.5.7.7.7"},
    {EST_CMC_CONTROL_REVOKE_REQUEST, "1.3.6.1.5.5.7.7.17"},
    {EST_CMC_CONTROL_POP_LINK_RANDOM, "1.3.6.1.5.5.7.7.22"},
    {EST_CMC_CONTROL_POP_LINK_WITNESS, "1.3.6.1.5.5.7.7.23"},
    {EST_CMC_CONTROL_STATUS_INFO_V2, "1.3.6.1.5.5.7.7.25"},
    {EST_CMC_CONTROL_POP_LINK_WITNESS_V2, "1.3.6.1.5.5.7.7.33"},
    {EST_CMC_CONTROL_IDENTITY_PROOF_V2, "1.3.6.1.5.5.7.7.34"},
};

#define CONTROL_COUNT (sizeof control_oids / sizeof control_oids[0])
/* Dotted text of an OID we compare: the longest CMC one has 18 chars. */
#define OID_TEXT_MAX 80

est_cmc_control cmc_control_of(const ASN1_OBJECT *type)
{
    char text[OID_TEXT_MAX];
    int n = OBJ_obj2txt(text, sizeof text, type, 1);

    if (n <= 0 || (size_t)n >= sizeof text)
        return EST_CMC_CONTROL_UNKNOWN;
    for (size_t i = 0; i < CONTROL_COUNT; i++)
        if (strcmp(text, control_oids[i].oid) == 0)
            return control_oids[i].control;
    return EST_CMC_CONTROL_UNKNOWN;
}

ASN1_OBJECT *cmc_control_object(est_cmc_control control)
{
    for (size_t i = 0; i < CONTROL_COUNT; i++)
        if (control_oids[i].control == control)
            return OBJ_txt2obj(control_oids[i].oid, 1);
    return NULL;
}

int cmc_body_part_get(const ASN1_INTEGER *v, uint32_t *out)
{
    uint64_t u;

    if (v == NULL || ASN1_INTEGER_get_uint64(&u, v) != 1 || u > UINT32_MAX) {
        ERR_clear_error();
        return 0;
    }
    *out = (uint32_t)u;
    return 1;
}

ASN1_INTEGER *cmc_body_part_new(uint32_t id)
{
    ASN1_INTEGER *v = ASN1_INTEGER_new();

    if (v != NULL && !ASN1_INTEGER_set_uint64(v, id)) {
        ASN1_INTEGER_free(v);
        return NULL;
    }
    return v;
}

est_status cmc_add_control(STACK_OF(CMC_TAGGED_ATTRIBUTE) *controls, uint32_t body_part,
                           est_cmc_control control, const ASN1_TYPE *value, est_error *err)
{
    CMC_TAGGED_ATTRIBUTE *attr =
        (CMC_TAGGED_ATTRIBUTE *)ASN1_item_new(ASN1_ITEM_rptr(CMC_TAGGED_ATTRIBUTE));
    ASN1_TYPE *copy = (ASN1_TYPE *)ASN1_item_dup(ASN1_ITEM_rptr(ASN1_ANY), (void *)value);

    if (attr == NULL || copy == NULL ||
        !ASN1_INTEGER_set_uint64(attr->body_part_id, body_part) ||
        (attr->type = cmc_control_object(control)) == NULL ||
        !sk_ASN1_TYPE_push(attr->values, copy))
        goto nomem;
    copy = NULL; /* the attribute's now */
    if (!sk_CMC_TAGGED_ATTRIBUTE_push(controls, attr))
        goto nomem;
    return EST_OK;
nomem:
    ASN1_TYPE_free(copy);
    ASN1_item_free((ASN1_VALUE *)attr, ASN1_ITEM_rptr(CMC_TAGGED_ATTRIBUTE));
    return est_error_set(err, EST_E_NOMEM, "out of memory");
}

est_status cmc_der_copy(const unsigned char *der, int len, uint8_t **out, size_t *out_len,
                        est_error *err)
{
    uint8_t *copy;

    if (len <= 0)
        return est_error_set_openssl(err, EST_E_INTERNAL, "DER encoding failed");
    if ((copy = OPENSSL_malloc((size_t)len)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    memcpy(copy, der, (size_t)len);
    *out = copy;
    *out_len = (size_t)len;
    return EST_OK;
}

/* --- keys without certificates --- */

est_status cmc_csr_key_id(X509_REQ *csr, ASN1_OCTET_STRING **out, est_error *err)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    ASN1_OCTET_STRING *ski = X509V3_get_d2i(exts, NID_subject_key_identifier, NULL, NULL);
    EVP_PKEY *key = X509_REQ_get0_pubkey(csr);

    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ERR_clear_error();
    if (ski != NULL) {
        *out = ski;
        return EST_OK;
    }
    if (key == NULL)
        return est_error_set_openssl(err, EST_E_INPUT, "the PKCS#10 public key is unreadable");
    return ca_key_id(NULL, key, out, err);
}

est_status cmc_key_holder(EVP_PKEY *key, const ASN1_OCTET_STRING *key_id,
                          EVP_PKEY *private_key, X509 **out, est_error *err)
{
    X509 *cert = X509_new();
    int ok = cert != NULL && X509_set_version(cert, X509_VERSION_3) && X509_set_pubkey(cert, key);

    if (ok && key_id != NULL)
        ok = X509_add1_ext_i2d(cert, NID_subject_key_identifier, (void *)key_id, 0,
                               X509V3_ADD_DEFAULT) == 1;
    /* Self-signed so that it encodes: OpenSSL digests a certificate
     * before it reads its extensions. */
    if (ok && private_key != NULL)
        ok = X509_sign(cert, private_key, est_key_digest(private_key)) > 0;
    if (!ok) {
        X509_free(cert);
        return est_error_set_openssl(err, EST_E_NOMEM, "key holder certificate");
    }
    *out = cert;
    return EST_OK;
}

/* --- CMS signing --- */

const ASN1_OCTET_STRING *cmc_cms_get0_econtent(CMS_ContentInfo *cms)
{
    ASN1_OCTET_STRING **pos;

    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
        return NULL;
    pos = CMS_get0_content(cms);
    return pos != NULL ? *pos : NULL;
}

/* contentType, signingTime, messageDigest (RFC 5652 §11.1-11.3). */
static est_status add_signed_attributes(CMS_SignerInfo *si, const ASN1_OBJECT *content_type,
                                        const uint8_t *content, size_t content_len,
                                        est_error *err)
{
    X509_ALGOR *digest_alg = NULL;
    const EVP_MD *md;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
    int ok;

    CMS_SignerInfo_get0_algs(si, NULL, NULL, &digest_alg, NULL);
    md = digest_alg != NULL ? EVP_get_digestbyobj(digest_alg->algorithm) : NULL;
    ok = md != NULL && now != NULL &&
         EVP_Digest(content, content_len, digest, &digest_len, md, NULL) == 1 &&
         CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT, content_type, -1) &&
         CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, now->type, now, -1) &&
         CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest,
                                     (int)digest_len);
    ASN1_TIME_free(now);
    return ok ? EST_OK : est_error_set_openssl(err, EST_E_CA, "CMS signed attributes");
}

/* The signature over the DER of the signed attributes, into si. */
static est_status sign_attributes(CMS_SignerInfo *si, cmc_cms_sign_fn sign_data, void *arg,
                                  est_error *err)
{
    EST_CMS_SIGNED_ATTRS *attrs = sk_X509_ATTRIBUTE_new_null();
    unsigned char *der = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    int der_len = -1;
    est_status rc = EST_E_NOMEM;

    for (int i = 0; attrs != NULL && i < CMS_signed_get_attr_count(si); i++)
        if (!sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)))
            goto out;
    if (attrs == NULL ||
        (der_len = ASN1_item_i2d((ASN1_VALUE *)attrs, &der, ASN1_ITEM_rptr(EST_CMS_SIGNED_ATTRS))) <= 0) {
        est_error_set_openssl(err, rc, "encoding signed attributes");
        goto out;
    }
    if ((rc = sign_data(arg, der, (size_t)der_len, &sig, &sig_len, err)) != EST_OK)
        goto out;
    if (sig_len > INT32_MAX ||
        !ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len)) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    rc = EST_OK;
out:
    sk_X509_ATTRIBUTE_free(attrs); /* the attributes stay the SignerInfo's */
    OPENSSL_free(der);
    OPENSSL_free(sig);
    return rc;
}

/* RFC 8419 §3: Ed25519 SignerInfos digest the content with SHA-512. */
static const EVP_MD *cms_digest(EVP_PKEY *key)
{
    const EVP_MD *md = est_key_digest(key);
    return md != NULL ? md : EVP_sha512();
}

/* OpenSSL 3.0 lays out SignerInfos for RSA and ECDSA keys only. EdDSA in
 * CMS (RFC 8419) is neither made nor verified by its CMS code, so a
 * signature OpenSSL's own verifier would reject is refused here. */
static est_status check_signature_algorithm(CMS_SignerInfo *si, EVP_PKEY *key, est_error *err)
{
    X509_ALGOR *alg = NULL;

    CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &alg);
    if (alg == NULL || OBJ_obj2nid(alg->algorithm) == NID_undef)
        return est_error_set(err, EST_E_UNSUPPORTED, "CMS signatures with %s keys are not "
                             "supported", OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
    return EST_OK;
}

/* RFC 4056 §3: an RSASSA-PSS SignerInfo names rsassaPss with its
 * parameters as signatureAlgorithm; its digestAlgorithm is the PSS hash
 * (SHA-256, given to CMS_add1_signer). */
static est_status signer_info_pss(CMS_SignerInfo *si, EVP_PKEY *key, est_error *err)
{
    X509_ALGOR *sig_alg = NULL, *pss = est_rsa_pss_algor(key);
    int ok;

    CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &sig_alg);
    ok = pss != NULL && sig_alg != NULL && X509_ALGOR_copy(sig_alg, pss);
    X509_ALGOR_free(pss);
    return ok ? EST_OK : est_error_set_openssl(err, EST_E_CA, "CMS RSASSA-PSS SignerInfo");
}

/* cmc_cms_sign; pss: the signature is RSASSA-PSS (est_signer_is_pss). */
static est_status cms_sign(X509 *signer_cert, EVP_PKEY *signer_public_key, int key_id, int pss,
                           cmc_cms_sign_fn sign_data, void *arg, const ASN1_OBJECT *content_type,
                           const uint8_t *content, size_t content_len, STACK_OF(X509) *certs,
                           CMS_ContentInfo **out, est_error *err)
{
    unsigned flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | (key_id ? CMS_USE_KEYID : 0);
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
    ASN1_OCTET_STRING *econtent = ASN1_OCTET_STRING_new(), **pos;
    CMS_SignerInfo *si;
    est_status rc = EST_E_CA;

    if (cms == NULL || econtent == NULL || content_len > INT32_MAX ||
        !ASN1_OCTET_STRING_set(econtent, content, (int)content_len) ||
        !CMS_set1_eContentType(cms, content_type)) {
        est_error_set_openssl(err, rc, "CMS SignedData");
        goto out;
    }
    /* A public key suffices here: with CMS_PARTIAL, CMS_add1_signer only
     * lays out the SignerInfo; sign_attributes signs it. */
    si = CMS_add1_signer(cms, signer_cert, signer_public_key,
                         pss ? EVP_sha256() : cms_digest(signer_public_key),
                         flags | (key_id ? CMS_NOCERTS : 0));
    if (si == NULL || (rc = check_signature_algorithm(si, signer_public_key, err)) != EST_OK ||
        (pss && (rc = signer_info_pss(si, signer_public_key, err)) != EST_OK)) {
        if (si == NULL)
            est_error_set_openssl(err, rc, "CMS signer");
        goto out;
    }
    rc = EST_E_CA;
    for (int i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
        if (X509_cmp(sk_X509_value(certs, i), signer_cert) != 0 &&
            !CMS_add1_cert(cms, sk_X509_value(certs, i))) {
            est_error_set_openssl(err, rc, "CMS certificates");
            goto out;
        }
    }
    if ((rc = add_signed_attributes(si, content_type, content, content_len, err)) != EST_OK ||
        (rc = sign_attributes(si, sign_data, arg, err)) != EST_OK)
        goto out;
    pos = CMS_get0_content(cms);
    if (pos == NULL) {
        rc = est_error_set(err, EST_E_INTERNAL, "CMS SignedData without content slot");
        goto out;
    }
    ASN1_OCTET_STRING_free(*pos);
    *pos = econtent;
    econtent = NULL;
    *out = cms;
    cms = NULL;
    rc = EST_OK;
out:
    ASN1_OCTET_STRING_free(econtent);
    CMS_ContentInfo_free(cms);
    return rc;
}

est_status cmc_cms_sign(X509 *signer_cert, EVP_PKEY *signer_public_key, int key_id,
                        cmc_cms_sign_fn sign_data, void *arg, const ASN1_OBJECT *content_type,
                        const uint8_t *content, size_t content_len, STACK_OF(X509) *certs,
                        CMS_ContentInfo **out, est_error *err)
{
    return cms_sign(signer_cert, signer_public_key, key_id, 0, sign_data, arg, content_type,
                    content, content_len, certs, out, err);
}

static est_status ca_sign_data(void *arg, const uint8_t *data, size_t len, uint8_t **sig,
                               size_t *sig_len, est_error *err)
{
    return est_signer_sign_data(ca_get0_signer(arg), data, len, sig, sig_len, err);
}

est_status cmc_cms_sign_ca(est_ca *ca, const ASN1_OBJECT *content_type, const uint8_t *content,
                           size_t content_len, STACK_OF(X509) *certs, uint8_t **der,
                           size_t *der_len, est_error *err)
{
    CMS_ContentInfo *cms = NULL;
    unsigned char *buf = NULL;
    int len;
    est_status rc;

    if ((rc = ca_check_key(ca, err)) != EST_OK ||
        (rc = cms_sign(est_ca_get0_cert(ca), est_signer_get0_public_key(ca_get0_signer(ca)),
                       0, est_signer_is_pss(ca_get0_signer(ca)), ca_sign_data, ca,
                       content_type, content, content_len, certs, &cms, err)) != EST_OK)
        return rc;
    len = i2d_CMS_ContentInfo(cms, &buf);
    CMS_ContentInfo_free(cms);
    rc = cmc_der_copy(buf, len, der, der_len, err);
    OPENSSL_free(buf);
    return rc;
}

/* A CA certificate signs CMC responses and key packages, and CA
 * certificates rarely carry digitalSignature or an S/MIME purpose, so the
 * chain is checked for any purpose. */
static est_status chain_verifies(X509 *signer, STACK_OF(X509) *certs, X509_STORE *trust,
                                 est_error *err)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    est_status rc = EST_E_AUTH;

    if (ctx == NULL || !X509_STORE_CTX_init(ctx, trust, signer, certs)) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
    if (X509_verify_cert(ctx) != 1) {
        est_error_set(err, rc, "the signer is not trusted: %s",
                      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    rc = EST_OK;
out:
    X509_STORE_CTX_free(ctx);
    return rc;
}

est_status cmc_cms_verify_signed(CMS_ContentInfo *cms, STACK_OF(X509) *certs, X509_STORE *trust,
                                 X509 **signer, est_error *err)
{
    STACK_OF(X509) *signers;
    X509 *found = NULL;

    if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1)
        return est_error_set(err, EST_E_PROTOCOL, "exactly one signer expected");
    if (CMS_verify(cms, NULL, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
        return est_error_set_openssl(err, EST_E_AUTH, "the signature does not verify");
    signers = CMS_get0_signers(cms);
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (X509_cmp(sk_X509_value(certs, i), sk_X509_value(signers, 0)) == 0)
            found = sk_X509_value(certs, i);
    sk_X509_free(signers);
    if (found == NULL)
        return est_error_set(err, EST_E_PROTOCOL, "the signer certificate is not included");
    if (trust != NULL && chain_verifies(found, certs, trust, err) != EST_OK)
        return EST_E_AUTH;
    *signer = found;
    return EST_OK;
}
