/* Tests src/lib/csr.c: parsing, proof of possession, key policy,
 * challengePassword and the requested subjectAltName. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "estkit/auth.h" /* est_secret_free */
#include "estkit/key.h"
#include "estkit/csr.h"
#include "estkit/name.h"
#include "estkit/mem.h"
#include "ca_fixture.h"
#include "unit_main.h"

static int check_key(EVP_PKEY *key, const est_profile *profile, est_error *err)
{
    X509_REQ *csr = ca_fixture_csr(key, "CN=device", NULL, 0);
    int rc;

    assert_non_null(csr);
    rc = est_csr_check(csr, profile, err);
    X509_REQ_free(csr);
    return rc;
}

/* The CSR goes through DER and est_csr_parse, as it does on the wire. */
static X509_REQ *reparse(X509_REQ *csr)
{
    size_t len = 0;
    unsigned char *der = ca_fixture_csr_der(csr, &len);
    X509_REQ *back = NULL;

    assert_non_null(der);
    assert_int_equal(est_csr_parse(der, len, &back, NULL), EST_OK);
    OPENSSL_free(der);
    return back;
}

static void profile_defaults(void **state)
{
    est_profile p;
    (void)state;
    memset(&p, 0xff, sizeof p);
    est_profile_default(&p);
    assert_int_equal(p.validity_days, 365);
    assert_int_equal(p.backdate_seconds, 300);
    assert_string_equal(p.extended_key_usage, "clientAuth");
    assert_int_equal(p.honour_san, 1);
    assert_int_equal(p.min_rsa_bits, 2048);
    assert_int_equal(p.allow_ed25519, 1);
}

static void parse_round_trips_and_rejects_malformed(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *csr = ca_fixture_csr(key, "CN=parse", NULL, 0), *back = (X509_REQ *)1;
    size_t len = 0;
    unsigned char *der = ca_fixture_csr_der(csr, &len), *longer = malloc(len + 1);
    est_error err;
    (void)state;

    assert_int_equal(est_csr_parse(der, len, &back, &err), EST_OK);
    assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(back),
                                   X509_REQ_get_subject_name(csr)),
                     0);
    X509_REQ_free(back);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(est_csr_parse(longer, len + 1, &back, &err), EST_E_INPUT);
    assert_null(back);
    assert_non_null(strstr(err.message, "trailing"));
    assert_int_equal(est_csr_parse(der, len - 1, &back, &err), EST_E_INPUT);
    assert_int_equal(est_csr_parse(der, 2, &back, &err), EST_E_INPUT);
    assert_int_equal(est_csr_parse(der, 0, &back, &err), EST_E_INPUT);
    assert_int_equal(est_csr_parse((const uint8_t *)"\x02\x01\x00", 3, &back, &err), EST_E_INPUT);
    assert_int_equal(est_csr_parse((const uint8_t *)"garbage!", 8, &back, &err), EST_E_INPUT);
    /* Wrong outer tag: a SET where the SEQUENCE belongs. */
    longer[0] = 0x31;
    assert_int_equal(est_csr_parse(longer, len, &back, &err), EST_E_INPUT);
    assert_null(back);
    free(longer);
    OPENSSL_free(der);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

/* An Ed25519 CSR (fixed-size signature) padded with an unknown attribute
 * to exactly size bytes of DER. */
static unsigned char *csr_of_size(EVP_PKEY *key, size_t size)
{
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
    size_t pad = size - 400, len = 0;
    unsigned char *der = NULL, *filler = calloc(1, size);

    for (int round = 0; round < 8; round++) {
        X509_REQ *csr = X509_REQ_new();
        X509_NAME *name = NULL;
        assert_int_equal(est_name_parse("CN=big", &name, NULL), EST_OK);
        assert_true(X509_REQ_set_subject_name(csr, name) && X509_REQ_set_pubkey(csr, key));
        assert_true(X509_REQ_add1_attr_by_OBJ(csr, oid, V_ASN1_OCTET_STRING, filler, (int)pad));
        assert_true(X509_REQ_sign(csr, key, NULL) > 0);
        OPENSSL_free(der);
        der = ca_fixture_csr_der(csr, &len);
        X509_NAME_free(name);
        X509_REQ_free(csr);
        if (len == size)
            break;
        pad = pad + size - len;
    }
    assert_int_equal(len, size);
    ASN1_OBJECT_free(oid);
    free(filler);
    return der;
}

