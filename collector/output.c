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
/* A history list is trimmed back to redis.history entries every
 * history / TRIM_SLACK_DIV samples, TRIM_EVERY_MAX at most (and at an
 * interface's first sample): it holds up to 10% (and 9) more between
 * two trims. An LTRIM per sample was a third of the commands, and each
 * one memmoves the head of the list's first node: at 50,000 interfaces
 * that was a tenth or more of Redis' CPU (docs/BENCHMARKS.md). */
#define TRIM_SLACK_DIV 10
#define TRIM_EVERY_MAX 10

static void inventory_touch(struct output *out);

/* Whether sample number seq (1 for an interface's first) of an interface
 * whose phase is `phase` is one of every `every` (and the first). The
 * phase spreads the interfaces: discovered together, they would all trim
 * and all refresh their expiry in the same second, Redis' CPU for those
 * commands arriving at once every few seconds instead of evenly. */
static int every_nth(uint64_t seq, uint32_t phase, uint64_t every)
{
    return seq == 1 || (seq - 1 + phase) % every == 0;
}

/* Whether sample number seq trims the interface's list. */
static int trim_due(int history, uint64_t seq, uint32_t phase)
{
    uint64_t every = (uint64_t)(history / TRIM_SLACK_DIV);

    if (every < 1)
        every = 1;
    if (every > TRIM_EVERY_MAX)
        every = TRIM_EVERY_MAX;
    return every_nth(seq, phase, every);
}

struct output {
    uv_loop_t *loop;
    struct poller *poller;
    struct publisher *pub;
    struct events *events;
    uv_timer_t inventory_timer;
    uint64_t inventory_written_ms; /* loop time of the last write, 0 = never */
    int inventory_dirty;
    char *merged_inventory; /* collector.shared, the leader: the last written, without ts */
    char *merged_alerts;
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
    if (every_nth(ifc->msg.seq, ifc->msg.phase, EXPIRE_EVERY))
        expire =
            (int)(((int64_t)cfg->redis.history + 2 * EXPIRE_EVERY) * dev->cfg->interval_ms / 1000) +
            60;
    publisher_sample(out->pub, ifc->msg.channel, ifc->msg.channel_len, ifc->msg.history_key,
                     ifc->msg.history_key_len, out->buf, len,
                     trim_due(cfg->redis.history, ifc->msg.seq, ifc->msg.phase) ? cfg->redis.history
                                                                                : 0,
                     expire);
    /* The snapshot lists each interface's speed: it is known from the first
     * answer on, after discovery wrote the snapshot, and an agent may
     * change it (autonegotiation). */
    if (ifc->rd.speed_bps != ifc->msg.listed_speed_bps) {
        dev->part_dirty = 1;
        inventory_touch(out);
    }
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

    if (dev->status == DEVICE_UNKNOWN || !poller_device_held(dev))
        return;
    j = json_pack("{s:s, s:s, s:s, s:f, s:o, s:s}", "device", dev->cfg->name, "site",
                  dev->cfg->site, "status", status_name(dev->status), "ts", ts, "error",
                  dev->status == DEVICE_UP ? json_null() : json_string(dev->status_error),
                  "collector", collector_id(out));
    if (dev->lease_epoch)
        json_object_set_new(j, "epoch", json_integer((json_int_t)dev->lease_epoch));
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
    dev->part_dirty = 1;
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

/* A device's entry of the snapshot; collector is its holder's id (NULL:
 * none). */
static json_t *device_json(struct device *d, const char *collector)
{
    json_t *ifs = json_array(), *j;
    size_t k;

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
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:o, s:o, s:o, s:o}", "name", d->cfg->name,
                  "site", d->cfg->site, "channel", d->msg.channel, "events",
                  d->msg.events_channel, "status", status_name(d->status), "interval",
                  d->cfg->interval_ms / 1000.0, "counters", counters_json(d->cfg), "alerts",
                  alerts_json(&d->cfg->alerts), "collector",
                  collector ? json_string(collector) : json_null(), "interfaces", ifs);
    if (d->lease_epoch && collector)
        json_object_set_new(j, "epoch", json_integer((json_int_t)d->lease_epoch));
    return j;
}

/* The devices sorted by site, then name. */
static struct device **sorted_devices(struct output *out, size_t *n)
{
    struct device **devs = poller_devices(out->poller, n), **sorted;

    sorted = ifmon_xcalloc(*n ? *n : 1, sizeof(*sorted));
    memcpy(sorted, devs, *n * sizeof(*sorted));
    qsort(sorted, *n, sizeof(*sorted), cmp_device);
    return sorted;
}

static struct device **order_devs; /* sorted_order()'s, during its qsort */

static int cmp_index(const void *a, const void *b)
{
    struct device *x = order_devs[*(const size_t *)a], *y = order_devs[*(const size_t *)b];

    return cmp_device(&x, &y);
}

