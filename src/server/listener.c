/* estd: event-loop threads, TLS connections, request intake and replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include "access_log.h"
#include "server.h"
#include "tls_srp.h"

#define LISTEN_BACKLOG 1024

typedef struct estd_loop {
    estd_server *srv;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    evutil_socket_t listen_fd; /* this loop's dup() of the listening socket */
    pthread_t thread;
    int started;
} estd_loop;

struct estd_loops {
    estd_server *srv;
    estd_loop *loops;
    unsigned count;
};

/* A job travels loop -> worker -> loop. */
typedef struct estd_job {
    estd_loop *loop;
    struct evhttp_request *evreq;
    evutil_socket_t fd; /* the client's socket, -1 if unknown */
    estd_request req;
    estd_response resp;
} estd_job;

/* --- connection accounting (SSL ex_data frees with the connection) --- */

/* Each SSL carries a marker in ex_data; its free callback keeps
 * srv->connections exact however the connection ends. */
static void connection_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
    estd_server *srv = argp;
    (void)parent, (void)ad, (void)idx, (void)argl;
    if (ptr != NULL)
        atomic_fetch_sub(&srv->connections, 1);
}

#define CONNECTION_OK ((void *)1)
#define CONNECTION_OVER_CAP ((void *)2)

static struct bufferevent *connection_new(struct event_base *base, void *arg)
{
    estd_loop *loop = arg;
    SSL *ssl = SSL_new(loop->srv->ssl_ctx);
    int count;

    if (ssl == NULL)
        return NULL;
    count = atomic_fetch_add(&loop->srv->connections, 1) + 1;
    /* Over the cap the connection still completes its handshake but every
     * request on it is answered 503 and the connection closed. */
    SSL_set_ex_data(ssl, loop->srv->connection_index,
                    count > (int)loop->srv->inst->cfg.max_connections ? CONNECTION_OVER_CAP
                                                                       : CONNECTION_OK);
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

/* --- replies (loop thread) --- */

static const char *status_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void reply_send(estd_server *srv, const estd_request *req, struct evhttp_request *evreq,
                       estd_response *resp)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(evreq);
    struct evbuffer *buf = evbuffer_new();
    struct evhttp_connection *evcon;
    struct bufferevent *bev;
    const char *body = resp->body ? resp->body : resp->shared_body;
    size_t len = resp->body ? resp->body_len : resp->shared_len;
    char number[32];

    if (resp->status == 204)
        len = 0;
    /* docs/design.md §2: strict clients need canonical header case and a
     * Content-Length on every response (no chunking). */
    if (resp->content_type[0] != '\0' && len > 0)
        evhttp_add_header(out, "Content-Type", resp->content_type);
    if (resp->base64_transfer)
        evhttp_add_header(out, "Content-Transfer-Encoding", "base64");
    for (int i = 0; i < resp->www_count; i++)
        evhttp_add_header(out, "WWW-Authenticate", resp->www_authenticate[i]);
    if (resp->retry_after > 0) {
        snprintf(number, sizeof number, "%u", resp->retry_after);
        evhttp_add_header(out, "Retry-After", number);
    }
    if (resp->status == 405)
        evhttp_add_header(out, "Allow", "GET, POST");
    snprintf(number, sizeof number, "%zu", len);
    evhttp_add_header(out, "Content-Length", number);
    if (buf != NULL && len > 0)
        evbuffer_add(buf, body, len);
    estd_access_log(srv, req, evhttp_request_get_uri(evreq), resp, len);
    evcon = evhttp_request_get_connection(evreq);
    bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evhttp_send_reply(evreq, resp->status, status_phrase(resp->status), buf);
    /* evhttp leaves the head and the body in separate chains, which
     * bufferevent_openssl would send as two TLS records in two write(2)s
     * (two segments: TCP_NODELAY). One chain: one record, one write. The
     * output is only written on a later loop pass (a socket-backed
     * bufferevent_openssl merely arms its write event here), so the
     * connection is still alive. */
    if (bev != NULL)
        evbuffer_pullup(bufferevent_get_output(bev), -1);
    if (buf != NULL)
        evbuffer_free(buf);
}

