/* The CA object, serial numbers, distinguished names, and the building
 * blocks every certificate this library makes is assembled from (issued
 * end-entity certificates, roots, rollover links). */
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "estkit/name.h"
#include "ca_internal.h"

/* RFC 5280 §4.1.2.2: serial numbers are at most 20 octets. */
#define EST_SERIAL_MAX_OCTETS 20
/* 16 random bytes, top bit cleared: positive and 127 bits of entropy,
 * far above CA/B Forum's 64 (docs/design.md §4). */
#define EST_SERIAL_RANDOM_OCTETS 16

struct est_ca {
    X509 *cert;
    STACK_OF(X509) *chain;
    STACK_OF(X509) *extra;
    STACK_OF(X509) *cacerts; /* cert + chain + extra, without repeats */
    est_signer *signer;
};

static int push_unique(STACK_OF(X509) *list, X509 *cert)
{
    for (int i = 0; i < sk_X509_num(list); i++) {
        if (X509_cmp(sk_X509_value(list, i), cert) == 0)
            return 1;
    }
    if (!X509_up_ref(cert))
        return 0;
    if (!sk_X509_push(list, cert)) {
        X509_free(cert);
        return 0;
    }
    return 1;
}

static int fill_cacerts(est_ca *ca)
{
    if (!push_unique(ca->cacerts, ca->cert))
        return 0;
    for (int i = 0; i < sk_X509_num(ca->chain); i++) {
        if (!push_unique(ca->cacerts, sk_X509_value(ca->chain, i)))
            return 0;
    }
    for (int i = 0; i < sk_X509_num(ca->extra); i++) {
        if (!push_unique(ca->cacerts, sk_X509_value(ca->extra, i)))
            return 0;
    }
    return 1;
}

/* The signer is the CA's from the call on, also when this fails. */
est_ca *est_ca_new(X509 *cert, STACK_OF(X509) *chain, STACK_OF(X509) *extra, est_signer *signer)
{
    est_ca *ca = NULL;
    int ok = 0;

    if (cert == NULL || signer == NULL || (ca = OPENSSL_zalloc(sizeof *ca)) == NULL)
        goto out;
    if (!X509_up_ref(cert))
        goto out;
    ca->cert = cert;
    ca->chain = chain != NULL ? X509_chain_up_ref(chain) : sk_X509_new_null();
    ca->extra = extra != NULL ? X509_chain_up_ref(extra) : sk_X509_new_null();
    ca->cacerts = sk_X509_new_null();
    if (ca->chain == NULL || ca->extra == NULL || ca->cacerts == NULL || !fill_cacerts(ca))
        goto out;
    ca->signer = signer;
    ok = 1;
out:
    if (!ok) {
        est_signer_free(signer);
        est_ca_free(ca);
        ca = NULL;
    }
    return ca;
}

void est_ca_free(est_ca *ca)
{
    if (ca == NULL)
        return;
    X509_free(ca->cert);
    sk_X509_pop_free(ca->chain, X509_free);
    sk_X509_pop_free(ca->extra, X509_free);
    sk_X509_pop_free(ca->cacerts, X509_free);
    est_signer_free(ca->signer);
    OPENSSL_free(ca);
}

X509 *est_ca_get0_cert(const est_ca *ca)
{
    return ca == NULL ? NULL : ca->cert;
}

STACK_OF(X509) *est_ca_get0_cacerts(const est_ca *ca)
{
    return ca == NULL ? NULL : ca->cacerts;
}

est_signer *ca_get0_signer(const est_ca *ca)
{
    return ca == NULL ? NULL : ca->signer;
}

est_status ca_check_key(const est_ca *ca, est_error *err)
{
    if (EVP_PKEY_eq(X509_get0_pubkey(ca->cert), est_signer_get0_public_key(ca->signer)) != 1) {
        ERR_clear_error();
        return est_error_set(err, EST_E_CA, "the CA key does not match the CA certificate");
    }
    return EST_OK;
}

/* --- serial numbers --- */

est_status est_serial_random(ASN1_INTEGER **out, est_error *err)
{
    unsigned char bytes[EST_SERIAL_RANDOM_OCTETS];
    BIGNUM *bn = NULL;
    est_status rc = EST_E_INTERNAL;

    if (out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "serial: NULL argument");
    *out = NULL;
    /* Zero is not a valid serial (RFC 5280 §4.1.2.2: positive); with a
     * working RNG the retry never runs. */
    for (int attempt = 0; attempt < 8 && (bn == NULL || BN_is_zero(bn)); attempt++) {
        if (RAND_bytes(bytes, sizeof bytes) != 1) {
            rc = est_error_set_openssl(err, EST_E_INTERNAL, "random serial");
            goto out;
        }
        bytes[0] &= 0x7f;
        if ((bn = BN_bin2bn(bytes, sizeof bytes, bn)) == NULL) {
            rc = est_error_set_openssl(err, EST_E_NOMEM, "random serial");
            goto out;
        }
    }
    if (BN_is_zero(bn)) {
        rc = est_error_set(err, EST_E_INTERNAL, "random serial: the RNG returns zeros");
        goto out;
    }
    if ((*out = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "random serial");
        goto out;
    }
    rc = EST_OK;
out:
    BN_free(bn);
    return rc;
}

