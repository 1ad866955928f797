/* estkit: certificate revocation lists (RFC 5280 §5). */
#ifndef ESTKIT_CRL_H
#define ESTKIT_CRL_H

#include <stddef.h>
#include <time.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/ca.h"
#include "estkit/error.h"

typedef struct est_revoked_entry {
    const char *serial_hex;
    time_t revoked_at;
    int reason; /* CRL reason code (RFC 5280 §5.3.1), -1 = none */
} est_revoked_entry;

/* A signed CRL (v2, CRL number, AKI, nextUpdate now + next_update_days);
 * *out: X509_CRL_free. */
EST_API est_status est_ca_make_crl(est_ca *ca, const est_revoked_entry *entries, size_t count,
                                   long crl_number, unsigned next_update_days, X509_CRL **out,
                                   est_error *err);
/* "keyCompromise" etc. (RFC 5280 names, case-insensitive) -> code. */
EST_API est_status est_crl_reason_parse(const char *name, int *code, est_error *err);

#endif
