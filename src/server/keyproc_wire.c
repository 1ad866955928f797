/* estd: checking requests to the signer process (see keyproc_wire.h).
 *
 * A compromised network process may send anything here; the signer must
 * refuse what it should not sign and never crash on it. So a request is
 * parsed completely with OpenSSL's own DER decoders (a TBSCertificate with
 * a template that keeps the subject's key as bytes; a TBSCertList wrapped
 * in the outer structure it will end up in and decoded as a whole), and
 * the decoded object must re-encode to exactly the bytes sent: what is
 * checked is what is signed. */
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include "keyproc_wire.h"
#include "estkit/key.h"
#include "estkit/signer.h"

est_status keyproc_sig_alg(EVP_PKEY *key, int pss, X509_ALGOR **out, est_error *err)
{
    const EVP_MD *md = est_key_digest(key);
    int pkey_nid = EVP_PKEY_get_base_id(key), sig_nid = NID_undef;
    X509_ALGOR *alg;

    *out = NULL;
    if (pss && pkey_nid != EVP_PKEY_RSA)
        return est_error_set(err, EST_E_CONFIG, "signature = pss needs an RSA CA key");
    if (pss)
        return (*out = est_rsa_pss_algor(key)) != NULL
                   ? EST_OK
                   : est_error_set_openssl(err, EST_E_CA, "the RSASSA-PSS parameters");
    if (pkey_nid != EVP_PKEY_EC && pkey_nid != EVP_PKEY_RSA && pkey_nid != EVP_PKEY_ED25519)
        return est_error_set(err, EST_E_UNSUPPORTED, "the signer process signs with EC, RSA "
                             "(PKCS#1 v1.5) and Ed25519 keys only");
    if (!OBJ_find_sigid_by_algs(&sig_nid, md != NULL ? EVP_MD_get_type(md) : NID_undef,
                                pkey_nid))
        return est_error_set(err, EST_E_UNSUPPORTED, "no signature algorithm for this key");
    alg = X509_ALGOR_new();
    /* RFC 3279 §2.2.1: RSA's parameters are NULL; RFC 5758 §3.2 and
     * RFC 8410 §3: ECDSA and Ed25519 have none. */
    if (alg == NULL || !X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid),
                                        pkey_nid == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF,
                                        NULL)) {
        X509_ALGOR_free(alg);
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    *out = alg;
    return EST_OK;
}

int keyproc_key_hash(EVP_PKEY *key, uint8_t out[32])
{
    uint8_t *der = NULL;
    unsigned int md_len = 0;
    int len = i2d_PUBKEY(key, &der), ok;

    ok = len > 0 && EVP_Digest(der, (size_t)len, out, &md_len, EVP_sha256(), NULL) == 1 &&
         md_len == 32;
    OPENSSL_free(der);
    return ok;
}

/* DER length octets for n (n < 2^24 here). */
static size_t der_length(uint8_t *p, size_t n)
{
    if (n < 0x80) {
        p[0] = (uint8_t)n;
        return 1;
    }
    if (n < 0x100) {
        p[0] = 0x81, p[1] = (uint8_t)n;
        return 2;
    }
    if (n < 0x10000) {
        p[0] = 0x82, p[1] = (uint8_t)(n >> 8), p[2] = (uint8_t)n;
        return 3;
    }
    p[0] = 0x83, p[1] = (uint8_t)(n >> 16), p[2] = (uint8_t)(n >> 8), p[3] = (uint8_t)n;
    return 4;
}

/* Certificate and CertificateList ::= SEQUENCE { tbs, signatureAlgorithm,
 * BIT STRING } (RFC 5280 §4.1, §5.1): the payload wrapped with an empty
 * signature, to be decoded as a whole. */
