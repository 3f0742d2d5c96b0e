/* test_gateway_fanout.c -- unit tests of gateway/fanout.c's confirmation
 * rule: a subscription is held (nothing of it delivered) until Redis has
 * confirmed it and its owner has released it, so that a client told
 * "subscribed" misses nothing published after (docs/PROTOCOL.md, part 2).
 * The Redis connections are replaced by the pubsub_*() below; the tests
 * play Redis through fanout_pubsub_hooks. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/fanout.h"
#include "../../gateway/history.h"
#include "../../gateway/inventory.h"
#include "../../gateway/pubsub.h"

/* ------------------------------------------------------- Redis, faked */

#define MAX_SENT 32

static char sent[MAX_SENT][160]; /* "SUBSCRIBE name", "PUNSUBSCRIBE name", ... */
static size_t nsent;
static int subscriber_down;

static int send_sub(const char *verb, const char *name)
{
    if (subscriber_down)
        return -1;
    assert_true(nsent < MAX_SENT);
    snprintf(sent[nsent++], sizeof(sent[0]), "%s %s", verb, name);
    return 0;
}

int pubsub_subscribe(struct pubsub *ps, int pattern, const char *name)
{
    return send_sub(pattern ? "PSUBSCRIBE" : "SUBSCRIBE", name);
}

