/* The EST server URL (docs/design.md §5): "https://host[:port]" or
 * "https://host[:port]/.well-known/est[/label]", optionally with a label
 * given apart. Parsed with libcurl's URL API, not by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "client_internal.h"
#include "estkit/route.h"

typedef struct url_parts {
    char *scheme, *user, *password, *host, *port, *path, *query, *fragment;
} url_parts;

static void url_parts_free(url_parts *u)
{
    curl_free(u->scheme);
    curl_free(u->user);
    curl_free(u->password);
    curl_free(u->host);
    curl_free(u->port);
    curl_free(u->path);
    curl_free(u->query);
    curl_free(u->fragment);
}

static est_status url_split(const char *url, url_parts *u, est_error *err)
{
    CURLU *h = curl_url();
    est_status rc = EST_E_INPUT;

    if (h == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        est_error_set(err, EST_E_INPUT, "%s: not a URL", url);
        goto out;
    }
    /* Absent parts leave NULL and an error code that is no error here. */
    curl_url_get(h, CURLUPART_SCHEME, &u->scheme, 0);
    curl_url_get(h, CURLUPART_USER, &u->user, 0);
    curl_url_get(h, CURLUPART_PASSWORD, &u->password, 0);
    curl_url_get(h, CURLUPART_HOST, &u->host, 0);
    curl_url_get(h, CURLUPART_PORT, &u->port, CURLU_DEFAULT_PORT);
    curl_url_get(h, CURLUPART_PATH, &u->path, 0);
    curl_url_get(h, CURLUPART_QUERY, &u->query, 0);
    curl_url_get(h, CURLUPART_FRAGMENT, &u->fragment, 0);
    rc = EST_OK;
out:
    curl_url_cleanup(h);
    return rc;
}

/* The label in the URL path: "" for no label. Returns a pointer into path
 * (NUL-terminated by the caller's copy) or NULL for a path that is not EST. */
static const char *path_label(char *path)
{
    static const char prefix[] = EST_PATH_PREFIX;
    size_t len = strlen(path);
    char *p;

    while (len > 0 && path[len - 1] == '/')
        path[--len] = '\0';
    if (len == 0)
        return "";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return NULL;
    p = path + sizeof prefix - 1;
    if (*p == '\0')
        return "";
    if (*p != '/' || strchr(p + 1, '/') != NULL)
        return NULL;
    return p + 1;
}

static est_status check_parts(const char *url, const url_parts *u, est_error *err)
{
    if (u->scheme == NULL || strcmp(u->scheme, "https") != 0)
        return est_error_set(err, EST_E_INPUT, "%s: the URL must start with https:// "
                                               "(draft-04 §3.3: HTTPS MUST be used)", url);
    /* Credentials never travel on a command line or in a URL. */
    if (u->user != NULL || u->password != NULL)
        return est_error_set(err, EST_E_INPUT, "%s: no user or password in the URL", url);
    if (u->query != NULL || u->fragment != NULL)
        return est_error_set(err, EST_E_INPUT, "%s: no query or fragment in an EST URL", url);
    if (u->host == NULL || u->host[0] == '\0' || u->port == NULL)
        return est_error_set(err, EST_E_INPUT, "%s: no host", url);
    return EST_OK;
}

/* Chooses the label: the URL's and the separate one must agree. */
static est_status pick_label(const char *url, const char *in_url, const char *given,
                             const char **label, est_error *err)
{
    est_status rc;

    *label = in_url;
    if (given != NULL && given[0] != '\0') {
        if (in_url[0] != '\0' && strcmp(in_url, given) != 0)
            return est_error_set(err, EST_E_INPUT, "%s: label \"%s\" differs from --label %s",
                                 url, in_url, given);
        *label = given;
    }
    if ((*label)[0] != '\0' && (rc = est_label_check(*label, err)) != EST_OK)
        return est_error_prefix(err, rc, "%s", url);
    return EST_OK;
}

est_status client_url_parse(const char *url, const char *label, char **host, char **server,
                            char **base_url, est_error *err)
{
    url_parts u = {0};
    const char *in_url, *chosen;
    char *bare = NULL, *srv = NULL, *base = NULL;
    size_t hlen;
    est_status rc;

    if (url == NULL || url[0] == '\0')
        return est_error_set(err, EST_E_INPUT, "no server URL");
    if (strlen(url) > EST_CLIENT_URL_MAX)
        return est_error_set(err, EST_E_TOO_LARGE, "server URL longer than %d characters",
                             EST_CLIENT_URL_MAX);
    if ((rc = url_split(url, &u, err)) != EST_OK || (rc = check_parts(url, &u, err)) != EST_OK)
        goto out;
    rc = EST_E_INPUT;
    in_url = u.path ? path_label(u.path) : "";
    if (in_url == NULL) {
        est_error_set(err, EST_E_INPUT, "%s: the path must be /.well-known/est[/label]", url);
        goto out;
    }
    if ((rc = pick_label(url, in_url, label, &chosen, err)) != EST_OK)
        goto out;
    rc = EST_E_NOMEM;
    /* curl keeps IPv6 literals in brackets; the name check wants them bare. */
    hlen = strlen(u.host);
    bare = u.host[0] == '[' && hlen > 2 ? strndup(u.host + 1, hlen - 2) : strdup(u.host);
    if (bare == NULL || asprintf(&srv, "%s:%s", u.host, u.port) < 0)
        srv = NULL;
    else if (asprintf(&base, "https://%s:%s%s%s%s", u.host, u.port, EST_PATH_PREFIX,
                      chosen[0] ? "/" : "", chosen) < 0)
        base = NULL;
    if (base == NULL) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    *host = bare;
    *server = srv;
    *base_url = base;
    bare = srv = base = NULL;
    rc = EST_OK;
out:
    free(bare);
    free(srv);
    free(base);
    url_parts_free(&u);
    return rc;
}
