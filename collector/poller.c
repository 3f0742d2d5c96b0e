/* poller.c -- see poller.h. A device goes through PROBE (SNMPv3 only:
 * learn the agent's engineID, RFC 3414 4), DISCOVER (walk the interface
 * table, map the configured names to ifIndex) and then POLL on its
 * schedule: one GET per chunk of interfaces asking sysUpTime and, per
 * interface, the counters of counters.h. Answers become rates and leave
 * through the hooks. Re-discovery happens when the mapping may have
 * broken: the agent restarted, an ifIndex vanished, or the periodic
 * timer. A device that is slow or silent delays no other: each has its
 * own timer, and a tick that finds the last poll still in flight skips. */

#include "poller.h"

#include <stdlib.h>
#include <string.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "device.h"
#include "discovery.h"
#include "log.h"
#include "snmpv3.h"
#include "util.h"

#define LATE_BUCKETS 20000 /* 50 us buckets: 0 .. 1 s */
#define LATE_BUCKET_NS 50000
#define OPEN_RETRY_SLACK_NS 5000000 /* a tick this early still retries an open */

struct poller {
    uv_loop_t *loop;
    struct poller_hooks hooks;
    struct config *cfg;
    struct device **devices;
    size_t ndevices;
    struct ber_var *vars; /* the answer being read (poller_vars) */
    size_t vars_cap;
    uint64_t now_ns; /* arrival of the answer being processed */
    double now_wall; /* the same in Unix seconds; 0 when not set */
    /* stats */
    uint64_t polls, skipped, timeouts, samples, fenced;
    uint64_t generation; /* poller_apply() calls */
    uint64_t late_le[POLLER_LATE_LE_N]; /* since start: poller_stats */
    uint64_t late_total;
    uint64_t late_sum_ns;
    uint32_t late_hist[LATE_BUCKETS + 1];
    uint64_t late_count;
    uint64_t late_max_ns;
    uint64_t grid_origin_ns; /* collector.poll_grid's step 0; 0 until set */
};

static void device_tick(uv_timer_t *t);
static void device_start_phase(struct device *dev);
static void device_forget(struct device *dev);

/* -------------------------------------------------------------- status */

static double arrival_wall(const struct poller *p)
{
    return p->now_wall > 0 ? p->now_wall : ifmon_wall_now();
}

/* Set the published status and its reason; tells the hooks on a change. */
static void device_set_status(struct device *dev, enum device_status status, const char *error)
{
    struct poller *p = dev->poller;
    const char *err = status == DEVICE_UP || error == NULL ? "" : error;

    if (dev->status == status && strcmp(dev->status_error, err) == 0)
        return;
    if (status == DEVICE_DOWN)
        log_warn("device %s (%s): down: %s", dev->cfg->name, dev->cfg->address, err);
    else if (dev->status == DEVICE_DOWN)
        log_info("device %s (%s): up again", dev->cfg->name, dev->cfg->address);
    dev->status = status;
    if (err != dev->status_error)
        snprintf(dev->status_error, sizeof(dev->status_error), "%s", err);
    if (p->hooks.status && poller_device_held(dev))
        p->hooks.status(p->hooks.ctx, dev, arrival_wall(p));
}

/* --------------------------------------------------------------- polls */

/* counters_sample_fn of the poll: count the reading and hand it on. */
static void on_sample(void *ctx, struct device *dev, struct iface *ifc,
                      const struct rate_result *res)
{
    struct poller *p = ctx;

    /* Fencing: past the lease's time another collector may poll the
     * device; nothing of it leaves here any more. */
    if (!poller_device_held(dev)) {
        p->fenced++;
        return;
    }
    p->samples++;
    if (p->hooks.sample)
        p->hooks.sample(p->hooks.ctx, dev, ifc, res, arrival_wall(p));
}

static void publish_gap(struct device *dev, struct iface *ifc, enum rate_gap gap)
{
    struct rate_result res;

    counters_gap_result(dev, gap, &res);
    on_sample(dev->poller, dev, ifc, &res);
}

