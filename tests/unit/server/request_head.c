/* Tests src/server/request_head.c: the request-head check (every refusal
 * with its status, what an accepted head yields) and the stream that splits
 * heads from bodies as evhttp does: limits at and one past (head bytes,
 * Content-Length), bodies and pipelined requests split across feeds, and
 * a refusal sticking. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "request_head.h"
#include "unit_main.h"

#define MAX_BODY 4096

static int check(const char *head, estd_head *out, estd_head_refusal *why)
{
    return estd_head_check(head, strlen(head), MAX_BODY, out, why);
}

/* The head is refused with status and a reason containing fragment. */
static void refused(const char *head, int status, const char *fragment)
{
    estd_head h;
    estd_head_refusal why = {0};
    int rc = check(head, &h, &why);

    if (rc != status || why.status != status || strstr(why.reason, fragment) == NULL)
        fail_msg("'%s': %d '%s', want %d '%s'", head, rc, why.reason, status, fragment);
}

static void accepted_heads_say_what_they_carry(void **state)
{
    const char *post = "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: a\r\n"
                       "Authorization:  Basic dTpw \r\nContent-Length: 0004096\r\n\r\n";
    estd_head h;
    estd_head_refusal why;
    (void)state;

    assert_int_equal(check(post, &h, &why), 0);
    assert_int_equal(h.method, ESTD_HEAD_POST);
    assert_int_equal(h.content_length, 4096); /* leading zeros are digits */
    assert_memory_equal(post + h.target_off, "/.well-known/est/simpleenroll", h.target_len);
    assert_int_equal(h.authorization_len, strlen("Basic dTpw")); /* OWS trimmed */
    assert_memory_equal(post + h.authorization_off, "Basic dTpw", h.authorization_len);
    /* Bare LF line ends (evhttp splits lines the same way), HTTP/1.0
     * without Host, absolute-form, obs-text in a value, empty values. */
    assert_int_equal(check("GET /x HTTP/1.1\nHost: a\n\n", &h, &why), 0);
    assert_int_equal(check("GET /x HTTP/1.0\r\n\r\n", &h, &why), 0);
    assert_int_equal(check("GET https://h.example:8443/x HTTP/1.1\r\nHost: a\r\n\r\n", &h, &why), 0);
    assert_int_equal(check("GET /x HTTP/1.1\r\nHost: a\r\nX-U: caf\xc3\xa9\r\nX-E:\r\n\r\n", &h,
                           &why), 0);
    assert_int_equal(h.method, ESTD_HEAD_GET);
    assert_int_equal(h.authorization_len, 0);
    assert_int_equal(check("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &h, &why), 0);
    assert_int_equal(check("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                           "Content-Length: 0\r\n\r\n", &h, &why), 0);
    assert_int_equal(check("GET http://h:65535/x HTTP/1.1\r\nHost: a\r\n\r\n", &h, &why), 0);
}

static void smuggling_shapes_are_refused(void **state)
{
    (void)state;
    refused("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\n", 400,
            "more than one Content-Length");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\ncontent-length: 4\r\n\r\n", 400,
            "more than one Content-Length");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\n", 400, "not a number");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "not a number");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4 4\r\n\r\n", 400, "not a number");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "not a number");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
            400, "together with Transfer-Encoding");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 411,
            "send Content-Length");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", 400, "GET with a body");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host");
    refused("GET /x HTTP/1.1\r\n\r\n", 400, "without Host");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "control character");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400, "control character");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nX\r: a\r\n\r\n", 400, "control character");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400, "control character");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400, "obs-fold");
    refused("GET /x HTTP/1.1\r\nHost : a\r\n\r\n", 400, "header name");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n", 400, "malformed header line");
    refused("GET /x HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n", 400, "malformed header line");
    refused("GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", 400,
            "more than one Authorization");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417, "100-continue");
    refused("POST /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", 411,
            "POST without Content-Length");
}

