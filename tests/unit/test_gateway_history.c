/* test_gateway_history.c -- unit tests of gateway/history.c, the hand-off
 * from a subscription's stored history to its live data: each channel's
 * history frame comes first, then only the live messages newer than it,
 * with no gap and no duplicate (docs/PROTOCOL.md, part 2, "History, then
 * live data"), within a bounded number of queries in flight, the
 * request's caps and the connection's bucket, and with one LRANGE per
 * channel at a time however many subscriptions want it. Redis is replaced
 * by the pubsub_get()/pubsub_lrange() below, whose replies each test hands
 * over when it wants (a pattern's channels come from inventory.c, which
 * GETs the snapshot through the same fake). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../gateway/history.h"
#include "../../gateway/inventory.h"
#include "../../gateway/pubsub.h"

/* ------------------------------------------------------- Redis, faked */

#define MAX_QUERIES 64

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

/* An LRANGE reply of n copies of one sample. */
static void reply_many(size_t i, size_t n, const char *sample)
{
    redisReply el = {.type = REDIS_REPLY_STRING, .str = (char *)sample, .len = strlen(sample)};
    redisReply **ptrs = malloc((n + 1) * sizeof(*ptrs)), r = {.type = REDIS_REPLY_ARRAY};
    size_t k;

    for (k = 0; k < n; k++)
        ptrs[k] = &el;
    r.elements = n;
    r.element = ptrs;
    queries[i].fn(queries[i].arg, &r);
    free(ptrs);
}

