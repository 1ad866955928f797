/* libFuzzer target: est_key_package_open on arbitrary DER with a fixed
 * pre-shared key (the seeds are encrypted under it), and the
 * decrypt-key-identifier CSR attribute reader on the same bytes as a CSR. */
#include <stddef.h>
#include <stdint.h>
#include "estkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key fuzz/corpus/key_package/ seeds were made with. */
static const uint8_t fuzz_kek[16] = "fuzz-kek-16bytes";
static const uint8_t fuzz_kek_id[4] = {0xde, 0xad, 0xbe, 0xef};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    est_key_package_recipient as = {.kek = fuzz_kek, .kek_len = sizeof fuzz_kek,
                                    .kek_id = fuzz_kek_id, .kek_id_len = sizeof fuzz_kek_id};
    EVP_PKEY *key = NULL;
    X509_REQ *csr = NULL;
    uint8_t id[EST_DECRYPT_KEY_ID_MAX];
    size_t id_len = 0;

    if (est_key_package_open(data, size, &as, NULL, NULL, &key, NULL) == EST_OK)
        EVP_PKEY_free(key);
    if (est_csr_parse(data, size, &csr, NULL) == EST_OK) {
        (void)est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_SYMMETRIC, id, sizeof id, &id_len,
                                         NULL);
        (void)est_csr_get_decrypt_key_id(csr, EST_DECRYPT_KEY_ASYMMETRIC, id, sizeof id, &id_len,
                                         NULL);
        X509_REQ_free(csr);
    }
    return 0;
}
