/* alerts.c -- see alerts.h. */

#include "alerts.h"

#include <string.h>

#define OPER_UP 1 /* RFC 2863 ifOperStatus up(1) */

static const char *const kind_names[ALERT_KINDS] = {
    "utilization", "errors", "discards", "oper", "device",
};

const char *alerts_kind_name(enum alert_kind kind)
{
    return kind >= 0 && kind < ALERT_KINDS ? kind_names[kind] : "unknown";
}

int alert_track_update(struct alert_track *t, const struct config_threshold *th, int have,
                       double value, uint64_t span_start_ns, uint64_t now_ns, uint64_t slack_ns,
                       uint64_t *since_ns)
{
    uint64_t want;
    int over;

    if (!th->on) {
        int was = t->active;

        memset(t, 0, sizeof(*t));
        return was ? -1 : 0;
    }
    if (!have)
        return 0; /* a gap says nothing either way */
    over = value > th->above;
    if (over == t->active) {
        t->pending = 0; /* the contrary of a change: whatever was pending ends */
        return 0;
    }
    if (!t->pending) {
        t->pending = 1;
        t->pending_ns = span_start_ns;
    }
    want = (uint64_t)th->for_ms * 1000000u;
    if (now_ns - t->pending_ns + slack_ns < want)
        return 0;
    t->active = over;
    t->pending = 0;
    if (since_ns)
        *since_ns = t->pending_ns;
    return over ? 1 : -1;
}

/* The larger of in and out, and which it is. */
static double larger(double in, double out, const char **direction)
{
    *direction = out > in ? "out" : "in";
    return out > in ? out : in;
}

void alerts_iface_update(struct alerts_iface *a, const struct config_alerts *cfg,
                         const struct alert_input *in, uint64_t now_ns, alerts_emit_fn emit,
                         void *ctx)
{
    const struct config_threshold *th[ALERT_THRESHOLDS] = {&cfg->utilization, &cfg->errors,
                                                           &cfg->discards};
    const int have[ALERT_THRESHOLDS] = {in->have_utilization, in->have_errors, in->have_discards};
    const double vin[ALERT_THRESHOLDS] = {in->utilization_in, in->errors_in, in->discards_in};
    const double vout[ALERT_THRESHOLDS] = {in->utilization_out, in->errors_out, in->discards_out};
    uint64_t span = in->interval_s > 0 ? (uint64_t)(in->interval_s * 1e9) : 0;
    uint64_t slack = span / 4 < ALERTS_SLACK_NS ? span / 4 : ALERTS_SLACK_NS;
    int k;

    if (span > now_ns)
        span = now_ns;
    for (k = 0; k < ALERT_THRESHOLDS; k++) {
        struct alert_event ev = {.kind = (enum alert_kind)k, .threshold = th[k]};
        double value = larger(vin[k], vout[k], &ev.direction);
        int change = alert_track_update(&a->track[k], th[k], have[k], value, now_ns - span, now_ns,
                                        slack, &ev.since_ns);

        if (change == 0)
            continue;
        ev.raised = change > 0;
        ev.have_value = have[k];
        ev.value = have[k] ? value : 0;
        if (!ev.have_value)
            ev.direction = NULL;
        emit(ctx, &ev);
    }
    if (in->oper == 0 || in->oper == a->oper)
        return;
    /* Status changes: leaving up raises, coming back clears. An interface
     * first seen not up raises nothing (most are simply unused). */
    if (a->oper == OPER_UP && !a->oper_active) {
        struct alert_event ev = {.kind = ALERT_OPER, .raised = 1, .oper = in->oper};

        a->oper_active = 1;
        emit(ctx, &ev);
    } else if (in->oper == OPER_UP && a->oper_active) {
        struct alert_event ev = {.kind = ALERT_OPER, .raised = 0, .oper = in->oper};

        a->oper_active = 0;
        emit(ctx, &ev);
    }
    a->oper = in->oper;
}

void alerts_device_update(struct alerts_device *a, int down, alerts_emit_fn emit, void *ctx)
{
    struct alert_event ev = {.kind = ALERT_DEVICE, .raised = down};

    if (down == a->active)
        return;
    a->active = down;
    emit(ctx, &ev);
}
