/* estd: the RA's blocking HTTPS client toward its upstream EST server (see
 * upstream_http.h). One TCP+TLS connection per exchange: an RA forwards
 * few requests compared with what it serves, and a fresh connection never
 * carries one device's state into another's. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/http.h>
#include <openssl/x509v3.h>
#include "issuer.h"
#include "upstream_http.h"

/* A password file holds one line; longer is a mistake. */
#define UPSTREAM_PASSWORD_MAX 256

struct estd_upstream_http {
    SSL_CTX *ssl_ctx;             /* NULL for plain http (tests, a CMP-less lab) */
    char host[256];
    char port[8];
    char path[512];               /* without a trailing '/' */
    char url[1024];
    char *authorization;          /* "Basic ..." or NULL; cleansed on free */
    unsigned timeout_seconds;
    size_t max_response;
};

static est_status basic_credentials(estd_upstream_http *up, const estd_upstream_config *cfg,
                                    est_error *err)
{
    uint8_t *secret = NULL;
    size_t secret_len = 0, pair_len, cap;
    char *pair = NULL;
    est_status rc;

    if (cfg->user[0] == '\0')
        return EST_OK;
    if ((rc = estd_secret_read(cfg->password_file, UPSTREAM_PASSWORD_MAX,
                               "upstream_password_file", &secret, &secret_len, err)) != EST_OK)
        return rc;
    pair_len = strlen(cfg->user) + 1 + secret_len;
    cap = 6 + 4 * ((pair_len + 2) / 3) + 1;
    rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    if ((pair = malloc(pair_len + 1)) == NULL || (up->authorization = malloc(cap)) == NULL)
        goto out;
    snprintf(pair, pair_len + 1, "%s:%.*s", cfg->user, (int)secret_len, (const char *)secret);
    memcpy(up->authorization, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)up->authorization + 6, (const unsigned char *)pair,
                    (int)pair_len);
    rc = EST_OK;
out:
    if (pair != NULL) {
        OPENSSL_cleanse(pair, pair_len + 1);
        free(pair);
    }
    if (secret != NULL)
        OPENSSL_clear_free(secret, secret_len);
    return rc;
}

static est_status tls_context(estd_upstream_http *up, const estd_upstream_config *cfg,
                              est_error *err)
{
    up->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (up->ssl_ctx == NULL || !SSL_CTX_set_min_proto_version(up->ssl_ctx, TLS1_2_VERSION))
        return est_error_set_openssl(err, EST_E_NOMEM, "upstream TLS context");
    SSL_CTX_set_verify(up->ssl_ctx, SSL_VERIFY_PEER, NULL);
    if (!SSL_CTX_load_verify_locations(up->ssl_ctx, cfg->trust, NULL))
        return est_error_set_openssl(err, EST_E_CONFIG, "upstream_trust %s", cfg->trust);
    if (cfg->cert[0] != '\0' &&
        (!SSL_CTX_use_certificate_chain_file(up->ssl_ctx, cfg->cert) ||
         !SSL_CTX_use_PrivateKey_file(up->ssl_ctx, cfg->key, SSL_FILETYPE_PEM) ||
         !SSL_CTX_check_private_key(up->ssl_ctx)))
        return est_error_set_openssl(err, EST_E_CONFIG, "upstream_cert %s / upstream_key %s",
                                     cfg->cert, cfg->key);
    return EST_OK;
}

