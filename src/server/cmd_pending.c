/* estd pending list|approve|reject DIR: manual approval (approval = manual
 * in estd.conf). The server answers such an enrollment with 202 and
 * Retry-After and records the CSR (draft-04 §4.2.3); the client repeats the
 * identical request. `approve` issues the certificate at once, from the
 * stored CSR, and links it to the request, so the client's next retry gets
 * it; `reject` makes the next retry a 403 carrying the reason. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd_common.h"
#include "estkit/csr.h"
#include "estkit/ca.h"

/* The rejection reason goes into the client's 403 body: one short line. */
#define PENDING_REASON_MAX 200
#define PENDING_DEFAULT_REASON "rejected by the CA administrator"

static const char pending_usage[] =
    "usage: estd pending list DIR [--all]\n"
    "       estd pending approve DIR ID\n"
    "       estd pending reject DIR ID [--reason TEXT]\n"
    "Requests wait here when estd.conf says approval = manual.\n"
    "  list     one line per waiting request: ID STATUS CREATED LABEL REQUESTER SUBJECT\n"
    "           (--all: approved and rejected ones too)\n"
    "  approve  issues the certificate now from the stored CSR (checked again against\n"
    "           the current profile); the client's next identical request receives it\n"
    "  reject   the client's next identical request gets 403 with the reason\n"
    "           (default \"" PENDING_DEFAULT_REASON "\"; at most 200 characters)\n"
    "Exit status: 0 done, 1 error, 2 nothing to do (already approved/rejected).\n";

static const char *status_text(est_pending_status status)
{
    switch (status) {
    case EST_PENDING_WAITING: return "waiting";
    case EST_PENDING_APPROVED: return "approved";
    case EST_PENDING_REJECTED: return "rejected";
    }
    return "unknown";
}

static int print_pending(const est_pending_record *rec, void *arg)
{
    const int *all = arg;
    char created[ESTD_TIME_TEXT_MAX];

    if (!*all && rec->status != EST_PENDING_WAITING)
        return 0;
    estd_time_text(rec->created_at, created);
    printf("%lld %s %s %s %s %s\n", (long long)rec->id, status_text(rec->status), created,
           rec->label && rec->label[0] ? rec->label : "-",
           rec->requester && rec->requester[0] ? rec->requester : "-",
           rec->subject && rec->subject[0] ? rec->subject : "-");
    return 0;
}

/* Parses [--all] [--reason TEXT] and the operands; returns 1 to go on,
 * 0 after --help, -1 on error. */
static int pending_parse(int argc, char **argv, const char *cmd, int operands, int *all,
                         const char **reason)
{
    enum { O_ALL = 256, O_REASON };
    static const struct option options[] = {{"all", no_argument, NULL, O_ALL},
                                            {"reason", required_argument, NULL, O_REASON},
                                            {"help", no_argument, NULL, 'h'}, {0}};
    int opt;

    while ((opt = estd_getopt(argc, argv, "h", options, cmd)) != -1) {
        if (opt == 'h') {
            fputs(pending_usage, stdout);
            return 0;
        } else if (opt == O_ALL && all != NULL) {
            *all = 1;
        } else if (opt == O_REASON && reason != NULL) {
            *reason = optarg;
        } else {
            if (opt != '?')
                estd_usage_error(cmd, "option not valid here");
            return -1;
        }
    }
    if (optind + operands != argc) {
        estd_usage_error(cmd, operands == 1 ? "expected DIR" : "expected DIR ID");
        return -1;
    }
    return 1;
}

static est_status list_pending(estd_instance *inst, void *all, est_error *err)
{
    return est_store_pending_list(inst->store, print_pending, all, err);
}

static int pending_list(int argc, char **argv)
{
    const char *cmd = "pending list";
    int all = 0, parsed;

    if ((parsed = pending_parse(argc, argv, cmd, 1, &all, NULL)) <= 0)
        return parsed == 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    return estd_admin_list(cmd, argv[optind], list_pending, &all);
}

/* Loads request ID; prints and returns NULL when there is none. */
static est_pending_record *pending_load(const char *cmd, estd_instance *inst, const char *arg)
{
    est_pending_record *rec = NULL;
    est_error err;
    long id;

    if (estd_number_arg(cmd, "ID", arg, 1, LONG_MAX, &id) != 0)
        return NULL;
    if (est_store_pending_get(inst->store, id, &rec, &err) != EST_OK) {
        if (err.code == EST_E_NOT_FOUND)
            estd_fail(cmd, "no pending request %ld", id);
        else
            estd_fail(cmd, "%s: %s", inst->cfg.store, err.message);
        return NULL;
    }
    return rec;
}

/* The stored CSR, checked again: the profile may have changed since. */
static est_status approve_issue(estd_instance *inst, const est_pending_record *rec, X509 **cert,
                                est_error *err)
{
    estd_ca *ca = estd_instance_find_ca(inst, rec->label ? rec->label : "");
    estd_requester who = {rec->requester, rec->auth_method, NULL};
    X509_REQ *csr = NULL;
    est_status rc;

    if (ca == NULL)
        return est_error_set(err, EST_E_CONFIG, "%s/estd.conf: no CA with label '%s' any more",
                             inst->cfg.dir, rec->label);
    if ((rc = est_csr_parse(rec->csr_der, rec->csr_der_len, &csr, err)) != EST_OK ||
        (rc = est_csr_check(csr, &ca->cfg->profile, err)) != EST_OK) {
        est_error_prefix(err, rc, "the stored request");
        goto out;
    }
    rc = estd_issue(inst, ca, csr, NULL, &who, rec->operation ? rec->operation : "enroll", cert,
                    NULL, err);
out:
    X509_REQ_free(csr);
    return rc;
}

