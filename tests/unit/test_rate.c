/* test_rate.c -- unit tests of collector/rate.c: the rate arithmetic must
 * give right numbers, and gaps rather than spikes or made-up zeros, for
 * every counter group of a reading (octets, packets summed over unicast,
 * multicast and broadcast, errors, discards), each on its own. */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../collector/rate.h"

#define SEC 1000000000ULL
#define HOLD (5 * SEC)

enum { OCTETS = 0, PACKETS, ERRORS, DISCARDS };

/* One group's part of a result, with the reading's interval: what the
 * octets tests look at. */
struct result {
    enum rate_status status;
    enum rate_gap gap;
    double in_bps, out_bps, interval;
};

/* One reading at t seconds: octet counters, uptime derived from t. */
static struct rate_sample at(double t, uint64_t in, uint64_t out, int width)
{
    struct rate_sample s;

    memset(&s, 0, sizeof(s));
    s.group[OCTETS].present = 1;
    s.group[OCTETS].width = width;
    s.group[OCTETS].terms = 1;
    s.group[OCTETS].unit = RATE_UNIT_OCTETS;
    s.group[OCTETS].in[0] = in;
    s.group[OCTETS].out[0] = out;
    s.mono_ns = (uint64_t)(t * 1e9) + 1000 * SEC;
    s.uptime = (uint32_t)(t * 100.0) + 50000;
    s.have_uptime = 1;
    s.speed_bps = 10000000000ULL;
    return s;
}

/* Add group g to s: packets-like counters (terms per direction). */
static void with_group(struct rate_sample *s, int g, int width, int terms, const uint64_t *in,
                       const uint64_t *out)
{
    int k;

    s->group[g].present = 1;
    s->group[g].width = width;
    s->group[g].terms = terms;
    s->group[g].unit = RATE_UNIT_PACKETS;
    for (k = 0; k < terms; k++) {
        s->group[g].in[k] = in[k];
        s->group[g].out[k] = out[k];
    }
}

static struct result group_of(const struct rate_result *r, int g)
{
    struct result x = {r->group[g].status, r->group[g].gap, r->group[g].in, r->group[g].out,
                       r->interval};

    return x;
}

static struct result update(struct rate_state *st, const struct rate_sample *s, int moved,
                            uint64_t hold, uint64_t min_span)
{
    struct rate_result r;

    rate_update(st, s, moved, hold, min_span, &r);
    return group_of(&r, OCTETS);
}

static struct result feed(struct rate_state *st, struct rate_sample s)
{
    return update(st, &s, rate_moved(st, &s), HOLD, 0);
}

/* The whole result of a reading (every group). */
static struct rate_result feed_all(struct rate_state *st, struct rate_sample s)
{
    struct rate_result r;

    rate_update(st, &s, rate_moved(st, &s), HOLD, 0, &r);
    return r;
}

static void first_reading_is_a_gap(void **unused)
{
    struct rate_state st;
    struct result r;

    rate_reset(&st);
    r = feed(&st, at(0, 100, 100, 64));
    assert_int_equal(r.status, RATE_GAP);
    assert_int_equal(r.gap, RATE_GAP_FIRST);
}

static void steady_counter64_gives_eight_times_octet_rate(void **unused)
{
    struct rate_state st;
    struct result r;
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
    struct result r;
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
    struct result r;

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
    struct result r;
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
    struct result r;
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
    struct result r;
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
    struct result r;
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
    struct result r;
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
    struct result r;
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
    struct result r;
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
    struct result r;
    struct rate_sample s;

    rate_reset(&st);
    s = at(0, 7, 7, 64);
    r = update(&st, &s, 1, HOLD, 0);
    s = at(1, 7, 7, 64);
    r = update(&st, &s, 1, HOLD, 0);
    s = at(2, 7, 7, 64);
    /* Another interface of the same response moved: this one is idle. */
    r = update(&st, &s, 1, HOLD, 0);
    assert_int_equal(r.status, RATE_OK);
    assert_true(r.in_bps == 0.0);
}

