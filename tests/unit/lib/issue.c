/* Tests src/lib/issue.c: certificates issued from CSRs and for bare keys.
 *
 * Checked once by hand with the OpenSSL command line (the e2e tests do this
 * for every run): a root and a certificate issued from a CSR asking for
 * CA:TRUE, written with est_certs_write_file, then
 *   $ openssl verify -CAfile root.pem leaf.pem
 *   leaf.pem: OK
 *   $ openssl verify -CAfile root.pem -purpose sslclient leaf.pem
 *   leaf.pem: OK
 *   $ openssl x509 -in leaf.pem -noout -ext basicConstraints,keyUsage,extendedKeyUsage
 *   X509v3 Basic Constraints: critical
 *       CA:FALSE
 *   X509v3 Key Usage: critical
 *       Digital Signature, Key Agreement
 *   X509v3 Extended Key Usage:
 *       TLS Web Client Authentication
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include "estkit/ca.h"
#include "estkit/key.h"
#include "estkit/signer.h"
#include "estkit/csr.h"
#include "estkit/name.h"
#include "estkit/issue.h"
#include "ca_internal.h"
#include "ca_fixture.h"
#include "unit_main.h"

typedef struct {
    est_ca *ca;
    X509 *root;
    EVP_PKEY *ca_key;
    EVP_PKEY *key; /* the requester's */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Issuing Root,O=Example", 3650, &f->root,
                               &f->ca_key);
    f->key = ca_fixture_key(EST_KEY_EC_P256);
    *state = f;
    return f->ca != NULL && f->key != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    est_ca_free(f->ca);
    X509_free(f->root);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->key);
    free(f);
    return 0;
}

static X509 *issue_csr(fixture *f, X509_REQ *csr, const est_profile *profile)
{
    X509 *cert = NULL;
    est_error err;

    assert_int_equal(est_csr_check(csr, profile, &err), EST_OK);
    if (est_ca_issue(f->ca, csr, profile, NULL, &cert, &err) != EST_OK)
        fail_msg("issue: %s", err.message);
    return cert;
}

static int has_ext(X509 *cert, int nid)
{
    return X509_get_ext_by_NID(cert, nid, -1) >= 0;
}

static void assert_dns_san(X509 *cert, const char *dns, int want_critical)
{
    int critical = -1, type;
    GENERAL_NAMES *san = ca_fixture_ext(cert, NID_subject_alt_name, &critical);

    assert_non_null(san);
    assert_int_equal(critical, want_critical);
    assert_int_equal(sk_GENERAL_NAME_num(san), 1);
    assert_string_equal(
        ASN1_STRING_get0_data(GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(san, 0), &type)),
        dns);
    assert_int_equal(type, GEN_DNS);
    GENERAL_NAMES_free(san);
}

/* The CSR asks for CA:TRUE and a SAN: it gets an end-entity certificate
 * with exactly BC, KU, EKU, SKI, AKI and the SAN, chaining to the root. */
