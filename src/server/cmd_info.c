/* estd --version and estd example-config: what is installed, and the
 * commented estd.conf that `estd init` writes (installed as the example
 * configuration, generated from this binary so it cannot go stale). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include "commands.h"
#include "config.h"

/* The listen address the example shows; `estd init --listen` changes it. */
#define EXAMPLE_LISTEN "127.0.0.1:8443"

int estd_version_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("estd %s (%s, libevent %s)\n", ESTKIT_VERSION, OpenSSL_version(OPENSSL_VERSION),
           event_get_version());
    return 0;
}

int estd_example_config_main(int argc, char **argv)
{
    est_error err;
    char *text = NULL;

    if (argc > 1) {
        int help = strcmp(argv[1], "--help") == 0;

        fputs("usage: estd example-config\n"
              "Prints a commented estd.conf with the defaults.\n", help ? stdout : stderr);
        return help ? 0 : 1;
    }
    if (estd_config_template(EXAMPLE_LISTEN, &text, &err) != EST_OK) {
        estd_fail("example-config", "%s", err.message);
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}
