/* libFuzzer target: est_body_decode on arbitrary bytes; whatever decodes
 * must encode in both dialects and decode back to the same DER. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "estkit/body.h"
#include "estkit/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const uint8_t *der, size_t der_len, est_dialect dialect)
{
    char *text = NULL, *label = NULL;
    size_t text_len = 0, back_len = 0;
    uint8_t *back = NULL;

    if (est_body_encode(der, der_len, dialect, "PKCS7", &text, &text_len, NULL) != EST_OK)
        abort(); /* a decoded body is never too large to send back */
    if (est_body_decode((const uint8_t *)text, text_len, &back, &back_len, &label, NULL) != EST_OK ||
        back_len != der_len || memcmp(back, der, der_len) != 0)
        abort();
    if ((dialect == EST_DIALECT_DRAFT) != (label != NULL))
        abort();
    est_free(text);
    est_free(back);
    est_free(label);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    char *label = NULL;
    est_error err;

    if (est_body_decode(data, size, &der, &der_len, &label, &err) != EST_OK)
        return 0;
    if (der_len < 2 || der[0] != 0x30)
        abort();
    /* Only DER small enough to encode within EST_BODY_MAX can round-trip. */
    if (der_len <= EST_BODY_MAX / 2) {
        round_trip(der, der_len, EST_DIALECT_RFC7030);
        round_trip(der, der_len, EST_DIALECT_DRAFT);
    }
    est_free(der);
    est_free(label);
    return 0;
}
