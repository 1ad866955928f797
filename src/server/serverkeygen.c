/* estd: /serverkeygen (draft-04 §4.4, RFC 7030 §4.4).
 *
 * The CSR is read like an enrollment's, except that its public key and
 * signature are ignored (draft-04 §4.4.1: MUST ignore); it still names the
 * subject, the subjectAltName and, optionally, how the key must be
 * encrypted. The server generates the key with the OS RNG (OpenSSL's
 * default DRBG), issues the certificate as enroll would, and answers
 * multipart/mixed: the key part and a certs-only part. It keeps no copy of
 * the key: every buffer that held it is cleansed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include "server.h"
#include "estkit/key.h"
#include "estkit/csr.h"
#include "estkit/mem.h"

/* Our multipart boundary: base64 and PEM text never contain it. */
#define SKG_BOUNDARY "estServerKeyGenBoundary"

typedef enum skg_protection {
    SKG_PLAIN = 0,     /* PKCS#8 inside TLS only */
    SKG_KEK,           /* DecryptKeyIdentifier: a pre-shared key */
    SKG_CERT,          /* AsymmetricDecryptKeyIdentifier: the TLS client certificate */
} skg_protection;

typedef struct skg_encryption {
    skg_protection protection;
    uint8_t id[EST_DECRYPT_KEY_ID_MAX];
    size_t id_len;
    uint8_t kek[ESTD_KEK_MAX];
    size_t kek_len;
} skg_encryption;

int estd_serverkeygen_offered(const estd_request *req, estd_response *resp)
{
    if (req->ca->cfg->serverkeygen)
        return 1;
    estd_response_error(resp, 501, "server key generation is not offered by this CA");
    return 0;
}

/* The key policy a CSR's key meets (est_csr_check), for a generated key. */
static int profile_allows(const est_profile *profile, est_key_type type)
{
    int rsa_bits = 0;

    switch (type) {
    case EST_KEY_EC_P256:
        return (profile->key_types & EST_KEY_ALLOW_EC_P256) != 0;
    case EST_KEY_EC_P384:
        return (profile->key_types & EST_KEY_ALLOW_EC_P384) != 0;
    case EST_KEY_ED25519:
        return profile->allow_ed25519 && (profile->key_types & EST_KEY_ALLOW_ED25519) != 0;
    case EST_KEY_RSA_2048:
        rsa_bits = 2048;
        break;
    case EST_KEY_RSA_3072:
        rsa_bits = 3072;
        break;
    case EST_KEY_RSA_4096:
        rsa_bits = 4096;
        break;
    }
    return (profile->key_types & EST_KEY_ALLOW_RSA) != 0 && rsa_bits >= profile->min_rsa_bits &&
           rsa_bits <= profile->max_rsa_bits;
}

/* "csr": the request's key names the type (its values are ignored). */
static int key_type_from_csr(X509_REQ *csr, est_key_type *type, estd_response *resp)
{
    EVP_PKEY *key = X509_REQ_get0_pubkey(csr);
    char group[64] = "";
    size_t glen = 0;

    if (key != NULL && EVP_PKEY_is_a(key, "RSA")) {
        int bits = EVP_PKEY_get_bits(key);
        if (bits == 2048 || bits == 3072 || bits == 4096) {
            *type = bits == 2048 ? EST_KEY_RSA_2048 : bits == 3072 ? EST_KEY_RSA_3072
                                                                   : EST_KEY_RSA_4096;
            return 1;
        }
    } else if (key != NULL && EVP_PKEY_is_a(key, "ED25519")) {
        *type = EST_KEY_ED25519;
        return 1;
    } else if (key != NULL && EVP_PKEY_is_a(key, "EC") &&
               EVP_PKEY_get_group_name(key, group, sizeof group, &glen) == 1) {
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
            *type = EST_KEY_EC_P256;
            return 1;
        }
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
            *type = EST_KEY_EC_P384;
            return 1;
        }
    }
    estd_response_error(resp, 400, "the CSR's key type selects what to generate, and it is not "
                                   "one of ec-p256, ec-p384, rsa-2048/3072/4096, ed25519");
    return 0;
}