static void request_release(estd_request *req)
{
    free(req->uri);
    free(req->authorization);
    free(req->content_type);
    free(req->body);
    free(req->srp_user);
    X509_free(req->peer_cert);
    sk_X509_pop_free(req->peer_chain, X509_free);
}

static void job_free(estd_job *job)
{
    /* A guessing-guard reservation taken before the password gate and
     * never settled (503, client gone): give it back. */
    estd_guess_pre_release(job->loop->srv->guard, &job->req.guess_pre);
    request_release(&job->req);
    estd_response_release(&job->resp);
    free(job);
}

static void job_reply(evutil_socket_t fd, short what, void *arg)
{
    estd_job *job = arg;
    estd_server *srv = job->loop->srv;
    (void)fd, (void)what;

    reply_send(srv, &job->req, job->evreq, &job->resp);
    job_free(job);
    atomic_fetch_sub(&srv->in_flight, 1);
}

/* 1 when the client has shut its side of the connection. libevent does not
 * read a connection while its request is being handled, so it cannot tell;
 * the socket can. Should the connection have been freed meanwhile (a
 * timeout) and its descriptor reused, the answer concerns another socket:
 * "open" runs the job as before, "shut" skips a job whose client is gone
 * anyway. */
static int client_left(evutil_socket_t fd)
{
    struct pollfd p = {fd, POLLRDHUP, 0};

    return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static void job_run(void *arg);

/* estd_gate_resume_fn: a parked password check goes back to the pool (or,
 * while the pool stops, runs here). */
static void job_resume(void *arg, estd_gate_verdict verdict)
{
    estd_job *job = arg;

    job->req.password_resumed = 1;
    job->req.password_verdict = verdict;
    if (estd_pool_submit(job->loop->srv->pool, job_run, job) != 0)
        job_run(job);
}

static void job_run(void *arg)
{
    estd_job *job = arg;
    estd_server *srv = job->loop->srv;
    int turn = job->req.password_resumed && job->req.password_verdict == ESTD_GATE_YOUR_TURN;
    int go = 1;

    /* Holding the password gate's turn, the request hashes even if its
     * client left: other requests wait for that verdict. */
    if (turn)
        go = estd_password_precheck(srv, &job->req, &job->resp, job_resume, job);
    /* A client that left while its request queued would get nothing from
     * the work (as nginx, treat it as aborted): skip it, so a flood of
     * requests dropped at once cannot keep the workers busy for nobody. */
    if (go > 0 && client_left(job->fd)) {
        fprintf(stderr, "estd: %s left before its %s %s ran; skipped\n", job->req.peer,
                job->req.method, job->req.uri);
        estd_response_error(&job->resp, 503, "client gone");
        go = -1;
    }
    if (go > 0 && !turn &&
        (go = estd_password_precheck(srv, &job->req, &job->resp, job_resume, job)) == 0)
        return; /* parked: holds no worker; job_resume brings it back */
    if (go > 0)
        estd_handle(srv, &job->req, &job->resp);
    /* Back to the owning loop: evhttp objects are touched only there. */
    if (event_base_once(job->loop->base, -1, EV_TIMEOUT, job_reply, job, NULL) != 0) {
        fprintf(stderr, "estd: cannot schedule a reply; dropping request\n");
        /* The request object stays owned by evhttp until its connection
         * closes; nothing else to free safely here but the job. */
        job_free(job);
        atomic_fetch_sub(&srv->in_flight, 1);
    }
}

/* --- intake (loop thread) --- */

static char *header_dup(struct evkeyvalq *headers, const char *name)
{
    const char *v = evhttp_find_header(headers, name);
    return v ? strdup(v) : NULL;
}

static void peer_text(struct evhttp_connection *evcon, char *out, size_t cap)
{
    const char *addr = NULL;
    ev_uint16_t port = 0;

    if (evcon != NULL)
        evhttp_connection_get_peer(evcon, (char **)&addr, &port);
    snprintf(out, cap, "%s:%u", addr ? addr : "?", (unsigned)port);
}

/* Copies what the handler needs out of evhttp and the TLS connection. */
static est_status request_capture(estd_server *srv, struct evhttp_request *evreq, SSL *ssl,
                                  estd_request *req)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(evreq);
    struct evbuffer *body = evhttp_request_get_input_buffer(evreq);
    size_t len = evbuffer_get_length(body);

    req->uri = strdup(evhttp_request_get_uri(evreq));
    req->authorization = header_dup(in, "Authorization");
    req->content_type = header_dup(in, "Content-Type");
    if (req->uri == NULL)
        return EST_E_NOMEM;
    if (len > 0) {
        req->body = malloc(len);
        if (req->body == NULL)
            return EST_E_NOMEM;
        evbuffer_remove(body, req->body, len);
        req->body_len = len;
    }
    if (ssl != NULL) {
        STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
        req->peer_cert = SSL_get1_peer_certificate(ssl);
        if (chain != NULL)
            req->peer_chain = X509_chain_up_ref(chain);
        /* draft-04 §3.5: the binding of this connection, for PoP linking. */
        if (est_channel_binding_get(ssl, req->binding, sizeof req->binding, &req->binding_len,
                                    NULL) != EST_OK)
            req->binding_len = 0;
        /* draft-04 §3.3.3: a TLS-SRP login authenticates the connection. */
        const char *srp_user = estd_srp_user(srv, ssl);
        if (srp_user != NULL && (req->srp_user = strdup(srp_user)) == NULL)
            return EST_E_NOMEM;
    }
    return EST_OK;
}

