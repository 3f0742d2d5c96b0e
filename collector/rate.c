/* rate.c -- see rate.h. Counter arithmetic follows RFC 2863: Counter32 and
 * Counter64 only ever increase and wrap at 2^32 or 2^64; a discontinuity
 * (re-initialisation of the agent) shows as sysUpTime going backwards
 * (RFC 3418) or, for a Counter64, as the counter going backwards, since a
 * 64-bit counter does not wrap in the lifetime of any interface.
 *
 * The span is the reading's: one anchor (the start of the span) for every
 * group, so that every rate of a message covers the same seconds. A group
 * keeps the values of its counters at that anchor (base) and at the last
 * reading (prev); a group that starts again (first seen, width changed,
 * counter reset, over speed, missing) has no base until the anchor next
 * moves, and gives a gap until then. */

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

/* ------------------------------------------------------------- groups */

static void set_gap(struct rate_group_result *r, enum rate_gap gap)
{
    r->status = RATE_GAP;
    r->gap = gap;
    r->in = r->out = 0;
}

static void take_prev(struct rate_group_state *gs, const struct rate_counters *c)
{
    memcpy(gs->prev_in, c->in, sizeof(gs->prev_in));
    memcpy(gs->prev_out, c->out, sizeof(gs->prev_out));
    gs->width = c->width;
    gs->seen = 1;
}

static void take_base(struct rate_group_state *gs, const struct rate_counters *c)
{
    memcpy(gs->base_in, c->in, sizeof(gs->base_in));
    memcpy(gs->base_out, c->out, sizeof(gs->base_out));
    gs->based = 1;
}

/* The group starts again at c: no rate until its counters have a value at
 * an anchor, and an anchor after it. */
static void group_begin(struct rate_group_state *gs, const struct rate_counters *c,
                        struct rate_group_result *r, enum rate_gap gap)
{
    memset(gs, 0, sizeof(*gs));
    take_prev(gs, c);
    set_gap(r, gap);
}

/* sysUpTime went backwards, beyond what its own 497-day wrap explains. */
static int uptime_went_back(uint32_t prev, uint32_t now)
{
    if (now >= prev)
        return 0;
    return !(prev > UINT32_MAX - UPTIME_WRAP_SLACK && now < UPTIME_WRAP_SLACK);
}

/* What the counters of one direction moved since `then`: each counter by
 * itself within its width, so that a Counter32 that wrapped counts what it
 * counted whatever the others did. */
static double delta(const uint64_t *now, const uint64_t *then, int terms, int width)
{
    double sum = 0;
    int k;

    for (k = 0; k < terms; k++)
        sum += width == 32 ? (double)(uint32_t)((uint32_t)now[k] - (uint32_t)then[k])
                           : (double)(now[k] - then[k]);
    return sum;
}

static int went_back(const uint64_t *now, const uint64_t *then, int terms)
{
    int k;

    for (k = 0; k < terms; k++)
        if (now[k] < then[k])
            return 1;
    return 0;
}

static int counters_differ(const struct rate_group_state *gs, const struct rate_counters *c)
{
    int k;

    for (k = 0; k < c->terms; k++)
        if (c->in[k] != gs->prev_in[k] || c->out[k] != gs->prev_out[k])
            return 1;
    return 0;
}

/* A rate no interface of this speed can carry: a counter discontinuity
 * (RFC 2863 ifCounterDiscontinuityTime) that looks like a wrap. Without a
 * known speed, no interface at all can carry it (over a very short span a
 * Counter64 jump would otherwise give any number, even past 2^64). */
static int over_speed(const struct rate_sample *s, const struct rate_counters *c, double in,
                      double out)
{
    double limit = rate_limit(c->unit, s->speed_bps);

    return in > limit || out > limit;
}

/* Repeat the group's last rates for this reading (RATE_HELD), or a `first`
 * gap when there are none yet; the span goes on. */
static void hold_last(const struct rate_group_state *gs, struct rate_group_result *r)
{
    if (!gs->have_rate) {
        set_gap(r, RATE_GAP_FIRST);
        return;
    }
    r->status = RATE_HELD;
    r->gap = RATE_GAP_NONE;
    r->in = gs->last_in;
    r->out = gs->last_out;
}