static void issued_cert_has_exactly_the_expected_extensions(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=device-17,O=Example", "device-17.example", 1);
    X509 *cert = issue_csr(f, csr, NULL);
    BASIC_CONSTRAINTS *bc;
    ASN1_BIT_STRING *usage;
    EXTENDED_KEY_USAGE *eku;
    AUTHORITY_KEYID *akid;
    ASN1_OCTET_STRING *expect_ski = NULL;
    int critical = -1;

    assert_int_equal(ca_fixture_verify(f->root, NULL, cert, NULL), X509_V_OK);
    assert_int_equal(X509_get_version(cert), X509_VERSION_3);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(f->root)), 0);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr)), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), f->key), 1);
    assert_int_equal(X509_get_ext_count(cert), 6);
    bc = ca_fixture_ext(cert, NID_basic_constraints, &critical);
    assert_false(bc->ca);
    assert_int_equal(critical, 1);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_check_ca(cert), 0);
    usage = ca_fixture_ext(cert, NID_key_usage, &critical);
    assert_int_equal(critical, 1);
    assert_true(ASN1_BIT_STRING_get_bit(usage, 0)); /* digitalSignature */
    assert_true(ASN1_BIT_STRING_get_bit(usage, 4)); /* keyAgreement (EC) */
    assert_false(ASN1_BIT_STRING_get_bit(usage, 2));
    assert_false(ASN1_BIT_STRING_get_bit(usage, 5)); /* never keyCertSign */
    ASN1_BIT_STRING_free(usage);
    eku = ca_fixture_ext(cert, NID_ext_key_usage, &critical);
    assert_int_equal(critical, 0);
    assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
    assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_client_auth);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    assert_int_equal(ca_key_id(NULL, f->key, &expect_ski, NULL), EST_OK);
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(cert), expect_ski), 0);
    akid = ca_fixture_ext(cert, NID_authority_key_identifier, &critical);
    assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(f->root)), 0);
    assert_null(akid->issuer);
    AUTHORITY_KEYID_free(akid);
    assert_dns_san(cert, "device-17.example", 0);
    ASN1_OCTET_STRING_free(expect_ski);
    X509_free(cert);
    X509_REQ_free(csr);
}

static void serial_is_random_positive_and_fresh(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=twice", NULL, 0);
    X509 *a = issue_csr(f, csr, NULL), *b = issue_csr(f, csr, NULL);
    char hex_a[41], hex_b[41];

    assert_int_equal(est_serial_to_hex(X509_get0_serialNumber(a), hex_a, NULL), EST_OK);
    assert_int_equal(est_serial_to_hex(X509_get0_serialNumber(b), hex_b, NULL), EST_OK);
    assert_string_not_equal(hex_a, hex_b);
    assert_string_not_equal(hex_a, "00");
    X509_free(a);
    X509_free(b);
    X509_REQ_free(csr);
}

static void validity_is_backdated_and_bounded_by_the_ca(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=validity", NULL, 0);
    X509 *cert = issue_csr(f, csr, NULL), *short_root = NULL, *clamped = NULL;
    EVP_PKEY *short_key = NULL;
    est_ca *short_ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Short", 10, &short_root, &short_key);
    time_t now = time(NULL), nb, na, root_na;
    est_error err;

    assert_int_equal(ca_time_to_time_t(X509_get0_notBefore(cert), &nb, NULL), EST_OK);
    assert_int_equal(ca_time_to_time_t(X509_get0_notAfter(cert), &na, NULL), EST_OK);
    assert_true(nb <= now - 300 && nb >= now - 310);
    assert_true(na >= now + 365L * 86400 - 5 && na <= now + 365L * 86400 + 5);
    /* A 365-day profile under a 10-day CA ends with the CA. */
    assert_int_equal(est_ca_issue(short_ca, csr, NULL, NULL, &clamped, &err), EST_OK);
    assert_int_equal(ca_time_to_time_t(X509_get0_notAfter(clamped), &na, NULL), EST_OK);
    assert_int_equal(ca_time_to_time_t(X509_get0_notAfter(short_root), &root_na, NULL), EST_OK);
    assert_int_equal(na, root_na);
    assert_int_equal(ca_fixture_verify(short_root, NULL, clamped, NULL), X509_V_OK);
    X509_free(clamped);
    X509_free(short_root);
    EVP_PKEY_free(short_key);
    est_ca_free(short_ca);
    X509_free(cert);
    X509_REQ_free(csr);
}

static void validity_days_limits(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=days", NULL, 0);
    X509 *cert = NULL;
    est_profile p;
    est_error err;

    est_profile_default(&p);
    p.validity_days = 0;
    assert_int_equal(est_ca_issue(f->ca, csr, &p, NULL, &cert, &err), EST_E_CONFIG);
    p.validity_days = 36501;
    assert_int_equal(est_ca_issue(f->ca, csr, &p, NULL, &cert, &err), EST_E_CONFIG);
    assert_null(cert);
    p.validity_days = 36500; /* accepted, then bounded by the 10-year root */
    assert_int_equal(est_ca_issue(f->ca, csr, &p, NULL, &cert, &err), EST_OK);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(f->root)), 0);
    X509_free(cert);
    X509_REQ_free(csr);
}

