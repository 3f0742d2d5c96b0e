/* events.c -- see events.h. Events are rare (a change of state, not a
 * sample), so they are built with jansson and written with their replies.
 *
 * The recent events are a ring in memory, the same entries as the list in
 * Redis, oldest first: an event is pushed to both; the oldest leave both
 * (LTRIM) when they pass EVENTS_MAX_AGE_S or EVENTS_KEEP; after a
 * reconnection the list is replaced by the ring. Until the list a previous
 * run left has been read back (`loaded`), nothing but the count bounds the
 * list: its older entries are not known yet. */

#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "device.h"
#include "keys.h"
#include "log.h"
#include "message.h"
#include "poller.h"
#include "publisher.h"
#include "util.h"

/* One event of the ring. */
struct event_entry {
    char *text;
    size_t len;
    double ts;
};

struct events {
    uv_loop_t *loop;
    struct poller *poller;
    struct publisher *pub;
    struct event_entry ring[EVENTS_KEEP];
    size_t first, count; /* oldest entry, and how many */
    uint64_t seq;        /* events published since start */
    int loaded;          /* the list of a previous run has been read back */
    int reading;         /* ... is being read */
    int active_dirty;    /* the active set is to be written */
    uv_timer_t active_timer;
    uv_timer_t prune_timer;
};

/* ----------------------------------------------------------------- ring */

static struct event_entry *ring_at(struct events *e, size_t i)
{
    return &e->ring[(e->first + i) % EVENTS_KEEP];
}

static void ring_drop_oldest(struct events *e)
{
    struct event_entry *x = ring_at(e, 0);

    free(x->text);
    x->text = NULL;
    e->first = (e->first + 1) % EVENTS_KEEP;
    e->count--;
}

/* Append (the ring takes text). */
static void ring_push(struct events *e, char *text, size_t len, double ts)
{
    struct event_entry *x;

    if (e->count == EVENTS_KEEP)
        ring_drop_oldest(e);
    x = ring_at(e, e->count++);
    x->text = text;
    x->len = len;
    x->ts = ts;
}

/* Drop the events older than EVENTS_MAX_AGE_S; how many. */
static size_t ring_prune(struct events *e, double now)
{
    size_t n = 0;

    while (e->count > 0 && ring_at(e, 0)->ts < now - EVENTS_MAX_AGE_S) {
        ring_drop_oldest(e);
        n++;
    }
    return n;
}

/* Replace the list in Redis by the ring. */
static void list_write(struct events *e)
{
    const char *prefix = poller_config(e->poller)->redis.prefix;
    struct ifmon_key key, tmp;
    const char **items = ifmon_xcalloc(e->count, sizeof(*items));
    size_t *lens = ifmon_xcalloc(e->count, sizeof(*lens)), i;
    int rc = ifmon_key_event_log(&key, prefix) | ifmon_key_event_log_rebuild(&tmp, prefix);

    IFMON_ASSERT(rc == 0); /* the loader's limit on the prefix */
    for (i = 0; i < e->count; i++) {
        items[i] = ring_at(e, i)->text;
        lens[i] = ring_at(e, i)->len;
    }
    publisher_list_replace(e->pub, key.s, key.len, tmp.s, tmp.len, items, lens, e->count);
    free(items);
    free(lens);
}

static void prune(struct events *e)
{
    struct ifmon_key key;
    int rc;

    /* collector.shared: the list is everyone's; the member that merges
     * prunes it by age (lease.c). */
    if (ring_prune(e, ifmon_wall_now()) == 0 || !e->loaded ||
        poller_config(e->poller)->collector.shared)
        return;
    rc = ifmon_key_event_log(&key, poller_config(e->poller)->redis.prefix);
    IFMON_ASSERT(rc == 0);
    publisher_trim(e->pub, key.s, key.len, (int)e->count);
}

static void on_prune_timer(uv_timer_t *t)
{
    prune(t->data);
}

/* ----------------------------------------------------------- active set */

/* Append s (len bytes) to the growing text *buf (*len used, *cap room). */
static void text_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        *buf = ifmon_xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
}

static void active_write_part(struct events *e, const char *text, size_t len);

