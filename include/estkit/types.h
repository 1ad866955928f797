/* estkit: small shared vocabulary: dialects, operations, buffers. */
#ifndef ESTKIT_TYPES_H
#define ESTKIT_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* docs/design.md §2: the request path's spelling picks the dialect of the answer. */
typedef enum est_dialect {
    EST_DIALECT_RFC7030 = 0, /* base64 DER bodies, no armour, AttrOrOID csrattrs */
    EST_DIALECT_DRAFT = 1,   /* draft-04: PEM armour, SEQUENCE OF OID csrattrs */
} est_dialect;

typedef enum est_operation {
    EST_OP_CACERTS = 0,
    EST_OP_SIMPLEENROLL,
    EST_OP_SIMPLEREENROLL,
    EST_OP_FULLCMC,
    EST_OP_SERVERKEYGEN,
    EST_OP_CSRATTRS,
    EST_OP_COUNT
} est_operation;

#endif