static void p384_ca_signs_with_sha384(void **state)
{
    fixture *f = *state;
    X509 *root = NULL, *cert = NULL;
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P384, "CN=P-384 Root", 30, &root, NULL);
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=leaf", NULL, 0);
    est_error err;

    assert_int_equal(est_ca_issue(ca, csr, NULL, NULL, &cert, &err), EST_OK);
    assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA384);
    assert_int_equal(ca_fixture_verify(root, NULL, cert, NULL), X509_V_OK);
    X509_free(cert);
    X509_free(root);
    X509_REQ_free(csr);
    est_ca_free(ca);
}

static void key_usage_follows_key_type(void **state)
{
    fixture *f = *state;
    static const struct {
        est_key_type type;
        int key_encipherment, key_agreement;
    } cases[] = {{EST_KEY_RSA_2048, 1, 0}, {EST_KEY_ED25519, 0, 0}};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EVP_PKEY *key = ca_fixture_key(cases[i].type);
        X509_REQ *csr = ca_fixture_csr(key, "CN=ku", NULL, 0);
        X509 *cert = issue_csr(f, csr, NULL);
        ASN1_BIT_STRING *usage = ca_fixture_ext(cert, NID_key_usage, NULL);

        assert_true(ASN1_BIT_STRING_get_bit(usage, 0));
        assert_int_equal(ASN1_BIT_STRING_get_bit(usage, 2), cases[i].key_encipherment);
        assert_int_equal(ASN1_BIT_STRING_get_bit(usage, 4), cases[i].key_agreement);
        assert_int_equal(ca_fixture_verify(f->root, NULL, cert, NULL), X509_V_OK);
        ASN1_BIT_STRING_free(usage);
        X509_free(cert);
        X509_REQ_free(csr);
        EVP_PKEY_free(key);
    }
}

/* The certificate carries the CSR's SubjectPublicKeyInfo byte for byte
 * (issue.c copies it rather than re-encoding the key), whatever the key's
 * parameters: a curve OID, NULL for RSA, none for Ed25519. Its key is
 * usable, and the subjectKeyIdentifier is the SHA-1 of the key bits. */
static void public_key_is_the_csrs_exactly(void **state)
{
    fixture *f = *state;
    static const est_key_type types[] = {EST_KEY_EC_P256, EST_KEY_EC_P384, EST_KEY_RSA_2048,
                                         EST_KEY_ED25519};

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        EVP_PKEY *key = ca_fixture_key(types[i]);
        X509_REQ *csr = ca_fixture_csr(key, "CN=spki", NULL, 0);
        X509 *cert = issue_csr(f, csr, NULL);
        unsigned char *want = NULL, *got = NULL, md[SHA_DIGEST_LENGTH];
        int want_len = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(csr), &want);
        int got_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &got);
        const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
        const unsigned char *bits;
        int bits_len;

        assert_true(want_len > 0);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, (size_t)want_len);
        assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
        assert_true(X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL,
                                           X509_REQ_get_X509_PUBKEY(csr)));
        SHA1(bits, (size_t)bits_len, md);
        assert_non_null(ski);
        assert_int_equal(ASN1_STRING_length(ski), SHA_DIGEST_LENGTH);
        assert_memory_equal(ASN1_STRING_get0_data(ski), md, SHA_DIGEST_LENGTH);
        OPENSSL_free(want);
        OPENSSL_free(got);
        X509_free(cert);
        X509_REQ_free(csr);
        EVP_PKEY_free(key);
    }
}

/* The unparsed form is the same certificate: its DER read back verifies
 * and carries the CSR's key; only the decoded key is missing, as documented. */
