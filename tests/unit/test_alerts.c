/* test_alerts.c -- collector/alerts.c: an alert is raised when its value
 * has stayed above the threshold for `for`, cleared when it has stayed at
 * or below it as long, never flaps on a value hovering at the threshold,
 * ignores gaps; interface status and device state changes are events of
 * their own. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../collector/alerts.h"

#define SEC 1000000000ULL
#define T0 (1000 * SEC)

/* What emit got. */
struct seen {
    struct alert_event ev[16];
    int n;
};

static void keep(void *ctx, const struct alert_event *ev)
{
    struct seen *s = ctx;

    assert_true(s->n < 16);
    s->ev[s->n++] = *ev;
}

static const struct config_alerts thresholds = {
    .utilization = {.on = 1, .above = 90, .for_ms = 10000},
    .errors = {.on = 1, .above = 1, .for_ms = 5000},
    .discards = {.on = 1, .above = 10, .for_ms = 5000},
};

/* One sample at second t (rates over the second before): utilization in
 * and out, errors per second in, up. */
static int sample(struct alerts_iface *a, const struct config_alerts *cfg, double t, double util,
                  double errors, struct seen *s)
{
    struct alert_input in = {.interval_s = 1.0,
                             .have_utilization = 1,
                             .utilization_in = util,
                             .utilization_out = util / 2,
                             .have_errors = 1,
                             .errors_in = errors,
                             .have_discards = 1,
                             .oper = 1};
    int before = s->n;

    alerts_iface_update(a, cfg, &in, T0 + (uint64_t)(t * 1e9), keep, s);
    return s->n - before;
}

static void utilization_above_for_ten_seconds_raises_at_the_tenth_second(void **unused)
{
    struct alerts_iface a;
    struct seen s = {0};
    int t;

    memset(&a, 0, sizeof(a));
    for (t = 0; t < 5; t++)
        assert_int_equal(sample(&a, &thresholds, t, 50, 0, &s), 0);
    /* Above from second 4 on (the rate at t = 5 covers [4, 5]). */
    for (t = 5; t < 14; t++)
        assert_int_equal(sample(&a, &thresholds, t, 95, 0, &s), 0);
    assert_int_equal(sample(&a, &thresholds, 14, 95, 0, &s), 1);
    assert_int_equal(s.ev[0].kind, ALERT_UTILIZATION);
    assert_int_equal(s.ev[0].raised, 1);
    assert_true(s.ev[0].value == 95);
    assert_string_equal(s.ev[0].direction, "in");
    assert_true(s.ev[0].threshold == &thresholds.utilization);
    assert_true(s.ev[0].since_ns == T0 + 4 * SEC);
    /* Raised once. */
    assert_int_equal(sample(&a, &thresholds, 15, 99, 0, &s), 0);
}

static void clearing_needs_ten_seconds_at_or_below_too(void **unused)
{
    struct alerts_iface a;
    struct seen s = {0};
    int t;

    memset(&a, 0, sizeof(a));
    for (t = 1; t <= 10; t++)
        sample(&a, &thresholds, t, 95, 0, &s);
    assert_int_equal(s.n, 1);
    /* At the threshold exactly is not above: it counts toward clearing. */
    for (t = 11; t < 20; t++)
        assert_int_equal(sample(&a, &thresholds, t, t == 11 ? 90 : 20, 0, &s), 0);
    assert_int_equal(sample(&a, &thresholds, 20, 20, 0, &s), 1);
    assert_int_equal(s.ev[1].raised, 0);
    assert_true(s.ev[1].value == 20);
    assert_true(s.ev[1].since_ns == T0 + 10 * SEC);
}

/* 89, 91, 89, 91...: never above for ten seconds, so never raised; and
 * once raised, never below for ten seconds, so never cleared. */
static void a_value_hovering_at_the_threshold_does_not_flap(void **unused)
{
    struct alerts_iface a;
    struct seen s = {0};
    int t;

    memset(&a, 0, sizeof(a));
    for (t = 1; t <= 100; t++)
        sample(&a, &thresholds, t, t % 2 ? 91 : 89, 0, &s);
    assert_int_equal(s.n, 0);
    for (t = 101; t <= 110; t++)
        sample(&a, &thresholds, t, 95, 0, &s);
    assert_int_equal(s.n, 1);
    for (t = 111; t <= 200; t++)
        sample(&a, &thresholds, t, t % 3 ? 85 : 92, 0, &s);
    assert_int_equal(s.n, 1);
    assert_true(a.track[ALERT_UTILIZATION].active);
}

/* Timeouts while the link is full: the gaps neither break nor confirm the
 * condition, the rates around them raise it in time. */
static void gaps_neither_break_nor_confirm_a_condition(void **unused)
{
    struct alerts_iface a;
    struct seen s = {0};
    struct alert_input gap = {.interval_s = 0, .oper = 1};
    int t;

    memset(&a, 0, sizeof(a));
    for (t = 1; t <= 12; t++) {
        if (t % 3 == 0)
            alerts_iface_update(&a, &thresholds, &gap, T0 + (uint64_t)t * SEC, keep, &s);
        else
            sample(&a, &thresholds, t, 97, 0, &s);
    }
    assert_int_equal(s.n, 1);
    assert_true(s.ev[0].since_ns == T0);
    /* A gap alone raises nothing either. */
    memset(&a, 0, sizeof(a));
    s.n = 0;
    for (t = 1; t <= 30; t++)
        alerts_iface_update(&a, &thresholds, &gap, T0 + (uint64_t)t * SEC, keep, &s);
    assert_int_equal(s.n, 0);
}

