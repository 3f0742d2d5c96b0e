/* test_message.c -- collector/message.c: every sample message is valid
 * JSON with the fields of docs/PROTOCOL.md, whatever the names and the
 * numbers, every counter group with its own rates or its own gap, and the
 * names are those of common/keys.h. */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../collector/device.h"
#include "../../collector/message.h"
#include "keys.h"

struct fixture {
    struct config_device cfg;
    struct iface ifc;
    char buf[4096];
};

/* The file's settings an interface's head needs: redis.prefix and
 * collector.id. */
static struct config whole = {.redis = {.prefix = "ifmon"}, .collector = {.id = "noc-1:4242"}};

static void setup_iface(struct fixture *f, const char *name)
{
    memset(f, 0, sizeof(*f));
    f->cfg.name = "tokyo-edge1";
    f->cfg.site = "tokyo";
    f->ifc.name = (char *)name;
    f->ifc.alias = (char *)"uplink to ISP-A, circuit 12345";
    f->ifc.ifindex = 7;
    f->ifc.rd.speed_bps = 1000000000;
    f->ifc.rd.oper = 1;
    f->ifc.msg.seq = 42;
    assert_int_equal(message_iface_init(&f->ifc.msg, &whole, &f->cfg, name, f->ifc.alias, 7), 0);
}

/* A result with every group a rate (octets in bits per second). */
static struct rate_result all_rates(double in_bps, double out_bps)
{
    struct rate_result r;
    int g;

    memset(&r, 0, sizeof(r));
    r.interval = 1.0;
    for (g = 0; g < RATE_GROUPS; g++)
        r.group[g].status = RATE_OK;
    r.group[COUNTERS_OCTETS].in = in_bps;
    r.group[COUNTERS_OCTETS].out = out_bps;
    r.group[COUNTERS_PACKETS].in = 1500.25;
    r.group[COUNTERS_PACKETS].out = 99;
    r.group[COUNTERS_ERRORS].in = 0.2;
    r.group[COUNTERS_ERRORS].out = 0;
    r.group[COUNTERS_DISCARDS].in = 12.0004;
    r.group[COUNTERS_DISCARDS].out = 0.013;
    return r;
}

/* A result with every group a gap. */
static struct rate_result all_gaps(enum rate_gap gap)
{
    struct rate_result r;
    int g;

    memset(&r, 0, sizeof(r));
    for (g = 0; g < RATE_GROUPS; g++) {
        r.group[g].status = RATE_GAP;
        r.group[g].gap = gap;
    }
    return r;
}

static double number(json_t *j, const char *field)
{
    json_t *v = json_object_get(j, field);

    if (!json_is_number(v))
        fail_msg("%s is not a number", field);
    return json_number_value(v);
}

/* The message, parsed; fails the test when it is not a JSON object. */
static json_t *format(struct fixture *f, const struct rate_result *res)
{
    size_t n = message_format_sample(f->buf, sizeof(f->buf), &f->ifc, res, 1764052800.123);
    json_error_t err;
    json_t *j = json_loadb(f->buf, n, 0, &err);

    if (j == NULL)
        fail_msg("not JSON (%s): %.*s", err.text, (int)n, f->buf);
    assert_true(json_is_object(j));
    return j;
}

