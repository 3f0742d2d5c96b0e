/* test_gateway_inventory.c -- unit tests of gateway/inventory.c, the
 * gateway's copy of the inventory snapshot and the `list` request it
 * answers (docs/PROTOCOL.md, part 2, "list"): the snapshot is read once
 * per change and never per request, a change is seen by the next list,
 * requests waiting share one GET, and a restricted token's view, cut from
 * the copy's index, is the one the jansson tree filter it replaced gave
 * (on hand-picked snapshots and on thousands of mutations of one). Redis
 * is replaced by the pubsub_get() below. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../gateway/access.h"
#include "../../gateway/inventory.h"
#include "../../gateway/pubsub.h"

/* ------------------------------------------------------- Redis, faked */

#define MAX_GETS 8

static struct {
    pubsub_reply_fn fn;
    void *arg;
} gets[MAX_GETS];
static size_t ngets, nanswered;
static int redis_down;

int pubsub_get(struct pubsub *ps, const char *key, pubsub_reply_fn fn, void *arg)
{
    if (redis_down)
        return -1;
    assert_string_equal(key, "ifmon:inventory");
    assert_true(ngets - nanswered < MAX_GETS);
    gets[ngets % MAX_GETS].fn = fn;
    gets[ngets % MAX_GETS].arg = arg;
    ngets++;
    return 0;
}

int pubsub_lrange(struct pubsub *ps, const char *key, long start, long stop, pubsub_reply_fn fn,
                  void *arg)
{
    fail();
    return -1;
}

/* Answer the oldest GET with text (NULL: no key). */
static void answer_get(const char *text)
{
    redisReply r = {.type = REDIS_REPLY_NIL};
    size_t i = nanswered++ % MAX_GETS;

    assert_true(nanswered <= ngets);
    if (text) {
        r.type = REDIS_REPLY_STRING;
        r.str = (char *)text;
        r.len = strlen(text);
    }
    gets[i].fn(gets[i].arg, &r);
}

/* ---------------------------------------------------------- the lists */

static struct config cfg = {.redis = {.prefix = "ifmon", .history = 300}};
static struct gateway gw = {.cfg = &cfg};
static struct inventory *inv;

#define MAX_REPLIES 16

static char *replies[MAX_REPLIES]; /* the texts of the replies, in order */
static size_t nreplies;

static void on_reply(void *ctx, struct outmsg *m, json_t *id)
{
    assert_true(nreplies < MAX_REPLIES);
    replies[nreplies++] = m ? strndup(outmsg_text(m), m->len) : strdup("unavailable");
}

static struct inventory_requests conn; /* one connection */

static void list(const struct config_token *grant, json_t *id)
{
    conn.grant = grant;
    inventory_list(inv, &conn, id, on_reply, NULL);
}

static int setup(void **state)
{
    ngets = nanswered = nreplies = 0;
    redis_down = 0;
    memset(&conn, 0, sizeof(conn));
    inv = inventory_create(&gw);
    return 0;
}

static int teardown(void **state)
{
    size_t i;

    for (i = 0; i < nreplies; i++)
        free(replies[i]);
    inventory_requests_cancel(&conn);
    inventory_free(inv);
    return 0;
}

/* The "inventory" of a reply text, compact (jansson), or "unavailable". */
static char *inventory_of(const char *reply)
{
    json_t *r = json_loads(reply, 0, NULL), *v;
    char *s;

    if (r == NULL)
        return strdup(reply);
    v = json_object_get(r, "inventory");
    assert_non_null(v);
    s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(r);
    return s;
}

static void reply_is(size_t i, const char *want)
{
    char *got;

    assert_true(i < nreplies);
    got = inventory_of(replies[i]);
    assert_string_equal(got, want);
    free(got);
}

/* ------------------------------------------------- freshness and sharing */

