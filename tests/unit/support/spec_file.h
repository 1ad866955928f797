/* Test support: the seed spec's text (ESTKIT_SPEC_FILE), for tests that
 * take their vectors from the appendix traces. */
#ifndef TEST_SPEC_FILE_H
#define TEST_SPEC_FILE_H

#define SPEC_MAX (1 << 20)

/* The whole file, NUL-terminated, malloc'd; fails the test when unreadable. */
char *spec_file_read(void);

#endif
