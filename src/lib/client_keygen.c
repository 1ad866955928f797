/* /serverkeygen (draft-04 §4.4) and /fullcmc (§4.3) on the client side.
 *
 * Server key generation answers multipart/mixed with a private-key part
 * (application/pkcs8: PKCS#8 PrivateKeyInfo, base64 with or without PEM
 * armour, or DER) and a certs-only part (application/pkcs7-mime). A key part
 * encrypted in CMS (§4.4.2, a DecryptKeyIdentifier was sent) is not
 * supported: this client never asks for one. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/x509.h>
#include "client_internal.h"
#include "estkit/body.h"
#include "estkit/certs_only.h"
#include "estkit/multipart.h"

typedef enum part_kind { PART_OTHER = 0, PART_KEY, PART_CERTS, PART_ENCRYPTED_KEY } part_kind;

static part_kind classify(const est_part *part)
{
    est_media_type *mt = NULL;
    const char *smime;
    part_kind kind = PART_OTHER;

    if (part->content_type == NULL || est_media_type_parse(part->content_type, &mt, NULL) != EST_OK)
        return PART_OTHER;
    if (est_media_type_is(mt, "application/pkcs8")) {
        kind = PART_KEY;
    } else if (est_media_type_is(mt, "application/pkcs7-mime")) {
        smime = est_media_type_get0_param(mt, "smime-type");
        /* RFC 7030 §4.4.2 names it; the draft does not: a certs-only
         * response is then told apart by parsing. */
        if (smime != NULL && strcasecmp(smime, "server-generated-key") == 0)
            kind = PART_ENCRYPTED_KEY;
        else
            kind = PART_CERTS;
    }
    est_media_type_free(mt);
    return kind;
}

static est_status decode_key(const est_part *part, EVP_PKEY **key, est_error *err)
{
    uint8_t *der = NULL;
    size_t len = 0;
    const unsigned char *p;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    est_status rc = est_body_decode(part->body, part->body_len, &der, &len, NULL, err);

    if (rc != EST_OK)
        return est_error_prefix(err, rc, "private key part");
    p = der;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 == NULL || p != der + len || (*key = EVP_PKCS82PKEY(p8)) == NULL)
        rc = est_error_set_openssl(err, EST_E_PROTOCOL, "private key part: not a PKCS#8 "
                                                        "PrivateKeyInfo");
    PKCS8_PRIV_KEY_INFO_free(p8);
    OPENSSL_clear_free(der, len);
    return rc;
}

static est_status decode_certs(const est_part *part, STACK_OF(X509) **certs, est_error *err)
{
    uint8_t *der = NULL;
    size_t len = 0;
    est_status rc = est_body_decode(part->body, part->body_len, &der, &len, NULL, err);

    if (rc == EST_OK)
        rc = est_certs_only_parse(der, len, certs, err);
    if (rc != EST_OK)
        rc = est_error_prefix(err, rc, "certificate part");
    OPENSSL_free(der);
    return rc;
}

/* Walks the parts: exactly one key part and one certs-only part. */
static est_status read_parts(const est_multipart *mp, EVP_PKEY **key, STACK_OF(X509) **certs,
                             est_error *err)
{
    est_status rc;

    for (size_t i = 0; i < est_multipart_part_count(mp); i++) {
        const est_part *part = est_multipart_get0_part(mp, i);
        part_kind kind = classify(part);
        if (kind == PART_ENCRYPTED_KEY)
            return est_error_set(err, EST_E_UNSUPPORTED, "the server sent an encrypted key "
                                                         "(CMS), which this client never asks for");
        if (kind == PART_OTHER)
            return est_error_set(err, EST_E_PROTOCOL, "part %zu: Content-Type %s is neither "
                                 "application/pkcs8 nor application/pkcs7-mime", i + 1,
                                 part->content_type ? part->content_type : "(none)");
        if ((kind == PART_KEY && *key != NULL) || (kind == PART_CERTS && *certs != NULL))
            return est_error_set(err, EST_E_PROTOCOL, "part %zu repeats a %s part", i + 1,
                                 kind == PART_KEY ? "key" : "certificate");
        rc = kind == PART_KEY ? decode_key(part, key, err) : decode_certs(part, certs, err);
        if (rc != EST_OK)
            return rc;
    }
    if (*key == NULL || *certs == NULL)
        return est_error_set(err, EST_E_PROTOCOL, "the response lacks its %s part",
                             *key == NULL ? "private key" : "certificate");
    return EST_OK;
}

