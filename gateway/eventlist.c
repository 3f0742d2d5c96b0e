/* eventlist.c -- see eventlist.h.
 *
 * Freshness, as inventory.c: reads are numbered (`sent`), at most one in
 * flight. The copy of read k answers while the gateway's subscription to
 * `<prefix>:events:*` is confirmed (`watching`), k >= fresh_from (the
 * first read sent after the last event heard of, or after the
 * subscription was confirmed) and it is younger than EVENTLIST_MAX_AGE_MS.
 * A request it cannot answer waits for read `want`: the one in flight
 * when that was sent after the last event and the subscription is
 * confirmed, otherwise the next one, sent once the one in flight is back.
 * Unlike the inventory, nothing is read until a request waits: an event
 * storm costs a flag per event, not a read.
 *
 * Why a client that subscribed to events channels first misses nothing:
 * the collector appends an event to the list before it publishes it, and
 * the gateway's own subscription shares the subscriber connection with
 * the client's, so the message of any event published before the
 * client's `subscribed` reached fanout.c (and marked the copy stale)
 * before that `subscribed` was sent.
 *
 * A read is two commands on the query connection, LRANGE of the newest
 * EVENTLIST_MAX_EVENTS events then GET of the alerts, answered in that
 * order; the copy changes when both are in. */

#include "eventlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "keys.h"
#include "log.h"
#include "pubsub.h"
#include "util.h"

/* One event: the collector's JSON text and the device it names. */
struct event_item {
    char *text; /* owned, NUL-terminated */
    size_t len;
    char *device; /* owned; NULL when it names none */
};

struct event_set {
    struct event_item *items;
    size_t n, bytes;
};

/* The two arrays as a token sees them: `"active":[...],"recent":[...]`. */
struct event_view {
    const struct config_token *grant;
    char *text;
    size_t len;
};

struct eventlist_wait {
    struct eventlist_wait *next;
    struct eventlist *el;
    uint64_t want; /* the read whose reply answers it */
    eventlist_ready_fn fn;
    void *ctx; /* NULL fn once cancelled */
};

struct eventlist {
    struct gateway *gw;
    /* The copy. */
    struct event_set active, recent;
    int have;
    uint64_t copy_read, copy_ms; /* the read it came from, and when that was sent */
    struct event_view *views;
    size_t nviews;
    /* The read in flight. */
    struct event_set next_active, next_recent;
    int parts;  /* replies still due */
    int failed; /* one of them failed: the copy stays */
    uint64_t sent_ms;
    /* Freshness (see the top of this file). */
    int watching, inflight;
    uint64_t sent, fresh_from;
    struct eventlist_wait *head, *tail;
    struct eventlist_stats st;
};

/* ------------------------------------------------------------- the sets */

static void set_clear(struct event_set *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free(s->items[i].text);
        free(s->items[i].device);
    }
    free(s->items);
    memset(s, 0, sizeof(*s));
}

/* Add one event (len bytes) when it is a JSON object; its "device" when
 * that is a string without NUL. */
static void set_add(struct eventlist *el, struct event_set *s, const char *text, size_t len)
{
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *dev = json_object_get(obj, "device");
    struct event_item *it;

    if (!json_is_object(obj)) {
        el->st.invalid++;
        json_decref(obj);
        return;
    }
    it = &s->items[s->n++];
    it->text = ifmon_xstrndup(text, len);
    it->len = len;
    it->device = NULL;
    if (json_is_string(dev) && strlen(json_string_value(dev)) == json_string_length(dev))
        it->device = ifmon_xstrdup(json_string_value(dev));
    s->bytes += len;
    json_decref(obj);
}

/* The end of the JSON value starting at text[i] (len bytes in all), or
 * len when it does not end: strings skipped with their escapes, arrays
 * and objects by depth. Only used on a text jansson has accepted. */
static size_t value_end(const char *text, size_t len, size_t i)
{
    size_t depth = 0;

    for (; i < len; i++) {
        char c = text[i];

        if (c == '"') {
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\')
                    i++;
            if (depth == 0)
                return i < len ? i + 1 : len;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                return i; /* a number or a literal ended by its container */
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && strchr(", \t\r\n", c) != NULL) {
            return i;
        }
    }
    return len;
}