static void while_the_channel_is_watched_lists_cost_no_get(void **state)
{
    size_t i;

    inventory_watch(inv, 1);
    assert_int_equal(ngets, 1); /* read at once */
    answer_get("{\"v\":1}");
    for (i = 0; i < 10; i++)
        list(&access_all, NULL);
    assert_int_equal(ngets, 1);
    assert_int_equal(nreplies, 10);
    assert_string_equal(replies[9],
                        "{\"op\":\"list\",\"inventory\":{\"v\":1},\"prefix\":\"ifmon\"}");
}

static void a_change_is_seen_by_the_next_list(void **state)
{
    json_t *id = json_pack("{s:[i]}", "any", 7);

    inventory_watch(inv, 1);
    answer_get("{\"v\":1}");
    inventory_changed(inv);
    assert_int_equal(ngets, 2);
    /* Asked after the change: waits for the GET sent after it. */
    list(&access_all, id);
    assert_int_equal(nreplies, 0);
    answer_get("{\"v\":2}");
    assert_int_equal(nreplies, 1);
    assert_string_equal(
        replies[0],
        "{\"op\":\"list\",\"inventory\":{\"v\":2},\"prefix\":\"ifmon\",\"id\":{\"any\":[7]}}");
    json_decref(id);
}

static void a_change_during_a_get_is_read_again_and_waited_for(void **state)
{
    inventory_watch(inv, 1);
    list(&access_all, NULL); /* may take the GET in flight */
    inventory_changed(inv);  /* that GET may predate the change */
    list(&access_all, NULL); /* must not take it */
    assert_int_equal(ngets, 1);
    answer_get("{\"v\":1}");
    assert_int_equal(nreplies, 1);
    reply_is(0, "{\"v\":1}");
    assert_int_equal(ngets, 2);
    answer_get("{\"v\":2}");
    assert_int_equal(nreplies, 2);
    reply_is(1, "{\"v\":2}");
    /* Current now. */
    list(&access_all, NULL);
    assert_int_equal(ngets, 2);
    reply_is(2, "{\"v\":2}");
}

static void unwatched_lists_share_one_get_sent_after_them(void **state)
{
    size_t i;

    /* Not subscribed (yet, or Redis reconnecting): nothing is current,
     * and a list waits for a GET sent after it: the next one, shared by
     * all that come while one is in flight. */
    for (i = 0; i < 5; i++)
        list(&access_all, NULL);
    assert_int_equal(ngets, 1);
    answer_get(NULL);
    assert_int_equal(nreplies, 1);
    reply_is(0, "null");
    assert_int_equal(ngets, 2);
    answer_get("{\"v\":3}");
    assert_int_equal(nreplies, 5);
    reply_is(4, "{\"v\":3}");
    assert_int_equal(ngets, 2); /* nothing waits: nothing more is read */
}

static void redis_unavailable_is_an_answer(void **state)
{
    redis_down = 1;
    list(&access_all, NULL);
    assert_int_equal(nreplies, 1);
    assert_string_equal(replies[0], "unavailable");
    redis_down = 0;
    list(&access_all, NULL);
    gets[0].fn(gets[0].arg, NULL); /* the connection closed */
    nanswered++;
    assert_string_equal(replies[1], "unavailable");
}

static void a_cancelled_list_is_not_answered(void **state)
{
    list(&access_all, NULL);
    inventory_requests_cancel(&conn);
    answer_get("{}");
    assert_int_equal(nreplies, 0);
}

static void what_is_not_one_object_is_listed_as_null(void **state)
{
    static const char *const texts[] = {"[]", "3", "\"x\"", "{", "{} x", "{\"a\":1,}", NULL};
    size_t i;

    inventory_watch(inv, 1);
    for (i = 0; texts[i]; i++) {
        answer_get(texts[i]);
        list(&access_all, NULL);
        reply_is(i, "null");
        inventory_changed(inv);
    }
    answer_get("{}");
}

/* ------------------------------------------------- restricted views */