static int key_type_choose(const estd_request *req, X509_REQ *csr, est_key_type *type,
                           estd_response *resp)
{
    const estd_ca_config *cfg = req->ca->cfg;

    if (!cfg->serverkeygen_key_from_csr)
        *type = cfg->serverkeygen_key_type;
    else if (!key_type_from_csr(csr, type, resp))
        return 0;
    if (!profile_allows(&cfg->profile, *type)) {
        estd_response_error(resp, 400, "this CA's profile does not allow %s keys",
                            est_key_type_name(*type));
        return 0;
    }
    return 1;
}

/* RFC 7030 §4.4.1.2: the identifier names the client certificate's key:
 * its subjectKeyIdentifier, or the SHA-1 of its public key. */
static int names_peer_key(const estd_request *req, const skg_encryption *enc)
{
    const ASN1_OCTET_STRING *ski = req->peer_cert ? X509_get0_subject_key_id(req->peer_cert) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (req->peer_cert == NULL)
        return 0;
    if (ski != NULL && (size_t)ASN1_STRING_length(ski) == enc->id_len &&
        memcmp(ASN1_STRING_get0_data(ski), enc->id, enc->id_len) == 0)
        return 1;
    return X509_pubkey_digest(req->peer_cert, EVP_sha1(), md, &md_len) == 1 &&
           md_len == enc->id_len && memcmp(md, enc->id, md_len) == 0;
}

/* draft-04 §4.4.1: DecryptKeyIdentifier / AsymmetricDecryptKeyIdentifier
 * ask for encryption beyond TLS; policy can require it. */
static int encryption_choose(const estd_request *req, X509_REQ *csr, skg_encryption *enc,
                             estd_response *resp)
{
    size_t asym_len = 0;
    uint8_t asym[EST_DECRYPT_KEY_ID_MAX];
    est_status sym_rc, asym_rc;
    est_error err;

    sym_rc = est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, enc->id, sizeof enc->id,
                                        &enc->id_len, &err);
    if (sym_rc == EST_OK || sym_rc == EST_E_NOT_FOUND)
        asym_rc = est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_ASYMMETRIC, asym, sizeof asym,
                                             &asym_len, &err);
    else
        asym_rc = EST_E_NOT_FOUND;
    if ((sym_rc != EST_OK && sym_rc != EST_E_NOT_FOUND) ||
        (asym_rc != EST_OK && asym_rc != EST_E_NOT_FOUND)) {
        estd_response_error(resp, 400, "%s", err.message);
        return 0;
    }
    if (sym_rc == EST_OK && asym_rc == EST_OK) {
        estd_response_error(resp, 400, "the CSR names both a pre-shared and a certificate key: "
                                       "send one");
        return 0;
    }
    if (sym_rc == EST_OK) {
        if (req->ca->keks == NULL) {
            estd_response_error(resp, 400, "this CA has no pre-shared keys (kek_file)");
            return 0;
        }
        if (!estd_kek_table_find(req->ca->keks, enc->id, enc->id_len, enc->kek, &enc->kek_len)) {
            estd_response_error(resp, 400, "unknown DecryptKeyIdentifier");
            return 0;
        }
        enc->protection = SKG_KEK;
        return 1;
    }
    if (asym_rc == EST_OK) {
        memcpy(enc->id, asym, asym_len);
        enc->id_len = asym_len;
        if (!names_peer_key(req, enc)) {
            estd_response_error(resp, 400, "AsymmetricDecryptKeyIdentifier must name the key of "
                                           "the TLS client certificate");
            return 0;
        }
        enc->protection = SKG_CERT;
        return 1;
    }
    if (req->ca->cfg->serverkeygen_require_encryption) {
        estd_response_error(resp, 400, "this CA returns generated keys only encrypted: add a "
                                       "DecryptKeyIdentifier or AsymmetricDecryptKeyIdentifier");
        return 0;
    }
    enc->protection = SKG_PLAIN;
    return 1;
}

