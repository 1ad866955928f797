/* estload: commands and options. See estload.h for the design. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include "estkit.h"
#include "estload.h"
#include "estkit/mem.h"

/* Longest password read from stdin. */
#define PASSWORD_LINE_MAX 1024

static const char usage_text[] =
    "usage: estload COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  run     drive N concurrent clients against an EST server and print ops/s and latency\n"
    "  csrs    pre-generate distinct CSRs into a file (one base64 DER per line)\n"
    "  issue   enroll --count client certificates with HTTP Basic and save them in --out\n"
    "  idle    open --connections TLS connections, hold them --duration s, print server RSS\n"
    "\n"
    "Target (run, issue, idle):\n"
    "  --server HOST:PORT      EST server (default 127.0.0.1:8443)\n"
    "  --trust FILE            CA certificate(s) that verify the server (required)\n"
    "  --label LABEL           CA label: /.well-known/est/LABEL/...\n"
    "  --group LIST            TLS key-exchange groups (default P-256)\n"
    "  --tls 1.2|1.3           pin the TLS version (default: negotiate)\n"
    "Load (run, idle):\n"
    "  --op cacerts|simpleenroll|simplereenroll   (default cacerts)\n"
    "  --auth none|cert|basic  client authentication (default none)\n"
    "  --user NAME --password-stdin   HTTP Basic credentials (issue; run --auth basic)\n"
    "  --certs DIR             client-N.crt/.key identities (--auth cert, simplereenroll)\n"
    "  --csrs FILE             CSRs for simpleenroll, from `estload csrs`\n"
    "  --fresh                 a new TCP+TLS connection per operation, no resumption\n"
    "  --resume                as --fresh, but each client resumes its last TLS session\n"
    "  -c, --connections N     concurrent clients (default 1)\n"
    "  -d, --duration S        measurement window in seconds (default 5)\n"
    "  -n, --count N           a fixed number of operations instead of a window\n"
    "  --pid PID               sample this server process's CPU time and RSS\n"
    "  --kv                    print one line of key=value pairs\n"
    "CSRs (csrs, issue):\n"
    "  --key-type ec-p256|rsa-2048   (default ec-p256)\n"
    "  --key-pool K            keys shared by the CSRs (default: one per CSR for EC, 16 for RSA)\n"
    "  --prefix TEXT           subject CN prefix (default estload)\n"
    "  -o, --out PATH          output file (csrs) or directory (issue)\n"
    "\n"
    "Exit status: 0 done (errors, if any, are counted in the output), 1 failure.\n";

typedef struct options {
    load_config cfg;
    const char *command;
    const char *key_type;
    const char *prefix;
    const char *out;
    const char *user;
    const char *csr_file;
    const char *certs_dir;
    size_t key_pool;
    int password_stdin, kv, key_pool_set;
} options;

