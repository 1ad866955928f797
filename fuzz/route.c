/* libFuzzer: est_route_parse on arbitrary request-targets. A parsed route
 * must have a valid label and must parse again, unchanged, from the path
 * rebuilt with est_operation_path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "estkit/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = malloc(size + 1);
    char rebuilt[EST_PATH_MAX + 1];
    est_route r, again;
    est_error err;

    if (path == NULL)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    if (est_route_parse(path, &r, &err) == EST_OK) {
        const char *seg = est_operation_path(r.op, r.dialect);
        if (seg == NULL || (r.label[0] != '\0' && est_label_check(r.label, NULL) != EST_OK))
            abort();
        snprintf(rebuilt, sizeof rebuilt, "%s%s%s/%s", EST_PATH_PREFIX, r.label[0] ? "/" : "",
                 r.label, seg);
        if (est_route_parse(rebuilt, &again, NULL) != EST_OK || again.op != r.op ||
            again.dialect != r.dialect || strcmp(again.label, r.label) != 0)
            abort();
    } else if (err.code == EST_OK || strlen(err.message) == 0) {
        abort();
    }
    free(path);
    return 0;
}
