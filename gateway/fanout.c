/* fanout.c -- see fanout.h.
 *
 * Redis state per name: `refs` counts subscriptions; `subscribed` says the
 * last command sent on the current connection was (P)SUBSCRIBE;
 * `inflight` counts (P)(UN)SUBSCRIBE commands not yet acknowledged. A name
 * is confirmed when subscribed and nothing is in flight: only then can an
 * LRANGE on the other connection be sure to see every sample that the
 * subscription will not (the collector RPUSHes before it PUBLISHes).
 *
 * A client holding a channel and a pattern matching it, or two
 * overlapping patterns, gets the message once: Redis sends the `message`
 * and the `pmessage`s of one PUBLISH back to back, the gateway recognises
 * the repeats (same channel, same payload, adjacent) and reuses the
 * message and its generation number, and a peer that already got that
 * generation is skipped. */

#include "fanout.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "request.h"

enum sub_state {
    SUB_WAIT_REDIS, /* history wanted; waiting for the Redis subscription */
    SUB_FETCHING,   /* history requested; live messages are held */
    SUB_LIVE,
};

struct fanout_entry {
    struct fanout_entry *hnext; /* hash chain */
    char *name;                 /* as the client wrote it */
    char *key;                  /* name in Redis (patterns escaped) */
    int pattern;
    unsigned refs;
    unsigned inflight;
    int subscribed;
    struct subscription *subs;
};

struct subscription {
    struct fanout_entry *entry;
    struct fanout_peer *peer;
    struct subscription *prev, *next; /* in entry->subs */
    enum sub_state state;
    struct history_fetch *fetch;
    struct message **held; /* live messages kept while fetching, oldest first */
    size_t nheld;
    /* Per channel, the newest `ts` of the history sent: live messages not
     * newer are duplicates. Kept after going live because a message
     * published before the LRANGE ran may still be in flight on the
     * subscriber connection when the LRANGE reply is read; a channel's
     * floor goes when its first newer message passes. Sorted by channel. */
    struct floor *floors;
    size_t nfloors, floors_active;
};

struct floor {
    char *channel;
    double ts;
    int active;
};

struct fanout_peer {
    struct fanout *f;
    fanout_deliver_fn deliver;
    void *ctx;
    struct subscription **subs; /* sorted by entry->name */
    size_t nsubs, cap;
    uint64_t last_gen; /* generation of the last message delivered or held */
};

/* One channel's history within a fetch. */
struct fetch_item {
    struct history_fetch *fetch;
    char *channel;
    struct message *frame; /* the history frame, once the reply came */
    int has_ts;
    double newest_ts;
};

/* History for one subscription: one LRANGE, or for a pattern a GET of the
 * inventory and one LRANGE per matching interface. Owned by the Redis
 * replies still due: freed when the last one came, even if the
 * subscription went away meanwhile (then sub is NULL). */
struct history_fetch {
    struct fanout *f;
    struct subscription *sub;
    size_t outstanding;
    struct fetch_item *items;
    size_t nitems;
};

struct table {
    struct fanout_entry **buckets;
    size_t size; /* power of two */
    size_t count;
};

struct fanout {
    struct gateway *gw;
    struct table channels, patterns;
    uint64_t nactive; /* entries with refs > 0 */
    uint64_t nsubs;
    uint64_t dropped, invalid;
    /* The last message built, to recognise the repeats of one PUBLISH. */
    struct message *last;
    size_t last_payload_off, last_payload_len;
    uint64_t gen;
};

static void start_fetch(struct subscription *sub);

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (p == NULL)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        abort();
    return d;
}

/* --------------------------------------------------------------- table */

