/* estkit: multipart/mixed (RFC 2046 §5.1) as /serverkeygen uses it. */
#ifndef ESTKIT_MULTIPART_H
#define ESTKIT_MULTIPART_H

#include <stddef.h>
#include <stdint.h>
#include "estkit/api.h"
#include "estkit/error.h"

#define EST_MULTIPART_MAX_PARTS 8
#define EST_MULTIPART_MAX_BOUNDARY 70 /* RFC 2046 */
#define EST_MULTIPART_MAX_PART_HEADERS 16

/* One part, as est_multipart_get0_part lends it: read-only, owned by the
 * multipart. */
typedef struct est_part {
    char *content_type;      /* Content-Type value as sent, or NULL */
    char *transfer_encoding; /* Content-Transfer-Encoding value, or NULL */
    uint8_t *body;           /* part body (not decoded) */
    size_t body_len;
} est_part;

/* Up to EST_MULTIPART_MAX_PARTS parts (opaque). */
typedef struct est_multipart est_multipart;

/* An empty multipart; NULL when out of memory. Free with est_multipart_free. */
EST_API est_multipart *est_multipart_new(void);
/* Frees mp and its parts, cleansing every body first (a /serverkeygen
 * part is a private key). NULL is a no-op. */
EST_API void est_multipart_free(est_multipart *mp);
/* How many parts mp holds (0 for NULL). */
EST_API size_t est_multipart_part_count(const est_multipart *mp);
/* Part i (from 0), borrowed: valid until mp is freed; NULL when i is not
 * below est_multipart_part_count. */
EST_API const est_part *est_multipart_get0_part(const est_multipart *mp, size_t i);

/* Appends a part (copies everything). content_type may be NULL. */
EST_API est_status est_multipart_add(est_multipart *mp, const char *content_type,
                                     const char *transfer_encoding, const uint8_t *body,
                                     size_t body_len, est_error *err);

/* Serialises with CRLF line ends and the given boundary (1..70 chars of
 * RFC 2046's bchars, not ending in space). *out: est_free. */
EST_API est_status est_multipart_build(const est_multipart *mp, const char *boundary, uint8_t **out,
                                       size_t *out_len, est_error *err);

/* Parses a body with the boundary from the Content-Type. Preamble and
 * epilogue are ignored; LF-only line ends are accepted; a missing close
 * delimiter, a missing boundary or more than EST_MULTIPART_MAX_PARTS parts is
 * an error. Part header names are case-insensitive. *out: free with
 * est_multipart_free. */
EST_API est_status est_multipart_parse(const uint8_t *in, size_t in_len, const char *boundary,
                                       est_multipart **out, est_error *err);

#endif
