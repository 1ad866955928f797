/* estkit: EST request path routing (draft-04 §3.2.2, RFC 7030 §3.2.2).
 *
 * "/.well-known/est[/label]/op" -> operation, optional CA label, dialect.
 * The draft's exact spelling (CACerts, simpleEnroll, simpleReEnroll,
 * fullCMC, serverKeyGen, CSRAttrs) selects EST_DIALECT_DRAFT; any other
 * case-insensitive match of an operation name selects EST_DIALECT_RFC7030.
 * A query string is ignored. */
#ifndef ESTKIT_ROUTE_H
#define ESTKIT_ROUTE_H

#include "estkit/api.h"
#include "estkit/error.h"
#include "estkit/types.h"

#define EST_PATH_PREFIX "/.well-known/est"
#define EST_PATH_MAX 1024
#define EST_LABEL_MAX 64 /* label characters: A-Z a-z 0-9 - _ . (not "." or "..") */

typedef struct est_route {
    est_operation op;
    est_dialect dialect;
    char label[EST_LABEL_MAX + 1]; /* "" when the path has no label */
} est_route;

/* EST_E_NOT_FOUND for a path outside /.well-known/est or an unknown
 * operation; EST_E_INPUT for a bad label (empty, too long, "..",
 * percent-encoding, a label equal to an operation name). */
EST_API est_status est_route_parse(const char *path, est_route *out, est_error *err);

/* The path segment for op in dialect ("simpleenroll" / "simpleEnroll"). */
EST_API const char *est_operation_path(est_operation op, est_dialect dialect);

/* Checks a label on its own (used by config loading too). */
EST_API est_status est_label_check(const char *label, est_error *err);

#endif
