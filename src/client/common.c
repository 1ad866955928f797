/* What est's subcommands share: the common options, the password, the
 * client handle, messages and exit codes, certificate and key files. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include "est.h"
#include "estkit/auth.h"
#include "estkit/body.h"
#include "estkit/key.h"
#include "estkit/file.h"
#include "estkit/mem.h"

#define TIMEOUT_MAX 3600L       /* seconds for one request */
#define MAX_WAIT_MAX 604800L    /* a week of waiting on 202 */

const char est_cli_common_help[] =
    "Server and trust:\n"
    "  --server URL             https://host[:port] or\n"
    "                           https://host[:port]/.well-known/est[/label]\n"
    "  --label LABEL            CA label (the URL may carry it instead)\n"
    "  --dialect rfc7030|draft  path spellings: /cacerts (default) or /CACerts (draft-04)\n"
    "  --trust FILE             explicit trust anchors (PEM), e.g. from `est cacerts\n"
    "                           --bootstrap`: the server must match the URL or hold\n"
    "                           id-kp-cmcRA\n"
    "  --third-party-trust FILE third-party anchors (PEM): the server must match the URL\n"
    "  --system-trust           the system's CA store as third-party anchors\n"
    "Client authentication (either or both):\n"
    "  --user NAME --password-stdin | --password-file FILE   HTTP Basic/Digest\n"
    "  --http-auth any|basic|digest  any: answer the server's 401; basic: send at once\n"
    "  --tls-cert FILE --tls-key FILE  TLS client certificate\n"
    "  --srp-user NAME --password-stdin | --password-file FILE   TLS-SRP login (TLS 1.2);\n"
    "                           it authenticates the server too: no --trust needed\n"
    "Other:\n"
    "  --tls-max 1.2|1.3        highest TLS version (1.2: tls-unique channel binding)\n"
    "  --timeout SECONDS        per request (default 60)\n"
    "  --max-wait SECONDS       on HTTP 202 wait (Retry-After) and repeat, up to this\n"
    "                           long in all (default 0: return 3 at once)\n"
    "  --base64-line N          base64 line length of RFC 7030 request bodies, lines\n"
    "                           ended by LF (default 64; 0: one unbroken line)\n"
    "  -v, --verbose            say what happens\n"
    "Exit status: 0 done, 1 error (one line on stderr), 2 nothing to do,\n"
    "3 pending (the server answered 202; run the same command again later).\n";

void est_cli_init(est_cli *cli, const char *command, const char *usage)
{
    memset(cli, 0, sizeof *cli);
    cli->command = command;
    cli->usage = usage;
    est_client_config_init(&cli->cfg);
    optind = 1;
    opterr = 0; /* messages are ours, in the one-line format */
}

void est_cli_free(est_cli *cli)
{
    est_secret_free(cli->password);
    cli->password = NULL;
}

static void vmessage(const est_cli *cli, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vmessage(const est_cli *cli, const char *fmt, va_list ap)
{
    fprintf(stderr, "est: %s: ", cli->command);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int est_cli_error(const est_cli *cli, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmessage(cli, fmt, ap);
    va_end(ap);
    return EST_EXIT_ERROR;
}

void est_cli_info(const est_cli *cli, const char *fmt, ...)
{
    va_list ap;

    if (!cli->verbose)
        return;
    va_start(ap, fmt);
    vmessage(cli, fmt, ap);
    va_end(ap);
}

int est_cli_fail(const est_cli *cli, const est_error *err)
{
    est_cli_error(cli, "%s", err->message[0] ? err->message : est_strerror(err->code));
    return err->code == EST_E_RETRY_LATER ? EST_EXIT_PENDING : EST_EXIT_ERROR;
}

static est_cmd_outcome parse_seconds(est_cli *cli, const char *name, const char *arg, long max,
                                     long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > max)
        return est_cli_error(cli, "--%s: expected seconds from 0 to %ld, got \"%s\"", name, max,
                             arg);
    *out = v;
    return EST_CMD_CONTINUE;
}

/* --base64-line: 0 or a multiple of 4 up to EST_BODY_LINE_MAX. */
static est_cmd_outcome parse_line_length(est_cli *cli, const char *arg)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > (long)EST_BODY_LINE_MAX ||
        est_body_line_check((unsigned)v, NULL) != EST_OK)
        return est_cli_error(cli, "--base64-line: expected 0 or a multiple of 4 up to %u, "
                                  "got \"%s\"", EST_BODY_LINE_MAX, arg);
    cli->cfg.base64_line_length = (unsigned)v;
    return EST_CMD_CONTINUE;
}

static est_cmd_outcome choice(est_cli *cli, const char *name, const char *arg,
                              const char *const *names, int *out)
{
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(arg, names[i]) == 0) {
            *out = i;
            return EST_CMD_CONTINUE;
        }
    return est_cli_error(cli, "--%s: unknown value \"%s\"", name, arg);
}