static void a_rate_has_every_field_of_the_protocol(void **state)
{
    struct fixture f;
    struct rate_result res = all_rates(1234.4, 99.5);
    json_t *j;

    (void)state;
    setup_iface(&f, "ge-0/0/0");
    assert_string_equal(f.ifc.msg.channel, "ifmon:tokyo-edge1:ge-0/0/0");
    assert_string_equal(f.ifc.msg.history_key, "ifmon:history:tokyo-edge1:ge-0/0/0");
    j = format(&f, &res);
    assert_string_equal(json_string_value(json_object_get(j, "device")), "tokyo-edge1");
    assert_string_equal(json_string_value(json_object_get(j, "site")), "tokyo");
    assert_string_equal(json_string_value(json_object_get(j, "interface")), "ge-0/0/0");
    assert_string_equal(json_string_value(json_object_get(j, "alias")),
                        "uplink to ISP-A, circuit 12345");
    assert_int_equal(json_integer_value(json_object_get(j, "ifindex")), 7);
    assert_string_equal(json_string_value(json_object_get(j, "collector")), "noc-1:4242");
    assert_int_equal(json_integer_value(json_object_get(j, "in_bps")), 1234);
    assert_int_equal(json_integer_value(json_object_get(j, "out_bps")), 100);
    assert_true(number(j, "in_pps") == 1500.25);
    assert_true(number(j, "out_pps") == 99);
    assert_true(number(j, "in_errors_ps") == 0.2);
    assert_true(number(j, "out_errors_ps") == 0);
    assert_true(number(j, "in_discards_ps") == 12);
    assert_true(number(j, "out_discards_ps") == 0.013);
    assert_true(number(j, "interval") == 1.0);
    assert_int_equal(json_integer_value(json_object_get(j, "speed_bps")), 1000000000);
    assert_string_equal(json_string_value(json_object_get(j, "oper")), "up");
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 42);
    assert_null(json_object_get(j, "gap"));
    assert_null(json_object_get(j, "packets_gap"));
    assert_null(json_object_get(j, "errors_gap"));
    assert_null(json_object_get(j, "discards_gap"));
    json_decref(j);
    message_iface_free(&f.ifc.msg);
}

static void a_gap_has_null_rates_and_its_reason(void **state)
{
    struct fixture f;
    struct rate_result res = all_gaps(RATE_GAP_TIMEOUT);
    json_t *j;

    (void)state;
    setup_iface(&f, "ge-0/0/0");
    f.ifc.rd.speed_bps = 0;
    j = format(&f, &res);
    assert_true(json_is_null(json_object_get(j, "in_bps")));
    assert_true(json_is_null(json_object_get(j, "out_bps")));
    assert_true(json_is_null(json_object_get(j, "interval")));
    assert_true(json_is_null(json_object_get(j, "speed_bps")));
    assert_string_equal(json_string_value(json_object_get(j, "gap")), "timeout");
    assert_true(json_is_null(json_object_get(j, "in_pps")));
    assert_true(json_is_null(json_object_get(j, "out_discards_ps")));
    assert_string_equal(json_string_value(json_object_get(j, "packets_gap")), "timeout");
    assert_string_equal(json_string_value(json_object_get(j, "errors_gap")), "timeout");
    assert_string_equal(json_string_value(json_object_get(j, "discards_gap")), "timeout");
    json_decref(j);
    message_iface_free(&f.ifc.msg);
}

/* A double at or past 2^64 has no defined conversion to an integer, and
 * past 2^53 JSON readers lose it (JavaScript) or refuse it (jansson, past
 * 2^63): the message holds 2^53 instead. */
static void rates_beyond_an_integer_are_held_not_wrapped(void **state)
{
    struct fixture f;
    struct rate_result res = all_rates(1e30, 18446744073709551616.0);
    json_t *j;

    (void)state;
    setup_iface(&f, "ge-0/0/0");
    j = format(&f, &res);
    assert_int_equal(json_integer_value(json_object_get(j, "in_bps")), 9007199254740992LL);
    assert_int_equal(json_integer_value(json_object_get(j, "out_bps")), 9007199254740992LL);
    json_decref(j);
    res.group[COUNTERS_OCTETS].in = NAN;
    res.group[COUNTERS_OCTETS].out = -5;
    res.group[COUNTERS_PACKETS].in = 1e30;
    res.group[COUNTERS_PACKETS].out = NAN;
    res.group[COUNTERS_ERRORS].in = 4e12; /* past three decimals: whole */
    res.group[COUNTERS_ERRORS].out = -1;
    j = format(&f, &res);
    assert_int_equal(json_integer_value(json_object_get(j, "in_bps")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "out_bps")), 0);
    assert_true(number(j, "in_pps") == 9007199254740992.0);
    assert_true(number(j, "out_pps") == 0);
    assert_true(number(j, "in_errors_ps") == 4e12);
    assert_true(number(j, "out_errors_ps") == 0);
    json_decref(j);
    message_iface_free(&f.ifc.msg);
}

