/* estd tls renew DIR: the server's TLS certificate renewed by hand, as
 * `estd serve` does by itself tls_renew_days before it expires
 * (tls_renew.c). A running estd notices the new file and serves it to new
 * connections without a restart. */
#include <getopt.h>
#include <stdio.h>
#include <time.h>
#include "cmd_common.h"
#include "tls_renew.h"

#define TLS_CMD "tls renew"

static const char tls_usage[] =
    "usage: estd tls renew DIR [--within DAYS] [--force]\n"
    "Renews the TLS server certificate (DIR/estd.conf tls_cert) from the default CA:\n"
    "same key, subject and names, serverAuth, 825 days at most. The file is replaced\n"
    "atomically; a running `estd serve` picks it up within seconds.\n"
    "  --within DAYS  only when it expires within DAYS days (default: tls_renew_days\n"
    "                 from estd.conf, 30 when that is 0)\n"
    "  --force        renew now, whatever the expiry\n"
    "Exit status: 0 renewed, 1 error, 2 not due.\n";

static int renew_main(int argc, char **argv)
{
    enum { O_WITHIN = 256, O_FORCE };
    static const struct option options[] = {{"within", required_argument, NULL, O_WITHIN},
                                            {"force", no_argument, NULL, O_FORCE},
                                            {"help", no_argument, NULL, 'h'},
                                            {0}};
    estd_instance *inst;
    estd_tls_renewal outcome;
    est_error err;
    time_t not_after = 0;
    long within = -1;
    int opt, force = 0, status = ESTD_EXIT_ERROR;
    char when[32];

    while ((opt = estd_getopt(argc, argv, "h", options, TLS_CMD)) != -1) {
        if (opt == 'h') {
            fputs(tls_usage, stdout);
            return ESTD_EXIT_OK;
        } else if (opt == O_FORCE) {
            force = 1;
        } else if (opt != O_WITHIN ||
                   estd_number_arg(TLS_CMD, "--within", optarg, 0, ESTD_TLS_VALIDITY_DAYS,
                                   &within) != 0) {
            return ESTD_EXIT_ERROR;
        }
    }
    if (optind + 1 != argc)
        return estd_usage_error(TLS_CMD, "expected DIR");
    if ((inst = estd_admin_open(TLS_CMD, argv[optind], ESTD_OPEN_KEYS)) == NULL)
        return ESTD_EXIT_ERROR;
    if (within < 0)
        within = inst->cfg.ops.tls_renew_days ? inst->cfg.ops.tls_renew_days
                                              : ESTD_TLS_RENEW_DAYS_DEFAULT;
    if (estd_tls_renew(inst, (unsigned)within, force, &outcome, &not_after, &err) != EST_OK) {
        estd_fail(TLS_CMD, "%s", err.message);
        goto out;
    }
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&not_after));
    if (outcome == ESTD_TLS_NOT_DUE) {
        printf("%s: not due: valid until %s\n", inst->cfg.tls_cert, when);
        status = ESTD_EXIT_NOTHING;
    } else {
        printf("%s: renewed, valid until %s\n", inst->cfg.tls_cert, when);
        status = ESTD_EXIT_OK;
    }
out:
    estd_instance_free(inst);
    return status;
}

int estd_tls_main(int argc, char **argv)
{
    static const estd_subcommand table[] = {{"renew", renew_main}};

    return estd_subcommand_run("tls", table, sizeof table / sizeof table[0], tls_usage,
                               "expected renew", argc, argv);
}
