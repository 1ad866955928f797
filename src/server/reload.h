/* SIGHUP: reload estd.conf and what it names without a restart
 * (reload.c). */
#ifndef ESTD_RELOAD_H
#define ESTD_RELOAD_H

#include "server.h"
#include "tls_identity.h"

typedef struct estd_reloader estd_reloader;

/* listen_override: what `estd serve --listen` gave, or NULL. */
estd_reloader *estd_reloader_new(const char *listen_override);
/* Frees the instances replaced by reloads (never the store: the current
 * instance owns it). After the loops have stopped. */
void estd_reloader_free(estd_reloader *r);

/* Loads DIR again into a new instance (sharing the running store) and
 * makes it the one new requests see; the TLS identity follows. Settings
 * that cannot change while serving keep their running values, each
 * reported on stderr. When anything fails to load, nothing changes and
 * the reason goes to stderr. EST_OK when the new configuration is live. */
est_status estd_reload(estd_reloader *r, estd_server *srv, estd_tls_identity *tls);

/* Frees replaced instances no request can still be using. Called from the
 * main thread now and then. */
void estd_reload_collect(estd_reloader *r, estd_server *srv);

#endif
