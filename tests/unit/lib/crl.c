/* Tests src/lib/crl.c: signed v2 CRLs and revocation reason names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/x509v3.h>
#include "estkit/ca.h"
#include "estkit/key.h"
#include "estkit/signer.h"
#include "estkit/issue.h"
#include "estkit/crl.h"
#include "ca_internal.h"
#include "ca_fixture.h"
#include "unit_main.h"

typedef struct {
    est_ca *ca;
    X509 *root;
    EVP_PKEY *ca_key;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=CRL Root", 365, &f->root, &f->ca_key);
    *state = f;
    return f->ca != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    est_ca_free(f->ca);
    X509_free(f->root);
    EVP_PKEY_free(f->ca_key);
    free(f);
    return 0;
}

static X509 *issue_leaf(est_ca *ca, char hex[41])
{
    EVP_PKEY *key = ca_fixture_key(EST_KEY_EC_P256);
    X509_REQ *csr = ca_fixture_csr(key, "CN=leaf", NULL, 0);
    X509 *leaf = NULL;

    assert_int_equal(est_ca_issue(ca, csr, NULL, NULL, &leaf, NULL), EST_OK);
    assert_int_equal(est_serial_to_hex(X509_get0_serialNumber(leaf), hex, NULL), EST_OK);
    X509_REQ_free(csr);
    EVP_PKEY_free(key);
    return leaf;
}

/* The entry's reason code, -1 when it carries none. */
static int entry_reason(X509_CRL *crl, const char *hex)
{
    ASN1_INTEGER *serial = NULL;
    X509_REVOKED *entry = NULL;
    ASN1_ENUMERATED *reason;
    int critical = -1, code = -1;

    assert_int_equal(ca_serial_from_hex(hex, &serial, NULL), EST_OK);
    assert_int_equal(X509_CRL_get0_by_serial(crl, &entry, serial), 1);
    reason = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, NULL);
    if (reason != NULL) {
        code = (int)ASN1_ENUMERATED_get(reason);
        assert_int_equal(critical, 0);
    }
    ASN1_ENUMERATED_free(reason);
    ASN1_INTEGER_free(serial);
    return code;
}

static void crl_is_signed_v2_with_entries_and_reasons(void **state)
{
    fixture *f = *state;
    const est_revoked_entry entries[] = {
        {"0A1B2C3D", 1700000000, 1},
        {"7f00ff", 1700000100, -1},
        {"01", 1700000200, 4},
    };
    X509_CRL *crl = NULL;
    ASN1_INTEGER *number;
    AUTHORITY_KEYID *akid;
    time_t now = time(NULL), t;
    int critical = -1;
    est_error err;

    assert_int_equal(est_ca_make_crl(f->ca, entries, 3, 42, 7, &crl, &err), EST_OK);
    assert_int_equal(X509_CRL_verify(crl, f->ca_key), 1);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(f->root)), 0);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 3);
    assert_int_equal(entry_reason(crl, "0A1B2C3D"), 1);
    assert_int_equal(entry_reason(crl, "7F00FF"), -1);
    assert_int_equal(entry_reason(crl, "01"), 4);
    number = X509_CRL_get_ext_d2i(crl, NID_crl_number, &critical, NULL);
    assert_int_equal(ASN1_INTEGER_get(number), 42);
    assert_int_equal(critical, 0);
    ASN1_INTEGER_free(number);
    akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &critical, NULL);
    assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(f->root)), 0);
    AUTHORITY_KEYID_free(akid);
    assert_int_equal(X509_CRL_get_ext_count(crl), 2);
    assert_int_equal(ca_time_to_time_t(X509_CRL_get0_lastUpdate(crl), &t, NULL), EST_OK);
    assert_true(t >= now - 5 && t <= now + 5);
    assert_int_equal(ca_time_to_time_t(X509_CRL_get0_nextUpdate(crl), &t, NULL), EST_OK);
    assert_true(t >= now + 7 * 86400 - 5 && t <= now + 7 * 86400 + 5);
    X509_CRL_free(crl);
}

/* What a relying party does with it: the revoked leaf fails, the other passes. */
static void revoked_certificate_fails_crl_checked_verification(void **state)
{
    fixture *f = *state;
    char revoked_hex[41], good_hex[41];
    X509 *revoked = issue_leaf(f->ca, revoked_hex), *good = issue_leaf(f->ca, good_hex);
    est_revoked_entry entry = {revoked_hex, time(NULL) - 60, 1};
    X509_CRL *crl = NULL;
    est_error err;

    assert_int_equal(est_ca_make_crl(f->ca, &entry, 1, 1, 1, &crl, &err), EST_OK);
    assert_int_equal(ca_fixture_verify(f->root, NULL, revoked, crl), X509_V_ERR_CERT_REVOKED);
    assert_int_equal(ca_fixture_verify(f->root, NULL, good, crl), X509_V_OK);
    X509_CRL_free(crl);
    X509_free(revoked);
    X509_free(good);
}

