/* Private to libestkit's auth files: strict base64 on top of OpenSSL's
 * EVP_EncodeBlock/EVP_DecodeBlock (RFC 4648 §4 alphabet with padding, and
 * the §5 URL-safe alphabet without padding for Digest nonces). */
#ifndef ESTKIT_AUTH_B64_H
#define ESTKIT_AUTH_B64_H

#include <stddef.h>
#include <stdint.h>
#include "estkit/error.h"

/* Characters (without NUL) that base64 of n bytes takes, padded. */
#define AUTH_B64_LEN(n) (4 * (((n) + 2) / 3))
/* Bytes auth_b64_decode needs in its output for len characters. */
#define AUTH_B64_DECODE_CAP(len) (((len) + 3) / 4 * 3)

/* Encodes in[0..n) into out (padded RFC 4648 §4, NUL-terminated).
 * cap must be at least AUTH_B64_LEN(n) + 1. Returns the length or 0 when
 * out is too small. url != 0 gives the §5 alphabet without padding. */
size_t auth_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap, int url);

/* Decodes exactly in[0..len) into out[0..cap): only the alphabet, no
 * whitespace, padding only at the end (url != 0: §5 alphabet, no padding).
 * out must have room for whole 3-byte groups: cap >= AUTH_B64_DECODE_CAP(len).
 * EST_E_INPUT for anything else, EST_E_TOO_LARGE when out is too small. */
est_status auth_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                           size_t *out_len, int url);

#endif
