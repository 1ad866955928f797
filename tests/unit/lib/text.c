/* Tests src/lib/text.c: the escaping of untrusted text for logs and audit
 * records (issue #12: ESC from a request path reached the access log). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "estkit/text.h"
#include "estkit/mem.h"
#include "unit_main.h"

#define EXPECT(lit, want) expect(lit, sizeof lit - 1, want)

static void expect(const char *in, size_t len, const char *want)
{
    char out[256];

    assert_int_equal(est_text_escape(in, len, out, sizeof out), 0);
    assert_string_equal(out, want);
}

static void printable_ascii_and_utf8_are_kept(void **state)
{
    (void)state;
    EXPECT("/.well-known/est/simpleenroll", "/.well-known/est/simpleenroll");
    EXPECT("CN=Gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC \xF0\x9F\x94\x91",
           "CN=Gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC \xF0\x9F\x94\x91");
    EXPECT("", "");
}

static void control_bytes_are_escaped(void **state)
{
    (void)state;
    EXPECT("a\x1B[31mred", "a\\x1B[31mred");
    EXPECT("x\r\nforged line", "x\\x0D\\x0Aforged line");
    EXPECT("nul\0cut", "nul\\x00cut");
    EXPECT("\x7F\t", "\\x7F\\x09");
    /* The escape character and the quote cannot be forged or close a field. */
    EXPECT("a\\x1B\"b", "a\\x5Cx1B\\x22b");
}

static void invalid_utf8_is_escaped_byte_by_byte(void **state)
{
    (void)state;
    EXPECT("\xFF\xFE", "\\xFF\\xFE");
    EXPECT("\x80z", "\\x80z");                   /* stray continuation */
    EXPECT("\xC0\xAF", "\\xC0\\xAF");             /* overlong '/' */
    EXPECT("\xE0\x80\xAF", "\\xE0\\x80\\xAF");    /* overlong, 3 bytes */
    EXPECT("\xED\xA0\x80", "\\xED\\xA0\\x80");    /* surrogate U+D800 */
    EXPECT("\xF4\x90\x80\x80", "\\xF4\\x90\\x80\\x80"); /* beyond U+10FFFF */
    EXPECT("ok\xE2\x82", "ok\\xE2\\x82");          /* truncated at the end */
    EXPECT("\xE2(x", "\\xE2(x");                   /* resynchronises */
}

static void utf8_controls_are_escaped(void **state)
{
    (void)state;
    EXPECT("\xC2\x9B" "31m", "\\xC2\\x9B31m");               /* C1 CSI */
    EXPECT("a\xE2\x80\xA8" "b", "a\\xE2\\x80\\xA8b");       /* U+2028 */
    EXPECT("\xE2\x80\xAE" "txt", "\\xE2\\x80\\xAEtxt");     /* U+202E RLO */
    EXPECT("\xC2\xA0", "\xC2\xA0");                          /* U+00A0 is kept */
}

/* Output capacity: a result that fits exactly is whole; one byte less
 * cuts at an escape boundary and ends in "...". */
static void truncation_at_the_limit_and_one_past(void **state)
{
    char out[16];
    (void)state;
    /* "abc\x1Bdef" -> "abc\\x1Bdef" = 10 characters. */
    assert_int_equal(est_text_escape("abc\x1B" "def", 7, out, 11), 0);
    assert_string_equal(out, "abc\\x1Bdef");
    assert_int_equal(est_text_escape("abc\x1B" "def", 7, out, 10), 1);
    assert_string_equal(out, "abc...");  /* never half an escape */
    assert_int_equal(est_text_escape("abc\x1B" "defghi", 10, out, 11), 1);
    assert_string_equal(out, "abc\\x1B...");
    assert_int_equal(est_text_escape("\xE2\x82\xAC\xE2\x82\xAC", 6, out, 7), 0);
    assert_int_equal(est_text_escape("\xE2\x82\xAC\xE2\x82\xAC!", 7, out, 7), 1);
    assert_string_equal(out, "\xE2\x82\xAC...");
    assert_int_equal(est_text_escape("\xE2\x82\xAC\xE2\x82\xAC!", 7, out, 6), 1);
    assert_string_equal(out, "...");  /* never half a character */
    assert_int_equal(est_text_escape("abcdef", 6, out, 3), 1);
    assert_string_equal(out, "..");
    assert_int_equal(est_text_escape("x", 1, out, 0), 1);
    assert_int_equal(est_text_escape(NULL, 5, out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void dup_bounds_and_escapes(void **state)
{
    char *s;
    (void)state;
    s = est_text_escape_dup("user\x1B]0;pwned\x07", 64);
    assert_non_null(s);
    assert_string_equal(s, "user\\x1B]0;pwned\\x07");
    est_free(s);
    s = est_text_escape_dup("0123456789", 10);
    assert_string_equal(s, "0123456789");
    est_free(s);
    s = est_text_escape_dup("0123456789A", 10);
    assert_string_equal(s, "0123456...");
    est_free(s);
    assert_null(est_text_escape_dup(NULL, 10));
}

/* Every byte value alone: the output is printable ASCII or kept UTF-8,
 * never a raw control byte. */
static void no_byte_value_passes_raw(void **state)
{
    char out[8];
    (void)state;
    for (int b = 0; b < 256; b++) {
        unsigned char in = (unsigned char)b;
        est_text_escape(&in, 1, out, sizeof out);
        for (const char *p = out; *p != '\0'; p++)
            assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F);
    }
}

UNIT_MAIN(
    cmocka_unit_test(printable_ascii_and_utf8_are_kept),
    cmocka_unit_test(control_bytes_are_escaped),
    cmocka_unit_test(invalid_utf8_is_escaped_byte_by_byte),
    cmocka_unit_test(utf8_controls_are_escaped),
    cmocka_unit_test(truncation_at_the_limit_and_one_past),
    cmocka_unit_test(dup_bounds_and_escapes),
    cmocka_unit_test(no_byte_value_passes_raw))
