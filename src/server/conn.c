/* estd: client connections below HTTP (see conn.h).
 *
 * evhttp owns a connection from accept to close; estd rides along on the
 * TLS bufferevent it makes for evhttp:
 * - admission runs on the loop's next pass after accept (the bufferevent has
 *   no socket before), or at the ClientHello if that comes first, before
 *   any TLS work: one more from an address holding
 *   max_connections_per_address is closed at once; over max_connections
 *   the oldest idle keep-alive connection, else the oldest one that has not
 *   completed its request, is closed to make room, on this loop or another.
 *   Only when every connection is busy with a request is the new one refused.
 *   Per state, a list in arrival order: O(1) per accept, no scan.
 * - deadlines are totals, not idle timers that each byte resets (slowloris):
 *   handshake from accept, request head from the handshake (or from its
 *   first byte on a kept-alive connection), body from the end of the head.
 *   An idle keep-alive connection is left to evhttp's idle timeout.
 * - every decrypted byte passes through request_head.c before evhttp parses
 *   it; a refused head is answered here (text/plain, Connection: close) and
 *   evhttp never sees the rest.
 * - a connection is closed through evhttp's own error path (its bufferevent
 *   event callback, as for a read error), so evhttp frees its objects; the
 *   SSL's ex_data free callback frees ours, however the connection ended. */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include "estkit/channel_binding.h"
#include "addr_table.h"
#include "conn.h"
#include "request_head.h"

typedef enum conn_state {
    CONN_NEW,       /* accepted; admitted on the loop's next pass */
    CONN_HANDSHAKE, /* TLS handshake under way */
    CONN_WAITING,   /* reading a request: head, then body */
    CONN_BUSY,      /* evhttp has the request: handler, then reply */
    CONN_IDLE,      /* kept alive between requests */
    CONN_REFUSING,  /* estd's answer to a refused head, then lingering */
    CONN_CLOSING,   /* handed to evhttp to close */
} conn_state;

TAILQ_HEAD(conn_list, estd_conn);

struct estd_conn {
    TAILQ_ENTRY(estd_conn) link;
    struct conn_list *list;  /* waiting, idle or other of set */
    estd_conn_set *set;
    struct bufferevent *bev;
    struct event *timer;     /* admission, then the current deadline */
    struct evbuffer_cb_entry *input_cb;
    conn_state state;
    int handshake_done;      /* finished before admission ran */
    int in_body;             /* WAITING: the body deadline is armed */
    int close_after;         /* close once the reply in flight is sent */
    unsigned taken;          /* requests handed to evhttp's callback */
    int counted;             /* key holds one of this address's slots */
    int admitted;            /* counts in max_connections */
    estd_addr_key key;
    bufferevent_event_cb http_eventcb; /* evhttp's, while REFUSING */
    void *http_arg;
    estd_head_stream stream;
    char peer[64];
    int binding_read;        /* binding below is this connection's */
    uint8_t binding[EST_CHANNEL_BINDING_MAX];
    size_t binding_len;      /* 0: the connection has none */
};

struct estd_conn_set {
    estd_conns *conns;
    struct conn_list waiting, idle, other;
    atomic_int idle_count;     /* on idle, for other loops to see */
    atomic_int waiting_count;  /* on waiting */
    atomic_int evict_requests; /* from other loops */
    struct event *evict_ev;
};

struct estd_conns {
    /* estd_conn_limits, written again by a reload (estd_conns_configure)
     * while the loops read it; max_head is fixed (max_header_bytes needs a
     * restart). */
    atomic_uint max_connections, per_address;
    atomic_uint handshake_seconds, head_seconds, body_seconds;
    atomic_ullong max_body;
    size_t max_head;
    SSL_CTX *ctx;
    estd_addr_table *addrs;
    int index; /* SSL ex_data */
    /* Admitted and not yet closing: what max_connections bounds. Accepted
     * connections still waiting for admission do not count (an accept
     * burst must not look like a full house), and a victim stops counting
     * when it is closed, not when libevent frees it later. */
    atomic_int admitted;
    atomic_int open;              /* accepted and not yet freed */
    atomic_int evictions_pending; /* asked of other loops, not yet done */
    atomic_uint evictions, refusals; /* for logging only some */
    estd_conn_refused_fn *on_refusal;  /* the access log */
    void *on_refusal_arg;
    unsigned nsets;
    estd_conn_set **sets;
};

