/* The main thread of `estd serve` while the loops run (serve_wait.c). */
#ifndef ESTD_SERVE_WAIT_H
#define ESTD_SERVE_WAIT_H

#include <signal.h>
#include "reload.h"

/* What the main thread looks after between signals. */
typedef struct estd_serve_state {
    estd_server *srv;
    estd_tls_identity *tls;
    estd_reloader *reloader;
} estd_serve_state;

/* Waits for SIGTERM or SIGINT (returned); meanwhile reloads on SIGHUP and
 * runs the periodic tasks. signals (blocked in every thread) holds all
 * three. */
int estd_serve_wait(estd_serve_state *st, const sigset_t *signals);

#endif
