/* limits: the public-key crypto ceiling of an EST server on this machine.
 *
 * Times, in-process with OpenSSL, each primitive an EST server pays for
 * (ECDSA P-256 and RSA-2048 sign/verify, ECDHE P-256 and X25519 key
 * exchange, and the scrypt password check estd uses for Basic), then adds
 * up what each bench scenario costs the server per operation and turns it
 * into the ideal ops/s on the cores the server gets: cores / cost. A server
 * reaching that figure spends all its CPU on public-key crypto and nothing
 * on anything else; the ratio of a measured rate to it is how close we are.
 *
 * Server-side cost per operation (S = sign, V = verify, KX = ephemeral
 * key generation + shared secret, all with the scenario's key type):
 *   cacerts       keep-alive GET: no public-key operation at all
 *   enroll-cert   keep-alive: V (CSR self-signature) + S (certificate)
 *   enroll-basic  keep-alive: V + S; scrypt is shown apart (see below)
 *   enroll-fresh  new TLS 1.3 handshake per enrollment, client cert:
 *                 KX + S (CertificateVerify) + V (client cert's signature
 *                 by the CA) + V (client CertificateVerify), then V + S
 *   reenroll      keep-alive: V + S
 * The handshake of a keep-alive connection is paid once and amortised to
 * zero. The ideal never re-verifies a client certificate per request and
 * never re-runs a password hash per request: both are results a server can
 * keep for the life of the connection. `cost_with_password_us` says what
 * the Basic scenarios cost when every request pays scrypt. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include "estkit.h"
#include "estkit/password.h"

/* Bytes signed per operation: about a certificate's TBS. */
#define SIGNED_BYTES 512
#define PRIMITIVE_COUNT 9

typedef struct primitive {
    const char *name;
    double us; /* per operation */
} primitive;

enum { ECDSA_SIGN, ECDSA_VERIFY, RSA_SIGN, RSA_VERIFY, ECDH_P256, ECDH_X25519, SCRYPT };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An operation under test and what it works on, set up once so that the
 * loop times the public-key arithmetic, not OpenSSL's algorithm fetching:
 * the ideal server keeps its contexts too. */
typedef struct bench_op {
    EVP_PKEY_CTX *ctx;     /* sign/verify context, or key generation for KX */
    EVP_PKEY *peer;        /* KX: the client's public share */
    unsigned char sig[512];
    size_t sig_len;
} bench_op;

typedef int (*op_fn)(bench_op *op);

static const unsigned char message[SIGNED_BYTES] = {0};

/* Hash the to-be-signed bytes, then sign the digest (what X509_sign does). */
static int op_sign(bench_op *op)
{
    unsigned char md[32], sig[512];
    size_t len = sizeof sig;

    SHA256(message, sizeof message, md);
    return EVP_PKEY_sign(op->ctx, sig, &len, md, sizeof md) == 1;
}

static int op_verify(bench_op *op)
{
    unsigned char md[32];

    SHA256(message, sizeof message, md);
    return EVP_PKEY_verify(op->ctx, op->sig, op->sig_len, md, sizeof md) == 1;
}

/* The server's half of an ephemeral exchange: a fresh key pair on the
 * group, then the shared secret with the client's share. */
static int op_exchange(bench_op *op)
{
    EVP_PKEY *mine = NULL;
    EVP_PKEY_CTX *derive = NULL;
    unsigned char secret[64];
    size_t len = sizeof secret;
    int ok;

    ok = EVP_PKEY_keygen(op->ctx, &mine) == 1 && (derive = EVP_PKEY_CTX_new(mine, NULL)) != NULL &&
         EVP_PKEY_derive_init(derive) == 1 && EVP_PKEY_derive_set_peer(derive, op->peer) == 1 &&
         EVP_PKEY_derive(derive, secret, &len) == 1;
    EVP_PKEY_CTX_free(derive);
    EVP_PKEY_free(mine);
    return ok;
}

/* Microseconds per call: the best of ROUNDS rounds of seconds/ROUNDS each.
 * Other processes on a shared machine can only make a round slower, so the
 * fastest round is the closest to what the core can do. */
#define ROUNDS 5

