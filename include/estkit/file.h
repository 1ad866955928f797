/* estkit: files: atomic writes, bounded reads, PEM certificate bundles.
 *
 * A write goes to a fresh temporary file next to the target (O_EXCL),
 * is fsync'ed, renamed over the target and the directory fsync'ed: a crash
 * leaves the old or the new file, never a torn one. */
#ifndef ESTKIT_FILE_H
#define ESTKIT_FILE_H

#include <stdint.h>
#include <sys/types.h>
#include <openssl/x509.h>
#include "estkit/api.h"
#include "estkit/error.h"

/* Replaces path with data (len bytes) created with mode, atomically. */
EST_API est_status est_file_write_atomic(const char *path, const void *data, size_t len,
                                         mode_t mode, est_error *err);
/* Reads the whole file, at most max bytes (EST_E_INPUT beyond); *data is
 * NUL-terminated past *len and freed with est_free. */
EST_API est_status est_file_read(const char *path, size_t max, uint8_t **data, size_t *len,
                                 est_error *err);
/* For secrets a server keeps: refuses a file that is not regular or whose
 * mode grants group/others anything (the message names the chmod), checked
 * with fstat on the descriptor it then reads. *data as est_file_read, but
 * cleanse it (OPENSSL_cleanse) before est_free. */
EST_API est_status est_file_read_secret(const char *path, size_t max, uint8_t **data, size_t *len,
                                        est_error *err);
/* Writes certs as concatenated PEM, mode 0644, atomically. */
EST_API est_status est_certs_write_file(const char *path, STACK_OF(X509) * certs, est_error *err);
/* Reads one or more PEM certificates; *certs: OSSL_STACK_OF_X509_free. */
EST_API est_status est_certs_read_file(const char *path, STACK_OF(X509) * *certs, est_error *err);

#endif
