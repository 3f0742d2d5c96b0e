/* history.c -- see history.h. A fetch is owned by the Redis replies still
 * due, not by the subscription: a subscription that goes away only
 * detaches it (fetch->h = NULL), and the last reply frees it. */

#include "history.h"

#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "json_text.h"
#include "keys.h"
#include "log.h"
#include "pubsub.h"
#include "util.h"

struct history_floor {
    char *channel;
    double ts;
    int active;
};

/* One channel's history within a fetch. */
struct fetch_item {
    struct history_fetch *fetch;
    char *channel;
    struct outmsg *frame; /* the history frame, once the reply came */
    int has_ts;
    double newest_ts;
};

struct history_fetch {
    struct history *h; /* NULL once the subscription went away */
    struct gateway *gw;
    const char *name; /* the subscription's (borrowed: used only while h is set) */
    const struct history_hooks *hooks;
    void *ctx;
    size_t outstanding; /* replies due, plus one while requests are being sent */
    struct fetch_item *items;
    size_t nitems;
};

/* ------------------------------------------------------ held and floors */

static void hold(struct history *h, struct outmsg *m, uint64_t *dropped)
{
    if (h->held == NULL)
        h->held = ifmon_xcalloc(HISTORY_HOLD_MAX, sizeof(*h->held));
    if (h->nheld == HISTORY_HOLD_MAX) {
        outmsg_unref(h->held[0]);
        memmove(h->held, h->held + 1, (HISTORY_HOLD_MAX - 1) * sizeof(*h->held));
        h->nheld--;
        (*dropped)++;
    }
    h->held[h->nheld++] = outmsg_ref(m);
}

static void drop_held(struct history *h)
{
    size_t i;

    for (i = 0; i < h->nheld; i++)
        outmsg_unref(h->held[i]);
    free(h->held);
    h->held = NULL;
    h->nheld = 0;
}

static void drop_floors(struct history *h)
{
    size_t i;

    for (i = 0; i < h->nfloors; i++)
        free(h->floors[i].channel);
    free(h->floors);
    h->floors = NULL;
    h->nfloors = h->floors_active = 0;
}

static int cmp_floor_key(const void *key, const void *elem)
{
    const struct history_floor *fl = elem;

    return strcmp(key, fl->channel);
}

static int cmp_floor(const void *a, const void *b)
{
    const struct history_floor *x = a, *y = b;

    return strcmp(x->channel, y->channel);
}

/* 1 when m is not already in the history sent; a channel's floor goes
 * with its first newer message. */
static int pass_floor(struct history *h, const struct outmsg *m)
{
    struct history_floor *fl;

    if (h->floors_active == 0)
        return 1;
    fl = bsearch(m->channel, h->floors, h->nfloors, sizeof(*fl), cmp_floor_key);
    if (fl == NULL || !fl->active)
        return 1;
    if (m->has_ts && m->ts <= fl->ts)
        return 0;
    fl->active = 0;
    if (--h->floors_active == 0)
        drop_floors(h);
    return 1;
}

int history_admit_held_or_floor(struct history *h, struct outmsg *m, uint64_t *dropped)
{
    if (h->state != HISTORY_LIVE) {
        hold(h, m, dropped);
        return 0;
    }
    return pass_floor(h, m);
}

/* ------------------------------------------------------------- frames */

int history_sample_ts(const json_t *sample, double *ts)
{
    json_t *v = json_object_get(sample, "ts");

    if (!json_is_number(v))
        return 0;
    *ts = json_number_value(v);
    return 1;
}

/* Turn an LRANGE reply into {"channel":C,"history":[...]}: the stored
 * samples, oldest first, embedded as they are; anything that is not a
 * JSON object is left out. No frame for a channel that is not valid
 * UTF-8 (it could not be named in JSON as it is). */