static void parse_size_limit_at_and_one_past(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_ED25519);
    unsigned char *at = csr_of_size(key, EST_CSR_MAX_DER);
    unsigned char *past = csr_of_size(key, EST_CSR_MAX_DER + 1);
    X509_REQ *csr = NULL;
    est_profile p;
    est_error err;
    (void)state;

    est_profile_default(&p);
    assert_int_equal(est_csr_parse(at, EST_CSR_MAX_DER, &csr, &err), EST_OK);
    /* Parsing allows it; the default csr_max_bytes does not. */
    assert_int_equal(est_csr_check(csr, NULL, &err), EST_E_POLICY);
    p.csr_limits.max_bytes = EST_CSR_MAX_DER;
    assert_int_equal(est_csr_check(csr, &p, &err), EST_OK);
    X509_REQ_free(csr);
    csr = NULL;
    assert_int_equal(est_csr_parse(past, EST_CSR_MAX_DER + 1, &csr, &err), EST_E_TOO_LARGE);
    assert_null(csr);
    OPENSSL_free(at);
    OPENSSL_free(past);
    EVP_PKEY_free(key);
}

static void allowed_keys_pass(void **state)
{
    const est_key_type types[] = {EST_KEY_EC_P256, EST_KEY_EC_P384, EST_KEY_RSA_2048,
                                  EST_KEY_ED25519};
    EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    est_error err;
    (void)state;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        EVP_PKEY *key = ca_fixture_key(types[i]);
        assert_int_equal(check_key(key, NULL, &err), EST_OK);
        EVP_PKEY_free(key);
    }
    assert_int_equal(check_key(p521, NULL, &err), EST_OK);
    EVP_PKEY_free(p521);
}

/* Flip one byte in the signature (the last byte of the DER): the CSR
 * still parses, but proves nothing. */
static void broken_signature_is_input_error(void **state)
{
    const est_key_type types[] = {EST_KEY_EC_P256, EST_KEY_RSA_2048, EST_KEY_ED25519};
    est_error err;
    (void)state;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        EVP_PKEY *key = ca_fixture_key(types[i]);
        X509_REQ *csr = ca_fixture_csr(key, "CN=pop", NULL, 0), *back = NULL;
        size_t len = 0;
        unsigned char *der = ca_fixture_csr_der(csr, &len);

        der[len - 1] ^= 0x01;
        assert_int_equal(est_csr_parse(der, len, &back, &err), EST_OK);
        assert_int_equal(est_csr_check(back, NULL, &err), EST_E_INPUT);
        assert_non_null(strstr(err.message, "signature"));
        X509_REQ_free(back);
        OPENSSL_free(der);
        X509_REQ_free(csr);
        EVP_PKEY_free(key);
    }
}

static void rsa_minimum_at_and_below(void **state)
{
    EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *rsa2048 = ca_fixture_key(EST_KEY_RSA_2048);
    est_profile p;
    est_error err;
    (void)state;

    est_profile_default(&p);
    assert_int_equal(check_key(rsa1024, &p, &err), EST_E_POLICY);
    assert_non_null(strstr(err.message, "1024"));
    assert_int_equal(check_key(rsa2048, &p, &err), EST_OK);
    p.min_rsa_bits = 2049;
    assert_int_equal(check_key(rsa2048, &p, &err), EST_E_POLICY);
    p.min_rsa_bits = 1024;
    assert_int_equal(check_key(rsa1024, &p, &err), EST_OK);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(rsa2048);
}

