/* TLS channel bindings (draft-04 §3.5): tls-unique for TLS <= 1.2,
 * tls-exporter for TLS 1.3. See estkit/channel_binding.h. */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include "estkit/channel_binding.h"

/* RFC 9266 §2: label, empty context, 32 bytes. */
#define TLS_EXPORTER_LABEL "EXPORTER-Channel-Binding"
#define TLS_EXPORTER_LEN 32

/* RFC 5929 §3.1: "the first TLS Finished message sent (note: the Finished
 * struct, not the TLS record layer message containing it) in the most
 * recent TLS handshake". In a full handshake the client sends the first
 * Finished; in an abbreviated (resumed) one the server does. Each side
 * has the one it sent (SSL_get_finished) and the one it received
 * (SSL_get_peer_finished). */
static size_t tls_unique(SSL *ssl, uint8_t *buf, size_t cap)
{
    int first_is_ours = SSL_session_reused(ssl) ? SSL_is_server(ssl) : !SSL_is_server(ssl);

    return first_is_ours ? SSL_get_finished(ssl, buf, cap) : SSL_get_peer_finished(ssl, buf, cap);
}

est_status est_channel_binding_get(SSL *ssl, uint8_t *out, size_t cap, size_t *out_len,
                                   est_error *err)
{
    uint8_t buf[EST_CHANNEL_BINDING_MAX];
    size_t len;
    est_status rc = EST_E_TLS;

    if (ssl == NULL || out == NULL || out_len == NULL)
        return est_error_set(err, EST_E_INPUT, "channel binding: no connection");
    *out_len = 0;
    if (!SSL_is_init_finished(ssl))
        return est_error_set(err, EST_E_TLS, "channel binding: handshake not complete");
    if (!SSL_is_dtls(ssl) && SSL_version(ssl) >= TLS1_3_VERSION) {
        /* RFC 8446 §7.5: in TLS 1.3 an empty and an absent context are the
         * same; pass an explicit empty one as RFC 9266 words it. */
        static const unsigned char empty[1] = {0};
        if (SSL_export_keying_material(ssl, buf, TLS_EXPORTER_LEN, TLS_EXPORTER_LABEL,
                                       sizeof TLS_EXPORTER_LABEL - 1, empty, 0, 1) != 1) {
            rc = est_error_set_openssl(err, EST_E_TLS, "channel binding: tls-exporter");
            goto out;
        }
        len = TLS_EXPORTER_LEN;
    } else {
        /* RFC 7627 §5.4: without the extended master secret a resumed
         * session's tls-unique can be made equal on two connections (the
         * triple handshake): no binding rather than a forgeable one. */
        if (SSL_session_reused(ssl) && !SSL_get_extms_support(ssl)) {
            rc = est_error_set(err, EST_E_TLS, "channel binding: resumed TLS 1.2 session without "
                                               "extended master secret (RFC 7627)");
            goto out;
        }
        len = tls_unique(ssl, buf, sizeof buf);
        /* The calls return the full length even when it did not fit. */
        if (len == 0 || len > sizeof buf) {
            rc = est_error_set(err, EST_E_TLS, "channel binding: no Finished message");
            goto out;
        }
    }
    if (len > cap) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "channel binding of %zu bytes exceeds %zu", len,
                           cap);
        goto out;
    }
    memcpy(out, buf, len);
    *out_len = len;
    rc = EST_OK;
out:
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

est_status est_channel_binding_b64(SSL *ssl, char *out, size_t cap, est_error *err)
{
    uint8_t raw[EST_CHANNEL_BINDING_MAX];
    size_t len = 0;
    est_status rc;

    if (out == NULL)
        return est_error_set(err, EST_E_INPUT, "channel binding: no output buffer");
    rc = est_channel_binding_get(ssl, raw, sizeof raw, &len, err);
    if (rc != EST_OK)
        return rc;
    if (cap < 4 * ((len + 2) / 3) + 1)
        return est_error_set(err, EST_E_TOO_LARGE, "channel binding text exceeds %zu bytes", cap);
    EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
    return EST_OK;
}
