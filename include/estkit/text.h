/* estkit: untrusted text made safe for one log line or audit field.
 *
 * Anything a client sends (request path, user name, CSR subject, user
 * agent) may carry ESC sequences that drive an operator's terminal, CR/LF
 * that forge log lines, NUL that cuts a field, or bytes that are not UTF-8
 * at all. Every log line and audit record passes such text through
 * est_text_escape, the one escaping rule of estkit. */
#ifndef ESTKIT_TEXT_H
#define ESTKIT_TEXT_H

#include "estkit/api.h"

#include <stddef.h>

/* Escapes in_len bytes of in into out (cap bytes, cap >= 1; always
 * NUL-terminated). Kept as they are: printable ASCII and well-formed UTF-8
 * (RFC 3629). Written as \xNN (uppercase hex), byte by byte: control bytes
 * (0x00-0x1F, 0x7F), '\' and '"' (so a quoted log field cannot be closed or
 * an escape forged), bytes that are not well-formed UTF-8 (stray
 * continuation bytes, overlong forms, surrogates, beyond U+10FFFF,
 * truncated sequences), and well-formed characters that act as controls:
 * C1 (U+0080-U+009F, e.g. U+009B is a CSI on some terminals), the line and
 * paragraph separators U+2028/U+2029 and the bidirectional formatting
 * characters U+200E/U+200F, U+202A-U+202E, U+2066-U+2069 (which reorder
 * what a reader sees). When the result does not fit, it is cut at a
 * character or escape boundary and ends with "..."; the return is then 1,
 * else 0. */
EST_API int est_text_escape(const void *in, size_t in_len, char *out, size_t cap);

/* The same into a string (est_free) of at most max characters (max >= 3);
 * NULL when s is NULL or memory runs out. */
EST_API char *est_text_escape_dup(const char *s, size_t max);

#endif
