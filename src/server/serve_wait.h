/* The main thread of `estd serve` while the loops run (serve_wait.c). */
#ifndef ESTD_SERVE_WAIT_H
#define ESTD_SERVE_WAIT_H

#include <signal.h>
#include "http_plain.h"
#include "metrics.h"
#include "metrics_http.h"
#include "publish.h"
#include "reload.h"

/* What the main thread looks after between signals. */
typedef struct estd_serve_state {
    estd_server *srv;
    estd_tls_identity *tls;
    estd_reloader *reloader;
    estd_plain *plain;          /* http_listen, metrics_listen; NULL when neither */
    estd_publisher *publisher;  /* NULL without http_listen */
    estd_metrics *metrics;      /* always kept; served on metrics_listen */
    estd_metrics_http *metrics_http; /* NULL without metrics_listen */
} estd_serve_state;

/* Makes the metrics (hooked into the instance and the TLS context), opens
 * syslog when log_target asks, then binds and starts the plain-HTTP side
 * listeners the configuration asks for (before READY=1: a taken port
 * fails the start). */
est_status estd_serve_side_start(estd_serve_state *st, est_error *err);
/* Stops them (after the loops). */
void estd_serve_side_stop(estd_serve_state *st);

/* Waits for SIGTERM or SIGINT (returned); meanwhile reloads on SIGHUP and
 * runs the periodic tasks. signals (blocked in every thread) holds all
 * three. */
int estd_serve_wait(estd_serve_state *st, const sigset_t *signals);

#endif