void poller_poll_answered(struct device *dev, struct chunk *ch, long errstat, long errindex,
                          const struct ber_var *vars, size_t n)
{
    struct poller *p = dev->poller;
    size_t i;

    if (errstat != SNMP_ERR_NOERROR) {
        dev->failures++;
        if (errstat == SNMP_ERR_TOOBIG && dev->max_varbinds > dev->layout.vars + 1) {
            dev->max_varbinds = (dev->max_varbinds + 1) / 2;
            log_info("device %s: agent says tooBig; asking %d varbinds per request", dev->cfg->name,
                     dev->max_varbinds);
            dev->replan = 1; /* once no request of this plan is in flight */
        } else if (errstat == SNMP_ERR_NOSUCHNAME) {
            /* SNMPv1: the agent lacks the packet or error counters (then
             * they are no longer asked), or an ifIndex vanished (an agent
             * says noSuchName at the first object of it asked, which may
             * be its error counters: the walk tells, and a changed
             * interface list asks every group again). */
            if (counters_agent_lacks(dev, ch, errindex))
                dev->replan = 1;
            dev->need_discovery = 1;
        }
        device_error(dev, "%s", snmp_errstring((int)errstat));
        if (!dev->closing && !dev->replan)
            for (i = ch->first; i < ch->first + ch->count; i++)
                publish_gap(dev, &dev->ifaces[i], RATE_GAP_NO_DATA);
        return;
    }
    counters_read(dev, ch, vars, n, p->now_ns, on_sample, p);
}

/* Still one message per interface per poll, an explicit gap. The rate
 * state is kept, so the next answer gives the average over the whole
 * outage. */
void poller_poll_failed(struct device *dev, struct chunk *ch, enum rate_gap gap)
{
    size_t i;

    if (dev->closing || dev->replan)
        return;
    for (i = ch->first; i < ch->first + ch->count; i++)
        publish_gap(dev, &dev->ifaces[i], gap);
}

static void poll_start(struct device *dev)
{
    if (dev->direct.on)
        direct_poll_start(dev);
    else
        session_poll_start(dev);
    if (dev->outstanding == 0)
        poller_phase_done(dev);
    else if (dev->direct.on)
        session_arm_timer(dev, (uint64_t)dev->cfg->timeout_ms + 1);
}

/* --------------------------------------------------------------- phases */

/* Begin the work the device needs now: engine probe, discovery or poll. */
static void device_start_phase(struct device *dev)
{
    dev->failures = 0;
    dev->answers = 0;
    if (dev->need_probe) {
        dev->phase = PHASE_PROBE;
        snmpv3_probe_start(dev);
    } else if (dev->need_discovery) {
        dev->phase = PHASE_DISCOVER;
        discovery_start(dev);
    } else {
        dev->phase = PHASE_POLL;
        poll_start(dev);
    }
}

void poller_phase_done(struct device *dev)
{
    enum device_phase phase = dev->phase;
    int ok = dev->failures == 0, any = dev->answers > 0;

    IFMON_ASSERT(dev->outstanding == 0);
    dev->phase = PHASE_IDLE;
    uv_timer_stop(&dev->sess.timer);
    if (dev->closing)
        return;
    if (dev->forget_pending) {
        device_forget(dev);
        return;
    }
    if (dev->replan) {
        dev->replan = 0;
        counters_replan(dev);
        device_plan_chunks(dev);
    }
    switch (phase) {
    case PHASE_PROBE:
        if (ok) {
            device_start_phase(dev); /* straight on to discovery */
            return;
        }
        device_set_status(dev, DEVICE_DOWN, dev->error);
        break;
    case PHASE_DISCOVER:
        if (ok) {
            discovery_apply(dev);
            device_set_status(dev, DEVICE_UP, NULL);
            if (dev->poll_after_walk) {
                /* Taken over: the first reading now, not an interval on. */
                dev->poll_after_walk = 0;
                discovery_free(dev);
                device_start_phase(dev);
                return;
            }
        } else {
            char why[sizeof(dev->error)];

            memcpy(why, dev->error, sizeof(why));
            device_error(dev, "discovery failed: %s", why);
            device_set_status(dev, DEVICE_DOWN, dev->error);
        }
        discovery_free(dev);
        break;
    case PHASE_POLL:
        if (any)
            device_set_status(dev, DEVICE_UP, NULL);
        else if (dev->nchunks > 0)
            device_set_status(dev, DEVICE_DOWN, dev->error);
        break;
    case PHASE_IDLE:
        break;
    }
}

