/* libFuzzer: keyproc_request_check, the signer process's parser of what
 * the network process sends (src/server/keyproc_wire.c), on arbitrary
 * bytes against one P-256 key whose CA is "CN=fuzz CA". It must never
 * crash; an accepted request's payload lies inside the message and names
 * the one key. Seeds: a TBSCertificate request (issuer CN=fuzz CA). */
#include <stdint.h>
#include <stdlib.h>
#include "estkit.h"
#include "keyproc_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static keyproc_key key;

static void key_init(void)
{
    X509_NAME *name = NULL;

    if (key.key != NULL)
        return;
    if (est_key_generate(EST_KEY_EC_P256, &key.key, NULL) != EST_OK ||
        est_name_parse("CN=fuzz CA", &name, NULL) != EST_OK || (key.cert = X509_new()) == NULL ||
        !X509_set_subject_name(key.cert, name) ||
        keyproc_sig_alg(key.key, 0, &key.sig_alg, NULL) != EST_OK)
        abort();
    X509_NAME_free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keyproc_request req;

    key_init();
    if (keyproc_request_check(&key, 1, data, size, &req, NULL) == EST_OK &&
        (req.key_index != 0 || req.payload != data + KEYPROC_HEADER_BYTES ||
         req.payload_len != size - KEYPROC_HEADER_BYTES))
        abort();
    return 0;
}
