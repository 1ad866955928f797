/* Plain-HTTP side listeners (http_plain.c): the CRL and CA certificate for
 * relying parties (http_listen) and metrics and health (metrics_listen).
 * One thread and one event base for all of them, apart from the EST
 * loops: a slow scraper never delays an enrollment. */
#ifndef ESTD_HTTP_PLAIN_H
#define ESTD_HTTP_PLAIN_H

#include <stddef.h>
#include "estkit.h"

struct evhttp_request;

/* What a handler answers. body must stay valid after the handler returns:
 * a static string, or malloc'd memory the handler also puts in owned
 * (freed once the reply is queued). */
typedef struct estd_plain_reply {
    int status;
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *www_authenticate;  /* static, or NULL */
    void *owned;
} estd_plain_reply;

/* Called on the side thread for GET and HEAD (others get 405). path is the
 * request path without the query. */
typedef void (*estd_plain_handler)(void *arg, const char *path, const char *authorization,
                                   estd_plain_reply *reply);

typedef struct estd_plain estd_plain;

estd_plain *estd_plain_new(void);
/* Binds HOST:PORT ([v6]:PORT) now, so a taken port fails at start. */
est_status estd_plain_listen(estd_plain *p, const char *address, estd_plain_handler handler,
                             void *arg, est_error *err);
/* Serves on a thread of its own until estd_plain_free. */
est_status estd_plain_start(estd_plain *p, est_error *err);
void estd_plain_free(estd_plain *p);

#endif
