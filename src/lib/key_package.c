/* Server-generated private keys for /serverkeygen: PKCS#8, the CSR
 * attributes asking for extra encryption, and the signed-then-enveloped
 * Asymmetric Key Package (RFC 5958 §2 and §4, RFC 7030 §4.4.2).
 *
 * Every buffer that holds a private key in the clear is cleansed before
 * it is freed; the CA signs the package through the signer seam. */
#include <stdlib.h>
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include "cmc_internal.h"
#include "estkit/key_package.h"

/* RFC 5958 §2: id-ct-KP-aKeyPackage. */
#define OID_KEY_PACKAGE "2.16.840.1.101.2.1.2.78.5"

/* AsymmetricKeyPackage ::= SEQUENCE SIZE (1..MAX) OF OneAsymmetricKey;
 * OneAsymmetricKey is PKCS#8's PrivateKeyInfo, extended (RFC 5958 §2). */
DEFINE_STACK_OF(PKCS8_PRIV_KEY_INFO)
typedef STACK_OF(PKCS8_PRIV_KEY_INFO) EST_KEY_PACKAGE;
ASN1_ITEM_TEMPLATE(EST_KEY_PACKAGE) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, AsymmetricKeyPackage, PKCS8_PRIV_KEY_INFO)
static_ASN1_ITEM_TEMPLATE_END(EST_KEY_PACKAGE)

/* --- CSR attributes --- */

static const char *decrypt_key_oid(est_decrypt_key_kind kind)
{
    return kind == EST_DECRYPT_KEY_ASYMMETRIC ? EST_OID_ASYMMETRIC_DECRYPT_KEY_ID
                                              : EST_OID_DECRYPT_KEY_ID;
}

est_status est_csr_get_decrypt_key_id(X509_REQ *csr, est_decrypt_key_kind kind, uint8_t *out,
                                      size_t cap, size_t *len, est_error *err)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(decrypt_key_oid(kind), 1);
    int idx = oid != NULL ? X509_REQ_get_attr_by_OBJ(csr, oid, -1) : -1;
    X509_ATTRIBUTE *attr = idx >= 0 ? X509_REQ_get_attr(csr, idx) : NULL;
    ASN1_TYPE *value = attr != NULL ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
    int type = value != NULL ? ASN1_TYPE_get(value) : -1, n;
    est_status rc = EST_E_INPUT;

    if (oid == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    if (idx < 0) {
        rc = est_error_set(err, EST_E_NOT_FOUND, "no %s attribute", decrypt_key_oid(kind));
        goto out;
    }
    /* RFC 4108 §2.2.5 says OCTET STRING; tools that can only write text
     * attributes send the identifier as a string, read as its bytes. */
    if (X509_REQ_get_attr_by_OBJ(csr, oid, idx) >= 0 || X509_ATTRIBUTE_count(attr) != 1 ||
        (type != V_ASN1_OCTET_STRING && type != V_ASN1_UTF8STRING &&
         type != V_ASN1_PRINTABLESTRING && type != V_ASN1_IA5STRING)) {
        est_error_set(err, rc, "the key identifier attribute must hold one OCTET STRING");
        goto out;
    }
    n = ASN1_STRING_length(value->value.asn1_string);
    if (n < 1 || (size_t)n > EST_DECRYPT_KEY_ID_MAX || (size_t)n > cap) {
        est_error_set(err, rc, "a key identifier is 1 to %d octets", EST_DECRYPT_KEY_ID_MAX);
        goto out;
    }
    memcpy(out, ASN1_STRING_get0_data(value->value.asn1_string), (size_t)n);
    *len = (size_t)n;
    rc = EST_OK;
out:
    ASN1_OBJECT_free(oid);
    return rc;
}

