/* Renewing the server's own TLS certificate from its CA (tls_renew.c). */
#ifndef ESTD_TLS_RENEW_H
#define ESTD_TLS_RENEW_H

#include <time.h>
#include "instance.h"

/* Validity of a renewed TLS certificate, as `estd init` issues it
 * (CA/Browser-Forum-like 825 days; clipped to the CA's own validity). */
#define ESTD_TLS_VALIDITY_DAYS 825

typedef enum estd_tls_renewal {
    ESTD_TLS_NOT_DUE = 0,  /* expires later than the threshold */
    ESTD_TLS_RENEWED = 1,
} estd_tls_renewal;

/* When inst's TLS certificate (cfg.tls_cert) expires within within_days
 * (or always, with force), issues a new one from the default CA for the
 * same key, subject and subjectAltName names, with serverAuth, and
 * replaces cfg.tls_cert atomically (the new certificate, then the CA
 * certificate and its chain). The key file is not touched, so the pair on
 * disk always matches. inst must be opened with ESTD_OPEN_KEYS. Audited as
 * "tls-renew". *not_after: the (new) certificate's notAfter. */
est_status estd_tls_renew(estd_instance *inst, unsigned within_days, int force,
                          estd_tls_renewal *outcome, time_t *not_after, est_error *err);

#endif
