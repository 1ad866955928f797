/* libFuzzer: est_basic_parse on arbitrary Authorization values. Whatever
 * parses must build back and parse to the same user and password. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "estkit/auth.h"
#include "estkit/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    char *user = NULL, *password = NULL, *built = NULL, *user2 = NULL, *password2 = NULL;

    if (header == NULL)
        return 0;
    memcpy(header, data, size);
    header[size] = '\0';
    if (est_basic_parse(header, &user, &password, NULL) == EST_OK) {
        if (est_basic_build(user, password, &built, NULL) != EST_OK ||
            est_basic_parse(built, &user2, &password2, NULL) != EST_OK ||
            strcmp(user, user2) != 0 || strcmp(password, password2) != 0)
            abort();
    } else if (user != NULL || password != NULL) {
        abort();
    }
    est_free(user);
    est_free(user2);
    est_secret_free(password);
    est_secret_free(password2);
    est_secret_free(built);
    free(header);
    return 0;
}
