/* test_message.c -- collector/message.c: every sample message is valid
 * JSON with the fields of docs/PROTOCOL.md, whatever the names and the
 * numbers, and the names are those of common/keys.h. */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static void setup_iface(struct fixture *f, const char *name)
{
    memset(f, 0, sizeof(*f));
    f->cfg.name = "tokyo-edge1";
    f->cfg.site = "tokyo";
    f->ifc.name = (char *)name;
    f->ifc.ifindex = 7;
    f->ifc.rd.speed_bps = 1000000000;
    f->ifc.rd.oper = 1;
    f->ifc.msg.seq = 42;
    assert_int_equal(message_iface_init(&f->ifc.msg, "ifmon", &f->cfg, name, 7), 0);
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
    struct rate_result res = {.status = RATE_OK, .in_bps = 1234.4, .out_bps = 99.5, .interval = 1.0};
    json_t *j;

    (void)state;
    setup_iface(&f, "ge-0/0/0");
    assert_string_equal(f.ifc.msg.channel, "ifmon:tokyo-edge1:ge-0/0/0");
    assert_string_equal(f.ifc.msg.history_key, "ifmon:history:tokyo-edge1:ge-0/0/0");
    j = format(&f, &res);
    assert_string_equal(json_string_value(json_object_get(j, "device")), "tokyo-edge1");
    assert_string_equal(json_string_value(json_object_get(j, "site")), "tokyo");
    assert_string_equal(json_string_value(json_object_get(j, "interface")), "ge-0/0/0");
    assert_int_equal(json_integer_value(json_object_get(j, "ifindex")), 7);
    assert_int_equal(json_integer_value(json_object_get(j, "in_bps")), 1234);
    assert_int_equal(json_integer_value(json_object_get(j, "out_bps")), 100);
    assert_int_equal(json_integer_value(json_object_get(j, "speed_bps")), 1000000000);
    assert_string_equal(json_string_value(json_object_get(j, "oper")), "up");
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 42);
    assert_null(json_object_get(j, "gap"));
    json_decref(j);
    message_iface_free(&f.ifc.msg);
}

static void a_gap_has_null_rates_and_its_reason(void **state)
{
    struct fixture f;
    struct rate_result res = {.status = RATE_GAP, .gap = RATE_GAP_TIMEOUT};
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
    json_decref(j);
    message_iface_free(&f.ifc.msg);
}

/* A double at or past 2^64 has no defined conversion to an integer, and
 * past 2^53 JSON readers lose it (JavaScript) or refuse it (jansson, past
 * 2^63): the message holds 2^53 instead. */
static void rates_beyond_an_integer_are_held_not_wrapped(void **state)
{
    struct fixture f;
    struct rate_result res = {.status = RATE_OK, .in_bps = 1e30, .out_bps = 18446744073709551616.0,
                              .interval = 0.001};
    json_t *j;

    (void)state;
    setup_iface(&f, "ge-0/0/0");
    j = format(&f, &res);
    assert_int_equal(json_integer_value(json_object_get(j, "in_bps")), 9007199254740992LL);
    assert_int_equal(json_integer_value(json_object_get(j, "out_bps")), 9007199254740992LL);
    json_decref(j);
    res.in_bps = NAN;
    res.out_bps = -5;
    j = format(&f, &res);
    assert_int_equal(json_integer_value(json_object_get(j, "in_bps")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "out_bps")), 0);
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
        struct rate_result res = {.status = RATE_OK, .in_bps = 1, .out_bps = 2, .interval = 1};
        json_t *j;

        setup_iface(&f, names[i]);
        j = format(&f, &res);
        assert_string_equal(json_string_value(json_object_get(j, "interface")), names[i]);
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
    assert_int_equal(message_iface_init(&m, "ifmon", &cfg, name, 1), -1);
    assert_null(m.channel);
    assert_null(m.json_head);
    assert_int_equal(m.seq, 3);
    message_iface_free(&m);
    free(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_rate_has_every_field_of_the_protocol),
        cmocka_unit_test(a_gap_has_null_rates_and_its_reason),
        cmocka_unit_test(rates_beyond_an_integer_are_held_not_wrapped),
        cmocka_unit_test(any_name_gives_valid_json),
        cmocka_unit_test(a_name_too_long_for_a_channel_is_refused),
    };

    return cmocka_run_group_tests_name("message", tests, NULL, NULL);
}
