/* tls_floor: what one fresh TLS 1.3 handshake with a client certificate
 * costs a server in OpenSSL 3.0 alone, and with it the best ratio any
 * server on this stack can reach for enroll-fresh (issue #19).
 *
 * One process, one thread: an OpenSSL client and server handshake over a
 * memory BIO pair (no sockets, no HTTP, no estd), ec-p256 keys throughout
 * (CA, server certificate sent with the CA as its chain, client
 * certificate), set up the way estd sets up its SSL_CTX (src/server/tls.c):
 * stateless tickets (one) or none, the client certificate requested and
 * either accepted by a callback that skips libssl's path validation (estd's
 * accept_any_chain; authn.c checks the chain later) or validated by
 * X509_verify_cert. Only the server's CPU time inside SSL_do_handshake is
 * counted (CLOCK_THREAD_CPUTIME_ID around each server call), SSL_new +
 * SSL_free apart. Then, timed the same way: the public-key work the limit
 * counts (bench/limits: KX + S + V + V per handshake, + V + S for the
 * enrollment) and the crypto path estd runs per enrollment (est_csr_parse,
 * est_csr_check, est_ca_issue_unparsed, as bench/floor). The ceiling is
 * limit / (server handshake + crypto path). Best of -r rounds. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "estkit.h"

#define PER_ROUND 64  /* handshakes or CSRs per round */
#define PAIR_BUFFER 65536

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

typedef struct pki {
    EVP_PKEY *ca_key, *server_key, *client_key;
    X509 *ca_cert, *server_cert, *client_cert;
    est_ca *ca;
    unsigned char *csr[PER_ROUND]; /* DER, for the crypto path */
    size_t csr_len[PER_ROUND];
} pki;

/* A P-256 CSR for CN=NAME, as DER; *key: its key (EVP_PKEY_free). */
static int make_csr(const char *name, EVP_PKEY **key, unsigned char **der, size_t *der_len)
{
    est_csr_params params = {0};
    X509_NAME *subject = X509_NAME_new();
    X509_REQ *req = NULL;
    est_error err;
    int len = -1;

    *der = NULL;
    if (subject != NULL &&
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)name, -1,
                                   -1, 0) &&
        est_key_generate(EST_KEY_EC_P256, key, &err) == EST_OK) {
        params.key = *key;
        params.subject = subject;
        if (est_csr_build(&params, &req, &err) == EST_OK)
            len = i2d_X509_REQ(req, der);
    }
    X509_REQ_free(req);
    X509_NAME_free(subject);
    *der_len = len > 0 ? (size_t)len : 0;
    return len > 0;
}

/* CA, server and client certificates, CSRs: everything ec-p256. */
static int make_pki(pki *p)
{
    static const char *const names[] = {"localhost"};
    est_profile profile;
    est_error err;
    X509_REQ *req = NULL;
    EVP_PKEY *key = NULL;
    int ok;

    est_profile_default(&profile);
    ok = est_key_generate(EST_KEY_EC_P256, &p->ca_key, &err) == EST_OK &&
         est_ca_make_root(p->ca_key, "CN=tls_floor CA", 365, &p->ca_cert, &err) == EST_OK &&
         (p->ca = est_ca_new(p->ca_cert, NULL, NULL, est_signer_new_key(p->ca_key))) != NULL &&
         est_key_generate(EST_KEY_EC_P256, &p->server_key, &err) == EST_OK &&
         est_ca_issue_for_key(p->ca, p->server_key, NULL, names, 1, &profile, &p->server_cert,
                              &err) == EST_OK &&
         make_csr("client", &p->client_key, &p->csr[0], &p->csr_len[0]);
    ok = ok && est_csr_parse(p->csr[0], p->csr_len[0], &req, &err) == EST_OK &&
         est_ca_issue(p->ca, req, &profile, NULL, &p->client_cert, &err) == EST_OK;
    X509_REQ_free(req);
    OPENSSL_free(p->csr[0]);
    p->csr[0] = NULL;
    for (int i = 0; ok && i < PER_ROUND; i++) {
        char cn[32];
        snprintf(cn, sizeof cn, "device-%d", i);
        ok = make_csr(cn, &key, &p->csr[i], &p->csr_len[i]);
        EVP_PKEY_free(key);
        key = NULL;
    }
    return ok;
}

