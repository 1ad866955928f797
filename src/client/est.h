/* est: the EST command-line client (docs/design.md §5). main.c holds the command
 * table; each subcommand is NAME_main(argc, argv) in its own file, called
 * with argv[0] = its name; common.c has what they share. */
#ifndef EST_CLI_H
#define EST_CLI_H

#include <getopt.h>
#include <stdio.h>
#include "estkit/client.h"

/* Exit status, for people, cron jobs and systemd timers alike. */
#define EST_EXIT_DONE 0
#define EST_EXIT_ERROR 1   /* one line on stderr: "est: COMMAND: reason" */
#define EST_EXIT_NOTHING 2 /* nothing to do (renew: not due yet) */
#define EST_EXIT_PENDING 3 /* the server answered 202: run the same command later */

/* What one step of a command (an option, a check, loading a file) tells the
 * command: go on with the next step, or stop now and exit with that status.
 * Every value but EST_CMD_CONTINUE is the exit status itself. */
typedef enum est_cmd_outcome {
    EST_CMD_CONTINUE = -1,            /* go on: parse the next option, run the next step */
    EST_CMD_DONE = EST_EXIT_DONE,     /* stop, exit 0 (after --help) */
    EST_CMD_ERROR = EST_EXIT_ERROR,   /* stop, exit 1: the reason is printed */
    EST_CMD_NOTHING = EST_EXIT_NOTHING,
    EST_CMD_PENDING = EST_EXIT_PENDING,
} est_cmd_outcome;

int cacerts_main(int argc, char **argv);      /* cacerts.c */
int csrattrs_main(int argc, char **argv);     /* csrattrs.c */
int enroll_main(int argc, char **argv);       /* enroll.c */
int reenroll_main(int argc, char **argv);     /* enroll.c */
int renew_main(int argc, char **argv);        /* enroll.c */
int serverkeygen_main(int argc, char **argv); /* serverkeygen.c */
int fullcmc_main(int argc, char **argv);      /* fullcmc.c */
int revoke_main(int argc, char **argv);       /* fullcmc.c */

/* Options every command takes, as getopt_long values. */
enum {
    OPT_SERVER = 256,
    OPT_TRUST,
    OPT_THIRD_PARTY_TRUST,
    OPT_SYSTEM_TRUST,
    OPT_LABEL,
    OPT_DIALECT,
    OPT_USER,
    OPT_SRP_USER,
    OPT_PASSWORD_STDIN,
    OPT_PASSWORD_FILE,
    OPT_HTTP_AUTH,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TIMEOUT,
    OPT_MAX_WAIT,
    OPT_TLS_MAX,
    OPT_BASE64_LINE,
    OPT_VERBOSE,
    OPT_HELP,
    OPT_COMMAND_BASE = 512 /* a command's own long options start here */
};

#define EST_CLI_COMMON_OPTIONS                                                   \
    {"server", required_argument, NULL, OPT_SERVER},                             \
    {"trust", required_argument, NULL, OPT_TRUST},                               \
    {"third-party-trust", required_argument, NULL, OPT_THIRD_PARTY_TRUST},       \
    {"system-trust", no_argument, NULL, OPT_SYSTEM_TRUST},                       \
    {"label", required_argument, NULL, OPT_LABEL},                               \
    {"dialect", required_argument, NULL, OPT_DIALECT},                           \
    {"user", required_argument, NULL, OPT_USER},                                 \
    {"srp-user", required_argument, NULL, OPT_SRP_USER},                         \
    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},                   \
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},               \
    {"http-auth", required_argument, NULL, OPT_HTTP_AUTH},                       \
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},                         \
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},                           \
    {"tls-max", required_argument, NULL, OPT_TLS_MAX},                           \
    {"timeout", required_argument, NULL, OPT_TIMEOUT},                           \
    {"max-wait", required_argument, NULL, OPT_MAX_WAIT},                         \
    {"base64-line", required_argument, NULL, OPT_BASE64_LINE},                   \
    {"verbose", no_argument, NULL, OPT_VERBOSE},                                 \
    {"help", no_argument, NULL, OPT_HELP}

typedef struct est_cli {
    const char *command; /* for messages: "est: enroll: ..." */
    const char *usage;   /* the command's own usage text */
    est_client_config cfg;
    int password_stdin;
    const char *password_file;
    char *password;
    int verbose;
    est_client *client; /* borrowed: the one est_cli_client_new made */
} est_cli;

/* Sets cli up for command with its usage text. */
void est_cli_init(est_cli *cli, const char *command, const char *usage);
void est_cli_free(est_cli *cli);

/* Handles a shared option or a getopt error: EST_CMD_CONTINUE to go on
 * parsing, or the exit status to return now (0 after --help, 1 on an error). */
est_cmd_outcome est_cli_option(est_cli *cli, int opt, char **argv);
/* After parsing: no stray arguments, --server given. EST_CMD_CONTINUE or
 * EST_CMD_ERROR. */
est_cmd_outcome est_cli_finish_options(est_cli *cli, int argc, char **argv, int need_trust);

/* One line to stderr, "est: COMMAND: ...". Returns EST_EXIT_ERROR. */
int est_cli_error(const est_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The library's error as one line; returns its exit status (3 for a
 * pending request, else 1). */
int est_cli_fail(const est_cli *cli, const est_error *err);
/* An informational line (stderr), printed with --verbose only. */
void est_cli_info(const est_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the password (stdin or file), then creates the client, which logs
 * each wait on HTTP 202. Returns EST_EXIT_DONE or an exit status after
 * printing the reason. */
int est_cli_client_new(est_cli *cli, est_client **out);

/* Output helpers: PEM to a file (atomically) or to stdout for "-". */
est_status est_cli_write_certs(const char *path, STACK_OF(X509) *certs, est_error *err);
est_status est_cli_write_cert(const char *path, X509 *cert, est_error *err);
/* Reads the key in path; EST_E_NOT_FOUND when the file does not exist. */
est_status est_cli_read_key(const char *path, EVP_PKEY **key, est_error *err);
/* The type of key for est_key_generate (the same algorithm and size). */
est_key_type est_cli_key_type_of(EVP_PKEY *key);
/* Reads one certificate (the first of a PEM file). */
est_status est_cli_read_cert(const char *path, X509 **cert, est_error *err);

/* The state a 202 leaves behind so the next run repeats the same request
 * (draft-04 §4.2.3): OUT.pending.csr and, for a key made for it,
 * OUT.pending.key (0600). pending.c. */
typedef struct est_cli_pending {
    char *csr_path, *key_path;
    uint8_t *csr_der;
    size_t csr_len;
    EVP_PKEY *key; /* from OUT.pending.key, or NULL */
} est_cli_pending;
/* Loads the state for output path out; *found is 0 when there is none. */
est_status est_cli_pending_load(const char *out, est_cli_pending *p, int *found, est_error *err);
/* Saves the CSR and (when non-NULL) the key made for it. */
est_status est_cli_pending_save(const char *out, const uint8_t *csr, size_t csr_len, EVP_PKEY *key,
                            est_error *err);
/* Removes the state files of out. */
void est_cli_pending_remove(const char *out);
void est_cli_pending_free(est_cli_pending *p);

extern const char est_cli_common_help[];

#endif