static double time_op(op_fn fn, bench_op *op, double seconds)
{
    double best = 0;

    for (int r = 0; r < ROUNDS; r++) {
        double start = now_s(), elapsed, us;
        unsigned long n = 0;
        do {
            if (!fn(op)) {
                fprintf(stderr, "limits: a crypto operation failed\n");
                exit(1);
            }
            n++;
            elapsed = now_s() - start;
        } while (elapsed < seconds / ROUNDS);
        us = elapsed / (double)n * 1e6;
        if (r == 0 || us < best)
            best = us;
    }
    return best;
}

static double time_scrypt(double seconds)
{
    char *encoded = NULL;
    double start, elapsed;
    unsigned long n = 0;

    if (est_password_hash("bench-password", &encoded, NULL) != EST_OK)
        return -1;
    start = now_s();
    do {
        if (est_password_verify("bench-password", encoded, NULL) != EST_OK) {
            est_free(encoded);
            return -1;
        }
        n++;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    est_free(encoded);
    return elapsed / (double)n * 1e6;
}

static EVP_PKEY *make_key(const char *type)
{
    if (strcmp(type, "RSA") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (strcmp(type, "X25519") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static void die(const char *what)
{
    fprintf(stderr, "limits: cannot set up %s\n", what);
    exit(1);
}

/* RSA signs PKCS#1 v1.5 (certificates, CSRs; TLS 1.3's PSS costs the same). */
static void time_signature(const char *type, double seconds, double *sign_us, double *verify_us)
{
    EVP_PKEY *key = make_key(type);
    bench_op op = {0};
    unsigned char md[32];

    SHA256(message, sizeof message, md);
    op.sig_len = sizeof op.sig;
    if (key == NULL || (op.ctx = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
        EVP_PKEY_sign_init(op.ctx) != 1 || EVP_PKEY_CTX_set_signature_md(op.ctx, EVP_sha256()) != 1 ||
        EVP_PKEY_sign(op.ctx, op.sig, &op.sig_len, md, sizeof md) != 1)
        die(type);
    *sign_us = time_op(op_sign, &op, seconds);
    if (EVP_PKEY_verify_init(op.ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(op.ctx, EVP_sha256()) != 1)
        die(type);
    *verify_us = time_op(op_verify, &op, seconds);
    EVP_PKEY_CTX_free(op.ctx);
    EVP_PKEY_free(key);
}

static double time_exchange(const char *group, double seconds)
{
    bench_op op = {0};
    double us;

    op.peer = make_key(group);
    if (op.peer == NULL || (op.ctx = EVP_PKEY_CTX_new(op.peer, NULL)) == NULL ||
        EVP_PKEY_keygen_init(op.ctx) != 1)
        die(group);
    us = time_op(op_exchange, &op, seconds);
    EVP_PKEY_CTX_free(op.ctx);
    EVP_PKEY_free(op.peer);
    return us;
}

typedef struct scenario {
    const char *name;
    int sign, verify, exchange, password;
} scenario;

static const scenario scenarios[] = {
    {"cacerts", 0, 0, 0, 0},
    {"enroll-cert", 1, 1, 0, 0},
    {"enroll-basic", 1, 1, 0, 1},
    {"enroll-fresh", 2, 3, 1, 0},
    {"reenroll", 1, 1, 0, 0},
};

/* Human table to `human`, key=value lines to `kv`; either may be NULL. */
static void print_limits(const primitive *p, double cores, const char *group, FILE *human,
                         FILE *kv)
{
    static const char *const keys[] = {"ec-p256", "rsa-2048"};

    if (human != NULL)
        fprintf(human,
                "\nServer-side public-key cost per operation, ideal rate on %.0f core%s "
                "(key exchange %s):\n%-14s %-9s %10s %12s %18s\n",
                cores, cores == 1 ? "" : "s", group, "scenario", "key", "cost us",
                "ideal ops/s", "ideal w/ scrypt");
    for (int k = 0; k < 2; k++) {
        double s = p[k == 0 ? ECDSA_SIGN : RSA_SIGN].us;
        double v = p[k == 0 ? ECDSA_VERIFY : RSA_VERIFY].us;
        double kx = p[strcmp(group, "X25519") == 0 ? ECDH_X25519 : ECDH_P256].us;
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
            const scenario *sc = &scenarios[i];
            double cost = sc->sign * s + sc->verify * v + sc->exchange * kx;
            double with_pw = cost + (sc->password ? p[SCRYPT].us : 0);
            double ideal = cost > 0 ? cores * 1e6 / cost : 0;
            if (kv != NULL)
                fprintf(kv, "limit scenario=%s key=%s cores=%.0f cost_us=%.1f "
                            "ideal_ops_per_s=%.0f cost_with_password_us=%.1f\n",
                        sc->name, keys[k], cores, cost, ideal, with_pw);
            if (human == NULL)
                continue;
            if (cost == 0)
                fprintf(human, "%-14s %-9s %10s %12s %18s\n", sc->name, keys[k], "0",
                        "(no PK op)", "");
            else if (sc->password)
                fprintf(human, "%-14s %-9s %10.1f %12.0f %18.1f\n", sc->name, keys[k], cost,
                        ideal, cores * 1e6 / with_pw);
            else
                fprintf(human, "%-14s %-9s %10.1f %12.0f %18s\n", sc->name, keys[k], cost,
                        ideal, "");
        }
    }
}

static void print_primitives(const primitive *p, FILE *human, FILE *kv)
{
    if (human != NULL)
        fprintf(human, "Public-key primitives, one thread, OpenSSL %s:\n%-30s %10s %10s\n",
                OpenSSL_version(OPENSSL_VERSION_STRING), "operation", "us/op", "ops/s");
    for (int i = 0; i <= SCRYPT; i++) {
        if (kv != NULL)
            fprintf(kv, "primitive name=\"%s\" us=%.1f ops_per_s=%.1f\n", p[i].name, p[i].us,
                    1e6 / p[i].us);
        if (human != NULL)
            fprintf(human, "%-30s %10.1f %10.1f\n", p[i].name, p[i].us, 1e6 / p[i].us);
    }
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {{"seconds", 1, 0, 's'}, {"cores", 1, 0, 'c'},
                                          {"group", 1, 0, 'g'},   {"kv", 0, 0, 'k'},
                                          {"kv-file", 1, 0, 'f'}, {"help", 0, 0, 'h'},
                                          {0, 0, 0, 0}};
    primitive p[PRIMITIVE_COUNT] = {
        {"ECDSA P-256 sign", 0}, {"ECDSA P-256 verify", 0}, {"RSA-2048 sign", 0},
        {"RSA-2048 verify", 0},  {"ECDHE P-256 (keygen+derive)", 0},
        {"ECDHE X25519 (keygen+derive)", 0}, {"scrypt password check (estd)", 0}};
    double seconds = 0.5, cores = 1;
    const char *group = "P-256", *kv_file = NULL;
    FILE *kv_out = NULL;
    int kv = 0, ch;

    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 's': seconds = atof(optarg); break;
        case 'c': cores = atof(optarg); break;
        case 'g': group = optarg; break;
        case 'k': kv = 1; break;
        case 'f': kv_file = optarg; break;
        default:
            printf("usage: limits [--seconds S] [--cores N] [--group P-256|X25519] [--kv]\n"
                   "              [--kv-file FILE]\n"
                   "Times the public-key primitives an EST server needs (one thread) and\n"
                   "prints the ideal ops/s of each bench scenario on N cores.\n");
            return ch == 'h' ? 0 : 1;
        }
    }
    if (kv && kv_file != NULL) {
        fprintf(stderr, "limits: --kv and --kv-file exclude each other\n");
        return 1;
    }
    if (seconds <= 0 || cores <= 0 || (strcmp(group, "P-256") && strcmp(group, "X25519"))) {
        fprintf(stderr, "limits: bad --seconds, --cores or --group\n");
        return 1;
    }
    time_signature("EC", seconds, &p[ECDSA_SIGN].us, &p[ECDSA_VERIFY].us);
    time_signature("RSA", seconds, &p[RSA_SIGN].us, &p[RSA_VERIFY].us);
    p[ECDH_P256].us = time_exchange("P-256", seconds);
    p[ECDH_X25519].us = time_exchange("X25519", seconds);
    p[SCRYPT].us = time_scrypt(seconds);
    if (kv_file != NULL && (kv_out = fopen(kv_file, "w")) == NULL) {
        fprintf(stderr, "limits: cannot write %s\n", kv_file);
        return 1;
    }
    if (kv)
        kv_out = stdout;
    print_primitives(p, kv ? NULL : stdout, kv_out);
    print_limits(p, cores, group, kv ? NULL : stdout, kv_out);
    if (kv_out != NULL && kv_out != stdout && fclose(kv_out) != 0) {
        fprintf(stderr, "limits: cannot write %s\n", kv_file);
        return 1;
    }
    return 0;
}