static void other_curves_are_refused_by_name(void **state)
{
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    EVP_PKEY *p224 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-224");
    est_error err;
    (void)state;

    assert_int_equal(check_key(k1, NULL, &err), EST_E_POLICY);
    assert_non_null(strstr(err.message, "secp256k1"));
    assert_int_equal(check_key(p224, NULL, &err), EST_E_POLICY);
    assert_non_null(strstr(err.message, "secp224r1"));
    EVP_PKEY_free(k1);
    EVP_PKEY_free(p224);
}

/* P-256 itself, spelled out as explicit parameters: refused. */
static void explicit_curve_parameters_are_refused(void **state)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, "explicit", 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *key = NULL;
    X509_REQ *csr, *back;
    est_error err;
    (void)state;

    assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_params(ctx, params), 1);
    assert_int_equal(EVP_PKEY_generate(ctx, &key), 1);
    csr = ca_fixture_csr(key, "CN=explicit", NULL, 0);
    back = reparse(csr);
    assert_int_equal(est_csr_check(back, NULL, &err), EST_E_POLICY);
    assert_non_null(strstr(err.message, "explicit"));
    X509_REQ_free(back);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
}

static void ed25519_off_and_ed448_refused(void **state)
{
    EVP_PKEY *ed25519 = ca_fixture_key(EST_KEY_ED25519);
    EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    est_profile p;
    est_error err;
    (void)state;

    est_profile_default(&p);
    p.allow_ed25519 = 0;
    assert_int_equal(check_key(ed25519, &p, &err), EST_E_POLICY);
    assert_int_equal(check_key(ed448, NULL, &err), EST_E_POLICY);
    assert_non_null(strstr(err.message, "ED448"));
    EVP_PKEY_free(ed25519);
    EVP_PKEY_free(ed448);
}

static void needs_subject_or_san(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *nameless = ca_fixture_csr(key, NULL, NULL, 0);
    X509_REQ *san_only = ca_fixture_csr(key, NULL, "device.example", 0);
    est_error err;
    (void)state;

    assert_int_equal(est_csr_check(nameless, NULL, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "subject"));
    assert_int_equal(est_csr_check(san_only, NULL, &err), EST_OK);
    X509_REQ_free(nameless);
    X509_REQ_free(san_only);
    EVP_PKEY_free(key);
}

static void version_other_than_v1_is_refused(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *csr = ca_fixture_csr(key, "CN=v2", NULL, 0), *back;
    est_error err;
    (void)state;

    assert_true(X509_REQ_set_version(csr, 1));
    assert_true(X509_REQ_sign(csr, key, EVP_sha256()) > 0);
    back = reparse(csr);
    assert_int_equal(est_csr_check(back, NULL, &err), EST_E_INPUT);
    X509_REQ_free(back);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

/* OpenSSL refuses to add an attribute twice, so the second one goes in
 * under a same-length decoy OID (1.2.840.113549.1.9.99) that is patched
 * into challengePassword (...1.9.7) in the signed DER. */
static const unsigned char decoy_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                          0xf7, 0x0d, 0x01, 0x09, 0x63};

/* A CSR with attributes added by add(csr) before signing, through DER;
 * a decoy OID in it becomes challengePassword and the result is signed
 * again, so only the duplicate is wrong with it. */
static X509_REQ *csr_with(EVP_PKEY *key, void (*add)(X509_REQ *))
{
    X509_REQ *csr = ca_fixture_csr(key, "CN=attrs", NULL, 0), *back;
    size_t len = 0;
    unsigned char *der;

    add(csr);
    assert_true(X509_REQ_sign(csr, key, EVP_sha256()) > 0);
    der = ca_fixture_csr_der(csr, &len);
    for (size_t i = 0; i + sizeof decoy_oid <= len; i++) {
        if (memcmp(der + i, decoy_oid, sizeof decoy_oid) == 0)
            der[i + sizeof decoy_oid - 1] = 0x07;
    }
    assert_int_equal(est_csr_parse(der, len, &back, NULL), EST_OK);
    assert_true(X509_REQ_sign(back, key, EVP_sha256()) > 0);
    X509_REQ_free(csr);
    OPENSSL_free(der);
    csr = reparse(back);
    X509_REQ_free(back);
    return csr;
}

