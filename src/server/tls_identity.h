/* The server's TLS identity, replaceable while connections run (SIGHUP,
 * renewal): certificate, chain, key and the CA names a CertificateRequest
 * lists. The SSL_CTX itself is never modified once loops run (OpenSSL does
 * not allow that concurrently with SSL_new); a certificate callback hands
 * each new handshake the identity current at that moment. Established
 * connections keep the one they started with. */
#ifndef ESTD_TLS_IDENTITY_H
#define ESTD_TLS_IDENTITY_H

#include <openssl/ssl.h>
#include "instance.h"

typedef struct estd_tls_identity estd_tls_identity;

/* Installs the callback on ctx (before any connection). */
estd_tls_identity *estd_tls_identity_new(SSL_CTX *ctx);
void estd_tls_identity_free(estd_tls_identity *id);

/* Loads inst's tls_cert (+ chain) and tls_key, checks they match, and
 * makes them (and inst's client CA names) what new handshakes use. On
 * failure nothing changes. */
est_status estd_tls_identity_load(estd_tls_identity *id, const estd_instance *inst, est_error *err);

/* The EST CAs' and third-party anchors' subjects, for CertificateRequest. */
est_status estd_tls_ca_names(const estd_instance *inst, STACK_OF(X509_NAME) **out, est_error *err);

#endif
