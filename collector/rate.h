/* rate.h -- per-interface rates from successive SNMP counter readings:
 * bits per second from the octet counters, packets per second from the
 * packet, error and discard counters.
 *
 * Pure arithmetic, no I/O: the poller feeds one reading per interface per
 * response and gets back, for each counter group, a rate, a held rate, or a
 * gap with its reason. What it guarantees (docs/PROTOCOL.md): never a
 * negative rate, never NaN, never a spike from a counter reset, never a
 * made-up zero from an agent that serves cached counters.
 *
 * A reading has up to RATE_GROUPS groups of counters, each an inbound and
 * an outbound rate, each the sum of up to RATE_TERMS counters (packets:
 * unicast + multicast + broadcast). What concerns the time (the agent
 * restarted, arrival and sysUpTime disagreeing, a cached answer, a span too
 * short) is decided once for the reading, so every group that has a rate
 * covers the same span; what concerns the counters (a Counter64 going
 * back, a Counter32 wrap, the width changing, a rate over the interface's
 * speed, counters missing from the answer) is decided per group, and a
 * gap of one group leaves the others their rates. */

#ifndef IFMON_COLLECTOR_RATE_H
#define IFMON_COLLECTOR_RATE_H

#include <stdint.h>

/* A rate above this share of the interface speed is a discontinuity. */
#define RATE_OVER_SPEED_FACTOR 1.2
/* The same for an interface whose speed is unknown: no interface carries
 * 100 Tb/s (the largest ports are 1.6 Tb/s, aggregates a few of them). */
#define RATE_MAX_BPS 1e14
/* The fewest bits a packet takes on a link, for the packet rates' bound:
 * 40 bytes, the smallest TCP/IPv4 packet (an Ethernet frame takes 84 with
 * its preamble and gap). A link of speed S carries at most S / 320 packets,
 * errors or discards per second. */
#define RATE_MIN_PACKET_BITS 320.0

/* The smallest span that is held for an agent serving cached counters. */
#define RATE_HOLD_MIN_NS 5000000000ULL

/* Counter groups of a reading, and counters summed per direction. */
#define RATE_GROUPS 4
#define RATE_TERMS 3

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
    RATE_GAP_NOT_POLLED,     /* the group is not polled (configuration); never from rate.c */
};

/* What a group counts: octets (its rates are bits per second, 8 x the
 * octet rate) or packets (errors and discards are packets too). */
enum rate_unit {
    RATE_UNIT_OCTETS = 0,
    RATE_UNIT_PACKETS,
};

/* One group of counters in one reading. */
struct rate_counters {
    int present;              /* the answer held every counter of the group */
    int width;                /* counter width in bits: 32 or 64 */
    int terms;                /* counters summed per direction, 1 .. RATE_TERMS */
    enum rate_unit unit;      /* the same in every reading of the group */
    uint64_t in[RATE_TERMS];  /* e.g. ifHCInOctets; or ifHCInUcastPkts, ifHCInMulticastPkts,
                               * ifHCInBroadcastPkts */
    uint64_t out[RATE_TERMS]; /* the outbound counters, in the same order */
};

/* One reading of an interface, taken from one SNMP response. */
struct rate_sample {
    struct rate_counters group[RATE_GROUPS]; /* a group never polled is never present */
    uint64_t mono_ns;                        /* response arrival, CLOCK_MONOTONIC */
    uint32_t uptime;                         /* sysUpTime in hundredths of a second */
    int have_uptime;                         /* 0 when the response carried no sysUpTime */
    uint64_t speed_bps;                      /* 0 when unknown */
};

/* A group's part of the state. */
struct rate_group_state {
    int seen;  /* prev_* hold the group at the last reading */
    int based; /* base_* hold the group at the anchor */
    int width; /* of prev_* */
    uint64_t prev_in[RATE_TERMS], prev_out[RATE_TERMS];
    uint64_t base_in[RATE_TERMS], base_out[RATE_TERMS];
    int have_rate; /* last_* are valid: computed at the last anchor */
    double last_in, last_out;
};

struct rate_state {
    int have_prev;         /* prev_* are valid */
    uint64_t prev_mono_ns; /* the last reading */
    uint32_t prev_uptime;
    int prev_have_uptime;
    uint64_t anchor_ns;   /* start of the current span: the last reading
                           * at which the counters really moved */
    int anchor_aligned;   /* the anchor was read right after a refresh */
    double last_interval; /* seconds the last rates cover */
    struct rate_group_state group[RATE_GROUPS];
};

/* A group's part of the result. */
struct rate_group_result {
    enum rate_status status;
    enum rate_gap gap; /* RATE_GAP_NONE unless status is RATE_GAP */
    double in;         /* valid for RATE_OK and RATE_HELD: bits/s (octets) or per second */
    double out;
};

struct rate_result {
    double interval; /* seconds every rate of the reading covers; 0 when every group is a gap */
    struct rate_group_result group[RATE_GROUPS];
};

/* Forget everything: the next reading is a RATE_GAP_FIRST. */
void rate_reset(struct rate_state *st);

/* 1 when the counters of `s` differ from the last reading. The caller ORs
 * this over every interface of one response to tell a fresh response from a
 * cached one (see rate_update's `response_moved`). */
int rate_moved(const struct rate_state *st, const struct rate_sample *s);

/* Account one reading and say what to publish for it, group by group (a
 * group not present in `s` is a RATE_GAP_NO_DATA, and starts again).
 *
 * response_moved: whether any counter in the same SNMP response moved. When
 * none did, the agent answered from a cache (net-snmp's snmpd refreshes its
 * interface table every few seconds): the last rates are held and the span
 * keeps growing until the counters move, for at most hold_ns, after which
 * the interface is taken as really idle and rates of 0 are computed.
 *
 * min_span_ns: a reading less than this after the start of the span (a
 * poll answered late by a retry, then the next one on time) holds the
 * last rates too, and the next rates cover both: over so short a span the
 * timing jitter would weigh several times more. 0 = no minimum; the
 * collector passes half the poll interval.
 *
 * Order of checks: agent restart (sysUpTime backwards), clock mismatch
 * (for every group); then per group counter width change, Counter64
 * backwards; then the rates, then the over-speed check per group. A gap of
 * the whole reading restarts the span at this reading; a group's own gap
 * makes it start again at the next span. */
void rate_update(struct rate_state *st, const struct rate_sample *s, int response_moved,
                 uint64_t hold_ns, uint64_t min_span_ns, struct rate_result *out);

/* The hold span for a poll interval: max(RATE_HOLD_MIN_NS, 2.5 intervals). */
uint64_t rate_hold_ns(uint64_t interval_ns);

/* The highest rate a group of `unit` can have on an interface of speed_bps
 * (0 = unknown): above it a rate is a discontinuity (RATE_GAP_OVER_SPEED). */
double rate_limit(enum rate_unit unit, uint64_t speed_bps);

/* Short reason for messages ("first", "counter_reset", ...). */
const char *rate_gap_name(enum rate_gap gap);

#endif
