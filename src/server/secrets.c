/* estd: passphrases for CA keys, CA key files, the state directory's mode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include "pkcs11.h"
#include "secrets.h"
#include "estkit/key.h"
#include "estkit/file.h"

static est_status passphrase_path(const estd_ca_config *ca, char *path, size_t cap,
                                  est_error *err)
{
    const char *creds;

    if (ca->key_passphrase_file[0] != '\0') {
        snprintf(path, cap, "%s", ca->key_passphrase_file);
        return EST_OK;
    }
    /* systemd.exec(5) LoadCredential=/SetCredential=: one file per name in
     * a private directory only this service can read. */
    creds = getenv("CREDENTIALS_DIRECTORY");
    if (creds == NULL || creds[0] == '\0')
        return est_error_set(err, EST_E_CONFIG, "key_passphrase_credential = %s, but "
                             "$CREDENTIALS_DIRECTORY is not set (systemd LoadCredential=)",
                             ca->key_passphrase_credential);
    if ((size_t)snprintf(path, cap, "%s/%s", creds, ca->key_passphrase_credential) >= cap)
        return est_error_set(err, EST_E_CONFIG, "credential path too long");
    return EST_OK;
}

est_status estd_passphrase_load(const estd_ca_config *ca, char **out, est_error *err)
{
    char path[ESTD_PATH_MAX + 256];
    uint8_t *data = NULL;
    size_t len = 0;
    est_status rc;

    *out = NULL;
    if (ca->key_passphrase_file[0] == '\0' && ca->key_passphrase_credential[0] == '\0')
        return EST_OK;
    if ((rc = passphrase_path(ca, path, sizeof path, err)) != EST_OK)
        return rc;
    /* Two bytes of slack: a passphrase of exactly the limit plus "\r\n". */
    rc = est_file_read_secret(path, ESTD_PASSPHRASE_MAX + 2, &data, &len, err);
    if (rc == EST_E_TOO_LARGE)
        rc = est_error_set(err, EST_E_CONFIG, "%s: a passphrase is at most %d bytes", path,
                           ESTD_PASSPHRASE_MAX);
    if (rc != EST_OK)
        goto out;
    if (len > 0 && data[len - 1] == '\n')
        data[--len] = '\0';
    if (len > 0 && data[len - 1] == '\r')
        data[--len] = '\0';
    if (len == 0 || len > ESTD_PASSPHRASE_MAX || memchr(data, '\0', len) != NULL) {
        rc = est_error_set(err, EST_E_CONFIG, "%s: the passphrase must be one line of 1 to %d "
                           "bytes", path, ESTD_PASSPHRASE_MAX);
        goto out;
    }
    *out = (char *)data;
    data = NULL;
out:
    OPENSSL_clear_free(data, len);
    return rc;
}

void estd_passphrase_free(char *passphrase)
{
    if (passphrase != NULL)
        OPENSSL_clear_free(passphrase, strlen(passphrase));
}

est_status estd_ca_key_load(const estd_ca_config *ca, EVP_PKEY **key, est_error *err)
{
    char *passphrase = NULL;
    est_status rc;

    *key = NULL;
    if (estd_key_is_pkcs11(ca->key))
        return est_error_set(err, EST_E_UNSUPPORTED, "the CA key is on a PKCS#11 token: "
                             "it is not read as a file");
    if ((rc = estd_passphrase_load(ca, &passphrase, err)) == EST_OK)
        rc = est_key_read_private(ca->key, passphrase, key, err);
    estd_passphrase_free(passphrase);
    return rc;
}

est_status estd_ca_key_save(const estd_ca_config *ca, const char *path, EVP_PKEY *key,
                            est_error *err)
{
    char *passphrase = NULL;
    est_status rc;

    if ((rc = estd_passphrase_load(ca, &passphrase, err)) == EST_OK)
        rc = est_key_write_private(path, key, passphrase, err);
    estd_passphrase_free(passphrase);
    return rc;
}

est_status estd_state_dir_check(const char *dir, est_error *err)
{
    struct stat st;

    if (stat(dir, &st) != 0)
        return est_error_set(err, EST_E_IO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return est_error_set(err, EST_E_CONFIG, "%s: not a directory", dir);
    if ((st.st_mode & 077) != 0)
        return est_error_set(err, EST_E_CONFIG,
                             "%s: mode %04o lets group or others in to the keys and the store; "
                             "chmod 700 %s", dir, (unsigned)(st.st_mode & 07777), dir);
    return EST_OK;
}
