/* Tests src/lib/csrattrs.c: the /csrattrs codec in both dialects, the
 * docs/design.md §2 seed vectors, RFC 7030-style attributes, limits, bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "estkit/body.h"
#include "estkit/csrattrs.h"
#include "estkit/key.h"
#include "estkit/mem.h"
#include "unit_main.h"

/* ---- helpers ------------------------------------------------------------ */

/* Hex to bytes (test vectors are written as hex; malloc'd). */
static uint8_t *from_hex(const char *hex, size_t *len)
{
    long n = 0;
    uint8_t *buf = OPENSSL_hexstr2buf(hex, &n);
    uint8_t *copy;

    assert_non_null(buf);
    copy = malloc((size_t)n + 1);
    assert_non_null(copy);
    memcpy(copy, buf, (size_t)n);
    OPENSSL_free(buf);
    *len = (size_t)n;
    return copy;
}

static uint8_t *from_base64(const char *b64, size_t *len)
{
    size_t in_len = strlen(b64);
    uint8_t *buf = malloc(in_len);
    int n, pad = 0;

    assert_non_null(buf);
    n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)in_len);
    assert_true(n > 0);
    /* EVP_DecodeBlock counts padding as zero bytes. */
    while (in_len > 0 && b64[--in_len] == '=')
        pad++;
    *len = (size_t)(n - pad);
    return buf;
}

static void oid_text(const ASN1_OBJECT *oid, char *buf, size_t size)
{
    assert_non_null(oid);
    assert_true(OBJ_obj2txt(buf, (int)size, oid, 1) > 0);
}

static void assert_oids(const est_csrattrs *attrs, const char *const *oids, size_t count)
{
    char buf[128];

    assert_int_equal(est_csrattrs_count(attrs), count);
    for (size_t i = 0; i < count; i++) {
        oid_text(est_csrattrs_get0_oid(attrs, i), buf, sizeof buf);
        assert_string_equal(buf, oids[i]);
    }
    assert_null(est_csrattrs_get0_oid(attrs, count));
    assert_null(est_csrattrs_get0_attribute(attrs, count));
}

static void assert_encodes_to(const est_csrattrs *attrs, est_dialect dialect,
                              const uint8_t *want, size_t want_len)
{
    uint8_t *der = NULL;
    size_t len = 0;
    est_error err;

    assert_int_equal(est_csrattrs_encode(attrs, dialect, &der, &len, &err), EST_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(der, want, want_len);
    est_free(der);
}

static est_csrattrs *decode_ok(const uint8_t *der, size_t len)
{
    est_csrattrs *attrs = NULL;
    est_error err;

    assert_int_equal(est_csrattrs_decode(der, len, &attrs, &err), EST_OK);
    assert_non_null(attrs);
    return attrs;
}

static void expect_decode_fails(const uint8_t *der, size_t len, est_status code)
{
    est_csrattrs *attrs = (est_csrattrs *)1;
    est_error err;

    est_error_clear(&err);
    assert_int_equal(est_csrattrs_decode(der, len, &attrs, &err), code);
    assert_int_equal(err.code, code);
    assert_true(err.message[0] != '\0');
    assert_null(attrs);
}

/* ---- docs/design.md §2 seed vectors (draft-04 §4.5.2 and its appendix) ----------- */

static const char seed_four[] = "MCYGBysGAQEBARYGCSqGSIb3DQEJBwYFK4EEAAQGCWCGSAFlAwQCAg==";
static const char seed_two[] = "MBQGBysGAQEBARYGCSqGSIb3DQEJBw==";

/* The seed vector b64 is want_len bytes of DER that decode to exactly
 * oids and encode back to the same bytes in both dialects. */
static est_csrattrs *seed_round_trips(const char *b64, size_t want_len, const char *const *oids,
                                      size_t n)
{
    size_t len;
    uint8_t *der = from_base64(b64, &len);
    est_csrattrs *attrs;

    assert_int_equal(len, want_len);
    attrs = decode_ok(der, len);
    assert_oids(attrs, oids, n);
    assert_encodes_to(attrs, EST_DIALECT_RFC7030, der, len);
    assert_encodes_to(attrs, EST_DIALECT_DRAFT, der, len);
    free(der);
    return attrs;
}

static void seed_vector_four_oids(void **state)
{
    static const char *const oids[] = {"1.3.6.1.1.1.1.22", "1.2.840.113549.1.9.7",
                                       "1.3.132.0.4", "2.16.840.1.101.3.4.2.2"};
    est_csrattrs *attrs = seed_round_trips(seed_four, 40, oids, 4);

    (void)state;
    for (size_t i = 0; i < 4; i++)
        assert_null(est_csrattrs_get0_attribute(attrs, i));
    /* The seed's erratum: 1.3.132.0.4 is sect113r1, never P-384. */
    assert_int_equal(OBJ_obj2nid(est_csrattrs_get0_oid(attrs, 2)), NID_sect113r1);
    assert_int_not_equal(OBJ_obj2nid(est_csrattrs_get0_oid(attrs, 2)), NID_secp384r1);
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_secp384r1), 0);
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_pkcs9_challengePassword), 1);
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_sha384), 1);
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_sha256), 0);
    est_csrattrs_free(attrs);
}

