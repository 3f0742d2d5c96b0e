/* output.c -- see output.h. Samples are formatted by message.c into one
 * reused buffer; the inventory snapshot and device states (rare,
 * structured) are built with jansson. Each sample and each device status
 * is also handed to alerts.c, whose changes events.c publishes. Every key
 * and channel name comes from common/keys.h. */

#include "output.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alerts.h"
#include "device.h"
#include "events.h"
#include "keys.h"
#include "log.h"
#include "poller.h"
#include "publisher.h"
#include "util.h"

#define INVENTORY_MIN_GAP_MS 1000
#define INVENTORY_FIRST_DELAY_MS 100
#define EXPIRE_EVERY 60 /* samples between two EXPIREs of a history list */

static void inventory_touch(struct output *out);

struct output {
    uv_loop_t *loop;
    struct poller *poller;
    struct publisher *pub;
    struct events *events;
    uv_timer_t inventory_timer;
    uint64_t inventory_written_ms; /* loop time of the last write, 0 = never */
    int inventory_dirty;
    char *buf;
    size_t cap;
};

/* Where alerts.c's changes go: the object they are about. */
struct emit_ctx {
    struct output *out;
    struct device *dev;
    struct iface *ifc; /* NULL for the device's own alert */
    double ts;
    uint64_t now_ns;
};

static void on_alert(void *ctx, const struct alert_event *ev)
{
    struct emit_ctx *c = ctx;

    events_emit(c->out->events, c->dev, c->ifc, ev, c->ts, c->now_ns);
}

/* What a sample says about the thresholds of `alerts:`. */
static void feed_alerts(struct output *out, struct device *dev, struct iface *ifc,
                        const struct rate_result *res, double ts)
{
    const struct rate_group_result *octets = &res->group[COUNTERS_OCTETS];
    const struct rate_group_result *errors = &res->group[COUNTERS_ERRORS];
    const struct rate_group_result *discards = &res->group[COUNTERS_DISCARDS];
    struct emit_ctx ctx = {out, dev, ifc, ts, uv_hrtime()};
    struct alert_input in = {.interval_s = res->interval, .oper = ifc->rd.oper};

    if (octets->status != RATE_GAP && ifc->rd.speed_bps) {
        in.have_utilization = 1;
        in.utilization_in = 100.0 * octets->in / (double)ifc->rd.speed_bps;
        in.utilization_out = 100.0 * octets->out / (double)ifc->rd.speed_bps;
    }
    if (errors->status != RATE_GAP) {
        in.have_errors = 1;
        in.errors_in = errors->in;
        in.errors_out = errors->out;
    }
    if (discards->status != RATE_GAP) {
        in.have_discards = 1;
        in.discards_in = discards->in;
        in.discards_out = discards->out;
    }
    alerts_iface_update(&ifc->alert, &dev->cfg->alerts, &in, ctx.now_ns, on_alert, &ctx);
}

static void on_sample(void *ctx, struct device *dev, struct iface *ifc,
                      const struct rate_result *res, double ts)
{
    struct output *out = ctx;
    const struct config *cfg = poller_config(out->poller);
    size_t need = ifc->msg.json_head_len + MESSAGE_NUMBERS_MAX, len;
    int expire = 0;

    if (need > out->cap) {
        out->cap = need * 2;
        out->buf = ifmon_xrealloc(out->buf, out->cap);
    }
    ifc->msg.seq++;
    len = message_format_sample(out->buf, out->cap, ifc, res, ts);
    if (ifc->msg.seq % EXPIRE_EVERY == 1)
        expire =
            (int)(((int64_t)cfg->redis.history + 2 * EXPIRE_EVERY) * dev->cfg->interval_ms / 1000) +
            60;
    publisher_sample(out->pub, ifc->msg.channel, ifc->msg.channel_len, ifc->msg.history_key,
                     ifc->msg.history_key_len, out->buf, len, cfg->redis.history, expire);
    /* The snapshot lists each interface's speed: it is known from the first
     * answer on, after discovery wrote the snapshot, and an agent may
     * change it (autonegotiation). */
    if (ifc->rd.speed_bps != ifc->msg.listed_speed_bps)
        inventory_touch(out);
    feed_alerts(out, dev, ifc, res, ts);
}

