/* test_gateway_ratelimit.c -- unit tests of gateway/ratelimit.c: a client
 * gets its burst, then the rate, and never more than the burst after a
 * pause. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../gateway/ratelimit.h"

static void the_rate_limit_allows_a_burst_then_the_rate(void **state)
{
    struct ratelimit rl = {0};
    int i, ok = 0;

    for (i = 0; i < 100; i++)
        ok += ratelimit_take(&rl, 1000, 20.0, 40.0) == 0;
    assert_int_equal(ok, 40);
    assert_int_equal(rl.over, 60);
    /* Half a second later: 10 more. */
    for (ok = 0, i = 0; i < 100; i++)
        ok += ratelimit_take(&rl, 1500, 20.0, 40.0) == 0;
    assert_int_equal(ok, 10);
    /* A long pause refills to the burst, not beyond. */
    for (ok = 0, i = 0; i < 100; i++)
        ok += ratelimit_take(&rl, 100000, 20.0, 40.0) == 0;
    assert_int_equal(ok, 40);
}

static void a_clock_that_goes_back_refills_nothing(void **state)
{
    struct ratelimit rl = {0};
    int i, ok = 0;

    for (i = 0; i < 40; i++)
        ok += ratelimit_take(&rl, 5000, 20.0, 40.0) == 0;
    assert_int_equal(ok, 40);
    assert_int_equal(ratelimit_take(&rl, 1000, 20.0, 40.0), -1);
    assert_int_equal(rl.over, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_rate_limit_allows_a_burst_then_the_rate),
        cmocka_unit_test(a_clock_that_goes_back_refills_nothing),
    };

    return cmocka_run_group_tests_name("gateway ratelimit", tests, NULL, NULL);
}