static int method_allowed(est_operation op, enum evhttp_cmd_type cmd)
{
    if (op == EST_OP_CACERTS || op == EST_OP_CSRATTRS)
        return cmd == EVHTTP_REQ_GET;
    return cmd == EVHTTP_REQ_POST;
}

static void request_cb(struct evhttp_request *evreq, void *arg)
{
    estd_loop *loop = arg;
    estd_server *srv = loop->srv;
    struct evhttp_connection *evcon = evhttp_request_get_connection(evreq);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(evreq);
    estd_job *job = calloc(1, sizeof *job);
    est_error err;

    if (job == NULL) {
        evhttp_send_error(evreq, 503, "Service Unavailable");
        return;
    }
    job->loop = loop;
    job->evreq = evreq;
    job->fd = bev != NULL ? bufferevent_getfd(bev) : -1;
    snprintf(job->req.method, sizeof job->req.method, "%s",
             cmd == EVHTTP_REQ_GET ? "GET" : cmd == EVHTTP_REQ_POST ? "POST" : "OTHER");
    peer_text(evcon, job->req.peer, sizeof job->req.peer);
    clock_gettime(CLOCK_MONOTONIC, &job->req.started);
    job->req.tls_version = ssl != NULL ? SSL_get_version(ssl) : NULL;
    atomic_fetch_add(&srv->in_flight, 1);

    if (atomic_load(&srv->stopping) ||
        (ssl != NULL && SSL_get_ex_data(ssl, srv->connection_index) == CONNECTION_OVER_CAP)) {
        evhttp_add_header(evhttp_request_get_output_headers(evreq), "Connection", "close");
        estd_response_error(&job->resp, 503, "server busy or stopping; try again later");
        goto reply_now;
    }
    if (est_route_parse(evhttp_request_get_uri(evreq), &job->req.route, &err) != EST_OK) {
        estd_response_error(&job->resp, err.code == EST_E_NOT_FOUND ? 404 : 400, "%s", err.message);
        goto reply_now;
    }
    job->req.ca = estd_instance_find_ca(srv->inst, job->req.route.label);
    if (job->req.ca == NULL) {
        estd_response_error(&job->resp, 404, "no CA with label '%s'", job->req.route.label);
        goto reply_now;
    }
    job->req.base64_line = estd_base64_line(
        srv, job->req.ca,
        evhttp_find_header(evhttp_request_get_input_headers(evreq), "User-Agent") != NULL);
    if (!method_allowed(job->req.route.op, cmd)) {
        estd_response_error(&job->resp, 405, "%s is not allowed here",
                            job->req.method);
        goto reply_now;
    }
    if (estd_handle_fast(srv, &job->req, &job->resp))
        goto reply_now;
    if (evbuffer_get_length(evhttp_request_get_input_buffer(evreq)) > srv->inst->cfg.max_body_bytes) {
        estd_response_error(&job->resp, 413, "request body larger than %zu bytes",
                            srv->inst->cfg.max_body_bytes);
        goto reply_now;
    }
    if (request_capture(srv, evreq, ssl, &job->req) != EST_OK) {
        estd_response_error(&job->resp, 503, "out of memory");
        goto reply_now;
    }
    if (estd_pool_submit(srv->pool, job_run, job) == 0)
        return;
    estd_response_error(&job->resp, 503, "server busy; try again later");
reply_now:
    job_reply(-1, 0, job);
}