static const char *status_name(enum device_status s)
{
    return s == DEVICE_UP ? "up" : s == DEVICE_DOWN ? "down" : "unknown";
}

/* collector.id: who publishes (docs/PROTOCOL.md part 1). */
static const char *collector_id(const struct output *out)
{
    const char *id = poller_config(out->poller)->collector.id;

    return id ? id : "";
}

static void publish_status(struct output *out, struct device *dev, double ts)
{
    json_t *j;
    char *text;

    if (dev->status == DEVICE_UNKNOWN)
        return;
    j = json_pack("{s:s, s:s, s:s, s:f, s:o, s:s}", "device", dev->cfg->name, "site",
                  dev->cfg->site, "status", status_name(dev->status), "ts", ts, "error",
                  dev->status == DEVICE_UP ? json_null() : json_string(dev->status_error),
                  "collector", collector_id(out));
    text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(13));
    if (text)
        publisher_publish(out->pub, dev->msg.channel, dev->msg.channel_len, text, strlen(text));
    free(text);
    json_decref(j);
}

static void on_status(void *ctx, struct device *dev, double ts)
{
    struct output *out = ctx;
    struct emit_ctx ec = {out, dev, NULL, ts, uv_hrtime()};

    publish_status(out, dev, ts);
    inventory_touch(out); /* the snapshot carries each device's status too */
    if (dev->status != DEVICE_UNKNOWN)
        alerts_device_update(&dev->alert, dev->status == DEVICE_DOWN, on_alert, &ec);
}

static int cmp_device(const void *a, const void *b)
{
    const struct device *x = *(struct device *const *)a, *y = *(struct device *const *)b;
    int c = strcmp(x->cfg->site, y->cfg->site);

    return c ? c : strcmp(x->cfg->name, y->cfg->name);
}

/* ["octets", "packets", "errors"]: the groups the device polls. */
static json_t *counters_json(const struct config_device *c)
{
    json_t *a = json_array();

    json_array_append_new(a, json_string("octets"));
    if (c->counters & CONFIG_COUNTERS_PACKETS)
        json_array_append_new(a, json_string("packets"));
    if (c->counters & CONFIG_COUNTERS_ERRORS)
        json_array_append_new(a, json_string("errors"));
    return a;
}

/* {"utilization":{"above":90,"for":10},...}: the thresholds set. */
static json_t *alerts_json(const struct config_alerts *a)
{
    const struct config_threshold *th[ALERT_THRESHOLDS] = {&a->utilization, &a->errors,
                                                           &a->discards};
    json_t *j = json_object();
    int k;

    for (k = 0; k < ALERT_THRESHOLDS; k++)
        if (th[k]->on)
            json_object_set_new(
                j, alerts_kind_name((enum alert_kind)k),
                json_pack("{s:f, s:f}", "above", th[k]->above, "for", th[k]->for_ms / 1000.0));
    return j;
}

/* The snapshot of docs/PROTOCOL.md "Inventory". */
static json_t *inventory_json(struct output *out)
{
    const struct config *cfg = poller_config(out->poller);
    size_t n, i, k;
    struct device **devs = poller_devices(out->poller, &n), **sorted;
    json_t *root, *sites = json_array(), *site = NULL, *site_devs = NULL;

    sorted = ifmon_xcalloc(n, sizeof(*sorted));
    memcpy(sorted, devs, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_device);
    for (i = 0; i < n; i++) {
        struct device *d = sorted[i];
        json_t *ifs = json_array();

        if (site == NULL ||
            strcmp(json_string_value(json_object_get(site, "name")), d->cfg->site) != 0) {
            site_devs = json_array();
            site = json_pack("{s:s, s:o}", "name", d->cfg->site, "devices", site_devs);
            json_array_append_new(sites, site);
        }
        for (k = 0; k < d->nifaces; k++) {
            struct iface *f = &d->ifaces[k];
            json_t *jf = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:b}", "name", f->name, "descr",
                                   f->descr, "alias", f->alias, "ifindex", (json_int_t)f->ifindex,
                                   "channel", f->msg.channel, "history", f->msg.history_key,
                                   "site_total", f->site_total);

            f->msg.listed_speed_bps = f->rd.speed_bps;
            /* Names are UTF-8 (discovery.c); jansson refusing one anyway
             * leaves the interface out rather than the whole snapshot. */
            if (jf == NULL)
                continue;
            json_object_set_new(jf, "speed_bps",
                                f->rd.speed_bps ? json_integer((json_int_t)f->rd.speed_bps)
                                                : json_null());
            json_array_append_new(ifs, jf);
        }
        json_array_append_new(
            site_devs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:s, s:o}", "name",
                                 d->cfg->name, "site", d->cfg->site, "channel", d->msg.channel,
                                 "events", d->msg.events_channel, "status", status_name(d->status),
                                 "interval", d->cfg->interval_ms / 1000.0, "counters",
                                 counters_json(d->cfg), "alerts", alerts_json(&d->cfg->alerts),
                                 "collector", collector_id(out), "interfaces", ifs));
    }
    free(sorted);
    root = json_pack("{s:i, s:s, s:f, s:o}", "version", 1, "prefix", cfg->redis.prefix, "ts",
                     ifmon_wall_now(), "sites", sites);
    return root;
}

