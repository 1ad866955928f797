/* Tests src/server/metrics.c: the request-series limit at its maximum and
 * past it (the rest collapse into one "other" series, nothing is lost),
 * the label limit, cumulative histogram buckets, and label escaping.
 * e2e/server_metrics parses a live exposition with real parsers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "metrics.h"
#include "unit_main.h"

static char *render(estd_metrics *m)
{
    estd_metrics_gauges g = {0, 0, 0};
    size_t len = 0;
    char *text = estd_metrics_render(m, &g, &len);

    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static size_t count_lines(const char *text, const char *prefix)
{
    size_t n = 0;

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

/* Sum of the values of the lines starting with prefix. */
static unsigned long long sum_lines(const char *text, const char *prefix)
{
    unsigned long long sum = 0;

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        const char *end = strchr(p, '\n'), *space = end;

        if (strncmp(p, prefix, strlen(prefix)) != 0 || end == NULL)
            continue;
        while (space > p && space[-1] != ' ')
            space--;
        sum += strtoull(space, NULL, 10);
    }
    return sum;
}

static void series_limit_at_and_past_the_maximum(void **state)
{
    estd_metrics *m = estd_metrics_new();
    char *text;
    (void)state;

    /* MAX - 1 distinct series fit exactly. */
    for (int i = 0; i < ESTD_METRICS_REQUEST_SERIES_MAX - 1; i++)
        estd_metrics_request(m, "cacerts", "", 100 + i, 0.001);
    text = render(m);
    assert_int_equal(count_lines(text, "estd_requests_total{"), ESTD_METRICS_REQUEST_SERIES_MAX - 1);
    assert_null(strstr(text, "status=\"other\""));
    free(text);
    /* One past, and more: one more line, "other", counting them all. */
    estd_metrics_request(m, "cacerts", "", 5000, 0.001);
    estd_metrics_request(m, "simpleenroll", "x", 5001, 0.001);
    estd_metrics_request(m, "cacerts", "", 100, 0.001); /* an existing series still counts */
    text = render(m);
    assert_int_equal(count_lines(text, "estd_requests_total{"), ESTD_METRICS_REQUEST_SERIES_MAX);
    assert_non_null(strstr(text, "estd_requests_total{operation=\"-\",label=\"other\",status=\"other\"} 2\n"));
    assert_non_null(strstr(text, "estd_requests_total{operation=\"cacerts\",label=\"\",status=\"100\"} 2\n"));
    assert_int_equal(sum_lines(text, "estd_requests_total{"), ESTD_METRICS_REQUEST_SERIES_MAX + 2);
    free(text);
    estd_metrics_free(m);
}

static void label_limit_and_escaping(void **state)
{
    estd_metrics *m = estd_metrics_new();
    char label[16], *text;
    (void)state;

    /* Index 0 is "other": LABELS_MAX - 1 distinct labels are kept. */
    for (int i = 0; i < ESTD_METRICS_LABELS_MAX - 1; i++) {
        snprintf(label, sizeof label, "l%d", i);
        estd_metrics_request(m, "cacerts", label, 200, 0.001);
    }
    estd_metrics_request(m, "cacerts", "one-too-many", 200, 0.001);
    estd_metrics_request(m, "csrattrs", "a\"b\\c", 200, 0.001);
    text = render(m);
    snprintf(label, sizeof label, "l%d", ESTD_METRICS_LABELS_MAX - 2);
    assert_non_null(strstr(text, label));
    assert_null(strstr(text, "one-too-many"));
    assert_non_null(strstr(text, "operation=\"cacerts\",label=\"other\",status=\"200\"} 1\n"));
    assert_non_null(strstr(text, "operation=\"csrattrs\",label=\"other\""));
    free(text);
    estd_metrics_free(m);

    m = estd_metrics_new();
    estd_metrics_request(m, "csrattrs", "a\"b\\c", 200, 0.001);
    text = render(m);
    assert_non_null(strstr(text, "label=\"a\\\"b\\\\c\""));
    free(text);
    estd_metrics_free(m);
}

static void histogram_buckets_are_cumulative(void **state)
{
    static const char *const want[] = {
        "estd_request_duration_seconds_bucket{operation=\"simpleenroll\",le=\"0.001\"} 1\n",
        "estd_request_duration_seconds_bucket{operation=\"simpleenroll\",le=\"0.0025\"} 1\n",
        "estd_request_duration_seconds_bucket{operation=\"simpleenroll\",le=\"0.005\"} 2\n",
        "estd_request_duration_seconds_bucket{operation=\"simpleenroll\",le=\"10\"} 2\n",
        "estd_request_duration_seconds_bucket{operation=\"simpleenroll\",le=\"+Inf\"} 3\n",
        "estd_request_duration_seconds_count{operation=\"simpleenroll\"} 3\n",
        "estd_certificates_issued_total{operation=\"renew\"} 1\n",
        "estd_store_commit_seconds_count 1\n",
        "estd_password_check_wait_seconds_bucket{le=\"0.025\"} 1\n",
        "estd_signer_roundtrip_seconds_bucket{le=\"0.0005\"} 1\n",
        "estd_signer_roundtrip_seconds_bucket{le=\"1\"} 1\n",
        "estd_signer_roundtrip_seconds_count 2\n",
        "estd_signer_failures_total 1\n",
    };
    estd_metrics *m = estd_metrics_new();
    char *text;
    (void)state;

    estd_metrics_request(m, "simpleenroll", "", 200, 0.0005); /* <= 0.001 */
    estd_metrics_request(m, "simpleenroll", "", 200, 0.003);  /* <= 0.005 */
    estd_metrics_request(m, "simpleenroll", "", 200, 60);     /* +Inf only */
    estd_metrics_issued(m, "renew", 0.002);
    estd_metrics_password_wait(m, 0.02);
    estd_metrics_signer(m, 0.0004, 1);
    estd_metrics_signer(m, 2, 0);
    text = render(m);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(text, want[i]) == NULL)
            fail_msg("no line %s", want[i]);
    free(text);
    estd_metrics_free(m);
}

static void null_metrics_are_ignored(void **state)
{
    (void)state;
    estd_metrics_request(NULL, "cacerts", "", 200, 0.1);
    estd_metrics_issued(NULL, "enroll", 0.1);
    estd_metrics_revoked(NULL);
    estd_metrics_auth_failure(NULL, "basic");
    estd_metrics_free(NULL);
}

UNIT_MAIN(
    cmocka_unit_test(series_limit_at_and_past_the_maximum),
    cmocka_unit_test(label_limit_and_escaping),
    cmocka_unit_test(histogram_buckets_are_cumulative),
    cmocka_unit_test(null_metrics_are_ignored))
