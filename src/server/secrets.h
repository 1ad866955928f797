/* estd: the secrets a CA key needs and the modes that guard them.
 *
 * A CA key file may be an encrypted PKCS#8 PEM; its passphrase comes from a
 * file (key_passphrase_file, mode 0600) or a systemd credential
 * (key_passphrase_credential, read from $CREDENTIALS_DIRECTORY), never from
 * the command line, where any local user could read it in /proc. */
#ifndef ESTD_SECRETS_H
#define ESTD_SECRETS_H

#include <openssl/evp.h>
#include "config.h"

/* A passphrase longer than this is refused: OpenSSL's PEM callback gets a
 * buffer of PEM_BUFSIZE (1024) bytes. One trailing newline is not counted. */
#define ESTD_PASSPHRASE_MAX 1024

/* The CA's passphrase (*out NULL when none is configured). */
est_status estd_passphrase_load(const estd_ca_config *ca, char **out, est_error *err);
void estd_passphrase_free(char *passphrase); /* cleanses; NULL is a no-op */

/* Reads the CA's private key file (ca->key), decrypting it with its
 * passphrase; refuses a key or passphrase file group/others may read. */
est_status estd_ca_key_load(const estd_ca_config *ca, EVP_PKEY **key, est_error *err);

/* Writes a key for this CA (rollover): encrypted with the CA's passphrase
 * when it has one, so a rollover never leaves a plain copy behind. */
est_status estd_ca_key_save(const estd_ca_config *ca, const char *path, EVP_PKEY *key,
                            est_error *err);

/* The state directory holds keys and the store: refused unless only its
 * owner may enter it (the message names the chmod). */
est_status estd_state_dir_check(const char *dir, est_error *err);

#endif
