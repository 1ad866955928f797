/* HTTP for the client: one libcurl easy handle per est_client (so its
 * connection is reused, which proof-of-possession linking needs), bounded
 * response capture, and one-line errors for every way a request can fail. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "client_internal.h"
#include "estkit/route.h"

#define CONNECT_TIMEOUT_MAX 30L /* seconds; a request may take longer than a connect */
#define RETRY_AFTER_MAX 86400u  /* a day: a longer Retry-After is an error in the server */
#define USER_AGENT "estkit-est/0.1"

void http_response_reset(est_http_response *resp)
{
    resp->status = 0;
    resp->content_type[0] = '\0';
    resp->retry_after[0] = '\0';
    resp->len = 0;
    resp->too_large = 0;
}

void http_response_free(est_http_response *resp)
{
    if (resp == NULL)
        return;
    /* Bodies may hold a server-generated private key. */
    if (resp->body != NULL)
        OPENSSL_clear_free(resp->body, resp->cap);
    memset(resp, 0, sizeof *resp);
}

int http_response_append(est_http_response *resp, const void *data, size_t n)
{
    size_t cap;
    uint8_t *grown;

    if (n > EST_CLIENT_RESPONSE_MAX - resp->len) {
        resp->too_large = 1;
        return 0;
    }
    if (resp->len + n > resp->cap) {
        cap = resp->cap ? resp->cap : 4096;
        while (cap < resp->len + n)
            cap *= 2;
        if (cap > EST_CLIENT_RESPONSE_MAX)
            cap = EST_CLIENT_RESPONSE_MAX;
        grown = OPENSSL_malloc(cap);
        if (grown == NULL)
            return 0;
        if (resp->body != NULL) {
            memcpy(grown, resp->body, resp->len);
            OPENSSL_clear_free(resp->body, resp->cap);
        }
        resp->body = grown;
        resp->cap = cap;
    }
    memcpy(resp->body + resp->len, data, n);
    resp->len += n;
    return 1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    size_t n = size * nmemb;

    /* Returning less than n aborts the transfer with CURLE_WRITE_ERROR. */
    return http_response_append(arg, data, n) ? n : 0;
}

/* Copies a header's value (trimmed) when line is "name: value". */
static int header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name), end;

    if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
        return 0;
    line += nlen + 1;
    len -= nlen + 1;
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    end = len;
    while (end > 0 && isspace((unsigned char)line[end - 1]))
        end--;
    if (end >= cap)
        end = cap - 1;
    memcpy(out, line, end);
    out[end] = '\0';
    return 1;
}

void http_response_header(est_http_response *resp, const char *line, size_t n)
{
    /* A new status line (after a 401 or 100) starts a new header block. */
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        resp->content_type[0] = '\0';
        resp->retry_after[0] = '\0';
    }
    if (!header_value(line, n, "Content-Type", resp->content_type, sizeof resp->content_type))
        header_value(line, n, "Retry-After", resp->retry_after, sizeof resp->retry_after);
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
    http_response_header(arg, line, size * nmemb);
    return size * nmemb;
}

/* Options every handle shares. Peer verification is ours (client_tls.c). */
static int base_options(est_client *client, CURL *curl)
{
    long timeout = client->timeout_seconds;
    long connect_timeout = timeout < CONNECT_TIMEOUT_MAX ? timeout : CONNECT_TIMEOUT_MAX;
    /* TLS 1.2 at least: draft-04 §3.3 asks 1.1, which is long deprecated. */
    long version = CURL_SSLVERSION_TLSv1_2 |
                   (client->tls_max_version == 12 || client->srp ? CURL_SSLVERSION_MAX_TLSv1_2
                    : client->tls_max_version == 13 ? CURL_SSLVERSION_MAX_TLSv1_3
                                                    : CURL_SSLVERSION_MAX_DEFAULT);

    return curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_SSLVERSION, version) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK &&
           /* A resumed session skips the certificate check, and a session
            * of the bootstrap connection must never stand in for one. */
           curl_easy_setopt(curl, CURLOPT_SSL_SESSIONID_CACHE, 0L) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, connect_timeout) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_USERAGENT, USER_AGENT) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
}

