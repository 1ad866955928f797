/* Tests src/server/addr_table.c: a key holds per_address connections and
 * not one more; releasing makes room; IPv4 and IPv4-mapped IPv6 are the
 * same address; IPv6 counts by /64; refusals in a row are counted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <cmocka.h>
#include "addr_table.h"
#include "unit_main.h"

static estd_addr_key key_of(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    estd_addr_key key;

    if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
        assert_int_equal(estd_addr_key_from((struct sockaddr *)&in, sizeof in, &key), 0);
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
        assert_int_equal(estd_addr_key_from((struct sockaddr *)&in6, sizeof in6, &key), 0);
    }
    return key;
}

static void cap_at_and_past(void **state)
{
    estd_addr_table *t = estd_addr_table_new(3, 16);
    estd_addr_key a = key_of("127.0.0.2"), b = key_of("127.0.0.1");
    unsigned refused = 0;
    (void)state;

    assert_non_null(t);
    for (int i = 0; i < 3; i++)
        assert_int_equal(estd_addr_table_acquire(t, &a, &refused), 0);
    assert_int_equal(estd_addr_table_acquire(t, &a, &refused), -1);
    assert_int_equal(refused, 1);
    assert_int_equal(estd_addr_table_acquire(t, &a, &refused), -1);
    assert_int_equal(refused, 2);
    /* Another address is not affected. */
    assert_int_equal(estd_addr_table_acquire(t, &b, &refused), 0);
    /* One released: one more fits, and the count of refusals restarts. */
    estd_addr_table_release(t, &a);
    assert_int_equal(estd_addr_table_acquire(t, &a, &refused), 0);
    assert_int_equal(estd_addr_table_acquire(t, &a, &refused), -1);
    assert_int_equal(refused, 1);
    /* All released: the entry goes, a full quota is back. */
    for (int i = 0; i < 3; i++)
        estd_addr_table_release(t, &a);
    estd_addr_table_release(t, &a); /* one too many is harmless */
    for (int i = 0; i < 3; i++)
        assert_int_equal(estd_addr_table_acquire(t, &a, &refused), 0);
    assert_int_equal(estd_addr_table_acquire(t, &a, &refused), -1);
    estd_addr_table_free(t);
}

static void keys_by_address_and_slash_64(void **state)
{
    estd_addr_key v4 = key_of("192.0.2.7"), mapped = key_of("::ffff:192.0.2.7");
    estd_addr_key h1 = key_of("2001:db8:1:2::1"), h2 = key_of("2001:db8:1:2:ffff::9");
    estd_addr_key other64 = key_of("2001:db8:1:3::1");
    struct sockaddr_storage unix_like = {.ss_family = AF_UNIX};
    estd_addr_key k;
    (void)state;

    assert_memory_equal(&v4, &mapped, sizeof v4);
    assert_memory_equal(&h1, &h2, sizeof h1);
    assert_memory_not_equal(&h1, &other64, sizeof h1);
    assert_memory_not_equal(&v4, &h1, sizeof v4);
    assert_int_equal(estd_addr_key_from((struct sockaddr *)&unix_like, sizeof unix_like, &k), -1);
}

static void many_addresses_share_few_buckets(void **state)
{
    estd_addr_table *t = estd_addr_table_new(1, 1);
    unsigned refused;
    (void)state;

    for (unsigned i = 0; i < 1000; i++) {
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        estd_addr_key k;
        assert_int_equal(estd_addr_key_from((struct sockaddr *)&in, sizeof in, &k), 0);
        assert_int_equal(estd_addr_table_acquire(t, &k, &refused), 0);
        assert_int_equal(estd_addr_table_acquire(t, &k, &refused), -1);
    }
    estd_addr_table_free(t); /* frees entries still held */
}

UNIT_MAIN(
    cmocka_unit_test(cap_at_and_past),
    cmocka_unit_test(keys_by_address_and_slash_64),
    cmocka_unit_test(many_addresses_share_few_buckets))
