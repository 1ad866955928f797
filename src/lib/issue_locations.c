/* Where relying parties look: cRLDistributionPoints (RFC 5280 §4.2.1.13)
 * and authorityInfoAccess caIssuers (§4.2.2.1), each one URI
 * GeneralName, non-critical (both sections: SHOULD be non-critical /
 * MUST be non-critical). estd's http_listen serves both URLs. */
#include <string.h>
#include <openssl/x509v3.h>
#include "ca_internal.h"

/* One URI GeneralName; NULL when out of memory. */
static GENERAL_NAME *uri_name(const char *url)
{
    GENERAL_NAME *name = GENERAL_NAME_new();
    ASN1_IA5STRING *uri = ASN1_IA5STRING_new();

    if (name == NULL || uri == NULL || !ASN1_STRING_set(uri, url, (int)strlen(url))) {
        GENERAL_NAME_free(name);
        ASN1_IA5STRING_free(uri);
        return NULL;
    }
    GENERAL_NAME_set0_value(name, GEN_URI, uri);
    return name;
}

static est_status add_crl_distribution_point(X509 *cert, const char *url, est_error *err)
{
    CRL_DIST_POINTS *points = sk_DIST_POINT_new_null();
    DIST_POINT *point = DIST_POINT_new();
    DIST_POINT_NAME *name = DIST_POINT_NAME_new();
    GENERAL_NAMES *full = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *uri = uri_name(url);
    est_status rc = EST_E_NOMEM;

    if (points == NULL || point == NULL || name == NULL || full == NULL || uri == NULL ||
        !sk_GENERAL_NAME_push(full, uri)) {
        GENERAL_NAME_free(uri);
        sk_GENERAL_NAME_free(full);
        DIST_POINT_NAME_free(name);
        rc = est_error_set(err, rc, "out of memory");
        goto out;
    }
    name->type = 0; /* fullName */
    name->name.fullname = full;
    point->distpoint = name;
    if (!sk_DIST_POINT_push(points, point)) {
        rc = est_error_set(err, rc, "out of memory");
        goto out;
    }
    point = NULL; /* owned by points */
    rc = ca_cert_add_ext(cert, NID_crl_distribution_points, 0, points, err);
out:
    DIST_POINT_free(point);
    CRL_DIST_POINTS_free(points);
    return rc;
}

static est_status add_ca_issuers(X509 *cert, const char *url, est_error *err)
{
    AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
    ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
    GENERAL_NAME *uri = uri_name(url);
    est_status rc = EST_E_NOMEM;

    if (aia == NULL || ad == NULL || uri == NULL) {
        GENERAL_NAME_free(uri);
        rc = est_error_set(err, rc, "out of memory");
        goto out;
    }
    ASN1_OBJECT_free(ad->method);
    ad->method = OBJ_nid2obj(NID_ad_ca_issuers);
    GENERAL_NAME_free(ad->location);
    ad->location = uri;
    if (!sk_ACCESS_DESCRIPTION_push(aia, ad)) {
        rc = est_error_set(err, rc, "out of memory");
        goto out;
    }
    ad = NULL; /* owned by aia */
    rc = ca_cert_add_ext(cert, NID_info_access, 0, aia, err);
out:
    ACCESS_DESCRIPTION_free(ad);
    AUTHORITY_INFO_ACCESS_free(aia);
    return rc;
}

est_status ca_cert_add_locations(X509 *cert, const est_profile *profile, est_error *err)
{
    est_status rc = EST_OK;

    if (profile->crl_url[0] != '\0')
        rc = add_crl_distribution_point(cert, profile->crl_url, err);
    if (rc == EST_OK && profile->ca_issuers_url[0] != '\0')
        rc = add_ca_issuers(cert, profile->ca_issuers_url, err);
    return rc;
}