static char *tokyo_entries[] = {"ifmon:tokyo-*"};
static char *link_entries[] = {"ifmon:osaka-core1:xe-0/0/1", "ifmon:osaka-core1:ae3*"};
static char *device_entries[] = {"ifmon:osaka-core1:xe-0/0/1"};
static char *none_entries[] = {"ifmon:nowhere:x"};
static char *wide_entries[] = {"ifmon:*"};
static const struct config_token tokens[] = {
    {.token = "t", .channels = tokyo_entries, .nchannels = 1},
    {.token = "l", .channels = link_entries, .nchannels = 2},
    {.token = "d", .channels = device_entries, .nchannels = 1},
    {.token = "n", .channels = none_entries, .nchannels = 1},
    {.token = "w", .channels = wide_entries, .nchannels = 1},
};
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

/* The filter the gateway ran on a jansson tree before: the reference. */
static int ref_permitted(const struct config_token *grant, json_t *obj)
{
    const char *ch = json_string_value(json_object_get(obj, "channel"));

    return ch && access_channel_permitted(grant, ch, "ifmon");
}

static void ref_filter(json_t *a, int (*keep)(const struct config_token *, json_t *),
                       const struct config_token *grant)
{
    size_t i = 0;

    while (i < json_array_size(a)) {
        if (keep(grant, json_array_get(a, i)))
            i++;
        else
            json_array_remove(a, i);
    }
}

static int ref_keep_device(const struct config_token *grant, json_t *dev)
{
    json_t *ifs = json_object_get(dev, "interfaces");

    if (json_is_array(ifs))
        ref_filter(ifs, ref_permitted, grant);
    return ref_permitted(grant, dev) || json_array_size(ifs) > 0;
}

static int ref_keep_site(const struct config_token *grant, json_t *site)
{
    json_t *devs = json_object_get(site, "devices");

    if (json_is_array(devs))
        ref_filter(devs, ref_keep_device, grant);
    return json_array_size(devs) > 0;
}

/* The reference's view (a tree, or NULL for null); *skip when jansson
 * refuses the text only for a number too large for it, or the text has a
 * duplicate key on the way to a channel (the gateway then shows null, see
 * inventory.c). */
static json_t *reference(const char *text, size_t len, const struct config_token *grant, int *skip)
{
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err), *sites;

    *skip = 0;
    if (root == NULL) {
        *skip = strstr(err.text, "too big") != NULL || strstr(err.text, "overflow") != NULL;
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    sites = json_object_get(root, "sites");
    if (json_is_array(sites))
        ref_filter(sites, ref_keep_site, grant);
    return root;
}

