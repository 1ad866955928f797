/* Test support: reading the seed draft's Appendix A (see seed_appendix.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "seed_appendix.h"

char *seed_appendix_read(void)
{
    FILE *f = fopen(SEED_APPENDIX_FILE, "rb");
    char *text = malloc(SEED_APPENDIX_MAX + 1);
    size_t n;

    assert_non_null(f);
    assert_non_null(text);
    n = fread(text, 1, SEED_APPENDIX_MAX, f);
    assert_true(n > 0 && n < SEED_APPENDIX_MAX);
    text[n] = '\0';
    fclose(f);
    return text;
}
