/* Tests src/server/tag_table.c: a tag hits only within [from, until) and
 * only while no other tag took its slot. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "tag_table.h"
#include "unit_main.h"

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

/* A reload clears the chain cache: nothing hits after, new tags work. */
static void clear_forgets_every_tag(void **state)
{
    estd_tag_table *t = estd_tag_table_new();
    unsigned char a[ESTD_TAG_LEN], b[ESTD_TAG_LEN];
    (void)state;

    memset(a, 0x11, sizeof a);
    memset(b, 0x77, sizeof b);
    estd_tag_table_put(t, a, 1000, 2000);
    estd_tag_table_put(t, b, 1000, 2000);
    estd_tag_table_clear(t);
    assert_false(estd_tag_table_hit(t, a, 1500));
    assert_false(estd_tag_table_hit(t, b, 1500));
    estd_tag_table_put(t, a, 1000, 2000);
    assert_true(estd_tag_table_hit(t, a, 1500));
    estd_tag_table_clear(NULL);
    estd_tag_table_free(t);
}

UNIT_MAIN(
    cmocka_unit_test(hits_within_its_window_only),
    cmocka_unit_test(empty_windows_and_null_are_ignored),
    cmocka_unit_test(clear_forgets_every_tag))
