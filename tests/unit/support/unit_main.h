/* The main() every unit test file ends with: run its table of cmocka
 * tests as one group and exit with the number that failed. Include after
 * <cmocka.h>. A file whose main does more (a driver mode, several groups)
 * writes its own. */
#ifndef ESTKIT_TEST_UNIT_MAIN_H
#define ESTKIT_TEST_UNIT_MAIN_H

/* UNIT_MAIN_GROUP(setup, teardown, cmocka_unit_test(a), ...): setup and
 * teardown run once around the whole group (NULL for none). */
#define UNIT_MAIN_GROUP(group_setup, group_teardown, ...)                     \
    int main(void)                                                            \
    {                                                                         \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                      \
        return cmocka_run_group_tests(tests, group_setup, group_teardown);    \
    }

/* UNIT_MAIN(cmocka_unit_test(a), ...): the group without setup. */
#define UNIT_MAIN(...) UNIT_MAIN_GROUP(NULL, NULL, __VA_ARGS__)

#endif
