/* Tests src/lib/channel_binding.c over in-memory TLS connections: a client
 * and a server SSL joined by a BIO pair, with a self-signed certificate
 * made here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "estkit/channel_binding.h"
#include "unit_main.h"

typedef struct fixture {
    EVP_PKEY *key;
    X509 *cert;
    SSL_CTX *server_ctx, *client_ctx;
} fixture;

typedef struct conn {
    SSL *client, *server;
} conn;

static X509 *self_signed(EVP_PKEY *key)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();

    assert_non_null(cert);
    assert_true(X509_set_version(cert, X509_VERSION_3));
    assert_true(ASN1_INTEGER_set(X509_get_serialNumber(cert), 1));
    assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                           (const unsigned char *)"localhost", -1, -1, 0));
    assert_true(X509_set_subject_name(cert, name));
    assert_true(X509_set_issuer_name(cert, name));
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), -60));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), 3600));
    assert_true(X509_set_pubkey(cert, key));
    assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
    X509_NAME_free(name);
    return cert;
}

static int setup(void **state)
{
    static fixture f;
    f.key = EVP_EC_gen("P-256");
    if (f.key == NULL)
        return -1;
    f.cert = self_signed(f.key);
    f.server_ctx = SSL_CTX_new(TLS_server_method());
    f.client_ctx = SSL_CTX_new(TLS_client_method());
    if (f.server_ctx == NULL || f.client_ctx == NULL ||
        SSL_CTX_use_certificate(f.server_ctx, f.cert) != 1 ||
        SSL_CTX_use_PrivateKey(f.server_ctx, f.key) != 1)
        return -1;
    /* The client does not verify: trust is not what is tested here. */
    SSL_CTX_set_verify(f.client_ctx, SSL_VERIFY_NONE, NULL);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    SSL_CTX_free(f->server_ctx);
    SSL_CTX_free(f->client_ctx);
    X509_free(f->cert);
    EVP_PKEY_free(f->key);
    return 0;
}

/* Runs a handshake at exactly `version`, resuming `session` if non-NULL. */
static conn handshake(fixture *f, int version, SSL_SESSION *session)
{
    conn c = {SSL_new(f->client_ctx), SSL_new(f->server_ctx)};
    BIO *client_bio = NULL, *server_bio = NULL;
    int client_done = 0, server_done = 0;

    assert_non_null(c.client);
    assert_non_null(c.server);
    assert_true(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0));
    SSL_set_bio(c.client, client_bio, client_bio);
    SSL_set_bio(c.server, server_bio, server_bio);
    assert_true(SSL_set_min_proto_version(c.client, version));
    assert_true(SSL_set_max_proto_version(c.client, version));
    if (session != NULL)
        assert_true(SSL_set_session(c.client, session));
    SSL_set_connect_state(c.client);
    SSL_set_accept_state(c.server);
    for (int i = 0; i < 100 && !(client_done && server_done); i++) {
        if (!client_done)
            client_done = SSL_do_handshake(c.client) == 1;
        if (!server_done)
            server_done = SSL_do_handshake(c.server) == 1;
    }
    assert_true(client_done && server_done);
    assert_int_equal(SSL_version(c.client), version);
    return c;
}

static void close_conn(conn *c)
{
    /* A clean shutdown keeps the session resumable. */
    SSL_shutdown(c->client);
    SSL_shutdown(c->server);
    SSL_free(c->client);
    SSL_free(c->server);
}

static size_t binding(SSL *ssl, uint8_t out[EST_CHANNEL_BINDING_MAX])
{
    size_t len = 0;
    est_error err;
    assert_int_equal(est_channel_binding_get(ssl, out, EST_CHANNEL_BINDING_MAX, &len, &err),
                     EST_OK);
    return len;
}

static void tls12_full_handshake_uses_client_finished(void **state)
{
    fixture *f = *state;
    conn a = handshake(f, TLS1_2_VERSION, NULL), b = handshake(f, TLS1_2_VERSION, NULL);
    uint8_t ca[EST_CHANNEL_BINDING_MAX], sa[EST_CHANNEL_BINDING_MAX], cb[EST_CHANNEL_BINDING_MAX];
    uint8_t fin[EST_CHANNEL_BINDING_MAX];
    size_t len = binding(a.client, ca);

    assert_false(SSL_session_reused(a.client));
    /* TLS 1.2 Finished verify_data is 12 bytes (RFC 5246 §7.4.9). */
    assert_int_equal(len, 12);
    assert_int_equal(binding(a.server, sa), len);
    assert_memory_equal(ca, sa, len);
    /* RFC 5929 §3.1: the client's Finished, not the server's. */
    assert_int_equal(SSL_get_finished(a.client, fin, sizeof fin), len);
    assert_memory_equal(ca, fin, len);
    assert_int_equal(SSL_get_finished(a.server, fin, sizeof fin), len);
    assert_memory_not_equal(ca, fin, len);
    /* Another connection, another binding. */
    assert_int_equal(binding(b.client, cb), len);
    assert_memory_not_equal(ca, cb, len);
    close_conn(&a);
    close_conn(&b);
}

