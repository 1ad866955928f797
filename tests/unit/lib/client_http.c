/* Tests src/lib/client_http.c without a network: the bounded response
 * buffer, header capture across a 401 + 200 exchange, Retry-After in both
 * of its forms (draft-04 §4.2.3), and the one-line messages each HTTP
 * status becomes, quoting the server's text safely. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "client_internal.h"
#include "unit_main.h"

static void body_limit(void **state)
{
    est_http_response resp = {0};
    uint8_t *chunk = calloc(1, 65536);

    (void)state;
    /* Exactly EST_CLIENT_RESPONSE_MAX in pieces fits; one byte more does not. */
    for (size_t done = 0; done < EST_CLIENT_RESPONSE_MAX; done += 65536)
        assert_int_equal(http_response_append(&resp, chunk, 65536), 1);
    assert_int_equal(resp.len, EST_CLIENT_RESPONSE_MAX);
    assert_int_equal(resp.too_large, 0);
    assert_int_equal(http_response_append(&resp, chunk, 1), 0);
    assert_int_equal(resp.too_large, 1);
    assert_int_equal(resp.len, EST_CLIENT_RESPONSE_MAX);
    http_response_free(&resp);
    assert_null(resp.body);
    assert_int_equal(http_response_append(&resp, chunk, EST_CLIENT_RESPONSE_MAX + 1), 0);
    assert_int_equal(http_response_append(&resp, "abc", 3), 1);
    assert_memory_equal(resp.body, "abc", 3);
    http_response_free(&resp);
    http_response_free(NULL);
    free(chunk);
}

static void header(est_http_response *resp, const char *line)
{
    http_response_header(resp, line, strlen(line));
}

static void headers_of_the_last_response_count(void **state)
{
    est_http_response resp = {0};
    char big[600];

    (void)state;
    header(&resp, "HTTP/1.1 401 Unauthorized\r\n");
    header(&resp, "Content-Type: text/plain\r\n");
    header(&resp, "Retry-After: 9\r\n");
    header(&resp, "HTTP/1.1 202 Accepted\r\n");
    assert_string_equal(resp.content_type, "");
    assert_string_equal(resp.retry_after, "");
    header(&resp, "content-type:   application/pkcs7-mime; smime-type=certs-only  \r\n");
    header(&resp, "RETRY-AFTER: 7\r\n");
    header(&resp, "Retry-After-Not: 5\r\n");
    header(&resp, "Content-Typo: x\r\n");
    assert_string_equal(resp.content_type, "application/pkcs7-mime; smime-type=certs-only");
    assert_string_equal(resp.retry_after, "7");
    /* An over-long value is cut, never overflows. */
    memset(big, 'x', sizeof big);
    memcpy(big, "Content-Type: ", 14);
    http_response_header(&resp, big, sizeof big);
    assert_int_equal(strlen(resp.content_type), sizeof resp.content_type - 1);
}

static void retry_after_forms(void **state)
{
    char date[64];
    time_t later = time(NULL) + 120;
    unsigned v;

    (void)state;
    assert_int_equal(client_retry_after_parse("7"), 7);
    assert_int_equal(client_retry_after_parse("0"), EST_CLIENT_RETRY_AFTER_MIN);
    assert_int_equal(client_retry_after_parse(""), EST_CLIENT_RETRY_AFTER_DEFAULT);
    assert_int_equal(client_retry_after_parse(NULL), EST_CLIENT_RETRY_AFTER_DEFAULT);
    assert_int_equal(client_retry_after_parse("7s"), EST_CLIENT_RETRY_AFTER_DEFAULT);
    assert_int_equal(client_retry_after_parse("soon"), EST_CLIENT_RETRY_AFTER_DEFAULT);
    /* A day at most: at the limit and one past it. */
    assert_int_equal(client_retry_after_parse("86400"), 86400);
    assert_int_equal(client_retry_after_parse("86401"), 86400);
    assert_int_equal(client_retry_after_parse("99999999999999999999999"), 86400);
    /* RFC 9110 HTTP-date. */
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&later));
    v = client_retry_after_parse(date);
    assert_true(v >= 118 && v <= 120);
    assert_int_equal(client_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT"),
                     EST_CLIENT_RETRY_AFTER_MIN);
}

static est_client *client(void)
{
    est_client_config cfg;
    est_client *c = NULL;

    est_client_config_init(&cfg);
    cfg.server_url = "https://127.0.0.1:8443";
    assert_int_equal(est_client_new(&cfg, &c, NULL), EST_OK);
    return c;
}

static est_status status(est_client *c, est_operation op, long code, const char *type,
                         const char *body, est_error *err)
{
    est_http_response resp = {0};

    resp.status = code;
    snprintf(resp.content_type, sizeof resp.content_type, "%s", type);
    resp.body = (uint8_t *)body;
    resp.len = body ? strlen(body) : 0;
    return client_status_error(c, op, &resp, err);
}

