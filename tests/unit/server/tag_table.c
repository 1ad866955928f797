/* Tests src/server/tag_table.c: a tag hits only within [from, until) and
 * only while no other tag took its slot. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "tag_table.h"

static void hits_within_its_window_only(void **state)
{
    estd_tag_table *t = estd_tag_table_new();
    unsigned char tag[ESTD_TAG_LEN], other[ESTD_TAG_LEN];
    (void)state;

    assert_non_null(t);
    memset(tag, 0xA5, sizeof tag);
    memcpy(other, tag, sizeof other);
    other[ESTD_TAG_LEN - 1] ^= 1; /* same slot, different tag */
    assert_false(estd_tag_table_hit(t, tag, 1000));
    estd_tag_table_put(t, tag, 1000, 1060);
    assert_true(estd_tag_table_hit(t, tag, 1000));
    assert_true(estd_tag_table_hit(t, tag, 1059));
    assert_false(estd_tag_table_hit(t, tag, 1060)); /* until is exclusive */
    assert_false(estd_tag_table_hit(t, tag, 999));  /* before from: clock went back */
    assert_false(estd_tag_table_hit(t, other, 1001));
    estd_tag_table_put(t, other, 1001, 1061);       /* takes the slot over */
    assert_true(estd_tag_table_hit(t, other, 1001));
    assert_false(estd_tag_table_hit(t, tag, 1001));
    estd_tag_table_free(t);
}

static void empty_windows_and_null_are_ignored(void **state)
{
    estd_tag_table *t = estd_tag_table_new();
    unsigned char tag[ESTD_TAG_LEN] = {0};
    (void)state;

    estd_tag_table_put(t, tag, 1000, 1000);
    assert_false(estd_tag_table_hit(t, tag, 1000));
    estd_tag_table_put(NULL, tag, 1000, 2000);
    assert_false(estd_tag_table_hit(NULL, tag, 1500));
    estd_tag_table_free(t);
    estd_tag_table_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hits_within_its_window_only),
        cmocka_unit_test(empty_windows_and_null_are_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
