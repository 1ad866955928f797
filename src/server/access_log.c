/* The access log: one line per answered EST request, to stderr (journald
 * under systemd) or syslog, as text or JSON (log_format, log_target; both
 * follow a reload). Fields: RFC 3339 time (UTC, milliseconds), client
 * address, method and path, status, body bytes, latency in ms, TLS
 * version, CA label, operation, authenticated identity. Never a secret:
 * no header value, no body; the request-target of an EST request carries
 * none (RFC 7030 §3.2.2) and is cut at ACCESS_URI_MAX. The same call
 * feeds the request metrics. */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include "access_log.h"
#include "metrics.h"

#define ACCESS_URI_MAX 200
#define ACCESS_LINE_MAX 1024

typedef struct access_entry {
    char time[32];
    const char *client, *method, *tls, *label, *operation, *who;
    char uri[ACCESS_URI_MAX + 1];
    int status;
    size_t bytes;
    double ms;
} access_entry;

static void rfc3339_now(char out[32])
{
    struct timespec now;
    struct tm tm;
    char base[24];

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03ldZ", base, now.tv_nsec / 1000000);
}

/* JSON string body (RFC 8259 §7): quote, backslash and controls escaped. */
static size_t json_escape(char *out, size_t cap, const char *in)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\')
            n += (size_t)snprintf(out + n, cap - n, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        else
            out[n++] = (char)*p;
    }
    out[n] = '\0';
    return n;
}

static void format_json(char *line, size_t cap, const access_entry *e)
{
    char client[80], uri[ACCESS_URI_MAX * 6 + 1], who[128 * 6 + 1], label[80];

    json_escape(client, sizeof client, e->client);
    json_escape(uri, sizeof uri, e->uri);
    json_escape(who, sizeof who, e->who);
    json_escape(label, sizeof label, e->label);
    snprintf(line, cap,
             "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
             "\"status\":%d,\"bytes\":%zu,\"latency_ms\":%.3f,\"tls\":\"%s\",\"label\":\"%s\","
             "\"operation\":\"%s\",\"identity\":\"%s\"}",
             e->time, client, e->method, uri, e->status, e->bytes, e->ms, e->tls, label,
             e->operation, who);
}

/* Text: the fields an operator greps first come first; identity last, as
 * it may contain spaces. Non-printable bytes in the path become '?'. */
static void format_text(char *line, size_t cap, access_entry *e)
{
    for (char *p = e->uri; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
    snprintf(line, cap, "%s %s \"%s %s\" %d %zu %.1fms %s label=%s op=%s who=%s", e->time,
             e->client, e->method, e->uri, e->status, e->bytes, e->ms, e->tls,
             e->label[0] ? e->label : "\"\"", e->operation, e->who[0] ? e->who : "-");
}

void estd_access_log(estd_server *srv, const estd_request *req, const char *uri,
                     const estd_response *resp, size_t bytes)
{
    const estd_ops_config *ops = &srv->inst->cfg.ops;
    access_entry e = {.client = req->peer, .method = req->method, .who = resp->who,
                      .status = resp->status, .bytes = bytes};
    est_route route;
    struct timespec now;
    char line[ACCESS_LINE_MAX];
    int routed = uri != NULL && est_route_parse(uri, &route, NULL) == EST_OK;

    clock_gettime(CLOCK_MONOTONIC, &now);
    e.ms = (double)(now.tv_sec - req->started.tv_sec) * 1e3 +
           (double)(now.tv_nsec - req->started.tv_nsec) / 1e6;
    rfc3339_now(e.time);
    snprintf(e.uri, sizeof e.uri, "%s", uri != NULL ? uri : "-");
    e.tls = req->tls_version != NULL ? req->tls_version : "-";
    e.operation = routed ? est_operation_path(route.op, EST_DIALECT_RFC7030) : "-";
    e.label = routed ? route.label : "-";
    estd_metrics_request(srv->inst->metrics, e.operation, req->ca ? req->ca->cfg->label : "-",
                         resp->status, e.ms / 1e3);
    if (ops->log_format == ESTD_LOG_JSON)
        format_json(line, sizeof line, &e);
    else
        format_text(line, sizeof line, &e);
    if (ops->log_target == ESTD_LOG_SYSLOG)
        syslog(LOG_INFO, "access: %s", line);
    else
        fprintf(stderr, "estd: access: %s\n", line);
}
