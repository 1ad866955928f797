/* estd admin commands: shared helpers (see cmd_common.h). */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bio.h>
#include "cmd_common.h"

void estd_fail(const char *command, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "estd: %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

estd_instance *estd_admin_open(const char *command, const char *dir, unsigned flags)
{
    estd_instance *inst = NULL;
    est_error err;

    if (estd_instance_open(dir, flags, &inst, &err) != EST_OK) {
        estd_fail(command, "%s", err.message);
        return NULL;
    }
    return inst;
}

int estd_admin_list(const char *command, const char *dir, estd_admin_list_fn list, void *arg)
{
    estd_instance *inst = estd_admin_open(command, dir, 0);
    est_error err;
    int status = ESTD_EXIT_OK;

    if (inst == NULL)
        return ESTD_EXIT_ERROR;
    if (list(inst, arg, &err) != EST_OK) {
        estd_fail(command, "%s: %s", inst->cfg.store, err.message);
        status = ESTD_EXIT_ERROR;
    }
    if (fflush(stdout) != 0) {
        estd_fail(command, "writing to stdout failed");
        status = ESTD_EXIT_ERROR;
    }
    estd_instance_free(inst);
    return status;
}

const char *estd_admin_actor(void)
{
    static char actor[EST_USERNAME_MAX + 8];
    struct passwd *pw;

    if (actor[0] == '\0') {
        pw = getpwuid(geteuid());
        if (pw != NULL && pw->pw_name != NULL)
            snprintf(actor, sizeof actor, "admin:%s", pw->pw_name);
        else
            snprintf(actor, sizeof actor, "admin:uid%ld", (long)geteuid());
    }
    return actor;
}

int estd_admin_audit(const char *command, estd_instance *inst, const char *event,
                     const char *label, const char *subject, const char *serial,
                     const char *detail)
{
    est_audit_event ev = {event, label, estd_admin_actor(), subject, serial, detail, 1};
    est_error err;

    if (est_store_audit_append(inst->store, &ev, &err) != EST_OK) {
        estd_fail(command, "%s: audit: %s", inst->cfg.store, err.message);
        return -1;
    }
    return 0;
}

void estd_time_text(int64_t t, char out[ESTD_TIME_TEXT_MAX])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, ESTD_TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, ESTD_TIME_TEXT_MAX, "%lld", (long long)t);
}

void estd_name_text(const X509_NAME *name, char *out, size_t cap)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int n = -1;

    if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
        n = BIO_read(bio, out, cap > 1 ? (int)cap - 1 : 0);
    out[n > 0 ? n : 0] = '\0';
    BIO_free(bio);
}

const char *estd_serial_arg(const char *command, const char *arg)
{
    const char *hex = arg;
    size_t len;

    if (strncasecmp(hex, "serial=", 7) == 0)
        hex += 7;
    len = strlen(hex);
    /* est_serial_to_hex: at most 20 octets = 40 hex digits (RFC 5280 §4.1.2.2). */
    if (len == 0 || len > 40 || strspn(hex, "0123456789abcdefABCDEF") != len) {
        estd_fail(command, "'%.60s' is not a serial number (hex, as `openssl x509 -serial` prints it)",
                  arg);
        return NULL;
    }
    return hex;
}

int estd_usage_error(const char *command, const char *what)
{
    estd_fail(command, "%s (see `estd help %s`)", what, command);
    return ESTD_EXIT_ERROR;
}

int estd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                const char *command)
{
    static char **scanning;
    char what[160];
    int opt;

    if (argv != scanning) {
        scanning = argv;
        optind = 0; /* glibc: 0 restarts the scan, including its permutation state */
    }
    opterr = 0;
    optopt = 0;
    opt = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (opt == '?' || opt == ':') {
        const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        /* glibc sets optopt for a missing value, 0 for an unknown long option. */
        if (strncmp(arg, "--", 2) == 0 && optopt != 0)
            snprintf(what, sizeof what, "option '%.60s' needs a value", arg);
        else if (optopt != 0 && strchr(shortopts, optopt) != NULL)
            snprintf(what, sizeof what, "option '-%c' needs a value", optopt);
        else
            snprintf(what, sizeof what, "unknown option '%.60s'", arg);
        estd_usage_error(command, what);
        return '?';
    }
    return opt;
}

int estd_number_arg(const char *command, const char *option, const char *text, long min,
                    long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        estd_fail(command, "%s: '%.40s' is not a whole number from %ld to %ld", option, text,
                  min, max);
        return -1;
    }
    *out = v;
    return 0;
}

est_cert_record *estd_admin_cert_get(const char *command, estd_instance *inst, const char *serial)
{
    est_cert_record *rec = NULL;
    est_error err;

    if (est_store_cert_get(inst->store, serial, &rec, &err) == EST_OK)
        return rec;
    if (err.code == EST_E_NOT_FOUND)
        estd_fail(command, "no certificate with serial %s", serial);
    else
        estd_fail(command, "%s: %s", inst->cfg.store, err.message);
    return NULL;
}

int estd_subcommand_run(const char *group, const estd_subcommand *table, size_t count,
                        const char *usage, const char *expected, int argc, char **argv)
{
    if (argc >= 2) {
        for (size_t i = 0; i < count; i++)
            if (strcmp(argv[1], table[i].name) == 0)
                return table[i].fn(argc - 1, argv + 1);
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            fputs(usage, stdout);
            return ESTD_EXIT_OK;
        }
    }
    return estd_usage_error(group, expected);
}

int estd_operands(const char *command, const char *usage, int argc, char **argv, int operands,
                  const char *expected)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int opt;

    while ((opt = estd_getopt(argc, argv, "h", options, command)) != -1) {
        if (opt != 'h')
            return ESTD_EXIT_ERROR;
        fputs(usage, stdout);
        return ESTD_EXIT_OK;
    }
    if (optind + operands != argc)
        return estd_usage_error(command, expected);
    return -1;
}
