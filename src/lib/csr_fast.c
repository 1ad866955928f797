/* A PKCS#10 request (RFC 2986 §4) read without OpenSSL 3.0's key decoders.
 *
 * d2i_X509_REQ decodes the SubjectPublicKeyInfo through an OSSL_DECODER
 * chain whose set-up (iterating every provider algorithm under a lock)
 * costs more than the signature check that follows: 132 us against 52 us
 * for a P-256 request (docs/PERFORMANCE.md, issue #19). For the keys EST
 * devices use (EC with a named P-256/P-384/P-521 curve, RSA) the request is
 * read here with ASN.1 templates that keep the key as bytes; the key is
 * built from those bytes by its type's own decoder (d2i_KeyParams +
 * d2i_PublicKey: OpenSSL's ASN.1 method, no decoder chain; o2i checks the
 * point is on the curve) and an X509_REQ is assembled from the parts.
 *
 * The assembled request is handed out only when it encodes back to exactly
 * the bytes received: what est_csr_check verifies, what is hashed and what
 * the CA copies into the certificate is what the requester signed, and no
 * key or name is re-encoded into something else. Anything else (Ed25519,
 * RSA-PSS keys, explicit curve parameters, BER, a key that does not decode,
 * a version other than v1) is left to d2i_X509_REQ, whose refusals and
 * messages stay as they were. */
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include "csr_internal.h"

/* SubjectPublicKeyInfo as it arrived: algorithm and key bits, undecoded. */
typedef struct est_raw_spki {
    X509_ALGOR *algorithm;
    ASN1_BIT_STRING *key;
} EST_RAW_SPKI;

