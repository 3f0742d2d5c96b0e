/* rate.h -- per-interface bit rates from successive SNMP counter readings.
 *
 * Pure arithmetic, no I/O: the poller feeds one reading per interface per
 * response and gets back a rate, a held rate, or a gap with its reason. What
 * it guarantees (docs/PROTOCOL.md): never a negative rate, never NaN, never a
 * spike from a counter reset, never a made-up zero from an agent that serves
 * cached counters. */

#ifndef IFMON_COLLECTOR_RATE_H
#define IFMON_COLLECTOR_RATE_H

#include <stdint.h>

/* A rate above this share of the interface speed is a discontinuity. */
#define RATE_OVER_SPEED_FACTOR 1.2
/* The same for an interface whose speed is unknown: no interface carries
 * 100 Tb/s (the largest ports are 1.6 Tb/s, aggregates a few of them). */
#define RATE_MAX_BPS 1e14

/* The smallest span that is held for an agent serving cached counters. */
#define RATE_HOLD_MIN_NS 5000000000ULL

enum rate_status {
    RATE_OK = 0, /* a new rate over [anchor, now] */
    RATE_HELD,   /* counters did not move (cached answer): last rate repeated */
    RATE_GAP,    /* no rate for this reading, see enum rate_gap */
};

enum rate_gap {
    RATE_GAP_NONE = 0,
    RATE_GAP_FIRST,          /* nothing to compare with yet */
    RATE_GAP_COUNTER_RESET,  /* a Counter64 went backwards */
    RATE_GAP_AGENT_RESTART,  /* sysUpTime went backwards */
    RATE_GAP_OVER_SPEED,     /* above RATE_OVER_SPEED_FACTOR x speed, or RATE_MAX_BPS */
    RATE_GAP_CLOCK_MISMATCH, /* arrival delta and sysUpTime delta disagree */
    RATE_GAP_NO_DATA,        /* the agent returned no counter */
    RATE_GAP_TIMEOUT,        /* no answer to the poll (after retries) */
};

/* One reading of an interface, taken from one SNMP response. */
struct rate_sample {
    uint64_t in_octets; /* ifHCInOctets, or ifInOctets when width is 32 */
    uint64_t out_octets;
    int width;          /* counter width in bits: 32 or 64 */
    uint64_t mono_ns;   /* response arrival, CLOCK_MONOTONIC */
    uint32_t uptime;    /* sysUpTime in hundredths of a second */
    int have_uptime;    /* 0 when the response carried no sysUpTime */
    uint64_t speed_bps; /* 0 when unknown */
};

/* One counter reading kept for later comparisons. */
struct rate_point {
    uint64_t in_octets;
    uint64_t out_octets;
    uint64_t mono_ns;
    uint32_t uptime;
    int have_uptime;
};

struct rate_state {
    int have_prev;            /* prev and anchor are valid */
    int width;                /* counter width of prev */
    struct rate_point prev;   /* the last reading */
    struct rate_point anchor; /* start of the current span: the last reading
                               * at which the counters really moved */
    int anchor_aligned;       /* the anchor was read right after a refresh */
    int have_rate;            /* last_* are valid */
    double last_in_bps;
    double last_out_bps;
    double last_interval; /* seconds the last rate covers */
};

struct rate_result {
    enum rate_status status;
    enum rate_gap gap; /* RATE_GAP_NONE unless status is RATE_GAP */
    double in_bps;     /* valid for RATE_OK and RATE_HELD */
    double out_bps;
    double interval; /* seconds the rate covers */
};

/* Forget everything: the next reading is a RATE_GAP_FIRST. */
void rate_reset(struct rate_state *st);

/* 1 when the counters of `s` differ from the last reading. The caller ORs
 * this over every interface of one response to tell a fresh response from a
 * cached one (see rate_update's `response_moved`). */
int rate_moved(const struct rate_state *st, const struct rate_sample *s);

/* Account one reading and say what to publish for it.
 *
 * response_moved: whether any counter in the same SNMP response moved. When
 * none did, the agent answered from a cache (net-snmp's snmpd refreshes its
 * interface table every few seconds): the last rate is held and the span
 * keeps growing until the counters move, for at most hold_ns, after which
 * the interface is taken as really idle and a rate of 0 is computed.
 *
 * min_span_ns: a reading less than this after the start of the span (a
 * poll answered late by a retry, then the next one on time) holds the
 * last rate too, and the next rate covers both: over so short a span the
 * timing jitter would weigh several times more. 0 = no minimum; the
 * collector passes half the poll interval.
 *
 * Order of checks: agent restart (sysUpTime backwards), counter width
 * change, Counter64 backwards, clock mismatch, then the rate, then the
 * over-speed check. Every gap restarts the span at this reading. */
void rate_update(struct rate_state *st, const struct rate_sample *s, int response_moved,
                 uint64_t hold_ns, uint64_t min_span_ns, struct rate_result *out);

/* The hold span for a poll interval: max(RATE_HOLD_MIN_NS, 2.5 intervals). */
uint64_t rate_hold_ns(uint64_t interval_ns);

/* Short reason for messages ("first", "counter_reset", ...). */
const char *rate_gap_name(enum rate_gap gap);

#endif