static void seed_vector_two_oids(void **state)
{
    static const char *const oids[] = {"1.3.6.1.1.1.1.22", "1.2.840.113549.1.9.7"};
    (void)state;
    est_csrattrs_free(seed_round_trips(seed_two, 22, oids, 2));
}

/* ---- RFC 7030 §4.5.2 attributes -------------------------------------------- */

/* SEQUENCE {
 *   challengePassword,
 *   Attribute { id-ecPublicKey, SET { secp384r1 } },
 *   Attribute { extensionRequest, SET { Extensions {
 *       { basicConstraints, OCTET STRING 30 00 },
 *       { extKeyUsage, OCTET STRING { SEQUENCE { clientAuth } } } } } },
 *   ecdsa-with-SHA384 }
 * Written with `openssl asn1parse -genconf`, not with the code under test. */
static const char rfc_attrs_hex[] =
    "305a06092a864886f70d010907301206072a8648ce3d0201310706052b81040022302f06092a864886f70d"
    "01090e3122302030090603551d130402300030130603551d25040c300a06082b0601050507030206082a86"
    "48ce3d040303";
static const char rfc_attrs_draft_hex[] =
    "302906092a864886f70d01090706072a8648ce3d020106092a864886f70d01090e06082a8648ce3d040303";

static void rfc_attributes_round_trip(void **state)
{
    static const char *const oids[] = {"1.2.840.113549.1.9.7", "1.2.840.10045.2.1",
                                       "1.2.840.113549.1.9.14", "1.2.840.10045.4.3.3"};
    size_t len, draft_len;
    uint8_t *der = from_hex(rfc_attrs_hex, &len);
    uint8_t *draft = from_hex(rfc_attrs_draft_hex, &draft_len);
    est_csrattrs *attrs = decode_ok(der, len);
    X509_ATTRIBUTE *attr;
    ASN1_TYPE *value;
    STACK_OF(X509_EXTENSION) *exts;
    const unsigned char *p;

    (void)state;
    assert_oids(attrs, oids, 4);
    assert_null(est_csrattrs_get0_attribute(attrs, 0));
    assert_null(est_csrattrs_get0_attribute(attrs, 3));

    /* id-ecPublicKey asks for P-384 by its value. */
    attr = (X509_ATTRIBUTE *)est_csrattrs_get0_attribute(attrs, 1);
    assert_non_null(attr);
    assert_int_equal(X509_ATTRIBUTE_count(attr), 1);
    value = X509_ATTRIBUTE_get0_type(attr, 0);
    assert_int_equal(ASN1_TYPE_get(value), V_ASN1_OBJECT);
    assert_int_equal(OBJ_obj2nid(value->value.object), NID_secp384r1);

    /* extensionRequest names the extensions it wants. */
    attr = (X509_ATTRIBUTE *)est_csrattrs_get0_attribute(attrs, 2);
    assert_non_null(attr);
    value = X509_ATTRIBUTE_get0_type(attr, 0);
    assert_int_equal(ASN1_TYPE_get(value), V_ASN1_SEQUENCE);
    p = value->value.sequence->data;
    exts = d2i_X509_EXTENSIONS(NULL, &p, value->value.sequence->length);
    assert_non_null(exts);
    assert_int_equal(sk_X509_EXTENSION_num(exts), 2);
    assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, 0))),
                     NID_basic_constraints);
    assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, 1))),
                     NID_ext_key_usage);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);

    assert_int_equal(est_csrattrs_has_nid(attrs, NID_X9_62_id_ecPublicKey), 1);
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_ext_req), 1);
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_ecdsa_with_SHA384), 1);
    /* Attribute values are not entries. */
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_secp384r1), 0);
    assert_encodes_to(attrs, EST_DIALECT_RFC7030, der, len);
    assert_encodes_to(attrs, EST_DIALECT_DRAFT, draft, draft_len);
    est_csrattrs_free(attrs);
    free(der);
    free(draft);
}

