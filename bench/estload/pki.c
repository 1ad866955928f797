/* estload: keys, CSRs and client identities.
 *
 * CSRs are made before the clock starts so the load generator spends its
 * measured time on the wire, not on its own signatures. EC keys are cheap,
 * so every EC CSR has its own key; an RSA-2048 key takes ~100 ms to make,
 * so RSA CSRs share a small pool of keys and differ by subject. The server
 * verifies and signs every one either way. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "estkit.h"
#include "estload.h"

/* One base64 DER CSR per line in a CSR file; lines longer are refused. */
#define CSR_LINE_MAX (16 * 1024)
/* Most CSRs one file holds. */
#define CSR_FILE_MAX_COUNT 1000000
/* Most client identities one directory holds. */
#define IDENTITIES_MAX 20000

EVP_PKEY *pki_keygen(const char *key_type)
{
    if (strcmp(key_type, "ec-p256") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (strcmp(key_type, "rsa-2048") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    return NULL;
}

char *pki_csr_b64(EVP_PKEY *key, const char *cn, const X509_NAME *name)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *subject = NULL;
    unsigned char *der = NULL;
    char *b64 = NULL;
    int len;

    if (req == NULL || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
        !X509_REQ_set_pubkey(req, key))
        goto out;
    if (name != NULL) {
        if (!X509_REQ_set_subject_name(req, name))
            goto out;
    } else {
        subject = X509_NAME_new();
        if (subject == NULL ||
            !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                        -1, -1, 0) ||
            !X509_REQ_set_subject_name(req, subject))
            goto out;
    }
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0 || (len = i2d_X509_REQ(req, &der)) <= 0)
        goto out;
    b64 = malloc(((size_t)len + 2) / 3 * 4 + 1);
    if (b64 != NULL)
        EVP_EncodeBlock((unsigned char *)b64, der, len);
out:
    OPENSSL_free(der);
    X509_NAME_free(subject);
    X509_REQ_free(req);
    return b64;
}

/* prefix-N subjects; keys from a pool of key_pool (0 = one per CSR). */
int pki_csrs_generate(load_csrs *csrs, const char *key_type, size_t count, size_t key_pool,
                      const char *prefix, int keep_keys)
{
    size_t pool = key_pool == 0 || key_pool > count ? count : key_pool;
    EVP_PKEY **keys = calloc(pool ? pool : 1, sizeof *keys);
    char cn[128];
    int rc = -1;

    memset(csrs, 0, sizeof *csrs);
    csrs->csr_b64 = calloc(count ? count : 1, sizeof *csrs->csr_b64);
    csrs->keys = keep_keys ? calloc(count ? count : 1, sizeof *csrs->keys) : NULL;
    if (keys == NULL || csrs->csr_b64 == NULL || (keep_keys && csrs->keys == NULL))
        goto out;
    for (size_t i = 0; i < pool; i++)
        if ((keys[i] = pki_keygen(key_type)) == NULL)
            goto out;
    for (size_t i = 0; i < count; i++) {
        EVP_PKEY *key = keys[i % pool];
        snprintf(cn, sizeof cn, "%s-%zu", prefix, i);
        if ((csrs->csr_b64[i] = pki_csr_b64(key, cn, NULL)) == NULL)
            goto out;
        csrs->count = i + 1;
        if (keep_keys) {
            if (!EVP_PKEY_up_ref(key))
                goto out;
            csrs->keys[i] = key;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; keys != NULL && i < pool; i++)
        EVP_PKEY_free(keys[i]);
    free(keys);
    return rc;
}

int pki_csrs_write(const load_csrs *csrs, const char *path)
{
    FILE *f = fopen(path, "w");
    int rc = -1;

    if (f == NULL)
        return -1;
    for (size_t i = 0; i < csrs->count; i++)
        if (fprintf(f, "%s\n", csrs->csr_b64[i]) < 0)
            goto out;
    rc = 0;
out:
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int pki_csrs_read(load_csrs *csrs, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t n;
    int rc = -1;

    memset(csrs, 0, sizeof *csrs);
    if (f == NULL)
        return -1;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (n > CSR_LINE_MAX || csrs->count >= CSR_FILE_MAX_COUNT)
            goto out;
        if (csrs->count == alloc) {
            size_t grown = alloc ? alloc * 2 : 1024;
            char **p = realloc(csrs->csr_b64, grown * sizeof *p);
            if (p == NULL)
                goto out;
            csrs->csr_b64 = p;
            alloc = grown;
        }
        if ((csrs->csr_b64[csrs->count] = strdup(line)) == NULL)
            goto out;
        csrs->count++;
    }
    rc = csrs->count > 0 ? 0 : -1;
out:
    free(line);
    fclose(f);
    return rc;
}

void pki_csrs_free(load_csrs *csrs)
{
    for (size_t i = 0; i < csrs->count; i++) {
        free(csrs->csr_b64[i]);
        if (csrs->keys != NULL)
            EVP_PKEY_free(csrs->keys[i]);
    }
    free(csrs->csr_b64);
    free(csrs->keys);
    memset(csrs, 0, sizeof *csrs);
}

static int load_one(const char *dir, size_t i, load_identity *id, int with_reenroll)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/client-%zu.crt", dir, i);
    if ((f = fopen(path, "r")) == NULL)
        return errno == ENOENT ? 1 : -1;
    id->cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/client-%zu.key", dir, i);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    id->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (id->cert == NULL || id->key == NULL || X509_check_private_key(id->cert, id->key) != 1)
        return -1;
    /* RFC 7030 §4.2.2: a renewal keeps the subject (and the key here). */
    if (with_reenroll &&
        (id->reenroll_csr_b64 = pki_csr_b64(id->key, NULL, X509_get_subject_name(id->cert))) ==
            NULL)
        return -1;
    return 0;
}