est_status est_csr_add_decrypt_key_id(X509_REQ *csr, est_decrypt_key_kind kind,
                                      const uint8_t *id, size_t len, est_error *err)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(decrypt_key_oid(kind), 1);
    int ok;

    if (len == 0 || len > EST_DECRYPT_KEY_ID_MAX) {
        ASN1_OBJECT_free(oid);
        return est_error_set(err, EST_E_INPUT, "a key identifier is 1 to %d octets",
                             EST_DECRYPT_KEY_ID_MAX);
    }
    ok = oid != NULL && X509_REQ_add1_attr_by_OBJ(csr, oid, V_ASN1_OCTET_STRING, id, (int)len);
    ASN1_OBJECT_free(oid);
    return ok ? EST_OK : est_error_set_openssl(err, EST_E_NOMEM, "adding the key identifier");
}

/* --- PKCS#8 --- */

void est_key_der_free(uint8_t *der, size_t len)
{
    if (der == NULL)
        return;
    OPENSSL_cleanse(der, len);
    OPENSSL_free(der);
}

/* A copy of an OpenSSL-allocated secret (est_key_der_free), which is cleansed. */
static est_status secret_copy(unsigned char *buf, int len, uint8_t **out, size_t *out_len,
                              est_error *err)
{
    est_status rc = cmc_der_copy(buf, len, out, out_len, err);

    if (buf != NULL && len > 0)
        OPENSSL_clear_free(buf, (size_t)len);
    return rc;
}

est_status est_key_pkcs8_encode(EVP_PKEY *key, uint8_t **der, size_t *der_len, est_error *err)
{
    /* EVP_PKEY2PKCS8 dereferences NULL. */
    PKCS8_PRIV_KEY_INFO *p8 = key != NULL ? EVP_PKEY2PKCS8(key) : NULL;
    unsigned char *buf = NULL;
    int len = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, &buf) : -1;

    PKCS8_PRIV_KEY_INFO_free(p8);
    if (len <= 0)
        return est_error_set_openssl(err, EST_E_INTERNAL, "encoding the private key");
    return secret_copy(buf, len, der, der_len, err);
}

/* --- the package --- */

static est_status package_der(EVP_PKEY *key, uint8_t **der, size_t *der_len, est_error *err)
{
    STACK_OF(PKCS8_PRIV_KEY_INFO) *pkg = sk_PKCS8_PRIV_KEY_INFO_new_null();
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    unsigned char *buf = NULL;
    int len = -1;

    if (pkg != NULL && p8 != NULL && sk_PKCS8_PRIV_KEY_INFO_push(pkg, p8) > 0) {
        p8 = NULL;
        len = ASN1_item_i2d((ASN1_VALUE *)pkg, &buf, ASN1_ITEM_rptr(EST_KEY_PACKAGE));
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    sk_PKCS8_PRIV_KEY_INFO_pop_free(pkg, PKCS8_PRIV_KEY_INFO_free);
    if (len <= 0)
        return est_error_set_openssl(err, EST_E_INTERNAL, "encoding the key package");
    return secret_copy(buf, len, der, der_len, err);
}

static est_status add_recipient(CMS_ContentInfo *cms, const est_key_package_recipient *to,
                                est_error *err)
{
    unsigned char *key = NULL, *id = NULL;

    if (to->kek == NULL)
        return CMS_add1_recipient_cert(cms, to->cert, CMS_BINARY) != NULL
                   ? EST_OK
                   : est_error_set_openssl(err, EST_E_UNSUPPORTED,
                                           "cannot encrypt for the client certificate's key");
    if ((to->kek_len != 16 && to->kek_len != 24 && to->kek_len != 32) || to->kek_id_len == 0 ||
        to->kek_id_len > EST_DECRYPT_KEY_ID_MAX)
        return est_error_set(err, EST_E_CONFIG, "a key-encryption key is 16, 24 or 32 octets "
                                                "with an identifier of 1 to %d",
                             EST_DECRYPT_KEY_ID_MAX);
    /* CMS_add0_recipient_key takes both buffers (and cleanses the key). */
    key = OPENSSL_memdup(to->kek, to->kek_len);
    id = OPENSSL_memdup(to->kek_id, to->kek_id_len);
    if (key == NULL || id == NULL ||
        CMS_add0_recipient_key(cms, NID_undef, key, to->kek_len, id, to->kek_id_len, NULL, NULL,
                               NULL) == NULL) {
        OPENSSL_clear_free(key, to->kek_len);
        OPENSSL_free(id);
        return est_error_set_openssl(err, EST_E_INTERNAL, "KEK recipient");
    }
    return EST_OK;
}

static est_status envelope(const uint8_t *signed_der, size_t signed_len,
                           const est_key_package_recipient *to, uint8_t **der, size_t *der_len,
                           est_error *err)
{
    CMS_ContentInfo *cms = CMS_EnvelopedData_create(EVP_aes_256_cbc());
    BIO *in = BIO_new_mem_buf(signed_der, (int)signed_len);
    unsigned char *buf = NULL;
    int len;
    est_status rc;

    if (cms == NULL || in == NULL || signed_len > INT32_MAX) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "EnvelopedData");
        goto out;
    }
    if ((rc = add_recipient(cms, to, err)) != EST_OK)
        goto out;
    /* embedded, not detached: the ciphertext travels in the package */
    if (!CMS_set_detached(cms, 0) || !CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_signed)) ||
        CMS_final(cms, in, NULL, CMS_BINARY) != 1) {
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "encrypting the key package");
        goto out;
    }
    len = i2d_CMS_ContentInfo(cms, &buf);
    rc = cmc_der_copy(buf, len, der, der_len, err);
