/* Building the client's PKCS#10 request (draft-04 §4.2.1) and reading what
 * /csrattrs asks of it (§4.5.2). All encoding is OpenSSL's. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "client_internal.h"

/* RFC 2307 macAddress: IA5String "xx:xx:xx:xx:xx:xx". */
#define OID_MAC_ADDRESS "1.3.6.1.1.1.1.22"
#define MAC_ADDRESS_MAX 64
#define SAN_TEXT_MAX 4096

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

/* "dns:x" -> "DNS:x"; a bare name gets IP: or DNS:. OpenSSL's parser wants
 * its own spelling of the type. */
static est_status san_item(const char *item, char *out, size_t cap, est_error *err)
{
    static const char *const types[] = {"DNS", "IP", "email", "URI", "RID"};
    const char *colon = strchr(item, ':');
    unsigned char addr[16];

    for (size_t i = 0; colon != NULL && i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        if ((size_t)(colon - item) == n && strncasecmp(item, types[i], n) == 0) {
            snprintf(out, cap, "%s:%s", types[i], colon + 1);
            return EST_OK;
        }
    }
    if (inet_pton(AF_INET, item, addr) == 1 || inet_pton(AF_INET6, item, addr) == 1)
        snprintf(out, cap, "IP:%s", item);
    else if (colon == NULL)
        snprintf(out, cap, "DNS:%s", item);
    else
        return est_error_set(err, EST_E_INPUT, "subjectAltName %s: unknown type (DNS, IP, "
                                               "email, URI, RID)", item);
    return EST_OK;
}

/* One "TYPE:value" through OpenSSL's subjectAltName parser. */
static est_status san_one(const char *spec, GENERAL_NAMES *names, est_error *err)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, spec);
    GENERAL_NAMES *one = ext ? X509V3_EXT_d2i(ext) : NULL;
    est_status rc = EST_E_INPUT;

    if (one == NULL) {
        est_error_set_openssl(err, EST_E_INPUT, "subjectAltName %s", spec);
        goto out;
    }
    while (sk_GENERAL_NAME_num(one) > 0) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_shift(one);
        if (sk_GENERAL_NAME_num(names) >= EST_SAN_MAX_NAMES || !sk_GENERAL_NAME_push(names, gn)) {
            GENERAL_NAME_free(gn);
            rc = est_error_set(err, EST_E_TOO_LARGE, "more than %d subjectAltNames",
                               EST_SAN_MAX_NAMES);
            goto out;
        }
    }
    rc = EST_OK;
out:
    GENERAL_NAMES_free(one);
    X509_EXTENSION_free(ext);
    return rc;
}

est_status est_san_parse(const char *text, GENERAL_NAMES **names, est_error *err)
{
    char spec[SAN_TEXT_MAX + 8], *copy = NULL, *save = NULL, *tok;
    int created = 0;
    est_status rc = EST_E_INPUT;

    if (text == NULL || names == NULL)
        return est_error_set(err, EST_E_INTERNAL, "subjectAltName: NULL argument");
    if (strlen(text) > SAN_TEXT_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "subjectAltName longer than %d characters",
                             SAN_TEXT_MAX);
    if ((copy = strdup(text)) == NULL ||
        (*names == NULL && (created = 1, *names = GENERAL_NAMES_new()) == NULL)) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            continue;
        if ((rc = san_item(tok, spec, sizeof spec, err)) != EST_OK ||
            (rc = san_one(spec, *names, err)) != EST_OK)
            goto out;
    }
    rc = sk_GENERAL_NAME_num(*names) > 0 ? EST_OK
                                          : est_error_set(err, EST_E_INPUT, "empty subjectAltName");
out:
    if (rc != EST_OK && created) {
        GENERAL_NAMES_free(*names);
        *names = NULL;
    }
    free(copy);
    return rc;
}

static int curve_type(int nid, est_key_type *type)
{
    switch (nid) {
    case NID_X9_62_prime256v1: *type = EST_KEY_EC_P256; return 1;
    case NID_secp384r1: *type = EST_KEY_EC_P384; return 1;
    default: return 0; /* 1.3.132.0.4 is sect113r1: never P-384 (docs/design.md §2) */
    }
}

/* RFC 7030 §4.5.2 attribute forms: ecPublicKey with a curve OID, and
 * rsaEncryption with a key size (RFC 9908 §3.3). */
static int attribute_type(int nid, const X509_ATTRIBUTE *attr, est_key_type *type)
{
    ASN1_TYPE *v = X509_ATTRIBUTE_get0_type((X509_ATTRIBUTE *)attr, 0);
    long bits;

    if (nid == NID_X9_62_id_ecPublicKey && v != NULL && v->type == V_ASN1_OBJECT)
        return curve_type(OBJ_obj2nid(v->value.object), type);
    if (nid == NID_rsaEncryption && v != NULL && v->type == V_ASN1_INTEGER) {
        bits = ASN1_INTEGER_get(v->value.integer);
        *type = bits >= 4096   ? EST_KEY_RSA_4096
                : bits >= 3072 ? EST_KEY_RSA_3072
                               : EST_KEY_RSA_2048;
        return 1;
    }
    return 0;
}

static int bare_type(int nid, est_key_type *type)
{
    switch (nid) {
    case NID_X9_62_id_ecPublicKey: *type = EST_KEY_EC_P256; return 1;
    case NID_rsaEncryption: *type = EST_KEY_RSA_2048; return 1;
    case NID_ED25519: *type = EST_KEY_ED25519; return 1;
    default: return 0;
    }
}

void est_csrattrs_key_wishes(const est_csrattrs *attrs, int *type_set, est_key_type *type,
                             const EVP_MD **md)
{
    est_key_type generic = EST_KEY_EC_P256;
    int generic_set = 0;

    *type_set = 0;
    *md = NULL;
    for (size_t i = 0; attrs != NULL && i < est_csrattrs_count(attrs); i++) {
        int nid = OBJ_obj2nid(est_csrattrs_get0_oid(attrs, i));
        const X509_ATTRIBUTE *attr = est_csrattrs_get0_attribute(attrs, i);
        /* A named curve or size says more than a bare algorithm OID, in
         * whatever order they come. */
        if (attr != NULL ? attribute_type(nid, attr, type) : curve_type(nid, type))
            *type_set = 1;
        else if (attr == NULL && bare_type(nid, &generic))
            generic_set = 1;
        else if (nid == NID_sha256)
            *md = EVP_sha256();
        else if (nid == NID_sha384)
            *md = EVP_sha384();
        else if (nid == NID_sha512)
            *md = EVP_sha512();
    }
    if (!*type_set && generic_set) {
        *type = generic;
        *type_set = 1;
    }
}
