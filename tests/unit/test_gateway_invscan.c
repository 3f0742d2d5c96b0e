/* test_gateway_invscan.c -- unit tests of gateway/invscan.c, which reads
 * the interface channels of an inventory snapshot from its text: against
 * jansson (the library it replaces on that path), on hand-picked texts and
 * on thousands of mutations of a real snapshot, the same channels, and
 * none when jansson refuses the text. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../gateway/invscan.h"

/* Channels found, joined by '|'. */
struct found {
    char text[8192];
    size_t len;
};

static void add(struct found *f, const char *channel, size_t len)
{
    if (f->len + len + 2 >= sizeof(f->text))
        return;
    if (f->len)
        f->text[f->len++] = '|';
    memcpy(f->text + f->len, channel, len);
    f->len += len;
    f->text[f->len] = '\0';
}

static void on_channel(void *arg, const char *channel, size_t len)
{
    assert_int_equal(strlen(channel), len);
    add(arg, channel, len);
}

/* invscan's answer: the channels, or "!" when the text is refused. */
static void scan(const char *text, size_t len, struct found *f)
{
    memset(f, 0, sizeof(*f));
    if (invscan_channels(text, len, on_channel, f) < 0)
        strcpy(f->text, "!");
}

/* jansson's answer, walked as the gateway once did: sites[].devices[].
 * interfaces[].channel strings of a root object. "!" when json_loadb()
 * refuses the text (any root: jansson without JSON_DECODE_ANY wants an
 * array or an object); 1 in *skip when it refuses it only for a number
 * too large for it, which invscan does not judge. */
static void reference(const char *text, size_t len, struct found *f, int *skip)
{
    json_error_t err;
    json_t *inv = json_loadb(text, len, JSON_DECODE_ANY, &err);
    const json_t *site, *dev, *ifc;
    size_t i, j, k;

    memset(f, 0, sizeof(*f));
    *skip = 0;
    if (inv == NULL) {
        strcpy(f->text, "!");
        *skip = strstr(err.text, "too big") != NULL || strstr(err.text, "overflow") != NULL;
        return;
    }
    json_array_foreach(json_object_get(inv, "sites"), i, site)
    {
        json_array_foreach(json_object_get(site, "devices"), j, dev)
        {
            json_array_foreach(json_object_get(dev, "interfaces"), k, ifc)
            {
                const json_t *ch = json_object_get(ifc, "channel");

                if (json_is_string(ch) && json_string_length(ch) <= 1024)
                    add(f, json_string_value(ch), json_string_length(ch));
            }
        }
    }
    json_decref(inv);
}

static void expect(const char *text, const char *channels)
{
    struct found f;

    scan(text, strlen(text), &f);
    if (strcmp(f.text, channels) != 0)
        fail_msg("%s\n  gave \"%s\", expected \"%s\"", text, f.text, channels);
}

static const char snapshot[] =
    "{\"version\":1,\"prefix\":\"ifmon\",\"ts\":1764052800.123,\n"
    " \"sites\":[{\"name\":\"tokyo\",\"devices\":[\n"
    "   {\"name\":\"tokyo-edge1\",\"site\":\"tokyo\",\"channel\":\"ifmon:tokyo-edge1\",\"status\":"
    "\"up\",\"interval\":1.0,\n"
    "    \"interfaces\":[{\"name\":\"ge-0/0/0\",\"descr\":\"ge-0/0/0\",\"ifindex\":3,\n"
    "                   \"channel\":\"ifmon:tokyo-edge1:ge-0/0/0\",\n"
    "                   \"history\":\"ifmon:history:tokyo-edge1:ge-0/0/0\",\n"
    "                   \"speed_bps\":1000000000},\n"
    "                  {\"name\":\"Gi "
    "1/\\u00e9\\\"x\",\"ifindex\":4,\"channel\":\"ifmon:tokyo-edge1:"
    "Gi 1/\\u00e9\\\"x\",\"speed_bps\":null}]}]},\n"
    "  {\"name\":\"osaka\",\"devices\":[{\"name\":\"osaka-core1\",\"interfaces\":[{\"channel\":"
    "\"ifmon:osaka-core1:xe-0/0/1\"},{\"channel\":5},{\"nochannel\":\"x\"}]}]}]}\n";