/* Exactly what `openssl x509 -serial` (i2a_ASN1_INTEGER) prints for a
 * positive serial: every content octet as two uppercase hex digits, "00"
 * for zero. */
est_status est_serial_to_hex(const ASN1_INTEGER *serial, char out[41], est_error *err)
{
    static const char digits[] = "0123456789ABCDEF";
    const unsigned char *data;
    int len;

    if (serial == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "serial hex: NULL argument");
    out[0] = '\0';
    if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER)
        return est_error_set(err, EST_E_INPUT, "negative serial number");
    len = ASN1_STRING_length(serial);
    data = ASN1_STRING_get0_data(serial);
    if (len > EST_SERIAL_MAX_OCTETS)
        return est_error_set(err, EST_E_INPUT, "serial number of %d octets (max %d)", len,
                             EST_SERIAL_MAX_OCTETS);
    if (len <= 0) {
        strcpy(out, "00");
        return EST_OK;
    }
    for (int i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return EST_OK;
}

est_status ca_serial_from_hex(const char *hex, ASN1_INTEGER **out, est_error *err)
{
    BIGNUM *bn = NULL;
    size_t len;
    est_status rc = EST_E_INPUT;

    if (hex == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "serial: NULL argument");
    *out = NULL;
    len = strnlen(hex, 2 * EST_SERIAL_MAX_OCTETS + 1);
    if (len == 0 || len > 2 * EST_SERIAL_MAX_OCTETS ||
        strspn(hex, "0123456789abcdefABCDEF") != len)
        return est_error_set(err, EST_E_INPUT, "serial '%.48s' is not 1-%d hex digits", hex,
                             2 * EST_SERIAL_MAX_OCTETS);
    if (BN_hex2bn(&bn, hex) != (int)len || (*out = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "serial %s", hex);
        goto out;
    }
    rc = EST_OK;
out:
    BN_free(bn);
    return rc;
}

est_status ca_time_to_time_t(const ASN1_TIME *t, time_t *out, est_error *err)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return est_error_set_openssl(err, EST_E_INPUT, "unreadable certificate time");
    *out = timegm(&tm);
    return EST_OK;
}

/* --- certificate building blocks --- */

static est_status set_time(X509 *cert, int not_after, time_t t, est_error *err)
{
    ASN1_TIME *at = ASN1_TIME_set(NULL, t); /* UTCTime until 2049, then GeneralizedTime */
    int ok;

    if (at == NULL)
        return est_error_set_openssl(err, EST_E_CA, "certificate time");
    ok = not_after ? X509_set1_notAfter(cert, at) : X509_set1_notBefore(cert, at);
    ASN1_TIME_free(at);
    return ok ? EST_OK : est_error_set_openssl(err, EST_E_CA, "certificate time");
}

/* The certificate's SubjectPublicKeyInfo as a copy of spki's algorithm and
 * key bits. X509_set_pubkey would re-encode the key through OpenSSL 3.0's
 * encoder and decode it back (X509_PUBKEY_set), which cost a third of an
 * enrollment's CPU (docs/PERFORMANCE.md); the bits are already DER here. */
static est_status copy_spki(X509 *cert, const X509_PUBKEY *spki, est_error *err)
{
    X509_PUBKEY *dst = X509_get_X509_PUBKEY(cert);
    ASN1_OBJECT *oid = NULL;
    X509_ALGOR *src_alg = NULL, *dst_alg = NULL;
    const unsigned char *bits;
    unsigned char *copy = NULL;
    int bits_len;

    if (!X509_PUBKEY_get0_param(&oid, &bits, &bits_len, &src_alg, spki) || bits_len <= 0)
        return est_error_set(err, EST_E_INPUT, "public key without key bits");
    if ((copy = OPENSSL_memdup(bits, (size_t)bits_len)) == NULL ||
        (oid = OBJ_dup(oid)) == NULL)
        goto fail;
    /* set0 takes oid and copy; the parameters follow with X509_ALGOR_copy,
     * whatever their type (curve OID, explicit parameters, NULL, absent). */
    if (!X509_PUBKEY_set0_param(dst, oid, V_ASN1_UNDEF, NULL, copy, bits_len)) {
        ASN1_OBJECT_free(oid);
        goto fail;
    }
    copy = NULL;
    if (!X509_PUBKEY_get0_param(NULL, NULL, NULL, &dst_alg, dst) ||
        !X509_ALGOR_copy(dst_alg, src_alg))
        goto fail;
    return EST_OK;
fail:
    OPENSSL_free(copy);
    return est_error_set_openssl(err, EST_E_CA, "copying the public key");
}

