/* estd otp add|list DIR: one-time enrollment codes, for CAs configured
 * with challenge_password = one-time-code (docs/design.md §2: challengePassword's
 * meaning is policy). A device puts its code in the CSR's challengePassword;
 * estd accepts it once, for its CA label (and subject, when the code is
 * bound to one), until it expires.
 *
 * `add` prints the code once; the store keeps only a salted SHA-256 of it
 * (store_sqlite.c, schema_v2, says why that suffices for random codes). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "cmd_common.h"
#include "estkit/name.h"

/* 20 characters of the RFC 4648 base32 alphabet: 100 random bits, easy to
 * read aloud and type (no 0/O, 1/I confusion, one case). */
#define OTP_CODE_CHARS 20
#define OTP_DAYS_DEFAULT 7L
#define OTP_DAYS_MAX 3650L
#define SECONDS_PER_DAY 86400L
/* The longest subject, as RFC 2253 text, a code can be bound to. */
#define OTP_SUBJECT_TEXT_MAX 1024

static const char otp_usage[] =
    "usage: estd otp add DIR [--label LABEL] [--subject DN] [--days N]\n"
    "       estd otp list DIR\n"
    "One-time enrollment codes for CAs with challenge_password = one-time-code.\n"
    "  add   makes a random code, prints it once on stdout and stores only its\n"
    "        salted hash. The device puts it in its CSR's challengePassword; it\n"
    "        enrolls once with the CA LABEL (default: the default CA), within N days\n"
    "        (default 7, at most 3650). --subject DN (\"CN=a,O=b\" or \"/CN=a/O=b\")\n"
    "        binds the code to CSRs with exactly that subject.\n"
    "  list  prints one line per code: ID LABEL SUBJECT EXPIRES STATE, where LABEL\n"
    "        is \"-\" for the default CA, SUBJECT is \"any\" when unbound, and STATE\n"
    "        is unused, expired, or used:TIME[:SERIAL of the certificate issued].\n"
    "Exit status: 0 done, 1 error.\n";

/* Each character takes 5 bits of its own random byte: 256 is a multiple
 * of 32, so every character is uniform. */
static int code_make(char out[OTP_CODE_CHARS + 1])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char rnd[OTP_CODE_CHARS];

    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return -1;
    for (size_t i = 0; i < OTP_CODE_CHARS; i++)
        out[i] = alphabet[rnd[i] & 31];
    out[OTP_CODE_CHARS] = '\0';
    OPENSSL_cleanse(rnd, sizeof rnd);
    return 0;
}

typedef struct otp_add_args {
    const char *label;
    const char *subject_dn;
    long days;
} otp_add_args;

static int otp_add_parse(int argc, char **argv, otp_add_args *a)
{
    enum { O_LABEL = 256, O_SUBJECT, O_DAYS };
    static const struct option options[] = {
        {"label", required_argument, NULL, O_LABEL},
        {"subject", required_argument, NULL, O_SUBJECT},
        {"days", required_argument, NULL, O_DAYS},
        {"help", no_argument, NULL, 'h'}, {0}};
    int opt;

    a->label = "";
    a->subject_dn = NULL;
    a->days = OTP_DAYS_DEFAULT;
    while ((opt = estd_getopt(argc, argv, "h", options, "otp add")) != -1) {
        if (opt == 'h') {
            fputs(otp_usage, stdout);
            return 1;
        }
        if (opt == '?')
            return -1;
        if (opt == O_LABEL)
            a->label = optarg;
        else if (opt == O_SUBJECT)
            a->subject_dn = optarg;
        else if (estd_number_arg("otp add", "--days", optarg, 1, OTP_DAYS_MAX, &a->days) != 0)
            return -1;
    }
    if (optind + 1 != argc) {
        estd_usage_error("otp add", "expected DIR");
        return -1;
    }
    return 0;
}

