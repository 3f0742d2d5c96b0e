/* alerts.h -- when an alert is raised and when it clears: the thresholds
 * of `alerts:` with their hysteresis, interface status changes and device
 * down/up (docs/PROTOCOL.md part 1, "Events").
 *
 * Pure logic on numbers and clocks, no I/O and no formatting
 * (tests/unit/test_alerts.c): output.c feeds it each sample and each
 * device status, and events.c publishes what it reports.
 *
 * A threshold is raised when its value has stayed above `above` for `for`,
 * and cleared when it has stayed at or below it for `for` again: a value
 * hovering at the threshold, now over, now under, neither raises nor
 * clears. "Stayed" is measured on the rates themselves: a rate covers the
 * span between two readings, so a condition starts at the start of the
 * span of the first rate that shows it, and holds as long as no rate shows
 * the contrary. A sample without a value (a gap: timeout, counter reset)
 * neither confirms nor breaks a condition. */

#ifndef IFMON_COLLECTOR_ALERTS_H
#define IFMON_COLLECTOR_ALERTS_H

#include <stdint.h>

#include "config.h"

/* Arrival times jitter (the network, the agent, the loop): a condition
 * that held for `for` less this much, or a quarter of the poll interval
 * when that is less, has held for `for` (at 1 s polls and for: 10s, the
 * tenth rate above raises, not the eleventh). */
#define ALERTS_SLACK_NS 250000000ULL

enum alert_kind {
    ALERT_UTILIZATION = 0, /* percent of speed_bps, in or out */
    ALERT_ERRORS,          /* errors per second, in or out */
    ALERT_DISCARDS,        /* discards per second, in or out */
    ALERT_OPER,            /* the interface left ifOperStatus up(1) */
    ALERT_DEVICE,          /* the device is down */
    ALERT_KINDS,
};

/* The thresholds, by kind (ALERT_UTILIZATION .. ALERT_DISCARDS). */
#define ALERT_THRESHOLDS 3

/* One threshold's state. */
struct alert_track {
    int active;          /* raised, not cleared */
    int pending;         /* values have been on the other side since pending_ns */
    uint64_t pending_ns; /* start of the span of the first of them */
};

/* An interface's alert state (a part of struct iface, device.h). */
struct alerts_iface {
    struct alert_track track[ALERT_THRESHOLDS];
    int oper;        /* the last ifOperStatus seen, 0 before any */
    int oper_active; /* raised: it left up(1) and has not come back */
};

/* A device's alert state (a part of struct device). */
struct alerts_device {
    int active; /* down, raised */
};

/* What one sample says, as alerts need it. */
struct alert_input {
    double interval_s; /* seconds the rates cover */
    int have_utilization;
    double utilization_in, utilization_out; /* percent of the speed */
    int have_errors;
    double errors_in, errors_out; /* per second */
    int have_discards;
    double discards_in, discards_out;
    int oper; /* RFC 2863 ifOperStatus, 0 when unknown */
};

/* A change to publish: valid during the call only. */
struct alert_event {
    enum alert_kind kind;
    int raised;            /* 1 raised, 0 cleared */
    int have_value;        /* value is known (a threshold turned off clears without one) */
    double value;          /* the larger of in and out (thresholds) */
    const char *direction; /* "in" or "out": which one value is (thresholds), else NULL */
    const struct config_threshold *threshold; /* thresholds: the one applied, else NULL */
    uint64_t since_ns; /* thresholds: start of the condition that ended in this change */
    int oper;          /* ALERT_OPER: the status now */
};

typedef void (*alerts_emit_fn)(void *ctx, const struct alert_event *ev);

/* One threshold: account a value (have: whether the sample has one) whose
 * rate covers [span_start_ns, now_ns]. Returns 1 when the alert is raised
 * now, -1 when it clears now, 0 otherwise; *since_ns (if not NULL) then
 * gets the start of the condition. A threshold that is off clears an
 * active alert at once. */
int alert_track_update(struct alert_track *t, const struct config_threshold *th, int have,
                       double value, uint64_t span_start_ns, uint64_t now_ns, uint64_t slack_ns,
                       uint64_t *since_ns);

/* Account one sample of an interface at now_ns (uv_hrtime() clock): each
 * threshold of cfg, then the status; emit is called for each change, in
 * enum alert_kind order. */
void alerts_iface_update(struct alerts_iface *a, const struct config_alerts *cfg,
                         const struct alert_input *in, uint64_t now_ns, alerts_emit_fn emit,
                         void *ctx);

/* Account a device's status: down raises, up clears (once each). */
void alerts_device_update(struct alerts_device *a, int down, alerts_emit_fn emit, void *ctx);

/* "utilization", "errors", "discards", "oper", "device". */
const char *alerts_kind_name(enum alert_kind kind);

#endif