/* The indexes of devs (n) in the order of sorted_devices(). */
static size_t *sorted_order(struct device **devs, size_t n)
{
    size_t *order = ifmon_xcalloc(n ? n : 1, sizeof(*order)), i;

    for (i = 0; i < n; i++)
        order[i] = i;
    order_devs = devs;
    qsort(order, n, sizeof(*order), cmp_index);
    order_devs = NULL;
    return order;
}

/* The snapshot of docs/PROTOCOL.md "Inventory". */
static json_t *inventory_json(struct output *out)
{
    const struct config *cfg = poller_config(out->poller);
    size_t n, i;
    struct device **sorted = sorted_devices(out, &n);
    json_t *root, *sites = json_array(), *site = NULL, *site_devs = NULL;

    for (i = 0; i < n; i++) {
        struct device *d = sorted[i];

        if (site == NULL ||
            strcmp(json_string_value(json_object_get(site, "name")), d->cfg->site) != 0) {
            site_devs = json_array();
            site = json_pack("{s:s, s:o}", "name", d->cfg->site, "devices", site_devs);
            json_array_append_new(sites, site);
        }
        json_array_append_new(site_devs, device_json(d, collector_id(out)));
    }
    free(sorted);
    root = json_pack("{s:i, s:s, s:f, s:o}", "version", 1, "prefix", cfg->redis.prefix, "ts",
                     ifmon_wall_now(), "sites", sites);
    return root;
}

/* collector.shared: this collector's part of the snapshot, one entry per
 * device it holds (lease.h), and their weights. */
static void inventory_write_parts(struct output *out)
{
    const struct config *cfg = poller_config(out->poller);
    size_t n, i, nheld = 0, k = 0;
    struct device **devs = poller_devices(out->poller, &n);
    const char **argv;
    size_t *lens;
    char **texts, (*weights)[24];
    struct ifmon_key parts, wkey, version;
    int rc = ifmon_key_cluster(&parts, cfg->redis.prefix, "inventory", NULL) |
             ifmon_key_cluster(&wkey, cfg->redis.prefix, "weights", NULL) |
             ifmon_key_cluster(&version, cfg->redis.prefix, "version", NULL);

    IFMON_ASSERT(rc == 0);
    /* Only the entries that changed: a device's status or speed, or its
     * interfaces (each collector holds thousands of interfaces' worth). */
    for (i = 0; i < n; i++)
        nheld += poller_device_held(devs[i]) && devs[i]->part_dirty;
    if (nheld == 0)
        return;
    argv = ifmon_xcalloc(2 + 2 * nheld, sizeof(*argv));
    lens = ifmon_xcalloc(2 + 2 * nheld, sizeof(*lens));
    texts = ifmon_xcalloc(nheld, sizeof(*texts));
    weights = ifmon_xcalloc(nheld, sizeof(*weights));
    for (i = 0; i < n; i++) {
        json_t *j;
        char *text;
        size_t idlen = strlen(collector_id(out)), tlen;

        if (!poller_device_held(devs[i]) || !devs[i]->part_dirty)
            continue;
        devs[i]->part_dirty = 0;
        j = device_json(devs[i], collector_id(out));
        text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(13));
        json_decref(j);
        if (text == NULL)
            continue;
        tlen = strlen(text);
        texts[k] = ifmon_xmalloc(idlen + 1 + tlen);
        memcpy(texts[k], collector_id(out), idlen);
        texts[k][idlen] = '\n';
        memcpy(texts[k] + idlen + 1, text, tlen);
        free(text);
        argv[2 + 2 * k] = devs[i]->cfg->name;
        lens[2 + 2 * k] = strlen(devs[i]->cfg->name);
        argv[3 + 2 * k] = texts[k];
        lens[3 + 2 * k] = idlen + 1 + tlen;
        snprintf(weights[k], sizeof(weights[k]), "%zu", devs[i]->nifaces ? devs[i]->nifaces : 1);
        k++;
    }
    argv[0] = "HSET";
    lens[0] = 4;
    argv[1] = parts.s;
    lens[1] = parts.len;
    if (k > 0)
        publisher_command(out->pub, (int)(2 + 2 * k), argv, lens);
    /* The weights: the same devices, their interface counts. */
    argv[1] = wkey.s;
    lens[1] = wkey.len;
    for (i = 0; i < k; i++) {
        argv[3 + 2 * i] = weights[i];
        lens[3 + 2 * i] = strlen(weights[i]);
    }
    if (k > 0)
        publisher_command(out->pub, (int)(2 + 2 * k), argv, lens);
    argv[0] = "INCR";
    lens[0] = 4;
    argv[1] = version.s;
    lens[1] = version.len;
    publisher_command(out->pub, 2, argv, lens);
    for (i = 0; i < k; i++)
        free(texts[i]);
    free(texts);
    free(weights);
    free(argv);
    free(lens);
}

