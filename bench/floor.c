/* floor: what one keep-alive enrollment costs in OpenSSL 3.0 alone.
 *
 * In one loop over distinct P-256 CSRs, nothing but the CSR parse, its
 * signature check and the certificate's signature, each step timed apart,
 * the stock way (d2i_X509_REQ, X509_REQ_verify, X509_sign + X509_verify)
 * and estkit's way (est_csr_parse, est_csr_check, est_ca_issue_unparsed),
 * plus the bare ECDSA primitives on a kept context. No network, no store,
 * no threads: the floor docs/PERFORMANCE.md compares estd with (issue #19).
 * Best of --rounds rounds, so other processes can only be filtered out. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "estkit.h"

#define CSR_COUNT 64

typedef struct csr_der {
    unsigned char *der;
    int len;
} csr_der;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int make_csrs(csr_der *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509_REQ *req = X509_REQ_new();
        char cn[32];
        int ok;

        snprintf(cn, sizeof cn, "device-%zu", i);
        ok = key != NULL && req != NULL && X509_REQ_set_pubkey(req, key) &&
             X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                                        (const unsigned char *)cn, -1, -1, 0) &&
             X509_REQ_sign(req, key, EVP_sha256()) > 0;
        out[i].der = NULL;
        out[i].len = ok ? i2d_X509_REQ(req, &out[i].der) : -1;
        X509_REQ_free(req);
        EVP_PKEY_free(key);
        if (out[i].len <= 0)
            return 0;
    }
    return 1;
}

enum step { STOCK_PARSE, STOCK_VERIFY, FAST_PARSE, FAST_CHECK, ISSUE, SIGN, POST_VERIFY,
            RAW_SIGN, RAW_VERIFY, STEP_COUNT };
static const char *const step_names[STEP_COUNT] = {
    [STOCK_PARSE] = "stock: d2i_X509_REQ",
    [STOCK_VERIFY] = "stock: X509_REQ_verify",
    [FAST_PARSE] = "estkit: est_csr_parse",
    [FAST_CHECK] = "estkit: est_csr_check (limits, policy, PoP)",
    [ISSUE] = "estkit: est_ca_issue_unparsed (all of it)",
    [SIGN] = "  of which X509_sign alone",
    [POST_VERIFY] = "  of which the post-sign X509_verify",
    [RAW_SIGN] = "ECDSA P-256 sign, kept context (limit's S)",
    [RAW_VERIFY] = "ECDSA P-256 verify, kept context (limit's V)",
};

/* One round: every step over every CSR; per-step us per CSR into t. */
static int round_once(const csr_der *csrs, size_t n, est_ca *ca, EVP_PKEY *ca_key,
                      EVP_PKEY_CTX *sign_ctx, EVP_PKEY_CTX *verify_ctx, double *t)
{
    est_profile profile;
    est_error err;
    unsigned char md[32], sig[80];
    size_t sig_len = sizeof sig;

    est_profile_default(&profile);
    memset(md, 7, sizeof md);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = csrs[i].der;
        X509_REQ *stock, *fast = NULL;
        X509 *cert = NULL;
        double t0 = now_us(), t1, t2, t3, t4, t5, t6, t7;
        int ok;

        stock = d2i_X509_REQ(NULL, &p, csrs[i].len);
        t1 = now_us();
        ok = stock != NULL && X509_REQ_verify(stock, X509_REQ_get0_pubkey(stock)) == 1;
        t2 = now_us();
        ok = ok && est_csr_parse(csrs[i].der, (size_t)csrs[i].len, &fast, &err) == EST_OK;
        t3 = now_us();
        ok = ok && est_csr_check(fast, &profile, &err) == EST_OK;
        t4 = now_us();
        ok = ok && est_ca_issue_unparsed(ca, fast, &profile, NULL, &cert, &err) == EST_OK;
        t5 = now_us();
        ok = ok && X509_sign(cert, ca_key, EVP_sha256()) > 0;
        t6 = now_us();
        ok = ok && X509_verify(cert, ca_key) == 1;
        t7 = now_us();
        t[STOCK_PARSE] += t1 - t0, t[STOCK_VERIFY] += t2 - t1, t[FAST_PARSE] += t3 - t2;
        t[FAST_CHECK] += t4 - t3, t[ISSUE] += t5 - t4, t[SIGN] += t6 - t5;
        t[POST_VERIFY] += t7 - t6;
        t0 = now_us();
        sig_len = sizeof sig;
        ok = ok && EVP_PKEY_sign(sign_ctx, sig, &sig_len, md, sizeof md) == 1;
        t1 = now_us();
        ok = ok && EVP_PKEY_verify(verify_ctx, sig, sig_len, md, sizeof md) == 1;
        t2 = now_us();
        t[RAW_SIGN] += t1 - t0, t[RAW_VERIFY] += t2 - t1;
        X509_REQ_free(stock);
        X509_REQ_free(fast);
        X509_free(cert);
        if (!ok) {
            fprintf(stderr, "floor: CSR %zu: %s\n", i, err.message);
            return 0;
        }
    }
    for (int s = 0; s < STEP_COUNT; s++)
        t[s] /= (double)n;
    return 1;
}

