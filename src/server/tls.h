/* estd: the TLS side of the front end (draft-04 §3.3). */
#ifndef ESTD_TLS_H
#define ESTD_TLS_H

#include <openssl/ssl.h>
#include "instance.h"
#include "tls_tickets.h"

/* Builds the server context: certificate + chain, key, minimum version,
 * client certificates requested (never required: /cacerts needs none) with
 * the EST CAs and third-party anchors named in the CertificateRequest.
 * Chains are verified per request against the right trust store (see
 * authn.c), so the handshake itself accepts any presented chain.
 * tickets: the session ticket key ring (must outlive the context), or
 * NULL for no session resumption. */
est_status estd_tls_context_new(const estd_instance *inst, estd_ticket_keys *tickets, SSL_CTX **out,
                                est_error *err);

#endif
