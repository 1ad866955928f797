/* libFuzzer target: est_csr_parse + est_csr_check on arbitrary DER, and
 * est_csr_check_limits under the tightest limits (every refusal path). */
#include <stddef.h>
#include <stdint.h>
#include "estkit.h"
#include "estkit/csr.h"
#include "estkit/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509_REQ *csr = NULL;
    est_profile profile;
    est_error err;

    est_profile_default(&profile);
    if (est_csr_parse(data, size, &csr, &err) == EST_OK) {
        char *pw = NULL;
        GENERAL_NAMES *san;
        est_csr_limits tight = {1, 1, 1, 1, 0, 0, 0, 0};
        (void)est_csr_check(csr, &profile, &err);
        (void)est_csr_check_limits(csr, &tight, &err);
        if (est_csr_get_challenge_password(csr, &pw, &err) == EST_OK)
            est_secret_free(pw);
        san = est_csr_get1_san(csr);
        GENERAL_NAMES_free(san);
        X509_REQ_free(csr);
    }
    return 0;
}
