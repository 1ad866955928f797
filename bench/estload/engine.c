/* estload: the connection engine.
 *
 * Each connection is a small state machine over a non-blocking socket:
 * CONNECTING -> HANDSHAKE -> (READY) -> WRITING -> READING -> WRITING ...
 * driven by level-triggered epoll and OpenSSL's WANT_READ/WANT_WRITE.
 *
 * Keep-alive runs open and handshake every connection before the clock
 * starts, so they measure requests; --fresh runs time each operation from
 * connect() to the last byte of the answer on a brand-new TCP+TLS
 * connection with no session to resume (how devices arrive). Operations
 * still in flight when the window closes are reported as unfinished, never
 * counted or timed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include "estload.h"

/* Handshakes before a keep-alive run must finish within this. */
#define WARMUP_TIMEOUT_NS (120ull * 1000000000ull)
/* Count mode (`issue`) gives up after this. */
#define COUNT_TIMEOUT_NS (600ull * 1000000000ull)
/* This many failures without one success means the target is wrong. */
#define ERRORS_BEFORE_GIVING_UP 64
#define SAMPLE_INTERVAL_NS (100ull * 1000000ull)
#define INITIAL_READ_BUFFER 8192

typedef enum conn_state {
    CS_CLOSED = 0,
    CS_CONNECTING,
    CS_HANDSHAKE,
    CS_READY, /* handshake done, no operation */
    CS_WRITING,
    CS_READING,
} conn_state;

typedef struct conn {
    int fd;
    SSL *ssl;
    conn_state state;
    uint32_t events;
    size_t slot;
    char out[ESTLOAD_MAX_REQUEST_BYTES];
    size_t out_len, out_off;
    char *in;
    size_t in_len, in_cap;
    http_response head;
    int have_head, in_op;
    size_t csr_index;
    uint64_t op_start;
    SSL_SESSION *session; /* --resume: the last session of this slot */
} conn;

typedef struct engine {
    const load_config *cfg;
    load_result *res;
    SSL_CTX *ctx;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int ep;
    conn *conns;
    latency_log lat;
    size_t next_csr;
    char *valid_body; /* the last body that parsed, to skip re-parsing equal ones */
    size_t valid_len;
    unsigned long started, ready;
    int measuring, fatal;
} engine;

/* Counts a failed operation; the first reason is kept as "prefix detail". */
static void note_error(engine *e, const char *prefix, const char *detail)
{
    e->res->errors++;
    if (e->res->first_error[0] == '\0')
        snprintf(e->res->first_error, sizeof e->res->first_error, "%s%s", prefix, detail);
    if (e->res->ok == 0 && e->res->errors >= ERRORS_BEFORE_GIVING_UP)
        e->fatal = 1;
}