/* 1, 2, 4, 8, ...: under a flood the log gets a line per doubling. */
static int worth_logging(unsigned n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

static atomic_int *list_count(estd_conn_set *set, struct conn_list *list)
{
    return list == &set->idle ? &set->idle_count : list == &set->waiting ? &set->waiting_count
                                                                          : NULL;
}

static void list_move(estd_conn *c, struct conn_list *to)
{
    estd_conn_set *set = c->set;
    atomic_int *count;

    if (c->list != NULL) {
        TAILQ_REMOVE(c->list, c, link);
        if ((count = list_count(set, c->list)) != NULL)
            atomic_fetch_sub(count, 1);
    }
    c->list = to;
    if (to != NULL) {
        TAILQ_INSERT_TAIL(to, c, link);
        if ((count = list_count(set, to)) != NULL)
            atomic_fetch_add(count, 1);
    }
}

static void arm(estd_conn *c, unsigned seconds)
{
    struct timeval tv = {(time_t)seconds, 0};

    if (c->timer != NULL)
        evtimer_add(c->timer, &tv);
}

static void unadmit(estd_conn *c)
{
    if (c->admitted)
        atomic_fetch_sub(&c->set->conns->admitted, 1);
    c->admitted = 0;
}

/* Closes through evhttp's error path; c is freed later (conn_gone). */
static void conn_close(estd_conn *c)
{
    bufferevent_event_cb cb = c->http_eventcb;
    void *arg = c->http_arg;

    if (c->state == CONN_CLOSING)
        return;
    unadmit(c);
    if (c->state == CONN_REFUSING)
        bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    else
        bufferevent_getcb(c->bev, NULL, NULL, &cb, &arg);
    c->state = CONN_CLOSING;
    list_move(c, &c->set->other);
    if (c->timer != NULL)
        evtimer_del(c->timer);
    if (cb != NULL)
        cb(c->bev, BEV_EVENT_READING | BEV_EVENT_ERROR, arg);
}

/* --- eviction --- */

static estd_conn *oldest_evictable(estd_conn_set *set)
{
    estd_conn *victim = TAILQ_FIRST(&set->idle);
    return victim != NULL ? victim : TAILQ_FIRST(&set->waiting);
}

static void evict(estd_conn *victim)
{
    estd_conns *all = victim->set->conns;
    unsigned n = atomic_fetch_add(&all->evictions, 1) + 1;

    if (worth_logging(n))
        fprintf(stderr, "estd: max_connections (%u) reached: closed the %s connection from %s "
                "(%u closed so far)\n", atomic_load(&all->max_connections),
                victim->state == CONN_IDLE ? "oldest idle" : "oldest unfinished", victim->peer, n);
    conn_close(victim);
}

/* Another loop asked this one to make room. */
static void evict_requested(evutil_socket_t fd, short what, void *arg)
{
    estd_conn_set *set = arg;
    int n = atomic_exchange(&set->evict_requests, 0);
    estd_conn *victim;
    (void)fd, (void)what;

    for (; n > 0; n--) {
        if ((victim = oldest_evictable(set)) != NULL)
            evict(victim);
        atomic_fetch_sub(&set->conns->evictions_pending, 1);
    }
}

/* Another loop with the most connections on its idle (idle = 1) or
 * waiting list not already promised to earlier requests, or NULL. */
static estd_conn_set *other_loop_with(estd_conn_set *mine, int idle)
{
    estd_conns *all = mine->conns;
    estd_conn_set *best = NULL;
    int best_n = 0;

    for (unsigned i = 0; i < all->nsets; i++) {
        estd_conn_set *s = all->sets[i];
        int n = s == NULL || s == mine ? 0
                : atomic_load(idle ? &s->idle_count : &s->waiting_count) -
                      atomic_load(&s->evict_requests);
        if (n > best_n) {
            best = s;
            best_n = n;
        }
    }
    return best;
}

/* Makes room for c: 1 when a connection was closed or another loop was
 * asked to close one, 0 when every connection is busy. Idle keep-alive
 * connections go first, on any loop; then the oldest unfinished one (the
 * oldest of this loop, or of another). O(loops), no scan of connections. */
static int evict_for(estd_conn *c)
{
    estd_conn_set *mine = c->set, *other = NULL;
    estd_conn *victim = TAILQ_FIRST(&mine->idle);

    if (victim == NULL && (other = other_loop_with(mine, 1)) == NULL)
        victim = TAILQ_FIRST(&mine->waiting);
    if (victim == NULL && other == NULL && (other = other_loop_with(mine, 0)) == NULL)
        return 0;
    if (victim != NULL) {
        evict(victim);
        return 1;
    }
    atomic_fetch_add(&mine->conns->evictions_pending, 1);
    atomic_fetch_add(&other->evict_requests, 1);
    event_active(other->evict_ev, EV_TIMEOUT, 1);
    return 1;
}

/* --- admission and deadlines --- */

static void peer_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%u", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
    } else {
        snprintf(out, cap, "?");
    }
}