/* SEQUENCE {
 *   1.2.3.4.5,
 *   Attribute { 1.2.3.4.6, SET { INTEGER 7, UTF8String "x" } },
 *   Attribute { extensionRequest, SET { SEQUENCE { macAddress, subjectAltName } } },
 *   macAddress } */
static const char unknown_hex[] =
    "303e06042a030405300e06042a03040631060201070c0178301d06092a864886f70d01090e3110300e0607"
    "2b0601010101160603551d1106072b060101010116";
static const char unknown_draft_hex[] =
    "302006042a03040506042a03040606092a864886f70d01090e06072b060101010116";

static void unknown_oids_and_attributes_are_kept(void **state)
{
    static const char *const oids[] = {"1.2.3.4.5", "1.2.3.4.6", "1.2.840.113549.1.9.14",
                                       "1.3.6.1.1.1.1.22"};
    size_t len, draft_len;
    uint8_t *der = from_hex(unknown_hex, &len);
    uint8_t *draft = from_hex(unknown_draft_hex, &draft_len);
    est_csrattrs *attrs = decode_ok(der, len);
    const X509_ATTRIBUTE *attr;

    (void)state;
    assert_oids(attrs, oids, 4);
    assert_null(est_csrattrs_get0_attribute(attrs, 0));
    attr = est_csrattrs_get0_attribute(attrs, 1);
    assert_non_null(attr);
    assert_int_equal(X509_ATTRIBUTE_count(attr), 2);
    assert_int_equal(OBJ_obj2nid(est_csrattrs_get0_oid(attrs, 1)), NID_undef);
    /* NID_undef matches nothing, though two entries are unknown. */
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_undef), 0);
    assert_encodes_to(attrs, EST_DIALECT_RFC7030, der, len);
    assert_encodes_to(attrs, EST_DIALECT_DRAFT, draft, draft_len);
    est_csrattrs_free(attrs);
    free(der);
    free(draft);
}

static void empty_sequence_is_zero_entries(void **state)
{
    static const uint8_t empty[] = {0x30, 0x00};
    est_csrattrs *attrs = decode_ok(empty, sizeof empty);

    (void)state;
    assert_int_equal(est_csrattrs_count(attrs), 0);
    assert_null(est_csrattrs_get0_oid(attrs, 0));
    assert_int_equal(est_csrattrs_has_nid(attrs, NID_pkcs9_challengePassword), 0);
    assert_encodes_to(attrs, EST_DIALECT_RFC7030, empty, sizeof empty);
    assert_encodes_to(attrs, EST_DIALECT_DRAFT, empty, sizeof empty);
    est_csrattrs_free(attrs);

    /* A new, empty set encodes the same. */
    attrs = est_csrattrs_new();
    assert_non_null(attrs);
    assert_encodes_to(attrs, EST_DIALECT_RFC7030, empty, sizeof empty);
    est_csrattrs_free(attrs);
    est_csrattrs_free(NULL);
    assert_int_equal(est_csrattrs_count(NULL), 0);
}

