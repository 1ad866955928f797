/* The store seam, backend-independent part: closing a store, freeing the
 * records the backends hand out, and turning an issued certificate into the
 * record every backend stores (docs/design.md §3: serial, subject, SAN, public key
 * hash, validity, the DER). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include "estkit/ca.h"
#include "estkit/store.h"

void est_store_close(est_store *store)
{
    if (store == NULL)
        return;
    if (store->ops != NULL && store->ops->close != NULL)
        store->ops->close(store->impl);
    free(store);
}

int est_store_spec_is_pg(const char *spec)
{
    return spec != NULL && (strncmp(spec, "postgresql://", 13) == 0 ||
                            strncmp(spec, "postgres://", 11) == 0 || strchr(spec, '=') != NULL);
}

est_status est_store_open(const char *spec, int create, const est_store_pg_options *opt,
                          est_store **out, est_error *err)
{
    if (est_store_spec_is_pg(spec))
        return est_store_open_pg(spec, create, opt, out, err);
    return est_store_open_sqlite(spec, create, out, err);
}

void est_cert_record_free(est_cert_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->subject);
    free(rec->san);
    free(rec->label);
    free(rec->requester);
    free(rec->auth_method);
    free(rec->operation);
    free(rec->der);
    free(rec);
}

/* Password hashes and Digest HA1 values are password equivalents (an HA1
 * answers any Digest challenge of its realm): wiped before the memory goes. */
static void free_secret_string(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void est_user_record_free(est_user_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->name);
    free_secret_string(rec->password_hash);
    free(rec->digest_realm);
    free_secret_string(rec->digest_ha1_md5);
    free_secret_string(rec->digest_ha1_sha256);
    free(rec->srp_group);
    free(rec->srp_salt);
    free_secret_string(rec->srp_verifier);
    free(rec);
}

void est_pending_record_free(est_pending_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->label);
    free(rec->requester);
    free(rec->auth_method);
    free(rec->operation);
    free(rec->subject);
    free(rec->reason);
    free(rec->cert_serial);
    free(rec->csr_der);
    free(rec);
}

void est_otp_record_free(est_otp_record *rec)
{
    if (rec == NULL)
        return;
    free(rec->label);
    free(rec->subject);
    free(rec->used_serial);
    free(rec);
}

/* Everything written to bio so far as a NUL-terminated malloc'd string. */
static est_status bio_to_string(BIO *bio, char **out, est_error *err)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    if (len < 0)
        return est_error_set(err, EST_E_INTERNAL, "certificate record: memory BIO");
    *out = malloc((size_t)len + 1);
    if (*out == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if (len > 0)
        memcpy(*out, data, (size_t)len);
    (*out)[len] = '\0';
    return EST_OK;
}

/* The subject as RFC 2253 text: the form operators search and compare. */
static est_status subject_text(X509 *cert, char **out, est_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    est_status rc = EST_E_NOMEM;

    if (bio == NULL) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "certificate subject");
        goto out;
    }
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
        rc = est_error_set_openssl(err, EST_E_INPUT, "certificate subject unprintable");
        goto out;
    }
    rc = bio_to_string(bio, out, err);
out:
    BIO_free(bio);
    return rc;
}

/* The subjectAltName as OpenSSL prints it ("DNS:a, IP Address:1.2.3.4"),
 * or NULL when the certificate has none. */
static est_status san_text(X509 *cert, char **out, est_error *err)
{
    int pos = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
    BIO *bio = NULL;
    est_status rc = EST_E_NOMEM;

    *out = NULL;
    if (pos < 0)
        return EST_OK;
    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "certificate subjectAltName");
        goto out;
    }
    if (X509V3_EXT_print(bio, X509_get_ext(cert, pos), 0, 0) != 1) {
        rc = est_error_set_openssl(err, EST_E_INPUT, "certificate subjectAltName unreadable");
        goto out;
    }
    rc = bio_to_string(bio, out, err);
out:
    BIO_free(bio);
    return rc;
}

/* Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo: the key's identity
 * whatever certificate carries it (re-key checks, searches). */
static est_status spki_sha256_hex(X509 *cert, char out[65], est_error *err)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char *der = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    est_status rc = EST_E_INPUT;

    if (len <= 0) {
        rc = est_error_set_openssl(err, EST_E_INPUT, "certificate public key unencodable");
        goto out;
    }
    if (!EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
        rc = est_error_set_openssl(err, EST_E_INTERNAL, "SHA-256 of the public key");
        goto out;
    }
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 0x0f];
    }
    out[64] = '\0';
    rc = EST_OK;
out:
    OPENSSL_free(der);
    return rc;
}

static est_status time_to_unix(const ASN1_TIME *t, const char *which, int64_t *out,
                               est_error *err)
{
    struct tm tm;

    /* ASN1_TIME_to_tm(NULL) would mean "now": never let a missing field
     * turn into a plausible date. */
    memset(&tm, 0, sizeof tm);
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return est_error_set_openssl(err, EST_E_INPUT, "certificate %s unreadable", which);
    *out = (int64_t)timegm(&tm);
    return EST_OK;
}

static est_status der_copy(X509 *cert, est_cert_record *rec, est_error *err)
{
    int len = i2d_X509(cert, NULL);
    unsigned char *p;

    if (len <= 0)
        return est_error_set_openssl(err, EST_E_INPUT, "certificate unencodable");
    if ((rec->der = malloc((size_t)len)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    p = rec->der;
    if (i2d_X509(cert, &p) != len)
        return est_error_set_openssl(err, EST_E_INTERNAL, "certificate DER length changed");
    rec->der_len = (size_t)len;
    return EST_OK;
}

est_status est_cert_record_from_x509(X509 *cert, est_cert_record **out, est_error *err)
{
    est_cert_record *rec = NULL;
    est_status rc = EST_E_NOMEM;

    if (cert == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "certificate record: NULL argument");
    *out = NULL;
    if ((rec = calloc(1, sizeof *rec)) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    rec->status = EST_CERT_VALID;
    rec->revocation_reason = -1;
    rec->issued_at = (int64_t)time(NULL);
    /* The same text `openssl x509 -serial` prints and est_serial_to_hex
     * gives the server's revocation check, so lookups by either agree. */
    if ((rc = est_serial_to_hex(X509_get0_serialNumber(cert), rec->serial, err)) != EST_OK ||
        (rc = subject_text(cert, &rec->subject, err)) != EST_OK ||
        (rc = san_text(cert, &rec->san, err)) != EST_OK ||
        (rc = spki_sha256_hex(cert, rec->spki_sha256, err)) != EST_OK ||
        (rc = time_to_unix(X509_get0_notBefore(cert), "notBefore", &rec->not_before, err)) !=
            EST_OK ||
        (rc = time_to_unix(X509_get0_notAfter(cert), "notAfter", &rec->not_after, err)) !=
            EST_OK ||
        (rc = der_copy(cert, rec, err)) != EST_OK)
        goto out;
    *out = rec;
    rec = NULL;
    rc = EST_OK;
out:
    est_cert_record_free(rec);
    return rc;
}
