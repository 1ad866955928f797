/* estd: the EST server and its administration commands. A table of
 * {name, function, help}; each command lives in its own file (cmd_*.c,
 * serve.c) and is called with argv[0] = its name. */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "keyproc.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"init", estd_init_main, "create a CA, TLS certificate, estd.conf and store in DIR"},
    {"serve", estd_serve_main, "serve EST over HTTPS in the foreground"},
    {"user", estd_user_main, "add, delete or list HTTP Basic/Digest users"},
    {"certs", estd_certs_main, "list issued certificates"},
    {"cert", estd_cert_main, "show one certificate by serial number"},
    {"revoke", estd_revoke_main, "revoke a certificate"},
    {"crl", estd_crl_main, "write a signed CRL of the revoked certificates"},
    {"ca", estd_ca_main, "CA maintenance: root key rollover"},
    {"pending", estd_pending_main, "list, approve or reject requests waiting for approval"},
    {"otp", estd_otp_main, "add or list one-time enrollment codes"},
    {"store", estd_store_main, "copy the store to PostgreSQL or SQLite"},
    {"tls", estd_tls_main, "renew the server's TLS certificate from its CA"},
    {"example-config", estd_example_config_main, "print a commented estd.conf with the defaults"},
    /* Internal, not listed: the signer process `estd serve` starts. */
    {"keyproc", estd_keyproc_main, NULL},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("usage: estd COMMAND [ARGS...]\n"
          "       estd help COMMAND    (or: estd COMMAND --help)\n"
          "       estd --version\n\n"
          "Commands:\n", f);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (commands[i].help != NULL)
            fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
    fputs("\nDIR is an instance directory made by `estd init`; every command but init\n"
          "reads DIR/estd.conf. Administration commands append to the store's audit log.\n\n"
          "Exit status: 0 done, 1 error (one line on stderr: \"estd: COMMAND: reason\"),\n"
          "2 nothing to do (e.g. revoking a revoked certificate).\n", f);
}

static int run(const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].fn(argc, argv);
    fprintf(stderr, "estd: '%s' is not a command; see `estd --help`\n", name);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        (strcmp(argv[1], "help") == 0 && argc == 2)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return estd_version_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0) {
        /* `estd help user add` == `estd user add --help` */
        char help[] = "--help";
        char *args[4] = {argv[2], argc > 3 ? argv[3] : help, argc > 3 ? help : NULL, NULL};
        return run(argv[2], argc > 3 ? 3 : 2, args);
    }
    return run(argv[1], argc - 1, argv + 1);
}
