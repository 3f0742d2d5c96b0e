/* test_gateway_chantable.c -- unit tests of gateway/chantable.c: every
 * name the gateway subscribes is found again by its exact bytes, through
 * the table's growth and while entries come and go. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/chantable.h"

#define N 5000

struct item {
    int value;
    struct chantable_entry node;
    char key[32];
};

static struct item *item_new(const char *fmt, int i)
{
    struct item *it = calloc(1, sizeof(*it));

    it->value = i;
    snprintf(it->key, sizeof(it->key), fmt, i);
    it->node.key = it->key;
    it->node.key_len = strlen(it->key);
    return it;
}

static struct item *find(const struct chantable *t, const char *key, size_t len)
{
    struct chantable_entry *e = chantable_find(t, key, len);

    return e ? CHANTABLE_CONTAINER(e, struct item, node) : NULL;
}

static void every_entry_is_found_after_the_table_grew(void **state)
{
    struct chantable t = {0};
    static struct item *items[N];
    char key[32];
    int i;

    assert_null(chantable_find(&t, "x", 1));
    for (i = 0; i < N; i++) {
        items[i] = item_new("ifmon:dev%d:eth0", i);
        chantable_add(&t, &items[i]->node);
    }
    assert_int_equal(t.count, N);
    for (i = 0; i < N; i++) {
        int len = snprintf(key, sizeof(key), "ifmon:dev%d:eth0", i);

        assert_ptr_equal(find(&t, key, (size_t)len), items[i]);
    }
    /* Only the exact bytes: not a prefix, not a longer name. */
    assert_null(find(&t, "ifmon:dev1:eth", 14));
    assert_null(find(&t, "ifmon:dev1:eth00", 16));
    for (i = 0; i < N; i++) {
        chantable_remove(&t, &items[i]->node);
        free(items[i]);
    }
    assert_int_equal(t.count, 0);
    chantable_free(&t);
}

static void keys_are_bytes_not_strings(void **state)
{
    struct chantable t = {0};
    struct item a = {.node = {.key = "ab\0c", .key_len = 4}};
    struct item b = {.node = {.key = "ab\0d", .key_len = 4}};

    chantable_add(&t, &a.node);
    chantable_add(&t, &b.node);
    assert_ptr_equal(find(&t, "ab\0c", 4), &a);
    assert_ptr_equal(find(&t, "ab\0d", 4), &b);
    assert_null(find(&t, "ab", 2));
    chantable_free(&t);
}

static void remove_every_other(struct chantable_entry *e, void *arg)
{
    struct chantable *t = arg;
    struct item *it = CHANTABLE_CONTAINER(e, struct item, node);

    if (it->value % 2 == 0) {
        chantable_remove(t, e);
        free(it);
    }
}

static void free_all(struct chantable_entry *e, void *arg)
{
    free(CHANTABLE_CONTAINER(e, struct item, node));
}

static void each_may_remove_the_entry_it_is_given(void **state)
{
    struct chantable t = {0};
    char key[32];
    int i;

    for (i = 0; i < 1000; i++)
        chantable_add(&t, &item_new("p%d*", i)->node);
    chantable_each(&t, remove_every_other, &t);
    assert_int_equal(t.count, 500);
    for (i = 0; i < 1000; i++) {
        int len = snprintf(key, sizeof(key), "p%d*", i);
        struct item *it = find(&t, key, (size_t)len);

        if (i % 2)
            assert_int_equal(it->value, i);
        else
            assert_null(it);
    }
    chantable_each(&t, free_all, NULL);
    chantable_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_entry_is_found_after_the_table_grew),
        cmocka_unit_test(keys_are_bytes_not_strings),
        cmocka_unit_test(each_may_remove_the_entry_it_is_given),
    };

    return cmocka_run_group_tests_name("gateway chantable", tests, NULL, NULL);
}
