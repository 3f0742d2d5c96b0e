/* test_rate.c -- unit tests of collector/rate.c: the rate arithmetic must
 * give right numbers, and gaps rather than spikes or made-up zeros. */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../collector/rate.h"

#define SEC 1000000000ULL
#define HOLD (5 * SEC)

/* One reading at t seconds: counters, uptime derived from t. */
static struct rate_sample at(double t, uint64_t in, uint64_t out, int width)
{
    struct rate_sample s = {
        .in_octets = in,
        .out_octets = out,
        .width = width,
        .mono_ns = (uint64_t)(t * 1e9) + 1000 * SEC,
        .uptime = (uint32_t)(t * 100.0) + 50000,
        .have_uptime = 1,
        .speed_bps = 10000000000ULL,
    };
    return s;
}

static struct rate_result feed(struct rate_state *st, struct rate_sample s)
{
    struct rate_result r;

    rate_update(st, &s, rate_moved(st, &s), HOLD, 0, &r);
    return r;
}

static void first_reading_is_a_gap(void **unused)
{
    struct rate_state st;
    struct rate_result r;

    rate_reset(&st);
    r = feed(&st, at(0, 100, 100, 64));
    assert_int_equal(r.status, RATE_GAP);
    assert_int_equal(r.gap, RATE_GAP_FIRST);
}

static void steady_counter64_gives_eight_times_octet_rate(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    int i;

    rate_reset(&st);
    for (i = 0; i <= 10; i++) {
        r = feed(&st, at(i, 1000000ULL * i, 250000ULL * i, 64));
        if (i == 1) /* the span starts at a reading that followed another */
            assert_int_equal(r.status, RATE_GAP);
        if (i > 1) {
            assert_int_equal(r.status, RATE_OK);
            assert_true(fabs(r.in_bps - 8e6) < 1e-6);
            assert_true(fabs(r.out_bps - 2e6) < 1e-6);
            assert_true(fabs(r.interval - 1.0) < 1e-9);
        }
    }
}

static void counter32_wrap_is_a_normal_rate(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    uint64_t start = 4294967295ULL - 2500000;

    rate_reset(&st);
    feed(&st, at(0, start, start, 32));
    feed(&st, at(1, (start + 1000000) & 0xffffffff, start, 32));
    r = feed(&st, at(2, (start + 2000000) & 0xffffffff, start, 32));
    assert_int_equal(r.status, RATE_OK);
    /* This one crosses 2^32. */
    r = feed(&st, at(3, (start + 3000000) & 0xffffffff, (start + 3000000) & 0xffffffff, 32));
    assert_int_equal(r.status, RATE_OK);
    assert_true(fabs(r.in_bps - 8e6) < 1e-6);
    assert_true(fabs(r.out_bps - 24e6) < 1e-6);
}

static void counter64_going_back_is_a_gap_then_rates_resume(void **unused)
{
    struct rate_state st;
    struct rate_result r;

    rate_reset(&st);
    feed(&st, at(0, 5000000, 5000000, 64));
    feed(&st, at(1, 6000000, 6000000, 64));
    r = feed(&st, at(2, 1000, 6500000, 64));
    assert_int_equal(r.status, RATE_GAP);
    assert_int_equal(r.gap, RATE_GAP_COUNTER_RESET);
    feed(&st, at(3, 1001000, 7500000, 64));
    r = feed(&st, at(4, 2001000, 8500000, 64));
    assert_int_equal(r.status, RATE_OK);
    assert_true(fabs(r.in_bps - 8e6) < 1e-6);
}

static void uptime_going_back_is_an_agent_restart_not_a_spike(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    struct rate_sample s;

    rate_reset(&st);
    feed(&st, at(0, 4000000000ULL, 100, 32));
    feed(&st, at(1, 4001000000ULL, 200, 32));
    /* Restarted agent: Counter32 restarted at a small value, which would
     * look like a wrap of almost 2^32 octets. */
    s = at(2, 1000, 300, 32);
    s.uptime = 100;
    r = feed(&st, s);
    assert_int_equal(r.status, RATE_GAP);
    assert_int_equal(r.gap, RATE_GAP_AGENT_RESTART);
    s = at(3, 1001000, 400, 32);
    s.uptime = 200;
    feed(&st, s);
    s = at(4, 2001000, 500, 32);
    s.uptime = 300;
    r = feed(&st, s);
    assert_int_equal(r.status, RATE_OK);
    assert_true(fabs(r.in_bps - 8e6) < 1e-6);
}

