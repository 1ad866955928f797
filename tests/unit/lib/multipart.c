/* Tests src/lib/multipart.c: RFC 2046 §5.1 multipart/mixed build and
 * parse, the leniencies we grant, malformed bodies, and every limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "estkit/body.h"
#include "estkit/multipart.h"
#include "estkit/mem.h"
#include "unit_main.h"

static est_multipart *parse_ok(const char *text, const char *boundary)
{
    est_multipart *mp = NULL;
    est_error err = {0};

    assert_int_equal(est_multipart_parse((const uint8_t *)text, strlen(text), boundary, &mp, &err),
                     EST_OK);
    assert_non_null(mp);
    return mp;
}

static void parse_fails_n(const char *text, size_t len, const char *boundary, est_status code)
{
    est_multipart *mp = (est_multipart *)1;
    est_error err = {0};

    assert_int_equal(est_multipart_parse((const uint8_t *)text, len, boundary, &mp, &err), code);
    assert_null(mp);
    assert_int_equal(err.code, code);
    assert_true(strlen(err.message) > 0);
}

static void parse_fails(const char *text, const char *boundary, est_status code)
{
    parse_fails_n(text, strlen(text), boundary, code);
}

static void assert_part(const est_part *part, const char *type, const char *encoding,
                        const char *body)
{
    if (type == NULL)
        assert_null(part->content_type);
    else
        assert_string_equal(part->content_type, type);
    if (encoding == NULL)
        assert_null(part->transfer_encoding);
    else
        assert_string_equal(part->transfer_encoding, encoding);
    assert_int_equal(part->body_len, strlen(body));
    assert_memory_equal(part->body, body, part->body_len);
}

static void build_writes_crlf_parts_and_close_delimiter(void **state)
{
    est_multipart *mp = est_multipart_new();
    uint8_t *out = NULL;
    size_t out_len = 0;
    (void)state;

    assert_non_null(mp);
    assert_int_equal(est_multipart_add(mp, "application/pkcs8", "base64", (const uint8_t *)"KEY",
                                       3, NULL),
                     EST_OK);
    assert_int_equal(est_multipart_add(mp, "application/pkcs7-mime; smime-type=certs-only",
                                       "base64", (const uint8_t *)"CERT\r\nS", 7, NULL),
                     EST_OK);
    assert_int_equal(est_multipart_add(mp, NULL, NULL, NULL, 0, NULL), EST_OK);
    assert_int_equal(est_multipart_build(mp, "est-b", &out, &out_len, NULL), EST_OK);
    const char *want = "--est-b\r\n"
                       "Content-Type: application/pkcs8\r\n"
                       "Content-Transfer-Encoding: base64\r\n"
                       "\r\n"
                       "KEY\r\n"
                       "--est-b\r\n"
                       "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
                       "Content-Transfer-Encoding: base64\r\n"
                       "\r\n"
                       "CERT\r\nS\r\n"
                       "--est-b\r\n"
                       "\r\n"
                       "\r\n"
                       "--est-b--\r\n";
    assert_int_equal(out_len, strlen(want));
    assert_memory_equal(out, want, out_len);

    /* And it parses back to the same parts. */
    est_multipart *back = NULL;
    assert_int_equal(est_multipart_parse(out, out_len, "est-b", &back, NULL), EST_OK);
    assert_int_equal(est_multipart_part_count(back), 3);
    assert_part(est_multipart_get0_part(back, 0), "application/pkcs8", "base64", "KEY");
    assert_part(est_multipart_get0_part(back, 1), "application/pkcs7-mime; smime-type=certs-only",
                "base64", "CERT\r\nS");
    assert_part(est_multipart_get0_part(back, 2), NULL, NULL, "");
    est_multipart_free(back);
    est_free(out);
    est_multipart_free(mp);
}

