/* estd: TLS server context. */
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "tls.h"
#include "tls_identity.h"
#include "estkit/key.h"

/* The handshake must not fail on an unknown client chain: a device with a
 * manufacturer certificate we do not trust may still enroll with a
 * password, and /cacerts needs no client authentication. Possession of the
 * presented key is still proven by CertificateVerify; which store (if any)
 * vouches for the chain is decided per request in authn.c. */
static int accept_any_chain(X509_STORE_CTX *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return 1;
}

static est_status add_client_ca_names(SSL_CTX *ctx, const estd_instance *inst, est_error *err)
{
    STACK_OF(X509_NAME) *names;
    est_status rc = estd_tls_ca_names(inst, &names, err);

    if (rc == EST_OK)
        SSL_CTX_set_client_CA_list(ctx, names);
    return rc;
}

est_status estd_tls_context_new(const estd_instance *inst, estd_ticket_keys *tickets, SSL_CTX **out,
                                est_error *err)
{
    const estd_config *cfg = &inst->cfg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    est_status rc = EST_E_TLS;
    int min = strcmp(cfg->tls_min_version, "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    static const unsigned char session_id_context[] = "estd";
    EVP_PKEY *key = NULL;

    if (ctx == NULL)
        return est_error_set_openssl(err, EST_E_NOMEM, "SSL_CTX_new");
    if (!SSL_CTX_set_min_proto_version(ctx, min)) {
        rc = est_error_set_openssl(err, EST_E_TLS, "TLS minimum version");
        goto out;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "%s", cfg->tls_cert);
        goto out;
    }
    /* The mode is checked on the descriptor the key is read from. */
    if ((rc = est_key_read_private(cfg->tls_key, NULL, &key, err)) != EST_OK)
        goto out;
    if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "%s", cfg->tls_key);
        goto out;
    }
    /* tls_ciphers (TLS 1.2), tls_ciphersuites (1.3), tls_groups. OpenSSL
     * skips names it does not know; a list matching nothing fails. */
    if (SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "tls_ciphers '%s'", cfg->tls_ciphers);
        goto out;
    }
    if (SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "tls_ciphersuites '%s'",
                                   cfg->tls_ciphersuites);
        goto out;
    }
    if (SSL_CTX_set1_groups_list(ctx, cfg->tls_groups) != 1) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "tls_groups '%s'", cfg->tls_groups);
        goto out;
    }
    /* Renegotiation would change tls-unique under a running request. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Idle keep-alive connections give their read/write buffers back
     * (~34 KiB each): bench/ measures estd holding 1000 of them. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Request a certificate but leave the chain to authn.c: path validation
     * in the handshake would be thrown away and done again per request. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, accept_any_chain, NULL);
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
    /* draft-04 §3.3: resumption SHOULD be supported. With tickets from
     * our own rotating key ring (tls_tickets.h), or none at all. The
     * server-side cache stays off: tickets need no shared state between
     * event-loop threads. tls-unique on a resumed TLS 1.2 session is
     * refused without the extended master secret (channel_binding.c). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (tickets == NULL) {
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    } else if (!estd_ticket_keys_install(ctx, tickets)) {
        rc = est_error_set_openssl(err, EST_E_TLS, "session tickets");
        goto out;
    }
    if ((rc = add_client_ca_names(ctx, inst, err)) != EST_OK)
        goto out;
    *out = ctx;
    ctx = NULL;
    rc = EST_OK;
out:
    EVP_PKEY_free(key);
    SSL_CTX_free(ctx);
    return rc;
}
