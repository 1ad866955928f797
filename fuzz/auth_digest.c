/* libFuzzer: est_digest_parse on arbitrary Authorization values, then the
 * rest of the server path (algorithm, nonce check, verify) on whatever
 * parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "estkit/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static est_digest_nonces *book;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    est_digest_credentials *cred = NULL;
    char ha1[EST_DIGEST_HEX_MAX];
    est_digest_alg alg;

    if (header == NULL)
        return 0;
    if (book == NULL && (book = est_digest_nonces_new(300)) == NULL)
        abort();
    memcpy(header, data, size);
    header[size] = '\0';
    if (est_digest_parse(header, &cred, NULL) == EST_OK) {
        if (cred->username == NULL || cred->realm == NULL || cred->nonce == NULL ||
            cred->uri == NULL || cred->response == NULL)
            abort();
        est_digest_nonce_check(book, cred->nonce, cred->nc, time(NULL), NULL);
        if (est_digest_alg_parse(cred->algorithm, &alg, NULL) == EST_OK &&
            est_digest_ha1(alg, cred->username, cred->realm, "pw", ha1, NULL) == EST_OK)
            est_digest_verify(cred, ha1, "POST", cred->uri, NULL);
    } else if (cred != NULL) {
        abort();
    }
    est_digest_credentials_free(cred);
    free(header);
    return 0;
}
