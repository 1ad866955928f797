/* The certs-only CMC Simple PKI Response (RFC 5272 §4.1), the body of
 * /cacerts, /simpleenroll, /simplereenroll and the certificate part of
 * /serverkeygen (draft-04 §4.1.3, §4.2.3; RFC 7030 §4.1.3, §4.2.3).
 *
 * It is a degenerate PKCS#7/CMS SignedData: version 1, no digest
 * algorithms, encapContentInfo of type id-data with the content absent, the
 * certificates, and no signerInfos. OpenSSL's PKCS7 type encodes the
 * certificates as a SEQUENCE OF rather than a sorted SET OF, which keeps the
 * order the caller gave (the issued certificate first, say, or the four
 * rollover certificates in the order RFC 7030 §4.1.3 lists them). */
#include <limits.h>
#include <stdlib.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include "estkit/certs_only.h"

static est_status check_cert_count(int count, est_error *err)
{
    if (count <= 0)
        return est_error_set(err, EST_E_INPUT, "certs-only response without a certificate");
    if (count > EST_CERTS_ONLY_MAX_CERTS)
        return est_error_set(err, EST_E_TOO_LARGE,
                             "certs-only response with %d certificates exceeds %d", count,
                             EST_CERTS_ONLY_MAX_CERTS);
    return EST_OK;
}

/* i2d into a buffer from OpenSSL's allocator, which the caller frees with
 * est_free (include/estkit/mem.h). */
static est_status encode_pkcs7(PKCS7 *p7, uint8_t **der, size_t *der_len, est_error *err)
{
    unsigned char *buf, *p;
    int len;

    len = i2d_PKCS7(p7, NULL);
    if (len <= 0)
        return est_error_set_openssl(err, EST_E_INTERNAL, "certs-only: cannot encode PKCS#7");
    buf = OPENSSL_malloc((size_t)len);
    if (buf == NULL)
        return est_error_set(err, EST_E_NOMEM, "certs-only: out of memory");
    p = buf;
    if (i2d_PKCS7(p7, &p) != len) {
        OPENSSL_free(buf);
        return est_error_set_openssl(err, EST_E_INTERNAL, "certs-only: cannot encode PKCS#7");
    }
    *der = buf;
    *der_len = (size_t)len;
    return EST_OK;
}

est_status est_certs_only_build(STACK_OF(X509) *certs, uint8_t **der, size_t *der_len,
                                est_error *err)
{
    PKCS7 *p7 = NULL;
    est_status rc;
    int i, count;

    if (der == NULL || der_len == NULL)
        return est_error_set(err, EST_E_INTERNAL, "certs-only build: NULL argument");
    *der = NULL;
    *der_len = 0;
    count = certs == NULL ? 0 : sk_X509_num(certs);
    rc = check_cert_count(count, err);
    if (rc != EST_OK)
        return rc;

    rc = EST_E_NOMEM;
    p7 = PKCS7_new();
    /* PKCS7_set_type gives SignedData version 1 and an empty digestAlgorithms
     * SET; the detached flag drops the empty id-data content so that the
     * encapContentInfo is the bare OID RFC 5272 §4.1 describes. */
    if (p7 == NULL || PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
        PKCS7_content_new(p7, NID_pkcs7_data) != 1 || PKCS7_set_detached(p7, 1) != 1) {
        est_error_set_openssl(err, rc, "certs-only: cannot create PKCS#7");
        goto out;
    }
    for (i = 0; i < count; i++) {
        X509 *cert = sk_X509_value(certs, i);

        if (cert == NULL) {
            rc = est_error_set(err, EST_E_INTERNAL, "certs-only build: NULL certificate %d", i);
            goto out;
        }
        /* PKCS7_add_certificate takes its own reference. */
        if (PKCS7_add_certificate(p7, cert) != 1) {
            est_error_set_openssl(err, rc, "certs-only: cannot add certificate %d", i);
            goto out;
        }
    }
    rc = encode_pkcs7(p7, der, der_len, err);
out:
    PKCS7_free(p7);
    return rc;
}

/* The SignedData of a Simple PKI Response: no signers (a signed response is
 * a Full PKI Response, RFC 5272 §4.2, which is /fullcmc's business). The
 * encapsulated content type is not checked: RFC 5272 §4.1 says id-data and
 * every server we know sends it, but the certificates mean the same whatever
 * it says, so refusing another would only cost interoperability (be liberal,
 * docs/design.md §2). */
static est_status check_signed_data(const PKCS7 *p7, est_error *err)
{
    const PKCS7_SIGNED *sd;
    int signers;

    if (OBJ_obj2nid(p7->type) != NID_pkcs7_signed)
        return est_error_set(err, EST_E_INPUT, "certs-only: content type is %s, not signedData",
                             OBJ_nid2sn(OBJ_obj2nid(p7->type)));
    sd = p7->d.sign;
    /* [0] content is OPTIONAL in PKCS7's ContentInfo. */
    if (sd == NULL)
        return est_error_set(err, EST_E_INPUT, "certs-only: signedData without content");
    signers = sd->signer_info == NULL ? 0 : sk_PKCS7_SIGNER_INFO_num(sd->signer_info);
    if (signers != 0)
        return est_error_set(err, EST_E_INPUT,
                             "certs-only: %d signerInfos (a Simple PKI Response has none)",
                             signers);
    return check_cert_count(sd->cert == NULL ? 0 : sk_X509_num(sd->cert), err);
}

est_status est_certs_only_parse(const uint8_t *der, size_t der_len, STACK_OF(X509) **certs,
                                est_error *err)
{
    const unsigned char *p = der;
    PKCS7 *p7 = NULL;
    est_status rc;

    if (certs == NULL)
        return est_error_set(err, EST_E_INTERNAL, "certs-only parse: NULL argument");
    *certs = NULL;
    if (der == NULL || der_len == 0)
        return est_error_set(err, EST_E_INPUT, "empty certs-only response");
    if (der_len > LONG_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "certs-only response too large");

    rc = EST_E_INPUT;
    p7 = d2i_PKCS7(NULL, &p, (long)der_len);
    if (p7 == NULL) {
        est_error_set_openssl(err, rc, "certs-only response is not a DER PKCS#7");
        goto out;
    }
    if (p != der + der_len) {
        est_error_set(err, rc, "certs-only response followed by %zu trailing bytes",
                      (size_t)(der + der_len - p));
        goto out;
    }
    rc = check_signed_data(p7, err);
    if (rc != EST_OK)
        goto out;
    /* A new stack holding its own reference to each certificate. */
    *certs = X509_chain_up_ref(p7->d.sign->cert);
    if (*certs == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "certs-only: out of memory");
        goto out;
    }
    rc = EST_OK;
out:
    PKCS7_free(p7);
    return rc;
}