/* The key part: PKCS#8, or the enveloped key package. *text is key
 * material when plain; the caller cleanses it. */
static est_status key_part(const estd_request *req, EVP_PKEY *key, const skg_encryption *enc,
                           char **text, size_t *text_len, est_error *err)
{
    est_dialect d = req->route.dialect;
    est_key_package_recipient to = {0};
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_status rc;

    if (enc->protection == SKG_PLAIN) {
        rc = est_key_pkcs8_encode(key, &der, &der_len, err);
    } else {
        if (enc->protection == SKG_KEK) {
            to.kek = enc->kek;
            to.kek_len = enc->kek_len;
            to.kek_id = enc->id;
            to.kek_id_len = enc->id_len;
        } else {
            to.cert = req->peer_cert;
        }
        rc = est_key_package_build(req->ca->ca, key, &to, &der, &der_len, err);
    }
    if (rc == EST_OK)
        rc = est_body_encode_lines(der, der_len, d,
                                   enc->protection == SKG_PLAIN ? "PRIVATE KEY" : "PKCS7",
                                   req->base64_line, text, text_len, err);
    est_key_der_free(der, der_len);
    return rc;
}

static est_status cert_part(const estd_request *req, X509 *cert, char **text, size_t *text_len,
                            est_error *err)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_status rc = EST_E_NOMEM;

    if (certs == NULL || !sk_X509_push(certs, cert))
        est_error_set(err, rc, "out of memory");
    else if ((rc = est_certs_only_build(certs, &der, &der_len, err)) == EST_OK)
        rc = est_body_encode_lines(der, der_len, req->route.dialect, "PKCS7", req->base64_line,
                                   text, text_len, err);
    sk_X509_free(certs);
    est_free(der);
    return rc;
}

/* draft-04 §4.4.2 / RFC 7030 §4.4.2: multipart/mixed, key part first. */
static void respond(const estd_request *req, EVP_PKEY *key, X509 *cert,
                    const skg_encryption *enc, estd_response *resp)
{
    int rfc = req->route.dialect == EST_DIALECT_RFC7030;
    const char *cte = rfc ? "base64" : NULL;
    const char *key_type = enc->protection == SKG_PLAIN ? "application/pkcs8"
                           : rfc ? "application/pkcs7-mime; smime-type=server-generated-key"
                                 : "application/pkcs7-mime";
    est_multipart *mp = est_multipart_new();
    char *key_text = NULL, *cert_text = NULL;
    size_t key_len = 0, cert_len = 0, body_len = 0;
    uint8_t *body = NULL;
    est_error err;

    if (mp == NULL) {
        estd_response_error(resp, 500, "out of memory");
        goto out;
    }
    if (key_part(req, key, enc, &key_text, &key_len, &err) != EST_OK ||
        cert_part(req, cert, &cert_text, &cert_len, &err) != EST_OK ||
        est_multipart_add(mp, key_type, cte, (uint8_t *)key_text, key_len, &err) != EST_OK ||
        est_multipart_add(mp, rfc ? "application/pkcs7-mime; smime-type=certs-only"
                                  : "application/pkcs7-mime",
                          cte, (uint8_t *)cert_text, cert_len, &err) != EST_OK ||
        est_multipart_build(mp, SKG_BOUNDARY, &body, &body_len, &err) != EST_OK) {
        estd_response_failure(resp, 500, &err);
        goto out;
    }
    estd_response_body(resp, 200, "multipart/mixed; boundary=" SKG_BOUNDARY, 0, (char *)body,
                        body_len);
    resp->secret_body = enc->protection == SKG_PLAIN;
out:
    est_multipart_free(mp); /* cleanses the key part */
    if (key_text != NULL)
        OPENSSL_clear_free(key_text, key_len);
    free(cert_text);
}