est_status ca_cert_new(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *key,
                       const X509_PUBKEY *spki, time_t not_before, time_t not_after, X509 **out,
                       est_error *err)
{
    ASN1_INTEGER *serial = NULL;
    X509 *cert = NULL;
    est_status rc;

    *out = NULL;
    if ((rc = est_serial_random(&serial, err)) != EST_OK)
        goto out;
    rc = EST_E_CA;
    if ((cert = X509_new()) == NULL || !X509_set_version(cert, X509_VERSION_3) ||
        !X509_set_serialNumber(cert, serial) || !X509_set_subject_name(cert, subject) ||
        !X509_set_issuer_name(cert, issuer) || (spki == NULL && !X509_set_pubkey(cert, key))) {
        est_error_set_openssl(err, EST_E_CA, "building the certificate");
        goto out;
    }
    if ((spki != NULL && (rc = copy_spki(cert, spki, err)) != EST_OK) ||
        (rc = set_time(cert, 0, not_before, err)) != EST_OK ||
        (rc = set_time(cert, 1, not_after, err)) != EST_OK)
        goto out;
    *out = cert;
    cert = NULL;
    rc = EST_OK;
out:
    X509_free(cert);
    ASN1_INTEGER_free(serial);
    return rc;
}

est_status ca_cert_add_ext(X509 *cert, int nid, int critical, void *value, est_error *err)
{
    if (X509_add1_ext_i2d(cert, nid, value, critical, X509V3_ADD_DEFAULT) != 1)
        return est_error_set_openssl(err, EST_E_CA, "adding extension %s", OBJ_nid2sn(nid));
    return EST_OK;
}

est_status ca_key_id_of_spki(const X509_PUBKEY *spki, ASN1_OCTET_STRING **out, est_error *err)
{
    const unsigned char *bits;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int bits_len;

    *out = NULL;
    if (!X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, spki) ||
        !EVP_Digest(bits, (size_t)bits_len, md, &md_len, EVP_sha1(), NULL) ||
        (*out = ASN1_OCTET_STRING_new()) == NULL ||
        !ASN1_OCTET_STRING_set(*out, md, (int)md_len)) {
        ASN1_OCTET_STRING_free(*out);
        *out = NULL;
        return est_error_set_openssl(err, EST_E_CA, "computing a key identifier");
    }
    return EST_OK;
}

est_status ca_key_id(X509 *cert, EVP_PKEY *key, ASN1_OCTET_STRING **out, est_error *err)
{
    const ASN1_OCTET_STRING *existing = cert != NULL ? X509_get0_subject_key_id(cert) : NULL;
    X509_PUBKEY *pub = NULL;
    est_status rc;

    *out = NULL;
    if (existing != NULL) {
        if ((*out = ASN1_OCTET_STRING_dup(existing)) == NULL)
            return est_error_set(err, EST_E_NOMEM, "out of memory");
        return EST_OK;
    }
    /* The certificate's own SubjectPublicKeyInfo needs no re-encoding. */
    if (cert != NULL)
        return ca_key_id_of_spki(X509_get_X509_PUBKEY(cert), out, err);
    if (!X509_PUBKEY_set(&pub, key))
        return est_error_set_openssl(err, EST_E_CA, "computing a key identifier");
    rc = ca_key_id_of_spki(pub, out, err);
    X509_PUBKEY_free(pub);
    return rc;
}

est_status ca_cert_add_key_ids(X509 *cert, const ASN1_OCTET_STRING *subject_key_id,
                               const ASN1_OCTET_STRING *issuer_key_id, est_error *err)
{
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    est_status rc = EST_E_NOMEM;

    if (akid == NULL || (akid->keyid = ASN1_OCTET_STRING_dup(issuer_key_id)) == NULL) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    /* RFC 5280 §4.2.1.1-2: AKI non-critical, SKI non-critical. */
    if ((rc = ca_cert_add_ext(cert, NID_subject_key_identifier, 0, (void *)subject_key_id,
                              err)) != EST_OK ||
        (rc = ca_cert_add_ext(cert, NID_authority_key_identifier, 0, akid, err)) != EST_OK)
        goto out;
    rc = EST_OK;
out:
    AUTHORITY_KEYID_free(akid);
    return rc;
}