static int unknown_option(est_cli *cli, int opt, char **argv)
{
    const char *arg = argv[optind - 1];

    if (opt == ':')
        return est_cli_error(cli, "option %s needs a value", arg);
    if (optopt != 0 && optopt < 256)
        return est_cli_error(cli, "unknown option -%c; see `est %s --help`", optopt,
                             cli->command);
    return est_cli_error(cli, "unknown option %s; see `est %s --help`", arg, cli->command);
}

est_cmd_outcome est_cli_option(est_cli *cli, int opt, char **argv)
{
    static const char *const dialects[] = {"rfc7030", "draft", NULL};
    static const char *const auths[] = {"any", "basic", "digest", NULL};
    static const char *const tls_versions[] = {"1.2", "1.3", NULL};
    int v = 0;
    est_cmd_outcome r = EST_CMD_CONTINUE;
    long n;

    switch (opt) {
    case OPT_SERVER: cli->cfg.server_url = optarg; break;
    case OPT_TRUST: cli->cfg.explicit_trust_file = optarg; break;
    case OPT_THIRD_PARTY_TRUST: cli->cfg.third_party_trust_file = optarg; break;
    case OPT_SYSTEM_TRUST: cli->cfg.third_party_system = 1; break;
    case OPT_LABEL: cli->cfg.label = optarg; break;
    case OPT_USER: cli->cfg.username = optarg; break;
    case OPT_SRP_USER: cli->cfg.username = optarg, cli->cfg.srp = 1; break;
    case OPT_PASSWORD_STDIN: cli->password_stdin = 1; break;
    case OPT_PASSWORD_FILE: cli->password_file = optarg; break;
    case OPT_TLS_CERT: cli->cfg.tls_cert_file = optarg; break;
    case OPT_TLS_KEY: cli->cfg.tls_key_file = optarg; break;
    case OPT_VERBOSE:
    case 'v': cli->verbose = 1; break;
    case OPT_DIALECT:
        if ((r = choice(cli, "dialect", optarg, dialects, &v)) == EST_CMD_CONTINUE)
            cli->cfg.dialect = (est_dialect)v;
        break;
    case OPT_TLS_MAX:
        if ((r = choice(cli, "tls-max", optarg, tls_versions, &v)) == EST_CMD_CONTINUE)
            cli->cfg.tls_max_version = 12 + v;
        break;
    case OPT_HTTP_AUTH:
        if ((r = choice(cli, "http-auth", optarg, auths, &v)) == EST_CMD_CONTINUE)
            cli->cfg.http_auth = (est_http_auth)v;
        break;
    case OPT_TIMEOUT:
        if ((r = parse_seconds(cli, "timeout", optarg, TIMEOUT_MAX, &n)) == EST_CMD_CONTINUE)
            cli->cfg.timeout_seconds = n ? n : EST_CLIENT_TIMEOUT_DEFAULT;
        break;
    case OPT_MAX_WAIT:
        if ((r = parse_seconds(cli, "max-wait", optarg, MAX_WAIT_MAX, &n)) == EST_CMD_CONTINUE)
            cli->cfg.max_wait_seconds = (unsigned)n;
        break;
    case OPT_BASE64_LINE:
        r = parse_line_length(cli, optarg);
        break;
    case OPT_HELP:
        printf("%s\n%s", cli->usage, est_cli_common_help);
        return EST_EXIT_DONE;
    default:
        return unknown_option(cli, opt, argv);
    }
    return r;
}

est_cmd_outcome est_cli_finish_options(est_cli *cli, int argc, char **argv, int need_trust)
{
    const est_client_config *c = &cli->cfg;

    if (optind < argc)
        return est_cli_error(cli, "unexpected argument \"%s\"", argv[optind]);
    if (c->server_url == NULL)
        return est_cli_error(cli, "--server URL is required");
    if (need_trust && c->explicit_trust_file == NULL && c->third_party_trust_file == NULL &&
        !c->third_party_system && !c->srp)
        return est_cli_error(cli, "--trust FILE is required (get one with `est cacerts "
                                  "--bootstrap -o FILE`)");
    if (cli->password_stdin && cli->password_file != NULL)
        return est_cli_error(cli, "--password-stdin or --password-file, not both");
    if (c->username != NULL && !cli->password_stdin && cli->password_file == NULL)
        return est_cli_error(cli, "--%s needs --password-stdin or --password-file (never a "
                                  "password on the command line)", c->srp ? "srp-user" : "user");
    if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL))
        return est_cli_error(cli, "--tls-cert and --tls-key go together");
    return EST_CMD_CONTINUE;
}

/* The first line of text, without its line end; 1 when it fit. */
static int first_line(char *buf, size_t len)
{
    size_t n = strcspn(buf, "\r\n");

    if (n > len)
        n = len;
    buf[n] = '\0';
    return n <= EST_PASSWORD_MAX;
}

/* Up to cap - 1 bytes of fd, stopping after a newline; NUL-terminated.
 * Returns the length (0 at once-EOF or on an error). */
