/* The client's TLS side: trust anchors, the server-authorization decision
 * of draft-04 §3.6.1 made inside the handshake, and the channel binding
 * check before a request leaves (draft-04 §3.5).
 *
 * libcurl's own peer verification is off on purpose: it cannot keep the
 * explicit and the third-party databases apart nor accept an id-kp-cmcRA
 * certificate without a name match. Instead the SSL_CTX gets a certificate
 * verification callback that does all of it, so a server that fails is
 * dropped during the handshake, before any HTTP byte or credential. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "client_internal.h"
#include "estkit/file.h"

est_status client_store_from_certs(STACK_OF(X509) *certs, X509_STORE **out, est_error *err)
{
    X509_STORE *store = X509_STORE_new();
    est_status rc = EST_E_NOMEM;

    if (store == NULL) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(certs, i)) != 1) {
            est_error_set_openssl(err, EST_E_NOMEM, "trust store");
            goto out;
        }
    }
    /* Every certificate the operator put in a trust file is an anchor, also
     * an intermediate one (what curl --cacert does too). */
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    *out = store;
    store = NULL;
    rc = EST_OK;
out:
    X509_STORE_free(store);
    return rc;
}

static est_status store_from_file(const char *path, X509_STORE **out, est_error *err)
{
    STACK_OF(X509) *certs = NULL;
    est_status rc = est_certs_read_file(path, &certs, err);

    if (rc == EST_OK)
        rc = client_store_from_certs(certs, out, err);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

est_status client_load_trust(est_client *client, const est_client_config *cfg,
                             est_error *err)
{
    est_status rc;

    if (cfg->explicit_trust_file != NULL &&
        (rc = store_from_file(cfg->explicit_trust_file, &client->explicit_store, err)) != EST_OK)
        return rc;
    if (cfg->third_party_trust_file != NULL &&
        (rc = store_from_file(cfg->third_party_trust_file, &client->third_party_store, err)) !=
            EST_OK)
        return rc;
    if (cfg->third_party_system) {
        if (client->third_party_store == NULL &&
            (client->third_party_store = X509_STORE_new()) == NULL)
            return est_error_set(err, EST_E_NOMEM, "out of memory");
        if (X509_STORE_set_default_paths(client->third_party_store) != 1)
            return est_error_set_openssl(err, EST_E_CONFIG, "system trust store");
    }
    return EST_OK;
}

/* RFC 6125 via OpenSSL: an IP literal must be an iPAddress SAN; a DNS name
 * matches a dNSName (no partial wildcards), the CN only when no dNSName. */
static int host_matches(const char *host, X509 *leaf)
{
    unsigned char addr[16];

    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
        return X509_check_ip_asc(leaf, host, 0) == 1;
    return X509_check_host(leaf, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

static int has_cmc_ra(X509 *leaf)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, NULL, NULL);
    int found = 0;

    for (int i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
        if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_cmcRA)
            found = 1;
    EXTENDED_KEY_USAGE_free(eku);
    return found;
}

/* RFC 5280 path validation of leaf to an anchor of store. */
static int chain_valid(X509_STORE *store, X509 *leaf, STACK_OF(X509) *peer_chain, int *verr)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = 0;

    if (ctx != NULL && X509_STORE_CTX_init(ctx, store, leaf, peer_chain) == 1) {
        ok = X509_verify_cert(ctx) == 1;
        if (!ok && *verr == X509_V_OK)
            *verr = X509_STORE_CTX_get_error(ctx);
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* "not trusted" is what an operator needs for an unknown CA; other path
 * errors (expired, bad signature) are named. */
static void untrusted_reason(int verr, char *reason, size_t cap)
{
    switch (verr) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        snprintf(reason, cap, "server certificate not trusted");
        break;
    default:
        snprintf(reason, cap, "server certificate not trusted: %s",
                 X509_verify_cert_error_string(verr));
    }
}

int client_check_server(est_client *client, X509 *leaf, STACK_OF(X509) *peer_chain,
                        char *reason, size_t cap)
{
    int verr = X509_V_OK, names = host_matches(client->host, leaf);
    int server_eku = X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) == 1;
    int validated = 0;

    /* draft-04 §3.6.1, Absolute TA database: the URI matches, or the
     * certificate carries id-kp-cmcRA. */
    if (client->explicit_store != NULL && chain_valid(client->explicit_store, leaf, peer_chain,
                                                      &verr)) {
        validated = 1;
        if ((names && server_eku) || has_cmc_ra(leaf))
            return 1;
    }
    /* Third-party TA database: the URI must match (RFC 2818 §3.1, RFC 6125). */
    if (client->third_party_store != NULL &&
        chain_valid(client->third_party_store, leaf, peer_chain, &verr)) {
        validated = 1;
        if (names && server_eku)
            return 1;
    }
    ERR_clear_error();
    if (client->explicit_store == NULL && client->third_party_store == NULL)
        snprintf(reason, cap, "no trust anchor configured");
    else if (!validated)
        untrusted_reason(verr, reason, cap);
    else if (!names)
        snprintf(reason, cap, "server certificate does not match host %s", client->host);
    else
        snprintf(reason, cap, "server certificate is not for TLS servers (extended key usage)");
    return 0;
}