/* --------------------------------------------------------------- state */

/* Start a new span at `s` for every group and report a gap (groups absent
 * from s: no_data). */
static void restart(struct rate_state *st, const struct rate_sample *s, enum rate_gap gap,
                    struct rate_result *out)
{
    int g;

    st->have_prev = 1;
    st->prev_mono_ns = s->mono_ns;
    st->prev_uptime = s->uptime;
    st->prev_have_uptime = s->have_uptime;
    st->anchor_ns = s->mono_ns;
    st->anchor_aligned = 0;
    st->last_interval = 0;
    out->interval = 0;
    for (g = 0; g < RATE_GROUPS; g++) {
        const struct rate_counters *c = &s->group[g];

        memset(&st->group[g], 0, sizeof(st->group[g]));
        if (!c->present) {
            set_gap(&out->group[g], RATE_GAP_NO_DATA);
            continue;
        }
        take_prev(&st->group[g], c);
        take_base(&st->group[g], c);
        set_gap(&out->group[g], gap);
    }
}

void rate_reset(struct rate_state *st)
{
    memset(st, 0, sizeof(*st));
}

int rate_moved(const struct rate_state *st, const struct rate_sample *s)
{
    int g;

    if (!st->have_prev)
        return 1;
    for (g = 0; g < RATE_GROUPS; g++) {
        const struct rate_counters *c = &s->group[g];
        const struct rate_group_state *gs = &st->group[g];

        if (!c->present)
            continue;
        if (!gs->seen || gs->width != c->width || counters_differ(gs, c))
            return 1;
    }
    return 0;
}

uint64_t rate_hold_ns(uint64_t interval_ns)
{
    uint64_t hold = interval_ns * 5 / 2;

    return hold > RATE_HOLD_MIN_NS ? hold : RATE_HOLD_MIN_NS;
}

double rate_limit(enum rate_unit unit, uint64_t speed_bps)
{
    double bps = speed_bps > 0 ? (double)speed_bps * RATE_OVER_SPEED_FACTOR : RATE_MAX_BPS;

    return unit == RATE_UNIT_OCTETS ? bps : bps / RATE_MIN_PACKET_BITS;
}

/* The reading's timing, checked against the last one: 0, or the gap of
 * every group. */
static enum rate_gap timing_gap(const struct rate_state *st, const struct rate_sample *s)
{
    double dt_ns;

    if (!st->have_prev)
        return RATE_GAP_FIRST;
    if (s->have_uptime && st->prev_have_uptime && uptime_went_back(st->prev_uptime, s->uptime))
        return RATE_GAP_AGENT_RESTART;
    if (s->mono_ns <= st->prev_mono_ns)
        return RATE_GAP_CLOCK_MISMATCH;
    dt_ns = (double)(s->mono_ns - st->prev_mono_ns);
    if (s->have_uptime && st->prev_have_uptime) {
        double up_ns = (double)(uint32_t)(s->uptime - st->prev_uptime) * 1e7;
        double diff = up_ns > dt_ns ? up_ns - dt_ns : dt_ns - up_ns;

        if (diff > dt_ns * CLOCK_TOLERANCE_SHARE + CLOCK_TOLERANCE_NS)
            return RATE_GAP_CLOCK_MISMATCH;
    }
    return RATE_GAP_NONE;
}

/* Hold every continuing group's last rates (cached answer, or too short a
 * span), unless the interface meanwhile became slower than them. */
static void hold_groups(struct rate_state *st, const struct rate_sample *s, const int *cont,
                        struct rate_result *out)
{
    int g;

    for (g = 0; g < RATE_GROUPS; g++) {
        struct rate_group_state *gs = &st->group[g];
        const struct rate_counters *c = &s->group[g];

        if (!cont[g])
            continue;
        take_prev(gs, c);
        if (gs->have_rate && over_speed(s, c, gs->last_in, gs->last_out))
            group_begin(gs, c, &out->group[g], RATE_GAP_OVER_SPEED);
        else
            hold_last(gs, &out->group[g]);
        if (out->group[g].status == RATE_HELD)
            out->interval = st->last_interval;
    }
}