/* {"ts":...,"alerts":[<the raised event of each active alert>...]}, in the
 * order of the inventory file, each device's own alert first, then its
 * interfaces by ifIndex. */
static void active_write(struct events *e)
{
    const char *prefix = poller_config(e->poller)->redis.prefix;
    struct device **devs;
    struct ifmon_key key;
    char head[64], *buf = NULL;
    size_t n, i, k, len = 0, cap = 0, count = 0;
    int rc, kind, hlen;

    e->active_dirty = 0;
    if (!publisher_ready(e->pub))
        return; /* written on connection */
    devs = poller_devices(e->poller, &n);
    rc = snprintf(head, sizeof(head), "{\"ts\":%.3f,\"alerts\":[", ifmon_wall_now());
    IFMON_ASSERT(rc > 0 && (size_t)rc < sizeof(head));
    hlen = rc;
    text_append(&buf, &len, &cap, head, (size_t)rc);
    for (i = 0; i < n; i++) {
        const struct device *d = devs[i];

        if (d->alert_text) {
            text_append(&buf, &len, &cap, ",", count++ ? 1 : 0);
            text_append(&buf, &len, &cap, d->alert_text, strlen(d->alert_text));
        }
        for (k = 0; k < d->nifaces; k++)
            for (kind = 0; kind < ALERT_DEVICE; kind++) {
                const char *t = d->ifaces[k].alert_text[kind];

                if (t == NULL)
                    continue;
                text_append(&buf, &len, &cap, ",", count++ ? 1 : 0);
                text_append(&buf, &len, &cap, t, strlen(t));
            }
    }
    text_append(&buf, &len, &cap, "]}", 2);
    if (poller_config(e->poller)->collector.shared) {
        active_write_part(e, buf + hlen, len - (size_t)hlen - 2);
        free(buf);
        return;
    }
    rc = ifmon_key_alerts(&key, prefix);
    IFMON_ASSERT(rc == 0);
    publisher_set(e->pub, key.s, key.len, buf, len);
    free(buf);
}

/* collector.shared: our alerts (text, len bytes: the raised events,
 * comma-separated) are our part of the active set, which the member that
 * merges writes (lease.h). */
static void active_write_part(struct events *e, const char *text, size_t len)
{
    const struct config *cfg = poller_config(e->poller);
    struct ifmon_key parts, version;
    const char *argv[4];
    size_t lens[4];
    int rc = ifmon_key_cluster(&parts, cfg->redis.prefix, "alerts", NULL) |
             ifmon_key_cluster(&version, cfg->redis.prefix, "version", NULL);

    IFMON_ASSERT(rc == 0);
    argv[0] = len ? "HSET" : "HDEL";
    lens[0] = 4;
    argv[1] = parts.s;
    lens[1] = parts.len;
    argv[2] = cfg->collector.id;
    lens[2] = strlen(cfg->collector.id);
    argv[3] = text;
    lens[3] = len;
    publisher_command(e->pub, len ? 4 : 3, argv, lens);
    argv[0] = "INCR";
    argv[1] = version.s;
    lens[1] = version.len;
    publisher_command(e->pub, 2, argv, lens);
}

static void on_active_timer(uv_timer_t *t)
{
    struct events *e = t->data;

    if (e->active_dirty)
        active_write(e);
}

void events_active_changed(struct events *e)
{
    e->active_dirty = 1;
    if (!uv_is_active((uv_handle_t *)&e->active_timer))
        uv_timer_start(&e->active_timer, on_active_timer, 0, 0);
}

/* ------------------------------------------------------------------ API */

