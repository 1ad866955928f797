/* estd certs list DIR / estd cert show DIR SERIAL: what the store holds
 * about issued certificates (docs/design.md §4: every certificate is in the store
 * before it is sent). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/pem.h>
#include "cmd_common.h"
#include "estkit/csr.h"

#define SECONDS_PER_DAY 86400L
/* --limit: any count a long holds is fine; 0 is refused (nothing to do). */
#define CERTS_LIMIT_MAX 1000000000L
/* --contains: longer than any subject or SAN we would store. */
#define CERTS_CONTAINS_MAX 256
/* A stored DER longer than this is damage, not a certificate. */
#define CERT_SHOW_DER_MAX (1024 * 1024)

static const char certs_usage[] =
    "usage: estd certs list DIR [--expiring DAYS] [--status valid|revoked|expired]\n"
    "                           [--contains TEXT] [--issued-since YYYY-MM-DD] [--limit N]\n"
    "Prints one line per issued certificate, the soonest to expire first:\n"
    "  SERIAL STATUS NOT-AFTER SUBJECT\n"
    "SERIAL is hex as `openssl x509 -serial` prints it; STATUS is valid, revoked or\n"
    "expired; NOT-AFTER is UTC. --expiring DAYS lists only the valid certificates\n"
    "that expire within DAYS days (0: already expired ones are not listed either).\n"
    "--status lists only certificates in that state; --contains only those whose\n"
    "subject or subjectAltName holds TEXT (ASCII case-insensitive); --issued-since\n"
    "only those issued on or after that UTC day; --limit stops after N lines.\n"
    "Exit status: 0 done, 1 error.\n";

static const char cert_usage[] =
    "usage: estd cert show DIR SERIAL\n"
    "Prints what the store knows about the certificate (status, validity, who asked,\n"
    "how) and then the certificate in PEM. SERIAL is hex in any case, as\n"
    "`openssl x509 -serial` prints it (a leading \"serial=\" is accepted).\n"
    "Exit status: 0 done, 1 error (also: no certificate with that serial).\n";

static const char *status_text(const est_cert_record *rec, int64_t now)
{
    if (rec->status == EST_CERT_REVOKED)
        return "revoked";
    return rec->not_after < now ? "expired" : "valid";
}

/* Stored text as it may reach a terminal (issue #12): escaped, and no
 * longer than the csr_max_subject_bytes of the certificate's CA (of the
 * default CA when the label is gone), so a certificate issued before the
 * limits, or with an odd subject, prints one bounded line. "-" for none;
 * NULL only when memory runs out. free() it. */
static char *printable(const estd_config *cfg, const char *label, const char *text)
{
    const estd_ca_config *ca = estd_config_find_ca(cfg, label != NULL ? label : "");
    size_t max = (ca != NULL ? ca : &cfg->cas[0])->profile.csr_limits.max_subject_bytes;

    return est_text_escape_dup(text != NULL && text[0] != '\0' ? text : "-", max);
}

typedef struct list_ctx {
    const estd_config *cfg;
    int64_t now;
    long left; /* lines still to print; 0: no --limit */
    const est_cert_filter *filter;
} list_ctx;

static int print_cert(const est_cert_record *rec, void *arg)
{
    list_ctx *c = arg;
    char not_after[ESTD_TIME_TEXT_MAX], *subject;

    estd_time_text(rec->not_after, not_after);
    subject = printable(c->cfg, rec->label, rec->subject);
    printf("%s %s %s %s\n", rec->serial, status_text(rec, c->now), not_after,
           subject != NULL ? subject : "(out of memory)");
    free(subject);
    return c->left != 0 && --c->left == 0; /* non-zero stops the listing */
}

/* --status: valid = not revoked, not expired; expired = not revoked, past
 * its notAfter. Both are not_after bounds, so they narrow the index range. */
static int status_filter(const char *cmd, const char *arg, int64_t now, est_cert_filter *f)
{
    if (strcmp(arg, "revoked") == 0) {
        f->only_revoked = 1;
        return 0;
    }
    f->only_valid = 1;
    if (strcmp(arg, "valid") == 0) {
        f->not_after_from = now;
        return 0;
    }
    if (strcmp(arg, "expired") == 0) {
        if (f->expiring_before == 0 || f->expiring_before > now)
            f->expiring_before = now;
        return 0;
    }
    estd_usage_error(cmd, "--status is valid, revoked or expired");
    return -1;
}

/* YYYY-MM-DD, UTC midnight, as unix seconds. */
static int day_arg(const char *cmd, const char *arg, int64_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof tm);
    end = strptime(arg, "%Y-%m-%d", &tm);
    if (end == NULL || *end != '\0' || strlen(arg) != 10) {
        estd_usage_error(cmd, "--issued-since is a day as YYYY-MM-DD");
        return -1;
    }
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* Parses the options into the store filter and the line limit; -1 after
 * printing why, 1 after --help, 0 to list. */
