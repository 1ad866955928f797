/* libFuzzer target: est_csrattrs_decode on arbitrary DER, then both
 * encodings. Whatever we write must decode again: the RFC 7030 form to the
 * same bytes, the draft form to the same OIDs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/objects.h>
#include "estkit/csrattrs.h"
#include "estkit/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rfc(const est_csrattrs *attrs)
{
    uint8_t *der = NULL, *der2 = NULL;
    size_t len = 0, len2 = 0;
    est_csrattrs *back = NULL;

    /* BER input can grow when written as DER, so TOO_LARGE is allowed. */
    if (est_csrattrs_encode(attrs, EST_DIALECT_RFC7030, &der, &len, NULL) != EST_OK)
        return;
    if (est_csrattrs_decode(der, len, &back, NULL) != EST_OK ||
        est_csrattrs_count(back) != est_csrattrs_count(attrs) ||
        est_csrattrs_encode(back, EST_DIALECT_RFC7030, &der2, &len2, NULL) != EST_OK ||
        len2 != len || memcmp(der, der2, len) != 0)
        abort();
    est_free(der);
    est_free(der2);
    est_csrattrs_free(back);
}

static void check_draft(const est_csrattrs *attrs)
{
    uint8_t *der = NULL;
    size_t len = 0, i, count = est_csrattrs_count(attrs);
    est_csrattrs *back = NULL;

    if (est_csrattrs_encode(attrs, EST_DIALECT_DRAFT, &der, &len, NULL) != EST_OK)
        return;
    if (est_csrattrs_decode(der, len, &back, NULL) != EST_OK ||
        est_csrattrs_count(back) != count)
        abort();
    for (i = 0; i < count; i++)
        if (est_csrattrs_get0_attribute(back, i) != NULL ||
            OBJ_cmp(est_csrattrs_get0_oid(back, i), est_csrattrs_get0_oid(attrs, i)) != 0)
            abort();
    est_free(der);
    est_csrattrs_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    est_csrattrs *attrs = NULL;

    if (est_csrattrs_decode(data, size, &attrs, NULL) != EST_OK)
        return 0;
    (void)est_csrattrs_has_nid(attrs, NID_pkcs9_challengePassword);
    check_rfc(attrs);
    check_draft(attrs);
    est_csrattrs_free(attrs);
    return 0;
}