static int parse_server(load_config *cfg, const char *text)
{
    const char *p = text, *colon;

    if (strncmp(p, "https://", 8) == 0)
        p += 8;
    if (*p == '[') { /* [::1]:8443 */
        const char *close = strchr(p, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        snprintf(cfg->host, sizeof cfg->host, "%.*s", (int)(close - p - 1), p + 1);
        snprintf(cfg->port, sizeof cfg->port, "%s", close + 2);
    } else if ((colon = strrchr(p, ':')) != NULL) {
        snprintf(cfg->host, sizeof cfg->host, "%.*s", (int)(colon - p), p);
        snprintf(cfg->port, sizeof cfg->port, "%.*s", (int)strcspn(colon + 1, "/"), colon + 1);
    } else {
        return -1;
    }
    return cfg->host[0] && cfg->port[0] ? 0 : -1;
}

static int parse_enum(const char *text, const char *const *names, int *out)
{
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static int parse_option(options *o, int ch, const char *arg)
{
    static const char *const ops[] = {"cacerts", "simpleenroll", "simplereenroll", NULL};
    static const char *const auths[] = {"none", "cert", "basic", NULL};
    load_config *cfg = &o->cfg;
    char *end = NULL;
    int v;

    switch (ch) {
    case 's': return parse_server(cfg, arg);
    case 't': cfg->trust_file = arg; return 0;
    case 'L': cfg->label = arg; return 0;
    case 'g': cfg->group = arg; return 0;
    case 'V': cfg->tls_version = arg; return strcmp(arg, "1.2") && strcmp(arg, "1.3") ? -1 : 0;
    case 'O': if (parse_enum(arg, ops, &v) != 0) return -1; cfg->op = (load_op)v; return 0;
    case 'A': if (parse_enum(arg, auths, &v) != 0) return -1; cfg->auth = (load_auth)v; return 0;
    case 'u': o->user = arg; return 0;
    case 'P': o->password_stdin = 1; return 0;
    case 'C': o->certs_dir = arg; return 0;
    case 'R': o->csr_file = arg; return 0;
    case 'f': cfg->fresh = 1; return 0;
    case 'r': cfg->fresh = cfg->resume = 1; return 0;
    case 'c': cfg->connections = (unsigned)strtoul(arg, &end, 10); break;
    case 'd': cfg->duration = strtod(arg, &end); break;
    case 'n': cfg->count = strtoul(arg, &end, 10); break;
    case 'p': cfg->server_pid = (pid_t)strtol(arg, &end, 10); break;
    case 'k': o->kv = 1; return 0;
    case 'K': o->key_type = arg; return 0;
    case 'Q': o->key_pool = strtoul(arg, &end, 10); o->key_pool_set = 1; break;
    case 'X': o->prefix = arg; return 0;
    case 'o': o->out = arg; return 0;
    default: return -1;
    }
    return end == NULL || *end != '\0' || end == arg ? -1 : 0;
}

static int parse_args(options *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"server", 1, 0, 's'}, {"trust", 1, 0, 't'}, {"label", 1, 0, 'L'},
        {"group", 1, 0, 'g'}, {"tls", 1, 0, 'V'}, {"op", 1, 0, 'O'}, {"auth", 1, 0, 'A'},
        {"user", 1, 0, 'u'}, {"password-stdin", 0, 0, 'P'}, {"certs", 1, 0, 'C'},
        {"csrs", 1, 0, 'R'}, {"fresh", 0, 0, 'f'}, {"resume", 0, 0, 'r'}, {"connections", 1, 0, 'c'},
        {"duration", 1, 0, 'd'}, {"count", 1, 0, 'n'}, {"pid", 1, 0, 'p'}, {"kv", 0, 0, 'k'},
        {"key-type", 1, 0, 'K'}, {"key-pool", 1, 0, 'Q'}, {"prefix", 1, 0, 'X'},
        {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int ch;

    memset(o, 0, sizeof *o);
    snprintf(o->cfg.host, sizeof o->cfg.host, "127.0.0.1");
    snprintf(o->cfg.port, sizeof o->cfg.port, "8443");
    o->cfg.group = "P-256";
    o->cfg.connections = 1;
    o->cfg.duration = 5;
    o->key_type = "ec-p256";
    o->prefix = "estload";
    o->command = argv[1];
    optind = 2;
    while ((ch = getopt_long(argc, argv, "c:d:n:o:h", longs, NULL)) != -1) {
        if (ch == 'h') {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (parse_option(o, ch, optarg) != 0) {
            fprintf(stderr, "estload: bad option or value (see estload --help)\n");
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "estload: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->key_pool_set)
        o->key_pool = strcmp(o->key_type, "rsa-2048") == 0 ? 16 : 0;
    return 0;
}

static int read_password(options *o)
{
    char line[PASSWORD_LINE_MAX];
    est_error err;
    size_t n;

    if (o->user == NULL || !o->password_stdin) {
        fprintf(stderr, "estload: HTTP Basic needs --user NAME --password-stdin\n");
        return -1;
    }
    if (fgets(line, sizeof line, stdin) == NULL) {
        fprintf(stderr, "estload: no password on stdin\n");
        return -1;
    }
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (est_basic_build(o->user, line, &o->cfg.basic_header, &err) != EST_OK) {
        OPENSSL_cleanse(line, sizeof line);
        fprintf(stderr, "estload: %s\n", err.message);
        return -1;
    }
    OPENSSL_cleanse(line, sizeof line);
    /* est_basic_build gives "Basic <b64>"; the header name is ours. */
    return 0;
}

static const char *op_name(const load_config *cfg)
{
    static const char *const names[] = {"cacerts", "simpleenroll", "simplereenroll", "idle"};
    return names[cfg->op];
}

static void print_result(const options *o, const load_result *r)
{
    const load_config *cfg = &o->cfg;
    static const char *const auths[] = {"none", "cert", "basic"};
    double rate = r->seconds > 0 ? (double)r->ok / r->seconds : 0;

    if (o->kv) {
        printf("op=%s auth=%s fresh=%d conns=%u ok=%lu errors=%lu http_errors=%lu "
               "unfinished=%lu connects=%lu resumed=%lu secs=%.3f ops_per_s=%.1f p50_ms=%.2f p90_ms=%.2f "
               "p99_ms=%.2f max_ms=%.2f mean_ms=%.2f server_cpu_pct=%.1f server_rss_kib=%ld "
               "server_rss_start_kib=%ld csrs_used=%lu csrs=%zu first_error=\"%s\"\n",
               op_name(cfg), auths[cfg->auth], cfg->fresh, cfg->connections, r->ok, r->errors,
               r->http_errors, r->unfinished, r->connects, r->resumed, r->seconds, rate, r->p50_ms,
               r->p90_ms, r->p99_ms, r->max_ms, r->mean_ms, r->server_cpu_pct,
               r->server_rss_kib, r->server_rss_start_kib, r->csrs_used, cfg->csrs.count,
               r->first_error);
        return;
    }
    if (cfg->op == LOAD_OP_IDLE) {
        printf("estload: idle: %lu of %u TLS connections open after %.1f s, %lu errors\n", r->ok,
               cfg->connections, r->seconds, r->errors);
        if (cfg->server_pid > 0 && r->ok > 0)
            printf("  server RSS %.1f MiB at the start, %.1f MiB holding them: %.1f KiB each\n",
                   (double)r->server_rss_start_kib / 1024.0, (double)r->server_rss_kib / 1024.0,
                   (double)(r->server_rss_kib - r->server_rss_start_kib) / (double)r->ok);
        if (r->first_error[0] != '\0')
            printf("  first error: %s\n", r->first_error);
        return;
    }
    printf("estload: %s auth=%s %s, %u connection%s: %lu ok in %.2f s = %.1f ops/s\n",
           op_name(cfg), auths[cfg->auth], cfg->resume  ? "new TLS per operation, resumed"
           : cfg->fresh ? "fresh TLS per operation"
                        : "keep-alive",
           cfg->connections, cfg->connections == 1 ? "" : "s", r->ok, r->seconds, rate);
    printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  mean %.2f\n", r->p50_ms,
           r->p90_ms, r->p99_ms, r->max_ms, r->mean_ms);
    printf("  errors %lu (HTTP %lu), unfinished at the end %lu, handshakes %lu (%lu resumed)\n",
           r->errors, r->http_errors, r->unfinished, r->connects, r->resumed);
    if (cfg->server_pid > 0)
        printf("  server: CPU %.0f%% of one core, RSS %.1f MiB (%.1f MiB before)\n",
               r->server_cpu_pct, (double)r->server_rss_kib / 1024.0,
               (double)r->server_rss_start_kib / 1024.0);
    if (r->first_error[0] != '\0')
        printf("  first error: %s\n", r->first_error);
}

static int run_load(options *o)
{
    load_result res;
    int rc;

    if (o->cfg.trust_file == NULL) {
        fprintf(stderr, "estload: --trust FILE is required\n");
        return 1;
    }
    rc = load_run(&o->cfg, &res);
    print_result(o, &res);
    if (rc != 0) {
        fprintf(stderr, "estload: %s: %s\n", o->command,
                res.first_error[0] ? res.first_error : "failed");
        return 1;
    }
    return 0;
}

static int cmd_run(options *o)
{
    load_config *cfg = &o->cfg;

    if (cfg->auth == LOAD_AUTH_BASIC && read_password(o) != 0)
        return 1;
    if ((cfg->auth == LOAD_AUTH_CERT || cfg->op == LOAD_OP_REENROLL) &&
        (o->certs_dir == NULL ||
         pki_identities_load(o->certs_dir, cfg->op == LOAD_OP_REENROLL, &cfg->identities,
                             &cfg->identity_count) != 0)) {
        fprintf(stderr, "estload: --certs DIR with client-0.crt/.key ... is needed and must "
                        "load\n");
        return 1;
    }
    if (cfg->op == LOAD_OP_ENROLL &&
        (o->csr_file == NULL || pki_csrs_read(&cfg->csrs, o->csr_file) != 0)) {
        fprintf(stderr, "estload: --csrs FILE (from `estload csrs`) is needed and must load\n");
        return 1;
    }
    return run_load(o);
}

static int cmd_csrs(options *o)
{
    load_csrs csrs;
    int rc = 1;

    if (o->out == NULL || o->cfg.count == 0) {
        fprintf(stderr, "estload: csrs needs --count N and --out FILE\n");
        return 1;
    }
    if (pki_csrs_generate(&csrs, o->key_type, o->cfg.count, o->key_pool, o->prefix, 0) != 0)
        fprintf(stderr, "estload: cannot make %s CSRs\n", o->key_type);
    else if (pki_csrs_write(&csrs, o->out) != 0)
        fprintf(stderr, "estload: cannot write %s\n", o->out);
    else
        rc = 0;
    pki_csrs_free(&csrs);
    return rc;
}

/* Client certificates for the cert-auth scenarios. The first is enrolled
 * with Basic (RFC 7030 §3.3.2's usual bootstrap); more can then be enrolled
 * with --auth cert --certs DIR, authenticating with the first ones. */
static int cmd_issue(options *o)
{
    load_config *cfg = &o->cfg;

    if (o->out == NULL || cfg->count == 0) {
        fprintf(stderr, "estload: issue needs --count N and --out DIR\n");
        return 1;
    }
    if (cfg->auth == LOAD_AUTH_CERT) {
        if (o->certs_dir == NULL ||
            pki_identities_load(o->certs_dir, 0, &cfg->identities, &cfg->identity_count) != 0) {
            fprintf(stderr, "estload: issue --auth cert needs --certs DIR that loads\n");
            return 1;
        }
    } else {
        cfg->auth = LOAD_AUTH_BASIC;
        if (read_password(o) != 0)
            return 1;
    }
    if (mkdir(o->out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "estload: cannot create %s\n", o->out);
        return 1;
    }
    cfg->op = LOAD_OP_ENROLL;
    cfg->save_dir = o->out;
    if (pki_csrs_generate(&cfg->csrs, o->key_type, cfg->count, o->key_pool, o->prefix, 1) != 0) {
        fprintf(stderr, "estload: cannot make %s keys\n", o->key_type);
        return 1;
    }
    return run_load(o);
}

int main(int argc, char **argv)
{
    options o;
    struct rlimit rl;
    int rc = 1;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2;
    }
    if (parse_args(&o, argc, argv) != 0)
        return 1;
    /* One descriptor per connection: lift the soft limit to the hard one. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (strcmp(o.command, "run") == 0) {
        rc = cmd_run(&o);
    } else if (strcmp(o.command, "csrs") == 0) {
        rc = cmd_csrs(&o);
    } else if (strcmp(o.command, "issue") == 0) {
        rc = cmd_issue(&o);
    } else if (strcmp(o.command, "idle") == 0) {
        o.cfg.op = LOAD_OP_IDLE;
        rc = run_load(&o);
    } else {
        fprintf(stderr, "estload: '%s' is not a command; see estload --help\n", o.command);
    }
    est_secret_free(o.cfg.basic_header);
    pki_csrs_free(&o.cfg.csrs);
    pki_identities_free(o.cfg.identities, o.cfg.identity_count);
    return rc;
}
