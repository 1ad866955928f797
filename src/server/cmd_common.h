/* estd admin commands: what every cmd_*.c shares. Exit statuses, the
 * one-line failure format, opening DIR, the audit actor and how times and
 * serials look on the command line. */
#ifndef ESTD_CMD_COMMON_H
#define ESTD_CMD_COMMON_H

#include <stdint.h>
#include <openssl/x509.h>
#include "commands.h"
#include "instance.h"

/* docs/design.md §5: 0 done, 1 error (one line on stderr), 2 nothing to do. */
enum {
    ESTD_EXIT_OK = 0,
    ESTD_EXIT_ERROR = 1,
    ESTD_EXIT_NOTHING = 2,
};

/* Opens DIR as estd_instance_open does; on failure prints
 * "estd: COMMAND: reason" (the reason names the file) and returns NULL. */
estd_instance *estd_admin_open(const char *command, const char *dir, unsigned flags);
/* What a `list` subcommand does with the open instance: print through the
 * store's visitor (arg is the subcommand's own). */
typedef est_status (*estd_admin_list_fn)(estd_instance *inst, void *arg, est_error *err);
/* A `list` subcommand: opens dir without keys, runs list, and makes a
 * store error or a failed write to stdout "estd: CMD: reason", exit 1. */
int estd_admin_list(const char *command, const char *dir, estd_admin_list_fn list, void *arg);

/* Who ran an admin command, for the audit log: "admin:<login>". */
const char *estd_admin_actor(void);

/* Audits an admin action; a failure to audit is reported on stderr and
 * makes the command fail (an unaudited change must not look done). */
int estd_admin_audit(const char *command, estd_instance *inst, const char *event,
                     const char *label, const char *subject, const char *serial,
                     const char *detail);

#define ESTD_TIME_TEXT_MAX 32
/* Unix seconds -> "2025-01-31T12:00:00Z" (UTC). */
void estd_time_text(int64_t t, char out[ESTD_TIME_TEXT_MAX]);

/* A name as RFC 2253 text ("CN=x,O=y"), as the store keeps subjects. */
void estd_name_text(const X509_NAME *name, char *out, size_t cap);

/* A SERIAL argument as `openssl x509 -serial` prints it: hex, any case,
 * an optional "serial=" prefix dropped. Returns the hex part, or NULL
 * after printing an error. */
const char *estd_serial_arg(const char *command, const char *arg);

/* For subcommands whose only option is --help: prints usage for --help,
 * checks there are exactly `operands` operands (else a one-line usage error
 * naming `expected`). Returns -1 to go on (operands start at argv[optind]),
 * else the exit status to return. */
int estd_operands(const char *command, const char *usage, int argc, char **argv, int operands,
                  const char *expected);

/* A subcommand of a command group ("user add", "pending approve", ...). */
typedef struct estd_subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
} estd_subcommand;

/* Runs argv[1]'s subcommand with argv shifted by one; --help/-h prints
 * usage; anything else is a one-line usage error naming `expected`. */
int estd_subcommand_run(const char *group, const estd_subcommand *table, size_t count,
                        const char *usage, const char *expected, int argc, char **argv);

/* The stored certificate with this serial, or NULL after a one-line error
 * ("no certificate with serial X" or the store's reason). */
est_cert_record *estd_admin_cert_get(const char *command, estd_instance *inst,
                                     const char *serial);

/* Wrong arguments: one line, "estd: COMMAND: what (see `estd help
 * COMMAND`)", on stderr; returns ESTD_EXIT_ERROR. */
int estd_usage_error(const char *command, const char *what);

/* getopt_long over argv (argv[0] is the command's name) with GNU argument
 * permutation, so options may follow the operands. Returns as getopt_long;
 * for an unknown option or a missing value it prints the problem (one line)
 * and returns '?'. A new argv restarts getopt's scan. */
struct option;
int estd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                const char *command);

/* Whole number in [min, max] from an option value; prints and returns -1
 * when it is not one. */
int estd_number_arg(const char *command, const char *option, const char *text, long min,
                    long max, long *out);

#endif