/* ------------------------------------------------------------- schedule */

/* Arm the schedule timer for dev->due_ns. libuv timers have millisecond
 * resolution and epoll_wait(2) rounds its timeout up, so aiming at the
 * millisecond after due makes polls about a millisecond late; aiming at
 * the millisecond before makes them start within a millisecond of due,
 * sometimes a fraction early, which no agent can tell apart. */
static void device_arm_tick(struct device *dev)
{
    uint64_t now;

    uv_update_time(dev->poller->loop);
    now = uv_hrtime();
    uv_timer_start(&dev->tick, device_tick, dev->due_ns > now ? (dev->due_ns - now) / 1000000 : 0,
                   0);
}

const double poller_late_le[POLLER_LATE_LE_N] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0};

static void late_record(struct poller *p, uint64_t late_ns)
{
    uint64_t b = late_ns / LATE_BUCKET_NS;
    size_t i;

    for (i = 0; i < POLLER_LATE_LE_N; i++)
        p->late_le[i] += (double)late_ns <= poller_late_le[i] * 1e9;
    p->late_total++;
    p->late_sum_ns += late_ns;

    p->late_hist[b < LATE_BUCKETS ? b : LATE_BUCKETS]++;
    p->late_count++;
    if (late_ns > p->late_max_ns)
        p->late_max_ns = late_ns;
}

/* The next open of a device whose open failed: its interval, doubled for
 * each failure in a row, POLLER_OPEN_BACKOFF_MAX_MS at most (or the
 * interval when that is longer). */
static void device_backoff(struct device *dev)
{
    uint64_t cap = (uint64_t)POLLER_OPEN_BACKOFF_MAX_MS * 1000000u, delay = dev->interval_ns;
    unsigned i;

    if (cap < dev->interval_ns)
        cap = dev->interval_ns;
    for (i = 0; i < dev->open_failures && delay < cap; i++)
        delay *= 2;
    if (delay > cap)
        delay = cap;
    dev->open_failures++;
    dev->open_retry_ns = uv_hrtime() + delay;
    log_debug("device %s: open failed %u times in a row; next try in %.1f s", dev->cfg->name,
              dev->open_failures, (double)delay / 1e9);
}

void poller_session_failed(struct device *dev)
{
    if (dev->closing)
        return;
    device_backoff(dev);
    device_set_status(dev, DEVICE_DOWN, dev->error);
}

/* The schedule: fire at due_ns, then every interval. A tick that finds
 * the previous work still in flight skips this poll; no other device is
 * affected by a slow one. */