out:
    OPENSSL_free(buf);
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    return rc;
}

est_status est_key_package_build(est_ca *ca, EVP_PKEY *key, const est_key_package_recipient *to,
                                 uint8_t **der, size_t *der_len, est_error *err)
{
    ASN1_OBJECT *type = OBJ_txt2obj(OID_KEY_PACKAGE, 1);
    uint8_t *pkg = NULL, *signed_der = NULL;
    size_t pkg_len = 0, signed_len = 0;
    est_status rc;

    if (ca == NULL || key == NULL || to == NULL || (to->kek == NULL && to->cert == NULL)) {
        rc = est_error_set(err, EST_E_INTERNAL, "key package: no CA, key or recipient");
        goto out;
    }
    if (type == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    /* RFC 7030 §4.4.2: signed by the party that generated the key (the
     * CA here), then encrypted for the requester. */
    if ((rc = package_der(key, &pkg, &pkg_len, err)) != EST_OK ||
        (rc = cmc_cms_sign_ca(ca, type, pkg, pkg_len, NULL, &signed_der, &signed_len, err)) !=
            EST_OK)
        goto out;
    rc = envelope(signed_der, signed_len, to, der, der_len, err);
out:
    est_key_der_free(pkg, pkg_len);
    est_key_der_free(signed_der, signed_len);
    ASN1_OBJECT_free(type);
    return rc;
}

/* --- the client side --- */

/* Decrypts into a cleansed-on-free buffer: the SignedData DER. */
static est_status decrypt(CMS_ContentInfo *cms, const est_key_package_recipient *as,
                          EVP_PKEY *recipient_key, uint8_t **out, size_t *out_len, est_error *err)
{
    BIO *mem = BIO_new(BIO_s_secmem());
    BUF_MEM *bm = NULL;
    est_status rc = EST_E_AUTH;
    int ok;

    if (mem == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if (as->kek != NULL)
        ok = CMS_decrypt_set1_key(cms, (unsigned char *)as->kek, as->kek_len,
                                  (const unsigned char *)as->kek_id, as->kek_id_len) == 1 &&
             CMS_decrypt(cms, NULL, NULL, NULL, mem, CMS_BINARY) == 1;
    else
        ok = CMS_decrypt(cms, recipient_key, as->cert, NULL, mem, CMS_BINARY) == 1;
    if (!ok || BIO_get_mem_ptr(mem, &bm) != 1 || bm->length > EST_KEY_PACKAGE_MAX_DER) {
        est_error_set_openssl(err, rc, "the key package does not decrypt");
        goto out;
    }
    rc = cmc_der_copy((unsigned char *)bm->data, (int)bm->length, out, out_len, err);
out:
    BIO_free(mem);
    return rc;
}

/* The SignedData's key package -> the first key. */
static est_status unpack(const uint8_t *signed_der, size_t signed_len, X509_STORE *trust,
                         EVP_PKEY **key, est_error *err)
{
    const unsigned char *p = signed_der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)signed_len);
    STACK_OF(X509) *certs = cms != NULL ? CMS_get1_certs(cms) : NULL;
    STACK_OF(PKCS8_PRIV_KEY_INFO) *pkg = NULL;
    const ASN1_OCTET_STRING *content = cms != NULL ? cmc_cms_get0_econtent(cms) : NULL;
    char oid[80] = "";
    X509 *signer = NULL;
    est_status rc = EST_E_PROTOCOL;

    if (content == NULL || p != signed_der + signed_len) {
        est_error_set(err, rc, "the decrypted key package is not a SignedData");
        goto out;
    }
    OBJ_obj2txt(oid, sizeof oid, CMS_get0_eContentType(cms), 1);
    if (strcmp(oid, OID_KEY_PACKAGE) != 0) {
        est_error_set(err, rc, "content type %s is not an Asymmetric Key Package", oid);
        goto out;
    }
    if ((rc = cmc_cms_verify_signed(cms, certs, trust, &signer, err)) != EST_OK)
        goto out;
    p = ASN1_STRING_get0_data(content);
    pkg = (STACK_OF(PKCS8_PRIV_KEY_INFO) *)ASN1_item_d2i(NULL, &p, ASN1_STRING_length(content),
                                                       ASN1_ITEM_rptr(EST_KEY_PACKAGE));
    if (pkg == NULL || sk_PKCS8_PRIV_KEY_INFO_num(pkg) < 1 ||
        (*key = EVP_PKCS82PKEY(sk_PKCS8_PRIV_KEY_INFO_value(pkg, 0))) == NULL) {
        rc = est_error_set_openssl(err, EST_E_PROTOCOL, "the key package holds no usable key");
        goto out;
    }
    rc = EST_OK;
out:
    sk_PKCS8_PRIV_KEY_INFO_pop_free(pkg, PKCS8_PRIV_KEY_INFO_free);
    sk_X509_pop_free(certs, X509_free);
    CMS_ContentInfo_free(cms);
    return rc;
}