/* --- loops --- */

/* One listening socket for the process; each loop accepts on its own dup()
 * of it. Not SO_REUSEPORT: that would let a second estd bind the same port
 * and silently take half the connections. */
static est_status listen_socket(const char *listen_spec, evutil_socket_t *out, est_error *err)
{
    char host[256], *colon;
    struct addrinfo hints = {0}, *res = NULL;
    int fd = -1, one = 1, gai;
    est_status rc = EST_E_CONFIG;

    snprintf(host, sizeof host, "%s", listen_spec);
    colon = strrchr(host, ':');
    if (colon == NULL)
        return est_error_set(err, EST_E_CONFIG, "listen '%s' is not HOST:PORT", listen_spec);
    *colon = '\0';
    if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') { /* [::1]:8443 */
        colon[-1] = '\0';
        memmove(host, host + 1, strlen(host));
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (gai != 0)
        return est_error_set(err, EST_E_CONFIG, "listen '%s': %s", listen_spec, gai_strerror(gai));
    fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* TCP_NODELAY is inherited by accepted sockets: without it a response
     * written as two TLS records waits for the peer's delayed ACK (~40 ms
     * per keep-alive request, measured by bench/). */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        rc = est_error_set(err, EST_E_IO, "listen on %s: %s", listen_spec, strerror(errno));
        goto out;
    }
    *out = fd;
    fd = -1;
    rc = EST_OK;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

static est_status loop_init(estd_loop *loop, estd_server *srv, evutil_socket_t listener,
                            est_error *err)
{
    const estd_config *cfg = &srv->inst->cfg;
    struct event_config *ev_cfg;
    struct evconnlistener *lev = NULL;

    loop->srv = srv;
    loop->listen_fd = -1;
    /* The changelist backend merges the epoll_ctl calls libevent makes for
     * a connection within one loop pass (evhttp switches reading and
     * writing on and off around every request): /cacerts 28,000 ->
     * 36,000/s. Its known hazard is a dup()ed descriptor closed before a
     * pending deletion is applied, which is why listen_fd is closed only
     * after the loop has run once more (loop_stop_accepting). */
    if ((ev_cfg = event_config_new()) != NULL &&
        event_config_set_flag(ev_cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
        loop->base = event_base_new_with_config(ev_cfg);
    event_config_free(ev_cfg);
    loop->http = loop->base ? evhttp_new(loop->base) : NULL;
    if (loop->http == NULL)
        return est_error_set(err, EST_E_NOMEM, "cannot create event loop");
    evhttp_set_bevcb(loop->http, connection_new, loop);
    evhttp_set_gencb(loop->http, request_cb, loop);
    /* evhttp answers bodies over its own limit with an HTML 413; ours
     * (request_cb) answers text/plain. Let evhttp read up to twice the
     * configured limit so only grossly oversized bodies get its page. */
    evhttp_set_max_body_size(loop->http, (ev_ssize_t)(cfg->max_body_bytes * 2));
    evhttp_set_max_headers_size(loop->http, (ev_ssize_t)cfg->max_header_bytes);
    evhttp_set_timeout(loop->http, (int)cfg->timeout_seconds);
    evhttp_set_allowed_methods(loop->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    loop->listen_fd = fcntl(listener, F_DUPFD_CLOEXEC, 0);
    if (loop->listen_fd < 0)
        return est_error_set(err, EST_E_IO, "listen on %s: %s", cfg->listen, strerror(errno));
    /* Backlog 0: listen() was called already. Not LEV_OPT_CLOSE_ON_FREE:
     * see above. */
    if ((lev = evconnlistener_new(loop->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, 0,
                                  loop->listen_fd)) == NULL ||
        (loop->bound = evhttp_bind_listener(loop->http, lev)) == NULL) {
        if (lev != NULL)
            evconnlistener_free(lev);
        return est_error_set(err, EST_E_IO, "cannot accept on %s", cfg->listen);
    }
    return EST_OK;
}

static void *loop_thread(void *arg)
{
    estd_loop *loop = arg;
    event_base_dispatch(loop->base);
    return NULL;
}

static void loop_release(estd_loop *loop)
{
    if (loop->http != NULL)
        evhttp_free(loop->http);
    if (loop->base != NULL)
        event_base_free(loop->base);
    if (loop->listen_fd >= 0)
        close(loop->listen_fd);
    loop->listen_fd = -1;
}

est_status estd_loops_start(estd_server *srv, unsigned threads, estd_loops **out, est_error *err)
{
    estd_loops *loops = calloc(1, sizeof *loops);
    evutil_socket_t listener = -1;
    est_status rc = EST_E_NOMEM;

    if (loops == NULL || (loops->loops = calloc(threads, sizeof *loops->loops)) == NULL) {
        free(loops);
        return est_error_set(err, rc, "out of memory");
    }
    loops->srv = srv;
    srv->connection_index = SSL_get_ex_new_index(0, srv, NULL, NULL, connection_gone);
    if ((rc = listen_socket(srv->inst->cfg.listen, &listener, err)) != EST_OK)
        goto fail;
    for (unsigned i = 0; i < threads; i++) {
        loops->count = i + 1;
        if ((rc = loop_init(&loops->loops[i], srv, listener, err)) != EST_OK)
            goto fail;
    }
    close(listener); /* each loop holds its own duplicate */
    listener = -1;
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&loops->loops[i].thread, NULL, loop_thread, &loops->loops[i]) != 0) {
            rc = est_error_set(err, EST_E_INTERNAL, "cannot start thread");
            goto fail;
        }
        loops->loops[i].started = 1;
    }
    *out = loops;
    return EST_OK;
fail:
    if (listener >= 0)
        close(listener);
    estd_loops_stop(loops, 0);
    return rc;
}