static void a_snapshot_gives_its_interface_channels_in_order(void **unused)
{
    expect(snapshot, "ifmon:tokyo-edge1:ge-0/0/0|ifmon:tokyo-edge1:Gi 1/\xc3\xa9\"x|"
                     "ifmon:osaka-core1:xe-0/0/1");
}

static void only_channels_at_their_place_count(void **unused)
{
    expect("{\"channel\":\"a\",\"sites\":[{\"channel\":\"b\",\"devices\":[{\"channel\":\"c\"}]}]}",
           "");
    expect("{\"sites\":{\"devices\":[{\"interfaces\":[{\"channel\":\"x\"}]}]}}", "");
    expect("{\"x\":{\"sites\":[{\"devices\":[{\"interfaces\":[{\"channel\":\"x\"}]}]}]}}", "");
    expect("[{\"sites\":[{\"devices\":[{\"interfaces\":[{\"channel\":\"x\"}]}]}]}]", "");
    expect("{\"sites\":[{\"devices\":[{\"interfaces\":[[{\"channel\":\"x\"}]]}]}]}", "");
    expect("{\"sites\":[{\"devices\":[{\"interfaces\":[{\"channel\":\"\\ud83d\\ude00\"}]}]}]}",
           "\xf0\x9f\x98\x80");
    expect("  {\"sites\":[]}\r\n\t", "");
    expect("\"a string\"", "");
}

static void what_jansson_refuses_gives_nothing(void **unused)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"sites\":[}",
        "{\"sites\":[]}x",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\x01\"}",
        "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"unterminated}",
        "[1 2]",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct found f;
        int skip;

        scan(bad[i], strlen(bad[i]), &f);
        if (strcmp(f.text, "!") != 0)
            fail_msg("accepted: %s", bad[i]);
        reference(bad[i], strlen(bad[i]), &f, &skip);
        if (strcmp(f.text, "!") != 0)
            fail_msg("jansson accepts it: %s", bad[i]);
    }
}

static void nesting_is_limited_as_in_jansson(void **unused)
{
    size_t n = JSON_PARSER_MAX_DEPTH, i;
    char *deep = malloc(2 * (n + 1) + 1);
    struct found f;

    for (i = 0; i < n; i++)
        deep[i] = '[';
    for (i = 0; i < n; i++)
        deep[n + i] = ']';
    scan(deep, 2 * n, &f);
    assert_string_equal(f.text, "");
    deep[0] = '[';
    memmove(deep + 1, deep, 2 * n);
    deep[2 * n + 1] = ']';
    scan(deep, 2 * n + 2, &f);
    assert_string_equal(f.text, "!");
    free(deep);
}

/* Thousands of variants of the snapshot, each with a few bytes changed,
 * deleted or inserted: invscan and jansson agree on every one. */
static void mutations_of_a_snapshot_agree_with_jansson(void **unused)
{
    static const char alphabet[] = "{}[]\",:\\/ubfnrt0123456789.-+eE \t\n\x01\xc3\xa9\xed\xff"
                                   "achlsvxz";
    size_t base = sizeof(snapshot) - 1, agreed = 0, refused = 0;
    uint32_t seed = 12345;
    char *text = malloc(base + 16);
    int round;

#define RAND() (seed = seed * 1103515245u + 12345u, (seed >> 8) & 0xffffff)
    for (round = 0; round < 30000; round++) {
        size_t len = base, m, nmut = 1 + RAND() % 3;
        struct found a, b;
        int skip;

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
        scan(text, len, &a);
        {
            /* Indexing judges the text as scanning does. */
            struct invscan_index idx;

            assert_int_equal(invscan_index(text, len, &idx) < 0, strcmp(a.text, "!") == 0);
            invscan_index_free(&idx);
        }
        reference(text, len, &b, &skip);
        if (skip)
            continue;
        if (strcmp(a.text, b.text) != 0)
            fail_msg("round %d: invscan \"%s\", jansson \"%s\" for:\n%.*s", round, a.text, b.text,
                     (int)len, text);
        agreed++;
        refused += strcmp(a.text, "!") == 0;
    }
#undef RAND
    free(text);
    print_message("# %zu variants agree (%zu refused by both)\n", agreed, refused);
    assert_true(agreed > 29000 && refused > 1000 && agreed - refused > 1000);
}

