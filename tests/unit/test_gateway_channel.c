/* test_gateway_channel.c -- unit tests of gateway/channel.c: the client's
 * channel and pattern rules, and the Redis pattern a client pattern
 * becomes; with the part of common/keys.c the gateway's history relies on. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/channel.h"
#include "keys.h"

static void checked_channels_start_with_the_prefix_and_end_any_star(void **state)
{
    char err[256];

    assert_int_equal(channel_check("ifmon:tokyo-edge1:ge-0/0/0", "ifmon", err, sizeof(err)), 0);
    assert_int_equal(channel_check("ifmon:osaka-core1:*", "ifmon", err, sizeof(err)), 0);
    assert_int_equal(channel_check("ifmon:*", "ifmon", err, sizeof(err)), 0);
    assert_int_equal(channel_check("ifmon", "ifmon", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "outside the prefix \"ifmon:\""));
    assert_int_equal(channel_check("ifmon:", "ifmon", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "names nothing after the prefix"));
    assert_int_equal(channel_check("ifmon:a*b", "ifmon", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "only allowed at the end"));
    /* No room for the message: the verdict stands. */
    assert_int_equal(channel_check("x:a", "ifmon", NULL, 0), -1);
}

static void patterns_match_by_prefix_only(void **state)
{
    assert_true(channel_is_pattern("ifmon:a:*"));
    assert_false(channel_is_pattern("ifmon:a:b"));
    assert_true(channel_matches("ifmon:osaka-core1:*", "ifmon:osaka-core1:ge-0/0/0"));
    assert_true(channel_matches("ifmon:osaka-core1:*", "ifmon:osaka-core1:"));
    assert_false(channel_matches("ifmon:osaka-core1:*", "ifmon:osaka-core10:ge-0/0/0"));
    assert_false(channel_matches("ifmon:osaka-core1:*", "ifmon:osaka-core1"));
    assert_true(channel_matches("ifmon:*", "ifmon:x"));
    /* No other glob character is special. */
    assert_true(channel_matches("ifmon:a:x?[1]*", "ifmon:a:x?[1]/0"));
    assert_false(channel_matches("ifmon:a:x?[1]*", "ifmon:a:xy1/0"));
    /* An exact channel matches itself only. */
    assert_true(channel_matches("ifmon:a:b", "ifmon:a:b"));
    assert_false(channel_matches("ifmon:a:b", "ifmon:a:bc"));
}

static void redis_patterns_escape_glob_characters(void **state)
{
    char *p = channel_pattern_to_redis("ifmon:a:x?[1]\\*");

    assert_string_equal(p, "ifmon:a:x\\?\\[1\\]\\\\*");
    free(p);
    p = channel_pattern_to_redis("ifmon:*");
    assert_string_equal(p, "ifmon:*");
    free(p);
}

/* What the gateway asks of common/keys.h: which subscriptions get a
 * history, and the list it is read from. */
static void only_interface_channels_have_history(void **state)
{
    struct ifmon_key key;

    assert_int_equal(ifmon_channel_kind("ifmon:tokyo-edge1:ge-0/0/0", "ifmon"),
                     IFMON_CHANNEL_INTERFACE);
    assert_int_equal(ifmon_channel_kind("ifmon:r1:Gi0/1:sub 2", "ifmon"), IFMON_CHANNEL_INTERFACE);
    assert_int_equal(ifmon_channel_kind("ifmon:tokyo-edge1", "ifmon"), IFMON_CHANNEL_DEVICE);
    assert_int_equal(ifmon_channel_kind("ifmon:inventory", "ifmon"), IFMON_CHANNEL_INVENTORY);
    assert_int_equal(ifmon_key_history_of(&key, "ifmon", "ifmon:r1:Gi0/1:sub 2"), 0);
    assert_string_equal(key.s, "ifmon:history:r1:Gi0/1:sub 2");
    assert_int_equal(ifmon_key_history_of(&key, "ifmon", "ifmon:tokyo-edge1"), -1);
    assert_int_equal(ifmon_key_inventory(&key, "ifmon"), 0);
    assert_string_equal(key.s, "ifmon:inventory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checked_channels_start_with_the_prefix_and_end_any_star),
        cmocka_unit_test(patterns_match_by_prefix_only),
        cmocka_unit_test(redis_patterns_escape_glob_characters),
        cmocka_unit_test(only_interface_channels_have_history),
    };

    return cmocka_run_group_tests_name("gateway channel", tests, NULL, NULL);
}
