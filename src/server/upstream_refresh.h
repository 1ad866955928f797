/* estd serve: background refresh of upstream /cacerts (issuer = est). */
#ifndef ESTD_UPSTREAM_REFRESH_H
#define ESTD_UPSTREAM_REFRESH_H

#include "instance.h"

typedef struct estd_refresher estd_refresher;
struct estd_server;

/* Starts the thread; it refreshes the labels of whatever instance
 * srv->inst is at each round (a reload may add or drop upstreams). */
est_status estd_refresher_start(struct estd_server *srv, estd_refresher **out, est_error *err);
/* Stops and joins (a fetch in progress finishes first, bounded by
 * upstream_timeout_seconds). NULL is a no-op. */
void estd_refresher_stop(estd_refresher *r);

#endif
