/* CSR attributes, the body of /csrattrs (draft-04 §4.5.2, RFC 7030 §4.5.2).
 *
 * RFC 7030:  CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
 *            AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
 * draft-04:  Csrattrs ::= SEQUENCE SIZE (0..MAX) OF OBJECT IDENTIFIER
 *
 * A draft body is a valid RFC body whose entries are all bare OIDs, so one
 * decoder reads both. Entries are kept in order and as received, including
 * OIDs and attribute types we do not know: draft-04 §4.5.2 tells the client
 * to ignore those, which is the client's decision, not the codec's. The
 * codec is OpenSSL ASN.1 templates; Attribute is OpenSSL's X509_ATTRIBUTE. */
#include <stdlib.h>
#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include "estkit/csrattrs.h"
#include "estkit/key.h"

typedef struct attr_or_oid_st {
    int type; /* ATTR_OR_OID_OID or ATTR_OR_OID_ATTRIBUTE: the CHOICE arm */
    union {
        ASN1_OBJECT *oid;
        X509_ATTRIBUTE *attribute;
    } value;
} ATTR_OR_OID;

/* The CHOICE arms in template order. */
#define ATTR_OR_OID_OID 0
#define ATTR_OR_OID_ATTRIBUTE 1

DEFINE_STACK_OF(ATTR_OR_OID)
typedef STACK_OF(ATTR_OR_OID) CSR_ATTRS;
typedef STACK_OF(ASN1_OBJECT) OID_SEQUENCE;

ASN1_CHOICE(ATTR_OR_OID) = {
    ASN1_SIMPLE(ATTR_OR_OID, value.oid, ASN1_OBJECT),
    ASN1_SIMPLE(ATTR_OR_OID, value.attribute, X509_ATTRIBUTE),
} static_ASN1_CHOICE_END(ATTR_OR_OID)

ASN1_ITEM_TEMPLATE(CSR_ATTRS) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CsrAttrs, ATTR_OR_OID)
static_ASN1_ITEM_TEMPLATE_END(CSR_ATTRS)

/* The draft-04 body: written from borrowed OIDs, never decoded (CSR_ATTRS
 * reads it). */
ASN1_ITEM_TEMPLATE(OID_SEQUENCE) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, Csrattrs, ASN1_OBJECT)
static_ASN1_ITEM_TEMPLATE_END(OID_SEQUENCE)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(ATTR_OR_OID)

struct est_csrattrs {
    CSR_ATTRS *entries;
};

static void csr_attrs_free(CSR_ATTRS *entries)
{
    sk_ATTR_OR_OID_pop_free(entries, ATTR_OR_OID_free);
}

est_csrattrs *est_csrattrs_new(void)
{
    est_csrattrs *attrs = OPENSSL_zalloc(sizeof *attrs);

    if (attrs == NULL)
        return NULL;
    attrs->entries = sk_ATTR_OR_OID_new_null();
    if (attrs->entries == NULL) {
        OPENSSL_free(attrs);
        return NULL;
    }
    return attrs;
}

void est_csrattrs_free(est_csrattrs *attrs)
{
    if (attrs == NULL)
        return;
    csr_attrs_free(attrs->entries);
    OPENSSL_free(attrs);
}

est_status est_csrattrs_decode(const uint8_t *der, size_t der_len, est_csrattrs **out,
                               est_error *err)
{
    const unsigned char *p = der;
    CSR_ATTRS *entries = NULL;
    est_csrattrs *attrs = NULL;
    est_status rc;
    int count;

    if (out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "csrattrs decode: NULL argument");
    *out = NULL;
    if (der == NULL || der_len == 0)
        return est_error_set(err, EST_E_INPUT, "empty csrattrs");
    if (der_len > EST_CSRATTRS_MAX_DER)
        return est_error_set(err, EST_E_TOO_LARGE, "csrattrs of %zu bytes exceeds %d",
                             der_len, EST_CSRATTRS_MAX_DER);

    rc = EST_E_INPUT;
    entries = (CSR_ATTRS *)ASN1_item_d2i(NULL, &p, (long)der_len, ASN1_ITEM_rptr(CSR_ATTRS));
    if (entries == NULL) {
        est_error_set_openssl(err, rc, "csrattrs is not a DER SEQUENCE OF AttrOrOID");
        goto out;
    }
    if (p != der + der_len) {
        est_error_set(err, rc, "csrattrs followed by %zu trailing bytes",
                      (size_t)(der + der_len - p));
        goto out;
    }
    count = sk_ATTR_OR_OID_num(entries);
    if (count > EST_CSRATTRS_MAX_ENTRIES) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "csrattrs with %d entries exceeds %d", count,
                           EST_CSRATTRS_MAX_ENTRIES);
        goto out;
    }
    rc = EST_E_NOMEM;
    attrs = OPENSSL_zalloc(sizeof *attrs);
    if (attrs == NULL) {
        est_error_set(err, rc, "csrattrs: out of memory");
        goto out;
    }
    attrs->entries = entries;
    entries = NULL;
    *out = attrs;
    rc = EST_OK;