static void parse_ignores_preamble_epilogue_and_accepts_lf(void **state)
{
    (void)state;
    est_multipart *mp = parse_ok("This is the preamble.\n--B\n"
                                 "Content-Type: a/b\n\nline1\nline2\n--B\n"
                                 "Content-Type: c/d\n\nx\n--B--\nThe epilogue.\n--B\nignored",
                                 "B");
    assert_int_equal(est_multipart_part_count(mp), 2);
    assert_part(est_multipart_get0_part(mp, 0), "a/b", NULL, "line1\nline2");
    assert_part(est_multipart_get0_part(mp, 1), "c/d", NULL, "x");
    est_multipart_free(mp);

    /* Preamble with CRLF, transport padding after the boundaries. */
    mp = parse_ok("pre\r\n--B \t\r\n\r\nbody\r\n--B--  \r\n", "B");
    assert_int_equal(est_multipart_part_count(mp), 1);
    assert_part(est_multipart_get0_part(mp, 0), NULL, NULL, "body");
    est_multipart_free(mp);

    /* Close delimiter at the very end, no line break. */
    mp = parse_ok("--B\r\n\r\nbody\r\n--B--", "B");
    assert_part(est_multipart_get0_part(mp, 0), NULL, NULL, "body");
    est_multipart_free(mp);
}

static void header_names_case_insensitive_others_ignored(void **state)
{
    (void)state;
    est_multipart *mp = parse_ok("--B\r\n"
                                 "content-TYPE:application/pkcs8  \r\n"
                                 "Content-ID: <1@example>\r\n"
                                 "CONTENT-TRANSFER-ENCODING :\t base64\r\n"
                                 "X-Other: Content-Type: evil\r\n"
                                 "\r\nAAAA\r\n--B--\r\n",
                                 "B");
    assert_part(est_multipart_get0_part(mp, 0), "application/pkcs8", "base64", "AAAA");
    est_multipart_free(mp);
}

static void folded_header_is_unfolded(void **state)
{
    (void)state;
    est_multipart *mp = parse_ok("--B\r\nContent-Type: application/pkcs7-mime;\r\n"
                                 "\tsmime-type=certs-only\r\n\r\nX\r\n--B--\r\n",
                                 "B");
    assert_part(est_multipart_get0_part(mp, 0), "application/pkcs7-mime;\tsmime-type=certs-only",
                NULL, "X");
    est_multipart_free(mp);
}

static void equals_sign_header_only_for_known_names(void **state)
{
    (void)state;
    /* The draft-04 appendix's "Content-Type=application/pkcs8". */
    est_multipart *mp = parse_ok("--B\nContent-Type=application/pkcs8\n"
                                 "content-transfer-encoding = base64\n\nK\n--B--\n",
                                 "B");
    assert_part(est_multipart_get0_part(mp, 0), "application/pkcs8", "base64", "K");
    est_multipart_free(mp);
    /* A colon header whose value holds '=' is an ordinary header. */
    mp = parse_ok("--B\nContent-Type: a/b; c=d\n\nK\n--B--\n", "B");
    assert_part(est_multipart_get0_part(mp, 0), "a/b; c=d", NULL, "K");
    est_multipart_free(mp);
    /* Unknown names with '=' are not headers: the part is malformed. */
    parse_fails("--B\nX-Other=1\n\nK\n--B--\n", "B", EST_E_INPUT);
    /* Base64 with padding is not a header either. */
    parse_fails("--B\nMIIB==\n\nK\n--B--\n", "B", EST_E_INPUT);
}

static void boundary_lookalikes_are_content(void **state)
{
    (void)state;
    /* "--B" not at a line start, or followed by other characters, is data. */
    est_multipart *mp = parse_ok("--B\r\n\r\nx--B\r\n--BB\r\n--B-x\r\n--B--\r\n", "B");
    assert_int_equal(est_multipart_part_count(mp), 1);
    assert_part(est_multipart_get0_part(mp, 0), NULL, NULL, "x--B\r\n--BB\r\n--B-x");
    est_multipart_free(mp);
    parse_fails("x--B\r\n\r\nbody\r\n--B--\r\n", "B", EST_E_INPUT);
}

