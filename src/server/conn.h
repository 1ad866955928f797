/* estd: the life of a client connection below HTTP: admission (per-address
 * and global caps, eviction), deadlines for the TLS handshake, the request
 * head and the body, and the request-head check before evhttp parses. */
#ifndef ESTD_CONN_H
#define ESTD_CONN_H

#include <stdint.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include "config.h"

/* After estd answers a refused request head itself, it keeps reading (and
 * discarding) for at most this long before closing, so that the client is
 * not reset while its body is still in flight and reads the answer
 * (lingering close, RFC 9112 §9.6). */
#define ESTD_CONN_LINGER_SECONDS 5

typedef struct estd_conn_limits {
    unsigned max_connections;
    unsigned per_address;       /* per IPv4 address / IPv6 /64 */
    unsigned handshake_seconds; /* accept -> TLS handshake done */
    unsigned head_seconds;      /* first byte (or handshake) -> head complete */
    unsigned body_seconds;      /* head complete -> body complete */
    size_t max_head;            /* request head bytes (431 beyond) */
    uint64_t max_body;          /* Content-Length (413 beyond) */
} estd_conn_limits;

typedef struct estd_conns estd_conns;       /* shared by every loop */
typedef struct estd_conn_set estd_conn_set; /* one loop's connections */
typedef struct estd_conn estd_conn;

/* Installs the ClientHello hook on ctx (admission before TLS work). */
estd_conns *estd_conns_new(const estd_conn_limits *limits, unsigned loops, SSL_CTX *ctx);
/* New limits from a reload: new connections and new deadlines use them
 * (max_head is kept: max_header_bytes needs a restart). */
void estd_conns_configure(estd_conns *conns, const estd_conn_limits *limits);
/* The limits estd.conf sets. */
estd_conn_limits estd_conn_limits_of(const estd_config *cfg);
/* After every set is freed. */
void estd_conns_free(estd_conns *conns);

/* For the access log: estd answered a refused request head itself (on the
 * connection's loop); tls_version may be NULL. */
typedef void estd_conn_refused_fn(void *arg, const char *peer, const char *tls_version,
                                  int status, size_t bytes);
void estd_conns_on_refusal(estd_conns *conns, estd_conn_refused_fn *fn, void *arg);

/* Connections accepted and not yet freed (0 for NULL). */
int estd_conns_open(estd_conns *conns);

/* One per loop; index < loops. */
estd_conn_set *estd_conn_set_new(estd_conns *conns, unsigned index, struct event_base *base);
/* Before evhttp_free on the loop's base: drops every timer. */
void estd_conn_set_stop(estd_conn_set *set);
/* After event_base_free (which frees the last connections). */
void estd_conn_set_free(estd_conn_set *set);

/* evhttp's bufferevent callback: a TLS bufferevent for a new connection,
 * admitted (or closed) on the loop's next pass. */
struct bufferevent *estd_conn_bufferevent_new(struct event_base *base, void *set);

/* The connection behind an evhttp request's bufferevent, or NULL. */
estd_conn *estd_conn_of(estd_conns *conns, struct bufferevent *bev);
/* evhttp hands a request over: no deadline until its reply is sent. */
void estd_conn_request_taken(estd_conn *c, struct evhttp_request *evreq);
/* 1 when the connection must close after this reply (a later request on it
 * was refused, or it is being evicted). */
int estd_conn_closing_after_reply(const estd_conn *c);
/* The TLS channel binding of c's connection (draft-04 §3.5) into out;
 * its length, 0 when it has none or it exceeds cap. Read on the first
 * request and kept: renegotiation is off (tls.c), so a TLS 1.2
 * tls-unique, like a TLS 1.3 exporter, cannot change while the connection
 * lives. Loop thread only (it may read ssl). */
size_t estd_conn_binding(estd_conn *c, SSL *ssl, uint8_t *out, size_t cap);

#endif