est_status estd_upstream_http_new(const estd_upstream_config *cfg, estd_upstream_http **out,
                                  est_error *err)
{
    estd_upstream_http *up = calloc(1, sizeof *up);
    char *host = NULL, *port = NULL, *path = NULL;
    int tls = 0;
    est_status rc = est_error_set(err, EST_E_NOMEM, "out of memory");

    if (up == NULL)
        return rc;
    if (!OSSL_HTTP_parse_url(cfg->url, &tls, NULL, &host, &port, NULL, &path, NULL, NULL) ||
        strlen(host) >= sizeof up->host || strlen(port) >= sizeof up->port ||
        strlen(path) >= sizeof up->path) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "upstream_url '%s' is not a usable URL",
                                   cfg->url);
        goto out;
    }
    snprintf(up->host, sizeof up->host, "%s", host);
    snprintf(up->port, sizeof up->port, "%s", port);
    snprintf(up->path, sizeof up->path, "%s", path);
    if (up->path[0] != '\0' && up->path[strlen(up->path) - 1] == '/')
        up->path[strlen(up->path) - 1] = '\0';
    snprintf(up->url, sizeof up->url, "%s://%s:%s%s", tls ? "https" : "http", up->host,
             up->port, up->path);
    up->timeout_seconds = cfg->timeout_seconds;
    up->max_response = cfg->max_response_bytes;
    /* draft-04 §3.3: EST runs over TLS; plain http only for a CMP lab. */
    if (!tls) {
        rc = est_error_set(err, EST_E_CONFIG, "upstream_url must be https:// for issuer = est");
        goto out;
    }
    if ((rc = tls_context(up, cfg, err)) != EST_OK || (rc = basic_credentials(up, cfg, err)) != EST_OK)
        goto out;
    *out = up;
    up = NULL;
    rc = EST_OK;
out:
    OPENSSL_free(host);
    OPENSSL_free(port);
    OPENSSL_free(path);
    estd_upstream_http_free(up);
    return rc;
}

void estd_upstream_http_free(estd_upstream_http *up)
{
    if (up == NULL)
        return;
    SSL_CTX_free(up->ssl_ctx);
    if (up->authorization != NULL)
        OPENSSL_cleanse(up->authorization, strlen(up->authorization));
    free(up->authorization);
    free(up);
}

const char *estd_upstream_http_get0_url(const estd_upstream_http *up)
{
    return up->url;
}

/* A connected socket within the time left, or -1 (err set). */
static int tcp_connect(const estd_upstream_http *up, est_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    struct timeval tv = {.tv_sec = (time_t)up->timeout_seconds};
    int fd = -1, gai, one = 1;

    if ((gai = getaddrinfo(up->host, up->port, &hints, &res)) != 0) {
        est_error_set(err, EST_E_IO, "upstream %s: %s", up->host, gai_strerror(gai));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        struct pollfd pfd;
        int soerr = 0;
        socklen_t sl = sizeof soerr;

        int r;

        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
            continue;
        if ((r = connect(fd, ai->ai_addr, ai->ai_addrlen)) != 0 && errno == EINPROGRESS) {
            pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, (int)up->timeout_seconds * 1000) != 1 ||
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
                errno = soerr ? soerr : ETIMEDOUT;
                close(fd);
                fd = -1;
            }
        } else if (r != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        est_error_set(err, EST_E_IO, "upstream %s:%s unreachable: %s", up->host, up->port,
                      strerror(errno));
        return -1;
    }
    /* Blocking from here on, every read and write bounded by the timeout. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static SSL *tls_connect(const estd_upstream_http *up, int fd, est_error *err)
{
    SSL *ssl = SSL_new(up->ssl_ctx);
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, up->host, addr) == 1 || inet_pton(AF_INET6, up->host, addr) == 1;

    ERR_clear_error();
    if (ssl == NULL || !SSL_set_fd(ssl, fd) ||
        (is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), up->host)
               : (!SSL_set_tlsext_host_name(ssl, up->host) || !SSL_set1_host(ssl, up->host)))) {
        est_error_set_openssl(err, EST_E_NOMEM, "upstream TLS");
        SSL_free(ssl);
        return NULL;
    }
    if (SSL_connect(ssl) != 1) {
        long v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK)
            est_error_set(err, EST_E_TLS, "upstream %s: TLS: %s", up->url,
                          X509_verify_cert_error_string(v));
        else
            est_error_set_openssl(err, EST_E_IO, "upstream %s: TLS handshake failed", up->url);
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static est_status send_request(const estd_upstream_http *up, SSL *ssl, const char *method,
                               const char *op, const char *content_type, const uint8_t *body,
                               size_t body_len, est_error *err)
{
    char head[2048], *message = NULL;
    int n = snprintf(head, sizeof head,
                     "%s %s/%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: estd-ra\r\n"
                     "Connection: close\r\n%s%s%s%s%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, up->path, op, up->host, up->port,
                     content_type ? "Content-Type: " : "", content_type ? content_type : "",
                     content_type ? "\r\nContent-Transfer-Encoding: base64\r\n" : "",
                     up->authorization ? "Authorization: " : "",
                     up->authorization ? up->authorization : "", up->authorization ? "\r\n" : "",
                     body_len);
    est_status rc = EST_OK;

    /* One write, so head and body leave in one TLS record: two small
     * writes meet Nagle and the peer's delayed ACK (40 ms a request). */
    if (n < 0 || (size_t)n >= sizeof head || body_len > INT_MAX - (size_t)n) {
        rc = est_error_set(err, EST_E_INTERNAL, "upstream request too long");
    } else if ((message = malloc((size_t)n + body_len)) == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
    } else {
        memcpy(message, head, (size_t)n);
        if (body_len > 0)
            memcpy(message + n, body, body_len);
        if (SSL_write(ssl, message, n + (int)body_len) != n + (int)body_len)
            rc = est_error_set_openssl(err, EST_E_IO, "upstream %s: sending the request failed",
                                       up->url);
        OPENSSL_cleanse(message, (size_t)n); /* the head may hold Basic credentials */
    }
    free(message);
    OPENSSL_cleanse(head, sizeof head);
    return rc;
}