static void empty_and_header_only_parts(void **state)
{
    (void)state;
    est_multipart *mp = parse_ok("--B\r\n--B\n\n--B\r\nContent-Type: a/b\r\n--B--", "B");
    assert_int_equal(est_multipart_part_count(mp), 3);
    assert_part(est_multipart_get0_part(mp, 0), NULL, NULL, "");
    assert_part(est_multipart_get0_part(mp, 1), NULL, NULL, "");
    assert_part(est_multipart_get0_part(mp, 2), "a/b", NULL, "");
    est_multipart_free(mp);
}

static void malformed_bodies_are_rejected(void **state)
{
    (void)state;
    parse_fails("", "B", EST_E_INPUT);
    parse_fails("no boundary here", "B", EST_E_INPUT);
    parse_fails("--B--\r\n", "B", EST_E_INPUT);                      /* no part */
    parse_fails("--B\r\n\r\nbody\r\n", "B", EST_E_INPUT);            /* no close */
    parse_fails("--B\r\n\r\nbody\r\n--B\r\n\r\nmore", "B", EST_E_INPUT);
    parse_fails("--B\r\n\r\nbody\r\n--B-", "B", EST_E_INPUT);
    parse_fails("--B\r\nnot a header\r\n\r\nx\r\n--B--", "B", EST_E_INPUT);
    parse_fails("--B\r\n: empty name\r\n\r\nx\r\n--B--", "B", EST_E_INPUT);
    parse_fails("--B\r\n folded first\r\n\r\nx\r\n--B--", "B", EST_E_INPUT);
    parse_fails("--B\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\nx\r\n--B--", "B",
                EST_E_INPUT);
    parse_fails("--B\r\nContent-Type:   \r\n\r\nx\r\n--B--", "B", EST_E_INPUT);
    parse_fails("--B\r\nBad Name: x\r\n\r\nx\r\n--B--", "B", EST_E_INPUT);
    parse_fails("--B\r\nN\xc3\xa4me: x\r\n\r\nx\r\n--B--", "B", EST_E_INPUT);
    /* Control characters in a header (found by fuzz_multipart). */
    static const char nul_value[] = "--B\r\nContent-Type: a/\0b\r\n\r\nx\r\n--B--";
    parse_fails_n(nul_value, sizeof nul_value - 1, "B", EST_E_INPUT);
    parse_fails("--B\r\nContent-Type: a/b\rX-Evil: 1\r\n\r\nx\r\n--B--", "B", EST_E_INPUT);
    parse_fails("--B\r\nContent-Type: a/b\x7f\r\n\r\nx\r\n--B--", "B", EST_E_INPUT);
    /* An error in a later part frees the earlier ones (LSan checks). */
    parse_fails("--B\r\nContent-Type: a/b\r\n\r\nx\r\n--B\r\nbad\r\n\r\ny\r\n--B--", "B",
                EST_E_INPUT);
    parse_fails_n(NULL, 0, "B", EST_E_INPUT);
}

