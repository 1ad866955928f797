/* A tiny HTTPS server for client unit tests: answers every request on
 * 127.0.0.1 with bytes the test chooses (per request path), one request
 * per connection. Its certificate names 127.0.0.1 and is issued by a fresh
 * CA whose PEM file is canned_server_trust_file(). */
#ifndef ESTKIT_TEST_CANNED_SERVER_H
#define ESTKIT_TEST_CANNED_SERVER_H

/* The raw HTTP response (status line, headers, body) for a request line
 * such as "GET /.well-known/est/cacerts HTTP/1.1"; *len its length. */
typedef const char *(*canned_answer_fn)(const char *request_line, size_t *len);

typedef struct canned_server canned_server;

canned_server *canned_server_start(canned_answer_fn answer);
void canned_server_stop(canned_server *s);
/* "https://127.0.0.1:PORT" */
const char *canned_server_url(const canned_server *s);
const char *canned_server_trust_file(const canned_server *s);

#endif