static void add_printable(X509_REQ *csr)
{
    assert_true(X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword,
                                          V_ASN1_PRINTABLESTRING,
                                          (const unsigned char *)"dGxzLXVuaXF1ZQ==", 16));
}
static void add_utf8(X509_REQ *csr)
{
    assert_true(X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword, V_ASN1_UTF8STRING,
                                          (const unsigned char *)"caf\xc3\xa9", 5));
}
static void add_ia5(X509_REQ *csr)
{
    assert_true(X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword, V_ASN1_IA5STRING,
                                          (const unsigned char *)"abc", 3));
}
static void add_twice(X509_REQ *csr)
{
    ASN1_OBJECT *decoy = OBJ_txt2obj("1.2.840.113549.1.9.99", 1);

    add_printable(csr);
    assert_true(X509_REQ_add1_attr_by_OBJ(csr, decoy, V_ASN1_PRINTABLESTRING,
                                          (const unsigned char *)"second", 6));
    ASN1_OBJECT_free(decoy);
}
static void add_nul(X509_REQ *csr)
{
    assert_true(X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword, V_ASN1_UTF8STRING,
                                          (const unsigned char *)"ab\0cd", 5));
}
static void add_two_values(X509_REQ *csr)
{
    X509_ATTRIBUTE *attr = X509_ATTRIBUTE_create_by_NID(
        NULL, NID_pkcs9_challengePassword, V_ASN1_UTF8STRING, (const unsigned char *)"a", 1);
    assert_true(X509_ATTRIBUTE_set1_data(attr, V_ASN1_UTF8STRING, "b", 1));
    assert_true(X509_REQ_add1_attr(csr, attr));
    X509_ATTRIBUTE_free(attr);
}
static unsigned char long_password[256];
static void add_255(X509_REQ *csr)
{
    memset(long_password, 'A', sizeof long_password);
    assert_true(X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword,
                                          V_ASN1_PRINTABLESTRING, long_password, 255));
}
static void add_256(X509_REQ *csr)
{
    memset(long_password, 'A', sizeof long_password);
    assert_true(X509_REQ_add1_attr_by_NID(csr, NID_pkcs9_challengePassword,
                                          V_ASN1_PRINTABLESTRING, long_password, 256));
}
static void add_nothing(X509_REQ *csr)
{
    (void)csr;
}

static void challenge_password_read_and_checked(void **state)
{
    static const struct {
        void (*add)(X509_REQ *);
        est_status rc;
        const char *value; /* or the reason's key word */
    } cases[] = {
        {add_printable, EST_OK, "dGxzLXVuaXF1ZQ=="}, {add_utf8, EST_OK, "caf\xc3\xa9"},
        {add_nothing, EST_E_NOT_FOUND, "no"},        {add_ia5, EST_E_INPUT, "Printable"},
        {add_twice, EST_E_INPUT, "more than one"},   {add_nul, EST_E_INPUT, "NUL"},
        {add_two_values, EST_E_INPUT, "one value"},  {add_255, EST_OK, NULL},
        {add_256, EST_E_INPUT, "255"},
    };
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    est_error err;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        X509_REQ *csr = csr_with(key, cases[i].add);
        char *value = NULL;
        assert_int_equal(est_csr_get_challenge_password(csr, &value, &err), cases[i].rc);
        if (cases[i].rc != EST_OK) {
            assert_null(value);
            assert_non_null(strstr(err.message, cases[i].value));
        } else if (cases[i].value != NULL) {
            assert_string_equal(value, cases[i].value);
        } else {
            assert_int_equal(strlen(value), 255);
        }
        est_secret_free(value);
        /* The attribute never gets in the way of the CSR check itself. */
        assert_int_equal(est_csr_check(csr, NULL, &err), EST_OK);
        X509_REQ_free(csr);
    }
    EVP_PKEY_free(key);
}