int pubsub_unsubscribe(struct pubsub *ps, int pattern, const char *name)
{
    return send_sub(pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", name);
}

/* History and inventory queries: the query connection is down (no frame),
 * which these tests do not look at; GETs of the inventory are counted. */
static size_t gets;

int pubsub_get(struct pubsub *ps, const char *key, pubsub_reply_fn fn, void *arg)
{
    gets++;
    return -1;
}

static size_t lranges; /* LRANGEs asked for */

int pubsub_lrange(struct pubsub *ps, const char *key, long start, long stop, pubsub_reply_fn fn,
                  void *arg)
{
    lranges++;
    return -1;
}

static struct fanout *f;

static void ack(int pattern, const char *name)
{
    fanout_pubsub_hooks.on_ack(f, pattern, name, strlen(name));
}

static void publish(const char *channel, const char *payload)
{
    fanout_pubsub_hooks.on_message(f, NULL, 0, channel, strlen(channel), payload, strlen(payload));
}

/* ----------------------------------------------------------- the peers */

struct peer_log {
    size_t delivered;
    size_t confirmations;
    char last[256];
};

static void deliver(void *ctx, struct outmsg *m)
{
    struct peer_log *log = ctx;

    log->delivered++;
    snprintf(log->last, sizeof(log->last), "%.*s", (int)m->len, outmsg_text(m));
}

static void confirmed(void *ctx)
{
    struct peer_log *log = ctx;

    log->confirmations++;
}

static struct config cfg = {.redis = {.prefix = "ifmon", .history = 300}};
static struct gateway gw = {.cfg = &cfg, .pubsub = (struct pubsub *)&gw};
static struct history_budget *budget;

static int setup(void **state)
{
    nsent = 0;
    gets = lranges = 0;
    subscriber_down = 0;
    gw.inventory = inventory_create(&gw);
    f = fanout_create(&gw);
    budget = history_budget_new(HISTORY_REQUEST_MAX_SAMPLES, HISTORY_REQUEST_MAX_BYTES, NULL);
    return 0;
}

static int teardown(void **state)
{
    fanout_free(f);
    inventory_free(gw.inventory);
    history_budget_unref(budget);
    return 0;
}

/* 1 when sent[] has `what`. */
static int was_sent(const char *what)
{
    size_t i;

    for (i = 0; i < nsent; i++)
        if (strcmp(sent[i], what) == 0)
            return 1;
    return 0;
}

/* --------------------------------------------------------------- tests */

static void a_subscription_is_confirmed_only_by_redis_and_held_until_released(void **state)
{
    struct peer_log log = {0};
    struct fanout_peer *p = fanout_peer_new(f, deliver, confirmed, &log);

    assert_int_equal(fanout_peer_subscribe(p, "ifmon:r1", 1), 1);
    assert_int_equal(nsent, 1);
    assert_string_equal(sent[0], "SUBSCRIBE ifmon:r1");
    assert_false(fanout_peer_confirmed(p, "ifmon:r1"));
    ack(0, "ifmon:r1");
    assert_int_equal(log.confirmations, 1);
    assert_true(fanout_peer_confirmed(p, "ifmon:r1"));
    /* Confirmed but not released: a message is held, not lost. */
    publish("ifmon:r1", "{\"ts\":1}");
    assert_int_equal(log.delivered, 0);
    fanout_peer_release(p, "ifmon:r1", 1, budget);
    assert_int_equal(log.delivered, 1);
    assert_string_equal(log.last, "{\"channel\":\"ifmon:r1\",\"data\":{\"ts\":1}}");
    publish("ifmon:r1", "{\"ts\":2}");
    assert_int_equal(log.delivered, 2);
    fanout_peer_free(p);
}

static void a_second_peer_on_a_confirmed_channel_is_confirmed_at_once(void **state)
{
    struct peer_log a = {0}, b = {0};
    struct fanout_peer *pa = fanout_peer_new(f, deliver, confirmed, &a);
    struct fanout_peer *pb = fanout_peer_new(f, deliver, confirmed, &b);

    fanout_peer_subscribe(pa, "ifmon:r1:*", 1);
    ack(1, "ifmon:r1:*");
    fanout_peer_subscribe(pb, "ifmon:r1:*", 7);
    assert_int_equal(nsent, 1); /* one PSUBSCRIBE for both */
    assert_true(fanout_peer_confirmed(pb, "ifmon:r1:*"));
    /* Held until its own request releases it. */
    fanout_peer_release(pb, "ifmon:r1:*", 1, budget);
    fanout_pubsub_hooks.on_message(f, "ifmon:r1:*", 10, "ifmon:r1:x", 10, "{\"ts\":1}", 8);
    assert_int_equal(b.delivered, 0);
    fanout_peer_release(pb, "ifmon:r1:*", 7, budget);
    assert_int_equal(b.delivered, 1);
    fanout_peer_free(pa);
    fanout_peer_free(pb);
}

static void a_subscription_made_while_redis_is_down_waits_for_its_return(void **state)
{
    struct peer_log log = {0};
    struct fanout_peer *p;

    subscriber_down = 1;
    fanout_pubsub_hooks.on_subscriber_down(f);
    p = fanout_peer_new(f, deliver, confirmed, &log);
    fanout_peer_subscribe(p, "ifmon:r2", 1);
    assert_int_equal(nsent, 0);
    subscriber_down = 0;
    fanout_pubsub_hooks.on_subscriber_up(f);
    /* With the gateway's own subscriptions to the inventory's channel and
     * to every device's events. */
    assert_int_equal(nsent, 3);
    assert_true(was_sent("SUBSCRIBE ifmon:r2"));
    assert_true(was_sent("SUBSCRIBE ifmon:inventory"));
    assert_true(was_sent("PSUBSCRIBE ifmon:events:*"));
    assert_false(fanout_peer_confirmed(p, "ifmon:r2"));
    ack(0, "ifmon:r2");
    assert_true(fanout_peer_confirmed(p, "ifmon:r2"));
    fanout_peer_free(p);
}

static void a_reconnection_takes_the_confirmation_back(void **state)
{
    struct peer_log log = {0};
    struct fanout_peer *p = fanout_peer_new(f, deliver, confirmed, &log);

    fanout_peer_subscribe(p, "ifmon:r3", 1);
    ack(0, "ifmon:r3");
    assert_true(fanout_peer_confirmed(p, "ifmon:r3"));
    fanout_pubsub_hooks.on_subscriber_down(f);
    assert_false(fanout_peer_confirmed(p, "ifmon:r3"));
    fanout_pubsub_hooks.on_subscriber_up(f);
    assert_false(fanout_peer_confirmed(p, "ifmon:r3"));
    ack(0, "ifmon:r3");
    assert_true(fanout_peer_confirmed(p, "ifmon:r3"));
    fanout_peer_free(p);
}

static void a_subscribe_behind_an_unsubscribe_in_flight_waits_for_both_acks(void **state)
{
    struct peer_log a = {0}, b = {0};
    struct fanout_peer *pa = fanout_peer_new(f, deliver, confirmed, &a);
    struct fanout_peer *pb = fanout_peer_new(f, deliver, confirmed, &b);

    fanout_peer_subscribe(pa, "ifmon:r4", 1);
    ack(0, "ifmon:r4");
    fanout_peer_unsubscribe(pa, "ifmon:r4");
    assert_string_equal(sent[1], "UNSUBSCRIBE ifmon:r4");
    fanout_peer_subscribe(pb, "ifmon:r4", 1);
    assert_string_equal(sent[2], "SUBSCRIBE ifmon:r4");
    ack(0, "ifmon:r4"); /* the UNSUBSCRIBE's */
    assert_false(fanout_peer_confirmed(pb, "ifmon:r4"));
    ack(0, "ifmon:r4"); /* the SUBSCRIBE's */
    assert_true(fanout_peer_confirmed(pb, "ifmon:r4"));
    assert_int_equal(b.confirmations, 1);
    fanout_peer_free(pa);
    fanout_peer_free(pb);
}

static void a_peer_lists_what_it_holds(void **state)
{
    struct peer_log log = {0};
    struct fanout_peer *p = fanout_peer_new(f, deliver, confirmed, &log);
    const char *a, *b;

    assert_int_equal(fanout_peer_subscribe(p, "ifmon:b", 1), 1);
    assert_int_equal(fanout_peer_subscribe(p, "ifmon:a:*", 1), 1);
    assert_int_equal(fanout_peer_subscribe(p, "ifmon:b", 2), 0);
    a = fanout_peer_channel(p, 0);
    b = fanout_peer_channel(p, 1);
    assert_non_null(a);
    assert_non_null(b);
    assert_true((strcmp(a, "ifmon:a:*") == 0 && strcmp(b, "ifmon:b") == 0) ||
                (strcmp(a, "ifmon:b") == 0 && strcmp(b, "ifmon:a:*") == 0));
    assert_null(fanout_peer_channel(p, 2));
    fanout_peer_free(p);
}

/* The peer's table against a plain array, through thousands of
 * subscriptions and unsubscriptions in a scrambled order (linear
 * probing's deletions move entries: each must still be found). */
static void a_peer_finds_what_it_holds_through_any_churn(void **state)
{
    enum { N = 3000 };
    static char names[N][32];
    static int held[N];
    struct peer_log log = {0};
    struct fanout_peer *p = fanout_peer_new(f, deliver, confirmed, &log);
    uint32_t seed = 7;
    size_t count = 0, i, round;

    subscriber_down = 1; /* nothing sent to Redis: only the peer's table counts */
    for (i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "ifmon:d%zu", i);
        held[i] = 0;
    }
    for (round = 0; round < 4 * N; round++) {
        seed = seed * 1103515245u + 12345u;
        i = (seed >> 8) % N;
        if (held[i]) {
            fanout_peer_unsubscribe(p, names[i]);
            count--;
        } else {
            assert_int_equal(fanout_peer_subscribe(p, names[i], 1), 1);
            count++;
        }
        held[i] = !held[i];
        if (round % 97 == 0) {
            size_t k;

            for (k = 0; k < N; k++)
                assert_int_equal(fanout_peer_has(p, names[k]), held[k]);
        }
    }
    assert_int_equal(fanout_peer_count(p), count);
    for (i = 0; i < count; i++)
        assert_non_null(fanout_peer_channel(p, i));
    fanout_peer_free(p);
}

