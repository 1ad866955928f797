/* estd: the signer process ("keyproc"), and the network process's side of it.
 *
 * `estd serve` starts the signer before it accepts a connection: fork, then
 * exec of estd itself as `estd keyproc DIR N` with N socketpair ends as fds
 * 3..3+N-1 and nothing else open but stdin/stdout/stderr. The exec gives
 * the signer a fresh image: none of the network process's memory (its TLS
 * key, sessions, buffers) and no locks held by threads that fork() did not
 * copy. The signer alone reads the CA keys (or opens the PKCS#11 session),
 * then sandboxes itself (sandbox.h) and answers sign requests
 * (keyproc_wire.h), one thread per connection. It exits when the network
 * process goes: EOF on a socket, and PR_SET_PDEATHSIG.
 *
 * The network process keeps a pool of N connections; a worker thread takes
 * one for a round trip, so N signatures can be in flight at once. When the
 * signer dies, requests that need it get EST_E_UNAVAILABLE (HTTP 503 +
 * Retry-After: ESTD_STORE_RETRY_AFTER) while it is restarted, at most KEYPROC_RESTARTS_PER_WINDOW
 * times per KEYPROC_RESTART_WINDOW_SECONDS; each event is logged. */
#ifndef ESTD_KEYPROC_H
#define ESTD_KEYPROC_H

#include <openssl/x509.h>
#include "estkit.h"

/* Connections between the processes: signatures in flight at once. */
#define KEYPROC_CONNECTIONS 8
#define KEYPROC_CONNECTIONS_MAX 64
/* How long the signer may take to open its keys (a PKCS#11 login can be
 * slow), and to answer one request. */
#define KEYPROC_START_TIMEOUT_SECONDS 60
#define KEYPROC_REPLY_TIMEOUT_SECONDS 30
/* How long estd waits for the signer to exit at shutdown before killing it. */
#define KEYPROC_STOP_SECONDS 5
#define KEYPROC_RESTARTS_PER_WINDOW 5
#define KEYPROC_RESTART_WINDOW_SECONDS 60

/* `estd keyproc DIR N`: the signer process (internal; started by serve). */
int estd_keyproc_main(int argc, char **argv);

typedef struct estd_keyproc estd_keyproc;

/* Starts the signer for DIR with n connections and waits for its hello;
 * the reason it gave when it could not open its keys is err's message. */
est_status estd_keyproc_start(const char *dir, unsigned n, estd_keyproc **out, est_error *err);
/* Closes the connections (the signer exits on EOF) and reaps it. */
void estd_keyproc_free(estd_keyproc *kp);
/* A signer for key index (the CA's position in estd.conf) whose
 * certificate is cert: checks the signer holds that key. The signer
 * borrows kp, which must outlive it. pss: signature = pss. */
est_status estd_keyproc_signer_new(estd_keyproc *kp, unsigned index, X509 *cert, int pss,
                                   est_signer **out, est_error *err);
/* The signer process's pid (tests, logs); 0 while it is down. */
pid_t estd_keyproc_pid(estd_keyproc *kp);

#endif