static void pki_free(pki *p)
{
    for (int i = 0; i < PER_ROUND; i++)
        OPENSSL_free(p->csr[i]);
    est_ca_free(p->ca);
    X509_free(p->ca_cert);
    X509_free(p->server_cert);
    X509_free(p->client_cert);
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->server_key);
    EVP_PKEY_free(p->client_key);
}

typedef struct variant {
    const char *name;
    const char *group;
    int tickets;     /* one stateless ticket, as estd; else none */
    int full_verify; /* X509_verify_cert; else accept the chain as estd */
} variant;

static const variant variants[] = {
    {"P-256  ticket    accept-any", "P-256", 1, 0},
    {"P-256  no-ticket accept-any", "P-256", 0, 0},
    {"P-256  ticket    X509_verify_cert", "P-256", 1, 1},
    {"P-256  no-ticket X509_verify_cert", "P-256", 0, 1},
    {"X25519 ticket    accept-any", "X25519", 1, 0},
    {"X25519 no-ticket accept-any", "X25519", 0, 0},
    {"X25519 ticket    X509_verify_cert", "X25519", 1, 1},
};
#define VARIANT_COUNT (sizeof variants / sizeof variants[0])

/* estd's accept_any_chain: the chain is checked per request (authn.c). */
static int accept_any_chain(X509_STORE_CTX *ctx, void *arg)
{
    (void)ctx, (void)arg;
    return 1;
}

static SSL_CTX *server_ctx(const pki *p, const variant *v)
{
    static const unsigned char session_id_context[] = "estd";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    X509_NAME *name = X509_NAME_dup(X509_get_subject_name(p->ca_cert));

    if (ctx == NULL || names == NULL || name == NULL || !sk_X509_NAME_push(names, name) ||
        !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        SSL_CTX_use_certificate(ctx, p->server_cert) != 1 ||
        SSL_CTX_add1_chain_cert(ctx, p->ca_cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, p->server_key) != 1 ||
        SSL_CTX_set1_groups_list(ctx, v->group) != 1 ||
        X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), p->ca_cert) != 1) {
        X509_NAME_free(sk_X509_NAME_num(names) > 0 ? NULL : name);
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    if (!v->full_verify)
        SSL_CTX_set_cert_verify_callback(ctx, accept_any_chain, NULL);
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, v->tickets ? 1 : 0);
    if (!v->tickets)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    return ctx;
}

/* Like estload --fresh: no session kept, SSL_OP_NO_TICKET (which still
 * offers psk_key_exchange_modes, so the server sends its ticket). */
static SSL_CTX *client_ctx(const pki *p, const variant *v)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        SSL_CTX_use_certificate(ctx, p->client_cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, p->client_key) != 1 ||
        SSL_CTX_set1_groups_list(ctx, v->group) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    return ctx;
}