static void device_tick(uv_timer_t *t)
{
    struct device *dev = t->data;
    struct poller *p = dev->poller;
    uint64_t now = uv_hrtime(), next, late = now > dev->due_ns ? now - dev->due_ns : 0;

    next = dev->due_ns + dev->interval_ns;
    if (next <= now) /* fell behind by whole intervals: realign */
        next = now + dev->interval_ns - (now - dev->due_ns) % dev->interval_ns;
    dev->due_ns = next;
    device_arm_tick(dev);
    /* Another collector's (collector.shared), or our lease ran out. */
    if (!dev->owned)
        return;
    if (now >= dev->lease_until_ns) {
        p->fenced++;
        return;
    }
    late_record(p, late);

    if (session_is_open(dev)) {
        dev->open_failures = 0;
        /* A lookup moved the agent: reopen there before the next poll. */
        if (dev->phase == PHASE_IDLE && session_follow(dev) == SESSION_OPEN_FAILED) {
            poller_session_failed(dev);
            return;
        }
    }
    if (!session_is_open(dev)) {
        /* Waiting for a lookup or a key, or backing off: nothing to do.
         * Ticks come up to a millisecond early (device_arm_tick), hence
         * the few milliseconds of slack. */
        if (session_opening(dev) || now + OPEN_RETRY_SLACK_NS < dev->open_retry_ns)
            return;
        switch (session_open(dev)) {
        case SESSION_OPEN_FAILED:
            poller_session_failed(dev);
            return;
        case SESSION_OPEN_PENDING:
            return;
        case SESSION_OPEN_DONE:
            break;
        }
    }
    if (dev->phase != PHASE_IDLE) {
        dev->polls_skipped++;
        p->skipped++;
        return;
    }
    if (dev->cfg->rediscover_ms > 0) {
        uint64_t every = (uint64_t)dev->cfg->rediscover_ms * 1000000u;

        if (dev->discovered_ns && now - dev->discovered_ns >= every)
            dev->need_discovery = 1;
        /* Follow a changed DNS record, also for a device that never
         * answered (so never discovered) at the address it had. */
        if (now >= dev->sess.resolved_ns + every)
            session_refresh_address(dev);
    }
    dev->polls++;
    p->polls++;
    p->now_wall = 0;
    device_start_phase(dev);
}

/* ------------------------------------------------------------ lifecycle */

static void on_handle_closed(uv_handle_t *h)
{
    struct device *dev = h->data;

    if (--dev->open_handles > 0)
        return;
    device_free_ifaces(dev->ifaces, dev->nifaces);
    device_free_chunks(dev);
    discovery_free(dev);
    message_device_free(&dev->msg);
    free(dev->alert_text);
    free(dev);
}

/* Stop polling a device and free it once libuv has let go of it. */
static void device_close(struct device *dev)
{
    dev->closing = 1;
    uv_timer_stop(&dev->tick);
    session_close(dev, on_handle_closed);
    uv_close((uv_handle_t *)&dev->tick, on_handle_closed);
}

/* When a new device, the i-th of n, polls first. The devices spread evenly
 * over their interval by position, so a thousand never fire in the same
 * millisecond. With collector.poll_grid each is put back to the step of
 * the grid before its place, and the grid stays the first inventory's:
 * the devices of a step, those a reload adds too, start in the same loop
 * turn, their answers come back together and their samples leave in one
 * Redis write, one wake-up per step instead of one per device (half the
 * collector's CPU at 100 devices, docs/BENCHMARKS.md). A device whose
 * interval is a whole number of steps stays on the grid. */
static uint64_t device_first_due(struct poller *p, const struct config_device *c, size_t i,
                                 size_t n)
{
    uint64_t interval = (uint64_t)c->interval_ms * 1000000u, off = interval * i / n;
    uint64_t grid = (uint64_t)p->cfg->collector.poll_grid_ms * 1000000u, now = uv_hrtime(), due;

    if (grid == 0)
        return now + off;
    if (p->grid_origin_ns == 0)
        p->grid_origin_ns = now;
    due = p->grid_origin_ns + off - off % grid;
    if (due < now)
        due += (now - due + interval - 1) / interval * interval;
    return due;
}

static struct device *device_create(struct poller *p, const struct config_device *c,
                                    uint64_t due_ns)
{
    struct device *dev = ifmon_xcalloc(1, sizeof(*dev));

    dev->poller = p;
    dev->cfg = c;
    dev->need_discovery = 1;
    dev->max_varbinds = c->max_varbinds;
    dev->interval_ns = (uint64_t)c->interval_ms * 1000000u;
    dev->owned = !p->cfg->collector.shared;
    dev->lease_until_ns = dev->owned ? UINT64_MAX : 0;
    message_device_init(&dev->msg, p->cfg->redis.prefix, c);
    uv_timer_init(p->loop, &dev->tick);
    dev->tick.data = dev;
    dev->open_handles = 1;
    session_init(dev, p->loop);
    if (session_open(dev) == SESSION_OPEN_FAILED) {
        log_warn("device %s: %s (will retry)", c->name, dev->error);
        device_backoff(dev);
    }
    dev->due_ns = due_ns;
    device_arm_tick(dev);
    return dev;
}

