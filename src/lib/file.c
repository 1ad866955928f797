/* Files: atomic writes, bounded reads, PEM keys and certificates.
 *
 * docs/design.md §4: no private key is ever written with a mode wider than 0600 and
 * no key material is logged. A write goes to a fresh temporary file next to
 * the target (O_EXCL, so nothing is followed or clobbered), is fsync'ed, then
 * renamed over the target and the directory is fsync'ed, so a crash leaves
 * either the old or the new file, never a torn one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include "estkit/file.h"

/* A certificate bundle (trust anchors, chain, rollover links). */
#define EST_CERTS_FILE_MAX (1024 * 1024)
#define EST_CERTS_FILE_MAX_CERTS 256
/* Read buffers start this small and double up to the caller's max. */
#define FILE_READ_CHUNK 4096

static est_status fsync_parent_dir(const char *path, est_error *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    int fd = -1;
    est_status rc = EST_E_IO;

    if (slash == NULL)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL) {
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        est_error_set(err, EST_E_IO, "%s: fsync of directory: %s", dir, strerror(errno));
        goto out;
    }
    rc = EST_OK;
out:
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

static est_status write_all(int fd, const char *tmp, const void *data, size_t len,
                            est_error *err)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return est_error_set(err, EST_E_IO, "%s: write: %s", tmp,
                                 n < 0 ? strerror(errno) : "no progress");
        p += n;
        len -= (size_t)n;
    }
    return EST_OK;
}

