/* libFuzzer target: csr_decode_fast (src/lib/csr_fast.c) against
 * OpenSSL's d2i_X509_REQ on arbitrary DER. Whatever the fast path accepts,
 * OpenSSL must accept too, as the same bytes, the same key and the same
 * verdict on the signature; anything else aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include "csr_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509_REQ *fast = csr_decode_fast(data, size), *stock;
    const unsigned char *p = data;
    unsigned char *again = NULL;
    EVP_PKEY *fast_key, *stock_key;
    int len;

    if (fast == NULL)
        return 0;
    stock = d2i_X509_REQ(NULL, &p, (long)size);
    if (stock == NULL || p != data + size)
        abort();
    len = i2d_X509_REQ(fast, &again);
    if (len < 0 || (size_t)len != size || memcmp(again, data, size) != 0)
        abort();
    fast_key = X509_REQ_get0_pubkey(fast);
    stock_key = X509_REQ_get0_pubkey(stock);
    if (fast_key == NULL || stock_key == NULL || EVP_PKEY_eq(fast_key, stock_key) != 1 ||
        (X509_REQ_verify(fast, fast_key) == 1) != (X509_REQ_verify(stock, stock_key) == 1))
        abort();
    OPENSSL_free(again);
    X509_REQ_free(stock);
    X509_REQ_free(fast);
    return 0;
}