static void unparsed_certificate_serialises_to_a_valid_one(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=unparsed", "u.example", 0);
    X509 *cert = NULL, *parsed;
    unsigned char *der = NULL;
    const unsigned char *p;
    int len;
    est_error err;

    assert_int_equal(est_csr_check(csr, NULL, &err), EST_OK);
    assert_int_equal(est_ca_issue_unparsed(f->ca, csr, NULL, NULL, &cert, &err), EST_OK);
    assert_null(X509_get0_pubkey(cert));
    len = i2d_X509(cert, &der);
    assert_true(len > 0);
    p = der;
    parsed = d2i_X509(NULL, &p, len);
    assert_non_null(parsed);
    assert_int_equal(ca_fixture_verify(f->root, NULL, parsed, NULL), X509_V_OK);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(parsed), f->key), 1);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(parsed), X509_REQ_get_subject_name(csr)),
                     0);
    OPENSSL_free(der);
    X509_free(parsed);
    X509_free(cert);
    X509_REQ_free(csr);
}

static void profile_controls_san_and_eku(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=profile", "p.example", 0);
    EXTENDED_KEY_USAGE *eku;
    X509 *cert;
    est_profile p;
    est_error err;

    est_profile_default(&p);
    p.honour_san = 0;
    strcpy(p.extended_key_usage, " clientAuth , serverAuth,E-mail Protection");
    assert_int_equal(est_ca_issue(f->ca, csr, &p, NULL, &cert, &err), EST_OK);
    assert_false(has_ext(cert, NID_subject_alt_name));
    eku = ca_fixture_ext(cert, NID_ext_key_usage, NULL);
    assert_int_equal(sk_ASN1_OBJECT_num(eku), 3);
    assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_client_auth);
    assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 1)), NID_server_auth);
    assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 2)), NID_email_protect);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    X509_free(cert);
    p.extended_key_usage[0] = '\0';
    assert_int_equal(est_ca_issue(f->ca, csr, &p, NULL, &cert, &err), EST_OK);
    assert_false(has_ext(cert, NID_ext_key_usage));
    assert_int_equal(X509_get_ext_count(cert), 4);
    X509_free(cert);
    cert = NULL;
    strcpy(p.extended_key_usage, "clientAuth,noSuchUsage");
    assert_int_equal(est_ca_issue(f->ca, csr, &p, NULL, &cert, &err), EST_E_CONFIG);
    assert_non_null(strstr(err.message, "noSuchUsage"));
    assert_null(cert);
    X509_REQ_free(csr);
}

/* Re-enroll keeps the old subject whatever the CSR says. */
static void subject_override_wins(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=asked-for", NULL, 0);
    X509_NAME *kept = NULL;
    X509 *cert = NULL;
    est_error err;

    assert_int_equal(est_name_parse("CN=kept,O=Example", &kept, NULL), EST_OK);
    assert_int_equal(est_ca_issue(f->ca, csr, NULL, kept, &cert, &err), EST_OK);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), kept), 0);
    X509_free(cert);
    X509_NAME_free(kept);
    X509_REQ_free(csr);
}

/* RFC 5280 §4.2.1.6: an empty subject makes the SAN critical. */
static void empty_subject_gets_critical_san(void **state)
{
    fixture *f = *state;
    X509_REQ *csr = ca_fixture_csr(f->key, NULL, "only-san.example", 0);
    X509 *cert = issue_csr(f, csr, NULL), *none = NULL;
    est_profile p;
    est_error err;

    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(cert)), 0);
    assert_dns_san(cert, "only-san.example", 1);
    assert_int_equal(ca_fixture_verify(f->root, NULL, cert, NULL), X509_V_OK);
    /* Without the SAN nothing would name the holder: refused. */
    est_profile_default(&p);
    p.honour_san = 0;
    assert_int_equal(est_ca_issue(f->ca, csr, &p, NULL, &none, &err), EST_E_POLICY);
    assert_null(none);
    X509_free(cert);
    X509_REQ_free(csr);
}