static void bad_boundaries_are_rejected(void **state)
{
    char boundary[EST_MULTIPART_MAX_BOUNDARY + 2];
    char text[256];
    est_multipart *mp;
    (void)state;

    static const char *const bad[] = {"", "B ", "a\"b", "a\nb", "a@b", "a;b", "a\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "--%s\r\n\r\nx\r\n--%s--\r\n", bad[i], bad[i]);
        parse_fails(text, bad[i], EST_E_INPUT);
    }
    parse_fails("--B\r\n\r\nx\r\n--B--\r\n", NULL, EST_E_INPUT);
    /* Every RFC 2046 bchar, space inside. */
    mp = parse_ok("--0aZ'()+_,-./:=? x\r\n\r\nbody\r\n--0aZ'()+_,-./:=? x--\r\n",
                  "0aZ'()+_,-./:=? x");
    assert_part(est_multipart_get0_part(mp, 0), NULL, NULL, "body");
    est_multipart_free(mp);

    /* 70 characters at the limit, 71 past it. */
    memset(boundary, 'b', EST_MULTIPART_MAX_BOUNDARY);
    boundary[EST_MULTIPART_MAX_BOUNDARY] = '\0';
    snprintf(text, sizeof text, "--%s\r\n\r\nx\r\n--%s--\r\n", boundary, boundary);
    mp = parse_ok(text, boundary);
    assert_part(est_multipart_get0_part(mp, 0), NULL, NULL, "x");
    est_multipart_free(mp);
    boundary[EST_MULTIPART_MAX_BOUNDARY] = 'b';
    boundary[EST_MULTIPART_MAX_BOUNDARY + 1] = '\0';
    snprintf(text, sizeof text, "--%s\r\n\r\nx\r\n--%s--\r\n", boundary, boundary);
    parse_fails(text, boundary, EST_E_INPUT);

    mp = est_multipart_new();
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 0;
    assert_int_equal(est_multipart_add(mp, NULL, NULL, (const uint8_t *)"x", 1, NULL), EST_OK);
    assert_int_equal(est_multipart_build(mp, boundary, &out, &out_len, NULL), EST_E_INPUT);
    assert_null(out);
    assert_int_equal(est_multipart_build(mp, "B ", &out, &out_len, NULL), EST_E_INPUT);
    assert_int_equal(est_multipart_build(mp, NULL, &out, &out_len, NULL), EST_E_INPUT);
    boundary[EST_MULTIPART_MAX_BOUNDARY] = '\0';
    assert_int_equal(est_multipart_build(mp, boundary, &out, &out_len, NULL), EST_OK);
    est_free(out);
    est_multipart_free(mp);
}

static void part_count_at_and_past(void **state)
{
    char text[512];
    size_t used = 0;
    est_multipart *mp;
    (void)state;

    for (int i = 0; i < EST_MULTIPART_MAX_PARTS; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "--B\r\n\r\n%d\r\n", i);
    snprintf(text + used, sizeof text - used, "--B--\r\n");
    mp = parse_ok(text, "B");
    assert_int_equal(est_multipart_part_count(mp), EST_MULTIPART_MAX_PARTS);
    assert_part(est_multipart_get0_part(mp, EST_MULTIPART_MAX_PARTS - 1), NULL, NULL, "7");
    est_multipart_free(mp);
    snprintf(text + used, sizeof text - used, "--B\r\n\r\nx\r\n--B--\r\n");
    parse_fails(text, "B", EST_E_TOO_LARGE);

    /* The same limit when adding. */
    mp = est_multipart_new();
    for (int i = 0; i < EST_MULTIPART_MAX_PARTS; i++)
        assert_int_equal(est_multipart_add(mp, "a/b", NULL, (const uint8_t *)"x", 1, NULL),
                         EST_OK);
    assert_int_equal(est_multipart_add(mp, "a/b", NULL, (const uint8_t *)"x", 1, NULL),
                     EST_E_TOO_LARGE);
    assert_int_equal(est_multipart_part_count(mp), EST_MULTIPART_MAX_PARTS);
    est_multipart_free(mp);
}

static void header_count_at_and_past(void **state)
{
    char text[1024];
    size_t used;
    est_multipart *mp;
    (void)state;

    used = (size_t)snprintf(text, sizeof text, "--B\r\nContent-Type: a/b\r\n");
    for (int i = 1; i < EST_MULTIPART_MAX_PART_HEADERS; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "X-H%d: v\r\n", i);
    snprintf(text + used, sizeof text - used, "\r\nx\r\n--B--\r\n");
    mp = parse_ok(text, "B");
    assert_part(est_multipart_get0_part(mp, 0), "a/b", NULL, "x");
    est_multipart_free(mp);
    snprintf(text + used, sizeof text - used, "X-More: v\r\n\r\nx\r\n--B--\r\n");
    parse_fails(text, "B", EST_E_TOO_LARGE);
}

/* MULTIPART_HEADER_MAX in multipart.c: 1024 bytes of unfolded header. */
static void header_length_at_and_past(void **state)
{
    char text[1200];
    size_t prefix = strlen("Content-Type: ");
    est_multipart *mp;
    (void)state;

    for (int extra = 0; extra < 2; extra++) {
        size_t value_len = 1024 - prefix + (size_t)extra;
        size_t used = (size_t)snprintf(text, sizeof text, "--B\r\nContent-Type: ");
        memset(text + used, 'v', value_len);
        used += value_len;
        snprintf(text + used, sizeof text - used, "\r\n\r\nx\r\n--B--\r\n");
        if (extra == 0) {
            mp = parse_ok(text, "B");
            assert_int_equal(strlen(est_multipart_get0_part(mp, 0)->content_type), value_len);
            est_multipart_free(mp);
        } else {
            parse_fails(text, "B", EST_E_TOO_LARGE);
        }
    }
}

