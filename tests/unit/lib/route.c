/* Tests src/lib/route.c: EST paths, dialect by spelling, CA labels. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "estkit/route.h"
#include "unit_main.h"

static est_status parse(const char *path, est_route *r)
{
    est_error err;
    est_status rc;

    memset(r, 0x5a, sizeof *r);
    rc = est_route_parse(path, r, &err);
    if (rc != EST_OK)
        assert_int_equal(err.code, rc);
    return rc;
}

typedef struct spelling {
    const char *seg;
    est_operation op;
} spelling;

/* Each /.well-known/est/SEG parses to its operation in dialect d, no label. */
static void spellings_parse(const spelling *cases, size_t n, est_dialect d)
{
    for (size_t i = 0; i < n; i++) {
        char path[128];
        est_route r;
        snprintf(path, sizeof path, "/.well-known/est/%s", cases[i].seg);
        assert_int_equal(parse(path, &r), EST_OK);
        assert_int_equal(r.op, cases[i].op);
        assert_int_equal(r.dialect, d);
        assert_string_equal(r.label, "");
    }
}

static void draft_spellings_select_draft_dialect(void **state)
{
    static const spelling cases[] = {
        {"CACerts", EST_OP_CACERTS},         {"simpleEnroll", EST_OP_SIMPLEENROLL},
        {"simpleReEnroll", EST_OP_SIMPLEREENROLL}, {"fullCMC", EST_OP_FULLCMC},
        {"serverKeyGen", EST_OP_SERVERKEYGEN}, {"CSRAttrs", EST_OP_CSRATTRS},
    };
    (void)state;
    spellings_parse(cases, sizeof cases / sizeof cases[0], EST_DIALECT_DRAFT);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(est_operation_path(cases[i].op, EST_DIALECT_DRAFT), cases[i].seg);
}

static void other_spellings_select_rfc_dialect(void **state)
{
    static const spelling cases[] = {
        {"cacerts", EST_OP_CACERTS},     {"CACERTS", EST_OP_CACERTS},
        {"cACerts", EST_OP_CACERTS},     {"simpleenroll", EST_OP_SIMPLEENROLL},
        {"SimpleEnroll", EST_OP_SIMPLEENROLL}, {"simplereenroll", EST_OP_SIMPLEREENROLL},
        {"fullcmc", EST_OP_FULLCMC},     {"serverkeygen", EST_OP_SERVERKEYGEN},
        {"csrattrs", EST_OP_CSRATTRS},   {"CsrAttrs", EST_OP_CSRATTRS},
    };
    (void)state;
    spellings_parse(cases, sizeof cases / sizeof cases[0], EST_DIALECT_RFC7030);
    assert_string_equal(est_operation_path(EST_OP_SIMPLEENROLL, EST_DIALECT_RFC7030),
                        "simpleenroll");
    assert_null(est_operation_path(EST_OP_COUNT, EST_DIALECT_RFC7030));
    assert_null(est_operation_path((est_operation)-1, EST_DIALECT_DRAFT));
}

static void operation_path_round_trips(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        for (int op = 0; op < EST_OP_COUNT; op++) {
            char path[128];
            est_route r;
            snprintf(path, sizeof path, "/.well-known/est/ca-1/%s",
                     est_operation_path((est_operation)op, (est_dialect)d));
            assert_int_equal(parse(path, &r), EST_OK);
            assert_int_equal(r.op, op);
            assert_int_equal(r.dialect, d);
            assert_string_equal(r.label, "ca-1");
        }
    }
}

static void label_segment_is_returned(void **state)
{
    est_route r;
    (void)state;
    assert_int_equal(parse("/.well-known/est/arbitraryLabel1/simpleEnroll", &r), EST_OK);
    assert_string_equal(r.label, "arbitraryLabel1");
    assert_int_equal(r.op, EST_OP_SIMPLEENROLL);
    assert_int_equal(r.dialect, EST_DIALECT_DRAFT);
    assert_int_equal(parse("/.well-known/est/A.b_c-9/cacerts", &r), EST_OK);
    assert_string_equal(r.label, "A.b_c-9");
}

static void query_string_is_ignored(void **state)
{
    est_route r;
    (void)state;
    assert_int_equal(parse("/.well-known/est/cacerts?x=1&y=/..//%2F", &r), EST_OK);
    assert_int_equal(r.op, EST_OP_CACERTS);
    assert_int_equal(parse("/.well-known/est/lab/CSRAttrs?", &r), EST_OK);
    assert_int_equal(r.dialect, EST_DIALECT_DRAFT);
    assert_string_equal(r.label, "lab");
}

static void absolute_form_target_is_accepted(void **state)
{
    est_route r;
    (void)state;
    assert_int_equal(parse("https://est.example:8443/.well-known/est/lab/cacerts", &r), EST_OK);
    assert_string_equal(r.label, "lab");
    assert_int_equal(parse("HTTP://h/.well-known/est/fullCMC", &r), EST_OK);
    assert_int_equal(r.op, EST_OP_FULLCMC);
    assert_int_equal(parse("https://h", &r), EST_E_NOT_FOUND);
    assert_int_equal(parse("https://h?/.well-known/est/cacerts", &r), EST_E_NOT_FOUND);
}