/* Append n bytes of s to the growing text *buf. */
static void text_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        *buf = ifmon_xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void text_str(char **buf, size_t *len, size_t *cap, const char *s)
{
    text_add(buf, len, cap, s, strlen(s));
}

static void text_json(char **buf, size_t *len, size_t *cap, json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(13));

    if (t)
        text_add(buf, len, cap, t, strlen(t));
    free(t);
    json_decref(j);
}

/* Write key (and publish its note) unless body is what *last holds;
 * body is the value after {"ts":...,. */
static void write_merged(struct output *out, const struct ifmon_key *key, char **last,
                         const char *body, size_t body_len, int publish)
{
    char head[48], *text;
    int hlen;

    if (*last && strcmp(*last, body) == 0)
        return;
    free(*last);
    *last = ifmon_xstrdup(body);
    hlen = snprintf(head, sizeof(head), "{\"ts\":%.3f,", ifmon_wall_now());
    IFMON_ASSERT(hlen > 0 && (size_t)hlen < sizeof(head));
    text = ifmon_xmalloc((size_t)hlen + body_len);
    memcpy(text, head, (size_t)hlen);
    memcpy(text + hlen, body, body_len);
    publisher_set(out->pub, key->s, key->len, text, (size_t)hlen + body_len);
    if (publish)
        publisher_publish(out->pub, key->s, key->len, head, (size_t)hlen - 1);
    free(text);
}

void output_merge_inventory(struct output *out, const char *const *parts, const size_t *lens,
                            const char *const *holders)
{
    const struct config *cfg = poller_config(out->poller);
    size_t n, i, len = 0, cap = 0, idx, *order;
    struct device **devs = poller_devices(out->poller, &n);
    const char *site = NULL;
    struct ifmon_key key;
    char *buf = NULL;
    int rc;

    if (!publisher_ready(out->pub))
        return;
    order = sorted_order(devs, n);
    text_str(&buf, &len, &cap, "\"version\":1,\"prefix\":");
    text_json(&buf, &len, &cap, json_string(cfg->redis.prefix));
    text_str(&buf, &len, &cap, ",\"sites\":[");
    for (i = 0; i < n; i++) {
        struct device *d = devs[order[i]];

        idx = order[i];
        if (site == NULL || strcmp(site, d->cfg->site) != 0) {
            text_str(&buf, &len, &cap, site ? "]},{\"name\":" : "{\"name\":");
            text_json(&buf, &len, &cap, json_string(d->cfg->site));
            text_str(&buf, &len, &cap, ",\"devices\":[");
            site = d->cfg->site;
        } else {
            text_str(&buf, &len, &cap, ",");
        }
        if (parts[idx]) {
            text_add(&buf, &len, &cap, parts[idx], lens[idx]);
        } else if (poller_device_held(d)) {
            /* Ours, its part not written yet. */
            text_json(&buf, &len, &cap, device_json(d, collector_id(out)));
        } else {
            /* Nobody's yet, or its new holder has not written its part. */
            json_t *j = device_json(d, holders[idx]);

            json_object_set_new(j, "status", json_string("unknown"));
            text_json(&buf, &len, &cap, j);
        }
    }
    text_str(&buf, &len, &cap, site ? "]}]}" : "]}");
    free(order);
    rc = ifmon_key_inventory(&key, cfg->redis.prefix);
    IFMON_ASSERT(rc == 0);
    write_merged(out, &key, &out->merged_inventory, buf, len, 1);
    free(buf);
}

void output_merge_alerts(struct output *out, const char *const *parts, const size_t *lens,
                         size_t n)
{
    size_t i, len = 0, cap = 0;
    struct ifmon_key key;
    char *buf = NULL;
    int rc;

    if (!publisher_ready(out->pub))
        return;
    text_str(&buf, &len, &cap, "\"alerts\":[");
    for (i = 0; i < n; i++) {
        if (i > 0)
            text_str(&buf, &len, &cap, ",");
        text_add(&buf, &len, &cap, parts[i], lens[i]);
    }
    text_str(&buf, &len, &cap, "]}");
    rc = ifmon_key_alerts(&key, poller_config(out->poller)->redis.prefix);
    IFMON_ASSERT(rc == 0);
    write_merged(out, &key, &out->merged_alerts, buf, len, 0);
    free(buf);
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
    if (cfg->collector.shared) {
        inventory_write_parts(out);
        out->inventory_dirty = 0;
        out->inventory_written_ms = uv_now(out->loop);
        return;
    }
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

/* Every device's entry is to be written again (collector.shared). */
static void parts_all_dirty(struct output *out)
{
    size_t n, i;
    struct device **devs = poller_devices(out->poller, &n);

    for (i = 0; i < n; i++)
        devs[i]->part_dirty = 1;
}

static void on_inventory(void *ctx)
{
    struct output *out = ctx;

    parts_all_dirty(out);
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
    parts_all_dirty(out);
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
    free(out->merged_inventory);
    free(out->merged_alerts);
    free(out->buf);
    free(out);
}
