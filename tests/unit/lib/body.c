/* Tests src/lib/body.c: liberal decoding (RFC 8951 §3.2), dialect
 * encodings (RFC 7030 one-line base64, draft-04 PEM), malformed input, and
 * EST_BODY_MAX at and past the limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/err.h>
#include "estkit/body.h"
#include "estkit/mem.h"
#include "unit_main.h"

/* "MAMCAQU=" */
static const uint8_t small_der[] = {0x30, 0x03, 0x02, 0x01, 0x05};

/* A DER SEQUENCE of exactly total bytes (total >= 2), content all 0x41. */
static uint8_t *make_der(size_t total)
{
    uint8_t *der = malloc(total);
    size_t header;

    assert_non_null(der);
    for (header = 2; header <= 5; header++) {
        size_t content = total - header;
        size_t need = content < 0x80 ? 2 : content < 0x100 ? 3 : content < 0x10000 ? 4 : 5;

        if (need == header)
            break;
    }
    assert_true(header <= 5 && total >= header);
    size_t content = total - header;
    der[0] = 0x30;
    if (header == 2) {
        der[1] = (uint8_t)content;
    } else {
        der[1] = (uint8_t)(0x80 | (header - 2));
        for (size_t i = 0; i < header - 2; i++)
            der[2 + i] = (uint8_t)(content >> (8 * (header - 3 - i)));
    }
    memset(der + header, 0x41, content);
    return der;
}

/* Decodes text and expects DER equal to want; returns the label (or NULL). */
static char *decode_ok(const char *text, size_t len, const uint8_t *want, size_t want_len)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    char *label = (char *)1;
    est_error err = {0};

    assert_int_equal(est_body_decode((const uint8_t *)text, len, &der, &der_len, &label, &err),
                     EST_OK);
    assert_int_equal(der_len, want_len);
    assert_memory_equal(der, want, want_len);
    est_free(der);
    return label;
}

static est_status decode_status(const char *text, size_t len, est_error *err)
{
    uint8_t *der = (uint8_t *)1;
    size_t der_len = 7;
    char *label = (char *)1;
    est_status rc = est_body_decode((const uint8_t *)text, len, &der, &der_len, &label, err);

    if (rc != EST_OK) {
        /* Failure leaves nothing to free. */
        assert_null(der);
        assert_null(label);
        assert_int_equal(der_len, 0);
        assert_int_equal(err->code, rc);
        assert_true(strlen(err->message) > 0);
    }
    est_free(der);
    est_free(label);
    return rc;
}

#define DECODE_FAILS(text, code)                                                                   \
    do {                                                                                           \
        est_error e_ = {0};                                                                        \
        assert_int_equal(decode_status((text), strlen(text), &e_), (code));                       \
    } while (0)

static void raw_der_is_returned_as_is(void **state)
{
    (void)state;
    assert_null(decode_ok((const char *)small_der, sizeof small_der, small_der, sizeof small_der));
    uint8_t *big = make_der(300);
    assert_null(decode_ok((const char *)big, 300, big, 300));
    free(big);
}

/* RFC 7030 bodies: RFC 4648 base64 in RFC 2045 §6.8 lines of 64
 * characters, each (the last too) ended by LF, no armour (issue 11:
 * libest's base64 BIO reads nothing from one long line). */
