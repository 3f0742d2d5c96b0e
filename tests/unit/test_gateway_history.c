/* test_gateway_history.c -- unit tests of gateway/history.c, the hand-off
 * from a subscription's stored history to its live data: the history
 * frames come first, then only the live messages newer than them, with
 * no gap and no duplicate (docs/PROTOCOL.md, part 2, "History, then live
 * data"). Redis is replaced by the pubsub_get()/pubsub_lrange() below,
 * whose replies each test hands over when it wants. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/history.h"
#include "../../gateway/pubsub.h"

/* ------------------------------------------------------- Redis, faked */

#define MAX_QUERIES 16

struct query {
    char key[128];
    long start, stop; /* LRANGE */
    int is_get;
    pubsub_reply_fn fn;
    void *arg;
};

static struct query queries[MAX_QUERIES];
static size_t nqueries;
static int redis_down;

static int add_query(const char *key, int is_get, long start, long stop, pubsub_reply_fn fn,
                     void *arg)
{
    struct query *q;

    if (redis_down)
        return -1;
    assert_true(nqueries < MAX_QUERIES);
    q = &queries[nqueries++];
    snprintf(q->key, sizeof(q->key), "%s", key);
    q->is_get = is_get;
    q->start = start;
    q->stop = stop;
    q->fn = fn;
    q->arg = arg;
    return 0;
}

int pubsub_get(struct pubsub *ps, const char *key, pubsub_reply_fn fn, void *arg)
{
    return add_query(key, 1, 0, 0, fn, arg);
}

int pubsub_lrange(struct pubsub *ps, const char *key, long start, long stop, pubsub_reply_fn fn,
                  void *arg)
{
    return add_query(key, 0, start, stop, fn, arg);
}

static void reply_string(size_t i, const char *s)
{
    redisReply r = {.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};

    queries[i].fn(queries[i].arg, &r);
}

/* An LRANGE reply of the given samples (NULL-terminated). */
static void reply_list(size_t i, const char *const *samples)
{
    redisReply els[8], *ptrs[8], r = {.type = REDIS_REPLY_ARRAY};
    size_t n;

    for (n = 0; samples[n]; n++) {
        els[n] = (redisReply){
            .type = REDIS_REPLY_STRING, .str = (char *)samples[n], .len = strlen(samples[n])};
        ptrs[n] = &els[n];
    }
    r.elements = n;
    r.element = ptrs;
    queries[i].fn(queries[i].arg, &r);
}

/* -------------------------------------------------------- the receiver */

#define MAX_GOT 64

static char *got[MAX_GOT];       /* the first MAX_GOT texts delivered */
static size_t ngot;              /* all delivered */
static const char *held_exactly; /* the channel holds_exactly() says is held */

static void deliver(void *ctx, struct outmsg *m)
{
    if (ngot < MAX_GOT)
        got[ngot] = strndup(outmsg_text(m), m->len);
    ngot++;
}

static int holds_exactly(void *ctx, const char *channel)
{
    return held_exactly && strcmp(channel, held_exactly) == 0;
}

static const struct history_hooks hooks = {deliver, holds_exactly};

static struct config cfg = {.redis = {.prefix = "ifmon", .history = 300}};
static struct gateway gw = {.cfg = &cfg};

static int setup(void **state)
{
    nqueries = 0;
    redis_down = 0;
    ngot = 0;
    held_exactly = NULL;
    return 0;
}

static int teardown(void **state)
{
    size_t i;

    for (i = 0; i < ngot && i < MAX_GOT; i++)
        free(got[i]);
    return 0;
}

static struct outmsg *sample(const char *channel, double ts)
{
    char text[128];
    int n = snprintf(text, sizeof(text), "{\"channel\":\"%s\",\"data\":{\"ts\":%g}}", channel, ts);
    struct outmsg *m = outmsg_new(OUTMSG_DATA, channel, (size_t)n);

    memcpy(outmsg_text(m), text, (size_t)n);
    m->has_ts = 1;
    m->ts = ts;
    return m;
}

/* Offer a live message; 1 when it is to be delivered now. */
static int admit(struct history *h, const char *channel, double ts, uint64_t *dropped)
{
    struct outmsg *m = sample(channel, ts);
    int now = history_admit(h, m, dropped);

    if (now)
        deliver(NULL, m);
    outmsg_unref(m);
    return now;
}