static void the_gateway_hears_of_every_inventory_change_before_its_clients(void **state)
{
    struct peer_log log = {0};
    struct fanout_peer *p = fanout_peer_new(f, deliver, confirmed, &log);
    struct fanout_stats st;

    fanout_pubsub_hooks.on_subscriber_up(f);
    assert_true(was_sent("SUBSCRIBE ifmon:inventory"));
    /* Confirmed: the copy is read again (here Redis is down for GETs). */
    assert_int_equal(gets, 0);
    ack(0, "ifmon:inventory");
    assert_int_equal(gets, 1);
    /* Every message on the channel is a change. */
    publish("ifmon:inventory", "{\"ts\":1}");
    assert_int_equal(gets, 2);
    /* A client holding the channel too gets it, and its unsubscribe does
     * not unsubscribe the gateway's own; none of this is in the metrics. */
    fanout_peer_subscribe(p, "ifmon:inventory", 1);
    fanout_stats(f, &st);
    assert_int_equal(st.redis_channels, 1);
    fanout_peer_unsubscribe(p, "ifmon:inventory");
    fanout_stats(f, &st);
    assert_int_equal(st.redis_channels, 0);
    assert_false(was_sent("UNSUBSCRIBE ifmon:inventory"));
    fanout_peer_free(p);
}

/* "history": false (a NULL budget) and events channels: live data only,
 * no list read, no inventory read. */