est_status client_keygen_parse(est_client *c, const est_http_response *resp, X509 **cert,
                               EVP_PKEY **key, est_error *err)
{
    est_media_type *mt = NULL;
    est_multipart *mp = NULL;
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *pkey = NULL;
    const char *boundary = NULL;
    est_status rc = est_media_type_parse(resp->content_type, &mt, err);

    if (rc == EST_OK && (!est_media_type_is(mt, "multipart/mixed") ||
                         (boundary = est_media_type_get0_param(mt, "boundary")) == NULL))
        rc = est_error_set(err, EST_E_PROTOCOL, "Content-Type %s, expected multipart/mixed "
                                                "with a boundary", resp->content_type);
    if (rc == EST_OK && (rc = est_multipart_parse(resp->body, resp->len, boundary, &mp, err)) ==
                            EST_OK)
        rc = read_parts(mp, &pkey, &certs, err);
    if (rc != EST_OK) {
        est_error_prefix(err, rc, "%s: malformed /serverkeygen response", c->server);
        goto out;
    }
    if ((rc = client_pick_cert(c, certs, pkey, cert, err)) != EST_OK)
        goto out;
    *key = pkey;
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    sk_X509_pop_free(certs, X509_free);
    est_multipart_free(mp);
    est_media_type_free(mt);
    return rc;
}

est_status est_client_serverkeygen(est_client *c, const est_enroll_params *params, X509 **cert,
                                   EVP_PKEY **key, est_error *err)
{
    est_http_response resp = {0};
    EVP_PKEY *throwaway = NULL;
    est_status rc;

    if (c == NULL || params == NULL || cert == NULL || key == NULL)
        return est_error_set(err, EST_E_INTERNAL, "serverkeygen: NULL argument");
    *cert = NULL;
    *key = NULL;
    /* §4.4.1: the server ignores the CSR's key and signature; a throwaway
     * key signs it when the caller has none. */
    rc = client_request_cert(c, EST_OP_SERVERKEYGEN, params, &throwaway, &resp, err);
    if (rc == EST_OK)
        rc = client_keygen_parse(c, &resp, cert, key, err);
    EVP_PKEY_free(throwaway);
    http_response_free(&resp);
    return rc;
}

est_status est_client_fullcmc(est_client *c, const uint8_t *req_der, size_t req_len,
                              uint8_t **resp_der, size_t *resp_len, est_error *err)
{
    est_http_response resp = {0};
    char *body = NULL;
    size_t body_len = 0;
    CURL *curl;
    est_status rc, decoded;

    if (c == NULL || req_der == NULL || resp_der == NULL || resp_len == NULL)
        return est_error_set(err, EST_E_INTERNAL, "fullcmc: NULL argument");
    *resp_der = NULL;
    *resp_len = 0;
    if ((rc = client_handle(c, &curl, err)) != EST_OK ||
        (rc = est_body_encode_lines(req_der, req_len, c->dialect, "PKCS7", c->base64_line,
                                    &body, &body_len, err)) != EST_OK)
        return rc;
    /* A request carrying a channel binding goes on the bound connection. */
    c->binding_mode = c->binding_armed ? EST_BINDING_CHECK : EST_BINDING_OFF;
    c->binding_armed = 0;
    rc = client_http(c, curl, EST_OP_FULLCMC,
                     c->dialect == EST_DIALECT_DRAFT
                             ? "application/pkcs7-mime"
                             : "application/pkcs7-mime; smime-type=CMC-request",
                         (const uint8_t *)body, body_len, &resp, err);
    c->binding_mode = EST_BINDING_OFF;
    if (rc != EST_OK)
        goto out;
    rc = client_status_error(c, EST_OP_FULLCMC, &resp, err);
    /* draft-04 §4.3.2: an error may carry a CMC response; hand it over too. */
    if (client_check_type(c, &resp, "application/pkcs7-mime", rc == EST_OK ? err : NULL) !=
            EST_OK ||
        resp.len == 0) {
        if (rc == EST_OK)
            rc = resp.len == 0 ? est_error_set(err, EST_E_PROTOCOL, "%s: empty response",
                                               c->server)
                               : EST_E_PROTOCOL;
        goto out;
    }
    decoded = est_body_decode(resp.body, resp.len, resp_der, resp_len, NULL,
                              rc == EST_OK ? err : NULL);
    if (decoded != EST_OK && rc == EST_OK)
        rc = est_error_prefix(err, decoded, "%s: malformed /fullcmc response", c->server);
out:
    OPENSSL_free(body);
    http_response_free(&resp);
    return rc;
}
