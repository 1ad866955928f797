/* libFuzzer target: est_certs_only_parse on arbitrary DER; whatever parses
 * must rebuild and parse back to the same certificates. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "estkit/certs_only.h"
#include "estkit/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *certs = NULL, *again = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    est_error err;

    if (est_certs_only_parse(data, size, &certs, &err) != EST_OK)
        return 0;
    if (est_certs_only_build(certs, &der, &der_len, &err) != EST_OK)
        abort(); /* what we accept we can also send */
    if (est_certs_only_parse(der, der_len, &again, &err) != EST_OK ||
        sk_X509_num(again) != sk_X509_num(certs))
        abort();
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (X509_cmp(sk_X509_value(certs, i), sk_X509_value(again, i)) != 0)
            abort();
    est_free(der);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(again, X509_free);
    return 0;
}
