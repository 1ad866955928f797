/* The replaceable TLS identity (tls_identity.h). Before the first reload
 * the callback finds nothing to install and the SSL_CTX's own certificate
 * (tls.c) is used, so a server that never reloads pays one lock per
 * handshake and nothing else. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "tls_identity.h"

struct estd_tls_identity {
    pthread_mutex_t lock;
    X509 *cert;                  /* NULL until the first load */
    EVP_PKEY *key;
    STACK_OF(X509) *chain;
    STACK_OF(X509_NAME) *ca_names;
};

static int install(SSL *ssl, void *arg)
{
    estd_tls_identity *id = arg;
    int ok = 1;

    pthread_mutex_lock(&id->lock);
    if (id->cert != NULL) {
        STACK_OF(X509_NAME) *names = sk_X509_NAME_deep_copy(id->ca_names, X509_NAME_dup,
                                                            X509_NAME_free);
        /* override 1: replace what the SSL inherited from the SSL_CTX. */
        ok = SSL_use_cert_and_key(ssl, id->cert, id->key, id->chain, 1) == 1 && names != NULL;
        if (names != NULL)
            SSL_set_client_CA_list(ssl, names);
    }
    pthread_mutex_unlock(&id->lock);
    return ok;
}

estd_tls_identity *estd_tls_identity_new(SSL_CTX *ctx)
{
    estd_tls_identity *id = calloc(1, sizeof *id);

    if (id == NULL)
        return NULL;
    pthread_mutex_init(&id->lock, NULL);
    SSL_CTX_set_cert_cb(ctx, install, id);
    return id;
}

static void identity_clear(X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
                           STACK_OF(X509_NAME) *names)
{
    X509_free(cert);
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
}

void estd_tls_identity_free(estd_tls_identity *id)
{
    if (id == NULL)
        return;
    identity_clear(id->cert, id->key, id->chain, id->ca_names);
    pthread_mutex_destroy(&id->lock);
    free(id);
}

/* The certificate, then its chain, as SSL_CTX_use_certificate_chain_file
 * reads them. */
static est_status read_chain(const char *path, X509 **cert, STACK_OF(X509) **chain, est_error *err)
{
    BIO *in = BIO_new_file(path, "r");
    X509 *c;

    if (in == NULL)
        return est_error_set_openssl(err, EST_E_CONFIG, "%s", path);
    *cert = PEM_read_bio_X509_AUX(in, NULL, NULL, NULL);
    *chain = sk_X509_new_null();
    if (*cert == NULL || *chain == NULL) {
        BIO_free(in);
        return est_error_set_openssl(err, EST_E_CONFIG, "%s: no certificate", path);
    }
    while ((c = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(*chain, c)) {
            X509_free(c);
            BIO_free(in);
            return est_error_set(err, EST_E_NOMEM, "out of memory");
        }
    ERR_clear_error(); /* the end of the file */
    BIO_free(in);
    return EST_OK;
}

static est_status read_key(const char *path, EVP_PKEY **key, est_error *err)
{
    BIO *in = BIO_new_file(path, "r");

    if (in == NULL)
        return est_error_set_openssl(err, EST_E_CONFIG, "%s", path);
    *key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    BIO_free(in);
    return *key != NULL ? EST_OK : est_error_set_openssl(err, EST_E_CONFIG, "%s: no key", path);
}

est_status estd_tls_ca_names(const estd_instance *inst, STACK_OF(X509_NAME) **out, est_error *err)
{
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    STACK_OF(X509_OBJECT) *objs = inst->third_party ? X509_STORE_get0_objects(inst->third_party)
                                                    : NULL;

    if (names == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    for (size_t i = 0; i < inst->ca_count; i++) {
        X509_NAME *n = X509_NAME_dup(X509_get_subject_name(inst->cas[i].cert));
        if (n == NULL || !sk_X509_NAME_push(names, n)) {
            X509_NAME_free(n);
            goto fail;
        }
    }
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *c = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        X509_NAME *n = c ? X509_NAME_dup(X509_get_subject_name(c)) : NULL;
        if (c != NULL && (n == NULL || !sk_X509_NAME_push(names, n))) {
            X509_NAME_free(n);
            goto fail;
        }
    }
    *out = names;
    return EST_OK;
fail:
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return est_error_set(err, EST_E_NOMEM, "out of memory");
}

est_status estd_tls_identity_load(estd_tls_identity *id, const estd_instance *inst, est_error *err)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *chain = NULL;
    STACK_OF(X509_NAME) *names = NULL;
    est_status rc;

    if ((rc = read_chain(inst->cfg.tls_cert, &cert, &chain, err)) != EST_OK ||
        (rc = read_key(inst->cfg.tls_key, &key, err)) != EST_OK ||
        (rc = estd_tls_ca_names(inst, &names, err)) != EST_OK)
        goto out;
    if (X509_check_private_key(cert, key) != 1) {
        rc = est_error_set_openssl(err, EST_E_CONFIG, "%s does not match %s", inst->cfg.tls_key,
                                   inst->cfg.tls_cert);
        goto out;
    }
    pthread_mutex_lock(&id->lock);
    /* Swap: the old values are freed below, outside the lock; an SSL that
     * took them holds its own references. */
    X509 *old_cert = id->cert;
    EVP_PKEY *old_key = id->key;
    STACK_OF(X509) *old_chain = id->chain;
    STACK_OF(X509_NAME) *old_names = id->ca_names;
    id->cert = cert, id->key = key, id->chain = chain, id->ca_names = names;
    pthread_mutex_unlock(&id->lock);
    cert = old_cert, key = old_key, chain = old_chain, names = old_names;
    rc = EST_OK;
out:
    identity_clear(cert, key, chain, names);
    return rc;
}
