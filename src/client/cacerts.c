/* est cacerts: fetch the CA certificates (draft-04 §4.1), or establish
 * trust in them first (§4.1.1 bootstrap): over an unauthenticated TLS
 * connection, then either a fingerprint given out of band (--fingerprint)
 * or a person at a terminal (--bootstrap) decides. Nothing is written
 * unless the certificates were accepted. */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "est.h"

static const char usage[] =
    "usage: est cacerts --server URL (--trust FILE | --fingerprint sha256:HEX | --bootstrap)\n"
    "                   [-o FILE]\n"
    "Fetches the CA certificates (/cacerts) and writes them as PEM to FILE (default:\n"
    "standard output), the trust anchor first: the newest self-signed certificate;\n"
    "every other one (rollover links, intermediates) must validate against it.\n"
    "Without trust yet (draft-04 section 4.1.1):\n"
    "  --fingerprint sha256:HEX  accept when the anchor's SHA-256 fingerprint is HEX\n"
    "  --bootstrap               show the fingerprints and ask on the terminal\n"
    "The written FILE is what --trust takes for every other command.\n";

typedef struct decision {
    const est_cli *cli;
    const char *server;
    const char *fingerprint; /* NULL: ask on the terminal */
    char reason[EST_ERROR_MESSAGE_MAX];
} decision;

static void describe(FILE *f, X509 *cert, int index, int anchor)
{
    char subject[256], issuer[256];
    char sha256[EST_FINGERPRINT_TEXT_MAX], sha1[EST_FINGERPRINT_TEXT_MAX];
    BIO *bio = BIO_new_fp(f, BIO_NOCLOSE);

    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof issuer);
    if (est_fingerprint_text(cert, EVP_sha256(), sha256, sizeof sha256, NULL) != EST_OK)
        strcpy(sha256, "?");
    if (est_fingerprint_text(cert, EVP_sha1(), sha1, sizeof sha1, NULL) != EST_OK)
        strcpy(sha1, "?");
    fprintf(f, "  %d. subject: %s%s\n     issuer:  %s\n     valid:   ", index, subject,
            anchor ? "   (trust anchor)" : "", issuer);
    fflush(f);
    if (bio != NULL) {
        ASN1_TIME_print(bio, X509_get0_notBefore(cert));
        BIO_puts(bio, " until ");
        ASN1_TIME_print(bio, X509_get0_notAfter(cert));
        BIO_flush(bio);
    }
    fprintf(f, "\n     SHA-256: %s\n     SHA-1:   %s\n", sha256, sha1);
    BIO_free(bio);
}

static int ask(decision *d, STACK_OF(X509) *certs)
{
    char answer[16] = "";
    FILE *tty = fopen("/dev/tty", "r+");

    if (tty == NULL) {
        snprintf(d->reason, sizeof d->reason, "%s: no terminal to confirm the CA certificate; "
                                              "give --fingerprint sha256:HEX", d->server);
        return 0;
    }
    fprintf(tty, "CA certificates from %s, not yet authenticated:\n", d->server);
    for (int i = 0; i < sk_X509_num(certs); i++)
        describe(tty, sk_X509_value(certs, i), i + 1, i == 0);
    fputs("Compare the anchor's SHA-256 fingerprint with one obtained out of band.\n"
          "Trust this CA? [y/N] ", tty);
    fflush(tty);
    if (fgets(answer, sizeof answer, tty) == NULL)
        answer[0] = '\0';
    fclose(tty);
    answer[strcspn(answer, "\r\n")] = '\0';
    if (strcmp(answer, "y") == 0 || strcmp(answer, "Y") == 0 || strcmp(answer, "yes") == 0)
        return 1;
    snprintf(d->reason, sizeof d->reason, "%s: CA certificate not accepted", d->server);
    return 0;
}