static void uptime_wrapping_after_497_days_is_not_a_restart(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    struct rate_sample s;

    rate_reset(&st);
    s = at(0, 0, 0, 64);
    s.uptime = UINT32_MAX - 150;
    feed(&st, s);
    s = at(1, 1000000, 0, 64);
    s.uptime = UINT32_MAX - 50;
    feed(&st, s);
    s = at(2, 2000000, 0, 64);
    s.uptime = 50;
    r = feed(&st, s);
    assert_int_equal(r.status, RATE_OK);
}

static void rate_above_speed_is_a_gap(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    struct rate_sample s;

    rate_reset(&st);
    s = at(0, 0, 0, 32);
    s.speed_bps = 100000000; /* 100 Mb/s */
    feed(&st, s);
    s = at(1, 1000, 0, 32);
    s.speed_bps = 100000000;
    feed(&st, s);
    /* A reset misread as a wrap: ~4 GB in one second. */
    s = at(2, 4000000000ULL, 0, 32);
    s.speed_bps = 100000000;
    r = feed(&st, s);
    assert_int_equal(r.status, RATE_GAP);
    assert_int_equal(r.gap, RATE_GAP_OVER_SPEED);
    s = at(3, 4000000000ULL + 12500000, 0, 32);
    s.speed_bps = 100000000;
    feed(&st, s);
    /* Full line rate is fine. */
    s = at(4, 4000000000ULL + 25000000, 0, 32);
    s.speed_bps = 100000000;
    r = feed(&st, s);
    assert_int_equal(r.status, RATE_OK);
    assert_true(fabs(r.in_bps - 1e8) < 1e-3);
}

/* Without a known speed, a Counter64 jump over a short span (a few ms
 * between two answers) would be a rate of any size, even past 2^64 bit/s,
 * which no integer holds. No interface carries RATE_MAX_BPS. */
static void rate_beyond_any_interface_is_a_gap_when_the_speed_is_unknown(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    struct rate_sample s;

    rate_reset(&st);
    s = at(0, 0, 0, 64);
    s.speed_bps = 0;
    feed(&st, s);
    s = at(1, 1000, 0, 64);
    s.speed_bps = 0;
    feed(&st, s);
    /* 2^62 octets in 10 ms: 3.7e21 bit/s. */
    s = at(1.01, 1000 + (1ULL << 62), 0, 64);
    s.speed_bps = 0;
    r = feed(&st, s);
    assert_int_equal(r.status, RATE_GAP);
    assert_int_equal(r.gap, RATE_GAP_OVER_SPEED);
    /* 10 Tb/s of unknown speed is a rate (once the span is anchored again). */
    s = at(2.01, 1000 + (1ULL << 62) + 1250000000000ULL, 0, 64);
    s.speed_bps = 0;
    feed(&st, s);
    s = at(3.01, 1000 + (1ULL << 62) + 2 * 1250000000000ULL, 0, 64);
    s.speed_bps = 0;
    r = feed(&st, s);
    assert_int_equal(r.status, RATE_OK);
    assert_true(fabs(r.in_bps / 1e13 - 1) < 1e-6);
}

/* snmpd-style cache: counters refresh every 3 s, polled every second. A
 * naive poller shows 0, 0, 3x; we must show steady x. */
static void cached_counters_give_steady_rates_not_zero_and_triple(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    int i, oks = 0;

    rate_reset(&st);
    for (i = 0; i <= 30; i++) {
        int refreshed = i - i % 3; /* counter value as of the last refresh */

        r = feed(&st, at(i, 1000000ULL * refreshed, 500000ULL * refreshed, 64));
        if (i < 6) {
            /* No rate yet: the first value may have sat in the cache for
             * any time, so the span starts at the first refresh seen. */
            assert_int_equal(r.status, RATE_GAP);
            continue;
        }
        assert_int_not_equal(r.status, RATE_GAP);
        assert_true(fabs(r.in_bps - 8e6) < 1e-6);
        assert_true(fabs(r.out_bps - 4e6) < 1e-6);
        if (r.status == RATE_OK) {
            assert_true(fabs(r.interval - 3.0) < 1e-9);
            oks++;
        }
    }
    assert_int_equal(oks, 9);
}

/* The first reading came from a cache loaded 2.5 s earlier by someone
 * else: the first rate must not cover 3.5 s of traffic in 1 s. */
