/* estd: HTTP/1.1 request heads as they arrive on the wire, checked before
 * evhttp parses them (see request_head.c for why and what is refused). */
#ifndef ESTD_REQUEST_HEAD_H
#define ESTD_REQUEST_HEAD_H

#include <stddef.h>
#include <stdint.h>

/* A refusal: the HTTP status and a one-line reason that never quotes the
 * request (only configured numbers), so it is safe in logs and bodies. */
typedef struct estd_head_refusal {
    int status;
    char reason[96];
} estd_head_refusal;

typedef enum estd_head_method { ESTD_HEAD_GET, ESTD_HEAD_POST } estd_head_method;

/* What an accepted head says; offsets point into the checked text. */
typedef struct estd_head {
    estd_head_method method;
    uint64_t content_length;    /* 0 when absent */
    size_t target_off, target_len;
    size_t authorization_off, authorization_len; /* len 0 when absent */
} estd_head;

/* Checks one complete head: request line, header lines, the empty line
 * (len bytes, which end in LF LF or LF CR LF). 0 = acceptable (*out filled),
 * else the refusal's status (also in *why). max_body is the largest
 * Content-Length accepted (413 beyond). */
int estd_head_check(const char *head, size_t len, uint64_t max_body, estd_head *out,
                    estd_head_refusal *why);

/* Drops the optional white space (SP, HTAB) around a header field's value
 * (RFC 7230 §3.2: OWS is not part of the value); used by the request head
 * check and by the upstream response parser alike. */
void estd_http_trim_ows(const char **value, size_t *len);

/* The reason phrase for an HTTP status estd answers with. */
const char *estd_http_reason_phrase(int status);

/* Where a connection's byte stream stands between requests. */
typedef enum estd_stream_position {
    ESTD_STREAM_BOUNDARY, /* between requests: no byte of the next one yet */
    ESTD_STREAM_HEAD,     /* inside a request head */
    ESTD_STREAM_BODY,     /* inside a body announced by Content-Length */
    ESTD_STREAM_REFUSED,  /* a head was refused: nothing more is looked at */
} estd_stream_position;

/* Follows a connection's bytes: splits heads from bodies exactly as evhttp
 * will, checks each head. */
typedef struct estd_head_stream {
    char *head;              /* the head read so far */
    size_t len, cap;
    size_t max_head;         /* bytes of head allowed (431 beyond) */
    uint64_t max_body;
    uint64_t body_left;
    estd_stream_position position;
    unsigned requests;       /* complete requests seen (head and body) */
    estd_head_refusal refusal;
} estd_head_stream;

void estd_head_stream_init(estd_head_stream *s, size_t max_head, uint64_t max_body);
void estd_head_stream_release(estd_head_stream *s);
/* Feeds n more bytes. Returns 0, or the refusal's status once a head is
 * refused (then s->refusal says why and later calls return it again).
 * Inside a body the bytes are only counted: bytes may then be NULL for up
 * to body_left of them. */
int estd_head_stream_feed(estd_head_stream *s, const uint8_t *bytes, size_t n);

#endif