/* Admits c (fd: its socket) or refuses it: 0 = admitted, deadline armed;
 * -1 = refused (logged), for the caller to close. */
static int admission(estd_conn *c, evutil_socket_t fd)
{
    estd_conns *all = c->set->conns;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    unsigned refused = 0;

    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    peer_text(&ss, c->peer, sizeof c->peer);
    if (estd_addr_key_from((struct sockaddr *)&ss, len, &c->key) == 0) {
        if (estd_addr_table_acquire(all->addrs, &c->key, &refused) != 0) {
            if (worth_logging(refused))
                fprintf(stderr, "estd: %s: address holds max_connections_per_address (%u); "
                        "closed (%u in a row)\n", c->peer, atomic_load(&all->per_address), refused);
            return -1;
        }
        c->counted = 1;
    }
    if (atomic_load(&all->admitted) - atomic_load(&all->evictions_pending) >=
            (int)atomic_load(&all->max_connections) &&
        !evict_for(c)) {
        unsigned n = atomic_fetch_add(&all->refusals, 1) + 1;
        if (worth_logging(n))
            fprintf(stderr, "estd: max_connections (%u) reached and every connection is busy: "
                    "closed %s (%u so far)\n", atomic_load(&all->max_connections), c->peer, n);
        return -1;
    }
    c->admitted = 1;
    atomic_fetch_add(&all->admitted, 1);
    list_move(c, &c->set->waiting);
    c->state = c->handshake_done ? CONN_WAITING : CONN_HANDSHAKE;
    arm(c, atomic_load(c->handshake_done ? &all->head_seconds : &all->handshake_seconds));
    return 0;
}

/* SSL ClientHello callback: a ClientHello that arrives before the loop's
 * next pass is the moment to admit, before the handshake costs anything
 * (a refused connection gets a handshake_failure alert and evhttp closes
 * it on the error). */
static int tls_client_hello(SSL *ssl, int *alert, void *arg)
{
    estd_conns *all = arg;
    estd_conn *c = SSL_get_ex_data(ssl, all->index);

    if (c == NULL || c->state != CONN_NEW || admission(c, SSL_get_fd(ssl)) == 0)
        return SSL_CLIENT_HELLO_SUCCESS;
    c->state = CONN_CLOSING;
    list_move(c, &c->set->other);
    if (c->timer != NULL)
        evtimer_del(c->timer);
    *alert = SSL_AD_HANDSHAKE_FAILURE;
    return SSL_CLIENT_HELLO_ERROR;
}

static void conn_timer(evutil_socket_t fd, short what, void *arg)
{
    estd_conn *c = arg;
    (void)fd, (void)what;

    switch (c->state) {
    case CONN_NEW:
        if (admission(c, bufferevent_getfd(c->bev)) != 0)
            conn_close(c);
        return;
    case CONN_HANDSHAKE: /* a deadline passed, or the lingering ended */
    case CONN_WAITING:
    case CONN_IDLE:
    case CONN_REFUSING:
        conn_close(c);
        return;
    case CONN_BUSY:
    case CONN_CLOSING:
        return;
    }
}

