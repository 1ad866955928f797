/* Tests src/lib/issue_locations.c: with crl_url / ca_issuers_url in the
 * profile an issued certificate carries exactly one cRLDistributionPoints
 * fullName URI and one authorityInfoAccess caIssuers URI, non-critical;
 * without them neither extension appears. `openssl x509 -ext
 * crlDistributionPoints,authorityInfoAccess` shows the same (checked in
 * e2e/server_http_publish). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/x509v3.h>
#include "estkit/ca.h"
#include "estkit/key.h"
#include "estkit/csr.h"
#include "estkit/issue.h"
#include "ca_fixture.h"
#include "unit_main.h"

#define CRL_URL "http://pki.example/ca.crl"
#define ISSUER_URL "http://pki.example/ca.crt"

static X509 *issue_with(const char *crl_url, const char *issuers_url)
{
    EVP_PKEY *ca_key = NULL, *key = ca_fixture_key(EST_KEY_EC_P256);
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Root", 3650, NULL, &ca_key);
    X509_REQ *csr = ca_fixture_csr(key, "CN=device", NULL, 0);
    est_profile profile;
    X509 *cert = NULL;
    est_error err;

    est_profile_default(&profile);
    snprintf(profile.crl_url, sizeof profile.crl_url, "%s", crl_url);
    snprintf(profile.ca_issuers_url, sizeof profile.ca_issuers_url, "%s", issuers_url);
    if (ca == NULL || csr == NULL || est_ca_issue(ca, csr, &profile, NULL, &cert, &err) != EST_OK)
        fail_msg("issue failed");
    X509_REQ_free(csr);
    est_ca_free(ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    return cert;
}

static const char *uri_of(GENERAL_NAME *name)
{
    int type;
    ASN1_IA5STRING *uri = GENERAL_NAME_get0_value(name, &type);

    assert_int_equal(type, GEN_URI);
    return (const char *)ASN1_STRING_get0_data(uri);
}

static void both_urls_become_non_critical_extensions(void **state)
{
    X509 *cert = issue_with(CRL_URL, ISSUER_URL);
    int critical = -1;
    CRL_DIST_POINTS *points = ca_fixture_ext(cert, NID_crl_distribution_points, &critical);
    AUTHORITY_INFO_ACCESS *aia;
    DIST_POINT *point;
    ACCESS_DESCRIPTION *ad;
    (void)state;

    assert_non_null(points);
    assert_int_equal(critical, 0);
    assert_int_equal(sk_DIST_POINT_num(points), 1);
    point = sk_DIST_POINT_value(points, 0);
    assert_int_equal(point->distpoint->type, 0); /* fullName */
    assert_int_equal(sk_GENERAL_NAME_num(point->distpoint->name.fullname), 1);
    assert_string_equal(uri_of(sk_GENERAL_NAME_value(point->distpoint->name.fullname, 0)), CRL_URL);
    assert_null(point->reasons);
    assert_null(point->CRLissuer);

    critical = -1;
    aia = ca_fixture_ext(cert, NID_info_access, &critical);
    assert_non_null(aia);
    assert_int_equal(critical, 0);
    assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 1);
    ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
    assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
    assert_string_equal(uri_of(ad->location), ISSUER_URL);

    CRL_DIST_POINTS_free(points);
    AUTHORITY_INFO_ACCESS_free(aia);
    X509_free(cert);
}

static void no_urls_no_extensions(void **state)
{
    X509 *cert = issue_with("", "");
    (void)state;

    assert_int_equal(X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1), -1);
    assert_int_equal(X509_get_ext_by_NID(cert, NID_info_access, -1), -1);
    X509_free(cert);
}

static void one_url_one_extension(void **state)
{
    X509 *cert = issue_with("", ISSUER_URL);
    (void)state;

    assert_int_equal(X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1), -1);
    assert_true(X509_get_ext_by_NID(cert, NID_info_access, -1) >= 0);
    X509_free(cert);
}

UNIT_MAIN(
    cmocka_unit_test(both_urls_become_non_critical_extensions),
    cmocka_unit_test(no_urls_no_extensions),
    cmocka_unit_test(one_url_one_extension))
