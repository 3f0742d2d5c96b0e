/* test_assign.c -- collector/assign.c: balanced, sticky, the same for
 * every collector. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../collector/assign.h"

#define NDEV 200

static char names[NDEV][16];
static struct assign_device devs[NDEV];

/* NDEV devices of 8 to 64 interfaces (a fixed pseudo-random draw). */
static void make_devices(void)
{
    uint32_t x = 12345;
    size_t i;

    for (i = 0; i < NDEV; i++) {
        x = x * 1103515245u + 12345u;
        snprintf(names[i], sizeof(names[i]), "dev%03zu", i);
        devs[i].name = names[i];
        devs[i].weight = 8 + (x >> 16) % 57;
        devs[i].owner = -1;
        devs[i].want = -1;
    }
}

static void loads(size_t nmembers, uint64_t *load, uint64_t *total)
{
    size_t i;

    memset(load, 0, nmembers * sizeof(*load));
    *total = 0;
    for (i = 0; i < NDEV; i++) {
        assert_true(devs[i].want >= 0 && (size_t)devs[i].want < nmembers);
        load[devs[i].want] += devs[i].weight;
        *total += devs[i].weight;
    }
}

static void assert_balanced(size_t nmembers)
{
    uint64_t load[8], total;
    size_t m;

    loads(nmembers, load, &total);
    for (m = 0; m < nmembers; m++) {
        double share = (double)load[m] / ((double)total / (double)nmembers);

        assert_true(share >= 0.90 && share <= 1.10);
    }
}

/* Weight of devices whose wanted member (by name) changed. */
static uint64_t moved(const char *const *before_members, const int *before_want,
                      const char *const *members)
{
    uint64_t w = 0;
    size_t i, j;

    for (i = 0; i < NDEV; i++)
        for (j = 0; j < NDEV; j++)
            if (strcmp(devs[i].name, names[j]) == 0 &&
                strcmp(members[devs[i].want], before_members[before_want[j]]) != 0)
                w += devs[i].weight;
    return w;
}

/* What each device (by its number) is wanted by, as owners for a next round. */
static void keep_as_owners(int *want_by_number, const char *const *members,
                           const char *const *next_members, size_t nnext)
{
    size_t i, m;

    for (i = 0; i < NDEV; i++) {
        int n = atoi(devs[i].name + 3);

        want_by_number[n] = devs[i].want;
        devs[i].owner = -1;
        for (m = 0; m < nnext; m++)
            if (strcmp(next_members[m], members[devs[i].want]) == 0)
                devs[i].owner = (int)m;
    }
}

static void spreads_devices_evenly_by_interfaces(void **state)
{
    static const char *const three[] = {"a:1", "b:2", "c:3"};

    (void)state;
    make_devices();
    assign_devices(three, 3, devs, NDEV);
    assert_balanced(3);
}

static void a_member_that_joins_takes_its_share_and_no_more(void **state)
{
    static const char *const two[] = {"a:1", "b:2"}, *const three[] = {"a:1", "b:2", "c:3"};
    int want[NDEV];
    uint64_t load[8], total;

    (void)state;
    make_devices();
    assign_devices(two, 2, devs, NDEV);
    assert_balanced(2);
    keep_as_owners(want, two, three, 3);
    assign_devices(three, 3, devs, NDEV);
    assert_balanced(3);
    loads(3, load, &total);
    /* A third moves to c, and about nothing else moves. */
    assert_true(moved(two, want, three) <= total * 0.40);
}

static void a_member_that_leaves_gives_its_devices_and_the_others_keep_theirs(void **state)
{
    static const char *const three[] = {"a:1", "b:2", "c:3"}, *const two[] = {"a:1", "c:3"};
    int want[NDEV];
    size_t i, j;

    (void)state;
    make_devices();
    assign_devices(three, 3, devs, NDEV);
    keep_as_owners(want, three, two, 2);
    assign_devices(two, 2, devs, NDEV);
    assert_balanced(2);
    for (i = 0; i < NDEV; i++)
        for (j = 0; j < NDEV; j++)
            if (strcmp(devs[i].name, names[j]) == 0 && strcmp(three[want[j]], "b:2") != 0)
                assert_string_equal(two[devs[i].want], three[want[j]]);
}

static void every_collector_computes_the_same_whatever_the_order_of_members(void **state)
{
    static const char *const abc[] = {"a:1", "b:2", "c:3"}, *const cab[] = {"c:3", "a:1", "b:2"};
    const char *first[NDEV];
    size_t i;

    (void)state;
    make_devices();
    assign_devices(abc, 3, devs, NDEV);
    for (i = 0; i < NDEV; i++)
        first[atoi(devs[i].name + 3)] = abc[devs[i].want];
    make_devices();
    assign_devices(cab, 3, devs, NDEV);
    for (i = 0; i < NDEV; i++)
        assert_string_equal(cab[devs[i].want], first[atoi(devs[i].name + 3)]);
}

static void a_device_heavier_than_a_share_stays_with_its_owner(void **state)
{
    static const char *const two[] = {"a:1", "b:2"};
    struct assign_device d[3] = {{"big", 1000, 1, -1, 0}, {"x", 10, -1, -1, 1}, {"y", 10, -1, -1, 2}};

    (void)state;
    assign_devices(two, 2, d, 3);
    assert_string_equal(d[0].name, "big");
    assert_int_equal(d[0].want, 1);
    assert_int_equal(d[1].want, 0);
    assert_int_equal(d[2].want, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spreads_devices_evenly_by_interfaces),
        cmocka_unit_test(a_member_that_joins_takes_its_share_and_no_more),
        cmocka_unit_test(a_member_that_leaves_gives_its_devices_and_the_others_keep_theirs),
        cmocka_unit_test(every_collector_computes_the_same_whatever_the_order_of_members),
        cmocka_unit_test(a_device_heavier_than_a_share_stays_with_its_owner),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