/* Arrivals 5 ms early or late: ten rates above still raise at the tenth,
 * not the eleventh (ALERTS_SLACK_NS). */
static void jittered_arrivals_raise_at_the_same_sample(void **unused)
{
    const struct config_threshold th = {.on = 1, .above = 1, .for_ms = 10000};
    struct alert_track tr;
    uint64_t since = 0;
    int t, raised_at = -1;

    memset(&tr, 0, sizeof(tr));
    for (t = 1; t <= 12 && raised_at < 0; t++) {
        uint64_t now = T0 + (uint64_t)t * SEC - (t % 2 ? 5000000 : 0);
        uint64_t start = t == 1 ? T0 : now - SEC;

        if (alert_track_update(&tr, &th, 1, 5, start, now, SEC / 4, &since) == 1)
            raised_at = t;
    }
    assert_int_equal(raised_at, 10);
    assert_true(since == T0);
}

static void each_threshold_is_its_own_alert_and_for_zero_is_at_once(void **unused)
{
    struct config_alerts cfg = thresholds;
    struct alerts_iface a;
    struct seen s = {0};
    struct alert_input in = {.interval_s = 1.0,
                             .have_errors = 1,
                             .errors_in = 0.5,
                             .errors_out = 3,
                             .have_discards = 1,
                             .discards_in = 11,
                             .oper = 1};

    memset(&a, 0, sizeof(a));
    cfg.discards.for_ms = 0;
    alerts_iface_update(&a, &cfg, &in, T0 + SEC, keep, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ev[0].kind, ALERT_DISCARDS);
    assert_true(s.ev[0].value == 11);
    alerts_iface_update(&a, &cfg, &in, T0 + 5 * SEC, keep, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ev[1].kind, ALERT_ERRORS);
    assert_true(s.ev[1].value == 3);
    assert_string_equal(s.ev[1].direction, "out");
    /* No utilization without a speed: nothing about it. */
    assert_false(a.track[ALERT_UTILIZATION].active);
}

/* An empty `alerts:` on reload: what was raised is cleared at once, and
 * nothing more is raised. */
static void a_threshold_turned_off_clears_its_alert(void **unused)
{
    struct config_alerts off;
    struct alerts_iface a;
    struct seen s = {0};
    int t;

    memset(&a, 0, sizeof(a));
    memset(&off, 0, sizeof(off));
    for (t = 1; t <= 10; t++)
        sample(&a, &thresholds, t, 95, 0, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(sample(&a, &off, 11, 95, 0, &s), 1);
    assert_int_equal(s.ev[1].raised, 0);
    assert_true(s.ev[1].have_value);
    for (t = 12; t <= 40; t++)
        assert_int_equal(sample(&a, &off, t, 95, 5, &s), 0);
}

static int oper(struct alerts_iface *a, int status, struct seen *s)
{
    struct alert_input in = {.oper = status};
    int before = s->n;

    alerts_iface_update(a, &thresholds, &in, T0, keep, s);
    return s->n - before;
}

/* Leaving up raises, coming back clears; down to lowerLayerDown is the
 * same alert; an interface first seen down raises nothing. */
static void interface_status_changes_are_events(void **unused)
{
    struct alerts_iface a;
    struct seen s = {0};

    memset(&a, 0, sizeof(a));
    assert_int_equal(oper(&a, 2, &s), 0);
    assert_int_equal(oper(&a, 1, &s), 0);
    assert_int_equal(oper(&a, 1, &s), 0);
    assert_int_equal(oper(&a, 2, &s), 1);
    assert_int_equal(s.ev[0].kind, ALERT_OPER);
    assert_int_equal(s.ev[0].raised, 1);
    assert_int_equal(s.ev[0].oper, 2);
    assert_int_equal(oper(&a, 7, &s), 0);
    assert_int_equal(oper(&a, 0, &s), 0); /* unknown (no answer): no change */
    assert_int_equal(oper(&a, 1, &s), 1);
    assert_int_equal(s.ev[1].raised, 0);
    assert_int_equal(s.ev[1].oper, 1);
}

static void device_down_and_up_are_raised_and_cleared_once(void **unused)
{
    struct alerts_device d = {0};
    struct seen s = {0};

    alerts_device_update(&d, 0, keep, &s);
    assert_int_equal(s.n, 0);
    alerts_device_update(&d, 1, keep, &s);
    alerts_device_update(&d, 1, keep, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ev[0].kind, ALERT_DEVICE);
    assert_int_equal(s.ev[0].raised, 1);
    alerts_device_update(&d, 0, keep, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ev[1].raised, 0);
    assert_string_equal(alerts_kind_name(ALERT_DEVICE), "device");
    assert_string_equal(alerts_kind_name(ALERT_UTILIZATION), "utilization");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utilization_above_for_ten_seconds_raises_at_the_tenth_second),
        cmocka_unit_test(clearing_needs_ten_seconds_at_or_below_too),
        cmocka_unit_test(a_value_hovering_at_the_threshold_does_not_flap),
        cmocka_unit_test(gaps_neither_break_nor_confirm_a_condition),
        cmocka_unit_test(jittered_arrivals_raise_at_the_same_sample),
        cmocka_unit_test(each_threshold_is_its_own_alert_and_for_zero_is_at_once),
        cmocka_unit_test(a_threshold_turned_off_clears_its_alert),
        cmocka_unit_test(interface_status_changes_are_events),
        cmocka_unit_test(device_down_and_up_are_raised_and_cleared_once),
    };

    return cmocka_run_group_tests_name("alerts", tests, NULL, NULL);
}