est_status est_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                 est_error *err)
{
    char *tmp = NULL;
    unsigned char rnd[8];
    int fd = -1, tmp_exists = 0;
    est_status rc = EST_E_IO;

    if (path == NULL || (data == NULL && len > 0))
        return est_error_set(err, EST_E_INTERNAL, "write file: NULL argument");
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return est_error_set_openssl(err, EST_E_INTERNAL, "%s: random temp name", path);
    if (asprintf(&tmp, "%s.tmp-%ld-%02x%02x%02x%02x%02x%02x%02x%02x", path, (long)getpid(),
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) < 0) {
        tmp = NULL;
        rc = est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
    if (fd < 0) {
        est_error_set(err, EST_E_IO, "%s: create: %s", tmp, strerror(errno));
        goto out;
    }
    tmp_exists = 1;
    /* The mode is the contract (keys: 0600), whatever the umask narrows. */
    if (fchmod(fd, mode & 07777) != 0) {
        est_error_set(err, EST_E_IO, "%s: chmod: %s", tmp, strerror(errno));
        goto out;
    }
    if ((rc = write_all(fd, tmp, data, len, err)) != EST_OK)
        goto out;
    rc = EST_E_IO;
    if (fsync(fd) != 0) {
        est_error_set(err, EST_E_IO, "%s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        est_error_set(err, EST_E_IO, "%s: close: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        est_error_set(err, EST_E_IO, "%s: rename: %s", path, strerror(errno));
        goto out;
    }
    tmp_exists = 0;
    rc = fsync_parent_dir(path, err);
out:
    if (fd >= 0)
        close(fd);
    if (tmp_exists)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* Reads all of fd into a NUL-terminated buffer (the NUL is not counted)
 * that grows by doubling; a buffer that moves is cleansed first, since the
 * file may hold a key. */
static est_status read_fd(int fd, const char *path, size_t max, uint8_t **data, size_t *len,
                          est_error *err)
{
    size_t cap = max < FILE_READ_CHUNK ? max : FILE_READ_CHUNK, used = 0;
    uint8_t *buf = OPENSSL_malloc(cap + 1), *grown;
    est_status rc = EST_E_IO;

    if (buf == NULL)
        return est_error_set(err, EST_E_NOMEM, "out of memory");
    for (;;) {
        ssize_t n;
        if (used == cap) {
            /* One byte beyond max tells "exactly max" from "too large". */
            size_t want = cap >= max ? max + 1 : (cap * 2 < max ? cap * 2 : max);
            if (used > max) {
                rc = est_error_set(err, EST_E_TOO_LARGE, "%s: larger than %zu bytes", path, max);
                goto out;
            }
            grown = OPENSSL_clear_realloc(buf, cap + 1, want + 1);
            if (grown == NULL) {
                rc = est_error_set(err, EST_E_NOMEM, "out of memory");
                goto out;
            }
            buf = grown;
            cap = want;
        }
        n = read(fd, buf + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            est_error_set(err, EST_E_IO, "%s: read: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (used > max) {
        rc = est_error_set(err, EST_E_TOO_LARGE, "%s: larger than %zu bytes", path, max);
        goto out;
    }
    buf[used] = '\0';
    *data = buf;
    *len = used;
    buf = NULL;
    rc = EST_OK;
out:
    OPENSSL_clear_free(buf, cap + 1);
    return rc;
}

/* Not limited to regular files: `--trust <(...)` hands us a pipe. */
est_status est_file_read(const char *path, size_t max, uint8_t **data, size_t *len,
                         est_error *err)
{
    est_status rc;
    int fd;

    if (path == NULL || data == NULL || len == NULL)
        return est_error_set(err, EST_E_INTERNAL, "read file: NULL argument");
    *data = NULL;
    *len = 0;
    if (max > SIZE_MAX / 4)
        max = SIZE_MAX / 4;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return est_error_set(err, errno == ENOENT ? EST_E_NOT_FOUND : EST_E_IO, "%s: %s", path,
                             strerror(errno));
    rc = read_fd(fd, path, max, data, len, err);
    close(fd);
    return rc;
}

/* A secret (key, passphrase, key-wrapping keys) is read from the
 * descriptor whose mode was checked, never by path a second time: a file
 * swapped between a stat() and an open() cannot slip through. Group or
 * other bits of any kind refuse it, like ssh does for identity files. */
est_status est_file_read_secret(const char *path, size_t max, uint8_t **data, size_t *len,
                                est_error *err)
{
    struct stat st;
    est_status rc;
    int fd;

    if (path == NULL || data == NULL || len == NULL)
        return est_error_set(err, EST_E_INTERNAL, "read secret: NULL argument");
    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return est_error_set(err, errno == ENOENT ? EST_E_NOT_FOUND : EST_E_IO, "%s: %s", path,
                             strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = est_error_set(err, EST_E_IO, "%s: fstat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = est_error_set(err, EST_E_CONFIG, "%s: not a regular file", path);
    } else if ((st.st_mode & 077) != 0) {
        rc = est_error_set(err, EST_E_CONFIG,
                           "%s: mode %04o lets group or others read it; chmod 600 %s", path,
                           (unsigned)(st.st_mode & 07777), path);
    } else {
        rc = read_fd(fd, path, max, data, len, err);
    }
    close(fd);
    return rc;
}

est_status est_certs_write_file(const char *path, STACK_OF(X509) *certs, est_error *err)
{
    BIO *bio = NULL;
    BUF_MEM *mem = NULL;
    est_status rc = EST_E_INTERNAL;

    if (path == NULL || certs == NULL)
        return est_error_set(err, EST_E_INTERNAL, "write certificates: NULL argument");
    if (sk_X509_num(certs) == 0)
        return est_error_set(err, EST_E_INPUT, "%s: no certificate to write", path);
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        rc = est_error_set_openssl(err, EST_E_NOMEM, "%s: BIO", path);
        goto out;
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        if (PEM_write_bio_X509(bio, sk_X509_value(certs, i)) != 1) {
            rc = est_error_set_openssl(err, EST_E_INTERNAL, "%s: encoding certificate %d",
                                       path, i + 1);
            goto out;
        }
    }
    BIO_get_mem_ptr(bio, &mem);
    rc = est_file_write_atomic(path, mem->data, mem->length, 0644, err);
out:
    BIO_free(bio);
    return rc;
}

/* Reads every CERTIFICATE block; other PEM blocks are skipped. Running out
 * of blocks is the normal end; a damaged block is an error. */
static est_status read_certs_bio(BIO *bio, const char *path, STACK_OF(X509) *certs,
                                 est_error *err)
{
    for (;;) {
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        unsigned long e;

        if (cert == NULL) {
            e = ERR_peek_last_error();
            if (sk_X509_num(certs) > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
                ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
                return EST_OK;
            }
            if (sk_X509_num(certs) == 0 && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                return est_error_set_openssl(err, EST_E_INPUT, "%s: no PEM certificate",
                                             path);
            return est_error_set_openssl(err, EST_E_INPUT, "%s: certificate %d unreadable",
                                         path, sk_X509_num(certs) + 1);
        }
        if (sk_X509_num(certs) >= EST_CERTS_FILE_MAX_CERTS || !sk_X509_push(certs, cert)) {
            X509_free(cert);
            if (sk_X509_num(certs) >= EST_CERTS_FILE_MAX_CERTS)
                return est_error_set(err, EST_E_TOO_LARGE, "%s: more than %d certificates",
                                     path, EST_CERTS_FILE_MAX_CERTS);
            return est_error_set(err, EST_E_NOMEM, "out of memory");
        }
    }
}

est_status est_certs_read_file(const char *path, STACK_OF(X509) **certs, est_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    STACK_OF(X509) *list = NULL;
    est_status rc;

    if (path == NULL || certs == NULL)
        return est_error_set(err, EST_E_INTERNAL, "read certificates: NULL argument");
    *certs = NULL;
    if ((rc = est_file_read(path, EST_CERTS_FILE_MAX, &data, &len, err)) != EST_OK)
        goto out;
    rc = EST_E_NOMEM;
    bio = BIO_new_mem_buf(data, (int)len);
    list = sk_X509_new_null();
    if (bio == NULL || list == NULL) {
        est_error_set(err, EST_E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = read_certs_bio(bio, path, list, err)) != EST_OK)
        goto out;
    *certs = list;
    list = NULL;
    rc = EST_OK;
out:
    sk_X509_pop_free(list, X509_free);
    BIO_free(bio);
    OPENSSL_free(data);
    return rc;
}