/* ------------------------------------------------------------ ownership */

/* What a released device knew goes: its next owner, maybe this collector
 * again later, starts from a walk and a first reading. No request may be
 * in flight (the chunks go). */
static void device_forget(struct device *dev)
{
    IFMON_ASSERT(dev->phase == PHASE_IDLE);
    dev->forget_pending = 0;
    discovery_free(dev);
    device_free_ifaces(dev->ifaces, dev->nifaces);
    dev->ifaces = NULL;
    dev->nifaces = 0;
    device_free_chunks(dev);
    dev->need_discovery = 1;
    dev->discovered_ns = 0;
    dev->max_varbinds = dev->cfg->max_varbinds;
    dev->status = DEVICE_UNKNOWN;
    dev->status_error[0] = '\0';
    memset(&dev->alert, 0, sizeof(dev->alert));
    free(dev->alert_text);
    dev->alert_text = NULL;
    poller_inventory_changed(dev->poller);
}

int poller_device_held(const struct device *dev)
{
    return dev->owned &&
           (dev->lease_until_ns == UINT64_MAX || uv_hrtime() < dev->lease_until_ns);
}

void poller_hold(struct device *dev, uint64_t epoch, uint64_t until_ns)
{
    int fresh = !dev->owned || dev->lease_epoch != epoch;

    dev->lease_until_ns = until_ns;
    dev->lease_epoch = epoch;
    if (!fresh)
        return;
    dev->owned = 1;
    if (dev->phase != PHASE_IDLE) {
        /* The previous holding's requests end first; then a fresh start. */
        dev->forget_pending = 1;
    } else if (dev->nifaces > 0 || dev->status != DEVICE_UNKNOWN) {
        device_forget(dev);
    }
    /* Walk and read the counters now rather than at the next slot of the
     * schedule (the devices of a collector that died are without data
     * already); the schedule keeps its slot, so that the polls of devices
     * taken together stay spread over the interval. */
    dev->poll_after_walk = 1;
    if (dev->phase == PHASE_IDLE && session_is_open(dev)) {
        dev->poller->now_wall = 0;
        device_start_phase(dev);
    }
}

void poller_release(struct device *dev)
{
    if (!dev->owned)
        return;
    dev->owned = 0;
    dev->lease_until_ns = 0;
    if (dev->phase == PHASE_IDLE)
        device_forget(dev);
    else
        dev->forget_pending = 1;
}

/* ------------------------------------------------------------------ API */

struct poller *poller_create(uv_loop_t *loop, const struct poller_hooks *hooks)
{
    struct poller *p = ifmon_xcalloc(1, sizeof(*p));

    p->loop = loop;
    p->hooks = *hooks;
    return p;
}