static void san_is_read_from_extension_request(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *with = ca_fixture_csr(key, "CN=san", "a.example", 1);
    X509_REQ *without = ca_fixture_csr(key, "CN=nosan", NULL, 0);
    GENERAL_NAMES *san = est_csr_get1_san(with);
    const GENERAL_NAME *gen;
    int type;
    (void)state;

    assert_non_null(san);
    assert_int_equal(sk_GENERAL_NAME_num(san), 1);
    gen = sk_GENERAL_NAME_value(san, 0);
    assert_string_equal(ASN1_STRING_get0_data(GENERAL_NAME_get0_value(gen, &type)), "a.example");
    assert_int_equal(type, GEN_DNS);
    GENERAL_NAMES_free(san);
    assert_null(est_csr_get1_san(without));
    assert_null(est_csr_get1_san(NULL));
    X509_REQ_free(with);
    X509_REQ_free(without);
    EVP_PKEY_free(key);
}

static void add_san_twice(X509_REQ *csr)
{
    STACK_OF(X509_EXTENSION) *exts = NULL;
    GENERAL_NAMES *san = GENERAL_NAMES_new();
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

    assert_true(ASN1_STRING_set(ia5, "x.example", 9));
    GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
    assert_true(sk_GENERAL_NAME_push(san, gen));
    assert_int_equal(X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0, X509V3_ADD_APPEND), 1);
    assert_int_equal(X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0, X509V3_ADD_APPEND), 1);
    assert_true(X509_REQ_add_extensions(csr, exts));
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(san);
}

/* extensionRequest whose value is an INTEGER, not Extensions. */
static void add_bad_ext_req(X509_REQ *csr)
{
    assert_true(X509_REQ_add1_attr_by_NID(csr, NID_ext_req, V_ASN1_INTEGER,
                                          (const unsigned char *)"\x05", 1));
}

static void malformed_extension_request_is_input_error(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *twice = csr_with(key, add_san_twice), *bad = csr_with(key, add_bad_ext_req);
    est_error err;
    (void)state;

    assert_int_equal(est_csr_check(twice, NULL, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "twice"));
    assert_null(est_csr_get1_san(twice));
    assert_int_equal(est_csr_check(bad, NULL, &err), EST_E_INPUT);
    assert_null(est_csr_get1_san(bad));
    X509_REQ_free(twice);
    X509_REQ_free(bad);
    EVP_PKEY_free(key);
}

/* --- limits (issue #12): each at the limit and one past ---------------- */

/* A P-256 CSR, through DER: rdns subject attributes of value_len bytes,
 * extensions requested extensions of which one is a SAN of san_names DNS
 * names (when san_names > 0), attributes PKCS#10 attributes beside the
 * extensionRequest. */