/* The gateway's view of text for grant, as a tree (NULL for null). */
static json_t *gateway_view(const char *text, size_t len, const struct config_token *grant)
{
    char *copy = strndup(text, len), *got;
    json_t *v;

    inventory_changed(inv);
    answer_get(copy);
    list(grant, NULL);
    assert_int_equal(nreplies, 1);
    got = inventory_of(replies[0]);
    v = json_loads(got, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    free(got);
    free(replies[0]);
    nreplies = 0;
    free(copy);
    if (json_is_null(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* 1 when text parses but not without duplicate keys. */
static int has_duplicate_keys(const char *text, size_t len)
{
    json_t *a = json_loadb(text, len, 0, NULL), *b;
    int dup;

    if (a == NULL)
        return 0;
    b = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    dup = b == NULL;
    json_decref(a);
    json_decref(b);
    return dup;
}

/* Compare the two views of text for every token; returns 1 when compared,
 * 0 when skipped. */
static int compare(const char *text, size_t len)
{
    size_t t;
    int compared = 0;

    for (t = 0; t < NTOKENS; t++) {
        int skip;
        json_t *want = reference(text, len, &tokens[t], &skip);
        json_t *got;

        if (skip) {
            json_decref(want);
            continue;
        }
        got = gateway_view(text, len, &tokens[t]);
        if (got == NULL && want != NULL && has_duplicate_keys(text, len)) {
            json_decref(want);
            continue; /* irregular: null for a restricted token */
        }
        if (!(got == NULL ? want == NULL : want != NULL && json_equal(got, want))) {
            char *g = got ? json_dumps(got, JSON_COMPACT) : NULL;
            char *w = want ? json_dumps(want, JSON_COMPACT) : NULL;

            fail_msg("token %zu: gateway %s, reference %s for:\n%.*s", t, g ? g : "null",
                     w ? w : "null", (int)len, text);
        }
        json_decref(got);
        json_decref(want);
        compared = 1;
    }
    return compared;
}

static const char snapshot[] =
    "{\"version\":1,\"prefix\":\"ifmon\",\"ts\":1764052800.5,\"sites\":["
    "{\"name\":\"osaka\",\"devices\":["
    "{\"name\":\"osaka-core1\",\"site\":\"osaka\",\"channel\":\"ifmon:osaka-core1\","
    "\"status\":\"up\",\"interval\":1.0,\"interfaces\":["
    "{\"name\":\"xe-0/0/0\",\"ifindex\":1,\"channel\":\"ifmon:osaka-core1:xe-0/0/0\"},"
    "{\"name\":\"xe-0/0/1\",\"ifindex\":2,\"channel\":\"ifmon:osaka-core1:xe-0/0/1\"},"
    "{\"name\":\"ae3\",\"ifindex\":3,\"channel\":\"ifmon:osaka-core1:ae3\"}]},"
    "{\"name\":\"osaka-core2\",\"channel\":\"ifmon:osaka-core2\",\"interfaces\":[]}]},"
    " {\"name\":\"tokyo\", \"devices\": [ "
    "{\"name\":\"tokyo-edge1\",\"channel\":\"ifmon:tokyo-edge1\","
    "\"interfaces\":[{\"channel\":\"ifmon:tokyo-edge1:ge-0/0/0\",\"speed_bps\":null},"
    " {\"channel\":\"ifmon:tokyo-edge1:ge-0/0/\\u0031\"} ]},"
    "{\"name\":\"tokyo-edge2\",\"channel\":\"ifmon:tokyo-edge2\"}, 42 ]},"
    "{\"name\":\"empty\",\"devices\":[]},{\"name\":\"odd\",\"devices\":{}},\"x\"]}";

static void a_restricted_view_keeps_only_what_the_token_may_see(void **state)
{
    const struct config_token *tokyo = &tokens[0], *link = &tokens[1];

    inventory_watch(inv, 1);
    answer_get(snapshot);
    list(tokyo, NULL);
    reply_is(0, "{\"version\":1,\"prefix\":\"ifmon\",\"ts\":1764052800.5,\"sites\":["
                "{\"name\":\"tokyo\",\"devices\":[{\"name\":\"tokyo-edge1\",\"channel\":"
                "\"ifmon:tokyo-edge1\",\"interfaces\":[{\"channel\":\"ifmon:tokyo-edge1:ge-0/0/0\","
                "\"speed_bps\":null},{\"channel\":\"ifmon:tokyo-edge1:ge-0/0/1\"}]},"
                "{\"name\":\"tokyo-edge2\",\"channel\":\"ifmon:tokyo-edge2\"}]}]}");
    list(link, NULL);
    reply_is(1, "{\"version\":1,\"prefix\":\"ifmon\",\"ts\":1764052800.5,\"sites\":["
                "{\"name\":\"osaka\",\"devices\":[{\"name\":\"osaka-core1\",\"site\":\"osaka\","
                "\"channel\":\"ifmon:osaka-core1\",\"status\":\"up\",\"interval\":1.0,"
                "\"interfaces\":[{\"name\":\"xe-0/0/1\",\"ifindex\":2,\"channel\":"
                "\"ifmon:osaka-core1:xe-0/0/1\"},{\"name\":\"ae3\",\"ifindex\":3,\"channel\":"
                "\"ifmon:osaka-core1:ae3\"}]}]}]}");
    /* Everything, as stored. */
    list(&access_all, NULL);
    assert_non_null(strstr(replies[2], snapshot));
    /* Views are kept with the copy: a reload drops them. */
    inventory_grants_changed(inv);
    list(tokyo, NULL);
    assert_int_equal(ngets, 1);
    assert_string_equal(replies[3], replies[0]);
}

static void hand_picked_snapshots_agree_with_the_tree_filter(void **state)
{
    static const char *const texts[] = {
        snapshot,
        "{}",
        "{\"sites\":[]}",
        "{\"sites\":{}}",
        "{\"sites\":[1,[],{},{\"devices\":[1,{},{\"channel\":\"ifmon:tokyo-x\"}]}]}",
        "{\"sites\":[{\"devices\":[{\"channel\":1,\"interfaces\":[{\"channel\":null}]}]}]}",
        "{\"sites\":[{\"devices\":[{\"interfaces\":{\"channel\":\"ifmon:tokyo-a:b\"}}]}]}",
        "{\"sites\":[{\"devices\":[{\"interfaces\":[[{\"channel\":\"ifmon:tokyo-a:b\"}]]}]}]}",
        " { \"sites\" : [ { \"devices\" : [ { \"interfaces\" : [ { \"channel\" : "
        "\"ifmon:tokyo-a:b\" } , { } ] } ] } ] , \"x\" : [ ] } ",
        "{\"a\":{\"sites\":[{\"devices\":[]}]},\"sites\":[{\"name\":\"s\",\"name\":\"t\","
        "\"devices\":[{\"channel\":\"ifmon:osaka-core1\"}]}]}",
        "{\"sites\":[{\"devices\":[{\"channel\":\"ifmon:osaka-core1\",\"channel\":\"ifmon:x\"}]}]}",
        "{\"sites\":[],\"sites\":[{\"devices\":[{\"channel\":\"ifmon:tokyo-a\"}]}]}",
        NULL,
    };
    size_t i;

    inventory_watch(inv, 1);
    answer_get(NULL);
    for (i = 0; texts[i]; i++)
        compare(texts[i], strlen(texts[i]));
}

static void mutations_of_a_snapshot_agree_with_the_tree_filter(void **state)
{
    static const char alphabet[] = "{}[],:\"\\ 0123456789abcdefnrtul-.eE+*\x01\xc3\xa9\xff";
    size_t base = sizeof(snapshot) - 1, agreed = 0;
    uint32_t seed = 4242;
    char *text = malloc(base + 16);
    int round;

    inventory_watch(inv, 1);
    answer_get(NULL);
#define RAND() (seed = seed * 1103515245u + 12345u, (seed >> 8) & 0xffffff)
    for (round = 0; round < 4000; round++) {
        size_t len = base, m, nmut = 1 + RAND() % 3;

        memcpy(text, snapshot, base);
        for (m = 0; m < nmut; m++) {
            size_t at = RAND() % len;
            char c = alphabet[RAND() % (sizeof(alphabet) - 1)];

            switch (RAND() % 3) {
            case 0:
                text[at] = c;
                break;
            case 1:
                memmove(text + at, text + at + 1, len - at - 1);
                len--;
                break;
            default:
                memmove(text + at + 1, text + at, len - at);
                text[at] = c;
                len++;
                break;
            }
        }
        if (memchr(text, '\0', len))
            continue; /* a GET reply is a C string to the fake */
        agreed += (size_t)compare(text, len);
    }
#undef RAND
    free(text);
    print_message("# %zu variants agree\n", agreed);
    assert_true(agreed > 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(while_the_channel_is_watched_lists_cost_no_get, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_change_is_seen_by_the_next_list, setup, teardown),
        cmocka_unit_test_setup_teardown(a_change_during_a_get_is_read_again_and_waited_for, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unwatched_lists_share_one_get_sent_after_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(redis_unavailable_is_an_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(a_cancelled_list_is_not_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(what_is_not_one_object_is_listed_as_null, setup, teardown),
        cmocka_unit_test_setup_teardown(a_restricted_view_keeps_only_what_the_token_may_see, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hand_picked_snapshots_agree_with_the_tree_filter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(mutations_of_a_snapshot_agree_with_the_tree_filter, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("gateway inventory", tests, NULL, NULL);
}