static void build_frame(struct fetch_item *item, const redisReply *reply)
{
    static const char head[] = "{\"channel\":", mid[] = ",\"history\":[", tail[] = "]}";
    size_t qlen, replaced, i, len, n;
    char *quoted = ifmon_json_quote(item->channel, strlen(item->channel), &qlen, &replaced);
    char *text;

    if (replaced > 0) {
        free(quoted);
        return;
    }
    len = sizeof(head) - 1 + qlen + sizeof(mid) - 1 + sizeof(tail) - 1;
    for (i = 0; i < reply->elements; i++)
        len += reply->element[i]->len + 1;
    item->frame = outmsg_new(OUTMSG_HISTORY, item->channel, len);
    text = outmsg_text(item->frame);
    memcpy(text, head, sizeof(head) - 1);
    n = sizeof(head) - 1;
    memcpy(text + n, quoted, qlen);
    n += qlen;
    memcpy(text + n, mid, sizeof(mid) - 1);
    n += sizeof(mid) - 1;
    free(quoted);
    for (i = 0; i < reply->elements; i++) {
        const redisReply *el = reply->element[i];
        json_t *sample;
        double ts;

        if (el->type != REDIS_REPLY_STRING)
            continue;
        sample = json_loadb(el->str, el->len, 0, NULL);
        if (!json_is_object(sample)) {
            json_decref(sample);
            continue;
        }
        if (history_sample_ts(sample, &ts)) {
            item->has_ts = 1;
            item->newest_ts = ts;
        }
        json_decref(sample);
        if (text[n - 1] != '[')
            text[n++] = ',';
        memcpy(text + n, el->str, el->len);
        n += el->len;
    }
    memcpy(text + n, tail, sizeof(tail));
    item->frame->len = n + sizeof(tail) - 1;
    item->frame->has_ts = item->has_ts;
    item->frame->ts = item->newest_ts;
}

/* ------------------------------------------------------------- fetches */

static void fetch_free(struct history_fetch *fetch)
{
    size_t i;

    for (i = 0; i < fetch->nitems; i++) {
        free(fetch->items[i].channel);
        outmsg_unref(fetch->items[i].frame);
    }
    free(fetch->items);
    free(fetch);
}

/* Every reply is in: send the history frames, then the held live messages
 * that are newer than their channel's history, and go live. */
static void fetch_complete(struct history_fetch *fetch)
{
    struct history *h = fetch->h;
    size_t i;

    if (h == NULL) {
        fetch_free(fetch);
        return;
    }
    IFMON_ASSERT(h->state == HISTORY_FETCHING && h->fetch == fetch);
    drop_floors(h);
    h->floors = ifmon_xcalloc(fetch->nitems, sizeof(*h->floors));
    for (i = 0; i < fetch->nitems; i++) {
        struct fetch_item *item = &fetch->items[i];

        if (item->frame == NULL)
            continue;
        fetch->hooks->deliver(fetch->ctx, item->frame);
        if (item->has_ts) {
            h->floors[h->nfloors].channel = item->channel;
            h->floors[h->nfloors].ts = item->newest_ts;
            h->floors[h->nfloors].active = 1;
            h->nfloors++;
            item->channel = NULL; /* moved */
        }
    }
    h->floors_active = h->nfloors;
    if (h->nfloors == 0)
        drop_floors(h);
    else
        qsort(h->floors, h->nfloors, sizeof(*h->floors), cmp_floor);
    h->state = HISTORY_LIVE;
    h->fetch = NULL;
    for (i = 0; i < h->nheld; i++)
        if (pass_floor(h, h->held[i]))
            fetch->hooks->deliver(fetch->ctx, h->held[i]);
    drop_held(h);
    fetch_free(fetch);
}

static void fetch_reply_done(struct history_fetch *fetch)
{
    if (--fetch->outstanding == 0)
        fetch_complete(fetch);
}

static void on_lrange(void *arg, redisReply *reply)
{
    struct fetch_item *item = arg;
    struct history_fetch *fetch = item->fetch;

    if (fetch->h) {
        if (reply && reply->type == REDIS_REPLY_ARRAY)
            build_frame(item, reply);
        else if (reply && reply->type == REDIS_REPLY_ERROR)
            log_warn("redis: LRANGE for %s: %s", item->channel, reply->str);
    }
    fetch_reply_done(fetch);
}

/* LRANGE of the item's history list; no frame when Redis cannot take it
 * or the channel has no history key (a name in the inventory that is not
 * an interface channel of the prefix). */
