/* A fresh directory per test (cmocka setup/teardown) and the file helpers
 * the file and key tests share (tests/unit/lib/{file,key}.c). */
#ifndef ESTKIT_TEST_TMP_DIR_H
#define ESTKIT_TEST_TMP_DIR_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    char dir[64];
    char path[128];
} tmp_dir;

/* cmocka setup/teardown: *state is a tmp_dir under /tmp, removed after. */
int make_dir(void **state);
int remove_dir(void **state);
/* t->dir/name, in t->path (overwritten by the next call). */
const char *in_dir(tmp_dir *t, const char *name);
/* Entries in dir besides . and .. */
int count_entries(const char *dir);
/* The permission bits of path. */
mode_t file_mode(const char *path);
/* Writes len bytes of data to path with stdio (not the code under test). */
void write_raw(const char *path, const void *data, size_t len);
/* Pads a PEM file to exactly size bytes with leading text lines, which
 * PEM readers skip. */
void write_padded(const char *path, const char *pem, size_t size);

#define WITH_DIR(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

#endif
