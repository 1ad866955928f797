/* /cacerts on the client side (draft-04 §4.1): the authenticated fetch,
 * the bootstrap of §4.1.1 (unauthenticated fetch + a person's or a
 * fingerprint's decision), and the rollover rule of §4.1.3 (the newest
 * self-signed certificate is the anchor; every other must validate
 * against it). Fingerprints for the decision. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include "client_internal.h"
#include "estkit/body.h"
#include "estkit/certs_only.h"

est_status client_decode_certs(est_client *client, const est_http_response *resp,
                               STACK_OF(X509) **certs, est_error *err)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_status rc;

    if ((rc = client_check_type(client, resp, "application/pkcs7-mime", err)) != EST_OK)
        return rc;
    if (resp->len == 0)
        return est_error_set(err, EST_E_PROTOCOL, "%s: empty response", client->server);
    /* RFC 8951 §3.2: base64 with or without armour, or DER; CTE ignored. */
    rc = est_body_decode(resp->body, resp->len, &der, &der_len, NULL, err);
    if (rc == EST_OK)
        rc = est_certs_only_parse(der, der_len, certs, err);
    if (rc != EST_OK)
        rc = est_error_prefix(err, rc, "%s: malformed certs-only response", client->server);
    OPENSSL_free(der);
    return rc;
}

/* 1 when cert is self-signed: its own key verifies its signature. */
static int self_signed(X509 *cert)
{
    int r = X509_self_signed(cert, 1);

    ERR_clear_error();
    return r == 1;
}

/* draft-04 §4.1.3: "The CA's most recent self-signed certificate (e.g.
 * NewWithNew certificate) is self-signed and has the latest NotAfter date." */
static X509 *newest_root(STACK_OF(X509) *certs)
{
    X509 *best = NULL;

    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        int cmp;
        if (!self_signed(c))
            continue;
        if (best == NULL) {
            best = c;
            continue;
        }
        cmp = ASN1_TIME_compare(X509_get0_notAfter(c), X509_get0_notAfter(best));
        if (cmp > 0 || (cmp == 0 && ASN1_TIME_compare(X509_get0_notBefore(c),
                                                      X509_get0_notBefore(best)) > 0))
            best = c;
    }
    return best;
}

/* RFC 5280 path validation of cert to anchor, with the response's other
 * non-self-signed certificates as intermediates. */
static int validates(X509_STORE *anchor, X509 *cert, STACK_OF(X509) *links, int *verr)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = 0;

    if (ctx != NULL && X509_STORE_CTX_init(ctx, anchor, cert, links) == 1) {
        ok = X509_verify_cert(ctx) == 1;
        *verr = X509_STORE_CTX_get_error(ctx);
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* An older self-signed root (OldWithOld) cannot chain to the new one; it is
 * accepted when a validated link certifies the same subject and key
 * (OldWithNew, RFC 4210 §4.4). */
static int key_certified(X509 *root, STACK_OF(X509) *validated)
{
    for (int i = 0; i < sk_X509_num(validated); i++) {
        X509 *v = sk_X509_value(validated, i);
        if (!self_signed(v) &&
            X509_NAME_cmp(X509_get_subject_name(v), X509_get_subject_name(root)) == 0 &&
            EVP_PKEY_eq(X509_get0_pubkey(v), X509_get0_pubkey(root)) == 1)
            return 1;
    }
    return 0;
}

static est_status push_ref(STACK_OF(X509) *list, X509 *cert, est_error *err)
{
    if (!X509_up_ref(cert))
        return est_error_set(err, EST_E_INTERNAL, "certificate reference");
    if (!sk_X509_push(list, cert)) {
        X509_free(cert);
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    return EST_OK;
}

static est_status fail_cert(X509 *cert, int i, const char *why, est_error *err)
{
    char name[128];

    X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
    return est_error_set(err, EST_E_TLS, "CA certificate %d (%s) does not validate against "
                                         "the newest root: %s", i + 1, name, why);
}

/* Validates every certificate except anchor, pushing each onto ordered. */
static est_status validate_rest(STACK_OF(X509) *certs, X509 *anchor, X509_STORE *store,
                                STACK_OF(X509) *links, STACK_OF(X509) *ordered, est_error *err)
{
    int verr = X509_V_OK;
    est_status rc;

    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        if (c == anchor || self_signed(c))
            continue;
        if (!validates(store, c, links, &verr))
            return fail_cert(c, i, X509_verify_cert_error_string(verr), err);
        if ((rc = push_ref(ordered, c, err)) != EST_OK)
            return rc;
    }
    /* Self-signed ones last: they need the validated links. */
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        if (c == anchor || !self_signed(c))
            continue;
        if (X509_cmp(c, anchor) == 0)
            continue; /* a duplicate of the anchor */
        if (!key_certified(c, ordered))
            return fail_cert(c, i, "an older root whose key no link certifies", err);
        if ((rc = push_ref(ordered, c, err)) != EST_OK)
            return rc;
    }
    return EST_OK;
}

est_status est_cacerts_select_anchor(STACK_OF(X509) *certs, STACK_OF(X509) **ordered,
                                     est_error *err)
{
    STACK_OF(X509) *out = NULL, *links = NULL;
    X509_STORE *store = NULL;
    X509 *anchor;
    est_status rc = EST_E_NOMEM;

    *ordered = NULL;
    if (certs == NULL || (anchor = newest_root(certs)) == NULL)
        return est_error_set(err, EST_E_PROTOCOL, "no self-signed CA certificate (trust "
                                                  "anchor) among the CA certificates");
    out = sk_X509_new_null();
    links = sk_X509_new_null();
    store = X509_STORE_new();
    if (out == NULL || links == NULL || store == NULL || X509_STORE_add_cert(store, anchor) != 1) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        if (!self_signed(c) && !sk_X509_push(links, c)) {
            est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
    }
    if ((rc = push_ref(out, anchor, err)) != EST_OK ||
        (rc = validate_rest(certs, anchor, store, links, out, err)) != EST_OK)
        goto out;
    *ordered = out;
    out = NULL;
    rc = EST_OK;
out:
    sk_X509_pop_free(out, X509_free);
    sk_X509_free(links); /* borrowed pointers */
    X509_STORE_free(store);
    return rc;
}