static size_t read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;

    while (n + 1 < cap) {
        ssize_t got = read(fd, buf + n, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return n;
}

static est_cmd_outcome read_password(est_cli *cli)
{
    char buf[EST_PASSWORD_MAX + 3];
    uint8_t *data = NULL;
    size_t len = 0;
    struct stat st;
    est_error err;
    int ok;

    if (cli->password_stdin) {
        /* read(2), not stdio: no copy of the secret stays in a FILE buffer. */
        if ((len = read_line(STDIN_FILENO, buf, sizeof buf)) == 0)
            return est_cli_error(cli, "--password-stdin: no password on standard input");
        ok = first_line(buf, len);
        if (ok)
            cli->password = strdup(buf);
        OPENSSL_cleanse(buf, sizeof buf);
    } else {
        if (est_file_read(cli->password_file, EST_PASSWORD_MAX + 2, &data, &len, &err) != EST_OK)
            return est_cli_fail(cli, &err);
        /* As wg does for keys: say so when others may read the secret. */
        if (stat(cli->password_file, &st) == 0 && (st.st_mode & 077) != 0)
            fprintf(stderr, "est: %s: warning: %s is readable by others\n", cli->command,
                    cli->password_file);
        ok = first_line((char *)data, len);
        if (ok)
            cli->password = strdup((char *)data);
        OPENSSL_clear_free(data, len + 1);
    }
    if (!ok)
        return est_cli_error(cli, "password longer than %d bytes", EST_PASSWORD_MAX);
    if (cli->password == NULL)
        return est_cli_error(cli, "out of memory");
    return EST_CMD_CONTINUE;
}

/* est_client_wait_fn: draft-04 §4.2.3 "SHOULD log or inform the end user". */
static void on_wait(void *arg, unsigned seconds, unsigned waited, const char *text)
{
    const est_cli *cli = arg;

    fprintf(stderr, "est: %s: %s: request pending (HTTP 202)%s%s; waiting %u s (%u s so far)\n",
            cli->command, est_client_get0_server(cli->client), text[0] ? ": " : "", text,
            seconds, waited);
}

/* est_client_warn_fn: one line, and the command goes on. */
static void on_warning(void *arg, const char *message)
{
    const est_cli *cli = arg;

    fprintf(stderr, "est: %s: warning: %s\n", cli->command, message);
}

int est_cli_client_new(est_cli *cli, est_client **out)
{
    est_error err;
    est_cmd_outcome r;

    *out = NULL;
    if ((cli->password_stdin || cli->password_file != NULL) &&
        (r = read_password(cli)) != EST_CMD_CONTINUE)
        return r;
    cli->cfg.password = cli->password;
    cli->cfg.on_wait = on_wait;
    cli->cfg.on_wait_arg = cli;
    cli->cfg.on_warning = on_warning;
    cli->cfg.on_warning_arg = cli;
    if (est_client_new(&cli->cfg, out, &err) != EST_OK)
        return est_cli_fail(cli, &err);
    cli->client = *out;
    return EST_EXIT_DONE;
}

est_status est_cli_write_certs(const char *path, STACK_OF(X509) *certs, est_error *err)
{
    if (path != NULL && strcmp(path, "-") != 0)
        return est_certs_write_file(path, certs, err);
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (PEM_write_X509(stdout, sk_X509_value(certs, i)) != 1)
            return est_error_set_openssl(err, EST_E_IO, "standard output");
    return fflush(stdout) == 0 ? EST_OK : est_error_set(err, EST_E_IO, "standard output: %s",
                                                        strerror(errno));
}

est_status est_cli_write_cert(const char *path, X509 *cert, est_error *err)
{
    STACK_OF(X509) *one = sk_X509_new_null();
    est_status rc;

    if (one == NULL || !sk_X509_push(one, cert)) {
        sk_X509_free(one);
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    }
    rc = est_cli_write_certs(path, one, err);
    sk_X509_free(one); /* borrowed */
    return rc;
}

est_status est_cli_read_key(const char *path, EVP_PKEY **key, est_error *err)
{
    struct stat st;

    *key = NULL;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return est_error_set(err, EST_E_NOT_FOUND, "%s: no such file", path);
    return est_key_read_file(path, key, err);
}

est_status est_cli_read_cert(const char *path, X509 **cert, est_error *err)
{
    STACK_OF(X509) *certs = NULL;
    est_status rc = est_certs_read_file(path, &certs, err);

    if (rc != EST_OK)
        return rc;
    *cert = sk_X509_shift(certs);
    sk_X509_pop_free(certs, X509_free);
    return EST_OK;
}

est_key_type est_cli_key_type_of(EVP_PKEY *key)
{
    char group[64] = "";
    int bits = EVP_PKEY_get_bits(key);

    if (EVP_PKEY_is_a(key, "ED25519"))
        return EST_KEY_ED25519;
    if (EVP_PKEY_is_a(key, "RSA"))
        return bits >= 4096 ? EST_KEY_RSA_4096 : bits >= 3072 ? EST_KEY_RSA_3072 : EST_KEY_RSA_2048;
    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       NULL) == 1 &&
        strcmp(group, "secp384r1") == 0)
        return EST_KEY_EC_P384;
    return EST_KEY_EC_P256;
}