static void request_lines_are_strict(void **state)
{
    (void)state;
    refused("PUT /x HTTP/1.1\r\nHost: a\r\n\r\n", 501, "GET and POST only");
    refused("get /x HTTP/1.1\r\nHost: a\r\n\r\n", 501, "GET and POST only");
    refused("GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version");
    refused("GET /x HTTP/1.10\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET /x http/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET  /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET /x  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET /x HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET /x\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET //h/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET https://[::1]/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET https://h:1:2/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET https://h:65536/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET https://u@h/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET https://:80/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("G@T /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    refused("\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line");
    /* Not a complete head (only the stream makes complete ones). */
    refused("GET /x HTTP/1.1\r\nHost: a\r\n", 400, "incomplete");
    refused("GET /x HTTP/1.1\r\nHost: a\r\n\r\nX", 400, "incomplete");
    refused("GET /x HTTP/1.1\r\n\r\nHost: a\r\n", 400, "bytes after");
}

static void content_length_limit_at_and_past(void **state)
{
    char head[200];
    (void)state;

    snprintf(head, sizeof head, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
             MAX_BODY);
    assert_int_equal(check(head, &(estd_head){0}, NULL), 0);
    snprintf(head, sizeof head, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
             MAX_BODY + 1);
    refused(head, 413, "request body larger than 4096 bytes");
    /* 20 digits: beyond uint64_t, still just too large. */
    refused("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 413,
            "larger than");
}

static int feed(estd_head_stream *s, const char *bytes)
{
    return estd_head_stream_feed(s, (const uint8_t *)bytes, strlen(bytes));
}

static void stream_splits_heads_bodies_and_pipelines(void **state)
{
    estd_head_stream s;
    (void)state;

    estd_head_stream_init(&s, 8192, MAX_BODY);
    assert_int_equal(s.position, ESTD_STREAM_BOUNDARY);
    /* A head in three pieces, its CRLF CRLF split. */
    assert_int_equal(feed(&s, "POST /x HTTP/1.1\r\nHo"), 0);
    assert_int_equal(s.position, ESTD_STREAM_HEAD);
    assert_int_equal(feed(&s, "st: a\r\nContent-Length: 5\r\n\r"), 0);
    assert_int_equal(s.position, ESTD_STREAM_HEAD);
    /* The end of the head, part of the body. */
    assert_int_equal(feed(&s, "\nAB"), 0);
    assert_int_equal(s.position, ESTD_STREAM_BODY);
    assert_int_equal(s.body_left, 3);
    /* The rest of the body and a whole GET pipelined behind it. */
    assert_int_equal(feed(&s, "CDEGET /y HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    assert_int_equal(s.position, ESTD_STREAM_BOUNDARY);
    assert_int_equal(s.requests, 2);
    estd_head_stream_release(&s);
    /* A body that spells a request is only a body: the bytes after it
     * are what is judged as the next head. */
    estd_head_stream_init(&s, 8192, MAX_BODY);
    assert_int_equal(feed(&s, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"), 0);
    assert_int_equal(feed(&s, "GET /y HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    assert_string_equal(s.refusal.reason, "malformed request line");
    assert_int_equal(s.requests, 1);
    estd_head_stream_release(&s);

    estd_head_stream_init(&s, 8192, MAX_BODY);
    assert_int_equal(feed(&s, "GET /y HTTP/1.1\nHost: a\n\nGET /z HTTP/1.1\nHost: a\n\n"), 0);
    assert_int_equal(s.requests, 2);
    assert_int_equal(s.position, ESTD_STREAM_BOUNDARY);
    /* A refused head sticks, whatever comes after. */
    assert_int_equal(feed(&s, "GET /y HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    assert_int_equal(s.position, ESTD_STREAM_REFUSED);
    assert_int_equal(feed(&s, "GET /y HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    assert_int_equal(s.requests, 2);
    estd_head_stream_release(&s);
}

static void stream_head_limit_at_and_past(void **state)
{
    char head[300];
    estd_head_stream s;
    size_t len;
    (void)state;

    /* A head of exactly 128 bytes passes a 128-byte limit... */
    snprintf(head, sizeof head, "GET /x HTTP/1.1\r\nHost: a\r\nX: %0*d\r\n\r\n", 128 - 33, 0);
    len = strlen(head);
    assert_int_equal(len, 128);
    estd_head_stream_init(&s, 128, MAX_BODY);
    assert_int_equal(feed(&s, head), 0);
    assert_int_equal(s.requests, 1);
    estd_head_stream_release(&s);
    /* ...one more byte is 431, even before the head ends. */
    snprintf(head, sizeof head, "GET /x HTTP/1.1\r\nHost: a\r\nX: %0*d\r\n\r\n", 128 - 32, 0);
    estd_head_stream_init(&s, 128, MAX_BODY);
    assert_int_equal(feed(&s, head), 431);
    assert_string_equal(s.refusal.reason, "request head larger than 128 bytes");
    estd_head_stream_release(&s);
    estd_head_stream_init(&s, 128, MAX_BODY);
    for (int i = 0; i < 128; i++)
        assert_int_equal(feed(&s, "a"), 0);
    assert_int_equal(feed(&s, "a"), 431);
    estd_head_stream_release(&s);
}

UNIT_MAIN(
    cmocka_unit_test(accepted_heads_say_what_they_carry),
    cmocka_unit_test(smuggling_shapes_are_refused),
    cmocka_unit_test(request_lines_are_strict),
    cmocka_unit_test(content_length_limit_at_and_past),
    cmocka_unit_test(stream_splits_heads_bodies_and_pipelines),
    cmocka_unit_test(stream_head_limit_at_and_past))