/* An encrypted key package is signed with the CA's key (RFC 6032 via
 * est_key_package_build); an RA has none. */
static int key_package_signable(const estd_request *req, const skg_encryption *enc,
                                estd_response *resp)
{
    if (enc->protection == SKG_PLAIN || req->ca->ca != NULL)
        return 1;
    estd_response_error(resp, 501, "encrypted server-generated keys are not offered by an RA "
                                   "(issuer = est or cmp): there is no CA key here to sign them");
    return 0;
}

/* The certificate for the new key: the CSR with its key replaced stands
 * for the request, so issuing, the store and the audit are enroll's. */
static int issue_for_key(estd_server *srv, const estd_request *req, const estd_auth_result *auth,
                         X509_REQ *csr, EVP_PKEY *key, X509 **cert, estd_response *resp)
{
    estd_requester who = {auth->name, auth->method, NULL};
    X509_REQ *stand_in = X509_REQ_dup(csr);
    est_error err;
    int ok = 0;

    /* An upstream checks the CSR's signature: the RA, which generated the
     * key, signs the stand-in with it (the embedded CA needs no signature). */
    if (stand_in == NULL || !X509_REQ_set_pubkey(stand_in, key) ||
        (req->ca->cfg->upstream.issuer != ESTD_ISSUER_EMBEDDED &&
         !X509_REQ_sign(stand_in, key, est_key_digest(key)))) {
        estd_response_error(resp, 500, "out of memory");
    } else if (estd_issue(srv->inst, req->ca, stand_in, NULL, &who, "serverkeygen", cert,
                          &resp->retry_after, &err) != EST_OK) {
        estd_issue_refusal(req, &err, resp);
    } else {
        ok = 1;
    }
    X509_REQ_free(stand_in);
    return ok;
}

void estd_handle_serverkeygen(estd_server *srv, const estd_request *req,
                              const estd_auth_result *auth, estd_response *resp)
{
    skg_encryption enc = {.protection = SKG_PLAIN};
    est_key_type type = EST_KEY_EC_P256;
    X509_REQ *csr = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int64_t otp_id = 0;
    est_error err;

    /* A key generated now would have to be kept until an operator
     * approves: not something this server does with private keys. */
    if (req->ca->cfg->approval == ESTD_APPROVAL_MANUAL) {
        estd_response_error(resp, 501, "server key generation is not offered while this CA "
                                       "requires manual approval");
        goto out;
    }
    if (!estd_csr_from_body(req, 0, &csr, resp) || !estd_pop_link_check(req, csr, resp) ||
        !key_type_choose(req, csr, &type, resp) || !encryption_choose(req, csr, &enc, resp) ||
        !key_package_signable(req, &enc, resp) ||
        !estd_otp_check(srv, req, auth, csr, &otp_id, resp))
        goto refused;
    if (est_key_generate(type, &key, &err) != EST_OK) {
        estd_response_error(resp, 500, "%s", err.message);
        estd_otp_settle(srv, req, auth, otp_id, NULL, "no certificate: key generation failed");
        goto out;
    }
    if (!issue_for_key(srv, req, auth, csr, key, &cert, resp)) {
        estd_otp_settle(srv, req, auth, otp_id, NULL, "no certificate: issuing failed");
        goto refused;
    }
    estd_otp_settle(srv, req, auth, otp_id, cert, "issued");
    respond(req, key, cert, &enc, resp);
    goto out;
refused:
    estd_audit_refusal(srv, req, auth, resp);
out:
    OPENSSL_cleanse(&enc, sizeof enc);
    EVP_PKEY_free(key); /* OpenSSL cleanses the private key as it frees it */
    X509_REQ_free(csr);
    X509_free(cert);
}