/* ---- building ------------------------------------------------------------- */

static X509_ATTRIBUTE *sequence_attribute(int nid, const char *value_hex)
{
    size_t len;
    uint8_t *value = from_hex(value_hex, &len);
    ASN1_STRING *seq = ASN1_STRING_new();
    X509_ATTRIBUTE *attr;

    assert_non_null(seq);
    assert_int_equal(ASN1_STRING_set(seq, value, (int)len), 1);
    attr = X509_ATTRIBUTE_create(nid, V_ASN1_SEQUENCE, seq);
    assert_non_null(attr);
    free(value);
    return attr;
}

/* The API builds the same bytes as the independent RFC vector. */
static void built_attributes_match_vector(void **state)
{
    size_t len;
    uint8_t *want = from_hex(rfc_attrs_hex, &len);
    est_csrattrs *attrs = est_csrattrs_new();
    X509_ATTRIBUTE *ec;
    est_error err;

    (void)state;
    assert_non_null(attrs);
    assert_int_equal(est_csrattrs_add_oid(attrs, "challengePassword", &err), EST_OK);
    ec = X509_ATTRIBUTE_create(NID_X9_62_id_ecPublicKey, V_ASN1_OBJECT,
                               OBJ_nid2obj(NID_secp384r1));
    assert_non_null(ec);
    assert_int_equal(est_csrattrs_add_attribute(attrs, ec, &err), EST_OK);
    assert_int_equal(
        est_csrattrs_add_attribute(attrs,
                                   sequence_attribute(NID_ext_req,
                                                      "302030090603551d130402300030130603551d25"
                                                      "040c300a06082b06010505070302"),
                                   &err),
        EST_OK);
    assert_int_equal(est_csrattrs_add_oid(attrs, "1.2.840.10045.4.3.3", &err), EST_OK);
    assert_ptr_equal(est_csrattrs_get0_attribute(attrs, 1), ec);
    assert_encodes_to(attrs, EST_DIALECT_RFC7030, want, len);
    est_csrattrs_free(attrs);
    free(want);
}

static void add_oid_rejects_garbage(void **state)
{
    est_csrattrs *attrs = est_csrattrs_new();
    est_error err;

    (void)state;
    assert_non_null(attrs);
    assert_int_equal(est_csrattrs_add_oid(attrs, "not an oid", &err), EST_E_INPUT);
    assert_int_equal(est_csrattrs_add_oid(attrs, "", &err), EST_E_INPUT);
    assert_int_equal(est_csrattrs_add_oid(attrs, NULL, &err), EST_E_INTERNAL);
    assert_int_equal(est_csrattrs_add_attribute(attrs, NULL, &err), EST_E_INTERNAL);
    assert_int_equal(est_csrattrs_count(attrs), 0);
    est_csrattrs_free(attrs);
}

/* ---- limits ----------------------------------------------------------------- */

/* SEQUENCE OF n times the OID 1.2 (06 01 2a). */
static uint8_t *oid_list(size_t n, size_t *len)
{
    size_t body = 3 * n;
    uint8_t *der = malloc(body + 4);

    assert_non_null(der);
    assert_true(body < 0x10000);
    der[0] = 0x30;
    der[1] = 0x82;
    der[2] = (uint8_t)(body >> 8);
    der[3] = (uint8_t)body;
    for (size_t i = 0; i < n; i++)
        memcpy(der + 4 + 3 * i, "\x06\x01\x2a", 3);
    *len = body + 4;
    return der;
}

