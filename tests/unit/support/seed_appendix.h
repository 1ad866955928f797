/* Test support: the seed draft's Appendix A traces (tests/data/
 * draft-04-appendix-a.xml), for tests that take their vectors from them. */
#ifndef TEST_SEED_APPENDIX_H
#define TEST_SEED_APPENDIX_H

#define SEED_APPENDIX_MAX (1 << 20)
/* The file, under ESTKIT_TEST_DATA (tests/CMakeLists.txt). */
#define SEED_APPENDIX_FILE ESTKIT_TEST_DATA "/draft-04-appendix-a.xml"

/* The whole file, NUL-terminated, malloc'd; fails the test when unreadable. */
char *seed_appendix_read(void);

#endif
