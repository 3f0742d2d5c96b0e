/* test_gateway_outqueue.c -- unit tests of gateway/outqueue.c and
 * gateway/outmsg.c: a slow client's queue stays bounded, keeps the newest
 * value of each channel, and frees what it drops. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/outqueue.h"

/* A DATA message of `channel` whose text is "<channel>#<n>". */
static struct outmsg *sample(const char *channel, int n)
{
    char text[128];
    int len = snprintf(text, sizeof(text), "%s#%d", channel, n);
    struct outmsg *m = outmsg_new(OUTMSG_DATA, channel, (size_t)len);

    memcpy(outmsg_text(m), text, (size_t)len);
    return m;
}

/* Push and drop the caller's reference, as the fan-out does per client. */
static size_t push(struct outqueue *q, struct outmsg *m)
{
    size_t dropped = outqueue_push(q, m);

    outmsg_unref(m);
    return dropped;
}

static const char *text_at(const struct outqueue *q, size_t i)
{
    struct outmsg *m = outqueue_peek(q, i);

    return m ? outmsg_text(m) : NULL;
}

static void messages_come_out_in_order(void **state)
{
    struct outqueue q;
    struct outmsg *m;
    int i;

    outqueue_init(&q, 1024, 1 << 20);
    for (i = 0; i < 100; i++)
        assert_int_equal(push(&q, sample("a", i)), 0);
    assert_int_equal(q.count, 100);
    for (i = 0; i < 100; i++) {
        char want[16];

        m = outqueue_pop(&q);
        snprintf(want, sizeof(want), "a#%d", i);
        assert_string_equal(outmsg_text(m), want);
        outmsg_unref(m);
    }
    assert_null(outqueue_pop(&q));
    assert_int_equal(q.bytes, 0);
    outqueue_clear(&q);
}

static void a_full_queue_replaces_the_newest_sample_of_the_same_channel(void **state)
{
    struct outqueue q;

    outqueue_init(&q, 3, 1 << 20);
    push(&q, sample("a", 1));
    push(&q, sample("b", 1));
    push(&q, sample("a", 2));
    assert_int_equal(push(&q, sample("a", 3)), 1);
    assert_int_equal(q.count, 3);
    assert_string_equal(text_at(&q, 0), "a#1");
    assert_string_equal(text_at(&q, 1), "b#1");
    assert_string_equal(text_at(&q, 2), "a#3");
    assert_int_equal(push(&q, sample("b", 2)), 1);
    assert_string_equal(text_at(&q, 1), "b#2");
    outqueue_clear(&q);
}

static void without_a_sample_of_the_channel_the_oldest_is_dropped(void **state)
{
    struct outqueue q;

    outqueue_init(&q, 3, 1 << 20);
    push(&q, sample("a", 1));
    push(&q, sample("b", 1));
    push(&q, sample("c", 1));
    assert_int_equal(push(&q, sample("d", 1)), 1);
    assert_string_equal(text_at(&q, 0), "b#1");
    assert_string_equal(text_at(&q, 2), "d#1");
    outqueue_clear(&q);
}

/* A group's frame (client_group.c) is never replaced, and dropping it
 * counts each message it held. */
static void a_dropped_batch_counts_its_messages(void **state)
{
    struct outqueue q;
    struct outmsg *batch = outmsg_new(OUTMSG_BATCH, NULL, 9);

    memcpy(outmsg_text(batch), "[b#1,c#1]", 9);
    batch->count = 2;
    outqueue_init(&q, 2, 1 << 20);
    push(&q, batch);
    push(&q, sample("a", 1));
    assert_int_equal(push(&q, sample("a", 2)), 1); /* replaces a#1 */
    assert_int_equal(push(&q, sample("d", 1)), 2); /* the batch, two messages */
    assert_string_equal(text_at(&q, 0), "a#2");
    assert_string_equal(text_at(&q, 1), "d#1");
    outqueue_clear(&q);
}

static void replies_and_history_are_never_replaced(void **state)
{
    struct outqueue q;
    struct outmsg *m;

    outqueue_init(&q, 2, 1 << 20);
    m = outmsg_new(OUTMSG_HISTORY, "a", 5);
    memcpy(outmsg_text(m), "hist!", 5);
    push(&q, m);
    push(&q, outmsg_from_text("reply", 5));
    /* A sample of "a" does not replace the history of "a": the oldest goes. */
    assert_int_equal(push(&q, sample("a", 1)), 1);
    assert_string_equal(text_at(&q, 0), "reply");
    assert_string_equal(text_at(&q, 1), "a#1");
    outqueue_clear(&q);
}

static void the_byte_cap_bounds_the_queue(void **state)
{
    struct outqueue q;
    char name[16];
    int i;

    outqueue_init(&q, 1000, 100); /* "cN#0" is 4-5 bytes: about 20 fit */
    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        push(&q, sample(name, 0));
        assert_true(q.bytes <= 100);
    }
    assert_true(q.count < 30);
    assert_string_equal(text_at(&q, q.count - 1), "c499#0");
    outqueue_clear(&q);
}

static void one_oversized_message_still_goes_out(void **state)
{
    struct outqueue q;
    struct outmsg *m = outmsg_new(OUTMSG_HISTORY, "big", 1000);

    outqueue_init(&q, 10, 100);
    push(&q, sample("a", 1));
    assert_int_equal(push(&q, m), 1);
    assert_int_equal(q.count, 1);
    assert_int_equal(outqueue_peek(&q, 0)->len, 1000);
    outqueue_clear(&q);
}

static void shared_messages_are_freed_by_their_last_holder(void **state)
{
    struct outqueue a, b;
    struct outmsg *m = sample("x", 1);

    outqueue_init(&a, 4, 1 << 20);
    outqueue_init(&b, 4, 1 << 20);
    outqueue_push(&a, m);
    outqueue_push(&b, m);
    assert_int_equal(m->refs, 3);
    outmsg_unref(m);
    outqueue_clear(&a);
    assert_int_equal(m->refs, 1);
    outqueue_clear(&b); /* frees m; ASan/LSan would report otherwise */
}

static void the_ring_wraps_around_under_churn(void **state)
{
    struct outqueue q;
    struct outmsg *m;
    int i, next = 0;

    outqueue_init(&q, 8, 1 << 20);
    for (i = 0; i < 1000; i++) {
        char want[16];

        push(&q, sample("w", i));
        if (i % 3 == 2) {
            m = outqueue_pop(&q);
            snprintf(want, sizeof(want), "w#%d", next);
            /* Only replacement (same channel, newest) may skip values. */
            assert_true(strncmp(outmsg_text(m), "w#", 2) == 0);
            assert_true(atoi(outmsg_text(m) + 2) >= next);
            next = atoi(outmsg_text(m) + 2) + 1;
            outmsg_unref(m);
        }
        assert_true(q.count <= 8);
    }
    outqueue_clear(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(messages_come_out_in_order),
        cmocka_unit_test(a_full_queue_replaces_the_newest_sample_of_the_same_channel),
        cmocka_unit_test(without_a_sample_of_the_channel_the_oldest_is_dropped),
        cmocka_unit_test(a_dropped_batch_counts_its_messages),
        cmocka_unit_test(replies_and_history_are_never_replaced),
        cmocka_unit_test(the_byte_cap_bounds_the_queue),
        cmocka_unit_test(one_oversized_message_still_goes_out),
        cmocka_unit_test(shared_messages_are_freed_by_their_last_holder),
        cmocka_unit_test(the_ring_wraps_around_under_churn),
    };

    return cmocka_run_group_tests_name("gateway outqueue", tests, NULL, NULL);
}
