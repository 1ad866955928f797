/* keyproc_roundtrip DIR THREADS SECONDS: certificate signatures per second
 * through the seam (est_signer_sign_cert: sign + verify) with the CA key of
 * DIR in this process, then through the signer process (the same binary
 * re-executed as `keyproc_roundtrip keyproc DIR N`, like estd). Prints
 * "in_process_per_s=X process_per_s=Y". bench/signer runs it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "estkit.h"
#include "keyproc.h"
#include "secrets.h"

typedef struct job {
    est_signer *signer;
    X509 *cert;
    double seconds;
    unsigned long count;
} job;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *loop(void *arg)
{
    job *j = arg;
    double end = now() + j->seconds;

    while (now() < end) {
        if (est_signer_sign_cert(j->signer, j->cert, NULL) != EST_OK)
            abort();
        j->count++;
    }
    return NULL;
}

/* A certificate to re-sign: the CA's own, one copy per thread. */
static double rate(est_signer *signer, X509 *ca, unsigned threads, double seconds)
{
    pthread_t t[64];
    job jobs[64];
    unsigned long total = 0;

    for (unsigned i = 0; i < threads; i++) {
        jobs[i] = (job){signer, X509_dup(ca), seconds, 0};
        pthread_create(&t[i], NULL, loop, &jobs[i]);
    }
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += jobs[i].count;
        X509_free(jobs[i].cert);
    }
    return (double)total / seconds;
}

int main(int argc, char **argv)
{
    estd_config *cfg = calloc(1, sizeof *cfg);
    STACK_OF(X509) *certs = NULL;
    estd_keyproc *kp = NULL;
    est_signer *signer = NULL;
    EVP_PKEY *key = NULL;
    unsigned threads;
    double seconds, in_process, process;

    if (argc > 1 && strcmp(argv[1], "keyproc") == 0)
        return estd_keyproc_main(argc - 1, argv + 1);
    if (argc != 4 || cfg == NULL)
        return fputs("usage: keyproc_roundtrip DIR THREADS SECONDS\n", stderr), 1;
    threads = (unsigned)atoi(argv[2]);
    seconds = atof(argv[3]);
    if (threads < 1 || threads > 64 || estd_config_load(cfg, argv[1], NULL) != EST_OK ||
        est_certs_read_file(cfg->cas[0].cert, &certs, NULL) != EST_OK ||
        estd_ca_key_load(&cfg->cas[0], &key, NULL) != EST_OK)
        return fputs("keyproc_roundtrip: cannot load DIR\n", stderr), 1;
    signer = est_signer_new_key(key);
    in_process = rate(signer, sk_X509_value(certs, 0), threads, seconds);
    est_signer_free(signer);
    if (estd_keyproc_start(argv[1], KEYPROC_CONNECTIONS, &kp, NULL) != EST_OK ||
        estd_keyproc_signer_new(kp, 0, sk_X509_value(certs, 0), 0, &signer, NULL) != EST_OK)
        return fputs("keyproc_roundtrip: no signer process\n", stderr), 1;
    process = rate(signer, sk_X509_value(certs, 0), threads, seconds);
    printf("threads=%u in_process_per_s=%.0f process_per_s=%.0f\n", threads, in_process, process);
    est_signer_free(signer);
    estd_keyproc_free(kp);
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    free(cfg);
    return 0;
}
