/* est enroll, est reenroll, est renew (draft-04 §4.2): one job each, one
 * path through the library. Files are written only on success, key first
 * then certificate, each atomically (temp file + rename), keys 0600. A 202
 * leaves the pending request behind (pending.c) so the same command,
 * run again, repeats it. */
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>
#include "est.h"
#include "estkit/key.h"
#include "estkit/name.h"
#include "estkit/csr.h"

static const char enroll_usage[] =
    "usage: est enroll --server URL --trust FILE [auth] --key FILE [--key-type T]\n"
    "                  [--subject DN] [--san NAMES]... [--mac-address MAC] [--pop-link]\n"
    "                  [--no-csrattrs] -o CERTFILE\n"
    "Enrolls (/simpleenroll): asks /csrattrs, builds and signs a CSR for the key in\n"
    "FILE and writes the issued certificate to CERTFILE.\n"
    "  --key FILE        the key to certify; made (0600) when FILE does not exist, with\n"
    "                    --key-type, else what /csrattrs asks for, else ec-p256\n"
    "  --key-type T      ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519\n"
    "  --subject DN      e.g. CN=device-1,O=Example (or /CN=device-1/O=Example)\n"
    "  --san NAMES       DNS:x, IP:1.2.3.4, email:x, URI:x, or bare names; comma list\n"
    "  --mac-address MAC put macAddress (1.3.6.1.1.1.1.22) in the CSR\n"
    "  --pop-link        put this TLS connection's channel binding in challengePassword\n"
    "                    (also done whenever /csrattrs lists challengePassword)\n"
    "  --no-csrattrs     do not ask /csrattrs first\n";

static const char reenroll_usage[] =
    "usage: est reenroll --server URL --trust FILE --cert FILE --key FILE\n"
    "                    [--rekey NEWKEYFILE [--key-type T]] [--pop-link] -o CERTFILE\n"
    "Re-enrolls (/simplereenroll) with the subject and subjectAltName of --cert,\n"
    "authenticating with --cert/--key over TLS (unless --tls-cert is given). With\n"
    "--rekey the new certificate is for the key in NEWKEYFILE (made when missing).\n";

static const char renew_usage[] =
    "usage: est renew --server URL --trust FILE --cert FILE --key FILE --days N\n"
    "                 [--keep-key] [--key-type T] [--pop-link]\n"
    "Re-enrolls only when --cert expires within N days, then replaces --key (a new\n"
    "key of the same type, unless --keep-key) and --cert atomically.\n"
    "Exit status 2 when the certificate is not due: made for cron and systemd timers.\n";

typedef struct job {
    est_cli cli;
    est_operation op;
    const char *key_path, *cert_path, *rekey_path, *out, *subject_text;
    const char *key_out; /* where a key made for the request goes */
    long days;           /* renew: -1 = not given */
    int keep_key, key_type_given;
    est_enroll_params params;
    X509_NAME *subject;
    GENERAL_NAMES *san;
    EVP_PKEY *key;  /* the key file's key, or NULL */
    X509 *cert;     /* re-enroll: the current certificate */
} job;

static void job_free(job *j)
{
    X509_NAME_free(j->subject);
    GENERAL_NAMES_free(j->san);
    EVP_PKEY_free(j->key);
    X509_free(j->cert);
    est_cli_free(&j->cli);
}

/* Success: the new key (when one was made) first, then the certificate. */
static int install(job *j, X509 *cert, EVP_PKEY *new_key)
{
    est_error err;

    if (new_key != NULL && est_key_write_file(j->key_out, new_key, &err) != EST_OK)
        return est_cli_fail(&j->cli, &err);
    if (est_cli_write_cert(j->out, cert, &err) != EST_OK)
        return est_cli_fail(&j->cli, &err);
    est_cli_pending_remove(j->out);
    est_cli_info(&j->cli, "certificate written to %s%s%s", j->out, new_key ? ", key to " : "",
                 new_key ? j->key_out : "");
    return EST_EXIT_DONE;
}

