/* rate.c -- see rate.h. Counter arithmetic follows RFC 2863: Counter32 and
 * Counter64 only ever increase and wrap at 2^32 or 2^64; a discontinuity
 * (re-initialisation of the agent) shows as sysUpTime going backwards
 * (RFC 3418) or, for a Counter64, as the counter going backwards, since a
 * 64-bit counter does not wrap in the lifetime of any interface. */

#include "rate.h"

#include <string.h>

#define NS_PER_SEC 1e9
/* sysUpTime (TimeTicks) wraps after 2^32 hundredths of a second, 497 days. */
#define UPTIME_WRAP_SLACK 0x10000000u
/* The arrival delta may disagree with the sysUpTime delta by this share of
 * the interval, plus a fixed slack for sysUpTime's 10 ms resolution and the
 * network delay variation of the response. */
#define CLOCK_TOLERANCE_SHARE 0.5
#define CLOCK_TOLERANCE_NS 200000000.0

static void point_set(struct rate_point *p, const struct rate_sample *s)
{
    p->in_octets = s->in_octets;
    p->out_octets = s->out_octets;
    p->mono_ns = s->mono_ns;
    p->uptime = s->uptime;
    p->have_uptime = s->have_uptime;
}

/* Start a new span at `s` and report a gap. */
static void restart(struct rate_state *st, const struct rate_sample *s, enum rate_gap gap,
                    struct rate_result *out)
{
    st->have_prev = 1;
    st->width = s->width;
    point_set(&st->prev, s);
    st->anchor = st->prev;
    st->anchor_aligned = 0;
    st->have_rate = 0;
    out->status = RATE_GAP;
    out->gap = gap;
    out->in_bps = out->out_bps = out->interval = 0;
}

/* sysUpTime went backwards, beyond what its own 497-day wrap explains. */
static int uptime_went_back(uint32_t prev, uint32_t now)
{
    if (now >= prev)
        return 0;
    return !(prev > UINT32_MAX - UPTIME_WRAP_SLACK && now < UPTIME_WRAP_SLACK);
}

static uint64_t counter_delta(uint64_t now, uint64_t then, int width)
{
    if (width == 32)
        return (uint32_t)((uint32_t)now - (uint32_t)then);
    return now - then;
}

/* A rate no interface of this speed can carry: a counter discontinuity
 * (RFC 2863 ifCounterDiscontinuityTime) that looks like a wrap. Without a
 * known speed, no interface at all can carry it (over a very short span a
 * Counter64 jump would otherwise give any number, even past 2^64). */
static int over_speed(const struct rate_sample *s, double in_bps, double out_bps)
{
    double limit = s->speed_bps > 0 ? (double)s->speed_bps * RATE_OVER_SPEED_FACTOR : RATE_MAX_BPS;

    return in_bps > limit || out_bps > limit;
}

void rate_reset(struct rate_state *st)
{
    memset(st, 0, sizeof(*st));
}

int rate_moved(const struct rate_state *st, const struct rate_sample *s)
{
    if (!st->have_prev || st->width != s->width)
        return 1;
    return s->in_octets != st->prev.in_octets || s->out_octets != st->prev.out_octets;
}

uint64_t rate_hold_ns(uint64_t interval_ns)
{
    uint64_t hold = interval_ns * 5 / 2;

    return hold > RATE_HOLD_MIN_NS ? hold : RATE_HOLD_MIN_NS;
}

/* Repeat the last rate for this reading (RATE_HELD), or a `first` gap
 * when there is none yet; the span goes on. */
static void hold_last(const struct rate_state *st, struct rate_result *out)
{
    if (!st->have_rate) {
        out->status = RATE_GAP;
        out->gap = RATE_GAP_FIRST;
        out->in_bps = out->out_bps = out->interval = 0;
        return;
    }
    out->status = RATE_HELD;
    out->gap = RATE_GAP_NONE;
    out->in_bps = st->last_in_bps;
    out->out_bps = st->last_out_bps;
    out->interval = st->last_interval;
}