void rate_update(struct rate_state *st, const struct rate_sample *s, int response_moved,
                 uint64_t hold_ns, uint64_t min_span_ns, struct rate_result *out)
{
    enum rate_gap gap = timing_gap(st, s);
    int cont[RATE_GROUPS], g;
    double span_ns;

    memset(out, 0, sizeof(*out));
    if (gap != RATE_GAP_NONE)
        return restart(st, s, gap, out);
    st->prev_mono_ns = s->mono_ns;
    st->prev_uptime = s->uptime;
    st->prev_have_uptime = s->have_uptime;

    /* What each group's counters say against its last reading. */
    for (g = 0; g < RATE_GROUPS; g++) {
        const struct rate_counters *c = &s->group[g];
        struct rate_group_state *gs = &st->group[g];

        cont[g] = 0;
        if (!c->present) {
            memset(gs, 0, sizeof(*gs));
            set_gap(&out->group[g], RATE_GAP_NO_DATA);
        } else if (!gs->seen || gs->width != c->width) {
            group_begin(gs, c, &out->group[g], RATE_GAP_FIRST);
        } else if (c->width == 64 && (went_back(c->in, gs->prev_in, c->terms) ||
                                      went_back(c->out, gs->prev_out, c->terms))) {
            group_begin(gs, c, &out->group[g], RATE_GAP_COUNTER_RESET);
        } else {
            cont[g] = 1;
        }
    }

    span_ns = (double)(s->mono_ns - st->anchor_ns);
    if (!response_moved && span_ns < (double)hold_ns)
        return hold_groups(st, s, cont, out); /* a cached answer: the span goes on */

    if (!st->anchor_aligned) {
        /* The span must start at a reading taken right after the agent
         * refreshed its counters, or a cached first value would make the
         * first rate cover more time than we think (3x on snmpd). This
         * reading moved (or the counters are really still): it is one. */
        st->anchor_ns = s->mono_ns;
        st->anchor_aligned = 1;
        for (g = 0; g < RATE_GROUPS; g++) {
            if (!s->group[g].present)
                continue;
            take_prev(&st->group[g], &s->group[g]);
            take_base(&st->group[g], &s->group[g]);
            if (cont[g])
                set_gap(&out->group[g], RATE_GAP_FIRST);
        }
        return;
    }
    if (span_ns < (double)min_span_ns)
        return hold_groups(st, s, cont, out); /* the next rates cover this span too */

    for (g = 0; g < RATE_GROUPS; g++) {
        const struct rate_counters *c = &s->group[g];
        struct rate_group_state *gs = &st->group[g];
        struct rate_group_result *r = &out->group[g];
        double unit = c->unit == RATE_UNIT_OCTETS ? 8.0 : 1.0, in, outr;

        if (!cont[g])
            continue;
        if (!gs->based) {
            gs->have_rate = 0;
            set_gap(r, RATE_GAP_FIRST);
            continue;
        }
        in = unit * delta(c->in, gs->base_in, c->terms, c->width) * NS_PER_SEC / span_ns;
        outr = unit * delta(c->out, gs->base_out, c->terms, c->width) * NS_PER_SEC / span_ns;
        if (over_speed(s, c, in, outr)) {
            gs->have_rate = 0;
            set_gap(r, RATE_GAP_OVER_SPEED);
            continue;
        }
        gs->have_rate = 1;
        gs->last_in = in;
        gs->last_out = outr;
        r->status = RATE_OK;
        r->gap = RATE_GAP_NONE;
        r->in = in;
        r->out = outr;
        out->interval = span_ns / NS_PER_SEC;
    }
    /* The span moves on for every group read now: those that started
     * again have their first base here. */
    st->anchor_ns = s->mono_ns;
    st->last_interval = span_ns / NS_PER_SEC;
    for (g = 0; g < RATE_GROUPS; g++) {
        if (!s->group[g].present)
            continue;
        take_prev(&st->group[g], &s->group[g]);
        take_base(&st->group[g], &s->group[g]);
    }
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
    case RATE_GAP_NOT_POLLED:
        return "not_polled";
    }
    return "unknown";
}