static void tls12_resumed_handshake_uses_server_finished(void **state)
{
    fixture *f = *state;
    conn a = handshake(f, TLS1_2_VERSION, NULL), b;
    SSL_SESSION *session = SSL_get1_session(a.client);
    uint8_t cb[EST_CHANNEL_BINDING_MAX], sb[EST_CHANNEL_BINDING_MAX], ca[EST_CHANNEL_BINDING_MAX];
    uint8_t fin[EST_CHANNEL_BINDING_MAX];
    size_t len;

    assert_non_null(session);
    assert_int_equal(binding(a.client, ca), 12);
    close_conn(&a);
    b = handshake(f, TLS1_2_VERSION, session);
    assert_true(SSL_session_reused(b.client));
    assert_true(SSL_session_reused(b.server));
    len = binding(b.client, cb);
    assert_int_equal(binding(b.server, sb), len);
    assert_memory_equal(cb, sb, len);
    /* Abbreviated handshake: the server sends the first Finished. */
    assert_int_equal(SSL_get_finished(b.server, fin, sizeof fin), len);
    assert_memory_equal(sb, fin, len);
    assert_memory_not_equal(cb, ca, len);
    SSL_SESSION_free(session);
    close_conn(&b);
}

static void tls13_uses_exporter(void **state)
{
    fixture *f = *state;
    conn a = handshake(f, TLS1_3_VERSION, NULL), b = handshake(f, TLS1_3_VERSION, NULL);
    uint8_t ca[EST_CHANNEL_BINDING_MAX], sa[EST_CHANNEL_BINDING_MAX], cb[EST_CHANNEL_BINDING_MAX];
    uint8_t ekm[32];

    /* RFC 9266 §2: 32 bytes. */
    assert_int_equal(binding(a.client, ca), 32);
    assert_int_equal(binding(a.server, sa), 32);
    assert_memory_equal(ca, sa, 32);
    /* Independently: the exporter with that label and no context (the
     * same as an empty one in TLS 1.3, RFC 8446 §7.5). */
    assert_int_equal(SSL_export_keying_material(a.server, ekm, sizeof ekm,
                                                "EXPORTER-Channel-Binding", 24, NULL, 0, 0),
                     1);
    assert_memory_equal(ca, ekm, 32);
    assert_int_equal(binding(b.server, cb), 32);
    assert_memory_not_equal(ca, cb, 32);
    close_conn(&a);
    close_conn(&b);
}

static void base64_text_matches_the_bytes(void **state)
{
    fixture *f = *state;
    conn a = handshake(f, TLS1_3_VERSION, NULL), b = handshake(f, TLS1_2_VERSION, NULL);
    char text[EST_CHANNEL_BINDING_B64_MAX], other[EST_CHANNEL_BINDING_B64_MAX];
    uint8_t raw[EST_CHANNEL_BINDING_MAX], decoded[EST_CHANNEL_BINDING_MAX];
    est_error err;

    assert_int_equal(est_channel_binding_b64(a.client, text, sizeof text, &err), EST_OK);
    assert_int_equal(strlen(text), 44); /* 32 bytes, padded */
    assert_int_equal(est_channel_binding_b64(a.server, other, sizeof other, &err), EST_OK);
    assert_string_equal(text, other);
    assert_int_equal(EVP_DecodeBlock(decoded, (const unsigned char *)text, 44), 33);
    assert_memory_equal(decoded, raw, binding(a.client, raw));
    /* Exactly enough room, then one byte short. */
    assert_int_equal(est_channel_binding_b64(a.client, other, 45, &err), EST_OK);
    assert_int_equal(est_channel_binding_b64(a.client, other, 44, &err), EST_E_TOO_LARGE);
    /* TLS 1.2: 12 bytes -> 16 characters. */
    assert_int_equal(est_channel_binding_b64(b.server, text, sizeof text, &err), EST_OK);
    assert_int_equal(strlen(text), 16);
    assert_int_equal(est_channel_binding_b64(b.server, text, 16, &err), EST_E_TOO_LARGE);
    assert_int_equal(est_channel_binding_b64(b.server, NULL, 16, &err), EST_E_INPUT);
    close_conn(&a);
    close_conn(&b);
}

static void output_capacity_and_arguments(void **state)
{
    fixture *f = *state;
    conn a = handshake(f, TLS1_3_VERSION, NULL);
    uint8_t out[32];
    size_t len = 99;
    est_error err;

    assert_int_equal(est_channel_binding_get(a.client, out, 32, &len, &err), EST_OK);
    assert_int_equal(len, 32);
    assert_int_equal(est_channel_binding_get(a.client, out, 31, &len, &err), EST_E_TOO_LARGE);
    assert_int_equal(len, 0);
    assert_int_equal(est_channel_binding_get(NULL, out, 32, &len, &err), EST_E_INPUT);
    assert_int_equal(est_channel_binding_get(a.client, NULL, 32, &len, &err), EST_E_INPUT);
    close_conn(&a);
}

static void no_binding_before_the_handshake(void **state)
{
    fixture *f = *state;
    SSL *ssl = SSL_new(f->client_ctx);
    uint8_t out[EST_CHANNEL_BINDING_MAX];
    char text[EST_CHANNEL_BINDING_B64_MAX];
    size_t len = 0;
    est_error err;

    assert_int_equal(est_channel_binding_get(ssl, out, sizeof out, &len, &err), EST_E_TLS);
    assert_int_equal(err.code, EST_E_TLS);
    assert_int_equal(est_channel_binding_b64(ssl, text, sizeof text, &err), EST_E_TLS);
    SSL_free(ssl);
}

UNIT_MAIN_GROUP(setup, teardown,
    cmocka_unit_test(tls12_full_handshake_uses_client_finished),
    cmocka_unit_test(tls12_resumed_handshake_uses_server_finished),
    cmocka_unit_test(tls13_uses_exporter),
    cmocka_unit_test(base64_text_matches_the_bytes),
    cmocka_unit_test(output_capacity_and_arguments),
    cmocka_unit_test(no_binding_before_the_handshake))
