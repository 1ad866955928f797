/* A request the server answered with 202 must be repeated as it was
 * (draft-04 §4.2.3: the server recognises the retry; estd by the CSR's
 * hash). A run that stops waiting leaves OUT.pending.csr (PEM) and, when a
 * key was made for the request, OUT.pending.key (0600) next to the output
 * certificate; the next run of the same command sends that CSR again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/buffer.h>
#include <openssl/pem.h>
#include "est.h"
#include "estkit/file.h"

#define PENDING_CSR_SUFFIX ".pending.csr"
#define PENDING_KEY_SUFFIX ".pending.key"
#define PENDING_CSR_FILE_MAX 65536

static char *with_suffix(const char *path, const char *suffix)
{
    char *s = NULL;

    return asprintf(&s, "%s%s", path, suffix) < 0 ? NULL : s;
}

void est_cli_pending_free(est_cli_pending *p)
{
    free(p->csr_path);
    free(p->key_path);
    OPENSSL_free(p->csr_der);
    EVP_PKEY_free(p->key);
    memset(p, 0, sizeof *p);
}

static est_status read_csr(const char *path, uint8_t **der, size_t *len, est_error *err)
{
    uint8_t *text = NULL;
    size_t text_len = 0;
    BIO *bio = NULL;
    X509_REQ *req = NULL;
    int n;
    est_status rc = est_file_read(path, PENDING_CSR_FILE_MAX, &text, &text_len, err);

    if (rc != EST_OK)
        return rc;
    rc = EST_E_INPUT;
    if ((bio = BIO_new_mem_buf(text, (int)text_len)) == NULL ||
        (req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)) == NULL) {
        est_error_set_openssl(err, EST_E_INPUT, "%s: no PEM certificate request", path);
        goto out;
    }
    *der = NULL;
    if ((n = i2d_X509_REQ(req, der)) <= 0) {
        est_error_set_openssl(err, EST_E_INTERNAL, "%s: encoding", path);
        goto out;
    }
    *len = (size_t)n;
    rc = EST_OK;
out:
    X509_REQ_free(req);
    BIO_free(bio);
    OPENSSL_free(text);
    return rc;
}

est_status est_cli_pending_load(const char *out, est_cli_pending *p, int *found, est_error *err)
{
    est_status rc;

    memset(p, 0, sizeof *p);
    *found = 0;
    p->csr_path = with_suffix(out, PENDING_CSR_SUFFIX);
    p->key_path = with_suffix(out, PENDING_KEY_SUFFIX);
    if (p->csr_path == NULL || p->key_path == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    if (access(p->csr_path, F_OK) != 0)
        return errno == ENOENT ? EST_OK : est_error_set(err, EST_E_IO, "%s: %s", p->csr_path,
                                                         strerror(errno));
    if ((rc = read_csr(p->csr_path, &p->csr_der, &p->csr_len, err)) != EST_OK)
        return rc;
    if (access(p->key_path, F_OK) == 0 && (rc = est_key_read_file(p->key_path, &p->key, err)) !=
                                              EST_OK)
        return rc;
    *found = 1;
    return EST_OK;
}

est_status est_cli_pending_save(const char *out, const uint8_t *csr, size_t csr_len, EVP_PKEY *key,
                            est_error *err)
{
    char *csr_path = with_suffix(out, PENDING_CSR_SUFFIX);
    char *key_path = with_suffix(out, PENDING_KEY_SUFFIX);
    const unsigned char *p = csr;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr_len);
    BIO *bio = BIO_new(BIO_s_mem());
    BUF_MEM *mem = NULL;
    est_status rc = EST_E_NOMEM;

    if (csr_path == NULL || key_path == NULL || req == NULL || bio == NULL ||
        PEM_write_bio_X509_REQ(bio, req) != 1) {
        est_error_set_openssl(err, EST_E_NOMEM, "saving the pending request");
        goto out;
    }
    BIO_get_mem_ptr(bio, &mem);
    /* The key first: a CSR without its key could never be completed. */
    if ((key != NULL && (rc = est_key_write_file(key_path, key, err)) != EST_OK) ||
        (rc = est_file_write_atomic(csr_path, mem->data, mem->length, 0644, err)) != EST_OK)
        goto out;
    rc = EST_OK;
out:
    BIO_free(bio);
    X509_REQ_free(req);
    free(csr_path);
    free(key_path);
    return rc;
}

void est_cli_pending_remove(const char *out)
{
    char *csr_path = with_suffix(out, PENDING_CSR_SUFFIX);
    char *key_path = with_suffix(out, PENDING_KEY_SUFFIX);

    if (csr_path != NULL)
        unlink(csr_path);
    if (key_path != NULL)
        unlink(key_path);
    free(csr_path);
    free(key_path);
}
