/* Test support: reading the seed spec (see spec_file.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "spec_file.h"

#ifndef ESTKIT_SPEC_FILE
#define ESTKIT_SPEC_FILE "../shared/spec/draft-ietf-pkix-est-04.xml"
#endif

char *spec_file_read(void)
{
    FILE *f = fopen(ESTKIT_SPEC_FILE, "rb");
    char *text = malloc(SPEC_MAX + 1);
    size_t n;

    assert_non_null(f);
    assert_non_null(text);
    n = fread(text, 1, SPEC_MAX, f);
    assert_true(n > 0 && n < SPEC_MAX);
    text[n] = '\0';
    fclose(f);
    return text;
}
