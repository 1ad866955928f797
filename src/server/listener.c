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
#include "request_head.h"
#include "server.h"
#include "tls_srp.h"

#define LISTEN_BACKLOG 1024

typedef struct estd_job estd_job;

typedef struct estd_loop {
    estd_server *srv;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    evutil_socket_t listen_fd; /* this loop's dup() of the listening socket */
    estd_conn_set *conns;
    /* Jobs back from the workers, replied to on this loop (replies_ready).
     * A queue rather than one event_base_once per job: at shutdown the jobs
     * still in it are found and freed, not leaked with the base. */
    pthread_mutex_t done_lock;
    estd_job *done_head, *done_tail;
    struct event *done_ev;
    pthread_t thread;
    int started;
} estd_loop;

struct estd_loops {
    estd_server *srv;
    estd_loop *loops;
    unsigned count;
};

/* A job travels loop -> worker -> loop. */
struct estd_job {
    estd_loop *loop;
    struct evhttp_request *evreq;
    evutil_socket_t fd; /* the client's socket, -1 if unknown */
    estd_request req;
    estd_response resp;
    estd_job *next;     /* in the loop's done queue */
};

/* --- replies (loop thread) --- */

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
    evcon = evhttp_request_get_connection(evreq);
    bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    /* A later request on this connection was refused (request_head.c):
     * nothing after this reply may be read as a request. */
    if (estd_conn_closing_after_reply(estd_conn_of(srv->conns, bev)))
        evhttp_add_header(out, "Connection", "close");
    snprintf(number, sizeof number, "%zu", len);
    evhttp_add_header(out, "Content-Length", number);
    if (buf != NULL && len > 0)
        evbuffer_add(buf, body, len);
    estd_access_log(srv, req, evhttp_request_get_uri(evreq), resp, len);
    evhttp_send_reply(evreq, resp->status, estd_http_reason_phrase(resp->status), buf);
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

/* conn.c answered a refused request head: one access-log line (and the
 * request metrics) as for any answer, method and path unknown. */
static void refusal_logged(void *arg, const char *peer, const char *tls_version, int status,
                           size_t bytes)
{
    estd_request req = {.tls_version = tls_version};
    estd_response resp = {.status = status};

    snprintf(req.method, sizeof req.method, "-");
    snprintf(req.peer, sizeof req.peer, "%s", peer);
    clock_gettime(CLOCK_MONOTONIC, &req.started);
    estd_access_log(arg, &req, NULL, &resp, bytes);
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

static void job_reply(estd_job *job)
{
    estd_server *srv = job->loop->srv;

    reply_send(srv, &job->req, job->evreq, &job->resp);
    job_free(job);
    atomic_fetch_sub(&srv->in_flight, 1);
}

static estd_job *done_take_all(estd_loop *loop)
{
    estd_job *jobs;

    pthread_mutex_lock(&loop->done_lock);
    jobs = loop->done_head;
    loop->done_head = loop->done_tail = NULL;
    pthread_mutex_unlock(&loop->done_lock);
    return jobs;
}

static void replies_send(estd_loop *loop)
{
    estd_job *job = done_take_all(loop), *next;

    for (; job != NULL; job = next) {
        next = job->next;
        job_reply(job);
    }
}

static void replies_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    replies_send(arg);
}

