/* estd: TLS-SRP (draft-04 §3.3.3 certificate-less mutual authentication,
 * RFC 5054). The only place estd touches OpenSSL's SRP API, deprecated in
 * OpenSSL 3.0 but still built by Debian: dropping SRP later is this file
 * pair, its one CMake line and the callers of these functions.
 *
 * Suites (TLS 1.2 only; TLS 1.3 has no SRP): estd adds OpenSSL's "SRP"
 * suites after its default list when some CA's policy names `srp`.
 * Which of them a handshake can use depends on the server key:
 *   - RSA key:   SRP-RSA-AES-256/128-CBC-SHA (server certificate sent and
 *                signed over: the client can check it) and the plain ones;
 *   - ECDSA key: only SRP-AES-256/128-CBC-SHA (RFC 5054 defines no ECDSA
 *                variant): the server is authenticated by the SRP exchange
 *                alone (knowing the verifier), no certificate is sent;
 *   - DSA keys (SRP-DSS-*) estd does not make.
 * A failed, delayed or locked SRP login is a TLS failure (fatal alert
 * access_denied before the exchange, or the handshake failing at the
 * Finished check): it feeds the guessing guard and the audit log. */
#ifndef ESTD_TLS_SRP_H
#define ESTD_TLS_SRP_H

#include <openssl/ssl.h>
#include "estkit.h"

/* RFC 5054 appendix A group the verifiers use (>= 2048 bits). */
#define ESTD_SRP_GROUP "3072"

struct estd_server;

/* A new verifier for user/password with a random salt: *group (static
 * text), *salt_hex and *verifier_hex (malloc'd, uppercase hex). */
est_status estd_srp_verifier_make(const char *user, const char *password, const char **group,
                                  char **salt_hex, char **verifier_hex, est_error *err);

/* Turns SRP on for srv->ssl_ctx (srv's guard, store and pool must be
 * ready; srv must outlive the context). */
est_status estd_srp_install(struct estd_server *srv, est_error *err);

/* The SRP user name a connection authenticated with, or NULL. Also
 * settles the login attempt as a success with the guessing guard. */
const char *estd_srp_user(struct estd_server *srv, SSL *ssl);

/* 1 when some CA's policy accepts `srp`. */
int estd_srp_wanted(const struct estd_server *srv);

#endif
