/* libFuzzer target: est_cmc_request_parse + est_cmc_request_verify on
 * arbitrary DER (a Full PKI Request, RFC 5272 §3.2). */
#include <stddef.h>
#include <stdint.h>
#include "estkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    est_cmc_request *req = NULL;
    X509 *signer = NULL;
    int index = -1;
    est_error err;

    if (est_cmc_request_parse(data, size, &req, &err) == EST_OK) {
        (void)est_cmc_request_verify(req, &signer, &index, &err);
        est_cmc_request_free(req);
    }
    return 0;
}