static int credential_options(est_client *client, CURL *curl)
{
    static const long schemes[] = {
        [EST_HTTP_AUTH_ANY] = CURLAUTH_BASIC | CURLAUTH_DIGEST,
        [EST_HTTP_AUTH_BASIC] = CURLAUTH_BASIC,
        [EST_HTTP_AUTH_DIGEST] = CURLAUTH_DIGEST,
    };
    int ok = 1;

    /* RFC 5054: TLS 1.2 SRP suites (libcurl asks OpenSSL for them). */
    if (client->srp)
        ok = curl_easy_setopt(curl, CURLOPT_TLSAUTH_TYPE, "SRP") == CURLE_OK &&
             curl_easy_setopt(curl, CURLOPT_TLSAUTH_USERNAME, client->username) == CURLE_OK &&
             curl_easy_setopt(curl, CURLOPT_TLSAUTH_PASSWORD, client->password) == CURLE_OK;
    else if (client->password != NULL)
        ok = curl_easy_setopt(curl, CURLOPT_USERNAME,
                              client->username ? client->username : "") == CURLE_OK &&
             curl_easy_setopt(curl, CURLOPT_PASSWORD, client->password) == CURLE_OK &&
             curl_easy_setopt(curl, CURLOPT_HTTPAUTH, schemes[client->http_auth]) == CURLE_OK;
    if (ok && client->tls_cert_file != NULL)
        ok = curl_easy_setopt(curl, CURLOPT_SSLCERT, client->tls_cert_file) == CURLE_OK &&
             curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK &&
             curl_easy_setopt(curl, CURLOPT_SSLKEY, client->tls_key_file) == CURLE_OK &&
             curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK;
    return ok;
}

CURL *client_curl_new(est_client *client, int authenticated)
{
    CURL *curl = curl_easy_init();

    if (curl == NULL || !base_options(client, curl))
        goto fail;
    /* Bootstrap (draft-04 §4.1.1): no verification, and "HTTP
     * authentication requests MUST NOT be responded to": no credentials. */
    if (!authenticated)
        return curl;
    if (curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, client_ssl_ctx_cb) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, client) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, client_prereq_cb) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PREREQDATA, client) != CURLE_OK ||
        !credential_options(client, curl))
        goto fail;
    return curl;
fail:
    curl_easy_cleanup(curl);
    return NULL;
}

est_status client_handle(est_client *client, CURL **out, est_error *err)
{
    /* draft-04 §4.1.1: "MUST NOT engage in any other protocol exchange"
     * before a trust anchor is in place. */
    if (!est_client_is_trusted(client))
        return est_error_set(err, EST_E_CONFIG, "no trust anchor configured: fetch /cacerts "
                                                "with a bootstrap first");
    if (client->curl == NULL && (client->curl = client_curl_new(client, 1)) == NULL)
        return est_error_set(err, EST_E_NOMEM, "cannot set up libcurl (needs its OpenSSL build)");
    *out = client->curl;
    return EST_OK;
}

static est_status transport_error(est_client *client, CURL *curl, CURLcode res,
                                  const est_http_response *resp, const char *detail,
                                  est_error *err)
{
    const char *srv = client->server;
    long os_errno = 0;

    if (client->tls_failure[0] != '\0')
        return est_error_set(err, EST_E_TLS, "%s: %s", srv, client->tls_failure);
    if (client->binding_mismatch)
        return est_error_set(err, EST_E_TLS, "%s: the connection changed after the channel "
                                             "binding was taken", srv);
    if (resp->too_large)
        return est_error_set(err, EST_E_TOO_LARGE, "%s: response larger than %zu bytes", srv,
                             (size_t)EST_CLIENT_RESPONSE_MAX);
    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    switch (res) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return est_error_set(err, EST_E_IO, "%s: cannot resolve host %s", srv, client->host);
    case CURLE_COULDNT_CONNECT:
        return est_error_set(err, EST_E_IO, "%s: cannot connect: %s", srv,
                             os_errno ? strerror((int)os_errno) : detail);
    case CURLE_OPERATION_TIMEDOUT:
        return est_error_set(err, EST_E_IO, "%s: timed out after %ld s", srv,
                             client->timeout_seconds);
    case CURLE_SSL_CERTPROBLEM:
        return est_error_set(err, EST_E_CONFIG, "%s: TLS client certificate: %s", srv, detail);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CIPHER:
        return est_error_set(err, EST_E_TLS, "%s: TLS handshake failed: %s", srv, detail);
    default:
        return est_error_set(err, EST_E_IO, "%s: %s", srv, detail);
    }
}

static est_status perform(est_client *client, CURL *curl, est_http_response *resp,
                          est_error *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode res;

    client->tls_failure[0] = '\0';
    client->binding_mismatch = 0;
    http_response_reset(resp);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
    res = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    if (res != CURLE_OK)
        return transport_error(client, curl, res, resp,
                               errbuf[0] ? errbuf : curl_easy_strerror(res), err);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    client->last_status = resp->status;
    return EST_OK;
}