static size_t skip_blank(const char *text, size_t len, size_t i)
{
    while (i < len && text[i] != '\0' && strchr(" \t\r\n", text[i]) != NULL)
        i++;
    return i;
}

/* The elements of the "alerts" array of `{"ts":...,"alerts":[...]}`, each
 * as stored. Anything else (not JSON, no such array) is no alert. */
static void parse_alerts(struct eventlist *el, struct event_set *s, const char *text, size_t len)
{
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *alerts = json_object_get(root, "alerts");
    size_t i, n = json_array_size(alerts), found = 0;

    if (!json_is_array(alerts) || n == 0)
        goto out;
    s->items = ifmon_xcalloc(n, sizeof(*s->items));
    /* Walk the object's members for the array's bytes: jansson says the
     * text is valid, so only strings and nesting need care. */
    i = skip_blank(text, len, 0) + 1;
    while (i < len) {
        size_t key = skip_blank(text, len, i), key_end = value_end(text, len, key);
        size_t v = skip_blank(text, len, skip_blank(text, len, key_end) + 1);

        if (key_end - key == 8 && memcmp(text + key, "\"alerts\"", 8) == 0 && v < len &&
            text[v] == '[') {
            for (i = skip_blank(text, len, v + 1); i < len && text[i] != ']' && found < n;) {
                size_t end = value_end(text, len, i);

                set_add(el, s, text + i, end - i);
                found++;
                i = skip_blank(text, len, end);
                if (i < len && text[i] == ',')
                    i = skip_blank(text, len, i + 1);
            }
            break;
        }
        i = skip_blank(text, len, value_end(text, len, v));
        if (i >= len || text[i] != ',')
            break;
        i++;
    }
    if (found != n) {
        /* A key written with escapes ("al\u0065rts"): the collector never
         * writes one; no alert rather than a guess. */
        log_warn("redis: the alerts key: its \"alerts\" array was not found as written; read "
                 "as no alert");
        set_clear(s);
    }
out:
    json_decref(root);
}

/* ---------------------------------------------------------------- views */

static void drop_views(struct eventlist *el)
{
    size_t i;

    for (i = 0; i < el->nviews; i++)
        free(el->views[i].text);
    free(el->views);
    el->views = NULL;
    el->nviews = 0;
}

/* 1 when grant may see the events of `device` (access.h: with the
 * device's state channel). */
static int device_permitted(const struct eventlist *el, const struct config_token *grant,
                            const char *device)
{
    const char *prefix = el->gw->cfg->redis.prefix;
    struct ifmon_key ch;

    if (grant == &access_all)
        return 1;
    if (device == NULL || *device == '\0' || strpbrk(device, ":*") != NULL ||
        ifmon_key_events(&ch, prefix, device) < 0)
        return 0;
    return access_channel_permitted(grant, ch.s, prefix);
}

static size_t emit_array(const struct eventlist *el, const struct config_token *grant,
                         const struct event_set *s, char *out)
{
    size_t i, n = 0;
    int any = 0;

    out[n++] = '[';
    for (i = 0; i < s->n; i++) {
        if (!device_permitted(el, grant, s->items[i].device))
            continue;
        if (any)
            out[n++] = ',';
        memcpy(out + n, s->items[i].text, s->items[i].len);
        n += s->items[i].len;
        any = 1;
    }
    out[n++] = ']';
    return n;
}

/* `"active":[...],"recent":[...]` for grant, cut once per copy. */
static const struct event_view *view_of(struct eventlist *el, const struct config_token *grant)
{
    static const char a[] = "\"active\":", r[] = ",\"recent\":";
    struct event_view *v;
    size_t i, n;

    for (i = 0; i < el->nviews; i++)
        if (el->views[i].grant == grant)
            return &el->views[i];
    el->views = ifmon_xrealloc(el->views, (el->nviews + 1) * sizeof(*el->views));
    v = &el->views[el->nviews++];
    v->grant = grant;
    /* Every element, a comma each, the brackets and the names. */
    v->text = ifmon_xmalloc(el->active.bytes + el->active.n + el->recent.bytes + el->recent.n +
                            sizeof(a) + sizeof(r) + 4);
    memcpy(v->text, a, sizeof(a) - 1);
    n = sizeof(a) - 1;
    n += emit_array(el, grant, &el->active, v->text + n);
    memcpy(v->text + n, r, sizeof(r) - 1);
    n += sizeof(r) - 1;
    n += emit_array(el, grant, &el->recent, v->text + n);
    v->len = n;
    return v;
}