static void jittered_arrivals_still_give_the_true_rate(void **unused)
{
    struct rate_state st;
    struct result r;
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
    struct result r;
    const double when[] = {0.15, 1.15, 2.15, 3.10, 3.30, 4.15, 5.15};
    const double octets_at[] = {0.15, 1.15, 2.15, 3.10, 3.29, 4.15, 5.15};
    size_t i;

    (void)unused;
    rate_reset(&st);
    for (i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
        struct rate_sample s = at(when[i], (uint64_t)(octets_at[i] * 1250000.0),
                                  (uint64_t)(octets_at[i] * 125000.0), 64);

        r = update(&st, &s, 1, HOLD, SEC / 2);
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

        r = update(&st, &s, 1, HOLD, 0);
    }
    assert_int_equal(r.status, RATE_OK);
    assert_true(fabs(r.in_bps - 1e7) / 1e7 > 0.04);
}

static void arrival_and_uptime_disagreeing_is_a_gap(void **unused)
{
    struct rate_state st;
    struct result r;
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
    struct result r;

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
    struct result r;
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
        r = update(&st, &s, rand() % 2, HOLD, rand() % 2 ? 0 : HOLD / 5);
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

/* ------------------------------------------------ several counter groups */

/* A reading with octets (moving at 1 MB/s in, 0.5 out) and packets summed
 * over three Counter32s per direction, each with its own value. */
static struct rate_sample with_packets(double t, const uint64_t *in3, const uint64_t *out3)
{
    struct rate_sample s = at(t, (uint64_t)(t * 1000000), (uint64_t)(t * 500000), 64);

    with_group(&s, PACKETS, 32, 3, in3, out3);
    return s;
}

/* Unicast at 1000/s, multicast at 100/s, broadcast at 10/s, the unicast
 * one starting just below 2^32: it wraps alone, the sum is still right. */
static void packets_are_the_sum_of_their_counters_each_wrapping_on_its_own(void **unused)
{
    const uint64_t start = 4294967295ULL - 1500;
    struct rate_state st;
    struct rate_result r;
    int i;

    rate_reset(&st);
    for (i = 0; i <= 4; i++) {
        uint64_t in3[3] = {(start + 1000ULL * i) & 0xffffffff, 5000 + 100ULL * i, 77 + 10ULL * i};
        uint64_t out3[3] = {20ULL * i, 0, 3ULL * i};

        r = feed_all(&st, with_packets(i, in3, out3));
        if (i < 2) {
            assert_int_equal(r.group[PACKETS].status, RATE_GAP);
            continue;
        }
        assert_int_equal(r.group[PACKETS].status, RATE_OK);
        assert_true(fabs(r.group[PACKETS].in - 1110.0) < 1e-6);
        assert_true(fabs(r.group[PACKETS].out - 23.0) < 1e-6);
        assert_int_equal(r.group[OCTETS].status, RATE_OK);
        assert_true(fabs(r.group[OCTETS].in - 8e6) < 1e-3);
    }
}

/* The agent answers noSuchObject for the packet counters now and then:
 * those readings are a no_data gap for packets alone; octets keep their
 * rates, and once packets are back they have rates over the same span. */
static void a_group_missing_from_an_answer_is_a_gap_for_that_group_alone(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    int i;

    rate_reset(&st);
    for (i = 0; i <= 8; i++) {
        uint64_t in3[3] = {1000ULL * i, 0, 0}, out3[3] = {500ULL * i, 0, 0};
        struct rate_sample s = with_packets(i, in3, out3);

        if (i == 4)
            s.group[PACKETS].present = 0;
        r = feed_all(&st, s);
        if (i >= 2) {
            assert_int_equal(r.group[OCTETS].status, RATE_OK);
            assert_true(fabs(r.group[OCTETS].in - 8e6) < 1e-3);
            assert_true(fabs(r.interval - 1.0) < 1e-9);
        }
        if (i == 4) {
            assert_int_equal(r.group[PACKETS].status, RATE_GAP);
            assert_int_equal(r.group[PACKETS].gap, RATE_GAP_NO_DATA);
        } else if (i == 5) {
            assert_int_equal(r.group[PACKETS].gap, RATE_GAP_FIRST); /* seen again */
        } else if (i >= 6 || (i >= 2 && i < 4)) {
            assert_int_equal(r.group[PACKETS].status, RATE_OK);
            assert_true(fabs(r.group[PACKETS].in - 1000.0) < 1e-6);
        }
    }
    /* Groups never polled are never present: a no_data gap every time. */
    assert_int_equal(r.group[ERRORS].gap, RATE_GAP_NO_DATA);
}

/* A Counter64 of packets going back (the agent reset that counter) is a
 * gap for packets; the octets, read in the same answer, are right. */
static void a_counter_reset_in_one_group_leaves_the_others_their_rates(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    int i;

    rate_reset(&st);
    for (i = 0; i <= 6; i++) {
        uint64_t in3[3] = {i < 3 ? 1000000ULL + 1000ULL * i : 1000ULL * (i - 3), 0, 0};
        uint64_t out3[3] = {0, 0, 0};
        struct rate_sample s = at(i, 1000000ULL * i, 0, 64);

        with_group(&s, PACKETS, 64, 3, in3, out3);
        r = feed_all(&st, s);
        if (i >= 2)
            assert_int_equal(r.group[OCTETS].status, RATE_OK);
        if (i == 3) {
            assert_int_equal(r.group[PACKETS].status, RATE_GAP);
            assert_int_equal(r.group[PACKETS].gap, RATE_GAP_COUNTER_RESET);
        }
        if (i >= 4) {
            assert_int_equal(r.group[PACKETS].status, RATE_OK);
            assert_true(fabs(r.group[PACKETS].in - 1000.0) < 1e-6);
        }
    }
}

/* Error counters are Counter32s: a wrap is a rate, as for octets. */
static void error_counter32_wraps_are_rates(void **unused)
{
    const uint64_t start = 4294967295ULL - 250;
    struct rate_state st;
    struct rate_result r;
    int i;

    rate_reset(&st);
    for (i = 0; i <= 5; i++) {
        uint64_t in1[1] = {(start + 100ULL * i) & 0xffffffff}, out1[1] = {7};
        struct rate_sample s = at(i, 1000000ULL * i, 0, 64);

        with_group(&s, ERRORS, 32, 1, in1, out1);
        r = feed_all(&st, s);
        if (i >= 2) {
            assert_int_equal(r.group[ERRORS].status, RATE_OK);
            assert_true(fabs(r.group[ERRORS].in - 100.0) < 1e-6);
            assert_true(r.group[ERRORS].out == 0.0);
        }
    }
}

/* A link of speed S carries at most S / RATE_MIN_PACKET_BITS packets a
 * second: a Counter32 of packets reset and read as a wrap is a gap, not
 * four billion packets a second; octets are not affected. */
static void packet_rates_no_link_carries_are_a_gap(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    int i;

    assert_true(fabs(rate_limit(RATE_UNIT_PACKETS, 1000000000ULL) - 1.2e9 / 320) < 1e-6);
    assert_true(fabs(rate_limit(RATE_UNIT_OCTETS, 1000000000ULL) - 1.2e9) < 1e-6);
    assert_true(fabs(rate_limit(RATE_UNIT_OCTETS, 0) - RATE_MAX_BPS) < 1);
    rate_reset(&st);
    for (i = 0; i <= 5; i++) {
        uint64_t in1[1] = {i == 3 ? 5ULL : 4000000000ULL + 1000ULL * i}, out1[1] = {0};
        struct rate_sample s = at(i, 1000000ULL * i, 0, 64);

        if (i > 3)
            in1[0] = 5 + 1000ULL * (i - 3);
        s.speed_bps = 1000000000ULL;
        with_group(&s, PACKETS, 32, 1, in1, out1);
        r = feed_all(&st, s);
        if (i == 3) {
            assert_int_equal(r.group[PACKETS].gap, RATE_GAP_OVER_SPEED);
            assert_int_equal(r.group[OCTETS].status, RATE_OK);
        }
        if (i >= 4) {
            assert_int_equal(r.group[PACKETS].status, RATE_OK);
            assert_true(fabs(r.group[PACKETS].in - 1000.0) < 1e-6);
        }
    }
}

/* A cached answer holds every group's last rates, an agent restart is a
 * gap for every group, and whatever happens every rate of a reading covers
 * the same span. */
static void the_timing_is_decided_once_for_every_group(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    struct rate_sample s;
    uint64_t e[1] = {0}, z[1] = {0};
    int i;

    rate_reset(&st);
    for (i = 0; i <= 9; i++) {
        int refreshed = i - i % 3;
        uint64_t in3[3] = {300ULL * refreshed, 0, 0}, out3[3] = {0, 0, 0};

        s = at(i, 1000000ULL * refreshed, 0, 64);
        with_group(&s, PACKETS, 64, 3, in3, out3);
        e[0] = 2ULL * refreshed;
        with_group(&s, ERRORS, 32, 1, e, z);
        r = feed_all(&st, s);
        if (i >= 6) {
            int g;

            for (g = OCTETS; g <= ERRORS; g++)
                assert_int_not_equal(r.group[g].status, RATE_GAP);
            assert_int_equal(r.group[PACKETS].status, r.group[OCTETS].status);
            assert_true(fabs(r.group[PACKETS].in - 300.0) < 1e-6);
            assert_true(fabs(r.group[ERRORS].in - 2.0) < 1e-6);
            assert_true(fabs(r.interval - 3.0) < 1e-9);
        }
    }
    s.uptime = 5; /* restarted */
    s.mono_ns += SEC;
    r = feed_all(&st, s);
    assert_int_equal(r.group[OCTETS].gap, RATE_GAP_AGENT_RESTART);
    assert_int_equal(r.group[PACKETS].gap, RATE_GAP_AGENT_RESTART);
    assert_int_equal(r.group[ERRORS].gap, RATE_GAP_AGENT_RESTART);
    assert_int_equal(r.group[DISCARDS].gap, RATE_GAP_NO_DATA);
    assert_true(r.interval == 0);
}

/* Groups coming and going, counters anywhere: never NaN, negative or over
 * the bound, and one interval for every rate of a reading. */
static void random_groups_never_give_nan_negative_spikes_or_two_spans(void **unused)
{
    struct rate_state st;
    struct rate_result r;
    double t = 0;
    int i, g;

    srand(4242);
    rate_reset(&st);
    for (i = 0; i < 100000; i++) {
        struct rate_sample s = at(t, ((uint64_t)rand() << 20) ^ (uint64_t)rand(), (uint64_t)rand(),
                                  rand() % 5 ? 64 : 32);
        int moved = rand() % 2;

        for (g = PACKETS; g <= DISCARDS; g++) {
            uint64_t in3[3] = {(uint64_t)rand(), (uint64_t)rand() % 7, (uint64_t)rand()};
            uint64_t out3[3] = {(uint64_t)rand() << (rand() % 40), 0, 1};

            if (rand() % 4)
                with_group(&s, g, rand() % 3 ? 64 : 32, g == PACKETS ? 1 + rand() % 3 : 1, in3,
                           out3);
        }
        s.speed_bps = (uint64_t)(rand() % 3) * 1000000000ULL;
        if (rand() % 50 == 0)
            s.uptime = (uint32_t)rand();
        rate_update(&st, &s, moved, HOLD, rand() % 2 ? 0 : HOLD / 5, &r);
        for (g = 0; g < RATE_GROUPS; g++) {
            const struct rate_group_result *x = &r.group[g];
            double limit =
                rate_limit(g == OCTETS ? RATE_UNIT_OCTETS : RATE_UNIT_PACKETS, s.speed_bps);

            if (x->status == RATE_GAP) {
                assert_int_not_equal(x->gap, RATE_GAP_NONE);
                if (!s.group[g].present)
                    assert_int_equal(x->gap, RATE_GAP_NO_DATA);
                continue;
            }
            assert_true(s.group[g].present);
            assert_false(isnan(x->in) || isnan(x->out));
            assert_true(x->in >= 0 && x->out >= 0 && r.interval > 0);
            if (x->status == RATE_OK)
                assert_true(x->in <= limit && x->out <= limit);
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
        cmocka_unit_test(packets_are_the_sum_of_their_counters_each_wrapping_on_its_own),
        cmocka_unit_test(a_group_missing_from_an_answer_is_a_gap_for_that_group_alone),
        cmocka_unit_test(a_counter_reset_in_one_group_leaves_the_others_their_rates),
        cmocka_unit_test(error_counter32_wraps_are_rates),
        cmocka_unit_test(packet_rates_no_link_carries_are_a_gap),
        cmocka_unit_test(the_timing_is_decided_once_for_every_group),
        cmocka_unit_test(random_groups_never_give_nan_negative_spikes_or_two_spans),
    };

    return cmocka_run_group_tests_name("rate", tests, NULL, NULL);
}