out:
    csr_attrs_free(entries);
    return rc;
}

/* ASN1_item_i2d into an OPENSSL_malloc'd buffer (the caller: est_free),
 * bounded like the decoder so we never write what we would refuse. */
static est_status encode_item(const ASN1_VALUE *value, const ASN1_ITEM *item, uint8_t **der,
                              size_t *der_len, est_error *err)
{
    unsigned char *buf, *p;
    int len;

    len = ASN1_item_i2d(value, NULL, item);
    if (len <= 0)
        return est_error_set_openssl(err, EST_E_INTERNAL, "csrattrs: cannot encode");
    if (len > EST_CSRATTRS_MAX_DER)
        return est_error_set(err, EST_E_TOO_LARGE, "csrattrs of %d bytes exceeds %d", len,
                             EST_CSRATTRS_MAX_DER);
    buf = OPENSSL_malloc((size_t)len);
    if (buf == NULL)
        return est_error_set(err, EST_E_NOMEM, "csrattrs: out of memory");
    p = buf;
    if (ASN1_item_i2d(value, &p, item) != len) {
        OPENSSL_free(buf);
        return est_error_set_openssl(err, EST_E_INTERNAL, "csrattrs: cannot encode");
    }
    *der = buf;
    *der_len = (size_t)len;
    return EST_OK;
}

static ASN1_OBJECT *entry_oid(const ATTR_OR_OID *entry)
{
    if (entry->type == ATTR_OR_OID_ATTRIBUTE)
        return X509_ATTRIBUTE_get0_object(entry->value.attribute);
    return entry->value.oid;
}

/* draft-04 §4.5.2 knows only OIDs: an attribute is written as its type. */
static est_status encode_draft(const CSR_ATTRS *entries, uint8_t **der, size_t *der_len,
                               est_error *err)
{
    OID_SEQUENCE *oids;
    est_status rc;
    int i;

    oids = sk_ASN1_OBJECT_new_reserve(NULL, sk_ATTR_OR_OID_num(entries));
    if (oids == NULL)
        return est_error_set(err, EST_E_NOMEM, "csrattrs: out of memory");
    for (i = 0; i < sk_ATTR_OR_OID_num(entries); i++) {
        /* Borrowed: the stack is freed without freeing its elements. */
        if (sk_ASN1_OBJECT_push(oids, entry_oid(sk_ATTR_OR_OID_value(entries, i))) <= 0) {
            rc = est_error_set(err, EST_E_NOMEM, "csrattrs: out of memory");
            goto out;
        }
    }
    rc = encode_item((const ASN1_VALUE *)oids, ASN1_ITEM_rptr(OID_SEQUENCE), der, der_len,
                     err);
out:
    sk_ASN1_OBJECT_free(oids);
    return rc;
}

est_status est_csrattrs_encode(const est_csrattrs *attrs, est_dialect dialect, uint8_t **der,
                               size_t *der_len, est_error *err)
{
    if (der == NULL || der_len == NULL || attrs == NULL)
        return est_error_set(err, EST_E_INTERNAL, "csrattrs encode: NULL argument");
    *der = NULL;
    *der_len = 0;
    if (dialect == EST_DIALECT_DRAFT)
        return encode_draft(attrs->entries, der, der_len, err);
    return encode_item((const ASN1_VALUE *)attrs->entries, ASN1_ITEM_rptr(CSR_ATTRS), der,
                       der_len, err);
}