static void rfc7030_encoding_is_lines_of_64(void **state)
{
    char *out = NULL;
    size_t out_len = 0;
    (void)state;

    assert_int_equal(est_body_encode(small_der, sizeof small_der, EST_DIALECT_RFC7030, "PKCS7",
                                     &out, &out_len, NULL),
                     EST_OK);
    assert_string_equal(out, "MAMCAQU=\n");
    assert_int_equal(out_len, 9);
    est_free(out);

    /* 100 bytes -> 136 characters: lines of 64, 64 and 8. */
    uint8_t *der = make_der(100);
    assert_int_equal(
        est_body_encode(der, 100, EST_DIALECT_RFC7030, NULL, &out, &out_len, NULL), EST_OK);
    assert_int_equal(out_len, 136 + 3);
    assert_int_equal(strlen(out), out_len);
    for (size_t line = 0, pos = 0; line < 3; line++) {
        size_t n = strspn(out + pos, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
        assert_int_equal(n, line < 2 ? 64 : 8);
        assert_int_equal(out[pos + n], '\n');
        pos += n + 1;
    }
    assert_null(decode_ok(out, out_len, der, 100));
    est_free(out);
    free(der);
}

/* est_body_encode_lines: 0 = one line with no line end (strongSwan's pki);
 * other lengths as asked; the draft's PEM keeps its 64. */
static void rfc7030_line_length_is_chosen(void **state)
{
    char *out = NULL;
    size_t out_len = 0;
    uint8_t *der = make_der(100);
    (void)state;

    assert_int_equal(est_body_encode_lines(der, 100, EST_DIALECT_RFC7030, NULL, 0, &out, &out_len,
                                           NULL),
                     EST_OK);
    assert_int_equal(out_len, 136);
    assert_null(strpbrk(out, "\r\n"));
    assert_null(decode_ok(out, out_len, der, 100));
    est_free(out);

    assert_int_equal(est_body_encode_lines(der, 100, EST_DIALECT_RFC7030, NULL, 76, &out,
                                           &out_len, NULL),
                     EST_OK);
    assert_int_equal(out_len, 136 + 2);
    assert_int_equal(out[76], '\n');
    assert_null(decode_ok(out, out_len, der, 100));
    est_free(out);

    assert_int_equal(est_body_encode_lines(der, 100, EST_DIALECT_DRAFT, "PKCS7", 0, &out,
                                           &out_len, NULL),
                     EST_OK);
    assert_non_null(strstr(out, "-----\n"));
    assert_int_equal(strcspn(out + strlen("-----BEGIN PKCS7-----\n"), "\n"), 64);
    est_free(out);
    free(der);
}

/* EST_BODY_LINE_MAX (RFC 2045 §6.8: 76) at and past the limit, and lines
 * that would split a base64 quantum. */
static void line_length_limit(void **state)
{
    est_error err;
    char *out = (char *)1;
    size_t out_len = 1;
    (void)state;

    assert_int_equal(est_body_line_check(0, NULL), EST_OK);
    assert_int_equal(est_body_line_check(4, NULL), EST_OK);
    assert_int_equal(est_body_line_check(EST_BODY_LINE_MAX, NULL), EST_OK);
    assert_int_equal(est_body_line_check(EST_BODY_LINE_MAX + 4, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "76"));
    assert_int_equal(est_body_line_check(EST_BODY_LINE_MAX + 1, NULL), EST_E_INPUT);
    assert_int_equal(est_body_line_check(63, NULL), EST_E_INPUT);
    assert_int_equal(est_body_encode_lines(small_der, sizeof small_der, EST_DIALECT_RFC7030, NULL,
                                           80, &out, &out_len, NULL),
                     EST_E_INPUT);
    assert_null(out);
    assert_int_equal(out_len, 0);
}

/* Receiving is liberal (issue 11): libest ends /csrattrs with a NUL byte;
 * CRLF or LF lines, whitespace anywhere, trailing NULs and whitespace. */
static void trailing_nul_and_whitespace_are_ignored(void **state)
{
    static const char with_nul[] = "MAMCAQU=\r\n\0";
    static const char many[] = "MAMC\nAQU=\n\0\0 \t\r\n\0";
    static const char pem[] = "-----BEGIN PKCS7-----\r\nMAMCAQU=\r\n-----END PKCS7-----\r\n\0";
    est_error err;
    (void)state;

    assert_null(decode_ok(with_nul, sizeof with_nul - 1, small_der, sizeof small_der));
    assert_null(decode_ok(many, sizeof many - 1, small_der, sizeof small_der));
    free(decode_ok(pem, sizeof pem - 1, small_der, sizeof small_der));
    /* Only trailing: a NUL inside the text stays an error, and so does a
     * body that is nothing but NULs. */
    static const char nul_then_text[] = "MAMC\0AQU=";
    assert_int_equal(decode_status(nul_then_text, sizeof nul_then_text - 1, &err), EST_E_INPUT);
    assert_int_equal(decode_status("\0\0", 2, &err), EST_E_INPUT);
}

static void draft_encoding_is_pem(void **state)
{
    char *out = NULL, *label;
    size_t out_len = 0;
    (void)state;

    assert_int_equal(est_body_encode(small_der, sizeof small_der, EST_DIALECT_DRAFT, "PKCS7", &out,
                                     &out_len, NULL),
                     EST_OK);
    assert_string_equal(out, "-----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7-----\n");
    assert_int_equal(out_len, strlen(out));
    label = decode_ok(out, out_len, small_der, sizeof small_der);
    assert_string_equal(label, "PKCS7");
    free(label);
    est_free(out);

    uint8_t *der = make_der(200);
    assert_int_equal(est_body_encode(der, 200, EST_DIALECT_DRAFT, "CERTIFICATE REQUEST", &out,
                                     &out_len, NULL),
                     EST_OK);
    assert_null(strchr(out, '\r'));
    assert_memory_equal(out, "-----BEGIN CERTIFICATE REQUEST-----\n", 36);
    assert_memory_equal(out + 36 + 64, "\n", 1);
    label = decode_ok(out, out_len, der, 200);
    assert_string_equal(label, "CERTIFICATE REQUEST");
    free(label);
    est_free(out);
    free(der);
}

static void base64_with_any_whitespace_decodes(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "MAMCAQU=",
        "MAMCAQU=\n",
        "  MAMCAQU=  ",
        "M A M C\tA Q U =",
        "MA\r\nMC\r\nAQ\r\nU=\r\n",
        "M\nA\nM\nC\nA\nQ\nU\n=\n",
        "\r\n\r\nMAMCAQU=\r\n\r\n\r\n",
        "MAMC AQU=\n\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        assert_null(decode_ok(texts[i], strlen(texts[i]), small_der, sizeof small_der));
}

static void pem_armour_variants_decode(void **state)
{
    (void)state;
    static const struct {
        const char *text, *label;
    } cases[] = {
        {"-----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7-----\n", "PKCS7"},
        {"-----BEGIN PKCS7-----\r\nMAMC\r\nAQU=\r\n-----END PKCS7-----\r\n", "PKCS7"},
        {"\n\n  -----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7-----", "PKCS7"},
        {"-----BEGIN PKCS7-----\n\nMAMC\n\nAQU=\n\n-----END PKCS7-----\n\n \t", "PKCS7"},
        {"-----BEGIN PKCS7-----MAMCAQU=-----END PKCS7-----", "PKCS7"},
        {"-----BEGIN X509 CRL-----\nMAMCAQU=\n-----END X509 CRL-----\n", "X509 CRL"},
        {"-----BEGIN A-B-----\nMAMCAQU=\n-----END A-B-----\n", "A-B"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *label = decode_ok(cases[i].text, strlen(cases[i].text), small_der, sizeof small_der);
        assert_non_null(label);
        assert_string_equal(label, cases[i].label);
        free(label);
    }
    /* pem_label may be NULL. */
    uint8_t *der = NULL;
    size_t der_len = 0;
    const char *pem = "-----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7-----\n";
    assert_int_equal(est_body_decode((const uint8_t *)pem, strlen(pem), &der, &der_len, NULL, NULL),
                     EST_OK);
    assert_int_equal(der_len, sizeof small_der);
    est_free(der);
}

static void garbage_is_rejected_with_offset(void **state)
{
    est_error err = {0};
    (void)state;

    assert_int_equal(decode_status("MAMC!QU=", 8, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "0x21 at offset 4"));
    /* '-' would make EVP_DecodeUpdate stop early and ignore the rest. */
    assert_int_equal(decode_status("MAMCAQU=-garbage", 16, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "offset 8"));
    assert_int_equal(decode_status("MAMCAQU=\nhello world", 20, &err), EST_E_INPUT);
    DECODE_FAILS("MAMC.AQU=", EST_E_INPUT);
    DECODE_FAILS("hello", EST_E_INPUT);
    DECODE_FAILS("MAMCAQU=\x01", EST_E_INPUT);
    /* Non-ASCII bytes. */
    DECODE_FAILS("MAMC\xc3\xa9QU=", EST_E_INPUT);
    static const uint8_t nul_inside[] = {'M', 'A', 0, 'M', 'C', 'A', 'Q', 'U', '='};
    assert_int_equal(decode_status((const char *)nul_inside, sizeof nul_inside, &err), EST_E_INPUT);
}

static void bad_base64_shape_is_rejected(void **state)
{
    (void)state;
    DECODE_FAILS("", EST_E_INPUT);
    DECODE_FAILS(" \r\n\t", EST_E_INPUT);
    DECODE_FAILS("MAMCAQU", EST_E_INPUT);       /* 7 characters, no padding */
    DECODE_FAILS("MAMCAQ", EST_E_INPUT);        /* unpadded */
    DECODE_FAILS("MQ==MAMCAQU=", EST_E_INPUT);  /* data after padding */
    DECODE_FAILS("MAMCAQU==", EST_E_INPUT);     /* extra '=' */
    DECODE_FAILS("====", EST_E_INPUT);
    DECODE_FAILS("MAMCAQU=MAMCAQU=", EST_E_INPUT);
}

static void decoded_data_must_be_one_sequence(void **state)
{
    est_error err = {0};
    (void)state;
    DECODE_FAILS("BAEA", EST_E_INPUT);         /* 04 01 00: OCTET STRING */
    DECODE_FAILS("MAQCAQU=", EST_E_INPUT);     /* 30 04 02 01 05: truncated */
    DECODE_FAILS("MAICAQU=", EST_E_INPUT);     /* 30 02 02 01 05: trailing byte */
    DECODE_FAILS("MIAAAA==", EST_E_INPUT);     /* 30 80 00 00: indefinite */
    DECODE_FAILS("MA==", EST_E_INPUT);         /* 30: no length */
    assert_int_equal(decode_status("BAEA", 4, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "not one DER SEQUENCE"));
    /* The same in PEM. */
    DECODE_FAILS("-----BEGIN PKCS7-----\nBAEA\n-----END PKCS7-----\n", EST_E_INPUT);
}

static void malformed_raw_der_is_rejected(void **state)
{
    est_error err = {0};
    (void)state;
    const uint8_t truncated[] = {0x30, 0x05, 0x02, 0x01, 0x05};
    const uint8_t trailing[] = {0x30, 0x03, 0x02, 0x01, 0x05, 0x00};
    const uint8_t indefinite[] = {0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00};
    const uint8_t not_sequence[] = {0x31, 0x03, 0x02, 0x01, 0x05};
    const uint8_t huge_length[] = {0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00};

    assert_int_equal(decode_status((const char *)truncated, sizeof truncated, &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "neither DER nor base64"));
    assert_int_equal(decode_status((const char *)trailing, sizeof trailing, &err), EST_E_INPUT);
    assert_int_equal(decode_status((const char *)indefinite, sizeof indefinite, &err), EST_E_INPUT);
    assert_int_equal(decode_status((const char *)not_sequence, sizeof not_sequence, &err),
                     EST_E_INPUT);
    assert_int_equal(decode_status((const char *)huge_length, sizeof huge_length, &err),
                     EST_E_INPUT);
    assert_int_equal(ERR_peek_error(), 0);
}

static void malformed_armour_is_rejected(void **state)
{
    est_error err = {0};
    (void)state;
    /* Text before the armour (PEM_read_bio would skip it). */
    DECODE_FAILS("hello\n-----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7-----\n", EST_E_INPUT);
    /* Anything but whitespace after the END line, including a second object. */
    const char *after = "-----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7-----\nx";
    assert_int_equal(decode_status(after, strlen(after), &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "after the PEM END line"));
    DECODE_FAILS("-----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7-----\n"
                 "-----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7-----\n",
                 EST_E_INPUT);
    DECODE_FAILS("-----BEGIN PKCS7-----\nMAMCAQU=\n-----END CERTIFICATE-----\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN PKCS7-----\nMAMCAQU=\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN PKCS7-----\nMAMCAQU=\n-----END PKCS7----\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN PKCS7\nMAMCAQU=\n-----END PKCS7-----\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN -----\nMAMCAQU=\n-----END -----\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN  X-----\nMAMCAQU=\n-----END  X-----\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN X--Y-----\nMAMCAQU=\n-----END X--Y-----\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN PKCS7------\nMAMCAQU=\n-----END PKCS7-----\n", EST_E_INPUT);
    /* RFC 1421 headers (encrypted PEM) are not base64. */
    DECODE_FAILS("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nMAMCAQU=\n"
                 "-----END RSA PRIVATE KEY-----\n",
                 EST_E_INPUT);
    DECODE_FAILS("-----BEGIN PKCS7-----\n-----END PKCS7-----\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN PKCS7-----\nMAMC-AQU=\n-----END PKCS7-----\n", EST_E_INPUT);
    DECODE_FAILS("-----BEGIN ", EST_E_INPUT);
}

static void pem_label_limit(void **state)
{
    char label[66], text[300];
    char *got;
    (void)state;

    memset(label, 'L', 64);
    label[64] = '\0';
    snprintf(text, sizeof text, "-----BEGIN %s-----\nMAMCAQU=\n-----END %s-----\n", label, label);
    got = decode_ok(text, strlen(text), small_der, sizeof small_der);
    assert_string_equal(got, label);
    free(got);

    char *out = NULL;
    size_t out_len = 0;
    assert_int_equal(est_body_encode(small_der, sizeof small_der, EST_DIALECT_DRAFT, label, &out,
                                     &out_len, NULL),
                     EST_OK);
    est_free(out);

    memset(label, 'L', 65);
    label[65] = '\0';
    snprintf(text, sizeof text, "-----BEGIN %s-----\nMAMCAQU=\n-----END %s-----\n", label, label);
    DECODE_FAILS(text, EST_E_INPUT);
    assert_int_equal(est_body_encode(small_der, sizeof small_der, EST_DIALECT_DRAFT, label, &out,
                                     &out_len, NULL),
                     EST_E_INPUT);
    assert_null(out);
}

static void decode_limit_at_and_past(void **state)
{
    est_error err = {0};
    uint8_t *der, *out = NULL;
    size_t out_len = 0;
    (void)state;

    /* Raw DER of exactly EST_BODY_MAX bytes, then one more. */
    der = make_der(EST_BODY_MAX);
    assert_int_equal(est_body_decode(der, EST_BODY_MAX, &out, &out_len, NULL, &err), EST_OK);
    assert_int_equal(out_len, EST_BODY_MAX);
    est_free(out);
    free(der);
    der = make_der(EST_BODY_MAX + 1);
    assert_int_equal(est_body_decode(der, EST_BODY_MAX + 1, &out, &out_len, NULL, &err),
                     EST_E_TOO_LARGE);
    assert_null(out);
    free(der);

    /* Base64 padded with newlines to exactly EST_BODY_MAX, then one more. */
    size_t n = 600000;
    char *b64 = NULL;
    size_t b64_len = 0;
    der = make_der(n);
    assert_int_equal(est_body_encode(der, n, EST_DIALECT_RFC7030, NULL, &b64, &b64_len, NULL),
                     EST_OK);
    char *text = malloc(EST_BODY_MAX + 1);
    assert_non_null(text);
    memcpy(text, b64, b64_len);
    memset(text + b64_len, '\n', EST_BODY_MAX + 1 - b64_len);
    assert_int_equal(decode_status(text, EST_BODY_MAX, &err), EST_OK);
    assert_int_equal(decode_status(text, EST_BODY_MAX + 1, &err), EST_E_TOO_LARGE);
    free(text);
    est_free(b64);
    free(der);
}

/* Expected encoded sizes, from the formats: RFC 7030 is one line of
 * base64; the draft is base64 plus LF per 64-character line inside
 * "-----BEGIN PKCS7-----\n" and "-----END PKCS7-----\n". */
static size_t encoded_size(size_t n, est_dialect dialect)
{
    size_t chars = 4 * ((n + 2) / 3), lines = (chars + 63) / 64;

    if (dialect == EST_DIALECT_RFC7030)
        return chars + lines; /* LF after each 64 characters */
    return strlen("-----BEGIN PKCS7-----\n") + chars + lines + strlen("-----END PKCS7-----\n");
}

static void encode_limit_at_and_past(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        size_t n = EST_BODY_MAX;
        char *out = NULL;
        size_t out_len = 0;
        uint8_t *der, *back = NULL;
        size_t back_len = 0;

        while (encoded_size(n, (est_dialect)d) > EST_BODY_MAX)
            n--;
        /* The largest DER whose encoding fits is accepted and decodes back. */
        der = make_der(n);
        assert_int_equal(est_body_encode(der, n, (est_dialect)d, "PKCS7", &out, &out_len, NULL),
                         EST_OK);
        assert_int_equal(out_len, encoded_size(n, (est_dialect)d));
        assert_true(out_len <= EST_BODY_MAX);
        assert_int_equal(est_body_decode((uint8_t *)out, out_len, &back, &back_len, NULL, NULL),
                         EST_OK);
        assert_int_equal(back_len, n);
        assert_memory_equal(back, der, n);
        est_free(back);
        est_free(out);
        free(der);
        /* One byte more does not fit. */
        der = make_der(n + 1);
        out = (char *)1;
        assert_int_equal(
            est_body_encode(der, n + 1, (est_dialect)d, "PKCS7", &out, &out_len, NULL),
            EST_E_TOO_LARGE);
        assert_null(out);
        free(der);
    }
}

static void encode_rejects_bad_arguments(void **state)
{
    char *out = NULL;
    size_t out_len = 0;
    est_error err = {0};
    (void)state;

    assert_int_equal(
        est_body_encode(small_der, 0, EST_DIALECT_RFC7030, NULL, &out, &out_len, &err),
        EST_E_INPUT);
    assert_int_equal(
        est_body_encode(NULL, 5, EST_DIALECT_RFC7030, NULL, &out, &out_len, &err), EST_E_INPUT);
    assert_int_equal(est_body_encode(small_der, sizeof small_der, EST_DIALECT_DRAFT, NULL, &out,
                                     &out_len, &err),
                     EST_E_INPUT);
    static const char *const bad_labels[] = {"", " PKCS7", "PKCS7 ", "A--B", "A  B", "-A",
                                             "A-", "A\nB", "A\x7f"};
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++)
        assert_int_equal(est_body_encode(small_der, sizeof small_der, EST_DIALECT_DRAFT,
                                         bad_labels[i], &out, &out_len, &err),
                         EST_E_INPUT);
    assert_null(out);
    /* The RFC dialect ignores the label. */
    assert_int_equal(est_body_encode(small_der, sizeof small_der, EST_DIALECT_RFC7030, "A--B",
                                     &out, &out_len, &err),
                     EST_OK);
    est_free(out);
}

