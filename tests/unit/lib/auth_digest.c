/* Tests src/lib/auth_digest.c (RFC 7616 Digest: parser, HA1, response,
 * verify) against the seed's appendix exchange and RFC vectors. The nonce
 * book (src/lib/auth_digest_nonce.c) is tested in auth_digest_nonce.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "estkit/auth.h"
#include "seed_appendix.h"
#include "unit_main.h"

/* The seed's password for user estuser in realm estrealm (the trace in
 * draft-04 Appendix A.2 does not print it). */
#define SEED_PASSWORD "estpwd"
#define SEED_RESPONSE "48a2b671ccb6596adfef039e134b7d5d"

/* RFC 7616 §3.9.1. */
#define RFC7616_NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define RFC7616_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define RFC7616_SHA256_RESPONSE "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
#define RFC7616_MD5_RESPONSE "8ca523f5e9506fed4657c9700eebdbec"
#define RFC7616_HEADER(alg, resp)                                                              \
    "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", " \
    "algorithm=" alg ", nonce=\"" RFC7616_NONCE "\", nc=00000001, cnonce=\"" RFC7616_CNONCE   \
    "\", qop=auth, response=\"" resp "\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""

/* Reads the Authorization header of the appendix's Digest exchange from
 * the seed appendix (tests/data, A.3): the trace wraps it at 64 columns mid-token, so the lines
 * up to "User-Agent:" are joined without separators. */
static char *seed_authorization(void)
{
    FILE *f = fopen(SEED_APPENDIX_FILE, "r");
    char line[512];
    char *out = calloc(1, 1024);
    int in_header = 0;

    assert_non_null(f);
    assert_non_null(out);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!in_header && strncmp(line, "Authorization: Digest ", 22) == 0) {
            in_header = 1;
            memmove(line, line + 15, strlen(line + 15) + 1);
        } else if (in_header && strncmp(line, "User-Agent:", 11) == 0) {
            break;
        }
        if (in_header) {
            assert_true(strlen(out) + strlen(line) < 1024);
            strcat(out, line);
        }
    }
    fclose(f);
    assert_true(in_header);
    return out;
}

static void seed_appendix_exchange_verifies(void **state)
{
    char *header = seed_authorization();
    est_digest_credentials *cred = NULL;
    char ha1[EST_DIGEST_HEX_MAX];
    est_digest_alg alg;
    est_error err;
    (void)state;

    assert_int_equal(est_digest_parse(header, &cred, &err), EST_OK);
    assert_string_equal(cred->username, "estuser");
    assert_string_equal(cred->realm, "estrealm");
    assert_string_equal(cred->nonce, "1341427174");
    assert_string_equal(cred->uri, "/simpleEnroll");
    assert_string_equal(cred->cnonce, "ODc0OTk2");
    assert_string_equal(cred->nc, "00000001");
    assert_string_equal(cred->qop, "auth");
    assert_string_equal(cred->response, SEED_RESPONSE);
    assert_null(cred->algorithm);
    assert_null(cred->opaque);
    assert_int_equal(est_digest_alg_parse(cred->algorithm, &alg, NULL), EST_OK);
    assert_int_equal(alg, EST_DIGEST_MD5);
    assert_int_equal(est_digest_ha1(alg, "estuser", "estrealm", SEED_PASSWORD, ha1, NULL), EST_OK);
    assert_int_equal(est_digest_verify(cred, ha1, "POST", "/simpleEnroll", &err), EST_OK);
    /* Each input matters. */
    assert_int_equal(est_digest_verify(cred, ha1, "GET", "/simpleEnroll", &err), EST_E_AUTH);
    assert_int_equal(est_digest_verify(cred, ha1, "POST", "/simpleReEnroll", &err), EST_E_AUTH);
    assert_non_null(strstr(err.message, "uri"));
    assert_int_equal(est_digest_ha1(alg, "estuser", "estrealm", "estpwe", ha1, NULL), EST_OK);
    assert_int_equal(est_digest_verify(cred, ha1, "POST", "/simpleEnroll", &err), EST_E_AUTH);
    est_digest_credentials_free(cred);
    free(header);
}

/* A published Digest example: its inputs and the response it gives. */
typedef struct digest_vector {
    est_digest_alg alg;
    const char *user, *realm, *password;
    const char *nonce, *nc, *cnonce, *qop, *method, *uri;
    const char *response;
} digest_vector;

