/* estd audit prune DIR [--before TIME] [--keep-rows N]: bounds the audit
 * table (issue #12: under an authentication flood it grew without end).
 * Without options it applies estd.conf's audit_retention_days and
 * audit_max_rows, as `estd serve` does hourly. The prune is itself
 * audited, after the rows are gone, so the log says who removed what. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cmd_common.h"

#define AUDIT_KEEP_ROWS_MAX 1000000000L

static const char audit_usage[] =
    "usage: estd audit prune DIR [--before TIME] [--keep-rows N]\n"
    "Removes old rows from the audit table of DIR's store.\n"
    "  --before TIME  rows written before TIME: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)\n"
    "  --keep-rows N  all but the newest N rows (N >= 1)\n"
    "Without options: as estd.conf's audit_retention_days and audit_max_rows say\n"
    "(estd serve applies them hourly too).\n"
    "Prints how many rows were removed. Exit status: 0 done, 1 error, 2 nothing to remove.\n";

/* "2025-01-31" (midnight UTC) or "2025-01-31T12:00:00Z" -> Unix seconds. */
static int time_arg(const char *text, int64_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof tm);
    end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0') {
        memset(&tm, 0, sizeof tm);
        end = strptime(text, "%Y-%m-%d", &tm);
    }
    if (end == NULL || *end != '\0' || tm.tm_year < 70)
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static int audit_prune(int argc, char **argv)
{
    enum { O_BEFORE = 256, O_KEEP_ROWS };
    static const struct option options[] = {{"before", required_argument, NULL, O_BEFORE},
                                            {"keep-rows", required_argument, NULL, O_KEEP_ROWS},
                                            {"help", no_argument, NULL, 'h'}, {0}};
    const char *cmd = "audit prune";
    est_audit_prune what = {0, 0};
    estd_instance *inst = NULL;
    int64_t removed = 0;
    char detail[128];
    est_error err;
    est_status rc;
    long rows;
    int opt, from_config = 1, status = ESTD_EXIT_ERROR;

    while ((opt = estd_getopt(argc, argv, "h", options, cmd)) != -1) {
        if (opt == 'h') {
            fputs(audit_usage, stdout);
            return ESTD_EXIT_OK;
        }
        if (opt == O_BEFORE && time_arg(optarg, &what.before) != 0)
            return estd_usage_error(cmd, "--before takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
        if (opt == O_KEEP_ROWS) {
            if (estd_number_arg(cmd, "--keep-rows", optarg, 1, AUDIT_KEEP_ROWS_MAX, &rows) != 0)
                return ESTD_EXIT_ERROR;
            what.keep_rows = rows;
        }
        if (opt == '?')
            return ESTD_EXIT_ERROR;
        from_config = 0;
    }
    if (optind + 1 != argc)
        return estd_usage_error(cmd, "expected DIR");
    if ((inst = estd_admin_open(cmd, argv[optind], 0)) == NULL)
        return ESTD_EXIT_ERROR;
    rc = from_config ? estd_audit_prune_retention(inst, (int64_t)time(NULL), &removed, &err)
                     : est_store_audit_prune(inst->store, &what, &removed, &err);
    if (rc != EST_OK) {
        estd_fail(cmd, "%s: %s", inst->cfg.store, err.message);
        goto out;
    }
    printf("removed %lld audit rows\n", (long long)removed);
    snprintf(detail, sizeof detail, "removed %lld rows", (long long)removed);
    if (removed > 0 && estd_admin_audit(cmd, inst, "audit-prune", "", NULL, NULL, detail) != 0)
        goto out;
    status = removed > 0 ? ESTD_EXIT_OK : ESTD_EXIT_NOTHING;
out:
    estd_instance_free(inst);
    return status;
}

int estd_audit_main(int argc, char **argv)
{
    static const estd_subcommand table[] = {{"prune", audit_prune}};

    return estd_subcommand_run("audit", table, sizeof table / sizeof table[0], audit_usage,
                               "expected prune", argc, argv);
}