/* RFC 5280 §4.2.1.9 / §4.2.1.3: a CA certificate has basicConstraints
 * CA:TRUE and keyUsage keyCertSign (+cRLSign: we sign CRLs), both critical. */
static est_status add_ca_usage(X509 *cert, est_error *err)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    ASN1_BIT_STRING *usage = ASN1_BIT_STRING_new();
    est_status rc = EST_E_NOMEM;

    if (bc == NULL || usage == NULL || !ASN1_BIT_STRING_set_bit(usage, 5, 1) ||
        !ASN1_BIT_STRING_set_bit(usage, 6, 1)) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    bc->ca = 1;
    if ((rc = ca_cert_add_ext(cert, NID_basic_constraints, 1, bc, err)) != EST_OK ||
        (rc = ca_cert_add_ext(cert, NID_key_usage, 1, usage, err)) != EST_OK)
        goto out;
    rc = EST_OK;
out:
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING_free(usage);
    return rc;
}

est_status ca_cert_make_ca_signed(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *key,
                                  time_t not_before, time_t not_after,
                                  const ASN1_OCTET_STRING *subject_key_id,
                                  const ASN1_OCTET_STRING *issuer_key_id, est_signer *signer,
                                  X509 **out, est_error *err)
{
    X509 *cert = NULL;
    est_status rc;

    *out = NULL;
    if ((rc = ca_cert_new(subject, issuer, key, NULL, not_before, not_after, &cert, err)) !=
            EST_OK ||
        (rc = add_ca_usage(cert, err)) != EST_OK ||
        (rc = ca_cert_add_key_ids(cert, subject_key_id, issuer_key_id, err)) != EST_OK ||
        (rc = est_signer_sign_cert(signer, cert, err)) != EST_OK)
        goto out;
    *out = cert;
    cert = NULL;
out:
    X509_free(cert);
    return rc;
}

est_status ca_cert_make_ca(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *key,
                           time_t not_before, time_t not_after,
                           const ASN1_OCTET_STRING *subject_key_id,
                           const ASN1_OCTET_STRING *issuer_key_id, EVP_PKEY *signing_key,
                           X509 **out, est_error *err)
{
    est_signer *signer = est_signer_new_key(signing_key);
    est_status rc;

    *out = NULL;
    if (signer == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    rc = ca_cert_make_ca_signed(subject, issuer, key, not_before, not_after, subject_key_id,
                        issuer_key_id, signer, out, err);
    est_signer_free(signer);
    return rc;
}

est_status est_ca_make_root_signer(est_signer *signer, const char *subject_dn, unsigned days,
                                   X509 **out, est_error *err)
{
    EVP_PKEY *key = est_signer_get0_public_key(signer);
    X509_NAME *name = NULL;
    ASN1_OCTET_STRING *key_id = NULL;
    time_t now = time(NULL);
    est_status rc;

    if (key == NULL || subject_dn == NULL || out == NULL)
        return est_error_set(err, EST_E_INTERNAL, "make root: NULL argument");
    *out = NULL;
    if (days == 0 || days > EST_VALIDITY_DAYS_MAX)
        return est_error_set(err, EST_E_INPUT, "root validity of %u days (1-%d)", days,
                             EST_VALIDITY_DAYS_MAX);
    if ((rc = est_name_parse(subject_dn, &name, err)) != EST_OK ||
        (rc = ca_key_id(NULL, key, &key_id, err)) != EST_OK)
        goto out;
    /* RFC 5280 §4.2.1.1: AKI may be omitted in a self-signed certificate;
     * it is kept (= SKI) because chain builders use it to pick issuers. */
    rc = ca_cert_make_ca_signed(name, name, key, now - EST_CA_BACKDATE_SECONDS,
                        now + (time_t)days * EST_SECONDS_PER_DAY, key_id, key_id, signer, out,
                        err);
out:
    ASN1_OCTET_STRING_free(key_id);
    X509_NAME_free(name);
    return rc;
}

est_status est_ca_make_root(EVP_PKEY *key, const char *subject_dn, unsigned days, X509 **out,
                            est_error *err)
{
    est_signer *signer = key != NULL ? est_signer_new_key(key) : NULL;
    est_status rc;

    if (signer == NULL)
        return key == NULL ? est_error_set(err, EST_E_INTERNAL, "make root: NULL argument")
                           : est_error_set(err, EST_E_NOMEM, "out of memory");
    rc = est_ca_make_root_signer(signer, subject_dn, days, out, err);
    est_signer_free(signer);
    return rc;
}