static void mismatched_ca_key_is_refused(void **state)
{
    fixture *f = *state;
    EVP_PKEY *other = ca_fixture_key(EST_KEY_EC_P256);
    est_ca *bad = est_ca_new(f->root, NULL, NULL, est_signer_new_key(other));
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=x", NULL, 0);
    X509 *cert = NULL;
    est_error err;

    assert_int_equal(est_ca_issue(bad, csr, NULL, NULL, &cert, &err), EST_E_CA);
    assert_non_null(strstr(err.message, "does not match"));
    assert_null(cert);
    X509_REQ_free(csr);
    est_ca_free(bad);
    EVP_PKEY_free(other);
}

static void expired_ca_does_not_issue(void **state)
{
    fixture *f = *state;
    X509_NAME *name = NULL;
    ASN1_OCTET_STRING *id = NULL;
    X509 *old = NULL, *cert = NULL;
    time_t now = time(NULL);
    est_ca *ca;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=late", NULL, 0);
    est_error err;

    assert_int_equal(est_name_parse("CN=Expired", &name, NULL), EST_OK);
    assert_int_equal(ca_key_id(NULL, f->ca_key, &id, NULL), EST_OK);
    assert_int_equal(ca_cert_make_ca(name, name, f->ca_key, now - 20 * 86400, now - 86400, id,
                                     id, f->ca_key, &old, &err),
                     EST_OK);
    ca = est_ca_new(old, NULL, NULL, est_signer_new_key(f->ca_key));
    assert_int_equal(est_ca_issue(ca, csr, NULL, NULL, &cert, &err), EST_E_CA);
    assert_non_null(strstr(err.message, "expired"));
    assert_null(cert);
    est_ca_free(ca);
    X509_free(old);
    X509_REQ_free(csr);
    ASN1_OCTET_STRING_free(id);
    X509_NAME_free(name);
}

static void issue_for_key_puts_names_in_san(void **state)
{
    fixture *f = *state;
    const char *names[] = {"localhost", "127.0.0.1", "::1"};
    static const unsigned char v4[] = {127, 0, 0, 1};
    GENERAL_NAMES *san;
    X509 *cert = NULL;
    int type, critical = -1;
    const ASN1_OCTET_STRING *ip;
    est_profile p;
    est_error err;

    est_profile_default(&p);
    strcpy(p.extended_key_usage, "serverAuth");
    assert_int_equal(est_ca_issue_for_key(f->ca, f->key, NULL, names, 3, &p, &cert, &err), EST_OK);
    assert_int_equal(ca_fixture_verify(f->root, NULL, cert, NULL), X509_V_OK);
    assert_int_equal(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(cert, "::1", 0), 1);
    san = ca_fixture_ext(cert, NID_subject_alt_name, &critical);
    assert_int_equal(critical, 1); /* no subject given */
    assert_int_equal(sk_GENERAL_NAME_num(san), 3);
    GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(san, 0), &type);
    assert_int_equal(type, GEN_DNS);
    ip = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(san, 1), &type);
    assert_int_equal(type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(ip), 4);
    assert_memory_equal(ASN1_STRING_get0_data(ip), v4, 4);
    ip = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(san, 2), &type);
    assert_int_equal(type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(ip), 16);
    GENERAL_NAMES_free(san);
    X509_free(cert);
}

static void issue_for_key_rejects_bad_names(void **state)
{
    fixture *f = *state;
    char at_limit[254], past_limit[255];
    const char *bad[] = {"two words", "", "a/b", ".leading-dot", past_limit};
    const char *good[] = {at_limit};
    X509_NAME *subject = NULL;
    X509 *cert = NULL;
    est_error err;

    memset(at_limit, 'a', 253);
    at_limit[253] = '\0';
    memset(past_limit, 'a', 254);
    past_limit[254] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(est_ca_issue_for_key(f->ca, f->key, NULL, &bad[i], 1, NULL, &cert, &err),
                         EST_E_INPUT);
        assert_null(cert);
    }
    assert_int_equal(est_ca_issue_for_key(f->ca, f->key, NULL, good, 1, NULL, &cert, &err), EST_OK);
    X509_free(cert);
    cert = NULL;
    /* Neither a subject nor a name. */
    assert_int_equal(est_ca_issue_for_key(f->ca, f->key, NULL, NULL, 0, NULL, &cert, &err),
                     EST_E_POLICY);
    assert_int_equal(est_name_parse("CN=server", &subject, NULL), EST_OK);
    assert_int_equal(est_ca_issue_for_key(f->ca, f->key, subject, NULL, 0, NULL, &cert, &err),
                     EST_OK);
    assert_false(has_ext(cert, NID_subject_alt_name));
    X509_free(cert);
    X509_NAME_free(subject);
}

