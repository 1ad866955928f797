/* Building a PKCS#10 request (draft-04 §4.2.1, RFC 2986). All encoding is
 * OpenSSL's. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "client_internal.h"
#include "estkit/key.h"
#include "estkit/csr.h"

/* RFC 2307 macAddress: IA5String "xx:xx:xx:xx:xx:xx". */
#define OID_MAC_ADDRESS "1.3.6.1.1.1.1.22"
#define MAC_ADDRESS_MAX 64

static int is_eddsa(const EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
}

static est_status add_san(X509_REQ *req, const GENERAL_NAMES *san, est_error *err)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, (void *)san);
    est_status rc = EST_E_NOMEM;

    if (exts == NULL || ext == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
        X509_EXTENSION_free(ext);
        est_error_set_openssl(err, EST_E_NOMEM, "CSR subjectAltName");
        goto out;
    }
    if (X509_REQ_add_extensions(req, exts) != 1) {
        est_error_set_openssl(err, EST_E_INTERNAL, "CSR extensionRequest");
        goto out;
    }
    rc = EST_OK;
out:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return rc;
}

static est_status add_mac_address(X509_REQ *req, const char *mac, est_error *err)
{
    ASN1_OBJECT *oid = NULL;
    est_status rc = EST_E_INPUT;

    if (strlen(mac) > MAC_ADDRESS_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "MAC address longer than %d characters",
                             MAC_ADDRESS_MAX);
    oid = OBJ_txt2obj(OID_MAC_ADDRESS, 1);
    if (oid == NULL ||
        X509_REQ_add1_attr_by_OBJ(req, oid, V_ASN1_IA5STRING, (const unsigned char *)mac,
                                  (int)strlen(mac)) != 1) {
        rc = est_error_set_openssl(err, EST_E_INPUT, "CSR macAddress attribute");
        goto out;
    }
    rc = EST_OK;
out:
    ASN1_OBJECT_free(oid);
    return rc;
}

/* Everything but the signature. */
static est_status fill_request(X509_REQ *req, const est_csr_params *p, est_error *err)
{
    est_status rc;

    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        (p->subject != NULL && X509_REQ_set_subject_name(req, p->subject) != 1) ||
        X509_REQ_set_pubkey(req, p->key) != 1)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR subject or key");
    if (p->san != NULL && sk_GENERAL_NAME_num(p->san) > 0 &&
        (rc = add_san(req, p->san, err)) != EST_OK)
        return rc;
    /* draft-04 §3.5: base64 of the channel binding; PrintableString holds
     * the base64 alphabet, and MBSTRING_ASC lets OpenSSL pick it. */
    if (p->challenge_password != NULL &&
        X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_ASC,
                                  (const unsigned char *)p->challenge_password, -1) != 1)
        return est_error_set_openssl(err, EST_E_INPUT, "CSR challengePassword");
    if (p->mac_address != NULL && (rc = add_mac_address(req, p->mac_address, err)) != EST_OK)
        return rc;
    return EST_OK;
}

est_status est_csr_build(const est_csr_params *p, X509_REQ **out, est_error *err)
{
    X509_REQ *req = NULL;
    const EVP_MD *md;
    est_status rc = EST_E_NOMEM;

    if (p == NULL || out == NULL || p->key == NULL)
        return est_error_set(err, EST_E_INTERNAL, "CSR: no key");
    *out = NULL;
    if ((p->subject == NULL || X509_NAME_entry_count(p->subject) == 0) &&
        (p->san == NULL || sk_GENERAL_NAME_num(p->san) == 0))
        return est_error_set(err, EST_E_INPUT, "a CSR needs a subject or a subjectAltName");
    if ((req = X509_REQ_new()) == NULL) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = fill_request(req, p, err)) != EST_OK)
        goto out;
    /* EdDSA signs without a separate digest. */
    md = is_eddsa(p->key) ? NULL : p->md ? p->md : est_key_digest(p->key);
    if (md == NULL && !is_eddsa(p->key))
        md = EVP_sha256();
    if (X509_REQ_sign(req, p->key, md) <= 0) {
        rc = est_error_set_openssl(err, EST_E_INPUT, "signing the CSR");
        goto out;
    }
    *out = req;
    req = NULL;
    rc = EST_OK;
out:
    X509_REQ_free(req);
    return rc;
}