void rate_update(struct rate_state *st, const struct rate_sample *s, int response_moved,
                 uint64_t hold_ns, uint64_t min_span_ns, struct rate_result *out)
{
    double dt_ns, span_ns, in_bps, out_bps;

    if (!st->have_prev)
        return restart(st, s, RATE_GAP_FIRST, out);
    if (s->have_uptime && st->prev.have_uptime && uptime_went_back(st->prev.uptime, s->uptime))
        return restart(st, s, RATE_GAP_AGENT_RESTART, out);
    if (s->width != st->width)
        return restart(st, s, RATE_GAP_FIRST, out);
    if (s->width == 64 &&
        (s->in_octets < st->prev.in_octets || s->out_octets < st->prev.out_octets))
        return restart(st, s, RATE_GAP_COUNTER_RESET, out);
    if (s->mono_ns <= st->prev.mono_ns)
        return restart(st, s, RATE_GAP_CLOCK_MISMATCH, out);

    dt_ns = (double)(s->mono_ns - st->prev.mono_ns);
    if (s->have_uptime && st->prev.have_uptime) {
        double up_ns = (double)(uint32_t)(s->uptime - st->prev.uptime) * 1e7;
        double diff = up_ns > dt_ns ? up_ns - dt_ns : dt_ns - up_ns;

        if (diff > dt_ns * CLOCK_TOLERANCE_SHARE + CLOCK_TOLERANCE_NS)
            return restart(st, s, RATE_GAP_CLOCK_MISMATCH, out);
    }
    point_set(&st->prev, s);

    span_ns = (double)(s->mono_ns - st->anchor.mono_ns);
    if (!response_moved && span_ns < (double)hold_ns) {
        /* A cached answer: the span goes on; repeat what we know, unless
         * the interface meanwhile became slower than that rate. */
        if (st->have_rate && over_speed(s, st->last_in_bps, st->last_out_bps))
            return restart(st, s, RATE_GAP_OVER_SPEED, out);
        return hold_last(st, out);
    }

    if (!st->anchor_aligned) {
        /* The span must start at a reading taken right after the agent
         * refreshed its counters, or a cached first value would make the
         * first rate cover more time than we think (3x on snmpd). This
         * reading moved (or the counters are really still): it is one. */
        point_set(&st->anchor, s);
        st->anchor_aligned = 1;
        out->status = RATE_GAP;
        out->gap = RATE_GAP_FIRST;
        out->in_bps = out->out_bps = out->interval = 0;
        return;
    }
    if (st->have_rate && span_ns < (double)min_span_ns) {
        /* Too short to measure well: the next rate covers this span too. */
        if (over_speed(s, st->last_in_bps, st->last_out_bps))
            return restart(st, s, RATE_GAP_OVER_SPEED, out);
        return hold_last(st, out);
    }
    in_bps = 8.0 * (double)counter_delta(s->in_octets, st->anchor.in_octets, s->width) *
             NS_PER_SEC / span_ns;
    out_bps = 8.0 * (double)counter_delta(s->out_octets, st->anchor.out_octets, s->width) *
              NS_PER_SEC / span_ns;
    if (over_speed(s, in_bps, out_bps))
        return restart(st, s, RATE_GAP_OVER_SPEED, out);

    point_set(&st->anchor, s);
    st->have_rate = 1;
    st->last_in_bps = in_bps;
    st->last_out_bps = out_bps;
    st->last_interval = span_ns / NS_PER_SEC;
    out->status = RATE_OK;
    out->gap = RATE_GAP_NONE;
    out->in_bps = in_bps;
    out->out_bps = out_bps;
    out->interval = st->last_interval;
}

const char *rate_gap_name(enum rate_gap gap)
{
    switch (gap) {
    case RATE_GAP_NONE:
        return "none";
    case RATE_GAP_FIRST:
        return "first";
    case RATE_GAP_COUNTER_RESET:
        return "counter_reset";
    case RATE_GAP_AGENT_RESTART:
        return "agent_restart";
    case RATE_GAP_OVER_SPEED:
        return "over_speed";
    case RATE_GAP_CLOCK_MISMATCH:
        return "clock_mismatch";
    case RATE_GAP_TIMEOUT:
        return "timeout";
    case RATE_GAP_NO_DATA:
        return "no_data";
    }
    return "unknown";
}