static void expect_vector(const digest_vector *v)
{
    char ha1[EST_DIGEST_HEX_MAX], resp[EST_DIGEST_HEX_MAX];

    assert_int_equal(est_digest_ha1(v->alg, v->user, v->realm, v->password, ha1, NULL), EST_OK);
    assert_int_equal(strlen(ha1), v->alg == EST_DIGEST_SHA256 ? 64 : 32);
    assert_int_equal(est_digest_response(v->alg, ha1, v->nonce, v->nc, v->cnonce, v->qop,
                                         v->method, v->uri, resp, NULL),
                     EST_OK);
    assert_string_equal(resp, v->response);
}

static void seed_vector_response(void **state)
{
    static const digest_vector seed = {EST_DIGEST_MD5, "estuser", "estrealm", SEED_PASSWORD,
                                       "1341427174", "00000001", "ODc0OTk2", "auth", "POST",
                                       "/simpleEnroll", SEED_RESPONSE};
    (void)state;
    expect_vector(&seed);
}

static void rfc7616_vectors(void **state)
{
    static const digest_vector vectors[] = {
        {EST_DIGEST_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life", RFC7616_NONCE,
         "00000001", RFC7616_CNONCE, "auth", "GET", "/dir/index.html", RFC7616_SHA256_RESPONSE},
        {EST_DIGEST_MD5, "Mufasa", "http-auth@example.org", "Circle of Life", RFC7616_NONCE,
         "00000001", RFC7616_CNONCE, "auth", "GET", "/dir/index.html", RFC7616_MD5_RESPONSE},
    };
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        expect_vector(&vectors[i]);
}

