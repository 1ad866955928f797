/* libFuzzer target: est_multipart_parse. The first input line is the
 * boundary, the rest the body. Whatever parses and can be rebuilt with the
 * same boundary must parse back to the same parts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "estkit/multipart.h"
#include "estkit/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_rebuild(const est_multipart *mp, const char *boundary)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    est_multipart *back = NULL;

    if (est_multipart_build(mp, boundary, &out, &out_len, NULL) != EST_OK)
        return; /* e.g. "--boundary" inside a part: not sendable as is */
    if (est_multipart_parse(out, out_len, boundary, &back, NULL) != EST_OK ||
        est_multipart_part_count(back) != est_multipart_part_count(mp))
        abort();
    for (size_t i = 0; i < est_multipart_part_count(mp); i++) {
        const est_part *a = est_multipart_get0_part(mp, i), *b = est_multipart_get0_part(back, i);

        if (!same_string(a->content_type, b->content_type) ||
            !same_string(a->transfer_encoding, b->transfer_encoding) ||
            a->body_len != b->body_len || (a->body_len > 0 && memcmp(a->body, b->body, a->body_len) != 0))
            abort();
    }
    est_multipart_free(back);
    est_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    char boundary[EST_MULTIPART_MAX_BOUNDARY + 2];
    size_t blen;
    est_multipart *mp = NULL;
    est_error err;

    if (nl == NULL)
        return 0;
    blen = (size_t)(nl - data);
    if (blen > EST_MULTIPART_MAX_BOUNDARY + 1)
        blen = EST_MULTIPART_MAX_BOUNDARY + 1;
    memcpy(boundary, data, blen);
    boundary[blen] = '\0';
    if (est_multipart_parse(nl + 1, size - (size_t)(nl + 1 - data), boundary, &mp, &err) != EST_OK)
        return 0;
    size_t count = est_multipart_part_count(mp);
    if (count == 0 || count > EST_MULTIPART_MAX_PARTS)
        abort();
    check_rebuild(mp, boundary);
    est_multipart_free(mp);
    return 0;
}