static const char *ssl_reason(void)
{
    static char buf[200];
    unsigned long code = ERR_get_error();

    if (code == 0)
        return errno ? strerror(errno) : "connection closed";
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

static void set_events(engine *e, conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (c->events == events)
        return;
    if (epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

static void conn_close(engine *e, conn *c, int graceful)
{
    /* --resume: keep the session (with the ticket that came after the
     * handshake) for this slot's next connection. */
    if (c->ssl != NULL && graceful && e->cfg->resume) {
        SSL_SESSION *s = SSL_get1_session(c->ssl);
        if (s != NULL && SSL_SESSION_is_resumable(s)) {
            SSL_SESSION_free(c->session);
            c->session = s;
        } else {
            SSL_SESSION_free(s);
        }
    }
    if (c->ssl != NULL) {
        if (graceful)
            (void)SSL_shutdown(c->ssl); /* one close_notify, no wait for the peer's */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        epoll_ctl(e->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == CS_READY && e->ready > 0)
        e->ready--;
    c->state = CS_CLOSED;
    c->events = 0;
    c->in_len = 0;
    c->have_head = 0;
    ERR_clear_error();
}

static void op_failed(engine *e, conn *c, const char *prefix, const char *detail)
{
    note_error(e, prefix, detail);
    c->in_op = 0;
    conn_close(e, c, 0);
}

static int conn_open(engine *e, conn *c)
{
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    int one = 1;

    c->fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&e->addr, e->addr_len) != 0 && errno != EINPROGRESS)
        goto fail;
    if (epoll_ctl(e->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        goto fail;
    c->events = EPOLLOUT;
    c->state = CS_CONNECTING;
    return 0;
fail:
    close(c->fd);
    c->fd = -1;
    return -1;
}

/* Starts the next operation on c; 0 when none is left to start. */
static int op_begin(engine *e, conn *c)
{
    const load_config *cfg = e->cfg;
    const char *csr = NULL;

    if (e->fatal || (cfg->count > 0 && e->started >= cfg->count))
        return 0;
    if (cfg->op == LOAD_OP_ENROLL) {
        c->csr_index = e->next_csr++ % cfg->csrs.count;
        csr = cfg->csrs.csr_b64[c->csr_index];
    } else if (cfg->op == LOAD_OP_REENROLL) {
        csr = cfg->identities[c->slot % cfg->identity_count].reenroll_csr_b64;
    }
    c->out_len = http_build_request(cfg, csr, c->out, sizeof c->out);
    c->out_off = 0;
    e->started++;
    c->in_op = 1;
    c->op_start = now_ns();
    if (c->out_len == 0) {
        op_failed(e, c, "", "request too large");
        return 1;
    }
    if (c->ssl == NULL) {
        if (conn_open(e, c) != 0)
            op_failed(e, c, "connect: ", strerror(errno));
        return 1;
    }
    if (c->state == CS_READY && e->ready > 0)
        e->ready--;
    c->state = CS_WRITING;
    set_events(e, c, EPOLLOUT);
    return 1;
}

static int ssl_setup(engine *e, conn *c)
{
    const load_config *cfg = e->cfg;

    if ((c->ssl = SSL_new(e->ctx)) == NULL || !SSL_set_fd(c->ssl, c->fd))
        return -1;
    if (cfg->auth == LOAD_AUTH_CERT || cfg->op == LOAD_OP_REENROLL) {
        const load_identity *id = &cfg->identities[c->slot % cfg->identity_count];
        if (SSL_use_certificate(c->ssl, id->cert) != 1 || SSL_use_PrivateKey(c->ssl, id->key) != 1)
            return -1;
    }
    if (cfg->resume && c->session != NULL && SSL_set_session(c->ssl, c->session) != 1)
        return -1;
    SSL_set_connect_state(c->ssl);
    return 0;
}

/* Whether a finished response is what RFC 7030 §4.1.3/§4.2.3 promise. */
static int response_valid(engine *e, conn *c, char *why, size_t why_len)
{
    const char *body = c->in + c->head.head_len;
    size_t len = (size_t)c->head.content_length;
    X509 *cert = NULL;
    int ok;

    if (c->head.status != 200) {
        e->res->http_errors++;
        snprintf(why, why_len, "HTTP %d: %.*s", c->head.status, (int)(len > 120 ? 120 : len),
                 body);
        return 0;
    }
    if (strncasecmp(c->head.content_type, "application/pkcs7-mime", 22) != 0) {
        snprintf(why, why_len, "Content-Type '%s', want application/pkcs7-mime",
                 c->head.content_type);
        return 0;
    }
    /* /cacerts answers the same bytes every time: parsing them once is
     * enough, and keeps the load generator's CPU for the wire. */
    if (e->cfg->save_dir == NULL && len == e->valid_len && memcmp(body, e->valid_body, len) == 0)
        return 1;
    ok = pki_check_certs_only(body, len, e->cfg->save_dir ? &cert : NULL, why, why_len) == 0;
    if (ok && e->cfg->op == LOAD_OP_CACERTS) {
        char *copy = malloc(len);
        if (copy != NULL) {
            memcpy(copy, body, len);
            free(e->valid_body);
            e->valid_body = copy;
            e->valid_len = len;
        }
    }
    if (ok && e->cfg->save_dir != NULL && e->cfg->csrs.keys != NULL &&
        pki_save_identity(e->cfg->save_dir, c->csr_index, cert,
                          e->cfg->csrs.keys[c->csr_index]) != 0) {
        snprintf(why, why_len, "cannot save client-%zu in %s", c->csr_index, e->cfg->save_dir);
        ok = 0;
    }
    X509_free(cert);
    return ok;
}

static void op_done(engine *e, conn *c)
{
    char why[256];
    int keep = !e->cfg->fresh && !c->head.connection_close;

    c->in_op = 0;
    if (!response_valid(e, c, why, sizeof why)) {
        note_error(e, "", why);
        keep = 0;
    } else {
        e->res->ok++;
        if (latency_add(&e->lat, now_ns() - c->op_start) != 0)
            e->fatal = 1;
    }
    c->in_len = 0;
    c->have_head = 0;
    if (!keep)
        conn_close(e, c, 1);
    if (e->measuring)
        op_begin(e, c);
}

/* Reads what is there; completes the operation when the body is in. */
static void conn_read(engine *e, conn *c)
{
    char why[200];

    for (;;) {
        int n, r;
        if (c->in_cap - c->in_len < 4096) {
            size_t grown = c->in_cap ? c->in_cap * 2 : INITIAL_READ_BUFFER;
            char *p;
            if (grown > ESTLOAD_MAX_HEAD_BYTES + ESTLOAD_MAX_BODY_BYTES + INITIAL_READ_BUFFER ||
                (p = realloc(c->in, grown)) == NULL) {
                op_failed(e, c, "", "response too large");
                return;
            }
            c->in = p;
            c->in_cap = grown;
        }
        n = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
        if (n <= 0) {
            r = SSL_get_error(c->ssl, n);
            if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE) {
                set_events(e, c, r == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
                return;
            }
            op_failed(e, c, "reading the response: ", ssl_reason());
            return;
        }
        c->in_len += (size_t)n;
        if (!c->have_head) {
            r = http_parse_head(c->in, c->in_len, &c->head, why, sizeof why);
            if (r < 0) {
                op_failed(e, c, "", why);
                return;
            }
            c->have_head = r;
        }
        if (c->have_head && c->in_len >= c->head.head_len + (size_t)c->head.content_length) {
            if (c->in_len > c->head.head_len + (size_t)c->head.content_length) {
                op_failed(e, c, "", "bytes after the response (we never pipeline)");
                return;
            }
            op_done(e, c);
            return;
        }
    }
}

static void conn_write(engine *e, conn *c)
{
    while (c->out_off < c->out_len) {
        int n = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
        if (n <= 0) {
            int r = SSL_get_error(c->ssl, n);
            if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE) {
                set_events(e, c, r == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
                return;
            }
            op_failed(e, c, "sending the request: ", ssl_reason());
            return;
        }
        c->out_off += (size_t)n;
    }
    c->state = CS_READING;
    set_events(e, c, EPOLLIN);
    conn_read(e, c);
}

/* A ready connection with nothing to do still reads: TLS 1.3 session
 * tickets arrive after the handshake, and a server closing an idle
 * connection shows up here. */
static void conn_idle_read(engine *e, conn *c)
{
    char buf[512];
    int n = SSL_read(c->ssl, buf, sizeof buf);
    int r = n > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, n);

    if (r == SSL_ERROR_WANT_READ)
        return;
    note_error(e, "", n > 0 ? "unexpected bytes on an idle connection"
                              : "server closed an idle connection");
    conn_close(e, c, 0);
}

static void conn_handshake(engine *e, conn *c)
{
    int n = SSL_connect(c->ssl), r;

    if (n == 1) {
        e->res->connects++;
        e->res->resumed += SSL_session_reused(c->ssl) == 1;
        if (c->in_op) {
            c->state = CS_WRITING;
            conn_write(e, c);
        } else {
            c->state = CS_READY;
            e->ready++;
            set_events(e, c, EPOLLIN);
        }
        return;
    }
    r = SSL_get_error(c->ssl, n);
    if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE) {
        set_events(e, c, r == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        return;
    }
    if (c->in_op) {
        op_failed(e, c, "TLS handshake: ", ssl_reason());
    } else {
        note_error(e, "TLS handshake: ", ssl_reason());
        conn_close(e, c, 0);
    }
}

static void conn_step(engine *e, conn *c)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;

    switch (c->state) {
    case CS_CONNECTING:
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
            errno = soerr;
            if (c->in_op)
                op_failed(e, c, "connect: ", strerror(soerr));
            else {
                note_error(e, "connect: ", strerror(soerr));
                conn_close(e, c, 0);
            }
            return;
        }
        if (ssl_setup(e, c) != 0) {
            e->fatal = 1;
            note_error(e, "TLS setup: ", ssl_reason());
            return;
        }
        c->state = CS_HANDSHAKE;
        conn_handshake(e, c);
        return;
    case CS_HANDSHAKE:
        conn_handshake(e, c);
        return;
    case CS_WRITING:
        conn_write(e, c);
        return;
    case CS_READING:
        conn_read(e, c);
        return;
    case CS_READY:
        conn_idle_read(e, c);
        return;
    case CS_CLOSED:
        return;
    }
}

static int resolve(engine *e)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;

    if (getaddrinfo(e->cfg->host, e->cfg->port, &hints, &ai) != 0 || ai == NULL)
        return -1;
    memcpy(&e->addr, ai->ai_addr, ai->ai_addrlen);
    e->addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int tls_version(const char *text)
{
    if (text == NULL)
        return 0;
    return strcmp(text, "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

/* One client context: the server is verified against --trust and its
 * certificate must name the host (or IP) we dialled. No session cache and
 * no tickets, so every connection is a full handshake; with --resume each
 * slot keeps its own last session (engine-managed, no cache). */
static SSL_CTX *client_ctx(const load_config *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    X509_VERIFY_PARAM *param = ctx ? SSL_CTX_get0_param(ctx) : NULL;
    unsigned char ip[16];
    int version = tls_version(cfg->tls_version);

    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, cfg->trust_file, NULL) != 1)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (inet_pton(AF_INET, cfg->host, ip) == 1 || inet_pton(AF_INET6, cfg->host, ip) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, cfg->host) != 1)
            goto fail;
    } else if (X509_VERIFY_PARAM_set1_host(param, cfg->host, 0) != 1) {
        goto fail;
    }
    if (cfg->group != NULL && SSL_CTX_set1_groups_list(ctx, cfg->group) != 1)
        goto fail;
    if (version != 0 && (SSL_CTX_set_min_proto_version(ctx, version) != 1 ||
                         SSL_CTX_set_max_proto_version(ctx, version) != 1))
        goto fail;
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (!cfg->resume)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static void engine_poll(engine *e, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(e->ep, evs, 256, timeout_ms);

    for (int i = 0; i < n; i++)
        conn_step(e, evs[i].data.ptr);
}

