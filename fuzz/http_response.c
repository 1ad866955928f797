/* libFuzzer: estd_http_response_parse (an upstream's answer to the RA) on
 * arbitrary bytes, with the body limit taken from the first byte. A parse
 * either fails with nothing allocated or yields: a status 100..999, a body
 * no larger than the limit and the input, terminated printable strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "upstream_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    estd_http_response r;
    est_error err;
    size_t max_body;

    if (size == 0)
        return 0;
    max_body = (size_t)data[0] * 64;
    if (estd_http_response_parse(data + 1, size - 1, max_body, &r, &err) != EST_OK) {
        if (r.body != NULL || memchr(err.message, '\0', sizeof err.message) == NULL)
            abort();
        return 0;
    }
    if (r.status < 100 || r.status > 999 || r.body_len > max_body || r.body_len > size ||
        (r.body == NULL) != (r.body_len == 0) ||
        memchr(r.reason, '\0', sizeof r.reason) == NULL ||
        memchr(r.content_type, '\0', sizeof r.content_type) == NULL)
        abort();
    for (const char *p = r.reason; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            abort();
    estd_http_response_release(&r);
    return 0;
}