/* From a worker: back to the owning loop, where evhttp objects live. */
static void job_done(estd_job *job)
{
    estd_loop *loop = job->loop;

    job->next = NULL;
    pthread_mutex_lock(&loop->done_lock);
    if (loop->done_tail != NULL)
        loop->done_tail->next = job;
    else
        loop->done_head = job;
    loop->done_tail = job;
    pthread_mutex_unlock(&loop->done_lock);
    event_active(loop->done_ev, EV_TIMEOUT, 1);
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
    if (go > 0 && atomic_load(&srv->abandon)) {
        /* Shutdown: the grace period is over. */
        estd_response_error(&job->resp, 503, "server stopping; try again later");
        go = -1;
    } else if (go > 0 && client_left(job->fd)) {
        char path[256]; /* the path as the access log shows it: escaped, cut */
        est_text_escape(job->req.uri, job->req.uri ? strlen(job->req.uri) : 0, path, sizeof path);
        fprintf(stderr, "estd: %s left before its %s %s ran; skipped\n", job->req.peer,
                job->req.method, path);
        estd_response_error(&job->resp, 503, "client gone");
        go = -1;
    }
    if (go > 0 && !turn &&
        (go = estd_password_precheck(srv, &job->req, &job->resp, job_resume, job)) == 0)
        return; /* parked: holds no worker; job_resume brings it back */
    if (go > 0)
        estd_handle(srv, &job->req, &job->resp);
    job_done(job);
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
                                  estd_conn *conn, estd_request *req)
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
        if (conn != NULL)
            req->binding_len = estd_conn_binding(conn, ssl, req->binding, sizeof req->binding);
        else if (est_channel_binding_get(ssl, req->binding, sizeof req->binding,
                                         &req->binding_len, NULL) != EST_OK)
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
    estd_conn *conn = estd_conn_of(srv->conns, bev);
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
    if (conn != NULL)
        estd_conn_request_taken(conn, evreq);

    if (atomic_load(&srv->stopping)) {
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
    if (request_capture(srv, evreq, ssl, conn, &job->req) != EST_OK) {
        estd_response_error(&job->resp, 503, "out of memory");
        goto reply_now;
    }
    if (estd_pool_submit(srv->pool, job_run, job) == 0)
        return;
    estd_response_error(&job->resp, 503, "server busy; try again later");
reply_now:
    job_reply(job);
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

static est_status loop_init(estd_loop *loop, unsigned index, estd_server *srv,
                            evutil_socket_t listener, est_error *err)
{
    const estd_config *cfg = &srv->inst->cfg;
    struct event_config *ev_cfg;
    struct evconnlistener *lev = NULL;

    loop->srv = srv;
    loop->listen_fd = -1;
    pthread_mutex_init(&loop->done_lock, NULL);
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
    loop->done_ev = loop->base ? event_new(loop->base, -1, 0, replies_ready, loop) : NULL;
    loop->conns = loop->base ? estd_conn_set_new(srv->conns, index, loop->base) : NULL;
    if (loop->http == NULL || loop->done_ev == NULL || loop->conns == NULL)
        return est_error_set(err, EST_E_NOMEM, "cannot create event loop");
    evhttp_set_bevcb(loop->http, estd_conn_bufferevent_new, loop->conns);
    evhttp_set_gencb(loop->http, request_cb, loop);
    /* conn.c checks every request head first and answers (text/plain) what
     * would reach evhttp's own HTML error pages: an oversized head (431),
     * a Content-Length over the limit (413). evhttp's limits stay as a
     * backstop: its line count is never above conn.c's byte count, and its
     * body limit is the largest max_body_bytes a reload may set. */
    evhttp_set_max_body_size(loop->http, (ev_ssize_t)ESTD_MAX_BODY_BYTES_LIMIT);
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
    /* Runs until estd_loops_stop says so, even with no connection and no
     * listener left: replies of requests still with the workers come back
     * here. */
    event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* After the loop's thread has ended (or never started) and the workers are
 * gone: replies still queued are sent into evhttp's buffers (which
 * evhttp_free then frees with their connections), so every job and its
 * captured request is freed. */
static void loop_release(estd_loop *loop)
{
    if (loop->srv == NULL)
        return;
    replies_send(loop);
    if (loop->conns != NULL)
        estd_conn_set_stop(loop->conns);
    if (loop->http != NULL)
        evhttp_free(loop->http);
    if (loop->done_ev != NULL)
        event_free(loop->done_ev);
    if (loop->base != NULL)
        event_base_free(loop->base); /* frees the last connections */
    estd_conn_set_free(loop->conns);
    if (loop->listen_fd >= 0)
        close(loop->listen_fd);
    loop->listen_fd = -1;
    pthread_mutex_destroy(&loop->done_lock);
}


est_status estd_loops_start(estd_server *srv, unsigned threads, estd_loops **out, est_error *err)
{
    estd_loops *loops = calloc(1, sizeof *loops);
    evutil_socket_t listener = -1;
    estd_conn_limits limits;
    est_status rc = EST_E_NOMEM;

    if (loops == NULL || (loops->loops = calloc(threads, sizeof *loops->loops)) == NULL) {
        free(loops);
        return est_error_set(err, rc, "out of memory");
    }
    loops->srv = srv;
    limits = estd_conn_limits_of(&srv->inst->cfg);
    if ((srv->conns = estd_conns_new(&limits, threads, srv->ssl_ctx)) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto fail;
    }
    estd_conns_on_refusal(srv->conns, refusal_logged, srv);
    if ((rc = listen_socket(srv->inst->cfg.listen, &listener, err)) != EST_OK)
        goto fail;
    for (unsigned i = 0; i < threads; i++) {
        loops->count = i + 1;
        if ((rc = loop_init(&loops->loops[i], i, srv, listener, err)) != EST_OK)
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
    /* Past the grace period, queued jobs are answered 503 without work. */
    atomic_store(&srv->abandon, 1);
    for (unsigned i = 0; i < loops->count; i++) {
        if (!loops->loops[i].started)
            continue;
        struct timeval flush = {0, 200000};
        event_base_loopexit(loops->loops[i].base, &flush);
        pthread_join(loops->loops[i].thread, NULL);
    }
    /* The workers finish what they hold; its replies queue on the loops. */
    estd_pool_free(srv->pool);
    srv->pool = NULL;
    for (unsigned i = 0; i < loops->count; i++)
        loop_release(&loops->loops[i]);
    estd_conns_free(srv->conns);
    srv->conns = NULL;
    free(loops->loops);
    free(loops);
}