/* Names with quotes, backslashes, control characters and non-ASCII text
 * stay valid JSON and come back as they were. */
static void any_name_gives_valid_json(void **state)
{
    static const char *const names[] = {
        "a \"quoted\" \\ name", "tab\there", "new\nline", "caf\xc3\xa9 \xe2\x82\xac", "x:y/z*?[]",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct fixture f;
        struct rate_result res = all_rates(1, 2);
        json_t *j;

        setup_iface(&f, names[i]);
        f.ifc.alias = (char *)names[(i + 1) % (sizeof(names) / sizeof(names[0]))];
        message_iface_free(&f.ifc.msg);
        assert_int_equal(message_iface_init(&f.ifc.msg, &whole, &f.cfg, names[i], f.ifc.alias, 7),
                         0);
        j = format(&f, &res);
        assert_string_equal(json_string_value(json_object_get(j, "interface")), names[i]);
        assert_string_equal(json_string_value(json_object_get(j, "alias")), f.ifc.alias);
        json_decref(j);
        message_iface_free(&f.ifc.msg);
    }
}

static void a_name_too_long_for_a_channel_is_refused(void **state)
{
    struct config_device cfg = {.name = "d", .site = "s"};
    struct message_iface m = {.seq = 3};
    char *name = malloc(IFMON_CHANNEL_MAX + 1);

    (void)state;
    memset(name, 'n', IFMON_CHANNEL_MAX);
    name[IFMON_CHANNEL_MAX] = '\0';
    assert_int_equal(message_iface_init(&m, &whole, &cfg, name, "", 1), -1);
    assert_null(m.channel);
    assert_null(m.json_head);
    assert_int_equal(m.seq, 3);
    message_iface_free(&m);
    free(name);
}

/* The phase that spreads the lists' trims and expiry refreshes (output.c)
 * differs between interfaces: the 50 of a device fall into every residue
 * of a 6-sample trim cycle and of a 60-sample expiry cycle's tenths. */
static void interfaces_are_spread_over_the_trim_cycle(void **state)
{
    struct config_device cfg = {.name = "dev0", .site = "s"};
    unsigned trim[6] = {0}, expire[10] = {0};
    char name[32];
    int i;

    (void)state;
    for (i = 1; i <= 50; i++) {
        struct message_iface m = {0};

        snprintf(name, sizeof(name), "ge-0/0/%d", i);
        assert_int_equal(message_iface_init(&m, &whole, &cfg, name, "", i), 0);
        trim[m.phase % 6]++;
        expire[m.phase % 60 / 6]++;
        message_iface_free(&m);
    }
    for (i = 0; i < 6; i++)
        assert_true(trim[i] >= 3);
    for (i = 0; i < 10; i++)
        assert_true(expire[i] >= 1);
}

/* Octets can be computed and packets not (the agent answered noSuchObject
 * for them), or a group is not polled: each group says so in its own gap
 * field, the others keep their numbers, and the interval is there. */
static void each_group_has_its_own_gap(void **state)
{
    struct fixture f;
    struct rate_result res = all_rates(8000, 4000);
    json_t *j;

    (void)state;
    setup_iface(&f, "ge-0/0/0");
    res.group[COUNTERS_PACKETS].status = RATE_GAP;
    res.group[COUNTERS_PACKETS].gap = RATE_GAP_NO_DATA;
    res.group[COUNTERS_ERRORS].status = RATE_GAP;
    res.group[COUNTERS_ERRORS].gap = RATE_GAP_NOT_POLLED;
    j = format(&f, &res);
    assert_int_equal(json_integer_value(json_object_get(j, "in_bps")), 8000);
    assert_null(json_object_get(j, "gap"));
    assert_true(json_is_null(json_object_get(j, "in_pps")));
    assert_true(json_is_null(json_object_get(j, "out_pps")));
    assert_string_equal(json_string_value(json_object_get(j, "packets_gap")), "no_data");
    assert_true(json_is_null(json_object_get(j, "in_errors_ps")));
    assert_string_equal(json_string_value(json_object_get(j, "errors_gap")), "not_polled");
    assert_true(number(j, "in_discards_ps") == 12);
    assert_null(json_object_get(j, "discards_gap"));
    assert_true(number(j, "interval") == 1.0);
    json_decref(j);
    /* Octets a gap and discards a rate: the interval is the discards'. */
    res.group[COUNTERS_OCTETS].status = RATE_GAP;
    res.group[COUNTERS_OCTETS].gap = RATE_GAP_COUNTER_RESET;
    j = format(&f, &res);
    assert_true(json_is_null(json_object_get(j, "in_bps")));
    assert_string_equal(json_string_value(json_object_get(j, "gap")), "counter_reset");
    assert_true(number(j, "interval") == 1.0);
    json_decref(j);
    message_iface_free(&f.ifc.msg);
}