est_status client_http(est_client *client, CURL *curl, est_operation op,
                       const char *content_type, const uint8_t *body, size_t body_len,
                       est_http_response *resp, est_error *err)
{
    struct curl_slist *headers = NULL, *more;
    char *url = NULL, *type = NULL;
    est_status rc = EST_E_NOMEM;

    if (asprintf(&url, "%s/%s", client->base_url, est_operation_path(op, client->dialect)) < 0) {
        url = NULL;
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (content_type != NULL) {
        if (asprintf(&type, "Content-Type: %s", content_type) < 0) {
            type = NULL;
            est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
        /* RFC 7030 §4.2.1 names the encoding; draft-04 bodies are PEM. */
        headers = curl_slist_append(NULL, type);
        more = headers ? curl_slist_append(headers, "Expect:") : NULL;
        if (more != NULL && client->dialect == EST_DIALECT_RFC7030)
            more = curl_slist_append(headers, "Content-Transfer-Encoding: base64");
        if (more == NULL) {
            est_error_set(err, EST_E_NOMEM, "out of memory");
            goto out;
        }
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    rc = perform(client, curl, resp, err);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
out:
    curl_slist_free_all(headers);
    free(type);
    free(url);
    return rc;
}

/* The first line of a plain-text body, printable and bounded: what the
 * server said, fit for a one-line message. */
void client_server_text(const est_http_response *resp, char *out, size_t cap)
{
    size_t n = 0;

    out[0] = '\0';
    if (resp->body == NULL || (resp->content_type[0] != '\0' &&
                               strncasecmp(resp->content_type, "text/", 5) != 0))
        return;
    for (size_t i = 0; i < resp->len && n + 1 < cap; i++) {
        unsigned char ch = resp->body[i];
        if (ch == '\r' || ch == '\n') {
            if (n > 0)
                break;
            continue;
        }
        out[n++] = isprint(ch) ? (char)ch : '?';
    }
    out[n] = '\0';
}

est_status client_status_error(est_client *client, est_operation op,
                               const est_http_response *resp, est_error *err)
{
    char text[EST_CLIENT_SERVER_TEXT_MAX + 1];
    const char *srv = client->server, *sep;
    long s = resp->status;

    if (s == 200)
        return EST_OK;
    client_server_text(resp, text, sizeof text);
    if (text[0] == '\0' && s < 400 && s != 202)
        snprintf(text, sizeof text, "unexpected status");
    sep = text[0] ? ": " : "";
    if (s == 202)
        return est_error_set(err, EST_E_RETRY_LATER, "%s: request pending (HTTP 202)%s%s", srv,
                             sep, text);
    if (s == 401)
        return est_error_set(err, EST_E_AUTH, "%s: HTTP 401: authentication required or "
                                              "refused%s%s", srv, sep, text);
    if (s == 403)
        return est_error_set(err, EST_E_POLICY, "%s: HTTP 403%s%s", srv, sep, text);
    if (s == 404 || s == 501)
        return est_error_set(err, EST_E_UNSUPPORTED, "%s: HTTP %ld: /%s not offered%s%s", srv,
                             s, est_operation_path(op, client->dialect), sep, text);
    return est_error_set(err, EST_E_PROTOCOL, "%s: HTTP %ld%s%s", srv, s, sep, text);
}

est_status client_check_type(est_client *client, const est_http_response *resp,
                             const char *essence, est_error *err)
{
    est_media_type *mt = NULL;
    est_status rc;

    if (resp->content_type[0] == '\0')
        return EST_OK;
    rc = est_media_type_parse(resp->content_type, &mt, err);
    if (rc == EST_OK && !est_media_type_is(mt, essence))
        rc = est_error_set(err, EST_E_PROTOCOL, "%s: Content-Type %s, expected %s",
                           client->server, est_media_type_get0_essence(mt), essence);
    else if (rc != EST_OK)
        rc = est_error_prefix(err, rc, "%s: Content-Type", client->server);
    est_media_type_free(mt);
    return rc;
}

unsigned client_retry_after_parse(const char *value)
{
    char *end = NULL;
    unsigned long n;
    time_t when, now;

    if (value == NULL || value[0] == '\0')
        return EST_CLIENT_RETRY_AFTER_DEFAULT;
    if (isdigit((unsigned char)value[0])) {
        errno = 0;
        n = strtoul(value, &end, 10);
        if (*end != '\0')
            return EST_CLIENT_RETRY_AFTER_DEFAULT;
        if (errno == ERANGE || n > RETRY_AFTER_MAX)
            return RETRY_AFTER_MAX;
        return n < EST_CLIENT_RETRY_AFTER_MIN ? EST_CLIENT_RETRY_AFTER_MIN : (unsigned)n;
    }
    /* RFC 9110 §10.2.3: or an HTTP-date. */
    when = curl_getdate(value, NULL);
    if (when == -1)
        return EST_CLIENT_RETRY_AFTER_DEFAULT;
    now = time(NULL);
    if (when <= now)
        return EST_CLIENT_RETRY_AFTER_MIN;
    return when - now > (time_t)RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (unsigned)(when - now);
}
