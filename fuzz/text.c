/* libFuzzer target: est_text_escape on arbitrary bytes. Checks what the
 * log and the audit table rely on: the result is NUL-terminated within its
 * capacity, holds no control byte and no byte that is not part of
 * well-formed UTF-8, and the whole input fits when the result says so. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "estkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *out, size_t cap)
{
    size_t len = strnlen(out, cap);

    if (len == cap)
        abort(); /* not terminated within cap */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f)
            abort();
    }
    /* Escaping it again changes nothing but the backslashes: no raw byte
     * it would escape (control, invalid UTF-8) is left. */
    for (size_t i = 0; i < len;) {
        char item[64];
        size_t n = 1;
        while (i + n < len && ((unsigned char)out[i + n] & 0xC0) == 0x80)
            n++;
        est_text_escape(out + i, n, item, sizeof item);
        if (!(n == 1 && (out[i] == '\\' || out[i] == '"')) &&
            (strlen(item) != n || memcmp(item, out + i, n) != 0))
            abort();
        i += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t caps[] = {1, 4, 17, 256, 4 * size + 1};
    char *out = malloc(4 * size + 1);
    char *dup;

    if (out == NULL)
        return 0;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        int cut = est_text_escape(data, size, out, caps[i]);
        check(out, caps[i]);
        if (i == sizeof caps / sizeof caps[0] - 1 && cut)
            abort(); /* 4 bytes per input byte always fit */
    }
    free(out);
    /* The string form stops at the first NUL. */
    if ((dup = malloc(size + 1)) != NULL) {
        char *escaped;
        memcpy(dup, data, size);
        dup[size] = '\0';
        if ((escaped = est_text_escape_dup(dup, 64)) != NULL && strlen(escaped) > 64)
            abort();
        est_free(escaped);
        free(dup);
    }
    return 0;
}
