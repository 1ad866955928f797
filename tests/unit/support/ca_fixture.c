/* Test fixtures for the CA unit tests: see ca_fixture.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/x509v3.h>
#include "ca_fixture.h"
#include "estkit/name.h"
#include "estkit/rollover.h"

EVP_PKEY *ca_fixture_key(est_key_type type)
{
    EVP_PKEY *key = NULL;

    return est_key_generate(type, &key, NULL) == EST_OK ? key : NULL;
}

static int csr_add_extensions(X509_REQ *req, const char *dns, int ask_ca)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    GENERAL_NAMES *san = NULL;
    BASIC_CONSTRAINTS *bc = NULL;
    int ok = 0;

    if (exts == NULL)
        goto out;
    if (dns != NULL) {
        GENERAL_NAME *gen = GENERAL_NAME_new();
        ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
        san = GENERAL_NAMES_new();
        if (gen == NULL || ia5 == NULL || san == NULL ||
            !ASN1_STRING_set(ia5, dns, (int)strlen(dns))) {
            GENERAL_NAME_free(gen);
            ASN1_IA5STRING_free(ia5);
            goto out;
        }
        GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
        if (!sk_GENERAL_NAME_push(san, gen)) {
            GENERAL_NAME_free(gen);
            goto out;
        }
        if (X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0, X509V3_ADD_APPEND) != 1)
            goto out;
    }
    if (ask_ca) {
        if ((bc = BASIC_CONSTRAINTS_new()) == NULL)
            goto out;
        bc->ca = 1;
        if (X509V3_add1_i2d(&exts, NID_basic_constraints, bc, 1, X509V3_ADD_APPEND) != 1)
            goto out;
    }
    ok = sk_X509_EXTENSION_num(exts) == 0 || X509_REQ_add_extensions(req, exts);
out:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(san);
    BASIC_CONSTRAINTS_free(bc);
    return ok;
}

X509_REQ *ca_fixture_csr(EVP_PKEY *key, const char *subject_dn, const char *dns, int ask_ca)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = NULL;

    if (req == NULL || key == NULL)
        goto fail;
    if (subject_dn != NULL) {
        if (est_name_parse(subject_dn, &name, NULL) != EST_OK ||
            !X509_REQ_set_subject_name(req, name))
            goto fail;
    }
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_pubkey(req, key) ||
        !csr_add_extensions(req, dns, ask_ca) || X509_REQ_sign(req, key, est_key_digest(key)) <= 0)
        goto fail;
    X509_NAME_free(name);
    return req;
fail:
    X509_NAME_free(name);
    X509_REQ_free(req);
    return NULL;
}

unsigned char *ca_fixture_csr_der(X509_REQ *req, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(req, &der);

    *len = n > 0 ? (size_t)n : 0;
    return n > 0 ? der : NULL;
}

est_ca *ca_fixture_root_ca(est_key_type type, const char *dn, unsigned days, X509 **root,
                           EVP_PKEY **key)
{
    EVP_PKEY *k = ca_fixture_key(type);
    X509 *cert = NULL;
    est_ca *ca = NULL;

    if (k == NULL || est_ca_make_root(k, dn, days, &cert, NULL) != EST_OK)
        goto out;
    ca = est_ca_new(cert, NULL, NULL, est_signer_new_key(k));
    if (ca != NULL && root != NULL && X509_up_ref(cert))
        *root = cert;
    if (ca != NULL && key != NULL && EVP_PKEY_up_ref(k))
        *key = k;
out:
    X509_free(cert);
    EVP_PKEY_free(k);
    return ca;
}

ca_fixture_rollover *ca_fixture_rollover_new(est_key_type old_type, const char *old_dn,
                                             unsigned old_days, est_key_type new_type,
                                             const char *new_dn, unsigned new_days)
{
    ca_fixture_rollover *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->old_ca = ca_fixture_root_ca(old_type, old_dn, old_days, &r->old_root, &r->old_key);
    r->new_key = ca_fixture_key(new_type);
    if (r->old_ca == NULL || r->new_key == NULL ||
        est_ca_rollover(r->old_root, r->old_key, r->new_key, new_dn, new_days, &r->new_root,
                        &r->new_with_old, &r->old_with_new, NULL) != EST_OK) {
        ca_fixture_rollover_free(r);
        return NULL;
    }
    return r;
}

void ca_fixture_rollover_free(ca_fixture_rollover *r)
{
    if (r == NULL)
        return;
    X509_free(r->old_root);
    X509_free(r->new_root);
    X509_free(r->new_with_old);
    X509_free(r->old_with_new);
    EVP_PKEY_free(r->old_key);
    EVP_PKEY_free(r->new_key);
    est_ca_free(r->old_ca);
    free(r);
}

int ca_fixture_verify(X509 *trusted, STACK_OF(X509) *untrusted, X509 *target, X509_CRL *crl)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int result = X509_V_ERR_UNSPECIFIED;

    if (store == NULL || ctx == NULL)
        goto out;
    if (trusted != NULL && !X509_STORE_add_cert(store, trusted))
        goto out;
    if (crl != NULL && (!X509_STORE_add_crl(store, crl) ||
                        !X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK)))
        goto out;
    if (!X509_STORE_CTX_init(ctx, store, target, untrusted))
        goto out;
    result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return result;
}

void *ca_fixture_ext(X509 *cert, int nid, int *critical)
{
    return X509_get_ext_d2i(cert, nid, critical, NULL);
}