void events_emit(struct events *e, struct device *dev, struct iface *ifc,
                 const struct alert_event *ev, double ts, uint64_t now_ns)
{
    const char *prefix = poller_config(e->poller)->redis.prefix;
    double since = ev->kind < ALERT_THRESHOLDS && ev->since_ns && ev->since_ns <= now_ns
                       ? ts - (double)(now_ns - ev->since_ns) / 1e9
                       : ts;
    char *text = message_format_event(dev, ifc, ev, ts, since, ++e->seq), **slot;
    char line[MESSAGE_EVENT_TEXT_MAX];
    size_t len = strlen(text);
    struct ifmon_key key;
    int rc;

    message_event_text(line, sizeof(line), dev, ifc, ev);
    log_info("alert %s: %s", ev->raised ? "raised" : "cleared", line);
    rc = ifmon_key_event_log(&key, prefix);
    IFMON_ASSERT(rc == 0);
    if (publisher_ready(e->pub))
        publisher_event(e->pub, dev->msg.events_channel, dev->msg.events_channel_len, key.s,
                        key.len, text, len, EVENTS_KEEP);
    /* The raised event stands for the alert in the active set. */
    slot = ifc ? &ifc->alert_text[ev->kind] : &dev->alert_text;
    free(*slot);
    *slot = ev->raised ? ifmon_xstrdup(text) : NULL;
    events_active_changed(e);
    ring_push(e, text, len, ts);
    prune(e);
}

/* The list a previous run left (or nothing, ok 0): its events of the last
 * hour go before ours, and the list is written again from the ring. */
static void on_list_read(void *ctx, int ok, size_t n, const char *const *items, const size_t *lens)
{
    struct events *e = ctx;
    struct event_entry *ours;
    size_t nours = e->count, i, k, kept = 0;
    double now = ifmon_wall_now();

    e->reading = 0;
    if (!ok && !publisher_ready(e->pub))
        return; /* connection lost: read again at the next one */
    /* Take ours out, put the old ones in, then ours again. */
    ours = ifmon_xcalloc(nours, sizeof(*ours));
    for (i = 0; i < nours; i++)
        ours[i] = *ring_at(e, i);
    e->first = e->count = 0;
    for (i = 0; i < n; i++) {
        json_t *j = json_loadb(items[i], lens[i], 0, NULL);
        json_t *ts = j ? json_object_get(j, "ts") : NULL;
        int dup = 0;

        for (k = 0; k < nours && !dup; k++)
            dup = ours[k].len == lens[i] && memcmp(ours[k].text, items[i], lens[i]) == 0;
        if (json_is_number(ts) && json_number_value(ts) >= now - EVENTS_MAX_AGE_S && !dup) {
            ring_push(e, ifmon_xstrndup(items[i], lens[i]), lens[i], json_number_value(ts));
            kept++;
        }
        json_decref(j);
    }
    for (i = 0; i < nours; i++)
        ring_push(e, ours[i].text, ours[i].len, ours[i].ts);
    free(ours);
    e->loaded = 1;
    if (kept)
        log_info("events: %zu of the last hour kept from before", kept);
    list_write(e);
}

void events_on_redis_connected(struct events *e)
{
    struct ifmon_key key;
    int rc;

    if (e->poller == NULL)
        return;
    if (poller_config(e->poller)->collector.shared) {
        /* The list is everyone's: neither read back nor rewritten. */
        e->loaded = 1;
    } else if (e->loaded) {
        list_write(e);
    } else if (!e->reading) {
        rc = ifmon_key_event_log(&key, poller_config(e->poller)->redis.prefix);
        IFMON_ASSERT(rc == 0);
        e->reading = publisher_read_list(e->pub, key.s, key.len, on_list_read, e) == 0;
    }
    active_write(e);
}

struct events *events_create(uv_loop_t *loop)
{
    struct events *e = ifmon_xcalloc(1, sizeof(*e));

    e->loop = loop;
    uv_timer_init(loop, &e->active_timer);
    e->active_timer.data = e;
    uv_timer_init(loop, &e->prune_timer);
    e->prune_timer.data = e;
    uv_timer_start(&e->prune_timer, on_prune_timer, EVENTS_PRUNE_MS, EVENTS_PRUNE_MS);
    return e;
}

void events_attach(struct events *e, struct poller *poller, struct publisher *pub)
{
    e->poller = poller;
    e->pub = pub;
}

void events_close(struct events *e)
{
    uv_timer_stop(&e->active_timer);
    uv_timer_stop(&e->prune_timer);
    uv_close((uv_handle_t *)&e->active_timer, NULL);
    uv_close((uv_handle_t *)&e->prune_timer, NULL);
}

void events_free(struct events *e)
{
    if (e == NULL)
        return;
    while (e->count > 0)
        ring_drop_oldest(e);
    free(e);
}
