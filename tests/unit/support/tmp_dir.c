/* tests/unit/support/tmp_dir.h */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "tmp_dir.h"

int make_dir(void **state)
{
    tmp_dir *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    strcpy(t->dir, "/tmp/estkit-file-XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

int remove_dir(void **state)
{
    tmp_dir *t = *state;
    DIR *d = opendir(t->dir);
    struct dirent *e;
    char path[512];

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", t->dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(t->dir);
    free(t);
    return 0;
}

const char *in_dir(tmp_dir *t, const char *name)
{
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    return t->path;
}

int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

mode_t file_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

void write_raw(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

void write_padded(const char *path, const char *pem, size_t size)
{
    size_t pem_len = strlen(pem), pad = size - pem_len;
    char *buf = malloc(size);

    assert_true(size > pem_len);
    assert_non_null(buf);
    memset(buf, 'p', pad);
    for (size_t i = 79; i < pad; i += 80)
        buf[i] = '\n';
    buf[pad - 1] = '\n';
    memcpy(buf + pad, pem, pem_len);
    write_raw(path, buf, size);
    free(buf);
}