/* An LRANGE reply of the given samples (NULL-terminated, at most 8). */
static void reply_list(size_t i, const char *const *samples)
{
    redisReply els[8], *ptrs[8], r = {.type = REDIS_REPLY_ARRAY};
    size_t n;

    for (n = 0; samples[n]; n++) {
        assert_true(n < 8);
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
static struct history_registry *reg;
static struct history_budget *budget; /* the request's: plenty, unless a test says */

static int setup(void **state)
{
    nqueries = 0;
    redis_down = 0;
    ngot = 0;
    held_exactly = NULL;
    gw.inventory = inventory_create(&gw);
    reg = history_registry_new(&gw);
    budget = history_budget_new(HISTORY_REQUEST_MAX_SAMPLES, HISTORY_REQUEST_MAX_BYTES, NULL);
    return 0;
}

static int teardown(void **state)
{
    size_t i;

    for (i = 0; i < ngot && i < MAX_GOT; i++)
        free(got[i]);
    history_budget_unref(budget);
    history_registry_free(reg); /* asserts that every LRANGE was answered */
    inventory_free(gw.inventory);
    return 0;
}

/* Start h's fetch for name with the test's budget. */
static void fetch(struct history *h, const char *name, int pattern)
{
    history_fetch(h, reg, name, pattern, budget, &hooks, NULL);
}

/* The next delivered text is `want`. */
static void got_next(size_t *at, const char *want)
{
    assert_true(*at < ngot && *at < MAX_GOT);
    assert_string_equal(got[*at], want);
    (*at)++;
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

    history_init(&h);
    /* Published while the Redis subscription is being confirmed: held. */
    assert_false(admit(&h, ch, 2, &dropped));
    fetch(&h, ch, 0);
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

    history_init(&h);
    assert_false(admit(&h, ch, 2, &dropped));
    fetch(&h, ch, 0);
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

    history_init(&h);
    fetch(&h, "ifmon:a:eth0", 0);
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
    history_init(&h);
    fetch(&h, "ifmon:a:*", 1);
    assert_int_equal(nqueries, 1);
    assert_true(queries[0].is_get);
    assert_string_equal(queries[0].key, "ifmon:inventory");
    reply_string(0, inventory);
    assert_int_equal(nqueries, 3);
    assert_string_equal(queries[1].key, "ifmon:history:a:eth0");
    assert_string_equal(queries[2].key, "ifmon:history:a:eth2");
    assert_false(admit(&h, "ifmon:a:eth2", 21, &dropped));
    assert_false(admit(&h, "ifmon:a:eth0", 10, &dropped));
    /* A channel the inventory does not have, or that is held exactly,
     * gets no frame: live at once. */
    assert_true(admit(&h, "ifmon:a:eth9", 1, &dropped));
    assert_true(admit(&h, "ifmon:a:eth1", 1, &dropped));
    ngot = 0;
    free(got[0]);
    free(got[1]);
    /* Each frame goes as its reply comes, with its channel's held
     * messages newer than it right after; the others wait. */
    reply_list(2, s2);
    assert_int_equal(ngot, 2);
    assert_string_equal(got[0], "{\"channel\":\"ifmon:a:eth2\",\"history\":[{\"ts\":20}]}");
    assert_string_equal(got[1], "{\"channel\":\"ifmon:a:eth2\",\"data\":{\"ts\":21}}");
    assert_true(admit(&h, "ifmon:a:eth2", 22, &dropped));
    assert_false(admit(&h, "ifmon:a:eth0", 11, &dropped));
    assert_int_equal(h.state, HISTORY_FETCHING);
    reply_list(1, s1);
    assert_int_equal(h.state, HISTORY_LIVE);
    assert_int_equal(ngot, 5);
    assert_string_equal(got[3], "{\"channel\":\"ifmon:a:eth0\",\"history\":[{\"ts\":10}]}");
    assert_string_equal(got[4], "{\"channel\":\"ifmon:a:eth0\",\"data\":{\"ts\":11}}");
    assert_true(admit(&h, "ifmon:a:eth9", 2, &dropped));
    history_release(&h);
}

static void without_redis_the_subscription_goes_live_with_what_it_held(void **state)
{
    struct history h;
    uint64_t dropped = 0;

    history_init(&h);
    assert_false(admit(&h, "ifmon:a:eth0", 1, &dropped));
    redis_down = 1;
    fetch(&h, "ifmon:a:eth0", 0);
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

    history_init(&h);
    fetch(&h, "ifmon:a:eth0", 0);
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

    history_init(&h);
    for (i = 1; i <= HISTORY_HOLD_MAX + 2; i++)
        assert_false(admit(&h, "ifmon:a:eth0", i, &dropped));
    assert_int_equal(dropped, 2);
    fetch(&h, "ifmon:a:eth0", 0);
    reply_list(0, none);
    assert_int_equal(ngot, 1 + HISTORY_HOLD_MAX);
    assert_string_equal(got[1], "{\"channel\":\"ifmon:a:eth0\",\"data\":{\"ts\":3}}");
    history_release(&h);
}

static void channels_without_history_hold_until_skipped(void **state)
{
    struct history h;
    uint64_t dropped = 0;

    history_init(&h);
    assert_false(admit(&h, "ifmon:a", 1, &dropped)); /* not acknowledged yet */
    history_skip(&h, &hooks, NULL);
    assert_int_equal(ngot, 1);
    assert_string_equal(got[0], "{\"channel\":\"ifmon:a\",\"data\":{\"ts\":1}}");
    assert_true(admit(&h, "ifmon:a", 2, &dropped));
    assert_int_equal(nqueries, 0);
    history_release(&h);
}

/* An inventory of n interfaces of device d, "ifmon:d:e00".."ifmon:d:e<n-1>". */
static char *inventory_of(int n)
{
    size_t size = 128 + (size_t)n * 40, len;
    char *s = malloc(size);
    int i;

    len = (size_t)snprintf(s, size, "{\"sites\":[{\"devices\":[{\"interfaces\":[");
    for (i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, size - len, "%s{\"channel\":\"ifmon:d:e%02d\"}",
                                i ? "," : "", i);
    snprintf(s + len, size - len, "]}]}]}");
    return s;
}

static void a_pattern_has_at_most_eight_lists_asked_at_a_time(void **state)
{
    static const char *const one[] = {"{\"ts\":1}", NULL};
    char *inv = inventory_of(20);
    struct history h;
    size_t q;

    history_init(&h);
    fetch(&h, "ifmon:d:*", 1);
    reply_string(0, inv);
    free(inv);
    assert_int_equal(nqueries, 1 + HISTORY_LRANGE_INFLIGHT);
    /* Each reply lets one more go. */
    for (q = 1; q < nqueries; q++) {
        reply_list(q, one);
        assert_true(nqueries - 1 - q <= HISTORY_LRANGE_INFLIGHT);
    }
    assert_int_equal(nqueries, 21);
    assert_int_equal(ngot, 20);
    assert_int_equal(h.state, HISTORY_LIVE);
    history_release(&h);
}

static void the_request_s_samples_are_capped_and_the_rest_skipped(void **state)
{
    static const char *const two[] = {"{\"ts\":1}", "{\"ts\":2}", NULL};
    char *inv = inventory_of(5);
    struct history h;
    uint64_t dropped = 0;

    history_budget_unref(budget);
    budget = history_budget_new(650, HISTORY_REQUEST_MAX_BYTES, NULL); /* two lists and a bit */
    history_init(&h);
    fetch(&h, "ifmon:d:*", 1);
    reply_string(0, inv);
    free(inv);
    /* 300 + 300 + 50 samples asked for, then nothing is left. */
    assert_int_equal(nqueries, 4);
    assert_int_equal(queries[1].start, -300);
    assert_int_equal(queries[2].start, -300);
    assert_int_equal(queries[3].start, -50);
    assert_string_equal(queries[3].key, "ifmon:history:d:e02");
    /* Lists shorter than asked give samples back... */
    reply_list(1, two);
    assert_int_equal(nqueries, 5);
    assert_int_equal(queries[4].start, -298);
    reply_list(2, two);
    reply_list(3, two);
    reply_list(4, two);
    /* ...and the last channel gets what is left. */
    assert_int_equal(nqueries, 6);
    reply_list(5, two);
    assert_int_equal(h.state, HISTORY_LIVE);
    assert_int_equal(ngot, 5);
    assert_true(admit(&h, "ifmon:d:e04", 3, &dropped));
    history_release(&h);
}

static void a_pattern_past_the_cap_gets_a_notice_and_live_data(void **state)
{
    static const char *const two[] = {"{\"ts\":1}", "{\"ts\":2}", NULL}, *const newest[] = {
                                                                             "{\"ts\":2}", NULL};
    char *inv = inventory_of(4);
    struct history h;
    uint64_t dropped = 0;

    history_budget_unref(budget);
    budget = history_budget_new(5, HISTORY_REQUEST_MAX_BYTES, NULL);
    cfg.redis.history = 2;
    history_init(&h);
    fetch(&h, "ifmon:d:*", 1);
    reply_string(0, inv);
    free(inv);
    /* 2 + 2 + 1 samples: the third list is asked for its newest only. */
    assert_int_equal(nqueries, 4);
    assert_int_equal(queries[3].start, -1);
    assert_false(admit(&h, "ifmon:d:e03", 5, &dropped));
    reply_list(1, two);
    reply_list(2, two);
    reply_list(3, newest); /* full lists: nothing comes back, e03 gets nothing */
    cfg.redis.history = 300;
    assert_int_equal(h.state, HISTORY_LIVE);
    assert_int_equal(nqueries, 4);
    assert_int_equal(ngot, 5);
    assert_string_equal(got[2], "{\"channel\":\"ifmon:d:e02\",\"history\":[{\"ts\":2}],"
                                "\"truncated\":true}");
    assert_string_equal(got[3], "{\"channel\":\"ifmon:d:e03\",\"data\":{\"ts\":5}}");
    assert_string_equal(got[4],
                        "{\"op\":\"history_truncated\",\"channel\":\"ifmon:d:*\",\"skipped\":1}");
    history_release(&h);
}

static void a_frame_over_the_bytes_left_keeps_its_newest_samples(void **state)
{
    static const char *const three[] = {"{\"ts\":1,\"pad\":\"xxxxxxxxxx\"}", "{\"ts\":2}",
                                        "{\"ts\":3}", NULL};
    struct history h, h2;
    uint64_t dropped = 0;

    history_budget_unref(budget);
    /* Room for the frame with its two newest samples (73 bytes, and the
     * one comma the count adds per sample), not for the oldest too. */
    budget = history_budget_new(HISTORY_REQUEST_MAX_SAMPLES, 74, NULL);
    history_init(&h);
    fetch(&h, "ifmon:a:eth0", 0);
    reply_list(0, three);
    assert_int_equal(ngot, 1);
    assert_string_equal(got[0], "{\"channel\":\"ifmon:a:eth0\",\"history\":[{\"ts\":2},{\"ts\":3}],"
                                "\"truncated\":true}");
    /* The floor is the newest sample's, as without the cut. */
    assert_false(admit(&h, "ifmon:a:eth0", 3, &dropped));
    assert_true(admit(&h, "ifmon:a:eth0", 4, &dropped));
    /* Nothing is left for another channel of the request: an exact
     * channel still gets a frame, empty, and asks Redis nothing. */
    history_init(&h2);
    fetch(&h2, "ifmon:a:eth1", 0);
    assert_int_equal(nqueries, 1);
    assert_int_equal(ngot, 3);
    assert_string_equal(got[2], "{\"channel\":\"ifmon:a:eth1\",\"history\":[],\"truncated\":true}");
    history_release(&h);
    history_release(&h2);
}

static void subscriptions_that_start_while_a_list_is_read_share_the_next_lrange(void **state)
{
    static const char *const one[] = {"{\"ts\":1}", NULL}, *const two[] = {"{\"ts\":1}",
                                                                           "{\"ts\":2}", NULL};
    const char *ch = "ifmon:a:eth0";
    struct history a, b, c;
    struct history_stats st;
    uint64_t dropped = 0;
    size_t at = 0;

    history_init(&a);
    history_init(&b);
    history_init(&c);
    fetch(&a, ch, 0);
    /* Sent before b and c were confirmed: its reply may miss what b and c
     * do not get live. They wait for the next one, together. */
    fetch(&b, ch, 0);
    fetch(&c, ch, 0);
    assert_int_equal(nqueries, 1);
    assert_false(admit(&b, ch, 2, &dropped));
    reply_list(0, one);
    got_next(&at, "{\"channel\":\"ifmon:a:eth0\",\"history\":[{\"ts\":1}]}");
    assert_int_equal(ngot, 1);
    assert_int_equal(nqueries, 2);
    assert_int_equal(queries[1].start, -300);
    reply_list(1, two);
    /* One frame for both; b's held message is in it: not sent twice. */
    got_next(&at, "{\"channel\":\"ifmon:a:eth0\",\"history\":[{\"ts\":1},{\"ts\":2}]}");
    got_next(&at, "{\"channel\":\"ifmon:a:eth0\",\"history\":[{\"ts\":1},{\"ts\":2}]}");
    assert_int_equal(ngot, 3);
    assert_int_equal(b.state, HISTORY_LIVE);
    assert_int_equal(c.state, HISTORY_LIVE);
    assert_false(admit(&c, ch, 2, &dropped));
    assert_true(admit(&c, ch, 3, &dropped));
    history_registry_stats(reg, &st);
    assert_int_equal(st.lranges, 2);
    assert_int_equal(st.shared, 1);
    history_release(&a);
    history_release(&b);
    history_release(&c);
}

static void a_pattern_takes_a_later_lrange_of_a_channel_in_flight(void **state)
{
    static const char *const one[] = {"{\"ts\":1}", NULL};
    char *inv = inventory_of(10);
    struct history p, e;
    struct history_stats st;
    size_t q, before;

    history_init(&p);
    fetch(&p, "ifmon:d:*", 1);
    reply_string(0, inv);
    free(inv);
    assert_int_equal(nqueries, 1 + HISTORY_LRANGE_INFLIGHT); /* e00..e07 */
    /* An exact subscription to e09, after the pattern's started. */
    history_init(&e);
    fetch(&e, "ifmon:d:e09", 0);
    assert_int_equal(nqueries, 10);
    assert_string_equal(queries[9].key, "ifmon:history:d:e09");
    reply_list(1, one); /* the pattern asks for e08 */
    assert_int_equal(nqueries, 11);
    reply_list(2, one); /* and for e09: the LRANGE in flight is recent enough */
    assert_int_equal(nqueries, 11);
    before = ngot;
    reply_list(9, one); /* one reply, two frames */
    assert_int_equal(ngot, before + 2);
    assert_int_equal(e.state, HISTORY_LIVE);
    for (q = 3; q < nqueries; q++)
        if (q != 9)
            reply_list(q, one);
    assert_int_equal(p.state, HISTORY_LIVE);
    assert_int_equal(nqueries, 11);
    history_registry_stats(reg, &st);
    assert_int_equal(st.lranges, 10);
    assert_int_equal(st.shared, 1);
    history_release(&p);
    history_release(&e);
}

static void a_subscription_gone_before_the_next_lrange_asks_nothing(void **state)
{
    static const char *const one[] = {"{\"ts\":1}", NULL};
    struct history a, b;

    history_init(&a);
    history_init(&b);
    fetch(&a, "ifmon:a:eth0", 0);
    fetch(&b, "ifmon:a:eth0", 0);
    history_release(&b);
    reply_list(0, one);
    assert_int_equal(nqueries, 1);
    assert_int_equal(ngot, 1);
    history_release(&a);
}

static void the_connection_s_bucket_bounds_what_its_requests_ask(void **state)
{
    const char *sample = "{\"ts\":1}";
    struct history_bucket *bucket = history_bucket_new();
    struct history h1, h2, h3, h4, h5;
    size_t at;

    /* Lists as long as a request's cap: two requests empty the bucket. */
    cfg.redis.history = HISTORY_REQUEST_MAX_SAMPLES;
    history_bucket_refill(bucket, 1000);
    assert_int_equal(history_bucket_level(bucket), (size_t)HISTORY_CONN_BURST);
    history_budget_unref(budget);
    budget = history_budget_new(HISTORY_REQUEST_MAX_SAMPLES, HISTORY_REQUEST_MAX_BYTES, bucket);
    history_init(&h1);
    fetch(&h1, "ifmon:a:e1", 0);
    reply_many(0, HISTORY_REQUEST_MAX_SAMPLES, sample);
    history_budget_unref(budget);
    budget = history_budget_new(HISTORY_REQUEST_MAX_SAMPLES, HISTORY_REQUEST_MAX_BYTES, bucket);
    history_init(&h2);
    fetch(&h2, "ifmon:a:e2", 0);
    reply_many(1, HISTORY_REQUEST_MAX_SAMPLES, sample);
    assert_int_equal(history_bucket_level(bucket), 0);
    assert_int_equal(ngot, 2);
    /* The next request gets no history and asks Redis nothing: an exact
     * channel gets an empty frame, a pattern a notice. */
    history_budget_unref(budget);
    budget = history_budget_new(HISTORY_REQUEST_MAX_SAMPLES, HISTORY_REQUEST_MAX_BYTES, bucket);
    history_init(&h3);
    fetch(&h3, "ifmon:a:e3", 0);
    history_init(&h4);
    fetch(&h4, "ifmon:d:*", 1);
    {
        char *inv = inventory_of(3);

        reply_string(2, inv);
        free(inv);
    }
    assert_int_equal(nqueries, 3);
    at = 2;
    got_next(&at, "{\"channel\":\"ifmon:a:e3\",\"history\":[],\"truncated\":true}");
    got_next(&at, "{\"op\":\"history_truncated\",\"channel\":\"ifmon:d:*\",\"skipped\":3}");
    /* A second later: HISTORY_CONN_RATE samples, asked for at once. */
    history_bucket_refill(bucket, 2000);
    assert_int_equal(history_bucket_level(bucket), (size_t)HISTORY_CONN_RATE);
    history_budget_unref(budget);
    budget = history_budget_new(HISTORY_REQUEST_MAX_SAMPLES, HISTORY_REQUEST_MAX_BYTES, bucket);
    history_init(&h5);
    fetch(&h5, "ifmon:a:e5", 0);
    assert_int_equal(nqueries, 4);
    assert_int_equal(queries[3].start, -(long)HISTORY_CONN_RATE);
    /* An empty list costs one sample; the rest comes back. */
    reply_many(3, 0, sample);
    assert_int_equal(history_bucket_level(bucket), (size_t)HISTORY_CONN_RATE - 1);
    cfg.redis.history = 300;
    history_release(&h1);
    history_release(&h2);
    history_release(&h3);
    history_release(&h4);
    history_release(&h5);
    history_bucket_unref(bucket);
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
        cmocka_unit_test_setup_teardown(channels_without_history_hold_until_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_pattern_has_at_most_eight_lists_asked_at_a_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_request_s_samples_are_capped_and_the_rest_skipped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_pattern_past_the_cap_gets_a_notice_and_live_data, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_frame_over_the_bytes_left_keeps_its_newest_samples, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            subscriptions_that_start_while_a_list_is_read_share_the_next_lrange, setup, teardown),
        cmocka_unit_test_setup_teardown(a_pattern_takes_a_later_lrange_of_a_channel_in_flight,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_subscription_gone_before_the_next_lrange_asks_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(the_connection_s_bucket_bounds_what_its_requests_ask, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("gateway history", tests, NULL, NULL);
}