static void rfc2617_and_rfc2069_vectors(void **state)
{
    static const digest_vector vectors[] = {
        /* RFC 2617 §3.5. */
        {EST_DIGEST_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life",
         "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", "GET",
         "/dir/index.html", "6629fae49393a05397450978507c4ef1"},
        /* No qop: H(HA1:nonce:HA2), with the inputs of RFC 2069 §2.4; the
         * expected value was computed independently (Python hashlib). */
        {EST_DIGEST_MD5, "Mufasa", "testrealm@host.com", "CircleOfLife",
         "dcd98b7102dd2f0e8b11d0f600bfb0c093", NULL, NULL, NULL, "GET", "/dir/index.html",
         "1949323746fe6a43ef61f9606e7febea"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        expect_vector(&vectors[i]);
}

static void rfc7616_header_parses_and_verifies(void **state)
{
    est_digest_credentials *cred = NULL;
    char ha1[EST_DIGEST_HEX_MAX], md5_ha1[EST_DIGEST_HEX_MAX];
    est_error err;
    (void)state;
    assert_int_equal(est_digest_ha1(EST_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
                                    "Circle of Life", ha1, NULL),
                     EST_OK);
    assert_int_equal(est_digest_ha1(EST_DIGEST_MD5, "Mufasa", "http-auth@example.org",
                                    "Circle of Life", md5_ha1, NULL),
                     EST_OK);
    assert_int_equal(est_digest_parse(RFC7616_HEADER("SHA-256", RFC7616_SHA256_RESPONSE), &cred,
                                      &err),
                     EST_OK);
    assert_string_equal(cred->algorithm, "SHA-256");
    assert_string_equal(cred->opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
    assert_int_equal(est_digest_verify(cred, ha1, "GET", "/dir/index.html", &err), EST_OK);
    /* An MD5 HA1 does not fit a SHA-256 response. */
    assert_int_equal(est_digest_verify(cred, md5_ha1, "GET", "/dir/index.html", &err), EST_E_INPUT);
    est_digest_credentials_free(cred);

    assert_int_equal(est_digest_parse(RFC7616_HEADER("MD5", RFC7616_MD5_RESPONSE), &cred, &err),
                     EST_OK);
    assert_int_equal(est_digest_verify(cred, md5_ha1, "GET", "/dir/index.html", &err), EST_OK);
    est_digest_credentials_free(cred);

    /* Upper-case hex in the response is folded (LHEX is lower case). */
    assert_int_equal(est_digest_parse(RFC7616_HEADER("MD5", "8CA523F5E9506FED4657C9700EEBDBEC"),
                                      &cred, &err),
                     EST_OK);
    assert_int_equal(est_digest_verify(cred, md5_ha1, "GET", "/dir/index.html", &err), EST_OK);
    est_digest_credentials_free(cred);

    /* One digit off, one digit short, one digit long. */
    static const char *const wrong[] = {"8ca523f5e9506fed4657c9700eebdbed",
                                        "8ca523f5e9506fed4657c9700eebdbe",
                                        "8ca523f5e9506fed4657c9700eebdbec0"};
    for (size_t i = 0; i < 3; i++) {
        char header[1024];
        snprintf(header, sizeof header,
                 "Digest username=Mufasa, realm=\"http-auth@example.org\", uri=\"/dir/index.html\","
                 " nonce=\"" RFC7616_NONCE "\", nc=00000001, cnonce=\"" RFC7616_CNONCE
                 "\", qop=auth, response=\"%s\"",
                 wrong[i]);
        assert_int_equal(est_digest_parse(header, &cred, &err), EST_OK);
        assert_int_equal(est_digest_verify(cred, md5_ha1, "GET", "/dir/index.html", &err),
                         EST_E_AUTH);
        est_digest_credentials_free(cred);
    }
}

static void verify_requires_qop_auth(void **state)
{
    est_digest_credentials *cred = NULL;
    char ha1[EST_DIGEST_HEX_MAX];
    est_error err;
    (void)state;
    assert_int_equal(est_digest_ha1(EST_DIGEST_MD5, "Mufasa", "testrealm@host.com",
                                    "CircleOfLife", ha1, NULL),
                     EST_OK);
    /* A correct RFC 2069 response, but without qop there is no nc, so no
     * replay protection: refused. */
    assert_int_equal(est_digest_parse("Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                                      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                                      "uri=\"/dir/index.html\", "
                                      "response=\"1949323746fe6a43ef61f9606e7febea\"",
                                      &cred, &err),
                     EST_OK);
    assert_int_equal(est_digest_verify(cred, ha1, "GET", "/dir/index.html", &err), EST_E_AUTH);
    assert_non_null(strstr(err.message, "qop"));
    est_digest_credentials_free(cred);
    assert_int_equal(est_digest_verify(NULL, ha1, "GET", "/", &err), EST_E_INPUT);
}

static void verify_rejects_unsupported_algorithm(void **state)
{
    est_digest_credentials *cred = NULL;
    char ha1[EST_DIGEST_HEX_MAX];
    (void)state;
    assert_int_equal(est_digest_ha1(EST_DIGEST_MD5, "Mufasa", "http-auth@example.org",
                                    "Circle of Life", ha1, NULL),
                     EST_OK);
    assert_int_equal(est_digest_parse(RFC7616_HEADER("MD5-sess", RFC7616_MD5_RESPONSE), &cred,
                                      NULL),
                     EST_OK);
    assert_int_equal(est_digest_verify(cred, ha1, "GET", "/dir/index.html", NULL),
                     EST_E_UNSUPPORTED);
    est_digest_credentials_free(cred);
}

static void algorithm_tokens(void **state)
{
    est_digest_alg alg;
    (void)state;
    assert_int_equal(est_digest_alg_parse(NULL, &alg, NULL), EST_OK);
    assert_int_equal(alg, EST_DIGEST_MD5);
    assert_int_equal(est_digest_alg_parse("md5", &alg, NULL), EST_OK);
    assert_int_equal(alg, EST_DIGEST_MD5);
    assert_int_equal(est_digest_alg_parse("sha-256", &alg, NULL), EST_OK);
    assert_int_equal(alg, EST_DIGEST_SHA256);
    assert_int_equal(est_digest_alg_parse("SHA-256-sess", &alg, NULL), EST_E_UNSUPPORTED);
    assert_int_equal(est_digest_alg_parse("SHA-512-256", &alg, NULL), EST_E_UNSUPPORTED);
    assert_int_equal(est_digest_alg_parse("", &alg, NULL), EST_E_UNSUPPORTED);
    assert_int_equal(est_digest_alg_parse("SHA256", &alg, NULL), EST_E_UNSUPPORTED);
    assert_string_equal(est_digest_alg_name(EST_DIGEST_MD5), "MD5");
    assert_string_equal(est_digest_alg_name(EST_DIGEST_SHA256), "SHA-256");
    assert_null(est_digest_alg_name((est_digest_alg)7));
}

static void response_argument_checks(void **state)
{
    char ha1[EST_DIGEST_HEX_MAX], resp[EST_DIGEST_HEX_MAX];
    est_error err;
    (void)state;
    assert_int_equal(est_digest_ha1(EST_DIGEST_MD5, "u", "r", "p", ha1, NULL), EST_OK);
    assert_int_equal(est_digest_response(EST_DIGEST_MD5, ha1, "n", "00000001", "c", "auth-int",
                                         "GET", "/", resp, &err),
                     EST_E_UNSUPPORTED);
    assert_int_equal(est_digest_response(EST_DIGEST_MD5, ha1, "n", NULL, "c", "auth", "GET", "/",
                                         resp, &err),
                     EST_E_INPUT);
    assert_int_equal(est_digest_response(EST_DIGEST_SHA256, ha1, "n", "00000001", "c", "auth",
                                         "GET", "/", resp, &err),
                     EST_E_INPUT);
    ha1[5] = 'g';
    assert_int_equal(est_digest_response(EST_DIGEST_MD5, ha1, "n", "00000001", "c", "auth", "GET",
                                         "/", resp, &err),
                     EST_E_INPUT);
    assert_int_equal(est_digest_ha1(EST_DIGEST_MD5, NULL, "r", "p", ha1, &err), EST_E_INPUT);
    assert_int_equal(est_digest_ha1((est_digest_alg)9, "u", "r", "p", ha1, &err), EST_E_INPUT);
}

static est_status parse_only(const char *header)
{
    est_digest_credentials *cred = NULL;
    est_error err;
    est_status rc = est_digest_parse(header, &cred, &err);
    if (rc != EST_OK) {
        assert_null(cred);
        assert_int_equal(err.code, rc);
    }
    est_digest_credentials_free(cred);
    return rc;
}

#define REQ "username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/x\", response=\"0\""

static void parser_accepts_list_syntax(void **state)
{
    est_digest_credentials *cred = NULL;
    (void)state;
    assert_int_equal(est_digest_parse(
                         "  dIgEsT ,, UserName = \"a\\\"b\\\\c\" ,REALM=\"r e\",nonce=n1,"
                         "uri=\"/x?y=1\"\t, response=abc, foo=\"ignored\", bar=baz, "
                         "qop=\"auth\", nc=0000000A, cnonce=\"\" ,",
                         &cred, NULL),
                     EST_OK);
    assert_string_equal(cred->username, "a\"b\\c");
    assert_string_equal(cred->realm, "r e");
    assert_string_equal(cred->nonce, "n1");
    assert_string_equal(cred->uri, "/x?y=1");
    assert_string_equal(cred->response, "abc");
    assert_string_equal(cred->qop, "auth");
    assert_string_equal(cred->nc, "0000000A");
    assert_string_equal(cred->cnonce, "");
    assert_null(cred->opaque);
    est_digest_credentials_free(cred);
    /* obs-text (UTF-8 user names) passes through. */
    assert_int_equal(est_digest_parse("Digest username=\"j\xc3\xa4ger\", realm=r, nonce=n, "
                                      "uri=\"/\", response=0",
                                      &cred, NULL),
                     EST_OK);
    assert_string_equal(cred->username, "j\xc3\xa4ger");
    est_digest_credentials_free(cred);
}

static void parser_rejects_malformed(void **state)
{
    static const char *const headers[] = {
        "",
        "Digest",
        "Digest ",
        "Basic " REQ,
        "Digestusername=\"u\"",
        "Digest\t" REQ,
        "Digest " REQ ", realm=\"again\"",           /* duplicate known key */
        "Digest " REQ ", REALM=\"again\"",           /* duplicate, other case */
        "Digest " REQ ", foo=1, Foo=2",              /* duplicate unknown key */
        "Digest " REQ ", foo",                       /* no '=' */
        "Digest " REQ ", =x",                        /* no name */
        "Digest " REQ ", foo=",                      /* no value */
        "Digest " REQ ", foo=\"open",                /* unterminated quote */
        "Digest " REQ ", foo=\"ends in escape\\",    /* dangling backslash */
        "Digest " REQ ", foo=\"ctl\x01\"",           /* control character */
        "Digest " REQ ", foo=\"del\x7f\"",           /* DEL */
        "Digest " REQ ", foo=\"a\"b",                /* junk after quoted value */
        "Digest " REQ " x",                          /* junk after token value */
        "Digest " REQ "; foo=1",                     /* wrong separator */
        "Digest " REQ ", fo o=1",                    /* space inside a name */
        "Digest " REQ ", foo=a\"b\"",
        "Digest realm=\"r\", nonce=\"n\", uri=\"/x\", response=\"0\"", /* no username */
        "Digest username=\"u\", nonce=\"n\", uri=\"/x\", response=\"0\"", /* no realm */
        "Digest username=\"u\", realm=\"r\", uri=\"/x\", response=\"0\"", /* no nonce */
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", response=\"0\"", /* no uri */
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/x\"", /* no response */
        "Digest " REQ ", qop=auth, nc=00000001",     /* qop without cnonce */
        "Digest " REQ ", qop=auth, cnonce=c",        /* qop without nc */
        "Digest " REQ ", qop=auth, cnonce=c, nc=0000001",
        "Digest " REQ ", qop=auth, cnonce=c, nc=000000001",
        "Digest " REQ ", qop=auth, cnonce=c, nc=0000000g",
        "Digest " REQ ", qop=auth, cnonce=c, nc=\"+0000001\"",
    };
    (void)state;
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        print_message("header '%s'\n", headers[i]);
        assert_int_equal(parse_only(headers[i]), EST_E_INPUT);
    }
    assert_int_equal(parse_only(NULL), EST_E_INPUT);
    assert_int_equal(est_digest_parse("Digest " REQ, NULL, NULL), EST_E_INPUT);
}

/* DIGEST_PARAMS_MAX in auth_digest.c. */
#define PARAMS_MAX 32

static void parameter_count_limit(void **state)
{
    char header[2048];
    size_t used;
    (void)state;
    used = (size_t)snprintf(header, sizeof header, "Digest " REQ);
    for (int i = 5; i < PARAMS_MAX; i++)
        used += (size_t)snprintf(header + used, sizeof header - used, ", x%d=1", i);
    assert_int_equal(parse_only(header), EST_OK);
    snprintf(header + used, sizeof header - used, ", x%d=1", PARAMS_MAX);
    assert_int_equal(parse_only(header), EST_E_TOO_LARGE);
}

static void header_and_username_limits(void **state)
{
    char header[EST_AUTH_HEADER_MAX + 2];
    char user[EST_USERNAME_MAX + 2];
    size_t used;
    (void)state;
    /* A header of exactly EST_AUTH_HEADER_MAX bytes (padded with an
     * ignored parameter), then one byte more. */
    used = (size_t)snprintf(header, sizeof header, "Digest " REQ ", pad=\"");
    memset(header + used, 'p', EST_AUTH_HEADER_MAX - used - 1);
    header[EST_AUTH_HEADER_MAX - 1] = '"';
    header[EST_AUTH_HEADER_MAX] = '\0';
    assert_int_equal(parse_only(header), EST_OK);
    header[EST_AUTH_HEADER_MAX - 1] = 'p';
    header[EST_AUTH_HEADER_MAX] = '"';
    header[EST_AUTH_HEADER_MAX + 1] = '\0';
    assert_int_equal(parse_only(header), EST_E_TOO_LARGE);

    memset(user, 'u', EST_USERNAME_MAX);
    user[EST_USERNAME_MAX] = '\0';
    snprintf(header, sizeof header,
             "Digest username=\"%s\", realm=r, nonce=n, uri=\"/\", response=0", user);
    assert_int_equal(parse_only(header), EST_OK);
    user[EST_USERNAME_MAX] = 'u';
    user[EST_USERNAME_MAX + 1] = '\0';
    snprintf(header, sizeof header,
             "Digest username=\"%s\", realm=r, nonce=n, uri=\"/\", response=0", user);
    assert_int_equal(parse_only(header), EST_E_TOO_LARGE);
}

UNIT_MAIN(
    cmocka_unit_test(seed_appendix_exchange_verifies),
    cmocka_unit_test(seed_vector_response),
    cmocka_unit_test(rfc7616_vectors),
    cmocka_unit_test(rfc2617_and_rfc2069_vectors),
    cmocka_unit_test(rfc7616_header_parses_and_verifies),
    cmocka_unit_test(verify_requires_qop_auth),
    cmocka_unit_test(verify_rejects_unsupported_algorithm),
    cmocka_unit_test(algorithm_tokens),
    cmocka_unit_test(response_argument_checks),
    cmocka_unit_test(parser_accepts_list_syntax),
    cmocka_unit_test(parser_rejects_malformed),
    cmocka_unit_test(parameter_count_limit),
    cmocka_unit_test(header_and_username_limits))
