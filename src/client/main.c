/* est: the EST client. A table of {name, function, help}; each command
 * lives in its own file and is called with argv[0] = its name. */
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include "est.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"cacerts", cacerts_main, "get the CA certificates; bootstrap trust in them"},
    {"csrattrs", csrattrs_main, "show the CSR attributes the CA asks for"},
    {"enroll", enroll_main, "get a certificate for a (new) key"},
    {"reenroll", reenroll_main, "renew or rekey a certificate"},
    {"renew", renew_main, "re-enroll when a certificate is due; for cron and timers"},
    {"serverkeygen", serverkeygen_main, "get a key made by the server, and its certificate"},
    {"fullcmc", fullcmc_main, "enroll with a Full PKI Request (CMC)"},
    {"revoke", revoke_main, "revoke a certificate with a CMC revokeRequest"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("usage: est COMMAND --server URL [OPTIONS...]\n"
          "       est help COMMAND    (or: est COMMAND --help)\n"
          "       est --version\n\n"
          "Commands:\n", f);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
    fputs("\nStart with `est cacerts --server URL --bootstrap -o ca.pem` (or --fingerprint\n"
          "sha256:HEX), then pass --trust ca.pem to every other command.\n\n", f);
    fputs(est_cli_common_help, f);
}

static int run(const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].fn(argc, argv);
    fprintf(stderr, "est: '%s' is not a command; see `est --help`\n", name);
    return EST_EXIT_ERROR;
}

int main(int argc, char **argv)
{
    int r;

    if (argc < 2) {
        usage(stderr);
        return EST_EXIT_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        (strcmp(argv[1], "help") == 0 && argc == 2)) {
        usage(stdout);
        return EST_EXIT_DONE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("est %s (%s, libcurl %s)\n", ESTKIT_VERSION, OpenSSL_version(OPENSSL_VERSION),
               curl_version_info(CURLVERSION_NOW)->version);
        return EST_EXIT_DONE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("est: cannot initialise libcurl\n", stderr);
        return EST_EXIT_ERROR;
    }
    if (strcmp(argv[1], "help") == 0) {
        char help[] = "--help";
        char *args[3] = {argv[2], help, NULL};
        r = run(argv[2], 2, args);
    } else {
        r = run(argv[1], argc - 1, argv + 1);
    }
    curl_global_cleanup();
    return r;
}
