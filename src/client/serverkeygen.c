/* est serverkeygen: the server makes the key (draft-04 §4.4); the key
 * (PKCS#8) is written 0600 before the certificate, each atomically. */
#include "est.h"
#include "estkit/key.h"
#include "estkit/name.h"

static const char usage[] =
    "usage: est serverkeygen --server URL --trust FILE [auth] [--subject DN] [--san NAMES]...\n"
    "                        [--pop-link] [--no-csrattrs] --key-out FILE -o CERTFILE\n"
    "Asks the server to generate a key (/serverkeygen) and certify it: the key goes\n"
    "to --key-out (PKCS#8 PEM, mode 0600), the certificate to CERTFILE. The CSR is\n"
    "signed with a throwaway key; the server ignores its key (draft-04 section 4.4.1).\n";

enum { OPT_SUBJECT = OPT_COMMAND_BASE, OPT_SAN, OPT_KEY_OUT, OPT_POP_LINK, OPT_NO_CSRATTRS };

typedef struct request {
    est_cli cli;
    const char *subject_text, *key_out, *out;
    X509_NAME *subject;
    GENERAL_NAMES *san;
    est_enroll_params params;
} request;

static est_cmd_outcome option(request *q, int opt, char **argv)
{
    est_error err;

    switch (opt) {
    case 'o': q->out = optarg; return EST_CMD_CONTINUE;
    case OPT_KEY_OUT: q->key_out = optarg; return EST_CMD_CONTINUE;
    case OPT_SUBJECT: q->subject_text = optarg; return EST_CMD_CONTINUE;
    case OPT_POP_LINK: q->params.pop_link = 1; return EST_CMD_CONTINUE;
    case OPT_NO_CSRATTRS: q->params.skip_csrattrs = 1; return EST_CMD_CONTINUE;
    case OPT_SAN:
        return est_san_parse(optarg, &q->san, &err) == EST_OK ? EST_CMD_CONTINUE
                                                              : est_cli_fail(&q->cli, &err);
    default:
        return est_cli_option(&q->cli, opt, argv);
    }
}

static int run(request *q)
{
    est_client *client = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    est_error err;
    int r;

    if (q->subject_text != NULL && est_name_parse(q->subject_text, &q->subject, &err) != EST_OK)
        return est_cli_fail(&q->cli, &err);
    q->params.subject = q->subject;
    q->params.san = q->san;
    if ((r = est_cli_client_new(&q->cli, &client)) != EST_EXIT_DONE)
        return r;
    if (est_client_serverkeygen(client, &q->params, &cert, &key, &err) != EST_OK ||
        est_key_write_file(q->key_out, key, &err) != EST_OK ||
        est_cli_write_cert(q->out, cert, &err) != EST_OK)
        r = est_cli_fail(&q->cli, &err);
    else
        est_cli_info(&q->cli, "key written to %s, certificate to %s", q->key_out, q->out);
    X509_free(cert);
    EVP_PKEY_free(key);
    est_client_free(client);
    return r;
}

int serverkeygen_main(int argc, char **argv)
{
    static const struct option options[] = {
        EST_CLI_COMMON_OPTIONS,
        {"subject", required_argument, NULL, OPT_SUBJECT},
        {"san", required_argument, NULL, OPT_SAN},
        {"key-out", required_argument, NULL, OPT_KEY_OUT},
        {"pop-link", no_argument, NULL, OPT_POP_LINK},
        {"no-csrattrs", no_argument, NULL, OPT_NO_CSRATTRS},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    request q = {0};
    est_cmd_outcome r = EST_CMD_CONTINUE;
    int opt;

    est_cli_init(&q.cli, "serverkeygen", usage);
    while (r == EST_CMD_CONTINUE && (opt = getopt_long(argc, argv, ":o:v", options, NULL)) != -1)
        r = option(&q, opt, argv);
    if (r == EST_CMD_CONTINUE)
        r = est_cli_finish_options(&q.cli, argc, argv, 1);
    if (r == EST_CMD_CONTINUE && (q.key_out == NULL || q.out == NULL))
        r = est_cli_error(&q.cli, "--key-out FILE and -o CERTFILE are required");
    if (r == EST_CMD_CONTINUE && q.subject_text == NULL && q.san == NULL)
        r = est_cli_error(&q.cli, "give --subject DN and/or --san NAMES");
    if (r == EST_CMD_CONTINUE)
        r = run(&q);
    X509_NAME_free(q.subject);
    GENERAL_NAMES_free(q.san);
    est_cli_free(&q.cli);
    return r;
}