static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static struct fanout_entry *table_find(const struct table *t, const char *key, size_t len)
{
    struct fanout_entry *e;

    if (t->size == 0)
        return NULL;
    for (e = t->buckets[hash(key, len) & (t->size - 1)]; e; e = e->hnext)
        if (strlen(e->key) == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static void table_insert(struct fanout_entry **buckets, size_t size, struct fanout_entry *e)
{
    size_t b = hash(e->key, strlen(e->key)) & (size - 1);

    e->hnext = buckets[b];
    buckets[b] = e;
}

static void table_add(struct table *t, struct fanout_entry *e)
{
    if (t->count >= t->size) {
        size_t nsize = t->size ? t->size * 2 : 64, i;
        struct fanout_entry **nb = xcalloc(nsize, sizeof(*nb)), *x, *next;

        for (i = 0; i < t->size; i++)
            for (x = t->buckets[i]; x; x = next) {
                next = x->hnext;
                table_insert(nb, nsize, x);
            }
        free(t->buckets);
        t->buckets = nb;
        t->size = nsize;
    }
    table_insert(t->buckets, t->size, e);
    t->count++;
}

static void table_del(struct table *t, struct fanout_entry *e)
{
    struct fanout_entry **pp = &t->buckets[hash(e->key, strlen(e->key)) & (t->size - 1)];

    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = e->hnext;
        t->count--;
    }
}

/* Call fn on every entry; fn may free the entry it is given. */
static void table_each(struct table *t, struct fanout *f,
                       void (*fn)(struct fanout *, struct fanout_entry *))
{
    size_t i;
    struct fanout_entry *e, *next;

    for (i = 0; i < t->size; i++)
        for (e = t->buckets[i]; e; e = next) {
            next = e->hnext;
            fn(f, e);
        }
}

/* ------------------------------------------------------------- entries */

static struct table *table_of(struct fanout *f, int pattern)
{
    return pattern ? &f->patterns : &f->channels;
}

static int confirmed(const struct fanout_entry *e)
{
    return e->subscribed && e->inflight == 0;
}

static void entry_maybe_free(struct fanout *f, struct fanout_entry *e)
{
    if (e->refs > 0 || e->inflight > 0)
        return;
    table_del(table_of(f, e->pattern), e);
    free(e->name);
    free(e->key);
    free(e);
}

static struct fanout_entry *entry_get(struct fanout *f, const char *name)
{
    int pattern = channel_is_pattern(name);
    char *key = pattern ? pattern_to_redis(name) : xstrdup(name);
    struct table *t = table_of(f, pattern);
    struct fanout_entry *e = table_find(t, key, strlen(key));

    if (e) {
        free(key);
        return e;
    }
    e = xcalloc(1, sizeof(*e));
    e->name = xstrdup(name);
    e->key = key;
    e->pattern = pattern;
    table_add(t, e);
    return e;
}

static void entry_send_subscribe(struct fanout *f, struct fanout_entry *e)
{
    if (redis_subscribe(f->gw->redis, e->pattern, e->key) == 0) {
        e->inflight++;
        e->subscribed = 1;
    }
}

static void entry_acquire(struct fanout *f, struct fanout_entry *e)
{
    if (e->refs++ > 0)
        return;
    f->nactive++;
    if (!e->subscribed)
        entry_send_subscribe(f, e);
}

static void entry_release(struct fanout *f, struct fanout_entry *e)
{
    if (--e->refs > 0)
        return;
    f->nactive--;
    if (e->subscribed) {
        e->subscribed = 0;
        if (redis_unsubscribe(f->gw->redis, e->pattern, e->key) == 0)
            e->inflight++;
    }
    entry_maybe_free(f, e);
}

/* ------------------------------------------------------ peers and subs */

static int cmp_sub_name(const void *key, const void *elem)
{
    const struct subscription *const *s = elem;

    return strcmp(key, (*s)->entry->name);
}

/* Index where `name` is or would be inserted in p->subs. */
static size_t peer_find(const struct fanout_peer *p, const char *name, int *found)
{
    size_t lo = 0, hi = p->nsubs;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_sub_name(name, &p->subs[mid]);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void hold(struct fanout *f, struct subscription *sub, struct message *m)
{
    if (sub->held == NULL)
        sub->held = xcalloc(FANOUT_HOLD_MAX, sizeof(*sub->held));
    if (sub->nheld == FANOUT_HOLD_MAX) {
        message_unref(sub->held[0]);
        memmove(sub->held, sub->held + 1, (FANOUT_HOLD_MAX - 1) * sizeof(*sub->held));
        sub->nheld--;
        f->dropped++;
    }
    sub->held[sub->nheld++] = message_ref(m);
}

static void drop_held(struct subscription *sub)
{
    size_t i;

    for (i = 0; i < sub->nheld; i++)
        message_unref(sub->held[i]);
    free(sub->held);
    sub->held = NULL;
    sub->nheld = 0;
}

static void drop_floors(struct subscription *sub)
{
    size_t i;

    for (i = 0; i < sub->nfloors; i++)
        free(sub->floors[i].channel);
    free(sub->floors);
    sub->floors = NULL;
    sub->nfloors = sub->floors_active = 0;
}

static int cmp_floor_key(const void *key, const void *elem)
{
    const struct floor *fl = elem;

    return strcmp(key, fl->channel);
}

/* 1 when m is not already in the history this subscription sent. ts
 * strictly increases per interface (docs/PROTOCOL.md). */
static int pass_floor(struct subscription *sub, const struct message *m)
{
    struct floor *fl;

    if (sub->floors_active == 0)
        return 1;
    fl = bsearch(m->channel, sub->floors, sub->nfloors, sizeof(*fl), cmp_floor_key);
    if (fl == NULL || !fl->active)
        return 1;
    if (m->has_ts && m->ts <= fl->ts)
        return 0;
    fl->active = 0;
    if (--sub->floors_active == 0)
        drop_floors(sub);
    return 1;
}

static void sub_free(struct fanout *f, struct subscription *sub)
{
    struct fanout_entry *e = sub->entry;

    if (sub->prev)
        sub->prev->next = sub->next;
    else
        e->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    if (sub->fetch)
        sub->fetch->sub = NULL; /* the replies still due free it */
    drop_held(sub);
    drop_floors(sub);
    free(sub);
    f->nsubs--;
    entry_release(f, e);
}

struct fanout_peer *fanout_peer_new(struct fanout *f, fanout_deliver_fn deliver, void *ctx)
{
    struct fanout_peer *p = xcalloc(1, sizeof(*p));

    p->f = f;
    p->deliver = deliver;
    p->ctx = ctx;
    return p;
}

void fanout_peer_free(struct fanout_peer *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->nsubs; i++)
        sub_free(p->f, p->subs[i]);
    free(p->subs);
    free(p);
}

size_t fanout_peer_count(const struct fanout_peer *p)
{
    return p->nsubs;
}

int fanout_peer_has(const struct fanout_peer *p, const char *channel)
{
    int found;

    peer_find(p, channel, &found);
    return found;
}

void fanout_peer_subscribe(struct fanout_peer *p, const char *channel)
{
    struct fanout *f = p->f;
    struct subscription *sub;
    struct fanout_entry *e;
    int found;
    size_t at = peer_find(p, channel, &found);

    if (found)
        return;
    if (p->nsubs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->subs = realloc(p->subs, p->cap * sizeof(*p->subs));
        if (p->subs == NULL)
            abort();
    }
    e = entry_get(f, channel);
    sub = xcalloc(1, sizeof(*sub));
    sub->entry = e;
    sub->peer = p;
    sub->next = e->subs;
    if (e->subs)
        e->subs->prev = sub;
    e->subs = sub;
    memmove(p->subs + at + 1, p->subs + at, (p->nsubs - at) * sizeof(*p->subs));
    p->subs[at] = sub;
    p->nsubs++;
    f->nsubs++;
    entry_acquire(f, e);

    if (!e->pattern && !channel_has_history(channel, f->gw->cfg->redis.prefix))
        sub->state = SUB_LIVE; /* device state and inventory channels keep no history */
    else if (confirmed(e))
        start_fetch(sub);
    else
        sub->state = SUB_WAIT_REDIS;
}

void fanout_peer_unsubscribe(struct fanout_peer *p, const char *channel)
{
    int found;
    size_t at = peer_find(p, channel, &found);

    if (!found)
        return;
    sub_free(p->f, p->subs[at]);
    memmove(p->subs + at, p->subs + at + 1, (p->nsubs - at - 1) * sizeof(*p->subs));
    p->nsubs--;
}

/* ------------------------------------------------------------- history */

static void fetch_free(struct history_fetch *fetch)
{
    size_t i;

    for (i = 0; i < fetch->nitems; i++) {
        free(fetch->items[i].channel);
        message_unref(fetch->items[i].frame);
    }
    free(fetch->items);
    free(fetch);
}

/* The JSON string for `s` (quotes included), or NULL when s is not valid
 * UTF-8. Caller frees. */
static char *json_quote(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    char *out;

    if (j == NULL)
        return NULL;
    out = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(j);
    return out;
}

/* The collector's `ts` of a sample, if it is one. */
static int sample_ts(const json_t *sample, double *ts)
{
    json_t *v = json_object_get(sample, "ts");

    if (!json_is_number(v))
        return 0;
    *ts = json_number_value(v);
    return 1;
}

/* Turn an LRANGE reply into {"channel":C,"history":[...]}: the stored
 * samples, oldest first, embedded as they are; anything that is not a
 * JSON object is left out. */
static void build_history(struct fetch_item *item, const redisReply *reply)
{
    char *quoted = json_quote(item->channel, strlen(item->channel));
    size_t i, len, n = 0;
    char *text;

    if (quoted == NULL)
        return;
    len = strlen("{\"channel\":") + strlen(quoted) + strlen(",\"history\":[]}");
    for (i = 0; reply && i < reply->elements; i++)
        len += reply->element[i]->len + 1;
    item->frame = message_new(MESSAGE_HISTORY, item->channel, len);
    text = message_text(item->frame);
    n = (size_t)sprintf(text, "{\"channel\":%s,\"history\":[", quoted);
    free(quoted);
    for (i = 0; reply && i < reply->elements; i++) {
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
        if (sample_ts(sample, &ts)) {
            item->has_ts = 1;
            item->newest_ts = ts;
        }
        json_decref(sample);
        if (text[n - 1] != '[')
            text[n++] = ',';
        memcpy(text + n, el->str, el->len);
        n += el->len;
    }
    memcpy(text + n, "]}", 3);
    item->frame->len = n + 2;
    item->frame->has_ts = item->has_ts;
    item->frame->ts = item->newest_ts;
}

static int cmp_floor(const void *a, const void *b)
{
    const struct floor *x = a, *y = b;

    return strcmp(x->channel, y->channel);
}

/* Every reply is in: send the history frames, then the held live messages
 * that are newer than their channel's history, and go live. */
static void fetch_complete(struct history_fetch *fetch)
{
    struct subscription *sub = fetch->sub;
    size_t i;

    if (sub == NULL) {
        fetch_free(fetch);
        return;
    }
    drop_floors(sub);
    sub->floors = xcalloc(fetch->nitems, sizeof(*sub->floors));
    for (i = 0; i < fetch->nitems; i++) {
        struct fetch_item *item = &fetch->items[i];

        if (item->frame == NULL)
            continue;
        sub->peer->deliver(sub->peer->ctx, item->frame);
        if (item->has_ts) {
            sub->floors[sub->nfloors].channel = item->channel;
            sub->floors[sub->nfloors].ts = item->newest_ts;
            sub->floors[sub->nfloors].active = 1;
            sub->nfloors++;
            item->channel = NULL; /* moved */
        }
    }
    sub->floors_active = sub->nfloors;
    if (sub->nfloors == 0)
        drop_floors(sub);
    else
        qsort(sub->floors, sub->nfloors, sizeof(*sub->floors), cmp_floor);
    for (i = 0; i < sub->nheld; i++)
        if (pass_floor(sub, sub->held[i]))
            sub->peer->deliver(sub->peer->ctx, sub->held[i]);
    drop_held(sub);
    sub->state = SUB_LIVE;
    sub->fetch = NULL;
    fetch_free(fetch);
}

static void fetch_reply_done(struct history_fetch *fetch)
{
    if (--fetch->outstanding == 0)
        fetch_complete(fetch);
}

static void on_history(void *arg, redisReply *reply)
{
    struct fetch_item *item = arg;
    struct history_fetch *fetch = item->fetch;

    if (fetch->sub) {
        if (reply && reply->type == REDIS_REPLY_ARRAY)
            build_history(item, reply);
        else if (reply && reply->type == REDIS_REPLY_ERROR)
            log_warn("redis: LRANGE for %s: %s", item->channel, reply->str);
    }
    fetch_reply_done(fetch);
}

static void request_history(struct history_fetch *fetch, struct fetch_item *item)
{
    const struct config_redis *rc = &fetch->f->gw->cfg->redis;
    char *key = channel_history_key(item->channel, rc->prefix);

    fetch->outstanding++;
    if (redis_lrange(fetch->f->gw->redis, key, -(long)rc->history, -1, on_history, item) < 0)
        fetch->outstanding--; /* no history: the subscription goes live without */
    free(key);
}

/* The interface channels of an inventory snapshot that `pattern` matches
 * and that the peer does not hold exactly (it got their history then). */
static void collect_channels(struct history_fetch *fetch, const json_t *inv)
{
    const char *pattern = fetch->sub->entry->name;
    const json_t *site, *dev, *ifc;
    size_t i, j, k, cap = 0;

    json_array_foreach(json_object_get(inv, "sites"), i, site)
    {
        json_array_foreach(json_object_get(site, "devices"), j, dev)
        {
            json_array_foreach(json_object_get(dev, "interfaces"), k, ifc)
            {
                const char *ch = json_string_value(json_object_get(ifc, "channel"));

                if (ch == NULL || !channel_matches(pattern, ch) ||
                    fanout_peer_has(fetch->sub->peer, ch))
                    continue;
                if (fetch->nitems == cap) {
                    cap = cap ? cap * 2 : 16;
                    fetch->items = realloc(fetch->items, cap * sizeof(*fetch->items));
                    if (fetch->items == NULL)
                        abort();
                }
                memset(&fetch->items[fetch->nitems], 0, sizeof(*fetch->items));
                fetch->items[fetch->nitems].fetch = fetch;
                fetch->items[fetch->nitems].channel = xstrdup(ch);
                fetch->nitems++;
            }
        }
    }
}

static void on_inventory(void *arg, redisReply *reply)
{
    struct history_fetch *fetch = arg;
    json_t *inv;
    size_t i;

    if (fetch->sub && reply && reply->type == REDIS_REPLY_STRING) {
        inv = json_loadb(reply->str, reply->len, 0, NULL);
        if (json_is_object(inv))
            collect_channels(fetch, inv);
        json_decref(inv);
        /* The items array is final now: each LRANGE callback points into it. */
        for (i = 0; i < fetch->nitems; i++)
            request_history(fetch, &fetch->items[i]);
    }
    fetch_reply_done(fetch);
}

static void start_fetch(struct subscription *sub)
{
    struct fanout *f = sub->peer->f;
    struct history_fetch *fetch = xcalloc(1, sizeof(*fetch));
    char *key;
    size_t n;

    fetch->f = f;
    fetch->sub = sub;
    sub->fetch = fetch;
    sub->state = SUB_FETCHING;
    /* One guard count so that nothing completes while requests are still
     * being sent. */
    fetch->outstanding = 1;
    if (sub->entry->pattern) {
        n = strlen(f->gw->cfg->redis.prefix) + sizeof(":inventory");
        key = malloc(n);
        if (key == NULL)
            abort();
        snprintf(key, n, "%s:inventory", f->gw->cfg->redis.prefix);
        fetch->outstanding++;
        if (redis_get(f->gw->redis, key, on_inventory, fetch) < 0)
            fetch->outstanding--;
        free(key);
    } else {
        fetch->items = xcalloc(1, sizeof(*fetch->items));
        fetch->nitems = 1;
        fetch->items[0].fetch = fetch;
        fetch->items[0].channel = xstrdup(sub->entry->name);
        request_history(fetch, &fetch->items[0]);
    }
    fetch_reply_done(fetch);
}

/* --------------------------------------------------------------- Redis */

static void entry_start_waiting(struct fanout_entry *e)
{
    struct subscription *sub, *next;

    for (sub = e->subs; sub; sub = next) {
        next = sub->next;
        if (sub->state == SUB_WAIT_REDIS)
            start_fetch(sub);
    }
}

static void resubscribe(struct fanout *f, struct fanout_entry *e)
{
    e->inflight = 0;
    e->subscribed = 0;
    if (e->refs > 0)
        entry_send_subscribe(f, e);
    else
        entry_maybe_free(f, e);
}

static void forget_redis(struct fanout *f, struct fanout_entry *e)
{
    e->inflight = 0;
    e->subscribed = 0;
    entry_maybe_free(f, e);
}

static void on_subscriber_up(void *ctx)
{
    struct fanout *f = ctx;

    table_each(&f->channels, f, resubscribe);
    table_each(&f->patterns, f, resubscribe);
}

static void on_subscriber_down(void *ctx)
{
    struct fanout *f = ctx;

    table_each(&f->channels, f, forget_redis);
    table_each(&f->patterns, f, forget_redis);
}

static void on_ack(void *ctx, int pattern, const char *name, size_t len)
{
    struct fanout *f = ctx;
    struct fanout_entry *e = table_find(table_of(f, pattern), name, len);

    if (e == NULL)
        return;
    if (e->inflight > 0)
        e->inflight--;
    if (confirmed(e))
        entry_start_waiting(e);
    else
        entry_maybe_free(f, e);
}

/* The message for this PUBLISH, built once: a repeat of the previous
 * Redis message (its pmessage twins) returns the same object. NULL when
 * the payload is not a JSON object or the channel not UTF-8. */
static struct message *shared_message(struct fanout *f, const char *channel, size_t clen,
                                      const char *payload, size_t plen)
{
    static const char head[] = "{\"channel\":", mid[] = ",\"data\":";
    struct message *m = f->last;
    json_t *data;
    char *quoted, *text;
    size_t qlen, n;

    if (m && plen == f->last_payload_len && strlen(m->channel) == clen &&
        memcmp(m->channel, channel, clen) == 0 &&
        memcmp(message_text(m) + f->last_payload_off, payload, plen) == 0)
        return m;
    message_unref(f->last);
    f->last = NULL;
    f->gen++;
    if (memchr(channel, '\0', clen))
        return NULL;
    data = json_loadb(payload, plen, 0, NULL);
    quoted = json_is_object(data) ? json_quote(channel, clen) : NULL;
    if (quoted == NULL) {
        f->invalid++;
        log_debug("ignoring a message on %.*s: not a JSON object", (int)clen, channel);
        json_decref(data);
        return NULL;
    }
    qlen = strlen(quoted);
    n = sizeof(head) - 1 + qlen + sizeof(mid) - 1 + plen + 1;
    m = message_new(MESSAGE_DATA, NULL, n);
    m->channel = malloc(clen + 1);
    if (m->channel == NULL)
        abort();
    memcpy(m->channel, channel, clen);
    m->channel[clen] = '\0';
    m->has_ts = sample_ts(data, &m->ts);
    json_decref(data);
    text = message_text(m);
    memcpy(text, head, sizeof(head) - 1);
    memcpy(text + sizeof(head) - 1, quoted, qlen);
    memcpy(text + sizeof(head) - 1 + qlen, mid, sizeof(mid) - 1);
    f->last_payload_off = sizeof(head) - 1 + qlen + sizeof(mid) - 1;
    f->last_payload_len = plen;
    memcpy(text + f->last_payload_off, payload, plen);
    text[n - 1] = '}';
    free(quoted);
    f->last = m;
    return m;
}

static void on_message(void *ctx, const char *pattern, size_t pattern_len, const char *channel,
                       size_t channel_len, const char *payload, size_t payload_len)
{
    struct fanout *f = ctx;
    struct fanout_entry *e;
    struct subscription *sub;
    struct message *m = shared_message(f, channel, channel_len, payload, payload_len);

    if (m == NULL)
        return;
    e = pattern ? table_find(&f->patterns, pattern, pattern_len)
                : table_find(&f->channels, channel, channel_len);
    if (e == NULL)
        return; /* unsubscribed meanwhile */
    for (sub = e->subs; sub; sub = sub->next) {
        struct fanout_peer *p = sub->peer;

        if (p->last_gen == f->gen)
            continue;
        p->last_gen = f->gen;
        if (sub->state != SUB_LIVE)
            hold(f, sub, m);
        else if (pass_floor(sub, m))
            p->deliver(p->ctx, m);
    }
}

const struct redis_hooks fanout_redis_hooks = {
    .on_subscriber_up = on_subscriber_up,
    .on_subscriber_down = on_subscriber_down,
    .on_ack = on_ack,
    .on_message = on_message,
};

/* ----------------------------------------------------------------- API */

struct fanout *fanout_create(struct gateway *gw)
{
    struct fanout *f = xcalloc(1, sizeof(*f));

    f->gw = gw;
    return f;
}

static void free_entry(struct fanout *f, struct fanout_entry *e)
{
    free(e->name);
    free(e->key);
    free(e);
}

void fanout_free(struct fanout *f)
{
    if (f == NULL)
        return;
    table_each(&f->channels, f, free_entry);
    table_each(&f->patterns, f, free_entry);
    free(f->channels.buckets);
    free(f->patterns.buckets);
    message_unref(f->last);
    free(f);
}

void fanout_stats(const struct fanout *f, struct fanout_stats *out)
{
    out->subscriptions = f->nsubs;
    out->redis_channels = f->nactive;
    out->dropped = f->dropped;
    out->invalid = f->invalid;
}
