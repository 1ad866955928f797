/* Freeing what the API hands out: one allocator (OpenSSL's) for every
 * buffer and string estkit returns, so a caller never has to know which
 * function made it (include/estkit/mem.h). */
#include <string.h>
#include <openssl/crypto.h>
#include "estkit/mem.h"

void est_free(void *ptr)
{
    OPENSSL_free(ptr);
}

void est_secret_free(char *secret)
{
    if (secret == NULL)
        return;
    OPENSSL_cleanse(secret, strlen(secret));
    OPENSSL_free(secret);
}