static int pending_approve(int argc, char **argv)
{
    const char *cmd = "pending approve";
    est_pending_record *rec = NULL;
    estd_instance *inst = NULL;
    X509 *cert = NULL;
    char serial[41], detail[64];
    est_error err;
    int parsed, status = ESTD_EXIT_ERROR;

    if ((parsed = pending_parse(argc, argv, cmd, 2, NULL, NULL)) <= 0)
        return parsed == 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    if ((inst = estd_admin_open(cmd, argv[optind], ESTD_OPEN_KEYS)) == NULL ||
        (rec = pending_load(cmd, inst, argv[optind + 1])) == NULL)
        goto out;
    if (rec->status != EST_PENDING_WAITING) {
        if (rec->status == EST_PENDING_APPROVED)
            estd_fail(cmd, "request %lld is already approved (certificate %s)", (long long)rec->id,
                      rec->cert_serial ? rec->cert_serial : "?");
        else
            estd_fail(cmd, "request %lld was rejected; the client must send a new request",
                      (long long)rec->id);
        status = rec->status == EST_PENDING_APPROVED ? ESTD_EXIT_NOTHING : ESTD_EXIT_ERROR;
        goto out;
    }
    /* Claim, issue, record (est_store_ops pending_update): of two
     * approvals at once, here or on another node, only one claims. */
    if (est_store_pending_update(inst->store, rec->id, EST_PENDING_APPROVED, NULL,
                                 NULL, &err) != EST_OK) {
        estd_fail(cmd, "request %lld: %s", (long long)rec->id, err.message);
        status = err.code == EST_E_CONFLICT ? ESTD_EXIT_NOTHING : ESTD_EXIT_ERROR;
        goto out;
    }
    if (approve_issue(inst, rec, &cert, &err) != EST_OK ||
        est_serial_to_hex(X509_get0_serialNumber(cert), serial, &err) != EST_OK) {
        estd_fail(cmd, "request %lld: %s", (long long)rec->id, err.message);
        (void)est_store_pending_update(inst->store, rec->id, EST_PENDING_WAITING, NULL, NULL, NULL);
        goto out;
    }
    if (est_store_pending_update(inst->store, rec->id, EST_PENDING_APPROVED, NULL,
                                 serial, &err) != EST_OK) {
        estd_fail(cmd, "request %lld: %s", (long long)rec->id, err.message);
        goto out;
    }
    snprintf(detail, sizeof detail, "request %lld", (long long)rec->id);
    if (estd_admin_audit(cmd, inst, "pending-approve", rec->label, rec->subject, serial, detail) != 0)
        goto out;
    printf("approved request %lld: certificate %s\n", (long long)rec->id, serial);
    status = ESTD_EXIT_OK;
out:
    X509_free(cert);
    est_pending_record_free(rec);
    estd_instance_free(inst);
    return status;
}

/* The reason travels to the client in a one-line 403 body. */
static int reason_ok(const char *reason)
{
    size_t len = strnlen(reason, PENDING_REASON_MAX + 1);

    if (len == 0 || len > PENDING_REASON_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
            return 0;
    return 1;
}

static int pending_reject(int argc, char **argv)
{
    const char *cmd = "pending reject", *reason = PENDING_DEFAULT_REASON;
    est_pending_record *rec = NULL;
    estd_instance *inst = NULL;
    char detail[PENDING_REASON_MAX + 32];
    est_error err;
    int parsed, status = ESTD_EXIT_ERROR;

    if ((parsed = pending_parse(argc, argv, cmd, 2, NULL, &reason)) <= 0)
        return parsed == 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    if (!reason_ok(reason))
        return estd_usage_error(cmd, "--reason: 1-200 characters on one line, no control characters");
    if ((inst = estd_admin_open(cmd, argv[optind], 0)) == NULL ||
        (rec = pending_load(cmd, inst, argv[optind + 1])) == NULL)
        goto out;
    if (rec->status == EST_PENDING_REJECTED) {
        estd_fail(cmd, "request %lld is already rejected", (long long)rec->id);
        status = ESTD_EXIT_NOTHING;
        goto out;
    }
    if (rec->status == EST_PENDING_APPROVED) {
        estd_fail(cmd, "request %lld is already approved; revoke certificate %s instead",
                  (long long)rec->id, rec->cert_serial ? rec->cert_serial : "?");
        goto out;
    }
    if (est_store_pending_update(inst->store, rec->id, EST_PENDING_REJECTED, reason,
                                 NULL, &err) != EST_OK) {
        estd_fail(cmd, "%s: %s", inst->cfg.store, err.message);
        goto out;
    }
    snprintf(detail, sizeof detail, "request %lld: %s", (long long)rec->id, reason);
    if (estd_admin_audit(cmd, inst, "pending-reject", rec->label, rec->subject, NULL, detail) != 0)
        goto out;
    printf("rejected request %lld\n", (long long)rec->id);
    status = ESTD_EXIT_OK;
out:
    est_pending_record_free(rec);
    estd_instance_free(inst);
    return status;
}

int estd_pending_main(int argc, char **argv)
{
    static const estd_subcommand table[] = {{"list", pending_list}, {"approve", pending_approve}, {"reject", pending_reject}};

    return estd_subcommand_run("pending", table, sizeof table / sizeof table[0], pending_usage,
                               "expected list, approve or reject", argc, argv);
}