static uint8_t *outer_wrap(const uint8_t *tbs, size_t tbs_len, const X509_ALGOR *alg,
                           size_t *len)
{
    uint8_t *alg_der = NULL, *buf = NULL;
    int alg_len = i2d_X509_ALGOR(alg, &alg_der);
    size_t body, off = 0;

    if (alg_len <= 0)
        goto out;
    body = tbs_len + (size_t)alg_len + 3;
    if ((buf = OPENSSL_malloc(body + 5)) == NULL)
        goto out;
    buf[off++] = 0x30;
    off += der_length(buf + off, body);
    memcpy(buf + off, tbs, tbs_len);
    off += tbs_len;
    memcpy(buf + off, alg_der, (size_t)alg_len);
    off += (size_t)alg_len;
    buf[off++] = 0x03, buf[off++] = 0x01, buf[off++] = 0x00;
    *len = off;
out:
    OPENSSL_free(alg_der);
    return buf;
}

/* Decodes tbs wrapped as a signed object of type it (a Certificate or a
 * CertificateList with a placeholder signature); NULL unless the whole
 * wrapping decodes, with nothing left over. */
static void *wrap_decode(const uint8_t *tbs, size_t tbs_len, const X509_ALGOR *alg,
                         const ASN1_ITEM *it)
{
    size_t len = 0;
    uint8_t *buf = outer_wrap(tbs, tbs_len, alg, &len);
    const unsigned char *q = buf;
    ASN1_VALUE *obj = buf != NULL ? ASN1_item_d2i(NULL, &q, (long)len, it) : NULL;

    if (obj != NULL && q != buf + len) {
        ASN1_item_free(obj, it);
        obj = NULL;
    }
    OPENSSL_free(buf);
    return obj;
}

/* TBSCertList's own signature field (OpenSSL 3.0 has no getter): after
 * the SEQUENCE header and an optional version INTEGER. */
static int crl_inner_alg_is(const uint8_t *tbs, size_t len, const X509_ALGOR *want)
{
    const unsigned char *p = tbs;
    long n = 0;
    int tag = 0, xclass = 0, ok;
    X509_ALGOR *alg;

    if (ASN1_get_object(&p, &n, &tag, &xclass, (long)len) & 0x80)
        return 0;
    if (*p == V_ASN1_INTEGER) {
        const unsigned char *v = p;
        if (ASN1_get_object(&v, &n, &tag, &xclass, (long)(len - (size_t)(p - tbs))) & 0x80)
            return 0;
        p = v + n;
    }
    alg = d2i_X509_ALGOR(NULL, &p, (long)(len - (size_t)(p - tbs)));
    ok = alg != NULL && X509_ALGOR_cmp(alg, want) == 0;
    X509_ALGOR_free(alg);
    return ok;
}

static est_status check_tbs_crl(const keyproc_key *k, const uint8_t *tbs, size_t len,
                                est_error *err)
{
    X509_CRL *crl;
    uint8_t *again = NULL;
    int again_len;
    est_status rc = EST_E_INPUT;

    if (len < 2 || tbs[0] != 0x30)
        return est_error_set(err, rc, "not a DER TBSCertList");
    if ((crl = wrap_decode(tbs, len, k->sig_alg, ASN1_ITEM_rptr(X509_CRL))) == NULL) {
        rc = est_error_set_openssl(err, rc, "not a well-formed TBSCertList");
        goto out;
    }
    again_len = i2d_re_X509_CRL_tbs(crl, &again);
    if (again_len < 0 || (size_t)again_len != len || memcmp(again, tbs, len) != 0) {
        rc = est_error_set(err, rc, "TBSCertList is not DER");
        goto out;
    }
    if (!crl_inner_alg_is(tbs, len, k->sig_alg)) {
        rc = est_error_set(err, EST_E_POLICY, "signature algorithm is not this key's");
        goto out;
    }
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(k->cert)) != 0) {
        rc = est_error_set(err, EST_E_POLICY, "issuer is not this key's CA");
        goto out;
    }
    rc = EST_OK;
