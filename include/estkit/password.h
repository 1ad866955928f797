/* estkit: password storage: a salted slow hash (scrypt) and its check. */
#ifndef ESTKIT_PASSWORD_H
#define ESTKIT_PASSWORD_H

#include "estkit/api.h"
#include "estkit/error.h"

/* Salted slow hash via OpenSSL's scrypt KDF, encoded as
 * "$scrypt$ln=15,r=8,p=1$<b64 salt>$<b64 hash>"; *encoded: est_free. */
EST_API est_status est_password_hash(const char *password, char **encoded, est_error *err);
/* EST_OK on match, EST_E_AUTH on mismatch, EST_E_INPUT on a bad encoding.
 * Constant-time compare. */
EST_API est_status est_password_verify(const char *password, const char *encoded, est_error *err);

#endif
