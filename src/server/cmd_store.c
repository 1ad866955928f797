/* estd store copy DIR --to STORE: moves a store between backends (issue
 * #16), SQLite to PostgreSQL when a site grows to several nodes, or back.
 * Every row goes (certificates, users, pending requests, one-time codes,
 * the audit log, the salt, the CRL number), checked by row counts and a
 * SHA-256 over both sides (est_store_copy). estd.conf is left alone: the
 * operator stops the nodes, copies, then points `store =` at the copy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd_common.h"

static const char store_usage[] =
    "usage: estd store copy DIR --to STORE\n"
    "Copies every row of DIR's store (estd.conf `store`) into STORE, which must be\n"
    "empty or not exist yet: a PostgreSQL URI (postgresql://...) or keyword string\n"
    "(the password in a passfile, PGPASSFILE), or a SQLite file path. The copy is\n"
    "one transaction, checked by row counts and a SHA-256 over both sides; then\n"
    "set `store = STORE` in estd.conf of every node. Stop estd while copying:\n"
    "certificates issued during the copy would not be in it.\n"
    "Prints the rows per table and the digest.\n"
    "Exit status: 0 done, 1 error.\n";

static int store_copy(int argc, char **argv)
{
    enum { O_TO = 256 };
    static const struct option options[] = {{"to", required_argument, NULL, O_TO},
                                            {"help", no_argument, NULL, 'h'}, {0}};
    const char *cmd = "store copy", *to = NULL;
    estd_config *cfg = NULL;
    est_store_copy_report report;
    est_error err;
    int opt, status = ESTD_EXIT_ERROR;

    while ((opt = estd_getopt(argc, argv, "h", options, cmd)) != -1) {
        if (opt == 'h') {
            fputs(store_usage, stdout);
            return ESTD_EXIT_OK;
        }
        if (opt != O_TO)
            return ESTD_EXIT_ERROR;
        to = optarg;
    }
    if (optind + 1 != argc || to == NULL)
        return estd_usage_error(cmd, "expected DIR --to STORE");
    if ((cfg = calloc(1, sizeof *cfg)) == NULL) {
        estd_fail(cmd, "out of memory");
        return ESTD_EXIT_ERROR;
    }
    if (estd_config_load(cfg, argv[optind], &err) != EST_OK) {
        estd_fail(cmd, "%s", err.message);
        goto out;
    }
    if (strcmp(cfg->store, to) == 0) {
        estd_fail(cmd, "%s is DIR's own store", to);
        goto out;
    }
    if (est_store_copy(cfg->store, to, &report, &err) != EST_OK) {
        estd_fail(cmd, "%s", err.message);
        goto out;
    }
    for (size_t i = 0; est_store_copy_table(i) != NULL; i++)
        printf("%s %llu\n", est_store_copy_table(i), (unsigned long long)report.rows[i]);
    printf("sha256 %s\n", report.sha256);
    status = ESTD_EXIT_OK;
out:
    free(cfg);
    return status;
}

int estd_store_main(int argc, char **argv)
{
    static const estd_subcommand table[] = {{"copy", store_copy}};

    return estd_subcommand_run("store", table, sizeof table / sizeof table[0], store_usage,
                               "expected copy", argc, argv);
}