/* Replaces OpenSSL's chain check for this handshake (SSL_CTX_set_cert_
 * verify_callback): the return value decides, 0 aborts the handshake. */
static int verify_server_cb(X509_STORE_CTX *ctx, void *arg)
{
    est_client *client = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(ctx);

    if (leaf == NULL) {
        snprintf(client->tls_failure, sizeof client->tls_failure,
                 "server sent no certificate");
        return 0;
    }
    /* TLS-SRP without anchors (SRP-RSA sends a certificate): the SRP
     * exchange authenticates the server; with anchors, check it as well. */
    if (client->srp && client->explicit_store == NULL && client->third_party_store == NULL)
        return 1;
    if (client_check_server(client, leaf, X509_STORE_CTX_get0_untrusted(ctx),
                            client->tls_failure, sizeof client->tls_failure))
        return 1;
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

CURLcode client_ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *arg)
{
    SSL_CTX *ctx = ssl_ctx;

    (void)curl;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_server_cb, arg);
    return CURLE_OK;
}

/* The binding of the connection the current transfer runs on. */
static int current_binding(est_client *client, uint8_t *out, size_t cap, size_t *len)
{
    struct curl_tlssessioninfo *info = NULL;

    if (curl_easy_getinfo(client->curl, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK ||
        info == NULL || info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL)
        return 0;
    return est_channel_binding_get(info->internals, out, cap, len, NULL) == EST_OK;
}

/* Runs after the connection (and handshake) is ready and before the
 * request is written (CURLOPT_PREREQFUNCTION). A CSR that carries the
 * binding of one connection must not be sent on another: libcurl may have
 * opened a new one if the server closed the old. */
int client_prereq_cb(void *arg, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port)
{
    est_client *client = arg;
    uint8_t now[EST_CHANNEL_BINDING_MAX];
    size_t len = 0;
    int ok;

    (void)conn_primary_ip, (void)conn_local_ip, (void)conn_primary_port, (void)conn_local_port;
    if (client->binding_mode == EST_BINDING_OFF)
        return CURL_PREREQFUNC_OK;
    ok = current_binding(client, now, sizeof now, &len);
    if (client->binding_mode == EST_BINDING_RECORD) {
        client->binding_len = ok ? len : 0;
        if (ok)
            memcpy(client->binding, now, len);
        OPENSSL_cleanse(now, sizeof now);
        return CURL_PREREQFUNC_OK;
    }
    ok = ok && len == client->binding_len && CRYPTO_memcmp(now, client->binding, len) == 0;
    OPENSSL_cleanse(now, sizeof now);
    if (ok)
        return CURL_PREREQFUNC_OK;
    client->binding_mismatch = 1;
    return CURL_PREREQFUNC_ABORT;
}