out:
    OPENSSL_free(again);
    X509_CRL_free(crl);
    return rc;
}

/* TBSCertificate (RFC 5280 §4.1) with the SubjectPublicKeyInfo kept as
 * bytes. Decoding an X509 would build the subject's key through OpenSSL
 * 3.0's decoder chain (~100 us, more than the signature it guards, issue
 * #19); the signer checks the issuer and the algorithm and signs the bytes,
 * it never needs the key. Every other field is decoded with OpenSSL's own
 * item, as in an X509. */
typedef struct keyproc_spki {
    X509_ALGOR *algorithm;
    ASN1_BIT_STRING *key;
} KEYPROC_SPKI;

ASN1_SEQUENCE(KEYPROC_SPKI) = {
    ASN1_SIMPLE(KEYPROC_SPKI, algorithm, X509_ALGOR),
    ASN1_SIMPLE(KEYPROC_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(KEYPROC_SPKI)

typedef struct keyproc_tbs {
    ASN1_INTEGER *version;
    ASN1_INTEGER *serial;
    X509_ALGOR *signature;
    X509_NAME *issuer;
    X509_VAL *validity;
    X509_NAME *subject;
    KEYPROC_SPKI *spki;
    ASN1_BIT_STRING *issuer_uid;
    ASN1_BIT_STRING *subject_uid;
    STACK_OF(X509_EXTENSION) *extensions;
} KEYPROC_TBS;

ASN1_SEQUENCE(KEYPROC_TBS) = {
    ASN1_EXP_OPT(KEYPROC_TBS, version, ASN1_INTEGER, 0),
    ASN1_SIMPLE(KEYPROC_TBS, serial, ASN1_INTEGER),
    ASN1_SIMPLE(KEYPROC_TBS, signature, X509_ALGOR),
    ASN1_SIMPLE(KEYPROC_TBS, issuer, X509_NAME),
    ASN1_SIMPLE(KEYPROC_TBS, validity, X509_VAL),
    ASN1_SIMPLE(KEYPROC_TBS, subject, X509_NAME),
    ASN1_SIMPLE(KEYPROC_TBS, spki, KEYPROC_SPKI),
    ASN1_IMP_OPT(KEYPROC_TBS, issuer_uid, ASN1_BIT_STRING, 1),
    ASN1_IMP_OPT(KEYPROC_TBS, subject_uid, ASN1_BIT_STRING, 2),
    ASN1_EXP_SEQUENCE_OF_OPT(KEYPROC_TBS, extensions, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END(KEYPROC_TBS)

static est_status check_tbs_certificate(const keyproc_key *k, const uint8_t *tbs, size_t len,
                                        est_error *err)
{
    const unsigned char *p = tbs;
    KEYPROC_TBS *cert = NULL;
    uint8_t *again = NULL;
    int again_len;
    est_status rc = EST_E_INPUT;

    if (len < 2 || tbs[0] != 0x30)
        return est_error_set(err, rc, "not a DER TBSCertificate");
    cert = (KEYPROC_TBS *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(KEYPROC_TBS));
    if (cert == NULL || p != tbs + len) {
        rc = est_error_set_openssl(err, rc, "not a well-formed TBSCertificate");
        goto out;
    }
    again_len = ASN1_item_i2d((ASN1_VALUE *)cert, &again, ASN1_ITEM_rptr(KEYPROC_TBS));
    if (again_len < 0 || (size_t)again_len != len || memcmp(again, tbs, len) != 0) {
        rc = est_error_set(err, rc, "TBSCertificate is not DER");
        goto out;
    }
    /* RFC 5280 §4.1.2.3: the inner algorithm must equal the outer. */
    if (X509_ALGOR_cmp(cert->signature, k->sig_alg) != 0) {
        rc = est_error_set(err, EST_E_POLICY, "signature algorithm is not this key's");
        goto out;
    }
    if (X509_NAME_cmp(cert->issuer, X509_get_subject_name(k->cert)) != 0) {
        rc = est_error_set(err, EST_E_POLICY, "issuer is not this key's CA");
        goto out;
    }
    rc = EST_OK;
out:
    OPENSSL_free(again);
    ASN1_item_free((ASN1_VALUE *)cert, ASN1_ITEM_rptr(KEYPROC_TBS));
    return rc;
}

/* RFC 5652 §5.3: SignedAttributes ::= SET SIZE (1..MAX) OF Attribute, and
 * §5.3/§11.1-2: contentType and messageDigest must be among them. */
typedef STACK_OF(X509_ATTRIBUTE) KEYPROC_SIGNED_ATTRS;
DECLARE_ASN1_FUNCTIONS(KEYPROC_SIGNED_ATTRS)
ASN1_ITEM_TEMPLATE(KEYPROC_SIGNED_ATTRS) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_OF, 0, SignedAttributes, X509_ATTRIBUTE)
ASN1_ITEM_TEMPLATE_END(KEYPROC_SIGNED_ATTRS)
IMPLEMENT_ASN1_FUNCTIONS(KEYPROC_SIGNED_ATTRS)

static est_status check_signed_attrs(const uint8_t *der, size_t len, est_error *err)
{
    const unsigned char *p = der;
    KEYPROC_SIGNED_ATTRS *attrs = d2i_KEYPROC_SIGNED_ATTRS(NULL, &p, (long)len);
    est_status rc = EST_E_INPUT;

    if (attrs == NULL || p != der + len || der[0] != 0x31) {
        rc = est_error_set_openssl(err, rc, "not DER CMS signed attributes");
        goto out;
    }
    if (X509at_get_attr_by_NID(attrs, NID_pkcs9_contentType, -1) < 0 ||
        X509at_get_attr_by_NID(attrs, NID_pkcs9_messageDigest, -1) < 0) {
        rc = est_error_set(err, EST_E_POLICY, "signed attributes lack contentType or "
                           "messageDigest");
        goto out;
    }
    rc = EST_OK;
out:
    sk_X509_ATTRIBUTE_pop_free(attrs, X509_ATTRIBUTE_free);
    return rc;
}

est_status keyproc_request_check(const keyproc_key *keys, size_t key_count, const uint8_t *msg,
                                 size_t len, keyproc_request *out, est_error *err)
{
    const keyproc_key *k;

    if (len > KEYPROC_REQUEST_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "request over %d bytes", KEYPROC_REQUEST_MAX);
    if (len <= KEYPROC_HEADER_BYTES || msg[0] != KEYPROC_VERSION || msg[3] != 0)
        return est_error_set(err, EST_E_INPUT, "not a version %d request", KEYPROC_VERSION);
    if (msg[2] >= key_count)
        return est_error_set(err, EST_E_INPUT, "no key %u", msg[2]);
    if (keys[msg[2]].key == NULL)
        return est_error_set(err, EST_E_INPUT, "no key %u (an RA label)", msg[2]);
    out->key_index = msg[2];
    out->payload = msg + KEYPROC_HEADER_BYTES;
    out->payload_len = len - KEYPROC_HEADER_BYTES;
    k = &keys[out->key_index];
    switch (msg[1]) {
    case KEYPROC_SIGN_CERT:
        out->op = KEYPROC_SIGN_CERT;
        return check_tbs_certificate(k, out->payload, out->payload_len, err);
    case KEYPROC_SIGN_DATA:
        out->op = KEYPROC_SIGN_DATA;
        return check_signed_attrs(out->payload, out->payload_len, err);
    case KEYPROC_SIGN_CRL:
        out->op = KEYPROC_SIGN_CRL;
        return check_tbs_crl(k, out->payload, out->payload_len, err);
    default:
        return est_error_set(err, EST_E_INPUT, "unknown operation %u", msg[1]);
    }
}