/* Repeats the request a 202 left behind; its key must be the one at hand. */
static est_status resume(job *j, est_client *client, est_cli_pending *p, X509 **cert,
                         EVP_PKEY **new_key, est_error *err)
{
    const unsigned char *der = p->csr_der;
    X509_REQ *req = d2i_X509_REQ(NULL, &der, (long)p->csr_len);
    EVP_PKEY *for_key = p->key ? p->key : j->params.key;
    est_status rc;

    if (req == NULL || for_key == NULL ||
        EVP_PKEY_eq(X509_REQ_get0_pubkey(req), for_key) != 1 ||
        (p->key != NULL && j->params.key != NULL && j->key_out == j->key_path &&
         j->op == EST_OP_SIMPLEENROLL)) {
        X509_REQ_free(req);
        return est_error_set(err, EST_E_CONFLICT, "%s is a pending request for another key; "
                             "remove it to start over", p->csr_path);
    }
    X509_REQ_free(req);
    est_cli_info(&j->cli, "repeating the pending request in %s", p->csr_path);
    rc = est_client_enroll_csr(client, j->op, p->csr_der, p->csr_len, cert, err);
    if (rc == EST_OK && p->key != NULL) {
        *new_key = p->key;
        p->key = NULL;
    }
    return rc;
}

static int run(job *j)
{
    est_client *client = NULL;
    est_cli_pending pending = {0};
    X509 *cert = NULL;
    EVP_PKEY *new_key = NULL;
    const uint8_t *der;
    size_t len;
    est_error err;
    est_status rc;
    int found = 0, r;

    if ((r = est_cli_client_new(&j->cli, &client)) != EST_EXIT_DONE)
        goto out;
    rc = est_cli_pending_load(j->out, &pending, &found, &err);
    if (rc == EST_OK && found)
        rc = resume(j, client, &pending, &cert, &new_key, &err);
    else if (rc == EST_OK && j->op == EST_OP_SIMPLEENROLL)
        rc = est_client_enroll(client, &j->params, &cert, &new_key, &err);
    else if (rc == EST_OK)
        rc = est_client_reenroll(client, &j->params, &cert, &new_key, &err);
    if (rc == EST_OK) {
        r = install(j, cert, new_key);
    } else if (/* a first 202: keep the request for the next run, then exit 3 below */
               rc == EST_E_RETRY_LATER && !found &&
               est_client_get0_last_request(client, &der, &len) == EST_OK &&
               est_cli_pending_save(j->out, der, len, new_key, &err) != EST_OK) {
        r = est_cli_fail(&j->cli, &err);
    } else {
        /* A refusal is final: the next run starts afresh. */
        if (found && est_client_get_http_status(client) >= 400)
            est_cli_pending_remove(j->out);
        r = est_cli_fail(&j->cli, &err);
    }
out:
    X509_free(cert);
    EVP_PKEY_free(new_key);
    est_cli_pending_free(&pending);
    est_client_free(client);
    return r;
}

enum {
    OPT_KEY = OPT_COMMAND_BASE, OPT_KEY_TYPE, OPT_SUBJECT, OPT_SAN, OPT_MAC, OPT_POP_LINK,
    OPT_NO_CSRATTRS, OPT_CERT, OPT_REKEY, OPT_DAYS, OPT_KEEP_KEY
};

#define ENROLL_OPTION(name, arg, value) {name, arg, NULL, value}

static est_cmd_outcome command_option(job *j, int opt, char **argv)
{
    est_error err;
    char *end = NULL;

    switch (opt) {
    case 'o': j->out = optarg; return EST_CMD_CONTINUE;
    case OPT_KEY: j->key_path = optarg; return EST_CMD_CONTINUE;
    case OPT_CERT: j->cert_path = optarg; return EST_CMD_CONTINUE;
    case OPT_REKEY: j->rekey_path = optarg; return EST_CMD_CONTINUE;
    case OPT_SUBJECT: j->subject_text = optarg; return EST_CMD_CONTINUE;
    case OPT_MAC: j->params.mac_address = optarg; return EST_CMD_CONTINUE;
    case OPT_POP_LINK: j->params.pop_link = 1; return EST_CMD_CONTINUE;
    case OPT_NO_CSRATTRS: j->params.skip_csrattrs = 1; return EST_CMD_CONTINUE;
    case OPT_KEEP_KEY: j->keep_key = 1; return EST_CMD_CONTINUE;
    case OPT_KEY_TYPE:
        j->key_type_given = j->params.key_type_set = 1;
        return est_key_type_parse(optarg, &j->params.key_type, &err) == EST_OK
                   ? EST_CMD_CONTINUE : est_cli_fail(&j->cli, &err);
    case OPT_SAN:
        return est_san_parse(optarg, &j->san, &err) == EST_OK ? EST_CMD_CONTINUE
                                                              : est_cli_fail(&j->cli, &err);
    case OPT_DAYS:
        j->days = strtol(optarg, &end, 10);
        if (end == optarg || *end != '\0' || j->days < 0 || j->days > EST_VALIDITY_DAYS_MAX)
            return est_cli_error(&j->cli, "--days: expected 0 to %d, got \"%s\"", EST_VALIDITY_DAYS_MAX,
                                 optarg);
        return EST_CMD_CONTINUE;
    default:
        return est_cli_option(&j->cli, opt, argv);
    }
}