static void a_subscription_without_history_reads_nothing(void **state)
{
    struct peer_log log = {0};
    struct fanout_peer *p = fanout_peer_new(f, deliver, confirmed, &log);
    const char *names[] = {"ifmon:h1:eth0", "ifmon:events:h1", "ifmon:events:*", "ifmon:events:h*"};
    size_t i;

    fanout_pubsub_hooks.on_subscriber_up(f);
    ack(0, "ifmon:inventory");
    gets = 0;
    for (i = 0; i < 4; i++) {
        fanout_peer_subscribe(p, names[i], 1);
        ack(i >= 2, names[i]);
    }
    publish("ifmon:h1:eth0", "{\"seq\":1,\"ts\":1}");
    assert_int_equal(log.delivered, 0); /* held until released */
    fanout_peer_release(p, "ifmon:h1:eth0", 1, NULL);
    assert_int_equal(log.delivered, 1);
    assert_string_equal(log.last, "{\"channel\":\"ifmon:h1:eth0\",\"data\":{\"seq\":1,\"ts\":1}}");
    for (i = 1; i < 4; i++)
        fanout_peer_release(p, names[i], 1, budget);
    assert_int_equal(lranges, 0);
    assert_int_equal(gets, 0);
    /* The same channel with history asks for its list. */
    fanout_peer_unsubscribe(p, "ifmon:h1:eth0");
    fanout_peer_subscribe(p, "ifmon:h1:eth0", 2);
    ack(0, "ifmon:h1:eth0"); /* the UNSUBSCRIBE's, then the SUBSCRIBE's */
    ack(0, "ifmon:h1:eth0");
    fanout_peer_release(p, "ifmon:h1:eth0", 2, budget);
    assert_int_equal(lranges, 1);
    fanout_peer_free(p);
}

/* ---------------------------------------------------------------- groups */

/* A peer holding `n` of names[], each confirmed and released. */
static struct fanout_peer *live_peer(struct peer_log *log, const char **names, size_t n)
{
    struct fanout_peer *p = fanout_peer_new(f, deliver, confirmed, log);
    size_t i;

    for (i = 0; i < n; i++) {
        if (fanout_peer_subscribe(p, names[i], 1) && !fanout_peer_confirmed(p, names[i]))
            ack(strchr(names[i], '*') != NULL, names[i]);
        fanout_peer_release(p, names[i], 1, NULL);
    }
    return p;
}

/* A group gets its messages as a peer would (deliver, a peer_log). */
static struct fanout_group *join(struct fanout_peer *p, struct peer_log *log)
{
    struct fanout_group *g = fanout_peer_join(p);

    if (g && fanout_group_ctx(g) == NULL)
        fanout_group_set(g, deliver, log);
    return g;
}

/* Peers holding the same set, in any order, share one group, which gets
 * each message once (a channel and a pattern matching it included) and
 * its members nothing of their own; another set makes another group. */