/* The SSL's own info callback: the handshake is done, the head deadline
 * starts. An SSL's callback replaces its context's, so the context's (the
 * metrics' handshake counter) is called from here. */
static void tls_info(const SSL *ssl, int where, int ret)
{
    void (*ctx_cb)(const SSL *, int, int) = SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl));
    estd_conn *c = SSL_get_app_data(ssl);

    if (ctx_cb != NULL)
        ctx_cb(ssl, where, ret);
    if (!(where & SSL_CB_HANDSHAKE_DONE) || c == NULL)
        return;
    if (c->state == CONN_NEW) {
        c->handshake_done = 1;
    } else if (c->state == CONN_HANDSHAKE) {
        c->state = CONN_WAITING;
        arm(c, atomic_load(&c->set->conns->head_seconds));
    }
}

/* --- refused heads: estd answers, lingers, closes --- */

static void refusal_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    (void)arg;
    evbuffer_drain(in, evbuffer_get_length(in));
}

/* The answer is out: say so with a FIN, keep reading until the client
 * closes or the linger ends. */
static void refusal_sent(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (bufferevent_getfd(bev) >= 0)
        shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void refusal_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev, (void)what;
    conn_close(arg);
}

static void refuse(estd_conn *c)
{
    const estd_head_refusal *r = &c->stream.refusal;
    size_t len = strlen(r->reason) + 1;

    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    estd_conns *all = c->set->conns;

    fprintf(stderr, "estd: %s: request head refused (%d): %s\n", c->peer, r->status, r->reason);
    if (all->on_refusal != NULL)
        all->on_refusal(all->on_refusal_arg, c->peer, ssl ? SSL_get_version(ssl) : NULL,
                        r->status, len);
    bufferevent_getcb(c->bev, NULL, NULL, &c->http_eventcb, &c->http_arg);
    bufferevent_setcb(c->bev, refusal_read, refusal_sent, refusal_event, c);
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                        r->status, estd_http_reason_phrase(r->status), len, r->reason);
    c->state = CONN_REFUSING;
    list_move(c, &c->set->other);
    arm(c, ESTD_CONN_LINGER_SECONDS);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Where the stream now stands decides the state and deadline. */
static void follow_stream(estd_conn *c, unsigned requests_before)
{
    estd_conns *lim = c->set->conns;

    if (c->state == CONN_IDLE && (c->stream.position != ESTD_STREAM_BOUNDARY ||
                                  c->stream.requests != requests_before)) {
        c->state = CONN_WAITING;
        c->in_body = 0;
        list_move(c, &c->set->waiting);
        arm(c, atomic_load(&lim->head_seconds));
    }
    if (c->state == CONN_WAITING && c->stream.position == ESTD_STREAM_BODY && !c->in_body) {
        c->in_body = 1;
        arm(c, atomic_load(&lim->body_seconds));
    }
}

/* Every decrypted byte, as it is added, before evhttp reads it. */
static void input_added(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    estd_conn *c = arg;
    size_t total = evbuffer_get_length(buf), left = info->n_added, at;
    unsigned before = c->stream.requests;
    uint8_t chunk[4096];
    int rc = 0;

    if (left == 0 || c->state == CONN_REFUSING || c->state == CONN_CLOSING ||
        c->stream.position == ESTD_STREAM_REFUSED)
        return;
    if (left > total)
        left = total;
    for (at = total - left; left > 0 && rc == 0;) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        struct evbuffer_ptr pos;
        if (c->stream.position == ESTD_STREAM_BODY) {
            /* Body bytes are only counted: no need to copy them. */
            n = (uint64_t)left < c->stream.body_left ? left : (size_t)c->stream.body_left;
            rc = estd_head_stream_feed(&c->stream, NULL, n);
            at += n;
            left -= n;
            continue;
        }
        if (evbuffer_ptr_set(buf, &pos, at, EVBUFFER_PTR_SET) != 0 ||
            evbuffer_copyout_from(buf, &pos, chunk, n) != (ev_ssize_t)n) {
            conn_close(c);
            return;
        }
        rc = estd_head_stream_feed(&c->stream, chunk, n);
        at += n;
        left -= n;
    }
    if (rc == 0)
        follow_stream(c, before);
    else if (c->state == CONN_BUSY)
        c->close_after = 1; /* a pipelined request: close after the reply */
    else
        refuse(c);
}