static est_cmd_outcome parse(job *j, int argc, char **argv, const struct option *options)
{
    int opt;
    est_cmd_outcome r = EST_CMD_CONTINUE;

    while (r == EST_CMD_CONTINUE && (opt = getopt_long(argc, argv, ":o:v", options, NULL)) != -1)
        r = command_option(j, opt, argv);
    return r == EST_CMD_CONTINUE ? est_cli_finish_options(&j->cli, argc, argv, 1) : r;
}

/* Reads the files the job names; a missing enroll key is made later. */
static est_cmd_outcome load(job *j)
{
    est_error err;
    est_status rc;

    if (j->subject_text != NULL && est_name_parse(j->subject_text, &j->subject, &err) != EST_OK)
        return est_cli_fail(&j->cli, &err);
    rc = est_cli_read_key(j->key_path, &j->key, &err);
    if (rc != EST_OK && !(rc == EST_E_NOT_FOUND && j->op == EST_OP_SIMPLEENROLL))
        return est_cli_fail(&j->cli, &err);
    if (j->cert_path != NULL && est_cli_read_cert(j->cert_path, &j->cert, &err) != EST_OK)
        return est_cli_fail(&j->cli, &err);
    j->params.key = j->key;
    j->params.subject = j->subject;
    j->params.san = j->san;
    j->params.cert = j->cert;
    j->key_out = j->key_path;
    return EST_CMD_CONTINUE;
}

int enroll_main(int argc, char **argv)
{
    static const struct option options[] = {
        EST_CLI_COMMON_OPTIONS,
        ENROLL_OPTION("key", required_argument, OPT_KEY),
        ENROLL_OPTION("key-type", required_argument, OPT_KEY_TYPE),
        ENROLL_OPTION("subject", required_argument, OPT_SUBJECT),
        ENROLL_OPTION("san", required_argument, OPT_SAN),
        ENROLL_OPTION("mac-address", required_argument, OPT_MAC),
        ENROLL_OPTION("pop-link", no_argument, OPT_POP_LINK),
        ENROLL_OPTION("no-csrattrs", no_argument, OPT_NO_CSRATTRS),
        ENROLL_OPTION("out", required_argument, 'o'),
        {NULL, 0, NULL, 0},
    };
    job j = {.op = EST_OP_SIMPLEENROLL, .days = -1};
    est_cmd_outcome r;

    est_cli_init(&j.cli, "enroll", enroll_usage);
    r = parse(&j, argc, argv, options);
    if (r == EST_CMD_CONTINUE && (j.key_path == NULL || j.out == NULL))
        r = est_cli_error(&j.cli, "--key FILE and -o CERTFILE are required");
    if (r == EST_CMD_CONTINUE && j.subject_text == NULL && j.san == NULL)
        r = est_cli_error(&j.cli, "give --subject DN and/or --san NAMES");
    if (r == EST_CMD_CONTINUE && (r = load(&j)) == EST_CMD_CONTINUE)
        r = run(&j);
    job_free(&j);
    return r;
}

/* Re-enroll presents the current certificate over TLS (draft-04 §3.3.2:
 * "MUST use the existing client certificate") unless told otherwise. */
static est_cmd_outcome reenroll_setup(job *j)
{
    est_error err;
    est_status rc;

    if (j->cli.cfg.tls_cert_file == NULL) {
        j->cli.cfg.tls_cert_file = j->cert_path;
        j->cli.cfg.tls_key_file = j->key_path;
    }
    if (j->rekey_path != NULL) {
        EVP_PKEY *fresh = NULL;
        rc = est_cli_read_key(j->rekey_path, &fresh, &err);
        if (rc != EST_OK && rc != EST_E_NOT_FOUND)
            return est_cli_fail(&j->cli, &err);
        /* A key made for the rekey is of the old key's type by default. */
        if (fresh == NULL && !j->key_type_given) {
            j->params.key_type_set = 1;
            j->params.key_type = est_cli_key_type_of(j->key);
        }
        EVP_PKEY_free(j->key); /* the old key signs no CSR now */
        j->key = j->params.key = fresh;
        j->key_out = j->rekey_path;
    }
    return EST_CMD_CONTINUE;
}