static void sample_server(engine *e, unsigned long long *ticks)
{
    unsigned long long t = 0;
    long rss = 0;

    if (e->cfg->server_pid <= 0 || proc_sample(e->cfg->server_pid, &t, &rss) != 0)
        return;
    if (rss > e->res->server_rss_kib)
        e->res->server_rss_kib = rss;
    if (ticks != NULL)
        *ticks = t;
}

/* Opens and handshakes every connection before the clock starts. */
static int warmup(engine *e)
{
    uint64_t deadline = now_ns() + WARMUP_TIMEOUT_NS;

    for (unsigned i = 0; i < e->cfg->connections; i++)
        if (conn_open(e, &e->conns[i]) != 0) {
            note_error(e, "connect: ", strerror(errno));
            return -1;
        }
    while (e->ready < e->cfg->connections) {
        if (e->res->errors > 0 || now_ns() >= deadline)
            return -1;
        engine_poll(e, 100);
    }
    return 0;
}

static void measure(engine *e)
{
    const load_config *cfg = e->cfg;
    unsigned long long ticks0 = 0, ticks1 = 0;
    uint64_t start, deadline, last = 0, now;

    sample_server(e, &ticks0);
    e->res->server_rss_kib = 0;
    e->measuring = cfg->op != LOAD_OP_IDLE;
    start = now_ns();
    deadline = start + (cfg->count > 0 ? COUNT_TIMEOUT_NS : (uint64_t)(cfg->duration * 1e9));
    for (unsigned i = 0; e->measuring && i < cfg->connections; i++)
        op_begin(e, &e->conns[i]);
    while (!e->fatal && (now = now_ns()) < deadline) {
        uint64_t left = (deadline - now) / 1000000u;
        if (cfg->count > 0 && e->res->ok + e->res->errors >= cfg->count)
            break;
        engine_poll(e, left < 100 ? (int)left + 1 : 100);
        if (now - last >= SAMPLE_INTERVAL_NS) {
            sample_server(e, NULL);
            last = now;
        }
    }
    now = now_ns();
    e->measuring = 0;
    sample_server(e, &ticks1);
    e->res->seconds = (double)(now - start) / 1e9;
    if (e->res->seconds > 0 && ticks1 >= ticks0)
        e->res->server_cpu_pct = (double)(ticks1 - ticks0) / (double)sysconf(_SC_CLK_TCK) /
                                 e->res->seconds * 100.0;
    for (unsigned i = 0; i < cfg->connections; i++)
        if (e->conns[i].in_op)
            e->res->unfinished++;
}