static X509_REQ *shaped_csr(EVP_PKEY *key, int rdns, int value_len, int extensions, int san_names,
                            int attributes)
{
    X509_REQ *req = X509_REQ_new(), *back;
    X509_NAME *name = X509_NAME_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    GENERAL_NAMES *san = GENERAL_NAMES_new();
    char *value = malloc((size_t)value_len + 1), buf[64];

    assert_true(req && name && exts && san && value);
    memset(value, 'v', (size_t)value_len);
    value[value_len] = '\0';
    for (int i = 0; i < rdns; i++)
        /* A plain string type: OpenSSL's own OU bound (64) must not apply. */
        assert_int_equal(X509_NAME_add_entry_by_txt(name, "OU", V_ASN1_UTF8STRING,
                                                    (const unsigned char *)value, -1, -1, 0), 1);
    for (int i = 0; i < san_names; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
        snprintf(buf, sizeof buf, "n%05d.example", i);
        assert_int_equal(ASN1_STRING_set(dns, buf, -1), 1);
        GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
        assert_true(sk_GENERAL_NAME_push(san, gn) > 0);
    }
    if (san_names > 0)
        assert_int_equal(X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0, 0), 1);
    for (int i = sk_X509_EXTENSION_num(exts); i < extensions; i++) {
        ASN1_OCTET_STRING *data = ASN1_OCTET_STRING_new();
        ASN1_OBJECT *oid;
        X509_EXTENSION *ext;
        snprintf(buf, sizeof buf, "1.3.6.1.4.1.99999.%d", i);
        oid = OBJ_txt2obj(buf, 1);
        assert_int_equal(ASN1_OCTET_STRING_set(data, (const unsigned char *)"\x05\x00", 2), 1);
        ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, data);
        assert_non_null(X509v3_add_ext(&exts, ext, -1)); /* copies */
        X509_EXTENSION_free(ext);
        ASN1_OBJECT_free(oid);
        ASN1_OCTET_STRING_free(data);
    }
    for (int i = 0; i < attributes; i++) {
        ASN1_OBJECT *oid;
        snprintf(buf, sizeof buf, "1.3.6.1.4.1.99998.%d", i);
        oid = OBJ_txt2obj(buf, 1);
        assert_int_equal(X509_REQ_add1_attr_by_OBJ(req, oid, V_ASN1_UTF8STRING,
                                                   (const unsigned char *)"x", 1), 1);
        ASN1_OBJECT_free(oid);
    }
    assert_int_equal(X509_REQ_set_version(req, X509_REQ_VERSION_1), 1);
    assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    if (sk_X509_EXTENSION_num(exts) > 0)
        assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
    assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
    back = reparse(req);
    X509_REQ_free(req);
    X509_NAME_free(name);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(san);
    free(value);
    return back;
}

static int limited(X509_REQ *csr, const est_profile *p, est_error *err, const char *want)
{
    int rc = est_csr_check(csr, p, err);

    if (rc != EST_OK && want != NULL)
        assert_string_equal(err->message, want);
    return rc;
}

static void defaults_of_the_limits(void **state)
{
    est_profile p;
    (void)state;
    est_profile_default(&p);
    assert_int_equal(p.max_rsa_bits, 8192);
    assert_int_equal(p.csr_limits.max_bytes, 16384);
    assert_int_equal(p.csr_limits.max_subject_bytes, 4096);
    assert_int_equal(p.csr_limits.max_subject_rdns, 32);
    assert_int_equal(p.csr_limits.max_value_bytes, 1024);
    assert_int_equal(p.csr_limits.max_attributes, 16);
    assert_int_equal(p.csr_limits.max_extensions, 32);
    assert_int_equal(p.csr_limits.max_san_entries, 100);
    assert_int_equal(p.csr_limits.max_san_bytes, 8192);
}

/* What was issued before: a ~60 kB subject and 2,500 extensions. */
static void oversized_subject_and_many_extensions_are_refused_by_default(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *big_subject = shaped_csr(key, 60, 1000, 0, 0, 0);
    X509_REQ *many_ext = shaped_csr(key, 1, 8, 2500, 0, 0);
    est_profile p;
    est_error err;
    (void)state;

    /* The specific limit is named, not the whole size (also beyond). */
    assert_int_equal(est_csr_check(big_subject, NULL, &err), EST_E_POLICY);
    assert_non_null(strstr(err.message, "limit csr_max_subject_bytes = 4096"));
    assert_int_equal(est_csr_check(many_ext, NULL, &err), EST_E_POLICY);
    assert_string_equal(err.message, "CSR requests 2500 extensions, limit csr_max_extensions = 32");
    /* Within the other limits, the whole size still bounds it. */
    est_profile_default(&p);
    p.csr_limits.max_extensions = 2500;
    assert_int_equal(est_csr_check(many_ext, &p, &err), EST_E_POLICY);
    assert_non_null(strstr(err.message, "limit csr_max_bytes = 16384"));
    X509_REQ_free(big_subject);
    X509_REQ_free(many_ext);
    EVP_PKEY_free(key);
}