static void inventory_write(struct output *out)
{
    const struct config *cfg = poller_config(out->poller);
    json_t *j;
    struct ifmon_key key;
    char *text, note[64];
    int nlen, rc;

    if (!publisher_ready(out->pub))
        return; /* rewritten on connection */
    j = inventory_json(out);
    text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(13));
    json_decref(j);
    if (text == NULL)
        return;
    /* The loader's limit on the prefix makes the key always fit. */
    rc = ifmon_key_inventory(&key, cfg->redis.prefix);
    IFMON_ASSERT(rc == 0);
    nlen = snprintf(note, sizeof(note), "{\"ts\":%.3f}", ifmon_wall_now());
    IFMON_ASSERT(nlen > 0 && (size_t)nlen < sizeof(note));
    publisher_set(out->pub, key.s, key.len, text, strlen(text));
    publisher_publish(out->pub, key.s, key.len, note, (size_t)nlen);
    free(text);
    out->inventory_dirty = 0;
    out->inventory_written_ms = uv_now(out->loop);
}

static void on_inventory_timer(uv_timer_t *t)
{
    struct output *out = t->data;

    if (out->inventory_dirty)
        inventory_write(out);
}

/* Mark the snapshot stale; it is written soon, at most once a second. */
static void inventory_touch(struct output *out)
{
    uint64_t now, due;

    out->inventory_dirty = 1;
    if (uv_is_active((uv_handle_t *)&out->inventory_timer))
        return;
    now = uv_now(out->loop);
    due = out->inventory_written_ms ? out->inventory_written_ms + INVENTORY_MIN_GAP_MS
                                    : now + INVENTORY_FIRST_DELAY_MS;
    uv_timer_start(&out->inventory_timer, on_inventory_timer, due > now ? due - now : 0, 0);
}

static void on_inventory(void *ctx)
{
    struct output *out = ctx;

    inventory_touch(out);
    events_active_changed(out->events); /* what is gone leaves the active set */
}

struct output *output_create(uv_loop_t *loop)
{
    struct output *out = ifmon_xcalloc(1, sizeof(*out));

    out->loop = loop;
    out->events = events_create(loop);
    uv_timer_init(loop, &out->inventory_timer);
    out->inventory_timer.data = out;
    return out;
}

void output_attach(struct output *out, struct poller *poller, struct publisher *pub)
{
    out->poller = poller;
    out->pub = pub;
    events_attach(out->events, poller, pub);
}

void output_poller_hooks(struct output *out, struct poller_hooks *h)
{
    h->ctx = out;
    h->sample = on_sample;
    h->status = on_status;
    h->inventory = on_inventory;
}

void output_on_redis_connected(void *ctx)
{
    struct output *out = ctx;
    size_t n, i;
    struct device **devs;

    if (out->poller == NULL)
        return;
    devs = poller_devices(out->poller, &n);
    for (i = 0; i < n; i++)
        publish_status(out, devs[i], ifmon_wall_now());
    inventory_write(out);
    events_on_redis_connected(out->events);
}

void output_close(struct output *out)
{
    uv_timer_stop(&out->inventory_timer);
    uv_close((uv_handle_t *)&out->inventory_timer, NULL);
    events_close(out->events);
}

void output_free(struct output *out)
{
    if (out == NULL)
        return;
    events_free(out->events);
    free(out->buf);
    free(out);
}