static void statuses_become_one_line_errors(void **state)
{
    est_client *c = client();
    est_error err;

    (void)state;
    assert_int_equal(status(c, EST_OP_SIMPLEENROLL, 200, "", NULL, &err), EST_OK);
    assert_int_equal(status(c, EST_OP_SIMPLEENROLL, 202, "text/plain", "request 3 waits\r\n",
                            &err), EST_E_RETRY_LATER);
    assert_string_equal(err.message, "127.0.0.1:8443: request pending (HTTP 202): request 3 waits");
    assert_int_equal(status(c, EST_OP_SIMPLEENROLL, 401, "text/plain", "wrong password", &err),
                     EST_E_AUTH);
    assert_string_equal(err.message, "127.0.0.1:8443: HTTP 401: authentication required or "
                                     "refused: wrong password");
    assert_int_equal(status(c, EST_OP_SIMPLEENROLL, 403, "text/plain",
                            "\r\nrequest rejected: unknown device\nsecond line", &err),
                     EST_E_POLICY);
    assert_string_equal(err.message, "127.0.0.1:8443: HTTP 403: request rejected: unknown device");
    assert_int_equal(status(c, EST_OP_SERVERKEYGEN, 404, "", "", &err), EST_E_UNSUPPORTED);
    assert_string_equal(err.message, "127.0.0.1:8443: HTTP 404: /serverkeygen not offered");
    assert_int_equal(status(c, EST_OP_FULLCMC, 501, "text/plain", "later", &err),
                     EST_E_UNSUPPORTED);
    assert_int_equal(status(c, EST_OP_CACERTS, 500, "text/plain", "disk full", &err),
                     EST_E_PROTOCOL);
    assert_string_equal(err.message, "127.0.0.1:8443: HTTP 500: disk full");
    assert_int_equal(status(c, EST_OP_CACERTS, 302, "", NULL, &err), EST_E_PROTOCOL);
    assert_string_equal(err.message, "127.0.0.1:8443: HTTP 302: unexpected status");
    assert_int_equal(status(c, EST_OP_SIMPLEENROLL, 204, "", NULL, &err), EST_E_PROTOCOL);
    est_client_free(c);
}

static void server_text_is_quoted_safely(void **state)
{
    est_client *c = client();
    char long_text[400];
    est_error err;

    (void)state;
    /* Control characters never reach the terminal. */
    assert_int_equal(status(c, EST_OP_CACERTS, 400, "text/plain", "bad\x1b[31m\x07 body", &err),
                     EST_E_PROTOCOL);
    assert_string_equal(err.message, "127.0.0.1:8443: HTTP 400: bad?[31m? body");
    /* A binary (non-text) body is not quoted. */
    assert_int_equal(status(c, EST_OP_FULLCMC, 400, "application/pkcs7-mime", "MIIB", &err),
                     EST_E_PROTOCOL);
    assert_string_equal(err.message, "127.0.0.1:8443: HTTP 400");
    /* At most EST_CLIENT_SERVER_TEXT_MAX characters. */
    memset(long_text, 'x', sizeof long_text);
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(status(c, EST_OP_CACERTS, 400, "", long_text, &err), EST_E_PROTOCOL);
    assert_int_equal(strlen(err.message), strlen("127.0.0.1:8443: HTTP 400: ") +
                                              EST_CLIENT_SERVER_TEXT_MAX);
    est_client_free(c);
}

static void content_type_check(void **state)
{
    est_client *c = client();
    est_http_response resp = {0};
    est_error err;

    (void)state;
    assert_int_equal(client_check_type(c, &resp, "application/csrattrs", &err), EST_OK);
    strcpy(resp.content_type, "application/csrattrs");
    assert_int_equal(client_check_type(c, &resp, "application/csrattrs", &err), EST_OK);
    strcpy(resp.content_type, "text/html; charset=utf-8");
    assert_int_equal(client_check_type(c, &resp, "application/csrattrs", &err),
                     EST_E_PROTOCOL);
    assert_string_equal(err.message, "127.0.0.1:8443: Content-Type text/html, expected "
                                     "application/csrattrs");
    strcpy(resp.content_type, ";;;");
    assert_int_not_equal(client_check_type(c, &resp, "application/csrattrs", &err), EST_OK);
    est_client_free(c);
}

UNIT_MAIN(
    cmocka_unit_test(body_limit),
    cmocka_unit_test(headers_of_the_last_response_count),
    cmocka_unit_test(retry_after_forms),
    cmocka_unit_test(statuses_become_one_line_errors),
    cmocka_unit_test(server_text_is_quoted_safely),
    cmocka_unit_test(content_type_check))