static int engine_init(engine *e, const load_config *cfg, load_result *res)
{
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    e->res = res;
    e->ep = -1;
    if (resolve(e) != 0) {
        snprintf(res->first_error, sizeof res->first_error, "cannot resolve %s", cfg->host);
        return -1;
    }
    if ((e->ctx = client_ctx(cfg)) == NULL) {
        snprintf(res->first_error, sizeof res->first_error, "TLS client setup: %s", ssl_reason());
        return -1;
    }
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    e->conns = calloc(cfg->connections, sizeof *e->conns);
    if (e->ep < 0 || e->conns == NULL)
        return -1;
    for (unsigned i = 0; i < cfg->connections; i++) {
        e->conns[i].fd = -1;
        e->conns[i].slot = i;
    }
    return 0;
}

static void engine_free(engine *e)
{
    for (unsigned i = 0; e->conns != NULL && i < e->cfg->connections; i++) {
        conn_close(e, &e->conns[i], 1);
        free(e->conns[i].in);
        SSL_SESSION_free(e->conns[i].session);
    }
    free(e->conns);
    if (e->ep >= 0)
        close(e->ep);
    SSL_CTX_free(e->ctx);
    free(e->valid_body);
    latency_free(&e->lat);
}

int load_run(const load_config *cfg, load_result *res)
{
    engine e;
    int rc = -1;

    memset(res, 0, sizeof *res);
    if (cfg->connections == 0 || cfg->connections > ESTLOAD_MAX_CONNECTIONS)
        return -1;
    if (engine_init(&e, cfg, res) != 0)
        goto out;
    if (cfg->server_pid > 0) {
        unsigned long long t;
        proc_sample(cfg->server_pid, &t, &res->server_rss_start_kib);
    }
    if ((!cfg->fresh || cfg->op == LOAD_OP_IDLE) && warmup(&e) != 0) {
        if (res->first_error[0] == '\0')
            snprintf(res->first_error, sizeof res->first_error, "warm-up: handshakes timed out");
        goto out;
    }
    measure(&e);
    if (cfg->op == LOAD_OP_IDLE) {
        res->ok = e.ready; /* connections still open at the end */
    }
    res->csrs_used = e.next_csr;
    latency_summarise(&e.lat, res);
    rc = e.fatal ? -1 : 0;
out:
    engine_free(&e);
    return rc;
}