ASN1_SEQUENCE(EST_RAW_SPKI) = {
    ASN1_SIMPLE(EST_RAW_SPKI, algorithm, X509_ALGOR),
    ASN1_SIMPLE(EST_RAW_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(EST_RAW_SPKI)

/* CertificationRequestInfo with the key kept as bytes. */
typedef struct est_raw_csr_info {
    ASN1_INTEGER *version;
    X509_NAME *subject;
    EST_RAW_SPKI *spki;
    STACK_OF(X509_ATTRIBUTE) *attributes;
} EST_RAW_CSR_INFO;

ASN1_SEQUENCE(EST_RAW_CSR_INFO) = {
    ASN1_SIMPLE(EST_RAW_CSR_INFO, version, ASN1_INTEGER),
    ASN1_SIMPLE(EST_RAW_CSR_INFO, subject, X509_NAME),
    ASN1_SIMPLE(EST_RAW_CSR_INFO, spki, EST_RAW_SPKI),
    ASN1_IMP_SET_OF(EST_RAW_CSR_INFO, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END(EST_RAW_CSR_INFO)

typedef struct est_raw_csr {
    EST_RAW_CSR_INFO *info;
    X509_ALGOR *signature_algorithm;
    ASN1_BIT_STRING *signature;
} EST_RAW_CSR;

ASN1_SEQUENCE(EST_RAW_CSR) = {
    ASN1_SIMPLE(EST_RAW_CSR, info, EST_RAW_CSR_INFO),
    ASN1_SIMPLE(EST_RAW_CSR, signature_algorithm, X509_ALGOR),
    ASN1_SIMPLE(EST_RAW_CSR, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(EST_RAW_CSR)

/* The curves est_csr_check accepts (RFC 5480 §2.1.1.1 namedCurve). */
static int curve_supported(int nid)
{
    return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1;
}

/* EC: the namedCurve parameters give the group, the key bits the point. */
static EVP_PKEY *ec_key(const ASN1_OBJECT *curve, const uint8_t *bits, int bits_len)
{
    unsigned char params[32], *w = params;
    const unsigned char *p = params, *q = bits;
    EVP_PKEY *key = NULL;
    int params_len;

    if (!curve_supported(OBJ_obj2nid(curve)) || i2d_ASN1_OBJECT(curve, NULL) > (int)sizeof params)
        return NULL;
    params_len = i2d_ASN1_OBJECT(curve, &w);
    if (params_len <= 0 || (key = d2i_KeyParams(EVP_PKEY_EC, NULL, &p, params_len)) == NULL)
        return NULL;
    if (d2i_PublicKey(EVP_PKEY_EC, &key, &q, bits_len) == NULL || q != bits + bits_len) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

/* RSA (RFC 3279 §2.3.1): the key bits are a DER RSAPublicKey. */
static EVP_PKEY *rsa_key(const uint8_t *bits, int bits_len)
{
    const unsigned char *q = bits;
    EVP_PKEY *key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, bits_len);

    if (key != NULL && q != bits + bits_len) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static EVP_PKEY *key_of(const EST_RAW_SPKI *spki)
{
    const ASN1_OBJECT *oid = NULL;
    const void *params = NULL;
    int params_type = 0, len = ASN1_STRING_length(spki->key);
    const uint8_t *bits = ASN1_STRING_get0_data(spki->key);

    X509_ALGOR_get0(&oid, &params_type, &params, spki->algorithm);
    if (len <= 0)
        return NULL;
    switch (OBJ_obj2nid(oid)) {
    case NID_X9_62_id_ecPublicKey:
        return params_type == V_ASN1_OBJECT ? ec_key(params, bits, len) : NULL;
    case NID_rsaEncryption:
        return params_type == V_ASN1_NULL ? rsa_key(bits, len) : NULL;
    default:
        return NULL;
    }
}

/* An X509_REQ holding raw's parts and key (not consumed). */
static X509_REQ *assemble(EST_RAW_CSR *raw, EVP_PKEY *key)
{
    X509_REQ *req = X509_REQ_new();
    int ok = req != NULL && X509_REQ_set_version(req, X509_REQ_VERSION_1) &&
             X509_REQ_set_subject_name(req, raw->info->subject) &&
             X509_REQ_set_pubkey(req, key) &&
             X509_REQ_set1_signature_algo(req, raw->signature_algorithm);

    for (int i = 0; ok && i < sk_X509_ATTRIBUTE_num(raw->info->attributes); i++)
        ok = X509_REQ_add1_attr(req, sk_X509_ATTRIBUTE_value(raw->info->attributes, i));
    if (!ok) {
        X509_REQ_free(req);
        return NULL;
    }
    X509_REQ_set0_signature(req, raw->signature);
    raw->signature = NULL;
    return req;
}

/* 1 when req encodes to exactly der. */
static int encodes_to(const X509_REQ *req, const uint8_t *der, size_t der_len)
{
    unsigned char *again = NULL;
    int len = i2d_X509_REQ(req, &again);
    int same = len > 0 && (size_t)len == der_len && memcmp(again, der, der_len) == 0;

    OPENSSL_free(again);
    return same;
}

X509_REQ *csr_decode_fast(const uint8_t *der, size_t der_len)
{
    const unsigned char *p = der;
    EST_RAW_CSR *raw = NULL;
    EVP_PKEY *key = NULL;
    X509_REQ *req = NULL;

    if (der == NULL || der_len == 0 || der_len > EST_CSR_MAX_DER)
        return NULL;
    ERR_set_mark(); /* a request left to d2i_X509_REQ leaves no errors of ours */
    raw = (EST_RAW_CSR *)ASN1_item_d2i(NULL, &p, (long)der_len, ASN1_ITEM_rptr(EST_RAW_CSR));
    if (raw == NULL || p != der + der_len || ASN1_INTEGER_get(raw->info->version) != 0 ||
        (key = key_of(raw->info->spki)) == NULL || (req = assemble(raw, key)) == NULL)
        goto out;
    if (!encodes_to(req, der, der_len)) {
        X509_REQ_free(req);
        req = NULL;
    }
out:
    ERR_pop_to_mark();
    EVP_PKEY_free(key);
    ASN1_item_free((ASN1_VALUE *)raw, ASN1_ITEM_rptr(EST_RAW_CSR));
    return req;
}
