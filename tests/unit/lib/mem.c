/* Tests src/lib/mem.c: the frees for what the API hands out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include "estkit/mem.h"
#include "unit_main.h"

static void secret_free_accepts_null(void **state)
{
    char *s = OPENSSL_malloc(8);
    (void)state;
    memcpy(s, "secret", 7);
    est_secret_free(s);
    est_secret_free(NULL);
}

/* est_free releases what OpenSSL's allocator made (ASan flags a mismatch
 * or a leak). */
static void free_accepts_openssl_buffers_and_null(void **state)
{
    (void)state;
    est_free(OPENSSL_strdup("buffer"));
    est_free(NULL);
}

UNIT_MAIN(
    cmocka_unit_test(secret_free_accepts_null),
    cmocka_unit_test(free_accepts_openssl_buffers_and_null))