static void an_index_gives_each_element_its_place(void **state)
{
    static const char text[] =
        " {\"sites\":[{\"devices\":[{\"channel\":\"ifmon:d\",\"interfaces\":[{\"channel\":"
        "\"ifmon:d:e\\u0030\"}, 7 ]}, {\"interfaces\":{}}]}, 1],"
        "\"x\":{\"sites\":[{\"devices\":[]}]}}";
    struct invscan_index idx;
    const struct invscan_node *site, *dev, *ifc;

    assert_int_equal(invscan_index(text, sizeof(text) - 1, &idx), 0);
    assert_true(idx.root_object);
    assert_true(idx.has_sites);
    assert_int_equal(text[idx.sites_open], '[');
    assert_int_equal(text[idx.sites_close], ']');
    assert_false(idx.irregular);
    /* Two sites (one a number), two devices, two interfaces (one a
     * number); nothing from the "sites" under "x". */
    assert_int_equal(idx.count[INVSCAN_SITE], 2);
    assert_int_equal(idx.count[INVSCAN_DEVICE], 2);
    assert_int_equal(idx.count[INVSCAN_INTERFACE], 2);
    site = &idx.nodes[INVSCAN_SITE][0];
    assert_true(site->object && site->has_list);
    assert_int_equal(site->first, 0);
    assert_int_equal(site->count, 2);
    assert_false(idx.nodes[INVSCAN_SITE][1].object);
    assert_int_equal(text[idx.nodes[INVSCAN_SITE][1].start], '1');
    dev = &idx.nodes[INVSCAN_DEVICE][0];
    assert_string_equal(invscan_node_channel(&idx, dev), "ifmon:d");
    assert_int_equal(dev->count, 2);
    assert_int_equal(text[dev->start], '{');
    assert_int_equal(text[dev->end - 1], '}');
    assert_false(idx.nodes[INVSCAN_DEVICE][1].has_list); /* its interfaces are an object */
    assert_null(invscan_node_channel(&idx, &idx.nodes[INVSCAN_DEVICE][1]));
    ifc = &idx.nodes[INVSCAN_INTERFACE][0];
    assert_string_equal(invscan_node_channel(&idx, ifc), "ifmon:d:e0");
    assert_int_equal(ifc->end - ifc->start, strlen("{\"channel\":\"ifmon:d:e\\u0030\"}"));
    assert_false(idx.nodes[INVSCAN_INTERFACE][1].object);
    invscan_index_free(&idx);
    /* A key on the way to a channel twice in one object. */
    assert_int_equal(invscan_index("{\"sites\":[],\"sites\":[]}", 23, &idx), 0);
    assert_true(idx.irregular);
    invscan_index_free(&idx);
    /* Not JSON: nothing. */
    assert_int_equal(invscan_index("{\"sites\":[", 10, &idx), -1);
    assert_int_equal(idx.count[INVSCAN_SITE], 0);
    invscan_index_free(&idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_snapshot_gives_its_interface_channels_in_order),
        cmocka_unit_test(only_channels_at_their_place_count),
        cmocka_unit_test(what_jansson_refuses_gives_nothing),
        cmocka_unit_test(nesting_is_limited_as_in_jansson),
        cmocka_unit_test(mutations_of_a_snapshot_agree_with_jansson),
        cmocka_unit_test(an_index_gives_each_element_its_place),
    };

    return cmocka_run_group_tests_name("gateway invscan", tests, NULL, NULL);
}
