/* libFuzzer target: est_media_type_parse on arbitrary text; a parsed type
 * has a lowercase "type/subtype" essence that matches itself. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "estkit/media_type.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    est_media_type *mt = NULL;
    est_error err;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (est_media_type_parse(text, &mt, &err) == EST_OK) {
        const char *essence = est_media_type_get0_essence(mt);

        if (essence == NULL || strchr(essence, '/') == NULL || !est_media_type_is(mt, essence))
            abort();
        for (const char *s = essence; *s != '\0'; s++)
            if (isupper((unsigned char)*s))
                abort();
        (void)est_media_type_get0_param(mt, "boundary");
        (void)est_media_type_get0_param(mt, "smime-type");
        est_media_type_free(mt);
    } else if (mt != NULL) {
        abort();
    }
    free(text);
    return 0;
}