int pki_identities_load(const char *dir, int with_reenroll, load_identity **out, size_t *count)
{
    load_identity *ids = calloc(IDENTITIES_MAX, sizeof *ids);
    size_t n = 0;
    int r = 0;

    *out = NULL;
    *count = 0;
    if (ids == NULL)
        return -1;
    while (n < IDENTITIES_MAX && (r = load_one(dir, n, &ids[n], with_reenroll)) == 0)
        n++;
    if (r < 0 || n == 0) {
        pki_identities_free(ids, n + 1);
        return -1;
    }
    *out = ids;
    *count = n;
    return 0;
}

void pki_identities_free(load_identity *ids, size_t count)
{
    if (ids == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        X509_free(ids[i].cert);
        EVP_PKEY_free(ids[i].key);
        free(ids[i].reenroll_csr_b64);
    }
    free(ids);
}

/* RFC 7030 §4.1.3 / §4.2.3: the body is base64 of a certs-only CMC Simple
 * PKI Response. Decoded and parsed with estkit's codecs (OpenSSL inside). */
int pki_check_certs_only(const char *body, size_t len, X509 **cert, char *why, size_t why_len)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    STACK_OF(X509) *certs = NULL;
    est_error err;
    int rc = -1;

    if (est_body_decode((const uint8_t *)body, len, &der, &der_len, NULL, &err) != EST_OK ||
        est_certs_only_parse(der, der_len, &certs, &err) != EST_OK) {
        snprintf(why, why_len, "response body: %s", err.message);
        goto out;
    }
    if (cert != NULL) {
        *cert = sk_X509_value(certs, 0);
        if (!X509_up_ref(*cert))
            goto out;
    }
    rc = 0;
out:
    sk_X509_pop_free(certs, X509_free);
    est_free(der);
    return rc;
}

/* Writes a PEM file created with mode (0600 for keys: docs/design.md §4). */
static int write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok;

    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    ok = cert != NULL ? PEM_write_X509(f, cert)
                      : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || !ok)
        return -1;
    return 0;
}

int pki_save_identity(const char *dir, size_t index, X509 *cert, EVP_PKEY *key)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/client-%zu.key", dir, index);
    if (write_pem(path, 0600, NULL, key) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/client-%zu.crt", dir, index);
    return write_pem(path, 0644, cert, NULL);
}
