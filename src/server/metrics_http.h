/* /metrics, /healthz and /readyz on metrics_listen (metrics_http.c). */
#ifndef ESTD_METRICS_HTTP_H
#define ESTD_METRICS_HTTP_H

#include "http_plain.h"
#include "server.h"

typedef struct estd_metrics_http estd_metrics_http;

/* With ops.metrics_user set, reads the password (first line of
 * metrics_password_file, which must not be readable by group or others)
 * and demands HTTP Basic on /metrics. */
est_status estd_metrics_http_new(estd_server *srv, estd_metrics_http **out, est_error *err);
void estd_metrics_http_free(estd_metrics_http *h);

/* The estd_plain_handler; arg = the estd_metrics_http. */
void estd_metrics_http_handle(void *arg, const char *path, const char *authorization,
                              estd_plain_reply *reply);

#endif