int reenroll_main(int argc, char **argv)
{
    static const struct option options[] = {
        EST_CLI_COMMON_OPTIONS,
        ENROLL_OPTION("cert", required_argument, OPT_CERT),
        ENROLL_OPTION("key", required_argument, OPT_KEY),
        ENROLL_OPTION("rekey", required_argument, OPT_REKEY),
        ENROLL_OPTION("key-type", required_argument, OPT_KEY_TYPE),
        ENROLL_OPTION("pop-link", no_argument, OPT_POP_LINK),
        ENROLL_OPTION("no-csrattrs", no_argument, OPT_NO_CSRATTRS),
        ENROLL_OPTION("out", required_argument, 'o'),
        {NULL, 0, NULL, 0},
    };
    job j = {.op = EST_OP_SIMPLEREENROLL, .days = -1};
    est_cmd_outcome r;

    est_cli_init(&j.cli, "reenroll", reenroll_usage);
    r = parse(&j, argc, argv, options);
    if (r == EST_CMD_CONTINUE && (j.cert_path == NULL || j.key_path == NULL || j.out == NULL))
        r = est_cli_error(&j.cli, "--cert FILE, --key FILE and -o CERTFILE are required");
    if (r == EST_CMD_CONTINUE && (r = load(&j)) == EST_CMD_CONTINUE &&
        (r = reenroll_setup(&j)) == EST_CMD_CONTINUE)
        r = run(&j);
    job_free(&j);
    return r;
}

/* 1 when cert expires within days (or has expired). */
static int due(X509 *cert, long days, int *left)
{
    int d = 0, s = 0;

    if (ASN1_TIME_diff(&d, &s, NULL, X509_get0_notAfter(cert)) != 1)
        return 1;
    *left = d;
    return d < days || (d == days && s <= 0);
}

int renew_main(int argc, char **argv)
{
    static const struct option options[] = {
        EST_CLI_COMMON_OPTIONS,
        ENROLL_OPTION("cert", required_argument, OPT_CERT),
        ENROLL_OPTION("key", required_argument, OPT_KEY),
        ENROLL_OPTION("days", required_argument, OPT_DAYS),
        ENROLL_OPTION("keep-key", no_argument, OPT_KEEP_KEY),
        ENROLL_OPTION("key-type", required_argument, OPT_KEY_TYPE),
        ENROLL_OPTION("pop-link", no_argument, OPT_POP_LINK),
        ENROLL_OPTION("no-csrattrs", no_argument, OPT_NO_CSRATTRS),
        {NULL, 0, NULL, 0},
    };
    job j = {.op = EST_OP_SIMPLEREENROLL, .days = -1};
    est_cli_pending probe = {0};
    est_error err;
    est_cmd_outcome r;
    int left = 0, pending = 0;

    est_cli_init(&j.cli, "renew", renew_usage);
    r = parse(&j, argc, argv, options);
    if (r == EST_CMD_CONTINUE && (j.cert_path == NULL || j.key_path == NULL || j.days < 0))
        r = est_cli_error(&j.cli, "--cert FILE, --key FILE and --days N are required");
    j.out = j.cert_path;
    if (r == EST_CMD_CONTINUE && (r = load(&j)) == EST_CMD_CONTINUE &&
        est_cli_pending_load(j.out, &probe, &pending, &err) != EST_OK)
        r = est_cli_fail(&j.cli, &err);
    /* A pending renewal goes on even if the clock says "not due". */
    if (r == EST_CMD_CONTINUE && !pending && !due(j.cert, j.days, &left)) {
        est_cli_info(&j.cli, "%s: not due: expires in %d days", j.cert_path, left);
        r = EST_EXIT_NOTHING;
    }
    if (r == EST_CMD_CONTINUE && !j.keep_key) {
        j.params.key = NULL; /* rekey: a fresh key of the same type */
        if (!j.key_type_given) {
            j.params.key_type_set = 1;
            j.params.key_type = est_cli_key_type_of(j.key);
        }
    }
    if (r == EST_CMD_CONTINUE) {
        j.cli.cfg.tls_cert_file = j.cli.cfg.tls_cert_file ? j.cli.cfg.tls_cert_file : j.cert_path;
        j.cli.cfg.tls_key_file = j.cli.cfg.tls_key_file ? j.cli.cfg.tls_key_file : j.key_path;
        r = run(&j);
    }
    est_cli_pending_free(&probe);
    job_free(&j);
    return r;
}
