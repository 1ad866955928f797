/* estd: TLS session resumption with tickets (draft-04 §3.3: resumption
 * SHOULD be supported), for TLS 1.3 (PSK tickets) and TLS 1.2 (RFC 5077).
 *
 * Tickets are stateless: the session state travels encrypted with a key
 * of our own ring (AES-256-CBC + HMAC-SHA256, OpenSSL's ticket format),
 * never with OpenSSL's built-in key, so that keys rotate:
 *   - a new encryption key every rotate_seconds; the previous key still
 *     decrypts (a ticket lives at most ESTD_TICKET_KEYS * rotate_seconds),
 *     and a ticket under an old key is renewed with the current one;
 *   - keys live in memory only and are wiped on free: a restart, and a
 *     reload (SIGHUP), start a new ring; no ticket from before resumes.
 * What a resumed session is trusted with: nothing more than a fresh one.
 * Its client certificate is authenticated again on every request (authn.c:
 * chain verdict that does not outlive the chain, revocation from the store
 * each time), so a certificate revoked since the ticket was made is
 * refused on the request. */
#ifndef ESTD_TLS_TICKETS_H
#define ESTD_TLS_TICKETS_H

#include <time.h>
#include <openssl/ssl.h>

#define ESTD_TICKET_KEYS 2 /* the current key and the one before it */

typedef struct estd_ticket_keys estd_ticket_keys;

/* NULL on failure. rotate_seconds >= 1. */
estd_ticket_keys *estd_ticket_keys_new(unsigned rotate_seconds);
void estd_ticket_keys_free(estd_ticket_keys *keys); /* NULL ok; wipes the keys */

/* Turns tickets on for ctx with keys (which must outlive ctx): ticket
 * callback, one ticket per TLS 1.3 handshake, session lifetime. */
int estd_ticket_keys_install(SSL_CTX *ctx, estd_ticket_keys *keys);

/* Starts a new current key at once (the old current one still
 * decrypts); rotation also happens by itself every rotate_seconds. */
int estd_ticket_keys_rotate(estd_ticket_keys *keys, time_t now);
/* Replaces every key (a reload): no earlier ticket opens any more. 1 on
 * success; on failure the ring may be partly new, never empty. */
int estd_ticket_keys_reset(estd_ticket_keys *keys, time_t now);

#endif