static void round_trip_many_sizes(void **state)
{
    (void)state;
    for (size_t n = 2; n < 400; n += 7) {
        uint8_t *der = make_der(n);
        for (int d = 0; d < 2; d++) {
            char *out = NULL, *label;
            size_t out_len = 0;
            assert_int_equal(est_body_encode(der, n, (est_dialect)d, "PKCS7", &out, &out_len, NULL),
                             EST_OK);
            label = decode_ok(out, out_len, der, n);
            if (d == EST_DIALECT_DRAFT)
                assert_string_equal(label, "PKCS7");
            else
                assert_null(label);
            free(label);
            est_free(out);
        }
        free(der);
    }
}

UNIT_MAIN(
    cmocka_unit_test(raw_der_is_returned_as_is),
    cmocka_unit_test(rfc7030_encoding_is_lines_of_64),
    cmocka_unit_test(rfc7030_line_length_is_chosen),
    cmocka_unit_test(line_length_limit),
    cmocka_unit_test(trailing_nul_and_whitespace_are_ignored),
    cmocka_unit_test(draft_encoding_is_pem),
    cmocka_unit_test(base64_with_any_whitespace_decodes),
    cmocka_unit_test(pem_armour_variants_decode),
    cmocka_unit_test(garbage_is_rejected_with_offset),
    cmocka_unit_test(bad_base64_shape_is_rejected),
    cmocka_unit_test(decoded_data_must_be_one_sequence),
    cmocka_unit_test(malformed_raw_der_is_rejected),
    cmocka_unit_test(malformed_armour_is_rejected),
    cmocka_unit_test(pem_label_limit),
    cmocka_unit_test(decode_limit_at_and_past),
    cmocka_unit_test(encode_limit_at_and_past),
    cmocka_unit_test(encode_rejects_bad_arguments),
    cmocka_unit_test(round_trip_many_sizes))