static int list_options(int argc, char **argv, const char *cmd, est_cert_filter *f,
                        list_ctx *ctx)
{
    enum { O_EXPIRING = 256, O_STATUS, O_CONTAINS, O_SINCE, O_LIMIT };
    static const struct option options[] = {{"expiring", required_argument, NULL, O_EXPIRING},
                                            {"status", required_argument, NULL, O_STATUS},
                                            {"contains", required_argument, NULL, O_CONTAINS},
                                            {"issued-since", required_argument, NULL, O_SINCE},
                                            {"limit", required_argument, NULL, O_LIMIT},
                                            {"help", no_argument, NULL, 'h'}, {0}};
    const char *status = NULL;
    long days;
    int opt;

    while ((opt = estd_getopt(argc, argv, "h", options, cmd)) != -1) {
        if (opt == 'h') {
            fputs(certs_usage, stdout);
            return 1;
        } else if (opt == O_EXPIRING) {
            if (estd_number_arg(cmd, "--expiring", optarg, 0, EST_VALIDITY_DAYS_MAX, &days) != 0)
                return -1;
            /* Expiring means still valid: from now to now + DAYS. */
            f->expiring_before = ctx->now + (int64_t)days * SECONDS_PER_DAY;
            f->not_after_from = ctx->now;
            f->only_valid = 1;
        } else if (opt == O_STATUS) {
            status = optarg;
        } else if (opt == O_CONTAINS) {
            if (optarg[0] == '\0' || strlen(optarg) > CERTS_CONTAINS_MAX) {
                estd_usage_error(cmd, "--contains is 1-256 characters");
                return -1;
            }
            f->contains = optarg;
        } else if (opt == O_SINCE) {
            if (day_arg(cmd, optarg, &f->issued_since) != 0)
                return -1;
        } else if (opt != O_LIMIT ||
                   estd_number_arg(cmd, "--limit", optarg, 1, CERTS_LIMIT_MAX, &ctx->left) != 0) {
            return -1;
        }
    }
    if (status != NULL && status_filter(cmd, status, ctx->now, f) != 0)
        return -1;
    if (optind + 1 != argc) {
        estd_usage_error(cmd, "expected DIR");
        return -1;
    }
    return 0;
}

static est_status list_certs(estd_instance *inst, void *arg, est_error *err)
{
    list_ctx *ctx = arg;

    ctx->cfg = &inst->cfg;
    return est_store_cert_list(inst->store, ctx->filter, print_cert, ctx, err);
}

static int certs_list(int argc, char **argv)
{
    const char *cmd = "certs list";
    est_cert_filter filter = {0};
    list_ctx ctx = {NULL, (int64_t)time(NULL), 0, &filter};
    int parsed;

    if ((parsed = list_options(argc, argv, cmd, &filter, &ctx)) != 0)
        return parsed > 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    return estd_admin_list(cmd, argv[optind], list_certs, &ctx);
}

static void print_record(const estd_config *cfg, const est_cert_record *rec)
{
    char t[ESTD_TIME_TEXT_MAX];
    int64_t now = (int64_t)time(NULL);
    char *subject = printable(cfg, rec->label, rec->subject);
    char *san = printable(cfg, rec->label, rec->san);
    char *requester = printable(cfg, rec->label, rec->requester);

    printf("serial: %s\nstatus: %s\n", rec->serial, status_text(rec, now));
    if (rec->status == EST_CERT_REVOKED) {
        estd_time_text(rec->revoked_at, t);
        printf("revoked-at: %s\nrevocation-reason: %d\n", t, rec->revocation_reason);
    }
    printf("subject: %s\nsubject-alt-name: %s\n", subject ? subject : "", san ? san : "");
    estd_time_text(rec->not_before, t);
    printf("not-before: %s\n", t);
    estd_time_text(rec->not_after, t);
    printf("not-after: %s\n", t);
    estd_time_text(rec->issued_at, t);
    printf("issued-at: %s\nca-label: %s\nrequester: %s\nauth: %s\noperation: %s\n"
           "public-key-sha256: %s\n",
           t, rec->label && rec->label[0] ? rec->label : "(default)",
           requester ? requester : "", rec->auth_method ? rec->auth_method : "",
           rec->operation ? rec->operation : "", rec->spki_sha256);
    free(subject);
    free(san);
    free(requester);
}

static int cert_show(int argc, char **argv)
{
    const char *cmd = "cert show", *serial;
    est_cert_record *rec = NULL;
    estd_instance *inst = NULL;
    const unsigned char *p;
    X509 *cert = NULL;
    int parsed, status = ESTD_EXIT_ERROR;

    if ((parsed = estd_operands(cmd, cert_usage, argc, argv, 2, "expected DIR SERIAL")) >= 0)
        return parsed;
    if ((serial = estd_serial_arg(cmd, argv[optind + 1])) == NULL ||
        (inst = estd_admin_open(cmd, argv[optind], 0)) == NULL)
        return ESTD_EXIT_ERROR;
    if ((rec = estd_admin_cert_get(cmd, inst, serial)) == NULL)
        goto out;
    p = rec->der;
    if (rec->der_len > CERT_SHOW_DER_MAX || (cert = d2i_X509(NULL, &p, (long)rec->der_len)) == NULL ||
        p != rec->der + rec->der_len) {
        estd_fail(cmd, "%s: the stored certificate %s is unreadable", inst->cfg.store, rec->serial);
        goto out;
    }
    print_record(&inst->cfg, rec);
    if (PEM_write_X509(stdout, cert) != 1 || fflush(stdout) != 0) {
        estd_fail(cmd, "writing to stdout failed");
        goto out;
    }
    status = ESTD_EXIT_OK;
out:
    X509_free(cert);
    est_cert_record_free(rec);
    estd_instance_free(inst);
    return status;
}

int estd_certs_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return certs_list(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(certs_usage, stdout);
        return ESTD_EXIT_OK;
    }
    return estd_usage_error("certs", "expected list");
}

int estd_cert_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "show") == 0)
        return cert_show(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(cert_usage, stdout);
        return ESTD_EXIT_OK;
    }
    return estd_usage_error("cert", "expected show");
}