static void foreign_paths_are_not_found(void **state)
{
    static const char *const paths[] = {
        "", "/", "/cacerts", "/.well-known/est", "/.well-known/est/", "/.well-known/est?cacerts",
        "/.well-known/estcacerts", "/.well-known/est2/cacerts", "/.WELL-KNOWN/est/cacerts",
        "/.well-known/EST/cacerts", "/.well-known/est/foo", "/.well-known/est/cacert",
        "/.well-known/est/cacertss", "/.well-known/est/lab/foo", "/.well-known/est/a/b/cacerts",
        "/.well-known/est/cacerts#frag", "/.well-known/est/%63acerts", "/.well-known/est/lab/",
        "/.well-known/est/cacerts/", "/.well-known/est/lab/cacerts/", "/.well-known/est/lab/x",
        "well-known/est/cacerts", "/.well-known/est/cacerts\n",
    };
    (void)state;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        est_route r;
        print_message("path '%s'\n", paths[i]);
        assert_int_equal(parse(paths[i], &r), EST_E_NOT_FOUND);
    }
}

static void bad_labels_and_empty_segments_are_input_errors(void **state)
{
    static const char *const paths[] = {
        "/.well-known/est//cacerts", "/.well-known/est/lab//cacerts", "/.well-known/est///",
        "/.well-known/est/./cacerts", "/.well-known/est/../cacerts", "/.well-known/est/.x/cacerts",
        "/.well-known/est/a%2Fb/cacerts", "/.well-known/est/%2e%2e/cacerts",
        "/.well-known/est/a%/cacerts", "/.well-known/est/a b/cacerts",
        "/.well-known/est/a~b/cacerts", "/.well-known/est/caf\xc3\xa9/cacerts",
        "/.well-known/est/cacerts/cacerts", "/.well-known/est/SIMPLEENROLL/cacerts",
        "/.well-known/est/fullCMC/csrattrs", "/.well-known/est/../foo", "/.well-known/est/cacerts/x",
    };
    (void)state;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        est_route r;
        print_message("path '%s'\n", paths[i]);
        assert_int_equal(parse(paths[i], &r), EST_E_INPUT);
    }
}

static void label_length_limit(void **state)
{
    char label[EST_LABEL_MAX + 2];
    char path[EST_LABEL_MAX + 64];
    est_route r;
    (void)state;
    memset(label, 'L', EST_LABEL_MAX);
    label[EST_LABEL_MAX] = '\0';
    snprintf(path, sizeof path, "/.well-known/est/%s/cacerts", label);
    assert_int_equal(parse(path, &r), EST_OK);
    assert_string_equal(r.label, label);
    assert_int_equal(est_label_check(label, NULL), EST_OK);
    label[EST_LABEL_MAX] = 'L';
    label[EST_LABEL_MAX + 1] = '\0';
    snprintf(path, sizeof path, "/.well-known/est/%s/cacerts", label);
    assert_int_equal(parse(path, &r), EST_E_INPUT);
    assert_int_equal(est_label_check(label, NULL), EST_E_INPUT);
}

static void path_length_limit(void **state)
{
    char path[EST_PATH_MAX + 2];
    static const char base[] = "/.well-known/est/cacerts?";
    est_route r;
    (void)state;
    memcpy(path, base, sizeof base - 1);
    memset(path + sizeof base - 1, 'q', EST_PATH_MAX - (sizeof base - 1));
    path[EST_PATH_MAX] = '\0';
    assert_int_equal(strlen(path), EST_PATH_MAX);
    assert_int_equal(parse(path, &r), EST_OK);
    path[EST_PATH_MAX] = 'q';
    path[EST_PATH_MAX + 1] = '\0';
    assert_int_equal(parse(path, &r), EST_E_TOO_LARGE);
}

static void label_check_rules(void **state)
{
    est_error err;
    (void)state;
    assert_int_equal(est_label_check("ca1", &err), EST_OK);
    assert_int_equal(est_label_check("a.b", NULL), EST_OK);
    assert_int_equal(est_label_check("x.", NULL), EST_OK);
    assert_int_equal(est_label_check("-_-", NULL), EST_OK);
    assert_int_equal(est_label_check("cacerts2", NULL), EST_OK);
    assert_int_equal(est_label_check(NULL, &err), EST_E_INPUT);
    assert_int_equal(est_label_check("", &err), EST_E_INPUT);
    assert_int_equal(est_label_check(".", &err), EST_E_INPUT);
    assert_int_equal(est_label_check("..", &err), EST_E_INPUT);
    assert_int_equal(est_label_check("...", &err), EST_E_INPUT);
    assert_int_equal(est_label_check("a/b", &err), EST_E_INPUT);
    assert_int_equal(est_label_check("a%2Fb", &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "percent"));
    assert_int_equal(est_label_check("CSRATTRS", &err), EST_E_INPUT);
    assert_non_null(strstr(err.message, "operation"));
    assert_int_equal(est_label_check("serverKeyGen", &err), EST_E_INPUT);
    assert_int_equal(est_label_check("tab\there", &err), EST_E_INPUT);
}

static void null_arguments_are_rejected(void **state)
{
    est_route r;
    (void)state;
    assert_int_equal(est_route_parse(NULL, &r, NULL), EST_E_INPUT);
    assert_int_equal(est_route_parse("/.well-known/est/cacerts", NULL, NULL), EST_E_INPUT);
}

UNIT_MAIN(
    cmocka_unit_test(draft_spellings_select_draft_dialect),
    cmocka_unit_test(other_spellings_select_rfc_dialect),
    cmocka_unit_test(operation_path_round_trips),
    cmocka_unit_test(label_segment_is_returned),
    cmocka_unit_test(query_string_is_ignored),
    cmocka_unit_test(absolute_form_target_is_accepted),
    cmocka_unit_test(foreign_paths_are_not_found),
    cmocka_unit_test(bad_labels_and_empty_segments_are_input_errors),
    cmocka_unit_test(label_length_limit),
    cmocka_unit_test(path_length_limit),
    cmocka_unit_test(label_check_rules),
    cmocka_unit_test(null_arguments_are_rejected))