int main(int argc, char **argv)
{
    csr_der csrs[CSR_COUNT];
    double best[STEP_COUNT];
    int rounds = 20, opt;
    EVP_PKEY *ca_key = NULL;
    X509 *ca_cert = NULL;
    est_ca *ca = NULL;
    EVP_PKEY_CTX *sign_ctx = NULL, *verify_ctx = NULL;
    est_error err;

    while ((opt = getopt(argc, argv, "r:")) != -1)
        rounds = opt == 'r' ? atoi(optarg) : rounds;
    if (rounds <= 0 || !make_csrs(csrs, CSR_COUNT) ||
        est_key_generate(EST_KEY_EC_P256, &ca_key, &err) != EST_OK ||
        est_ca_make_root(ca_key, "CN=floor CA", 365, &ca_cert, &err) != EST_OK ||
        (ca = est_ca_new(ca_cert, NULL, NULL, est_signer_new_key(ca_key))) == NULL ||
        (sign_ctx = EVP_PKEY_CTX_new(ca_key, NULL)) == NULL ||
        (verify_ctx = EVP_PKEY_CTX_new(ca_key, NULL)) == NULL ||
        EVP_PKEY_sign_init(sign_ctx) != 1 || EVP_PKEY_verify_init(verify_ctx) != 1) {
        fprintf(stderr, "usage: floor [-r ROUNDS]   (set-up failed)\n");
        return 1;
    }
    for (int s = 0; s < STEP_COUNT; s++)
        best[s] = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t[STEP_COUNT] = {0};
        if (!round_once(csrs, CSR_COUNT, ca, ca_key, sign_ctx, verify_ctx, t))
            return 1;
        for (int s = 0; s < STEP_COUNT; s++)
            best[s] = t[s] < best[s] ? t[s] : best[s];
    }
    printf("P-256 CSRs, us per CSR, best of %d rounds of %d\n", rounds, CSR_COUNT);
    for (int s = 0; s < STEP_COUNT; s++)
        printf("%-48s %8.1f\n", step_names[s], best[s]);
    printf("%-48s %8.1f\n", "stock parse + verify", best[STOCK_PARSE] + best[STOCK_VERIFY]);
    printf("%-48s %8.1f\n", "estkit parse + check", best[FAST_PARSE] + best[FAST_CHECK]);
    for (int i = 0; i < CSR_COUNT; i++)
        OPENSSL_free(csrs[i].der);
    EVP_PKEY_CTX_free(sign_ctx);
    EVP_PKEY_CTX_free(verify_ctx);
    est_ca_free(ca);
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    return 0;
}
