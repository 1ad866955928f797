/* Tests src/server/http_response.c: the RA's parser of upstream answers.
 * Status and headers (case-insensitive names, Retry-After seconds and its
 * cap, CTE base64), the text/plain reason of a refusal, Content-Length and
 * close-delimited bodies, the body limit at and one past max_body, the head
 * limit, truncation, chunked refused, malformed status lines and headers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "upstream_http.h"
#include "unit_main.h"

static est_status parse(const char *raw, size_t max_body, estd_http_response *out, est_error *err)
{
    return estd_http_response_parse((const uint8_t *)raw, strlen(raw), max_body, out, err);
}

static void test_ok_with_headers(void **state)
{
    estd_http_response r;
    est_error err;
    (void)state;

    assert_int_equal(parse("HTTP/1.1 200 OK\r\ncontent-TYPE: application/pkcs7-mime; "
                           "smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n"
                           "Content-Length: 4\r\n\r\nMIIB", 100, &r, &err), EST_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/pkcs7-mime; smime-type=certs-only");
    assert_true(r.base64_transfer);
    assert_int_equal(r.body_len, 4);
    assert_memory_equal(r.body, "MIIB", 4);
    assert_string_equal(r.reason, "OK");
    estd_http_response_release(&r);
}

static void test_202_retry_after(void **state)
{
    estd_http_response r;
    est_error err;
    (void)state;

    assert_int_equal(parse("HTTP/1.1 202 Accepted\r\nRetry-After:  60 \r\nContent-Length: 0\r\n\r\n",
                           100, &r, &err), EST_OK);
    assert_int_equal(r.status, 202);
    assert_int_equal(r.retry_after, 60);
    assert_null(r.body);
    estd_http_response_release(&r);
    /* Capped at a day; an HTTP-date leaves it to the caller. */
    assert_int_equal(parse("HTTP/1.1 202 Accepted\r\nRetry-After: 99999999999\r\n\r\n", 100, &r,
                           &err), EST_OK);
    assert_int_equal(r.retry_after, 86400);
    estd_http_response_release(&r);
    assert_int_equal(parse("HTTP/1.1 202 Accepted\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT"
                           "\r\n\r\n", 100, &r, &err), EST_OK);
    assert_int_equal(r.retry_after, 0);
    estd_http_response_release(&r);
}

static void test_refusal_reason_is_first_printable_line(void **state)
{
    estd_http_response r;
    est_error err;
    (void)state;

    assert_int_equal(parse("HTTP/1.0 403 Forbidden\r\nContent-Type: text/plain\r\n\r\n"
                           "not \x01 allowed\r\nsecond line\r\n", 100, &r, &err), EST_OK);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.reason, "not ? allowed");
    estd_http_response_release(&r);
}

static void test_body_limit(void **state)
{
    char raw[256];
    estd_http_response r;
    est_error err;
    (void)state;

    /* At the limit: accepted; one past: EST_E_TOO_LARGE, with or without
     * Content-Length. */
    snprintf(raw, sizeof raw, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
    assert_int_equal(parse(raw, 10, &r, &err), EST_OK);
    estd_http_response_release(&r);
    assert_int_equal(parse(raw, 9, &r, &err), EST_E_TOO_LARGE);
    assert_null(r.body);
    snprintf(raw, sizeof raw, "HTTP/1.1 200 OK\r\n\r\n0123456789");
    assert_int_equal(parse(raw, 10, &r, &err), EST_OK);
    assert_int_equal(r.body_len, 10);
    estd_http_response_release(&r);
    assert_int_equal(parse(raw, 9, &r, &err), EST_E_TOO_LARGE);
}

static void test_head_limit(void **state)
{
    size_t n = ESTD_HTTP_HEAD_MAX + 100;
    char *raw = malloc(n + 1);
    estd_http_response r;
    est_error err;
    (void)state;

    assert_non_null(raw);
    memset(raw, 'a', n);
    memcpy(raw, "HTTP/1.1 200 OK\r\nX-Long: ", 25);
    memcpy(raw + n - 4, "\r\n\r\n", 4);
    raw[n] = '\0';
    assert_int_equal(parse(raw, 100, &r, &err), EST_E_PROTOCOL);
    assert_non_null(strstr(err.message, "too large"));
    free(raw);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",                                                      /* nothing */
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",    /* truncated body */
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n",              /* truncated head */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nMIIB\r\n0\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 099 x\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",               /* bare LF */
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nA",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    };
    estd_http_response r;
    est_error err;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        est_status rc = parse(bad[i], 100, &r, &err);
        if (rc != EST_E_PROTOCOL)
            fail_msg("case %zu: %d (%s)", i, rc, err.message);
        assert_null(r.body);
    }
}

UNIT_MAIN(
    cmocka_unit_test(test_ok_with_headers),
    cmocka_unit_test(test_202_retry_after),
    cmocka_unit_test(test_refusal_reason_is_first_printable_line),
    cmocka_unit_test(test_body_limit),
    cmocka_unit_test(test_head_limit),
    cmocka_unit_test(test_malformed))
