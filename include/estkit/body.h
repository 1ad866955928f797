/* estkit: EST body codec (DESIGN §2, RFC 8951 §3.2).
 *
 * Decoding is liberal: raw DER, base64 with any line breaks/whitespace, or
 * base64 inside PEM armour ("-----BEGIN X-----"). Anything else is an error,
 * never silently accepted. Encoding follows the dialect: RFC 7030 gives
 * RFC 4648 base64 of the DER on one line, no armour (RFC 8951 §3.2;
 * strict clients do not skip line breaks); draft-04
 * gives PEM armour with the given label. Uses OpenSSL's EVP base64. */
#ifndef ESTKIT_BODY_H
#define ESTKIT_BODY_H

#include "estkit/error.h"
#include "estkit/types.h"

/* Largest body accepted by est_body_decode (encoded size). */
#define EST_BODY_MAX ((size_t)1 << 20)

/* Decodes in[0..in_len) to DER. On success *der is malloc'd (free()).
 * When pem_label is non-NULL and the input was PEM, *pem_label receives the
 * label ("PKCS7", "CERTIFICATE REQUEST", ...; malloc'd), else NULL.
 * The DER is not parsed further, except that a result must start with a
 * DER SEQUENCE whose length covers the whole output exactly. */
est_status est_body_decode(const uint8_t *in, size_t in_len, uint8_t **der, size_t *der_len,
                           char **pem_label, est_error *err);

/* Encodes DER for the wire in the given dialect (pem_label used for the
 * draft, e.g. "PKCS7"). *out is malloc'd, NUL-terminated; *out_len excludes
 * the NUL. */
est_status est_body_encode(const uint8_t *der, size_t der_len, est_dialect dialect,
                           const char *pem_label, char **out, size_t *out_len, est_error *err);

#endif