/* --- life cycle --- */

/* SSL ex_data free callback: the connection is gone, however it ended. */
static void conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    estd_conn *c = ptr;
    estd_conns *all = argp;
    (void)parent, (void)ad, (void)idx, (void)argl;

    if (c == NULL)
        return;
    if (c->counted)
        estd_addr_table_release(all->addrs, &c->key);
    unadmit(c);
    list_move(c, NULL);
    if (c->timer != NULL)
        event_free(c->timer);
    if (c->input_cb != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    estd_head_stream_release(&c->stream);
    atomic_fetch_sub(&all->open, 1);
    free(c);
}

struct bufferevent *estd_conn_bufferevent_new(struct event_base *base, void *arg)
{
    static const struct timeval now = {0, 0};
    estd_conn_set *set = arg;
    estd_conns *all = set->conns;
    estd_conn *c = calloc(1, sizeof *c);
    SSL *ssl = NULL;

    if (c == NULL || (c->timer = evtimer_new(base, conn_timer, c)) == NULL ||
        (ssl = SSL_new(all->ctx)) == NULL) {
        if (c != NULL && c->timer != NULL)
            event_free(c->timer);
        free(c);
        return NULL;
    }
    c->set = set;
    c->state = CONN_NEW;
    estd_head_stream_init(&c->stream, all->max_head, atomic_load(&all->max_body));
    atomic_fetch_add(&all->open, 1);
    list_move(c, &set->other);
    SSL_set_ex_data(ssl, all->index, c); /* from here SSL_free frees c */
    SSL_set_app_data(ssl, c);            /* for tls_info, which has no argument */
    SSL_set_info_callback(ssl, tls_info);
    c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    c->input_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), input_added, c);
    evtimer_add(c->timer, &now);
    return c->bev;
}

estd_conn *estd_conn_of(estd_conns *conns, struct bufferevent *bev)
{
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    return ssl != NULL ? SSL_get_ex_data(ssl, conns->index) : NULL;
}

/* evhttp sent a reply: wait for the next request (or close). */
static void reply_sent(struct evhttp_request *evreq, void *arg)
{
    estd_conn *c = arg;
    estd_conns *lim = c->set->conns;
    (void)evreq;

    if (c->state != CONN_BUSY)
        return;
    if (c->close_after) {
        c->state = CONN_CLOSING;
        return;
    }
    if (c->stream.position == ESTD_STREAM_BOUNDARY && c->stream.requests == c->taken) {
        c->state = CONN_IDLE; /* evhttp's idle timeout applies */
        list_move(c, &c->set->idle);
        return;
    }
    /* Pipelined: (part of) the next request is already here. */
    c->state = CONN_WAITING;
    c->in_body = c->stream.position == ESTD_STREAM_BODY;
    list_move(c, &c->set->waiting);
    arm(c, c->in_body ? atomic_load(&lim->body_seconds) : atomic_load(&lim->head_seconds));
}

void estd_conn_request_taken(estd_conn *c, struct evhttp_request *evreq)
{
    /* (HANDSHAKE too: a request proves the handshake done.) */
    if (c->state != CONN_WAITING && c->state != CONN_IDLE && c->state != CONN_HANDSHAKE)
        return;
    c->state = CONN_BUSY;
    c->taken++;
    c->in_body = 0;
    list_move(c, &c->set->other);
    if (c->timer != NULL)
        evtimer_del(c->timer);
    evhttp_request_set_on_complete_cb(evreq, reply_sent, c);
}

int estd_conn_closing_after_reply(const estd_conn *c)
{
    return c != NULL && c->close_after;
}

/* Read once per connection: SSL_export_keying_material (an HKDF) on every
 * keep-alive request was ~1 % of an enrollment's CPU. */
size_t estd_conn_binding(estd_conn *c, SSL *ssl, uint8_t *out, size_t cap)
{
    if (!c->binding_read) {
        if (est_channel_binding_get(ssl, c->binding, sizeof c->binding, &c->binding_len,
                                    NULL) != EST_OK)
            c->binding_len = 0;
        c->binding_read = 1;
    }
    if (c->binding_len > cap)
        return 0;
    memcpy(out, c->binding, c->binding_len);
    return c->binding_len;
}