/* ---------------------------------------------------------------- reads */

static uint64_t now_ms(const struct eventlist *el)
{
    return el->gw->loop ? uv_now(el->gw->loop) : 0;
}

int eventlist_current(struct eventlist *el)
{
    return el->have && el->watching && el->copy_read >= el->fresh_from &&
           now_ms(el) - el->copy_ms < EVENTLIST_MAX_AGE_MS;
}

/* Call the waiters of read k or an earlier one (all when k is
 * UINT64_MAX); `want` does not decrease along the queue. */
static void answer_waiting(struct eventlist *el, uint64_t k, int available)
{
    struct eventlist_wait *w;

    while ((w = el->head) != NULL && w->want <= k) {
        el->head = w->next;
        if (el->head == NULL)
            el->tail = NULL;
        if (w->fn)
            w->fn(w->ctx, available);
        free(w);
    }
}

static void refresh(struct eventlist *el);

/* Both replies are in: the copy is replaced, or kept when one failed. */
static void read_done(struct eventlist *el)
{
    uint64_t k = el->sent;

    el->inflight = 0;
    if (el->failed) {
        set_clear(&el->next_active);
        set_clear(&el->next_recent);
        answer_waiting(el, k, 0);
    } else {
        drop_views(el);
        set_clear(&el->active);
        set_clear(&el->recent);
        el->active = el->next_active;
        el->recent = el->next_recent;
        memset(&el->next_active, 0, sizeof(el->next_active));
        memset(&el->next_recent, 0, sizeof(el->next_recent));
        el->have = 1;
        el->copy_read = k;
        el->copy_ms = el->sent_ms;
        answer_waiting(el, k, 1);
    }
    refresh(el);
}

/* A reply of the read: NULL (the connection went) or an error fails it. */
static int reply_failed(struct eventlist *el, const redisReply *reply, const char *what)
{
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_warn("redis: %s: %s", what, reply->str);
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        el->failed = 1;
    return el->failed;
}

static void on_lrange(void *arg, redisReply *reply)
{
    struct eventlist *el = arg;
    struct event_set *s = &el->next_recent;
    size_t first, i, bytes = 0;

    if (!reply_failed(el, reply, "LRANGE of the events") && reply->type == REDIS_REPLY_ARRAY &&
        reply->elements > 0) {
        /* The newest events that fit the bounds, oldest first: `first`
         * goes back from the newest while they fit. */
        for (first = reply->elements; first > 0; first--) {
            const redisReply *e = reply->element[first - 1];

            if (reply->elements - first == EVENTLIST_MAX_EVENTS || e->type != REDIS_REPLY_STRING ||
                bytes + e->len > EVENTLIST_MAX_BYTES)
                break;
            bytes += e->len;
        }
        if (first > 0)
            log_warn("redis: the events list holds more than %d events or %u bytes, or "
                     "something else than strings: its oldest %zu elements are left out",
                     EVENTLIST_MAX_EVENTS, EVENTLIST_MAX_BYTES, first);
        s->items = ifmon_xcalloc(reply->elements - first, sizeof(*s->items));
        for (i = first; i < reply->elements; i++)
            set_add(el, s, reply->element[i]->str, reply->element[i]->len);
    }
    if (--el->parts == 0)
        read_done(el);
}

static void on_get(void *arg, redisReply *reply)
{
    struct eventlist *el = arg;

    if (!reply_failed(el, reply, "GET of the alerts") && reply->type == REDIS_REPLY_STRING) {
        if (reply->len > EVENTLIST_MAX_BYTES)
            log_warn("redis: the alerts key holds %zu bytes, more than %u: read as no alert",
                     reply->len, EVENTLIST_MAX_BYTES);
        else
            parse_alerts(el, &el->next_active, reply->str, reply->len);
    }
    if (--el->parts == 0)
        read_done(el);
}

/* Send read number sent + 1: LRANGE, then GET. -1 when the query
 * connection is down (nothing was sent). */
