/* Plain-HTTP side listeners (http_plain.h). Small by design: GET and HEAD
 * only, no request body, short timeouts, the answer built by the handler
 * from data it holds, so nothing here parses more than libevent does. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "http_plain.h"

/* Listeners (http_listen, metrics_listen); one evhttp each. */
#define PLAIN_LISTENERS_MAX 4
#define PLAIN_HEADERS_MAX 8192
#define PLAIN_TIMEOUT_SECONDS 10
#define PLAIN_PATH_MAX 512

typedef struct plain_listener {
    struct evhttp *http;
    estd_plain_handler handler;
    void *arg;
} plain_listener;

struct estd_plain {
    struct event_base *base;
    plain_listener listeners[PLAIN_LISTENERS_MAX];
    size_t count;
    pthread_t thread;
    int running;
};

estd_plain *estd_plain_new(void)
{
    estd_plain *p = calloc(1, sizeof *p);

    if (p != NULL && (p->base = event_base_new()) == NULL) {
        free(p);
        p = NULL;
    }
    return p;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    plain_listener *l = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    estd_plain_reply reply = {404, "text/plain", "not found\n", 10, NULL, NULL};
    struct evbuffer *buf;
    char copy[PLAIN_PATH_MAX];

    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(out, "Allow", "GET, HEAD");
        reply = (estd_plain_reply){405, "text/plain", "only GET and HEAD\n", 18, NULL, NULL};
    } else if (path != NULL && strlen(path) < sizeof copy) {
        snprintf(copy, sizeof copy, "%s", path);
        l->handler(l->arg, copy,
                   evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"),
                   &reply);
    }
    if (reply.content_type != NULL)
        evhttp_add_header(out, "Content-Type", reply.content_type);
    if (reply.www_authenticate != NULL)
        evhttp_add_header(out, "WWW-Authenticate", reply.www_authenticate);
    evhttp_add_header(out, "Cache-Control", "no-cache");
    buf = evbuffer_new();
    if (buf != NULL && reply.body_len > 0)
        evbuffer_add(buf, reply.body, reply.body_len);
    free(reply.owned);
    evhttp_send_reply(req, reply.status, NULL, buf);
    evbuffer_free(buf);
}

est_status estd_plain_listen(estd_plain *p, const char *address, estd_plain_handler handler,
                             void *arg, est_error *err)
{
    char host[256], *colon, *end;
    plain_listener *l;
    unsigned long port;

    if (p->count == PLAIN_LISTENERS_MAX)
        return est_error_set(err, EST_E_INTERNAL, "more than %d plain listeners",
                             PLAIN_LISTENERS_MAX);
    snprintf(host, sizeof host, "%s", address);
    colon = strrchr(host, ':');
    if (colon == NULL)
        return est_error_set(err, EST_E_CONFIG, "'%s' is not HOST:PORT", address);
    *colon = '\0';
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port > 65535)
        return est_error_set(err, EST_E_CONFIG, "'%s': bad port", address);
    if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
        colon[-1] = '\0';
        memmove(host, host + 1, strlen(host));
    }
    l = &p->listeners[p->count];
    if ((l->http = evhttp_new(p->base)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    evhttp_set_max_headers_size(l->http, PLAIN_HEADERS_MAX);
    evhttp_set_max_body_size(l->http, 0);
    evhttp_set_timeout(l->http, PLAIN_TIMEOUT_SECONDS);
    evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_gencb(l->http, on_request, l);
    l->handler = handler;
    l->arg = arg;
    if (evhttp_bind_socket_with_handle(l->http, host, (ev_uint16_t)port) == NULL) {
        evhttp_free(l->http);
        l->http = NULL;
        return est_error_set(err, EST_E_IO, "listen on %s: cannot bind", address);
    }
    p->count++;
    return EST_OK;
}

static void *run(void *arg)
{
    estd_plain *p = arg;

    event_base_dispatch(p->base);
    return NULL;
}

est_status estd_plain_start(estd_plain *p, est_error *err)
{
    if (p->count == 0)
        return EST_OK;
    if (pthread_create(&p->thread, NULL, run, p) != 0)
        return est_error_set(err, EST_E_INTERNAL, "cannot start the plain-HTTP thread");
    p->running = 1;
    return EST_OK;
}

void estd_plain_free(estd_plain *p)
{
    if (p == NULL)
        return;
    if (p->running) {
        event_base_loopbreak(p->base);
        pthread_join(p->thread, NULL);
    }
    for (size_t i = 0; i < p->count; i++)
        evhttp_free(p->listeners[i].http);
    event_base_free(p->base);
    free(p);
}