est_status est_key_package_open(const uint8_t *der, size_t der_len,
                                const est_key_package_recipient *as, EVP_PKEY *recipient_key,
                                X509_STORE *trust, EVP_PKEY **key, est_error *err)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = NULL;
    uint8_t *signed_der = NULL;
    size_t signed_len = 0;
    est_status rc = EST_E_PROTOCOL;

    if (der == NULL || as == NULL || key == NULL || (as->kek == NULL && recipient_key == NULL))
        return est_error_set(err, EST_E_INTERNAL, "key package open: NULL argument");
    if (der_len > EST_KEY_PACKAGE_MAX_DER)
        return est_error_set(err, EST_E_TOO_LARGE, "key package larger than %d bytes",
                             EST_KEY_PACKAGE_MAX_DER);
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)der_len);
    if (cms == NULL || p != der + der_len ||
        OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped) {
        est_error_set_openssl(err, rc, "the key part is not a CMS EnvelopedData");
        goto out;
    }
    if ((rc = decrypt(cms, as, recipient_key, &signed_der, &signed_len, err)) != EST_OK)
        goto out;
    rc = unpack(signed_der, signed_len, trust, key, err);
out:
    ERR_clear_error();
    est_key_der_free(signed_der, signed_len);
    CMS_ContentInfo_free(cms);
    return rc;
}