/* root -> intermediate -> leaf: the leaf verifies with the root as the
 * only anchor when the intermediate is offered, and /cacerts carries both. */
static void subordinate_ca_chain_verifies(void **state)
{
    fixture *f = *state;
    EVP_PKEY *int_key = ca_fixture_key(EST_KEY_EC_P384);
    X509_NAME *int_name = NULL;
    ASN1_OCTET_STRING *int_id = NULL, *root_id = NULL;
    X509 *intermediate = NULL, *leaf = NULL;
    STACK_OF(X509) *chain = sk_X509_new_null(), *cacerts;
    X509_REQ *csr = ca_fixture_csr(f->key, "CN=leaf of sub", "leaf.example", 0);
    time_t now = time(NULL);
    AUTHORITY_KEYID *akid;
    est_ca *sub;
    est_error err;

    assert_int_equal(est_name_parse("CN=Issuing Sub CA,O=Example", &int_name, NULL), EST_OK);
    assert_int_equal(ca_key_id(NULL, int_key, &int_id, NULL), EST_OK);
    assert_int_equal(ca_key_id(f->root, f->ca_key, &root_id, NULL), EST_OK);
    assert_int_equal(ca_cert_make_ca(int_name, X509_get_subject_name(f->root), int_key, now - 60,
                                     now + 365 * 86400L, int_id, root_id, f->ca_key,
                                     &intermediate, &err),
                     EST_OK);
    assert_true(sk_X509_push(chain, f->root));
    sub = est_ca_new(intermediate, chain, NULL, est_signer_new_key(int_key));
    cacerts = est_ca_get0_cacerts(sub);
    assert_int_equal(sk_X509_num(cacerts), 2);
    assert_int_equal(X509_cmp(sk_X509_value(cacerts, 0), intermediate), 0);
    assert_int_equal(X509_cmp(sk_X509_value(cacerts, 1), f->root), 0);
    assert_int_equal(est_ca_issue(sub, csr, NULL, NULL, &leaf, &err), EST_OK);
    assert_int_equal(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA384);
    akid = ca_fixture_ext(leaf, NID_authority_key_identifier, NULL);
    assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, int_id), 0);
    AUTHORITY_KEYID_free(akid);
    assert_int_equal(ca_fixture_verify(f->root, cacerts, leaf, NULL), X509_V_OK);
    assert_int_equal(ca_fixture_verify(f->root, NULL, leaf, NULL),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    sk_X509_free(chain);
    est_ca_free(sub);
    X509_free(leaf);
    X509_free(intermediate);
    X509_REQ_free(csr);
    ASN1_OCTET_STRING_free(int_id);
    ASN1_OCTET_STRING_free(root_id);
    X509_NAME_free(int_name);
    EVP_PKEY_free(int_key);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

UNIT_MAIN(
    T(issued_cert_has_exactly_the_expected_extensions),
    T(serial_is_random_positive_and_fresh),
    T(validity_is_backdated_and_bounded_by_the_ca),
    T(validity_days_limits),
    T(p384_ca_signs_with_sha384),
    T(key_usage_follows_key_type),
    T(public_key_is_the_csrs_exactly),
    T(unparsed_certificate_serialises_to_a_valid_one),
    T(profile_controls_san_and_eku),
    T(subject_override_wins),
    T(empty_subject_gets_critical_san),
    T(mismatched_ca_key_is_refused),
    T(expired_ca_does_not_issue),
    T(issue_for_key_puts_names_in_san),
    T(issue_for_key_rejects_bad_names),
    T(subordinate_ca_chain_verifies))