static void size_limits_at_and_one_past(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *csr = shaped_csr(key, 3, 100, 2, 5, 1);
    GENERAL_NAMES *san = est_csr_get1_san(csr);
    int whole = i2d_X509_REQ(csr, NULL), subject = i2d_X509_NAME(X509_REQ_get_subject_name(csr), NULL);
    int san_len = i2d_GENERAL_NAMES(san, NULL);
    char want[160];
    est_profile p;
    est_error err;
    (void)state;

    est_profile_default(&p);
    p.csr_limits.max_bytes = (size_t)whole;
    p.csr_limits.max_subject_bytes = (size_t)subject;
    p.csr_limits.max_value_bytes = 100;
    p.csr_limits.max_san_bytes = (size_t)san_len;
    assert_int_equal(limited(csr, &p, &err, NULL), EST_OK);
    p.csr_limits.max_bytes--;
    snprintf(want, sizeof want, "CSR is %d bytes, limit csr_max_bytes = %d", whole, whole - 1);
    assert_int_equal(limited(csr, &p, &err, want), EST_E_POLICY);
    p.csr_limits.max_bytes++;
    p.csr_limits.max_subject_bytes--;
    snprintf(want, sizeof want, "CSR subject is %d bytes, limit csr_max_subject_bytes = %d",
             subject, subject - 1);
    assert_int_equal(limited(csr, &p, &err, want), EST_E_POLICY);
    p.csr_limits.max_subject_bytes++;
    p.csr_limits.max_value_bytes = 99;
    assert_int_equal(limited(csr, &p, &err, "CSR subject attribute 1 is 100 bytes, limit "
                                            "csr_max_value_bytes = 99"), EST_E_POLICY);
    p.csr_limits.max_value_bytes = 100;
    p.csr_limits.max_san_bytes--;
    snprintf(want, sizeof want, "CSR subjectAltName is %d bytes, limit csr_max_san_bytes = %d",
             san_len, san_len - 1);
    assert_int_equal(limited(csr, &p, &err, want), EST_E_POLICY);
    GENERAL_NAMES_free(san);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

static void count_limits_at_and_one_past(void **state)
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    /* 3 subject attributes, 4 extensions (one a SAN of 5 names), 2 attributes
     * beside the extensionRequest (3 in all). */
    X509_REQ *csr = shaped_csr(key, 3, 8, 4, 5, 2);
    est_profile p;
    est_error err;
    (void)state;

    est_profile_default(&p);
    p.csr_limits.max_subject_rdns = 3;
    p.csr_limits.max_extensions = 4;
    p.csr_limits.max_san_entries = 5;
    p.csr_limits.max_attributes = 3;
    assert_int_equal(limited(csr, &p, &err, NULL), EST_OK);
    p.csr_limits.max_subject_rdns = 2;
    assert_int_equal(limited(csr, &p, &err, "CSR subject has 3 attributes, limit "
                                            "csr_max_subject_rdns = 2"), EST_E_POLICY);
    p.csr_limits.max_subject_rdns = 3;
    p.csr_limits.max_extensions = 3;
    assert_int_equal(limited(csr, &p, &err, "CSR requests 4 extensions, limit "
                                            "csr_max_extensions = 3"), EST_E_POLICY);
    p.csr_limits.max_extensions = 4;
    p.csr_limits.max_san_entries = 4;
    assert_int_equal(limited(csr, &p, &err, "CSR subjectAltName has 5 names, limit "
                                            "csr_max_san_entries = 4"), EST_E_POLICY);
    p.csr_limits.max_san_entries = 5;
    p.csr_limits.max_attributes = 2;
    assert_int_equal(limited(csr, &p, &err, "CSR has 3 attributes, limit csr_max_attributes = 2"),
                     EST_E_POLICY);
    /* est_csr_check_limits alone (/serverkeygen) applies the same. */
    assert_int_equal(est_csr_check_limits(csr, &p.csr_limits, &err), EST_E_POLICY);
    p.csr_limits.max_attributes = 3;
    assert_int_equal(est_csr_check_limits(csr, &p.csr_limits, &err), EST_OK);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
}

