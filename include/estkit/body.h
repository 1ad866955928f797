/* estkit: EST body codec (docs/design.md §2, RFC 8951 §3.2).
 *
 * Decoding is liberal: raw DER, base64 with any line breaks/whitespace, or
 * base64 inside PEM armour ("-----BEGIN X-----"); trailing NUL bytes and
 * trailing whitespace are ignored (libest ends /csrattrs with a NUL).
 * Anything else is an error, never silently accepted. Encoding follows the
 * dialect: RFC 7030 gives RFC 4648 base64 of the DER, no armour, in RFC 2045
 * §6.8 lines (EST_BODY_LINE_DEFAULT characters, each ended by LF) or, on
 * request, one unbroken line; draft-04 gives PEM armour with the given label
 * (RFC 7468 §2: 64-character lines ended by LF). Uses OpenSSL's EVP base64. */
#ifndef ESTKIT_BODY_H
#define ESTKIT_BODY_H

#include "estkit/api.h"
#include "estkit/error.h"
#include "estkit/types.h"

/* Largest body accepted by est_body_decode (encoded size). */
#define EST_BODY_MAX ((size_t)1 << 20)

/* RFC 7030 line length of est_body_encode: decoders built on OpenSSL's
 * base64 BIO without BIO_FLAGS_BASE64_NO_NL (libest) read nothing from one
 * long line, so lines are the default. RFC 2045 §6.8 caps a line at 76
 * characters; a multiple of 4 keeps every line whole base64 quanta. */
#define EST_BODY_LINE_DEFAULT 64u
#define EST_BODY_LINE_MAX 76u

/* Decodes in[0..in_len) to DER. On success *der: est_free.
 * When pem_label is non-NULL and the input was PEM, *pem_label receives the
 * label ("PKCS7", "CERTIFICATE REQUEST", ...; est_free), else NULL.
 * The DER is not parsed further, except that a result must start with a
 * DER SEQUENCE whose length covers the whole output exactly. */
EST_API est_status est_body_decode(const uint8_t *in, size_t in_len, uint8_t **der, size_t *der_len,
                                   char **pem_label, est_error *err);

/* Encodes DER for the wire in the given dialect (pem_label used for the
 * draft, e.g. "PKCS7"), RFC 7030 bodies in EST_BODY_LINE_DEFAULT lines.
 * *out (est_free) is NUL-terminated; *out_len excludes the NUL. */
EST_API est_status est_body_encode(const uint8_t *der, size_t der_len, est_dialect dialect,
                                   const char *pem_label, char **out, size_t *out_len,
                                   est_error *err);

/* The same with the RFC 7030 line length chosen: 0 = one unbroken line (no
 * line end at all; strongSwan's pki needs this), else a multiple of 4 up to
 * EST_BODY_LINE_MAX, each line ended by LF. Draft-04 PEM ignores it. */
EST_API est_status est_body_encode_lines(const uint8_t *der, size_t der_len, est_dialect dialect,
                                         const char *pem_label, unsigned line_chars, char **out,
                                         size_t *out_len, est_error *err);

/* EST_OK when line_chars is a length est_body_encode_lines accepts. */
EST_API est_status est_body_line_check(unsigned line_chars, est_error *err);

#endif