static void a_stale_first_reading_does_not_make_a_spike(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    double t;

    rate_reset(&st);
    r = feed(&st, at(0, 1000000ULL * 0, 0, 64)); /* value as of t = -2.5 */
    for (t = 1; t <= 12; t++) {
        /* refreshes at t = 0.5, 3.5, 6.5, ...: polls at 1, 4, 7, 10 see them */
        double refreshed = t - 0.5 - ((int)(t - 0.5) % 3);

        r = feed(&st, at(t, (uint64_t)(1000000.0 * (refreshed + 2.5)), 0, 64));
        if (r.status != RATE_GAP)
            assert_true(fabs(r.in_bps - 8e6) < 1e-6);
    }
    assert_int_not_equal(r.status, RATE_GAP);
}

static void still_counters_become_zero_after_the_hold(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    int i;

    rate_reset(&st);
    feed(&st, at(0, 0, 0, 64));
    feed(&st, at(1, 1000000, 1000000, 64));
    r = feed(&st, at(2, 2000000, 2000000, 64));
    assert_true(fabs(r.in_bps - 8e6) < 1e-6);
    /* Traffic stops. Held for the hold span, then a real zero. */
    for (i = 3; i <= 6; i++) {
        r = feed(&st, at(i, 2000000, 2000000, 64));
        assert_int_equal(r.status, RATE_HELD);
    }
    r = feed(&st, at(7, 2000000, 2000000, 64));
    assert_int_equal(r.status, RATE_OK);
    assert_true(r.in_bps == 0.0 && r.out_bps == 0.0);
    assert_true(fabs(r.interval - 5.0) < 1e-9);
}

static void idle_interface_in_a_fresh_response_is_zero_at_once(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    struct rate_sample s;

    rate_reset(&st);
    s = at(0, 7, 7, 64);
    rate_update(&st, &s, 1, HOLD, 0, &r);
    s = at(1, 7, 7, 64);
    rate_update(&st, &s, 1, HOLD, 0, &r);
    s = at(2, 7, 7, 64);
    /* Another interface of the same response moved: this one is idle. */
    rate_update(&st, &s, 1, HOLD, 0, &r);
    assert_int_equal(r.status, RATE_OK);
    assert_true(r.in_bps == 0.0);
}

static void jittered_arrivals_still_give_the_true_rate(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    double t = 0;
    int i;

    srand(7);
    rate_reset(&st);
    for (i = 0; i < 200; i++) {
        /* Counters read at the arrival time; intervals from 0.7 to 1.3 s. */
        r = feed(&st, at(t, (uint64_t)(t * 1250000.0), (uint64_t)(t * 125.0), 64));
        if (i > 1) {
            assert_int_equal(r.status, RATE_OK);
            assert_true(fabs(r.in_bps - 1e7) / 1e7 < 1e-5);
        }
        t += 0.7 + 0.6 * (double)rand() / RAND_MAX;
    }
}

/* A poll answered late by a retry (0.95 s in), then the next on time
 * (0.15 s into its second): the 0.2 s between them is held over, and the
 * following rate covers 1.2 s. Here the counters are read 10 ms late at
 * t = 3.15 (the reading's time is when the loop got to it): over 0.2 s
 * that would be a 5% error, over 1.2 s it is under 1%. */
static void a_span_shorter_than_the_minimum_holds_the_last_rate(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    const double when[] = {0.15, 1.15, 2.15, 3.10, 3.30, 4.15, 5.15};
    const double octets_at[] = {0.15, 1.15, 2.15, 3.10, 3.29, 4.15, 5.15};
    size_t i;

    (void)unused;
    rate_reset(&st);
    for (i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
        struct rate_sample s = at(when[i], (uint64_t)(octets_at[i] * 1250000.0),
                                  (uint64_t)(octets_at[i] * 125000.0), 64);

        rate_update(&st, &s, 1, HOLD, SEC / 2, &r);
        if (i == 4) {
            /* 0.2 s after the previous reading: held, not measured. */
            assert_int_equal(r.status, RATE_HELD);
            assert_true(fabs(r.in_bps - 1e7) / 1e7 < 1e-3);
            assert_true(fabs(r.interval - 0.95) < 1e-6);
        } else if (i == 5) {
            /* The span runs from 3.10 to 4.15: 1.05 s. */
            assert_int_equal(r.status, RATE_OK);
            assert_true(fabs(r.interval - 1.05) < 1e-6);
            assert_true(fabs(r.in_bps - 1e7) / 1e7 < 1e-3);
        } else if (i >= 2) {
            assert_int_equal(r.status, RATE_OK);
        }
    }
    /* Without a minimum the short span is measured, with the 5% error. */
    rate_reset(&st);
    for (i = 0; i < 5; i++) {
        struct rate_sample s = at(when[i], (uint64_t)(octets_at[i] * 1250000.0),
                                  (uint64_t)(octets_at[i] * 125000.0), 64);

        rate_update(&st, &s, 1, HOLD, 0, &r);
    }
    assert_int_equal(r.status, RATE_OK);
    assert_true(fabs(r.in_bps - 1e7) / 1e7 > 0.04);
}