static void request_lrange(struct history_fetch *fetch, struct fetch_item *item)
{
    const struct config_redis *rc = &fetch->gw->cfg->redis;
    struct ifmon_key key;

    if (ifmon_key_history_of(&key, rc->prefix, item->channel) < 0)
        return;
    fetch->outstanding++;
    if (pubsub_lrange(fetch->gw->pubsub, key.s, -(long)rc->history, -1, on_lrange, item) < 0)
        fetch->outstanding--;
}

static struct fetch_item *add_item(struct history_fetch *fetch, const char *channel, size_t *cap)
{
    struct fetch_item *item;

    if (fetch->nitems == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        fetch->items = ifmon_xrealloc(fetch->items, *cap * sizeof(*fetch->items));
    }
    item = &fetch->items[fetch->nitems++];
    memset(item, 0, sizeof(*item));
    item->fetch = fetch;
    item->channel = ifmon_xstrdup(channel);
    return item;
}

/* The interface channels of an inventory snapshot (docs/PROTOCOL.md, part
 * 1) that the pattern matches and that the subscriber does not hold
 * exactly. */
static void collect_channels(struct history_fetch *fetch, const json_t *inv)
{
    const json_t *site, *dev, *ifc;
    size_t i, j, k, cap = 0;

    json_array_foreach(json_object_get(inv, "sites"), i, site)
    {
        json_array_foreach(json_object_get(site, "devices"), j, dev)
        {
            json_array_foreach(json_object_get(dev, "interfaces"), k, ifc)
            {
                const char *ch = json_string_value(json_object_get(ifc, "channel"));

                if (ch == NULL || !channel_matches(fetch->name, ch) ||
                    fetch->hooks->holds_exactly(fetch->ctx, ch))
                    continue;
                add_item(fetch, ch, &cap);
            }
        }
    }
}

static void on_inventory(void *arg, redisReply *reply)
{
    struct history_fetch *fetch = arg;
    json_t *inv;
    size_t i;

    if (fetch->h && reply && reply->type == REDIS_REPLY_STRING) {
        inv = json_loadb(reply->str, reply->len, 0, NULL);
        if (json_is_object(inv))
            collect_channels(fetch, inv);
        json_decref(inv);
        /* The items array is final now: each LRANGE callback points into it. */
        for (i = 0; i < fetch->nitems; i++)
            request_lrange(fetch, &fetch->items[i]);
    }
    fetch_reply_done(fetch);
}

/* ----------------------------------------------------------------- API */

void history_init(struct history *h, int wanted)
{
    memset(h, 0, sizeof(*h));
    h->state = wanted ? HISTORY_WAITING : HISTORY_LIVE;
}

void history_fetch(struct history *h, struct gateway *gw, const char *name, int pattern,
                   const struct history_hooks *hooks, void *ctx)
{
    const char *prefix = gw->cfg->redis.prefix;
    struct history_fetch *fetch;
    struct ifmon_key key;
    size_t cap = 0;

    IFMON_ASSERT(h->state == HISTORY_WAITING && h->fetch == NULL);
    IFMON_ASSERT(pattern || ifmon_channel_kind(name, prefix) == IFMON_CHANNEL_INTERFACE);
    fetch = ifmon_xcalloc(1, sizeof(*fetch));
    fetch->h = h;
    fetch->gw = gw;
    fetch->name = name;
    fetch->hooks = hooks;
    fetch->ctx = ctx;
    h->fetch = fetch;
    h->state = HISTORY_FETCHING;
    /* One guard count so that nothing completes while requests are still
     * being sent. */
    fetch->outstanding = 1;
    if (pattern) {
        int rc = ifmon_key_inventory(&key, prefix);

        IFMON_ASSERT(rc == 0); /* the loader holds the prefix to IFMON_PREFIX_MAX */
        fetch->outstanding++;
        if (pubsub_get(gw->pubsub, key.s, on_inventory, fetch) < 0)
            fetch->outstanding--;
    } else {
        cap = 1;
        fetch->items = ifmon_xmalloc(sizeof(*fetch->items));
        request_lrange(fetch, add_item(fetch, name, &cap));
    }
    fetch_reply_done(fetch);
}

void history_release(struct history *h)
{
    if (h->fetch)
        h->fetch->h = NULL; /* the replies still due free it */
    h->fetch = NULL;
    drop_held(h);
    drop_floors(h);
    h->state = HISTORY_LIVE;
}