void poller_apply(struct poller *p, struct config *cfg)
{
    struct device **next = ifmon_xcalloc(cfg->ndevices, sizeof(*next));
    size_t i, j, added = 0, kept = 0, removed = 0;
    int prefix_changed = p->cfg == NULL || strcmp(p->cfg->redis.prefix, cfg->redis.prefix) != 0;
    struct config *old = p->cfg;

    /* Keep what did not change; the old entries are re-pointed at the new
     * config before the old one is freed. */
    for (i = 0; i < cfg->ndevices; i++) {
        for (j = 0; !prefix_changed && j < p->ndevices; j++) {
            struct device *d = p->devices[j];

            if (d && strcmp(d->cfg->name, cfg->devices[i].name) == 0 &&
                config_device_equal(d->cfg, &cfg->devices[i])) {
                d->cfg = &cfg->devices[i];
                next[i] = d;
                /* A reload is also when an operator expects a changed
                 * DNS record to be followed, or a fixed one retried. */
                if (session_is_open(d)) {
                    session_refresh_address(d);
                } else {
                    d->open_failures = 0;
                    d->open_retry_ns = 0;
                }
                p->devices[j] = NULL;
                kept++;
                break;
            }
        }
    }
    for (j = 0; j < p->ndevices; j++)
        if (p->devices[j]) {
            device_close(p->devices[j]);
            removed++;
        }
    free(p->devices);
    p->cfg = cfg;
    for (i = 0; i < cfg->ndevices; i++) {
        if (next[i])
            continue;
        next[i] = device_create(p, &cfg->devices[i],
                                device_first_due(p, &cfg->devices[i], i, cfg->ndevices));
        added++;
    }
    p->devices = next;
    p->ndevices = cfg->ndevices;
    p->generation++;
    config_free(old);
    log_info("inventory %s: %zu devices (%zu new, %zu unchanged, %zu removed)", cfg->path,
             cfg->ndevices, added, kept, removed);
    poller_inventory_changed(p);
}

struct device **poller_devices(struct poller *p, size_t *count)
{
    *count = p->ndevices;
    return p->devices;
}

const struct config *poller_config(const struct poller *p)
{
    return p->cfg;
}

uint64_t poller_generation(const struct poller *p)
{
    return p->generation;
}

static double late_percentile(const struct poller *p, double q)
{
    uint64_t want = (uint64_t)(q * (double)p->late_count), seen = 0;
    size_t b;

    if (p->late_count == 0)
        return 0;
    for (b = 0; b <= LATE_BUCKETS; b++) {
        seen += p->late_hist[b];
        if (seen > want)
            return (double)(b * LATE_BUCKET_NS + LATE_BUCKET_NS / 2) / 1e6;
    }
    return (double)p->late_max_ns / 1e6;
}

void poller_stats(struct poller *p, struct poller_stats *out, int reset_window)
{
    memcpy(out->late_le, p->late_le, sizeof(out->late_le));
    out->late_total = p->late_total;
    out->late_sum_s = (double)p->late_sum_ns / 1e9;
    out->polls = p->polls;
    out->skipped = p->skipped;
    out->timeouts = p->timeouts;
    out->samples = p->samples;
    out->fenced = p->fenced;
    out->late_p50_ms = late_percentile(p, 0.50);
    out->late_p99_ms = late_percentile(p, 0.99);
    out->late_max_ms = (double)p->late_max_ns / 1e6;
    if (reset_window) {
        memset(p->late_hist, 0, sizeof(p->late_hist));
        p->late_count = 0;
        p->late_max_ns = 0;
    }
}

void poller_close(struct poller *p)
{
    size_t i;

    for (i = 0; i < p->ndevices; i++)
        device_close(p->devices[i]);
    p->ndevices = 0;
}

void poller_free(struct poller *p)
{
    if (p == NULL)
        return;
    free(p->devices);
    config_free(p->cfg);
    free(p->vars);
    direct_poll_cleanup();
    free(p);
}

/* ------------------------------------------- for the parts that do I/O */

void poller_mark_arrival(struct poller *p)
{
    poller_set_arrival(p, uv_hrtime(), ifmon_wall_now());
}

void poller_set_arrival(struct poller *p, uint64_t mono_ns, double wall)
{
    p->now_ns = mono_ns;
    p->now_wall = wall;
}

void poller_count_timeout(struct device *dev)
{
    dev->timeouts++;
    dev->poller->timeouts++;
}

struct ber_var *poller_vars(struct poller *p, size_t n)
{
    if (p->vars_cap < n) {
        p->vars = ifmon_xrealloc(p->vars, n * sizeof(*p->vars));
        p->vars_cap = n;
    }
    return p->vars;
}

void poller_inventory_changed(struct poller *p)
{
    if (p->hooks.inventory)
        p->hooks.inventory(p->hooks.ctx);
}
