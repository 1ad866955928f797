/* estkit: TLS channel bindings for proof-of-possession linking
 * (draft-04 §3.5, RFC 7030 §3.5; docs/design.md §2).
 *
 * TLS 1.2 and older: tls-unique (RFC 5929 §3.1), the first Finished
 * message of the connection's most recent handshake. TLS 1.3, which has no
 * tls-unique: tls-exporter (RFC 9266 §2), 32 bytes exported with the label
 * "EXPORTER-Channel-Binding" and an empty context. A client puts the base64
 * of these bytes in the CSR's challengePassword; the server computes the
 * same on its side of the connection and compares. */
#ifndef ESTKIT_CHANNEL_BINDING_H
#define ESTKIT_CHANNEL_BINDING_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include "estkit/api.h"
#include "estkit/error.h"

/* Largest binding: a Finished message is at most one hash output
 * (EVP_MAX_MD_SIZE), the exporter gives 32 bytes. */
#define EST_CHANNEL_BINDING_MAX 64
/* Its base64 text (padded) plus NUL. */
#define EST_CHANNEL_BINDING_B64_MAX (4 * ((EST_CHANNEL_BINDING_MAX + 2) / 3) + 1)

/* Writes the binding of ssl's connection (client or server side; the
 * handshake must be complete) into out[0..cap), its length into *out_len.
 * EST_E_TLS when no binding can be had (handshake not done, exporter
 * failure), EST_E_TOO_LARGE when cap is too small. */
EST_API est_status est_channel_binding_get(SSL *ssl, uint8_t *out, size_t cap, size_t *out_len,
                                           est_error *err);

/* The same as NUL-terminated base64 (RFC 4648 §4, padded): the text a
 * challengePassword carries. */
EST_API est_status est_channel_binding_b64(SSL *ssl, char *out, size_t cap, est_error *err);

#endif
