/* See canned_server.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include "ca_fixture.h"
#include "canned_server.h"
#include "estkit/csr.h"
#include "estkit/name.h"
#include "estkit/issue.h"

#define CANNED_REQUEST_MAX 65536

struct canned_server {
    canned_answer_fn answer;
    int fd;
    volatile int stop;
    pthread_t thread;
    SSL_CTX *ctx;
    char url[64];
    char trust[64];
};

static X509 *server_cert(est_ca *ca, EVP_PKEY *key)
{
    const char *names[1] = {"127.0.0.1"};
    X509_NAME *subject = NULL;
    est_profile profile;
    X509 *cert = NULL;

    est_profile_default(&profile);
    snprintf(profile.extended_key_usage, sizeof profile.extended_key_usage, "serverAuth");
    if (est_name_parse("CN=canned", &subject, NULL) == EST_OK)
        est_ca_issue_for_key(ca, key, subject, names, 1, &profile, &cert, NULL);
    X509_NAME_free(subject);
    return cert;
}

/* Reads the head and a Content-Length body, then answers. */
static void serve_one(canned_server *s, SSL *ssl)
{
    char buf[CANNED_REQUEST_MAX + 1];
    size_t got = 0, want = 0, len = 0;
    const char *end = NULL, *cl, *reply;

    while (got < CANNED_REQUEST_MAX) {
        int n = SSL_read(ssl, buf + got, (int)(CANNED_REQUEST_MAX - got));
        if (n <= 0)
            return;
        got += (size_t)n;
        buf[got] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            cl = strcasestr(buf, "\r\nContent-Length:");
            want = (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (end != NULL && got >= want)
            break;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    reply = s->answer(buf, &len);
    SSL_write(ssl, reply, (int)len);
    SSL_shutdown(ssl);
}

static void *serve(void *arg)
{
    canned_server *s = arg;

    while (!s->stop) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int c;
        SSL *ssl;

        if (poll(&p, 1, 50) <= 0)
            continue;
        if ((c = accept(s->fd, NULL, NULL)) < 0)
            continue;
        ssl = SSL_new(s->ctx);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) == 1)
            serve_one(s, ssl);
        SSL_free(ssl);
        close(c);
    }
    return NULL;
}

canned_server *canned_server_start(canned_answer_fn answer)
{
    canned_server *s = calloc(1, sizeof *s);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof sa;
    EVP_PKEY *ca_key = NULL, *key = ca_fixture_key(EST_KEY_EC_P256);
    X509 *root = NULL, *cert;
    est_ca *ca = ca_fixture_root_ca(EST_KEY_EC_P256, "CN=Canned CA", 30, &root, &ca_key);
    FILE *f;
    int tfd;

    s->answer = answer;
    cert = server_cert(ca, key);
    snprintf(s->trust, sizeof s->trust, "/tmp/canned-trust-XXXXXX");
    tfd = mkstemp(s->trust);
    f = fdopen(tfd, "w");
    PEM_write_X509(f, root);
    fclose(f);
    s->ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(s->ctx, cert);
    SSL_CTX_use_PrivateKey(s->ctx, key);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(s->fd, (struct sockaddr *)&sa, sizeof sa);
    listen(s->fd, 16);
    getsockname(s->fd, (struct sockaddr *)&sa, &sl);
    snprintf(s->url, sizeof s->url, "https://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    pthread_create(&s->thread, NULL, serve, s);
    X509_free(cert);
    X509_free(root);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    est_ca_free(ca);
    return s;
}

void canned_server_stop(canned_server *s)
{
    if (s == NULL)
        return;
    s->stop = 1;
    pthread_join(s->thread, NULL);
    close(s->fd);
    unlink(s->trust);
    SSL_CTX_free(s->ctx);
    free(s);
}

const char *canned_server_url(const canned_server *s)
{
    return s->url;
}

const char *canned_server_trust_file(const canned_server *s)
{
    return s->trust;
}
