/* libFuzzer target: est_cmc_response_parse on arbitrary DER (a Full PKI
 * Response, RFC 5272 §3.2.3), signature checked, no trust anchors. */
#include <stddef.h>
#include <stdint.h>
#include "estkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    est_cmc_response *resp = NULL;
    est_cmc_ids ids = {0};
    est_error err;

    if (est_cmc_response_parse(data, size, NULL, &resp, &err) == EST_OK) {
        (void)est_cmc_response_check_ids(resp, &ids, &err);
        (void)est_cmc_response_get0_cert_for_key(resp, X509_get0_pubkey(resp->signer));
        est_cmc_response_free(resp);
    }
    return 0;
}