/* --------------------------------------------------------------- tests */

static void an_interface_gets_its_history_then_only_newer_live_data(void **state)
{
    static const char *const stored[] = {"{\"ts\":1}", "{\"ts\":2}", "{\"ts\":3}", NULL};
    const char *ch = "ifmon:a:eth0";
    struct history h;
    uint64_t dropped = 0;

    history_init(&h, 1);
    /* Published while the Redis subscription is being confirmed: held. */
    assert_false(admit(&h, ch, 2, &dropped));
    history_fetch(&h, &gw, ch, 0, &hooks, NULL);
    assert_int_equal(nqueries, 1);
    assert_string_equal(queries[0].key, "ifmon:history:a:eth0");
    assert_int_equal(queries[0].start, -300);
    assert_int_equal(queries[0].stop, -1);
    assert_false(admit(&h, ch, 3, &dropped));
    assert_int_equal(ngot, 0);

    /* Both held messages are in the stored list: only the frame goes. */
    reply_list(0, stored);
    assert_int_equal(h.state, HISTORY_LIVE);
    assert_int_equal(ngot, 1);
    assert_string_equal(
        got[0], "{\"channel\":\"ifmon:a:eth0\",\"history\":[{\"ts\":1},{\"ts\":2},{\"ts\":3}]}");
    /* A message read after the LRANGE reply but published before it is a
     * duplicate too; the first newer one lifts the floor. */
    assert_false(admit(&h, ch, 3, &dropped));
    assert_int_equal(h.floors_active, 1);
    assert_true(admit(&h, ch, 4, &dropped));
    assert_int_equal(h.floors_active, 0);
    assert_true(admit(&h, ch, 5, &dropped));
    assert_int_equal(ngot, 3);
    assert_string_equal(got[1], "{\"channel\":\"ifmon:a:eth0\",\"data\":{\"ts\":4}}");
    assert_int_equal(dropped, 0);
    history_release(&h);
}

static void held_messages_newer_than_the_history_follow_the_frame(void **state)
{
    static const char *const stored[] = {"{\"ts\":1}", "{\"ts\":2}", NULL};
    const char *ch = "ifmon:a:eth0";
    struct history h;
    uint64_t dropped = 0;

    history_init(&h, 1);
    assert_false(admit(&h, ch, 2, &dropped));
    history_fetch(&h, &gw, ch, 0, &hooks, NULL);
    assert_false(admit(&h, ch, 3, &dropped));
    reply_list(0, stored);
    assert_int_equal(ngot, 2);
    assert_string_equal(got[0],
                        "{\"channel\":\"ifmon:a:eth0\",\"history\":[{\"ts\":1},{\"ts\":2}]}");
    assert_string_equal(got[1], "{\"channel\":\"ifmon:a:eth0\",\"data\":{\"ts\":3}}");
    assert_true(admit(&h, ch, 4, &dropped));
    history_release(&h);
}

static void an_empty_history_is_still_a_frame(void **state)
{
    static const char *const none[] = {NULL};
    struct history h;
    uint64_t dropped = 0;

    history_init(&h, 1);
    history_fetch(&h, &gw, "ifmon:a:eth0", 0, &hooks, NULL);
    reply_list(0, none);
    assert_int_equal(ngot, 1);
    assert_string_equal(got[0], "{\"channel\":\"ifmon:a:eth0\",\"history\":[]}");
    assert_true(admit(&h, "ifmon:a:eth0", 1, &dropped));
    history_release(&h);
}