static int step(SSL *ssl, int *done)
{
    int r = SSL_do_handshake(ssl), e;

    if (r == 1) {
        *done = 1;
        return 1;
    }
    e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* The server's half of a handshake pass, its CPU time added to *t. */
static int server_step(SSL *s, int *done, double *t)
{
    double t0 = cpu_us();
    int ok = step(s, done);

    *t += cpu_us() - t0;
    return ok;
}

/* One full handshake; the server's CPU time in the handshake and in
 * SSL_new + SSL_free added to t[0] and t[1]. */
static int handshake(SSL_CTX *sctx, SSL_CTX *cctx, double t[2])
{
    double t0 = cpu_us();
    SSL *s = SSL_new(sctx), *c;
    BIO *sbio = NULL, *cbio = NULL;
    int sdone = 0, cdone = 0, ok = 1;

    t[1] += cpu_us() - t0;
    c = SSL_new(cctx);
    if (s == NULL || c == NULL || !BIO_new_bio_pair(&sbio, PAIR_BUFFER, &cbio, PAIR_BUFFER)) {
        SSL_free(s);
        SSL_free(c);
        return 0;
    }
    SSL_set_bio(s, sbio, sbio);
    SSL_set_bio(c, cbio, cbio);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    for (int i = 0; ok && i < 8 && !(sdone && cdone); i++) {
        if (!cdone)
            ok = step(c, &cdone);
        if (ok && !sdone)
            ok = server_step(s, &sdone, &t[0]);
    }
    ok = ok && sdone && cdone && SSL_get0_peer_certificate(s) != NULL &&
         SSL_get_verify_result(s) == X509_V_OK;
    SSL_free(c);
    t0 = cpu_us();
    SSL_free(s);
    t[1] += cpu_us() - t0;
    return ok;
}

/* Best of rounds, us per handshake: best[0] handshake, best[1] new+free. */
static int time_variant(const pki *p, const variant *v, int rounds, double best[2])
{
    SSL_CTX *sctx = server_ctx(p, v), *cctx = client_ctx(p, v);
    int ok = sctx != NULL && cctx != NULL;

    best[0] = best[1] = 1e30;
    for (int r = 0; ok && r < rounds; r++) {
        double t[2] = {0, 0};
        for (int i = 0; ok && i < PER_ROUND; i++)
            ok = handshake(sctx, cctx, t);
        best[0] = t[0] / PER_ROUND < best[0] ? t[0] / PER_ROUND : best[0];
        best[1] = t[1] / PER_ROUND < best[1] ? t[1] / PER_ROUND : best[1];
    }
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return ok;
}

/* The crypto path of one enrollment as estd runs it, us per CSR. */
static int time_crypto_path(const pki *p, int rounds, double *best)
{
    est_profile profile;
    est_error err;
    int ok = 1;

    est_profile_default(&profile);
    *best = 1e30;
    for (int r = 0; ok && r < rounds; r++) {
        double t = 0;
        for (int i = 0; ok && i < PER_ROUND; i++) {
            X509_REQ *req = NULL;
            X509 *cert = NULL;
            double t0 = cpu_us();
            ok = est_csr_parse(p->csr[i], p->csr_len[i], &req, &err) == EST_OK &&
                 est_csr_check(req, &profile, &err) == EST_OK &&
                 est_ca_issue_unparsed(p->ca, req, &profile, NULL, &cert, &err) == EST_OK;
            t += cpu_us() - t0;
            X509_free(cert);
            X509_REQ_free(req);
        }
        *best = t / PER_ROUND < *best ? t / PER_ROUND : *best;
    }
    return ok;
}

enum prim { SIGN, VERIFY, KX_P256, KX_X25519, PRIM_COUNT };

/* One primitive once: a SHA-256 of a TBS-sized message then sign or
 * verify on a kept context, or an ephemeral key pair + shared secret. */
static int prim_once(enum prim which, EVP_PKEY_CTX *ctx, EVP_PKEY *peer, unsigned char *sig,
                     size_t *sig_len)
{
    static const unsigned char tbs[512];
    unsigned char md[32], secret[64];
    size_t len = sizeof secret;
    EVP_PKEY *mine = NULL;
    EVP_PKEY_CTX *derive = NULL;
    int ok;

    if (which == SIGN || which == VERIFY) {
        SHA256(tbs, sizeof tbs, md);
        if (which == VERIFY)
            return EVP_PKEY_verify(ctx, sig, *sig_len, md, sizeof md) == 1;
        *sig_len = 80;
        return EVP_PKEY_sign(ctx, sig, sig_len, md, sizeof md) == 1;
    }
    ok = EVP_PKEY_keygen(ctx, &mine) == 1 && (derive = EVP_PKEY_CTX_new(mine, NULL)) != NULL &&
         EVP_PKEY_derive_init(derive) == 1 && EVP_PKEY_derive_set_peer(derive, peer) == 1 &&
         EVP_PKEY_derive(derive, secret, &len) == 1;
    EVP_PKEY_CTX_free(derive);
    EVP_PKEY_free(mine);
    return ok;
}

/* The limit's primitives, us each, best of rounds of PER_ROUND calls. */
static int time_primitives(const pki *p, int rounds, double best[PRIM_COUNT])
{
    EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    EVP_PKEY_CTX *ctx[PRIM_COUNT] = {
        EVP_PKEY_CTX_new(p->ca_key, NULL), EVP_PKEY_CTX_new(p->ca_key, NULL),
        EVP_PKEY_CTX_new(p->ca_key, NULL), x25519 ? EVP_PKEY_CTX_new(x25519, NULL) : NULL};
    EVP_PKEY *peer[PRIM_COUNT] = {NULL, NULL, p->client_key, x25519};
    unsigned char sig[80];
    size_t sig_len = sizeof sig;
    int ok = ctx[SIGN] && ctx[VERIFY] && ctx[KX_P256] && ctx[KX_X25519] &&
             EVP_PKEY_sign_init(ctx[SIGN]) == 1 && EVP_PKEY_verify_init(ctx[VERIFY]) == 1 &&
             EVP_PKEY_keygen_init(ctx[KX_P256]) == 1 && EVP_PKEY_keygen_init(ctx[KX_X25519]) == 1 &&
             prim_once(SIGN, ctx[SIGN], NULL, sig, &sig_len);

    for (int w = 0; ok && w < PRIM_COUNT; w++) {
        best[w] = 1e30;
        for (int r = 0; ok && r < rounds; r++) {
            double t0 = cpu_us(), t;
            for (int i = 0; ok && i < PER_ROUND; i++)
                ok = prim_once((enum prim)w, ctx[w], peer[w], sig, &sig_len);
            t = (cpu_us() - t0) / PER_ROUND;
            best[w] = t < best[w] ? t : best[w];
        }
    }
    for (int w = 0; w < PRIM_COUNT; w++)
        EVP_PKEY_CTX_free(ctx[w]);
    EVP_PKEY_free(x25519);
    return ok;
}

static void report(const double prim[PRIM_COUNT], double path, double hs[][2], int rounds)
{
    printf("Server CPU per fresh TLS 1.3 handshake, client certificate, ec-p256, "
           "us, best of %d rounds of %d\n%-36s %9s %9s %9s %9s %8s\n",
           rounds, PER_ROUND, "variant", "handshake", "new+free", "limit", "floor", "ceiling");
    for (size_t i = 0; i < VARIANT_COUNT; i++) {
        const variant *v = &variants[i];
        double kx = prim[strcmp(v->group, "X25519") == 0 ? KX_X25519 : KX_P256];
        double limit = kx + 2 * prim[SIGN] + 3 * prim[VERIFY];
        /* accept-any leaves the client certificate's signature to later:
         * charge the bare V a server must still pay for it. */
        double floor = hs[i][0] + hs[i][1] + path + (v->full_verify ? 0 : prim[VERIFY]);
        printf("%-36s %9.1f %9.1f %9.1f %9.1f %7.1f%%\n", v->name, hs[i][0], hs[i][1], limit,
               floor, 100 * limit / floor);
    }
    printf("\nPublic-key work, kept contexts, us: ECDSA P-256 sign (S) %.1f, verify (V) %.1f,\n"
           "ECDHE P-256 (KX) %.1f, X25519 %.1f; handshake's share of the limit "
           "(KX + S + V + V): %.1f (P-256)\n"
           "Crypto path per enrollment (est_csr_parse + est_csr_check + "
           "est_ca_issue_unparsed): %.1f\n"
           "limit = handshake's + V + S; floor = handshake + new+free + crypto path "
           "(+ V when accept-any);\nceiling = limit / floor: the best enroll-fresh ratio "
           "before HTTP, store and I/O\n",
           prim[SIGN], prim[VERIFY], prim[KX_P256], prim[KX_X25519],
           prim[KX_P256] + prim[SIGN] + 2 * prim[VERIFY], path);
}

int main(int argc, char **argv)
{
    pki p = {0};
    double hs[VARIANT_COUNT][2] = {{0}}, prim[PRIM_COUNT], path;
    int rounds = 10, only = -1, opt;

    while ((opt = getopt(argc, argv, "r:o:")) != -1) {
        if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'o')
            only = atoi(optarg);
        else
            rounds = 0;
    }
    if (rounds <= 0 || only >= (int)VARIANT_COUNT || optind != argc) {
        fprintf(stderr, "usage: tls_floor [-r ROUNDS] [-o ROW (0-%zu): only its handshakes, "
                        "for perf]\n", VARIANT_COUNT - 1);
        return 1;
    }
    if (!make_pki(&p)) {
        fprintf(stderr, "tls_floor: set-up failed\n");
        return 1;
    }
    for (size_t i = 0; i < VARIANT_COUNT; i++) {
        if ((only < 0 || (size_t)only == i) && !time_variant(&p, &variants[i], rounds, hs[i])) {
            fprintf(stderr, "tls_floor: %s: handshake failed\n", variants[i].name);
            return 1;
        }
    }
    if (only >= 0)
        printf("%s: server handshake %.1f us, new+free %.1f us\n", variants[only].name,
               hs[only][0], hs[only][1]);
    else if (!time_primitives(&p, rounds, prim) || !time_crypto_path(&p, rounds, &path)) {
        fprintf(stderr, "tls_floor: crypto timing failed\n");
        return 1;
    } else
        report(prim, path, hs, rounds);
    pki_free(&p);
    return 0;
}
