/* Readiness and state for the service manager (sd_notify; notify.c). */
#ifndef ESTD_NOTIFY_H
#define ESTD_NOTIFY_H

/* The listener accepts: READY=1. */
void estd_notify_ready(const char *listen);
/* A SIGHUP reload starts / has finished (status: one line for systemctl). */
void estd_notify_reloading(void);
void estd_notify_reloaded(const char *status);
/* SIGTERM/SIGINT: stopping. */
void estd_notify_stopping(void);

#endif