static void entry_limit_on_decode(void **state)
{
    size_t len;
    uint8_t *der = oid_list(EST_CSRATTRS_MAX_ENTRIES, &len);
    est_csrattrs *attrs = decode_ok(der, len);

    (void)state;
    assert_int_equal(est_csrattrs_count(attrs), EST_CSRATTRS_MAX_ENTRIES);
    est_csrattrs_free(attrs);
    free(der);
    der = oid_list(EST_CSRATTRS_MAX_ENTRIES + 1, &len);
    expect_decode_fails(der, len, EST_E_TOO_LARGE);
    free(der);
}

static void entry_limit_on_add(void **state)
{
    est_csrattrs *attrs = est_csrattrs_new();
    X509_ATTRIBUTE *attr;
    est_error err;

    (void)state;
    assert_non_null(attrs);
    for (int i = 0; i < EST_CSRATTRS_MAX_ENTRIES; i++)
        assert_int_equal(est_csrattrs_add_oid(attrs, "1.2.3", &err), EST_OK);
    assert_int_equal(est_csrattrs_add_oid(attrs, "1.2.3", &err), EST_E_TOO_LARGE);
    /* A refused attribute stays the caller's. */
    attr = X509_ATTRIBUTE_create(NID_X9_62_id_ecPublicKey, V_ASN1_OBJECT,
                                 OBJ_nid2obj(NID_secp384r1));
    assert_non_null(attr);
    assert_int_equal(est_csrattrs_add_attribute(attrs, attr, &err), EST_E_TOO_LARGE);
    X509_ATTRIBUTE_free(attr);
    assert_int_equal(est_csrattrs_count(attrs), EST_CSRATTRS_MAX_ENTRIES);
    est_csrattrs_free(attrs);
}

/* Attribute 1.2.3.4 { OCTET STRING of content_len zero bytes }. */
static X509_ATTRIBUTE *big_attribute(size_t content_len)
{
    uint8_t *content = calloc(1, content_len);
    ASN1_OBJECT *type = OBJ_txt2obj("1.2.3.4", 1);
    X509_ATTRIBUTE *attr;

    assert_non_null(content);
    assert_non_null(type);
    attr = X509_ATTRIBUTE_create_by_OBJ(NULL, type, V_ASN1_OCTET_STRING, content,
                                        (int)content_len);
    assert_non_null(attr);
    ASN1_OBJECT_free(type);
    free(content);
    return attr;
}

/* SEQUENCE { big_attribute(content_len) }, encoded with OpenSSL directly
 * (not by the code under test). */