/* --- sets and the whole --- */

estd_conn_limits estd_conn_limits_of(const estd_config *cfg)
{
    estd_conn_limits l = {
        .max_connections = cfg->max_connections,
        .per_address = cfg->max_connections_per_address,
        .handshake_seconds = cfg->handshake_timeout_seconds,
        .head_seconds = cfg->request_head_timeout_seconds,
        .body_seconds = cfg->request_body_timeout_seconds,
        .max_head = cfg->max_header_bytes,
        .max_body = cfg->max_body_bytes,
    };
    return l;
}

void estd_conns_configure(estd_conns *all, const estd_conn_limits *limits)
{
    atomic_store(&all->max_connections, limits->max_connections);
    atomic_store(&all->per_address, limits->per_address);
    atomic_store(&all->handshake_seconds, limits->handshake_seconds);
    atomic_store(&all->head_seconds, limits->head_seconds);
    atomic_store(&all->body_seconds, limits->body_seconds);
    atomic_store(&all->max_body, limits->max_body);
    estd_addr_table_set_per_address(all->addrs, limits->per_address);
}

estd_conns *estd_conns_new(const estd_conn_limits *limits, unsigned loops, SSL_CTX *ctx)
{
    estd_conns *all = calloc(1, sizeof *all);

    if (all == NULL)
        return NULL;
    all->max_head = limits->max_head;
    all->ctx = ctx;
    all->nsets = loops;
    all->index = SSL_get_ex_new_index(0, all, NULL, NULL, conn_gone);
    all->sets = calloc(loops, sizeof *all->sets);
    all->addrs = estd_addr_table_new(limits->per_address, limits->max_connections);
    if (all->index < 0 || all->sets == NULL || all->addrs == NULL) {
        estd_conns_free(all);
        return NULL;
    }
    estd_conns_configure(all, limits);
    SSL_CTX_set_client_hello_cb(ctx, tls_client_hello, all);
    return all;
}

void estd_conns_free(estd_conns *all)
{
    if (all == NULL)
        return;
    SSL_CTX_set_client_hello_cb(all->ctx, NULL, NULL);
    if (all->index >= 0)
        CRYPTO_free_ex_index(CRYPTO_EX_INDEX_SSL, all->index);
    estd_addr_table_free(all->addrs);
    free(all->sets);
    free(all);
}

void estd_conns_on_refusal(estd_conns *all, estd_conn_refused_fn *fn, void *arg)
{
    all->on_refusal = fn;
    all->on_refusal_arg = arg;
}

int estd_conns_open(estd_conns *all)
{
    return all != NULL ? atomic_load(&all->open) : 0;
}

estd_conn_set *estd_conn_set_new(estd_conns *all, unsigned index, struct event_base *base)
{
    estd_conn_set *set = calloc(1, sizeof *set);

    if (set == NULL)
        return NULL;
    set->conns = all;
    TAILQ_INIT(&set->waiting);
    TAILQ_INIT(&set->idle);
    TAILQ_INIT(&set->other);
    set->evict_ev = event_new(base, -1, 0, evict_requested, set);
    if (set->evict_ev == NULL) {
        free(set);
        return NULL;
    }
    all->sets[index] = set;
    return set;
}

void estd_conn_set_stop(estd_conn_set *set)
{
    struct conn_list *lists[] = {&set->waiting, &set->idle, &set->other};
    estd_conn *c;

    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        TAILQ_FOREACH(c, lists[i], link) {
            if (c->timer != NULL)
                event_free(c->timer);
            c->timer = NULL;
        }
    }
    if (set->evict_ev != NULL)
        event_free(set->evict_ev);
    set->evict_ev = NULL;
}

void estd_conn_set_free(estd_conn_set *set)
{
    if (set == NULL)
        return;
    for (unsigned i = 0; i < set->conns->nsets; i++)
        if (set->conns->sets[i] == set)
            set->conns->sets[i] = NULL;
    free(set);
}
