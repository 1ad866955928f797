/* Publication for relying parties on http_listen (publish.c): each CA's
 * current CRL (DER, application/pkix-crl, RFC 5280 §4.2.1.13 / RFC 2585)
 * and its certificate (DER, application/pkix-cert, RFC 5280 §4.2.2.1):
 *   /ca.crl, /ca.crt              the default CA
 *   /LABEL/ca.crl, /LABEL/ca.crt  the CA served under LABEL */
#ifndef ESTD_PUBLISH_H
#define ESTD_PUBLISH_H

#include "http_plain.h"
#include "instance.h"

typedef struct estd_publisher estd_publisher;

estd_publisher *estd_publisher_new(void);
void estd_publisher_free(estd_publisher *p);

/* Makes each CA's CRL again when the revoked set changed, when half of
 * crl_days has passed since it was made, or when force (a reload). Main
 * thread; what http serves changes at once. Failures go to stderr and
 * the previous CRL stays served. */
void estd_publisher_refresh(estd_publisher *p, estd_instance *inst, int force);

/* The estd_plain_handler for http_listen; arg = the publisher. */
void estd_publisher_handle(void *arg, const char *path, const char *authorization,
                           estd_plain_reply *reply);

#endif