static void loop_close_listener(evutil_socket_t fd, short what, void *arg)
{
    estd_loop *loop = arg;
    (void)fd, (void)what;
    if (loop->listen_fd >= 0)
        close(loop->listen_fd);
    loop->listen_fd = -1;
}

/* Runs on the loop. The listener's deletion from epoll is applied at the
 * loop's next pass; the descriptor is closed on a timer after it, so the
 * kernel never keeps a registration for a closed dup (the changelist
 * hazard). Once every loop's dup is closed, connections are refused. */
static void loop_stop_accepting(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeval after_next_pass = {0, 1000};
    estd_loop *loop = arg;
    (void)fd, (void)what;
    if (loop->bound != NULL) {
        evhttp_del_accept_socket(loop->http, loop->bound);
        loop->bound = NULL;
        if (event_base_once(loop->base, -1, EV_TIMEOUT, loop_close_listener, loop,
                            &after_next_pass) != 0)
            loop_close_listener(-1, 0, loop);
    }
}

void estd_loops_stop(estd_loops *loops, unsigned grace_seconds)
{
    estd_server *srv;

    if (loops == NULL)
        return;
    srv = loops->srv;
    atomic_store(&srv->stopping, 1);
    for (unsigned i = 0; i < loops->count; i++) {
        if (loops->loops[i].started)
            event_base_once(loops->loops[i].base, -1, EV_TIMEOUT, loop_stop_accepting,
                            &loops->loops[i], NULL);
        else if (loops->loops[i].bound != NULL) {
            /* Never dispatched: nothing was registered with epoll yet. */
            evhttp_del_accept_socket(loops->loops[i].http, loops->loops[i].bound);
            loops->loops[i].bound = NULL;
        }
    }
    /* In-flight requests finish and their replies are flushed. */
    for (unsigned waited = 0; atomic_load(&srv->in_flight) > 0 && waited < grace_seconds * 20;
         waited++)
        usleep(50000);
    for (unsigned i = 0; i < loops->count; i++) {
        if (!loops->loops[i].started)
            continue;
        struct timeval flush = {0, 200000};
        event_base_loopexit(loops->loops[i].base, &flush);
        pthread_join(loops->loops[i].thread, NULL);
    }
    for (unsigned i = 0; i < loops->count; i++)
        loop_release(&loops->loops[i]);
    free(loops->loops);
    free(loops);
}