static int send_read(struct eventlist *el)
{
    const char *prefix = el->gw->cfg->redis.prefix;
    struct ifmon_key list, alerts;
    int rc;

    IFMON_ASSERT(!el->inflight);
    rc = ifmon_key_event_log(&list, prefix);
    rc |= ifmon_key_alerts(&alerts, prefix);
    IFMON_ASSERT(rc == 0); /* the loader holds the prefix to IFMON_PREFIX_MAX */
    el->failed = 0;
    el->parts = 0;
    if (pubsub_lrange(el->gw->pubsub, list.s, -EVENTLIST_MAX_EVENTS, -1, on_lrange, el) < 0)
        return -1;
    el->parts++;
    el->inflight = 1;
    el->sent++;
    el->sent_ms = now_ms(el);
    el->st.reads++;
    if (pubsub_get(el->gw->pubsub, alerts.s, on_get, el) < 0)
        el->failed = 1; /* the LRANGE's reply ends the read */
    else
        el->parts++;
    return 0;
}

/* After a read: the next one when requests still wait for it. */
static void refresh(struct eventlist *el)
{
    if (el->inflight || el->head == NULL)
        return;
    if (send_read(el) < 0)
        answer_waiting(el, UINT64_MAX, 0);
}

/* ------------------------------------------------------------------ API */

struct eventlist *eventlist_create(struct gateway *gw)
{
    struct eventlist *el = ifmon_xcalloc(1, sizeof(*el));

    el->gw = gw;
    return el;
}

void eventlist_free(struct eventlist *el)
{
    if (el == NULL)
        return;
    while (el->head) {
        struct eventlist_wait *w = el->head;

        el->head = w->next;
        free(w);
    }
    drop_views(el);
    set_clear(&el->active);
    set_clear(&el->recent);
    set_clear(&el->next_active);
    set_clear(&el->next_recent);
    free(el);
}

void eventlist_watch(struct eventlist *el, int up)
{
    el->watching = up;
    if (up)
        el->fresh_from = el->sent + 1;
}

void eventlist_changed(struct eventlist *el)
{
    el->fresh_from = el->sent + 1;
}

void eventlist_grants_changed(struct eventlist *el)
{
    drop_views(el);
}

struct outmsg *eventlist_reply(struct eventlist *el, const struct config_token *grant, json_t *id)
{
    static const char head[] = "{\"op\":\"events\",", mid[] = ",\"id\":";
    char *id_text = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    const struct event_view *v;
    size_t ilen = id_text ? strlen(id_text) : 0, n;
    struct outmsg *m;
    char *text;

    IFMON_ASSERT(el->have && grant != NULL);
    v = view_of(el, grant);
    m = outmsg_new(OUTMSG_REPLY, NULL, sizeof(head) + v->len + sizeof(mid) + ilen);
    text = outmsg_text(m);
    memcpy(text, head, sizeof(head) - 1);
    n = sizeof(head) - 1;
    memcpy(text + n, v->text, v->len);
    n += v->len;
    if (id_text) {
        memcpy(text + n, mid, sizeof(mid) - 1);
        n += sizeof(mid) - 1;
        memcpy(text + n, id_text, ilen);
        n += ilen;
    }
    text[n++] = '}';
    m->len = n;
    free(id_text);
    return m;
}

struct eventlist_wait *eventlist_await(struct eventlist *el, eventlist_ready_fn fn, void *ctx)
{
    struct eventlist_wait *w;
    uint64_t want;

    /* The read in flight serves when sent after the last event heard of;
     * otherwise the next one, sent now when none is in flight. */
    if (el->inflight && el->watching && el->sent >= el->fresh_from)
        want = el->sent;
    else
        want = el->sent + 1;
    if (!el->inflight && send_read(el) < 0)
        return NULL;
    w = ifmon_xcalloc(1, sizeof(*w));
    w->el = el;
    w->fn = fn;
    w->ctx = ctx;
    w->want = want;
    if (el->tail)
        el->tail->next = w;
    else
        el->head = w;
    el->tail = w;
    return w;
}

void eventlist_cancel(struct eventlist_wait *w)
{
    if (w) {
        w->fn = NULL;
        w->ctx = NULL;
    }
}

void eventlist_stats(const struct eventlist *el, struct eventlist_stats *out)
{
    *out = el->st;
}