static void peers_holding_the_same_channels_share_one_delivery(void **state)
{
    const char *set1[] = {"ifmon:r1", "ifmon:r2", "ifmon:events:*"};
    const char *set1_reversed[] = {"ifmon:events:*", "ifmon:r2", "ifmon:r1"};
    const char *set2[] = {"ifmon:r1", "ifmon:r3"};
    struct peer_log a = {0}, b = {0}, c = {0};
    struct peer_log ga = {0}, gc = {0};
    struct fanout_peer *pa = live_peer(&a, set1, 3);
    struct fanout_peer *pb = live_peer(&b, set1_reversed, 3);
    struct fanout_peer *pc = live_peer(&c, set2, 2);
    struct fanout_stats st;
    struct fanout_group *g;

    g = join(pa, &ga);
    assert_non_null(g);
    assert_ptr_equal(join(pb, &ga), g);
    assert_ptr_equal(fanout_peer_group(pb), g);
    assert_ptr_not_equal(join(pc, &gc), g);
    fanout_stats(f, &st);
    assert_int_equal(st.groups, 2);
    assert_int_equal(st.grouped, 3);

    publish("ifmon:r1", "{\"ts\":1}");
    assert_int_equal(ga.delivered, 1);
    assert_int_equal(gc.delivered, 1);
    assert_int_equal(a.delivered + b.delivered + c.delivered, 0);
    publish("ifmon:r2", "{\"ts\":2}");
    assert_int_equal(ga.delivered, 2);
    assert_int_equal(gc.delivered, 1);
    /* An events channel, which the pattern matches: Redis sends the
     * message, then the pmessage; one delivery. */
    fanout_pubsub_hooks.on_message(f, "ifmon:events:*", 14, "ifmon:events:r1", 15,
                                   "{\"ts\":3}", 8);
    assert_int_equal(ga.delivered, 3);
    assert_string_equal(ga.last, "{\"channel\":\"ifmon:events:r1\",\"data\":{\"ts\":3}}");

    /* The first to leave gets its subscriptions back at once; the group
     * goes on for the other. */
    assert_null(fanout_peer_leave(pa, 1));
    assert_null(fanout_peer_group(pa));
    publish("ifmon:r1", "{\"ts\":4}");
    assert_int_equal(a.delivered, 1);
    assert_string_equal(a.last, "{\"channel\":\"ifmon:r1\",\"data\":{\"ts\":4}}");
    assert_int_equal(ga.delivered, 4);
    /* Its set changes while out of the group: another group when it
     * joins again. */
    fanout_peer_unsubscribe(pa, "ifmon:r2");
    fanout_peer_unsubscribe(pa, "ifmon:events:*");
    fanout_peer_subscribe(pa, "ifmon:r3", 2);
    fanout_peer_release(pa, "ifmon:r3", 2, NULL);
    assert_ptr_equal(join(pa, &gc), fanout_peer_group(pc));
    /* The last member leaving ends its group. */
    assert_ptr_equal(fanout_peer_leave(pb, 1), &ga);
    fanout_stats(f, &st);
    assert_int_equal(st.groups, 1);
    assert_int_equal(st.grouped, 2);
    publish("ifmon:r2", "{\"ts\":5}");
    assert_int_equal(b.delivered, 1);
    assert_int_equal(ga.delivered, 4);
    assert_null(fanout_peer_leave(pa, 1));
    assert_ptr_equal(fanout_peer_leave(pc, 1), &gc);
    fanout_peer_free(pa);
    fanout_peer_free(pb);
    fanout_peer_free(pc);
}

/* Only a peer whose subscriptions are all live may join: one held (its
 * request not acknowledged yet) keeps it out, and it stays as it was. */
static void a_peer_with_a_held_subscription_stays_alone(void **state)
{
    const char *names[] = {"ifmon:r1"};
    struct peer_log a = {0};
    struct peer_log ga = {0};
    struct fanout_peer *pa = live_peer(&a, names, 1);
    struct fanout_peer *empty = fanout_peer_new(f, deliver, confirmed, &a);

    assert_null(join(empty, &ga));
    fanout_peer_subscribe(pa, "ifmon:r2", 2);
    ack(0, "ifmon:r2");
    assert_null(join(pa, &ga));
    publish("ifmon:r1", "{\"ts\":1}");
    assert_int_equal(a.delivered, 1);
    fanout_peer_release(pa, "ifmon:r2", 2, NULL);
    assert_non_null(join(pa, &ga));
    publish("ifmon:r1", "{\"ts\":2}");
    assert_int_equal(a.delivered, 1);
    assert_int_equal(ga.delivered, 1);
    /* Leaving without taking its subscriptions back: they reach nobody
     * and can be dropped one by one (a connection that closed). */
    assert_ptr_equal(fanout_peer_leave(pa, 0), &ga);
    publish("ifmon:r1", "{\"ts\":3}");
    assert_int_equal(a.delivered, 1);
    fanout_peer_unsubscribe(pa, "ifmon:r1");
    fanout_peer_free(pa);
    fanout_peer_free(empty);
    assert_true(was_sent("UNSUBSCRIBE ifmon:r1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            a_subscription_is_confirmed_only_by_redis_and_held_until_released, setup, teardown),
        cmocka_unit_test_setup_teardown(a_second_peer_on_a_confirmed_channel_is_confirmed_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_subscription_made_while_redis_is_down_waits_for_its_return, setup, teardown),
        cmocka_unit_test_setup_teardown(a_reconnection_takes_the_confirmation_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            a_subscribe_behind_an_unsubscribe_in_flight_waits_for_both_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(a_peer_lists_what_it_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(a_peer_finds_what_it_holds_through_any_churn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            the_gateway_hears_of_every_inventory_change_before_its_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(a_subscription_without_history_reads_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(peers_holding_the_same_channels_share_one_delivery, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_peer_with_a_held_subscription_stays_alone, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("gateway fanout", tests, NULL, NULL);
}