est_status est_fingerprint_text(X509 *cert, const EVP_MD *md, char *out, size_t cap,
                                est_error *err)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (X509_digest(cert, md, digest, &len) != 1)
        return est_error_set_openssl(err, EST_E_INTERNAL, "certificate digest");
    if (cap < 3 * (size_t)len)
        return est_error_set(err, EST_E_TOO_LARGE, "fingerprint buffer too small");
    for (unsigned int i = 0; i < len; i++)
        snprintf(out + 3 * i, 4, i + 1 < len ? "%02X:" : "%02X", digest[i]);
    return EST_OK;
}

/* Reads "sha256:" + 64 hex digits, colons and spaces ignored. */
static est_status parse_sha256(const char *text, unsigned char want[32], est_error *err)
{
    static const char prefix[] = "sha256:";
    size_t n = 0;

    if (text == NULL || strncasecmp(text, prefix, sizeof prefix - 1) != 0)
        return est_error_set(err, EST_E_INPUT, "fingerprint must be sha256:HEX");
    for (const char *p = text + sizeof prefix - 1; *p != '\0'; p++) {
        int hi;
        if (*p == ':' || *p == ' ')
            continue;
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) || n >= 32)
            return est_error_set(err, EST_E_INPUT, "fingerprint: expected 64 hex digits "
                                                   "after sha256:");
        hi = OPENSSL_hexchar2int((unsigned char)p[0]);
        want[n++] = (unsigned char)(hi << 4 | OPENSSL_hexchar2int((unsigned char)p[1]));
        p++;
    }
    if (n != 32)
        return est_error_set(err, EST_E_INPUT, "fingerprint: expected 64 hex digits after "
                                               "sha256:, got %zu", 2 * n);
    return EST_OK;
}

est_status est_fingerprint_check(X509 *cert, const char *fingerprint, est_error *err)
{
    unsigned char want[32], have[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    est_status rc = parse_sha256(fingerprint, want, err);

    if (rc != EST_OK || cert == NULL)
        return rc;
    if (X509_digest(cert, EVP_sha256(), have, &len) != 1 || len != sizeof want)
        return est_error_set_openssl(err, EST_E_INTERNAL, "certificate digest");
    if (CRYPTO_memcmp(want, have, sizeof want) != 0)
        return est_error_set(err, EST_E_AUTH, "the CA certificate's SHA-256 fingerprint does "
                                              "not match");
    return EST_OK;
}

static est_status fetch(est_client *client, CURL *curl, STACK_OF(X509) **ordered,
                        est_error *err)
{
    est_http_response resp = {0};
    STACK_OF(X509) *certs = NULL;
    est_status rc;

    if ((rc = client_http(client, curl, EST_OP_CACERTS, NULL, NULL, 0, &resp, err)) ==
            EST_OK &&
        (rc = client_status_error(client, EST_OP_CACERTS, &resp, err)) == EST_OK &&
        (rc = client_decode_certs(client, &resp, &certs, err)) == EST_OK &&
        (rc = est_cacerts_select_anchor(certs, ordered, err)) != EST_OK)
        rc = est_error_prefix(err, rc, "%s", client->server);
    sk_X509_pop_free(certs, X509_free);
    http_response_free(&resp);
    return rc;
}

/* draft-04 §4.1.1: an unauthenticated connection of its own (never reused,
 * no credentials), then the caller's decision. */
static est_status bootstrap(est_client *client, STACK_OF(X509) **ordered, est_error *err)
{
    CURL *curl = NULL;
    X509_STORE *store = NULL;
    est_status rc;

    if (client->bootstrap == NULL)
        return est_error_set(err, EST_E_CONFIG, "no trust anchor configured and no bootstrap");
    if ((curl = client_curl_new(client, 0)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "cannot set up libcurl");
    if ((rc = fetch(client, curl, ordered, err)) != EST_OK)
        goto out;
    if (!client->bootstrap(client->bootstrap_arg, sk_X509_value(*ordered, 0), *ordered)) {
        rc = est_error_set(err, EST_E_AUTH, "%s: the CA certificates were not accepted",
                           client->server);
        goto out;
    }
    /* From now on the server is authenticated against what was accepted,
     * on a new connection (the handle is created after this). */
    if ((rc = client_store_from_certs(*ordered, &store, err)) != EST_OK)
        goto out;
    client->explicit_store = store;
    rc = EST_OK;
out:
    if (rc != EST_OK) {
        sk_X509_pop_free(*ordered, X509_free);
        *ordered = NULL;
    }
    curl_easy_cleanup(curl);
    return rc;
}

est_status est_client_cacerts(est_client *client, STACK_OF(X509) **certs, est_error *err)
{
    CURL *curl;
    est_status rc;

    if (client == NULL || certs == NULL)
        return est_error_set(err, EST_E_INTERNAL, "cacerts: NULL argument");
    *certs = NULL;
    if (!est_client_is_trusted(client))
        return bootstrap(client, certs, err);
    if ((rc = client_handle(client, &curl, err)) != EST_OK)
        return rc;
    return fetch(client, curl, certs, err);
}