static uint8_t *big_der(size_t content_len, size_t *len)
{
    X509_ATTRIBUTE *attr = big_attribute(content_len);
    int attr_len = i2d_X509_ATTRIBUTE(attr, NULL);
    int total = ASN1_object_size(1, attr_len, V_ASN1_SEQUENCE);
    uint8_t *der, *p;

    assert_true(attr_len > 0 && total > attr_len);
    der = malloc((size_t)total);
    assert_non_null(der);
    p = der;
    ASN1_put_object(&p, 1, attr_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    assert_int_equal(i2d_X509_ATTRIBUTE(attr, &p), attr_len);
    assert_ptr_equal(p, der + total);
    X509_ATTRIBUTE_free(attr);
    *len = (size_t)total;
    return der;
}

static void size_limit(void **state)
{
    size_t len, overhead;
    uint8_t *der = big_der(16000, &len), *out;
    est_csrattrs *attrs;

    (void)state;
    overhead = len - 16000;
    free(der);

    /* Exactly EST_CSRATTRS_MAX_DER: decodes, re-encodes, and builds. */
    der = big_der(EST_CSRATTRS_MAX_DER - overhead, &len);
    assert_int_equal(len, EST_CSRATTRS_MAX_DER);
    attrs = decode_ok(der, len);
    assert_encodes_to(attrs, EST_DIALECT_RFC7030, der, len);
    est_csrattrs_free(attrs);
    attrs = est_csrattrs_new();
    assert_non_null(attrs);
    assert_int_equal(est_csrattrs_add_attribute(
                         attrs, big_attribute(EST_CSRATTRS_MAX_DER - overhead), NULL),
                     EST_OK);
    assert_encodes_to(attrs, EST_DIALECT_RFC7030, der, len);
    est_csrattrs_free(attrs);
    free(der);

    /* One byte more: a well-formed encoding, refused for its size alone. */
    der = big_der(EST_CSRATTRS_MAX_DER - overhead + 1, &len);
    assert_int_equal(len, EST_CSRATTRS_MAX_DER + 1);
    expect_decode_fails(der, len, EST_E_TOO_LARGE);
    attrs = est_csrattrs_new();
    assert_non_null(attrs);
    assert_int_equal(est_csrattrs_add_attribute(
                         attrs, big_attribute(EST_CSRATTRS_MAX_DER - overhead + 1), NULL),
                     EST_OK);
    out = (uint8_t *)1;
    assert_int_equal(est_csrattrs_encode(attrs, EST_DIALECT_RFC7030, &out, &len, NULL),
                     EST_E_TOO_LARGE);
    assert_null(out);
    /* Its draft form is small: the value is what made it large. */
    assert_int_equal(est_csrattrs_encode(attrs, EST_DIALECT_DRAFT, &out, &len, NULL), EST_OK);
    assert_int_equal(len, 7);
    est_free(out);
    est_csrattrs_free(attrs);
    free(der);
}

/* ---- malformed input -------------------------------------------------------- */

static void malformed_inputs_are_errors(void **state)
{
    size_t len;
    uint8_t *der = from_hex(rfc_attrs_hex, &len);
    uint8_t *copy = malloc(len + 1);

    (void)state;
    assert_non_null(copy);
    /* Every proper prefix is truncated. */
    for (size_t cut = 0; cut < len; cut++)
        expect_decode_fails(der, cut, EST_E_INPUT);
    expect_decode_fails(NULL, 4, EST_E_INPUT);

    memcpy(copy, der, len);
    copy[len] = 0x00;
    expect_decode_fails(copy, len + 1, EST_E_INPUT);    /* trailing byte */
    copy[0] = 0x31;                                      /* SET OF, not SEQUENCE OF */
    expect_decode_fails(copy, len, EST_E_INPUT);
    memcpy(copy, der, len);
    copy[2] = 0x04;                                      /* an OCTET STRING entry */
    expect_decode_fails(copy, len, EST_E_INPUT);
    memcpy(copy, der, len);
    copy[24] = 0x30;                                     /* attribute values not a SET */
    expect_decode_fails(copy, len, EST_E_INPUT);
    memcpy(copy, der, len);
    copy[15] = 0x02;                                     /* attribute type not an OID */
    expect_decode_fails(copy, len, EST_E_INPUT);
    expect_decode_fails((const uint8_t *)"MCYGBysGAQEBARYG", 16, EST_E_INPUT); /* base64 */
    expect_decode_fails((const uint8_t *)"\x30\x03\x02\x01\x01", 5, EST_E_INPUT);

    assert_int_equal(est_csrattrs_decode(der, len, NULL, NULL), EST_E_INTERNAL);
    assert_int_equal(est_csrattrs_encode(NULL, EST_DIALECT_RFC7030, &copy, &len, NULL),
                     EST_E_INTERNAL);
    est_free(copy);
    free(der);
}

/* What a /csrattrs answer asks of the key (draft-04 §4.5.2, seed vectors
 * included: 1.3.132.0.4 is sect113r1 and must never mean P-384). */

static est_csrattrs *attrs_from_b64(const char *b64)
{
    uint8_t *der = NULL;
    size_t len = 0;
    est_csrattrs *attrs = NULL;

    assert_int_equal(est_body_decode((const uint8_t *)b64, strlen(b64), &der, &len, NULL, NULL),
                     EST_OK);
    assert_int_equal(est_csrattrs_decode(der, len, &attrs, NULL), EST_OK);
    est_free(der);
    return attrs;
}

static void seed_vector_wishes(void **state)
{
    /* macAddress, challengePassword, 1.3.132.0.4 (sect113r1), sha384. */
    est_csrattrs *attrs =
        attrs_from_b64("MCYGBysGAQEBARYGCSqGSIb3DQEJBwYFK4EEAAQGCWCGSAFlAwQCAg==");
    est_key_type type = EST_KEY_RSA_4096;
    const EVP_MD *md = NULL;
    int set = 1;

    (void)state;
    est_csrattrs_key_wishes(attrs, &set, &type, &md);
    assert_int_equal(set, 0); /* never P-384 from the erratum OID */
    assert_ptr_equal(md, EVP_sha384());
    assert_true(est_csrattrs_has_nid(attrs, NID_pkcs9_challengePassword));
    est_csrattrs_free(attrs);
}

static void wishes(est_csrattrs *attrs, int want_set, est_key_type want)
{
    est_key_type type = EST_KEY_ED25519;
    const EVP_MD *md;
    int set = 0;

    est_csrattrs_key_wishes(attrs, &set, &type, &md);
    assert_int_equal(set, want_set);
    if (want_set)
        assert_int_equal(type, want);
}

static X509_ATTRIBUTE *attribute(int nid, int value_type, void *value)
{
    return X509_ATTRIBUTE_create(nid, value_type, value);
}

static void curve_and_algorithm_wishes(void **state)
{
    est_csrattrs *a = est_csrattrs_new(), *b = est_csrattrs_new(), *c = est_csrattrs_new();
    est_csrattrs *d = est_csrattrs_new();
    ASN1_INTEGER *bits = ASN1_INTEGER_new();

    (void)state;
    /* Bare OIDs in either order: the curve says more than the algorithm. */
    assert_int_equal(est_csrattrs_add_oid(a, "secp384r1", NULL), EST_OK);
    assert_int_equal(est_csrattrs_add_oid(a, "id-ecPublicKey", NULL), EST_OK);
    wishes(a, 1, EST_KEY_EC_P384);
    assert_int_equal(est_csrattrs_add_oid(b, "id-ecPublicKey", NULL), EST_OK);
    wishes(b, 1, EST_KEY_EC_P256);
    assert_int_equal(est_csrattrs_add_oid(b, "1.3.132.0.34", NULL), EST_OK);
    wishes(b, 1, EST_KEY_EC_P384);
    /* RFC 7030 attribute forms. */
    assert_int_equal(est_csrattrs_add_attribute(c, attribute(NID_X9_62_id_ecPublicKey,
                     V_ASN1_OBJECT, OBJ_nid2obj(NID_secp384r1)), NULL), EST_OK);
    wishes(c, 1, EST_KEY_EC_P384);
    ASN1_INTEGER_set(bits, 3072);
    assert_int_equal(est_csrattrs_add_attribute(d, attribute(NID_rsaEncryption, V_ASN1_INTEGER,
                                                             bits), NULL), EST_OK);
    wishes(d, 1, EST_KEY_RSA_3072);
    wishes(NULL, 0, EST_KEY_EC_P256);
    est_csrattrs_free(a);
    est_csrattrs_free(b);
    est_csrattrs_free(c);
    est_csrattrs_free(d);
}

UNIT_MAIN(
    cmocka_unit_test(seed_vector_four_oids),
    cmocka_unit_test(seed_vector_two_oids),
    cmocka_unit_test(rfc_attributes_round_trip),
    cmocka_unit_test(unknown_oids_and_attributes_are_kept),
    cmocka_unit_test(empty_sequence_is_zero_entries),
    cmocka_unit_test(built_attributes_match_vector),
    cmocka_unit_test(add_oid_rejects_garbage),
    cmocka_unit_test(entry_limit_on_decode),
    cmocka_unit_test(entry_limit_on_add),
    cmocka_unit_test(size_limit),
    cmocka_unit_test(malformed_inputs_are_errors),
    cmocka_unit_test(seed_vector_wishes),
    cmocka_unit_test(curve_and_algorithm_wishes))