static int otp_add(int argc, char **argv)
{
    const char *cmd = "otp add";
    char code[OTP_CODE_CHARS + 1] = "", subject[OTP_SUBJECT_TEXT_MAX] = "", detail[96];
    char expires[ESTD_TIME_TEXT_MAX];
    otp_add_args a;
    est_otp_record rec = {0};
    estd_instance *inst = NULL;
    estd_ca *ca;
    X509_NAME *name = NULL;
    est_error err;
    int status = ESTD_EXIT_ERROR, parsed = otp_add_parse(argc, argv, &a);

    if (parsed != 0)
        return parsed > 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
    if (a.subject_dn != NULL) {
        if (est_name_parse(a.subject_dn, &name, &err) != EST_OK) {
            estd_fail(cmd, "--subject: %s", err.message);
            goto out;
        }
        /* As enroll.c compares it: the CSR subject's RFC 2253 text. */
        estd_name_text(name, subject, sizeof subject);
    }
    if ((inst = estd_admin_open(cmd, argv[optind], 0)) == NULL)
        goto out;
    if ((ca = estd_instance_find_ca(inst, a.label)) == NULL) {
        estd_fail(cmd, "no CA with label '%.64s' in estd.conf", a.label);
        goto out;
    }
    if (ca->cfg->challenge != ESTD_CHALLENGE_OTP)
        fprintf(stderr, "estd: %s: note: CA '%s' has challenge_password = channel-binding; "
                        "the code works once it is one-time-code\n", cmd, a.label);
    if (code_make(code) != 0) {
        estd_fail(cmd, "no random bytes for the code");
        goto out;
    }
    rec.label = (char *)a.label;
    rec.subject = a.subject_dn != NULL ? subject : NULL;
    rec.expires_at = (int64_t)time(NULL) + (int64_t)a.days * SECONDS_PER_DAY;
    if (est_store_otp_insert(inst->store, &rec, code, &err) != EST_OK) {
        estd_fail(cmd, "%s: %s", inst->cfg.store, err.message);
        goto out;
    }
    estd_time_text(rec.expires_at, expires);
    snprintf(detail, sizeof detail, "code %lld, expires %s", (long long)rec.id, expires);
    if (estd_admin_audit(cmd, inst, "otp-add", a.label, rec.subject, NULL, detail) != 0)
        goto out;
    printf("%s\n", code);
    status = fflush(stdout) == 0 ? ESTD_EXIT_OK : ESTD_EXIT_ERROR;
out:
    OPENSSL_cleanse(code, sizeof code);
    X509_NAME_free(name);
    estd_instance_free(inst);
    return status;
}

static int print_otp(const est_otp_record *rec, void *arg)
{
    int64_t now = *(const int64_t *)arg;
    char expires[ESTD_TIME_TEXT_MAX], used[ESTD_TIME_TEXT_MAX];

    estd_time_text(rec->expires_at, expires);
    printf("%lld %s %s %s ", (long long)rec->id, rec->label[0] != '\0' ? rec->label : "-",
           rec->subject != NULL ? rec->subject : "any", expires);
    if (rec->used_at != 0) {
        estd_time_text(rec->used_at, used);
        printf("used:%s%s%s\n", used, rec->used_serial != NULL ? ":" : "",
               rec->used_serial != NULL ? rec->used_serial : "");
    } else {
        puts(now >= rec->expires_at ? "expired" : "unused");
    }
    return 0;
}

static est_status list_otps(estd_instance *inst, void *now, est_error *err)
{
    return est_store_otp_list(inst->store, print_otp, now, err);
}

static int otp_list(int argc, char **argv)
{
    const char *cmd = "otp list";
    int64_t now = (int64_t)time(NULL);
    int parsed;

    if ((parsed = estd_operands(cmd, otp_usage, argc, argv, 1, "expected DIR")) >= 0)
        return parsed;
    return estd_admin_list(cmd, argv[optind], list_otps, &now);
}

int estd_otp_main(int argc, char **argv)
{
    static const estd_subcommand table[] = {{"add", otp_add}, {"list", otp_list}};

    return estd_subcommand_run("otp", table, sizeof table / sizeof table[0], otp_usage,
                               "expected add or list", argc, argv);
}