/* The longest message: every number at its longest, every gap the longest
 * reason, names of every byte escaped: it fits the room promised. */
static void the_longest_numbers_fit_the_room_promised(void **state)
{
    struct fixture f;
    struct rate_result res = all_rates(9e15, 9e15);
    char *buf;
    size_t n, cap;
    int g;

    (void)state;
    setup_iface(&f, "ge-0/0/0");
    f.ifc.rd.speed_bps = UINT64_MAX;
    f.ifc.msg.seq = UINT64_MAX;
    for (g = 1; g < RATE_GROUPS; g++)
        res.group[g].in = res.group[g].out = 999999999999.999;
    res.interval = 1e15;
    cap = f.ifc.msg.json_head_len + MESSAGE_NUMBERS_MAX;
    buf = malloc(cap);
    n = message_format_sample(buf, cap, &f.ifc, &res, 1e15);
    assert_true(n <= cap);
    free(buf);
    res = all_gaps(RATE_GAP_CLOCK_MISMATCH);
    buf = malloc(cap);
    n = message_format_sample(buf, cap, &f.ifc, &res, 1e15);
    assert_true(n <= cap);
    free(buf);
    message_iface_free(&f.ifc.msg);
}

/* The device's channels, and every key of the events (common/keys.h). */
static void the_names_of_the_events_are_those_of_the_protocol(void **state)
{
    struct config_device cfg = {.name = "tokyo-edge1", .site = "tokyo"};
    struct message_device m;
    struct ifmon_key k;

    (void)state;
    message_device_init(&m, "ifmon", &cfg);
    assert_string_equal(m.channel, "ifmon:tokyo-edge1");
    assert_string_equal(m.events_channel, "ifmon:events:tokyo-edge1");
    assert_int_equal(m.events_channel_len, strlen("ifmon:events:tokyo-edge1"));
    message_device_free(&m);
    assert_int_equal(ifmon_key_event_log(&k, "ifmon"), 0);
    assert_string_equal(k.s, "ifmon:events");
    assert_int_equal(ifmon_key_alerts(&k, "ifmon"), 0);
    assert_string_equal(k.s, "ifmon:alerts");
    assert_int_equal(ifmon_key_event_log_rebuild(&k, "ifmon"), 0);
    assert_string_equal(k.s, "ifmon:events:rebuild");
    assert_int_equal(ifmon_channel_kind("ifmon:events:tokyo-edge1", "ifmon"), IFMON_CHANNEL_EVENTS);
    assert_int_equal(ifmon_channel_kind("ifmon:tokyo-edge1:events", "ifmon"),
                     IFMON_CHANNEL_INTERFACE);
}

/* ---------------------------------------------------------------- events */

static json_t *event_json(const struct device *dev, const struct iface *ifc,
                          const struct alert_event *ev)
{
    char *text = message_format_event(dev, ifc, ev, 1764052800.123, 1764052790.1, 17);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);

    if (j == NULL)
        fail_msg("not JSON (%s): %s", err.text, text);
    free(text);
    return j;
}

/* A threshold's event carries what a program needs (the fields of
 * docs/PROTOCOL.md) and a line for people. */