static void input_size_at_and_past(void **state)
{
    const char *head = "--B\r\n\r\n", *tail = "\r\n--B--";
    char *text = malloc(EST_BODY_MAX + 1);
    est_multipart *mp = NULL;
    (void)state;

    assert_non_null(text);
    memcpy(text, head, strlen(head));
    memset(text + strlen(head), 'x', EST_BODY_MAX - strlen(head) - strlen(tail));
    memcpy(text + EST_BODY_MAX - strlen(tail), tail, strlen(tail));
    text[EST_BODY_MAX] = '\n';
    assert_int_equal(
        est_multipart_parse((const uint8_t *)text, EST_BODY_MAX, "B", &mp, NULL), EST_OK);
    assert_int_equal(est_multipart_get0_part(mp, 0)->body_len,
                     EST_BODY_MAX - strlen(head) - strlen(tail));
    est_multipart_free(mp);
    parse_fails_n(text, EST_BODY_MAX + 1, "B", EST_E_TOO_LARGE);
    free(text);
}

static void add_and_build_reject_bad_input(void **state)
{
    est_multipart *mp = est_multipart_new();
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 0;
    est_error err = {0};
    (void)state;

    assert_int_equal(est_multipart_build(mp, "B", &out, &out_len, &err), EST_E_INPUT);
    assert_null(out);
    assert_int_equal(est_multipart_add(mp, "a/b\r\nX-Injected: 1", NULL, NULL, 0, &err),
                     EST_E_INPUT);
    assert_int_equal(est_multipart_add(mp, "a/b", "base64\n", NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(est_multipart_add(mp, "", NULL, NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(est_multipart_add(mp, " a/b", NULL, NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(est_multipart_add(mp, "a/b\t", NULL, NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(est_multipart_add(mp, "a/\x01b", NULL, NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(est_multipart_add(mp, "a/b", NULL, NULL, 3, &err), EST_E_INPUT);
    assert_int_equal(est_multipart_add(NULL, "a/b", NULL, NULL, 0, &err), EST_E_INPUT);
    assert_int_equal(est_multipart_part_count(mp), 0);
    /* RFC 2046 §5.1.1: the boundary must not occur in a part. */
    assert_int_equal(
        est_multipart_add(mp, "a/b", NULL, (const uint8_t *)"x\r\n--Bad\r\n", 10, &err), EST_OK);
    assert_int_equal(est_multipart_build(mp, "Bad", &out, &out_len, &err), EST_E_INPUT);
    assert_int_equal(est_multipart_build(mp, "Good", &out, &out_len, &err), EST_OK);
    est_free(out);
    est_multipart_free(mp);
    est_multipart_free(NULL);
}

UNIT_MAIN(
    cmocka_unit_test(build_writes_crlf_parts_and_close_delimiter),
    cmocka_unit_test(parse_ignores_preamble_epilogue_and_accepts_lf),
    cmocka_unit_test(header_names_case_insensitive_others_ignored),
    cmocka_unit_test(folded_header_is_unfolded),
    cmocka_unit_test(equals_sign_header_only_for_known_names),
    cmocka_unit_test(boundary_lookalikes_are_content),
    cmocka_unit_test(empty_and_header_only_parts),
    cmocka_unit_test(malformed_bodies_are_rejected),
    cmocka_unit_test(bad_boundaries_are_rejected),
    cmocka_unit_test(part_count_at_and_past),
    cmocka_unit_test(header_count_at_and_past),
    cmocka_unit_test(header_length_at_and_past),
    cmocka_unit_test(input_size_at_and_past),
    cmocka_unit_test(add_and_build_reject_bad_input))