/* csr_key_types: each type alone admits only itself. */
static void key_types_restrict_the_algorithms(void **state)
{
    EVP_PKEY *keys[] = {ca_fixture_key(EST_KEY_RSA_2048), ca_fixture_key(EST_KEY_EC_P256),
                        ca_fixture_key(EST_KEY_EC_P384),
                        EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"),
                        ca_fixture_key(EST_KEY_ED25519)};
    const unsigned bits[] = {EST_KEY_ALLOW_RSA, EST_KEY_ALLOW_EC_P256, EST_KEY_ALLOW_EC_P384,
                             EST_KEY_ALLOW_EC_P521, EST_KEY_ALLOW_ED25519};
    est_profile p;
    est_error err;
    (void)state;

    est_profile_default(&p);
    assert_int_equal(p.key_types, EST_KEY_ALLOW_ALL);
    for (size_t allowed = 0; allowed < 5; allowed++) {
        p.key_types = bits[allowed];
        for (size_t k = 0; k < 5; k++)
            assert_int_equal(check_key(keys[k], &p, &err), k == allowed ? EST_OK : EST_E_POLICY);
    }
    p.key_types = EST_KEY_ALLOW_EC_P256;
    assert_int_equal(check_key(keys[2], &p, &err), EST_E_POLICY);
    assert_string_equal(err.message, "EC curve secp384r1 not in this CA's csr_key_types");
    for (size_t k = 0; k < 5; k++)
        EVP_PKEY_free(keys[k]);
}

static void rsa_maximum_at_and_one_past(void **state)
{
    EVP_PKEY *rsa2048 = ca_fixture_key(EST_KEY_RSA_2048);
    est_profile p;
    est_error err;
    (void)state;

    est_profile_default(&p);
    p.max_rsa_bits = 2048;
    assert_int_equal(check_key(rsa2048, &p, &err), EST_OK);
    p.max_rsa_bits = 2047;
    assert_int_equal(check_key(rsa2048, &p, &err), EST_E_POLICY);
    assert_string_equal(err.message, "RSA key of 2048 bits, limit max_rsa_bits = 2047");
    EVP_PKEY_free(rsa2048);
}

UNIT_MAIN(
    cmocka_unit_test(profile_defaults),
    cmocka_unit_test(parse_round_trips_and_rejects_malformed),
    cmocka_unit_test(parse_size_limit_at_and_one_past),
    cmocka_unit_test(allowed_keys_pass),
    cmocka_unit_test(broken_signature_is_input_error),
    cmocka_unit_test(rsa_minimum_at_and_below),
    cmocka_unit_test(other_curves_are_refused_by_name),
    cmocka_unit_test(explicit_curve_parameters_are_refused),
    cmocka_unit_test(ed25519_off_and_ed448_refused),
    cmocka_unit_test(needs_subject_or_san),
    cmocka_unit_test(version_other_than_v1_is_refused),
    cmocka_unit_test(challenge_password_read_and_checked),
    cmocka_unit_test(san_is_read_from_extension_request),
    cmocka_unit_test(malformed_extension_request_is_input_error),
    cmocka_unit_test(defaults_of_the_limits),
    cmocka_unit_test(oversized_subject_and_many_extensions_are_refused_by_default),
    cmocka_unit_test(size_limits_at_and_one_past),
    cmocka_unit_test(count_limits_at_and_one_past),
    cmocka_unit_test(rsa_maximum_at_and_one_past),
    cmocka_unit_test(key_types_restrict_the_algorithms))
