/* libFuzzer target: the client's reading of server answers — certs-only
 * bodies (/cacerts, /simpleenroll) and the /serverkeygen multipart — with
 * the Content-Type chosen by the first input byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client_internal.h"
#include "estkit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
    "application/pkcs7-mime; smime-type=certs-only",
    "application/pkcs7-mime",
    "multipart/mixed; boundary=est",
    "multipart/mixed; boundary=\"a b\"",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    est_client_config cfg;
    est_client *client = NULL;
    est_http_response resp;
    STACK_OF(X509) *certs = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    size_t n = sizeof content_types / sizeof content_types[0];

    if (size < 1)
        return 0;
    est_client_config_init(&cfg);
    cfg.server_url = "https://127.0.0.1:8443";
    if (est_client_new(&cfg, &client, NULL) != EST_OK)
        return 0;
    memset(&resp, 0, sizeof resp);
    resp.status = 200;
    snprintf(resp.content_type, sizeof resp.content_type, "%s", content_types[data[0] % n]);
    resp.body = malloc(size);
    if (resp.body != NULL) {
        memcpy(resp.body, data + 1, size - 1);
        resp.len = resp.cap = size - 1;
        if (data[0] % n < 2 || data[0] % n == n - 1) {
            if (client_decode_certs(client, &resp, &certs, NULL) == EST_OK)
                sk_X509_pop_free(certs, X509_free);
        }
        if (data[0] % n >= 2 &&
            client_keygen_parse(client, &resp, &cert, &key, NULL) == EST_OK) {
            X509_free(cert);
            EVP_PKEY_free(key);
        }
    }
    free(resp.body);
    est_client_free(client);
    return 0;
}
