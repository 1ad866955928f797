/* estd serve: background refresh of upstream /cacerts (issuer = est). */
#ifndef ESTD_UPSTREAM_REFRESH_H
#define ESTD_UPSTREAM_REFRESH_H

#include "instance.h"

typedef struct estd_refresher estd_refresher;

/* *out = NULL when no CA has an upstream EST issuer. */
est_status estd_refresher_start(estd_instance *inst, estd_refresher **out, est_error *err);
/* Stops and joins (a fetch in progress finishes first, bounded by
 * upstream_timeout_seconds). NULL is a no-op. */
void estd_refresher_stop(estd_refresher *r);

#endif