/* Reads to the close, at most head + body limit (+1 to notice "more"). */
static est_status read_all(const estd_upstream_http *up, SSL *ssl, time_t deadline,
                           uint8_t **out, size_t *out_len, est_error *err)
{
    size_t cap = ESTD_HTTP_HEAD_MAX + up->max_response + 1, len = 0;
    uint8_t *buf = malloc(cap);

    if (buf == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    for (;;) {
        int n;
        if (time(NULL) > deadline) {
            free(buf);
            return est_error_set(err, EST_E_IO, "upstream %s: no answer within %u s", up->url,
                                 up->timeout_seconds);
        }
        if (len == cap) {
            free(buf);
            return est_error_set(err, EST_E_TOO_LARGE, "upstream answer is over the %zu-byte "
                                                       "limit", up->max_response);
        }
        n = SSL_read(ssl, buf + len, (int)(cap - len > 65536 ? 65536 : cap - len));
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN ||
            (SSL_get_error(ssl, n) == SSL_ERROR_SYSCALL && errno == 0) || len > 0)
            break; /* the close ends the answer; the parser finds truncation */
        free(buf);
        return est_error_set(err, EST_E_IO, "upstream %s: no answer (%s)", up->url,
                             errno == EAGAIN ? "timeout" : "connection closed");
    }
    *out = buf;
    *out_len = len;
    return EST_OK;
}

est_status estd_upstream_http_exchange(const estd_upstream_http *up, const char *method,
                                       const char *op, const char *content_type,
                                       const uint8_t *body, size_t body_len,
                                       estd_http_response *out, est_error *err)
{
    time_t deadline = time(NULL) + (time_t)up->timeout_seconds;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    SSL *ssl = NULL;
    int fd;
    est_status rc;

    memset(out, 0, sizeof *out);
    if ((fd = tcp_connect(up, err)) < 0)
        return EST_E_IO;
    if ((ssl = tls_connect(up, fd, err)) == NULL) {
        rc = err ? err->code : EST_E_IO;
        goto out;
    }
    if ((rc = send_request(up, ssl, method, op, content_type, body, body_len, err)) != EST_OK ||
        (rc = read_all(up, ssl, deadline, &raw, &raw_len, err)) != EST_OK)
        goto out;
    rc = estd_http_response_parse(raw, raw_len, up->max_response, out, err);
    if (rc != EST_OK)
        est_error_prefix(err, rc, "%s/%s", up->url, op);
out:
    free(raw);
    if (ssl != NULL) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    close(fd);
    return rc;
}