static void arrival_and_uptime_disagreeing_is_a_gap(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    struct rate_sample s;

    rate_reset(&st);
    feed(&st, at(0, 0, 0, 64));
    s = at(1, 1000000, 0, 64);
    s.uptime += 1000; /* agent claims 11 s passed, we saw 1 s */
    r = feed(&st, s);
    assert_int_equal(r.status, RATE_GAP);
    assert_int_equal(r.gap, RATE_GAP_CLOCK_MISMATCH);
}

static void counter_width_change_restarts(void **unused)
{
    struct rate_state st;
    struct rate_result r;

    rate_reset(&st);
    feed(&st, at(0, 1ULL << 40, 0, 64));
    r = feed(&st, at(1, 1000, 0, 32));
    assert_int_equal(r.status, RATE_GAP);
    feed(&st, at(2, 1001000, 0, 32));
    r = feed(&st, at(3, 2001000, 0, 32));
    assert_int_equal(r.status, RATE_OK);
}

/* Counters going anywhere must never give NaN, a negative rate or a rate
 * above the over-speed bound. */
static void random_counters_never_give_nan_negative_or_spikes(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    struct rate_sample s;
    double t = 0;
    int i;

    srand(42);
    rate_reset(&st);
    for (i = 0; i < 100000; i++) {
        s = at(t, ((uint64_t)rand() << 33) ^ (uint64_t)rand(), (uint64_t)rand(),
               rand() % 5 ? 64 : 32);
        s.speed_bps = (uint64_t)(rand() % 3) * 1000000000ULL;
        if (rand() % 50 == 0)
            s.uptime = (uint32_t)rand();
        rate_update(&st, &s, rand() % 2, HOLD, rand() % 2 ? 0 : HOLD / 5, &r);
        if (r.status != RATE_GAP) {
            assert_false(isnan(r.in_bps) || isnan(r.out_bps));
            assert_true(r.in_bps >= 0 && r.out_bps >= 0 && r.interval > 0);
            if (s.speed_bps)
                assert_true(r.in_bps <= s.speed_bps * RATE_OVER_SPEED_FACTOR);
            else
                assert_true(r.in_bps <= RATE_MAX_BPS && r.out_bps <= RATE_MAX_BPS);
        }
        t += (rand() % 3000) / 1000.0;
    }
}

static void hold_span_is_at_least_five_seconds_or_two_and_a_half_intervals(void **unused)
{
    assert_int_equal(rate_hold_ns(1 * SEC), 5 * SEC);
    assert_int_equal(rate_hold_ns(10 * SEC), 25 * SEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_reading_is_a_gap),
        cmocka_unit_test(steady_counter64_gives_eight_times_octet_rate),
        cmocka_unit_test(counter32_wrap_is_a_normal_rate),
        cmocka_unit_test(counter64_going_back_is_a_gap_then_rates_resume),
        cmocka_unit_test(uptime_going_back_is_an_agent_restart_not_a_spike),
        cmocka_unit_test(uptime_wrapping_after_497_days_is_not_a_restart),
        cmocka_unit_test(rate_above_speed_is_a_gap),
        cmocka_unit_test(rate_beyond_any_interface_is_a_gap_when_the_speed_is_unknown),
        cmocka_unit_test(cached_counters_give_steady_rates_not_zero_and_triple),
        cmocka_unit_test(a_stale_first_reading_does_not_make_a_spike),
        cmocka_unit_test(still_counters_become_zero_after_the_hold),
        cmocka_unit_test(idle_interface_in_a_fresh_response_is_zero_at_once),
        cmocka_unit_test(jittered_arrivals_still_give_the_true_rate),
        cmocka_unit_test(a_span_shorter_than_the_minimum_holds_the_last_rate),
        cmocka_unit_test(arrival_and_uptime_disagreeing_is_a_gap),
        cmocka_unit_test(counter_width_change_restarts),
        cmocka_unit_test(random_counters_never_give_nan_negative_or_spikes),
        cmocka_unit_test(hold_span_is_at_least_five_seconds_or_two_and_a_half_intervals),
    };

    return cmocka_run_group_tests_name("rate", tests, NULL, NULL);
}