size_t est_csrattrs_count(const est_csrattrs *attrs)
{
    if (attrs == NULL)
        return 0;
    return (size_t)sk_ATTR_OR_OID_num(attrs->entries);
}

static const ATTR_OR_OID *entry_at(const est_csrattrs *attrs, size_t i)
{
    if (i >= est_csrattrs_count(attrs))
        return NULL;
    return sk_ATTR_OR_OID_value(attrs->entries, (int)i);
}

const ASN1_OBJECT *est_csrattrs_get0_oid(const est_csrattrs *attrs, size_t i)
{
    const ATTR_OR_OID *entry = entry_at(attrs, i);

    return entry == NULL ? NULL : entry_oid(entry);
}

const X509_ATTRIBUTE *est_csrattrs_get0_attribute(const est_csrattrs *attrs, size_t i)
{
    const ATTR_OR_OID *entry = entry_at(attrs, i);

    if (entry == NULL || entry->type != ATTR_OR_OID_ATTRIBUTE)
        return NULL;
    return entry->value.attribute;
}

int est_csrattrs_has_nid(const est_csrattrs *attrs, int nid)
{
    size_t i, count = est_csrattrs_count(attrs);

    /* Every unknown OID maps to NID_undef; it names nothing to look for. */
    if (nid == NID_undef)
        return 0;
    for (i = 0; i < count; i++)
        if (OBJ_obj2nid(est_csrattrs_get0_oid(attrs, i)) == nid)
            return 1;
    return 0;
}

/* Appends entry, taking ownership on success only. */
static est_status append_entry(est_csrattrs *attrs, ATTR_OR_OID *entry, est_error *err)
{
    if (est_csrattrs_count(attrs) >= EST_CSRATTRS_MAX_ENTRIES)
        return est_error_set(err, EST_E_TOO_LARGE, "csrattrs already holds %d entries",
                             EST_CSRATTRS_MAX_ENTRIES);
    if (sk_ATTR_OR_OID_push(attrs->entries, entry) <= 0)
        return est_error_set(err, EST_E_NOMEM, "csrattrs: out of memory");
    return EST_OK;
}

est_status est_csrattrs_add_oid(est_csrattrs *attrs, const char *oid, est_error *err)
{
    ATTR_OR_OID *entry = NULL;
    est_status rc;

    if (attrs == NULL || oid == NULL)
        return est_error_set(err, EST_E_INTERNAL, "csrattrs add: NULL argument");
    rc = EST_E_NOMEM;
    entry = ATTR_OR_OID_new();
    if (entry == NULL) {
        est_error_set(err, rc, "csrattrs: out of memory");
        goto out;
    }
    /* no_name = 0: "challengePassword" and "1.2.840.113549.1.9.7" both work. */
    entry->type = ATTR_OR_OID_OID;
    entry->value.oid = OBJ_txt2obj(oid, 0);
    if (entry->value.oid == NULL) {
        rc = est_error_set_openssl(err, EST_E_INPUT, "csrattrs: not an OID or OID name: %.64s",
                                   oid);
        goto out;
    }
    rc = append_entry(attrs, entry, err);
    if (rc == EST_OK)
        entry = NULL;
out:
    ATTR_OR_OID_free(entry);
    return rc;
}

est_status est_csrattrs_add_attribute(est_csrattrs *attrs, X509_ATTRIBUTE *attr, est_error *err)
{
    ATTR_OR_OID *entry;
    est_status rc;

    if (attrs == NULL || attr == NULL)
        return est_error_set(err, EST_E_INTERNAL, "csrattrs add: NULL argument");
    entry = ATTR_OR_OID_new();
    if (entry == NULL)
        return est_error_set(err, EST_E_NOMEM, "csrattrs: out of memory");
    entry->type = ATTR_OR_OID_ATTRIBUTE;
    entry->value.attribute = attr;
    rc = append_entry(attrs, entry, err);
    if (rc != EST_OK) {
        /* The caller keeps attr on failure: detach it before freeing. */
        entry->value.attribute = NULL;
        ATTR_OR_OID_free(entry);
    }
    return rc;
}

/* --- what /csrattrs asks of the key (draft-04 §4.5.2) --- */

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