static void a_pattern_gets_the_history_of_each_inventory_channel_it_matches(void **state)
{
    static const char *const s1[] = {"{\"ts\":10}", NULL}, *const s2[] = {"{\"ts\":20}", NULL};
    const char *inventory = "{\"version\":1,\"sites\":[{\"name\":\"s\",\"devices\":["
                            "{\"name\":\"a\",\"interfaces\":[{\"channel\":\"ifmon:a:eth0\"},"
                            "{\"channel\":\"ifmon:a:eth1\"},{\"channel\":\"ifmon:a:eth2\"}]},"
                            "{\"name\":\"b\",\"interfaces\":[{\"channel\":\"ifmon:b:eth0\"}]}]}]}";
    struct history h;
    uint64_t dropped = 0;

    held_exactly = "ifmon:a:eth1"; /* had its history when subscribed exactly */
    history_init(&h, 1);
    history_fetch(&h, &gw, "ifmon:a:*", 1, &hooks, NULL);
    assert_int_equal(nqueries, 1);
    assert_true(queries[0].is_get);
    assert_string_equal(queries[0].key, "ifmon:inventory");
    reply_string(0, inventory);
    assert_int_equal(nqueries, 3);
    assert_string_equal(queries[1].key, "ifmon:history:a:eth0");
    assert_string_equal(queries[2].key, "ifmon:history:a:eth2");
    assert_false(admit(&h, "ifmon:a:eth2", 21, &dropped));
    assert_false(admit(&h, "ifmon:a:eth0", 10, &dropped));
    /* Replies in any order; frames go out in inventory order, together. */
    reply_list(2, s2);
    assert_int_equal(ngot, 0);
    reply_list(1, s1);
    assert_int_equal(ngot, 3);
    assert_string_equal(got[0], "{\"channel\":\"ifmon:a:eth0\",\"history\":[{\"ts\":10}]}");
    assert_string_equal(got[1], "{\"channel\":\"ifmon:a:eth2\",\"history\":[{\"ts\":20}]}");
    assert_string_equal(got[2], "{\"channel\":\"ifmon:a:eth2\",\"data\":{\"ts\":21}}");
    /* A channel that appeared later has no floor: live at once. */
    assert_true(admit(&h, "ifmon:a:eth9", 1, &dropped));
    history_release(&h);
}

static void without_redis_the_subscription_goes_live_with_what_it_held(void **state)
{
    struct history h;
    uint64_t dropped = 0;

    history_init(&h, 1);
    assert_false(admit(&h, "ifmon:a:eth0", 1, &dropped));
    redis_down = 1;
    history_fetch(&h, &gw, "ifmon:a:eth0", 0, &hooks, NULL);
    assert_int_equal(h.state, HISTORY_LIVE);
    assert_int_equal(ngot, 1);
    assert_string_equal(got[0], "{\"channel\":\"ifmon:a:eth0\",\"data\":{\"ts\":1}}");
    history_release(&h);
}

static void a_subscription_that_leaves_gets_nothing_more(void **state)
{
    static const char *const stored[] = {"{\"ts\":1}", NULL};
    struct history h;
    uint64_t dropped = 0;

    history_init(&h, 1);
    history_fetch(&h, &gw, "ifmon:a:eth0", 0, &hooks, NULL);
    assert_false(admit(&h, "ifmon:a:eth0", 2, &dropped));
    history_release(&h);
    reply_list(0, stored); /* frees the fetch; ASan reports a leak otherwise */
    assert_int_equal(ngot, 0);
}

static void the_hold_keeps_the_newest_messages(void **state)
{
    static const char *const none[] = {NULL};
    struct history h;
    uint64_t dropped = 0;
    int i;

    history_init(&h, 1);
    for (i = 1; i <= HISTORY_HOLD_MAX + 2; i++)
        assert_false(admit(&h, "ifmon:a:eth0", i, &dropped));
    assert_int_equal(dropped, 2);
    history_fetch(&h, &gw, "ifmon:a:eth0", 0, &hooks, NULL);
    reply_list(0, none);
    assert_int_equal(ngot, 1 + HISTORY_HOLD_MAX);
    assert_string_equal(got[1], "{\"channel\":\"ifmon:a:eth0\",\"data\":{\"ts\":3}}");
    history_release(&h);
}

static void channels_without_history_are_live_at_once(void **state)
{
    struct history h;
    uint64_t dropped = 0;

    history_init(&h, 0);
    assert_true(admit(&h, "ifmon:a", 1, &dropped));
    assert_int_equal(nqueries, 0);
    history_release(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_interface_gets_its_history_then_only_newer_live_data,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(held_messages_newer_than_the_history_follow_the_frame,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(an_empty_history_is_still_a_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_pattern_gets_the_history_of_each_inventory_channel_it_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(without_redis_the_subscription_goes_live_with_what_it_held,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_subscription_that_leaves_gets_nothing_more, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_hold_keeps_the_newest_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(channels_without_history_are_live_at_once, setup, teardown),
    };

    return cmocka_run_group_tests_name("gateway history", tests, NULL, NULL);
}