/* est_client_bootstrap_fn */
static int decide(void *arg, X509 *anchor, STACK_OF(X509) *certs)
{
    decision *d = arg;
    char have[EST_FINGERPRINT_TEXT_MAX] = "?";
    est_error err;

    if (d->fingerprint == NULL)
        return ask(d, certs);
    if (est_fingerprint_check(anchor, d->fingerprint, &err) == EST_OK) {
        est_cli_info(d->cli, "%s: the CA certificate matches the fingerprint", d->server);
        return 1;
    }
    est_fingerprint_text(anchor, EVP_sha256(), have, sizeof have, NULL);
    if (err.code == EST_E_AUTH)
        snprintf(d->reason, sizeof d->reason, "%s: fingerprint mismatch: the server's CA "
                                              "certificate has SHA-256 %s", d->server, have);
    else
        snprintf(d->reason, sizeof d->reason, "%s", err.message);
    return 0;
}

static int run(est_cli *cli, decision *d, const char *out)
{
    est_client *client = NULL;
    STACK_OF(X509) *certs = NULL;
    est_error err;
    int r;

    if ((r = est_cli_client_new(cli, &client)) != EST_EXIT_DONE)
        return r;
    d->server = est_client_get0_server(client);
    if (est_client_cacerts(client, &certs, &err) != EST_OK) {
        r = d->reason[0] ? est_cli_error(cli, "%s", d->reason) : est_cli_fail(cli, &err);
        goto out;
    }
    if (est_cli_write_certs(out, certs, &err) != EST_OK) {
        r = est_cli_fail(cli, &err);
        goto out;
    }
    est_cli_info(cli, "%d CA certificate(s) written to %s", sk_X509_num(certs),
                 out ? out : "standard output");
    r = EST_EXIT_DONE;
out:
    sk_X509_pop_free(certs, X509_free);
    est_client_free(client);
    return r;
}

enum { OPT_FINGERPRINT = OPT_COMMAND_BASE, OPT_BOOTSTRAP };

int cacerts_main(int argc, char **argv)
{
    static const struct option options[] = {
        EST_CLI_COMMON_OPTIONS,
        {"fingerprint", required_argument, NULL, OPT_FINGERPRINT},
        {"bootstrap", no_argument, NULL, OPT_BOOTSTRAP},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    decision d = {0};
    est_error err;
    est_cli cli;
    const char *out = NULL;
    est_cmd_outcome r = EST_CMD_CONTINUE;
    int opt, bootstrap = 0;

    est_cli_init(&cli, "cacerts", usage);
    d.cli = &cli;
    while (r == EST_CMD_CONTINUE && (opt = getopt_long(argc, argv, ":o:v", options, NULL)) != -1) {
        if (opt == 'o')
            out = optarg;
        else if (opt == OPT_FINGERPRINT)
            d.fingerprint = optarg;
        else if (opt == OPT_BOOTSTRAP)
            bootstrap = 1;
        else
            r = est_cli_option(&cli, opt, argv);
    }
    if (r == EST_CMD_CONTINUE)
        r = est_cli_finish_options(&cli, argc, argv, 0);
    if (r == EST_CMD_CONTINUE && (bootstrap || d.fingerprint) &&
        (cli.cfg.explicit_trust_file || cli.cfg.third_party_trust_file ||
         cli.cfg.third_party_system))
        r = est_cli_error(&cli, "--bootstrap and --fingerprint are for when there is no trust "
                                "yet; drop --trust");
    if (r == EST_CMD_CONTINUE && bootstrap && d.fingerprint)
        r = est_cli_error(&cli, "--bootstrap or --fingerprint, not both");
    if (r == EST_CMD_CONTINUE && d.fingerprint &&
        est_fingerprint_check(NULL, d.fingerprint, &err) != EST_OK)
        r = est_cli_fail(&cli, &err);
    /* draft-04 §3.3.3: a TLS-SRP login authenticates the server itself. */
    if (r == EST_CMD_CONTINUE && !bootstrap && !d.fingerprint && !cli.cfg.explicit_trust_file &&
        !cli.cfg.third_party_trust_file && !cli.cfg.third_party_system && !cli.cfg.srp)
        r = est_cli_error(&cli, "give --trust FILE, --fingerprint sha256:HEX, --bootstrap or "
                                "--srp-user NAME");
    if (r == EST_CMD_CONTINUE) {
        if (bootstrap || d.fingerprint) {
            cli.cfg.bootstrap = decide;
            cli.cfg.bootstrap_arg = &d;
        }
        r = run(&cli, &d, out);
    }
    est_cli_free(&cli);
    return r;
}