static void empty_crl_and_sha384_for_p384(void **state)
{
    X509 *root = NULL;
    EVP_PKEY *key = NULL;
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P384, "CN=P384", 30, &root, &key);
    X509_CRL *crl = NULL;
    est_error err;
    (void)state;

    assert_int_equal(est_ca_make_crl(ca, NULL, 0, 0, 30, &crl, &err), EST_OK);
    /* No revokedCertificates at all (RFC 5280 §5.1.2.6: absent when empty). */
    assert_null(X509_CRL_get_REVOKED(crl));
    assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA384);
    assert_int_equal(X509_CRL_verify(crl, key), 1);
    X509_CRL_free(crl);
    X509_free(root);
    EVP_PKEY_free(key);
    est_ca_free(ca);
}

static void bad_entries_and_parameters_are_refused(void **state)
{
    fixture *f = *state;
    static const struct {
        est_revoked_entry entry;
        const char *why;
    } bad[] = {
        {{"XYZ", 0, -1}, "hex"},
        {{"", 0, -1}, "hex"},
        {{"12345678901234567890123456789012345678901", 0, -1}, "hex"},
        {{NULL, 0, -1}, "without a serial"},
        {{"01", 0, 7}, "reason code 7"},
        {{"01", 0, 8}, "reason code 8"}, /* removeFromCRL: delta CRLs only */
        {{"01", 0, 11}, "reason code 11"},
        {{"01", 0, -2}, "reason code -2"},
    };
    const est_revoked_entry twice[] = {{"0abc", 0, 1}, {"0ABC", 0, 4}};
    const est_revoked_entry one = {"01", 0, 0};
    X509_CRL *crl = NULL;
    est_error err;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(est_ca_make_crl(f->ca, &bad[i].entry, 1, 1, 1, &crl, &err), EST_E_INPUT);
        assert_non_null(strstr(err.message, bad[i].why));
        assert_null(crl);
    }
    assert_int_equal(est_ca_make_crl(f->ca, twice, 2, 1, 1, &crl, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "0ABC"));
    assert_int_equal(est_ca_make_crl(f->ca, &one, 1, -1, 1, &crl, &err), EST_E_INPUT);
    assert_int_equal(est_ca_make_crl(f->ca, &one, 1, 1, 0, &crl, &err), EST_E_INPUT);
    assert_int_equal(est_ca_make_crl(f->ca, &one, 1, 1, 36501, &crl, &err), EST_E_INPUT);
    assert_int_equal(est_ca_make_crl(f->ca, &one, 1, 1, 36500, &crl, &err), EST_OK);
    X509_CRL_free(crl);
    crl = NULL;
    assert_int_equal(est_ca_make_crl(f->ca, NULL, 1, 1, 1, &crl, &err), EST_E_INTERNAL);
}

static void mismatched_ca_key_does_not_sign_crls(void **state)
{
    fixture *f = *state;
    EVP_PKEY *other = ca_fixture_key(EST_KEY_EC_P256);
    est_ca *bad = est_ca_new(f->root, NULL, NULL, est_signer_new_key(other));
    X509_CRL *crl = NULL;
    est_error err;

    assert_int_equal(est_ca_make_crl(bad, NULL, 0, 1, 1, &crl, &err), EST_E_CA);
    assert_null(crl);
    est_ca_free(bad);
    EVP_PKEY_free(other);
}

static void reason_names_parse_case_insensitively(void **state)
{
    static const struct {
        const char *name;
        int code;
    } names[] = {
        {"unspecified", 0},        {"keyCompromise", 1},      {"cACompromise", 2},
        {"affiliationChanged", 3}, {"superseded", 4},         {"cessationOfOperation", 5},
        {"certificateHold", 6},    {"removeFromCRL", 8},      {"privilegeWithdrawn", 9},
        {"aACompromise", 10},      {"KEYCOMPROMISE", 1},      {"cacompromise", 2},
    };
    int code = -1;
    est_error err;
    (void)state;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_int_equal(est_crl_reason_parse(names[i].name, &code, &err), EST_OK);
        assert_int_equal(code, names[i].code);
    }
    code = 99;
    assert_int_equal(est_crl_reason_parse("stolen", &code, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "stolen"));
    assert_int_equal(code, 99);
    assert_int_equal(est_crl_reason_parse("", &code, &err), EST_E_INPUT);
    assert_int_equal(est_crl_reason_parse("keyCompromise ", &code, &err), EST_E_INPUT);
    assert_int_equal(est_crl_reason_parse(NULL, &code, &err), EST_E_INTERNAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

UNIT_MAIN(
    T(crl_is_signed_v2_with_entries_and_reasons),
    T(revoked_certificate_fails_crl_checked_verification),
    T(empty_crl_and_sha384_for_p384),
    T(bad_entries_and_parameters_are_refused),
    T(mismatched_ca_key_does_not_sign_crls),
    T(reason_names_parse_case_insensitively))