static void a_threshold_event_has_every_field_of_the_protocol(void **state)
{
    static const struct config_threshold th = {.on = 1, .above = 90, .for_ms = 10000};
    struct alert_event ev = {.kind = ALERT_UTILIZATION,
                             .raised = 1,
                             .have_value = 1,
                             .value = 93.4567,
                             .direction = "out",
                             .threshold = &th};
    struct fixture f;
    struct device dev;
    json_t *j;

    (void)state;
    setup_iface(&f, "ge-0/0/0");
    memset(&dev, 0, sizeof(dev));
    dev.cfg = &f.cfg;
    j = event_json(&dev, &f.ifc, &ev);
    assert_string_equal(json_string_value(json_object_get(j, "device")), "tokyo-edge1");
    assert_string_equal(json_string_value(json_object_get(j, "site")), "tokyo");
    assert_string_equal(json_string_value(json_object_get(j, "interface")), "ge-0/0/0");
    assert_string_equal(json_string_value(json_object_get(j, "alias")),
                        "uplink to ISP-A, circuit 12345");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "utilization");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "raised");
    assert_true(number(j, "value") == 93.457);
    assert_true(number(j, "threshold") == 90);
    assert_string_equal(json_string_value(json_object_get(j, "unit")), "%");
    assert_true(number(j, "for") == 10);
    assert_string_equal(json_string_value(json_object_get(j, "direction")), "out");
    assert_true(number(j, "since") == 1764052790.1);
    assert_true(number(j, "ts") == 1764052800.123);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 17);
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_string_equal(json_string_value(json_object_get(j, "text")),
                        "tokyo-edge1 ge-0/0/0 (uplink to ISP-A, circuit 12345): utilization out "
                        "93.5%, above 90% for 10 s");
    json_decref(j);
    message_iface_free(&f.ifc.msg);
}

/* A device's event has no interface; a status change's value is the
 * status; names of any bytes stay valid JSON. */
static void device_and_status_events_are_valid_json(void **state)
{
    struct alert_event down = {.kind = ALERT_DEVICE, .raised = 1};
    struct alert_event oper = {.kind = ALERT_OPER, .raised = 1, .oper = 7};
    struct fixture f;
    struct device dev;
    json_t *j;

    (void)state;
    setup_iface(&f, "caf\xc3\xa9 \"1\"\n");
    memset(&dev, 0, sizeof(dev));
    dev.cfg = &f.cfg;
    snprintf(dev.status_error, sizeof(dev.status_error), "timeout");
    j = event_json(&dev, NULL, &down);
    assert_true(json_is_null(json_object_get(j, "interface")));
    assert_true(json_is_null(json_object_get(j, "alias")));
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "device");
    assert_string_equal(json_string_value(json_object_get(j, "value")), "down");
    assert_string_equal(json_string_value(json_object_get(j, "error")), "timeout");
    assert_true(json_is_null(json_object_get(j, "threshold")));
    assert_string_equal(json_string_value(json_object_get(j, "text")),
                        "tokyo-edge1: down (timeout)");
    json_decref(j);
    j = event_json(&dev, &f.ifc, &oper);
    assert_string_equal(json_string_value(json_object_get(j, "interface")), "caf\xc3\xa9 \"1\"\n");
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "oper");
    assert_string_equal(json_string_value(json_object_get(j, "value")), "lowerLayerDown");
    assert_true(json_is_null(json_object_get(j, "unit")));
    json_decref(j);
    message_iface_free(&f.ifc.msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_rate_has_every_field_of_the_protocol),
        cmocka_unit_test(a_gap_has_null_rates_and_its_reason),
        cmocka_unit_test(rates_beyond_an_integer_are_held_not_wrapped),
        cmocka_unit_test(any_name_gives_valid_json),
        cmocka_unit_test(a_name_too_long_for_a_channel_is_refused),
        cmocka_unit_test(interfaces_are_spread_over_the_trim_cycle),
        cmocka_unit_test(each_group_has_its_own_gap),
        cmocka_unit_test(the_longest_numbers_fit_the_room_promised),
        cmocka_unit_test(the_names_of_the_events_are_those_of_the_protocol),
        cmocka_unit_test(a_threshold_event_has_every_field_of_the_protocol),
        cmocka_unit_test(device_and_status_events_are_valid_json),
    };

    return cmocka_run_group_tests_name("message", tests, NULL, NULL);
}
