/* fanout.c -- see fanout.h.
 *
 * Redis state per name: `refs` counts subscriptions; `subscribed` says the
 * last command sent on the current connection was (P)SUBSCRIBE;
 * `inflight` counts (P)(UN)SUBSCRIBE commands not yet acknowledged. A name
 * is confirmed when subscribed and nothing is in flight: only then can an
 * LRANGE on the other connection be sure to see every sample that the
 * subscription will not (the collector RPUSHes before it PUBLISHes), so
 * only then does a subscription's history fetch start (history.h holds
 * its live messages from the moment it subscribes).
 *
 * A client holding a channel and a pattern matching it, or two
 * overlapping patterns, gets the message once: Redis sends the `message`
 * and the `pmessage`s of one PUBLISH back to back, the gateway recognises
 * the repeats (same channel, same payload, adjacent) and reuses the
 * message and its generation number, and a peer that already got that
 * generation is skipped.
 *
 * Not here: the hash table itself (chantable.c), the history hand-off
 * (history.c), the Redis connections (pubsub.c). */

#include "fanout.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"
#include "chantable.h"
#include "history.h"
#include "json_text.h"
#include "keys.h"
#include "log.h"
#include "util.h"

/* One name wanted in Redis: a channel, or a pattern. */
struct fanout_entry {
    struct chantable_entry node; /* key: the name in Redis */
    char *name;                  /* as the client wrote it */
    char *pattern_key;           /* patterns: the escaped Redis form (node.key), owned */
    int pattern;
    unsigned refs;
    unsigned inflight;
    int subscribed;
    struct subscription *subs;
};

/* One peer's hold on one entry. */
struct subscription {
    struct fanout_entry *entry;
    struct fanout_peer *peer;
    struct subscription *prev, *next; /* in entry->subs */
    struct history history;
};

struct fanout_peer {
    struct fanout *f;
    fanout_deliver_fn deliver;
    void *ctx;
    struct subscription **subs; /* sorted by entry->name */
    size_t nsubs, cap;
    uint64_t last_gen; /* generation of the last message delivered or held */
};

struct fanout {
    struct gateway *gw;
    struct chantable channels, patterns;
    uint64_t nactive; /* entries with refs > 0 */
    uint64_t nsubs;
    uint64_t dropped, invalid;
    /* The last message built, to recognise the repeats of one PUBLISH. */
    struct outmsg *last;
    size_t last_payload_off, last_payload_len;
    uint64_t gen;
    unsigned delivering; /* inside a peer's deliver callback */
};

/* ------------------------------------------------------------- delivery */

static void deliver_to(struct fanout_peer *p, struct outmsg *m)
{
    struct fanout *f = p->f;

    f->delivering++;
    p->deliver(p->ctx, m);
    f->delivering--;
}

/* history_hooks, with the peer as ctx. */
static void history_deliver(void *ctx, struct outmsg *m)
{
    deliver_to(ctx, m);
}

static int history_holds_exactly(void *ctx, const char *channel)
{
    return fanout_peer_has(ctx, channel);
}

static const struct history_hooks peer_history_hooks = {
    .deliver = history_deliver,
    .holds_exactly = history_holds_exactly,
};

/* -------------------------------------------------------------- entries */

static struct fanout_entry *entry_of(struct chantable_entry *node)
{
    return node ? CHANTABLE_CONTAINER(node, struct fanout_entry, node) : NULL;
}

static struct chantable *table_of(struct fanout *f, int pattern)
{
    return pattern ? &f->patterns : &f->channels;
}

static int confirmed(const struct fanout_entry *e)
{
    return e->subscribed && e->inflight == 0;
}

static void entry_destroy(struct fanout_entry *e)
{
    free(e->name);
    free(e->pattern_key);
    free(e);
}

static void entry_maybe_free(struct fanout *f, struct fanout_entry *e)
{
    if (e->refs > 0 || e->inflight > 0)
        return;
    chantable_remove(table_of(f, e->pattern), &e->node);
    entry_destroy(e);
}

static struct fanout_entry *entry_get(struct fanout *f, const char *name)
{
    int pattern = channel_is_pattern(name);
    char *pattern_key = pattern ? channel_pattern_to_redis(name) : NULL;
    const char *key = pattern ? pattern_key : name;
    struct chantable *t = table_of(f, pattern);
    struct fanout_entry *e = entry_of(chantable_find(t, key, strlen(key)));

    if (e) {
        free(pattern_key);
        return e;
    }
    e = ifmon_xcalloc(1, sizeof(*e));
    e->name = ifmon_xstrdup(name);
    e->pattern_key = pattern_key;
    e->pattern = pattern;
    e->node.key = pattern ? pattern_key : e->name;
    e->node.key_len = strlen(e->node.key);
    chantable_add(t, &e->node);
    return e;
}

static void entry_send_subscribe(struct fanout *f, struct fanout_entry *e)
{
    if (pubsub_subscribe(f->gw->pubsub, e->pattern, e->node.key) == 0) {
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
        if (pubsub_unsubscribe(f->gw->pubsub, e->pattern, e->node.key) == 0)
            e->inflight++;
    }
    entry_maybe_free(f, e);
}

/* The entry is confirmed: start the history of the subscriptions that
 * wait for it. */
static void entry_start_waiting(struct fanout *f, struct fanout_entry *e)
{
    struct subscription *sub, *next;

    for (sub = e->subs; sub; sub = next) {
        next = sub->next;
        if (sub->history.state == HISTORY_WAITING)
            history_fetch(&sub->history, f->gw, e->name, e->pattern, &peer_history_hooks,
                          sub->peer);
    }
}

/* ------------------------------------------------------ peers and subs */

/* Index where `name` is or would be inserted in p->subs. */
static size_t peer_find(const struct fanout_peer *p, const char *name, int *found)
{
    size_t lo = 0, hi = p->nsubs;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, p->subs[mid]->entry->name);

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

static void sub_free(struct fanout *f, struct subscription *sub)
{
    struct fanout_entry *e = sub->entry;

    if (sub->prev)
        sub->prev->next = sub->next;
    else
        e->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    history_release(&sub->history);
    free(sub);
    f->nsubs--;
    entry_release(f, e);
}

struct fanout_peer *fanout_peer_new(struct fanout *f, fanout_deliver_fn deliver, void *ctx)
{
    struct fanout_peer *p = ifmon_xcalloc(1, sizeof(*p));

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
    IFMON_ASSERT(p->f->delivering == 0);
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
    const char *prefix = f->gw->cfg->redis.prefix;
    struct subscription *sub;
    struct fanout_entry *e;
    int found;
    size_t at;

    IFMON_ASSERT(f->delivering == 0);
    IFMON_ASSERT(channel_check(channel, prefix, NULL, 0) == 0);
    at = peer_find(p, channel, &found);
    if (found)
        return;
    if (p->nsubs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->subs = ifmon_xrealloc(p->subs, p->cap * sizeof(*p->subs));
    }
    e = entry_get(f, channel);
    sub = ifmon_xcalloc(1, sizeof(*sub));
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

    /* Device state and inventory channels keep no history. */
    history_init(&sub->history,
                 e->pattern || ifmon_channel_kind(channel, prefix) == IFMON_CHANNEL_INTERFACE);
    if (sub->history.state == HISTORY_WAITING && confirmed(e))
        history_fetch(&sub->history, f->gw, e->name, e->pattern, &peer_history_hooks, p);
}

void fanout_peer_unsubscribe(struct fanout_peer *p, const char *channel)
{
    int found;
    size_t at;

    IFMON_ASSERT(p->f->delivering == 0);
    at = peer_find(p, channel, &found);
    if (!found)
        return;
    sub_free(p->f, p->subs[at]);
    memmove(p->subs + at, p->subs + at + 1, (p->nsubs - at - 1) * sizeof(*p->subs));
    p->nsubs--;
}

/* --------------------------------------------------------------- Redis */

static void resubscribe(struct chantable_entry *node, void *arg)
{
    struct fanout *f = arg;
    struct fanout_entry *e = entry_of(node);

    e->inflight = 0;
    e->subscribed = 0;
    if (e->refs > 0)
        entry_send_subscribe(f, e);
    else
        entry_maybe_free(f, e);
}

static void forget_redis(struct chantable_entry *node, void *arg)
{
    struct fanout *f = arg;
    struct fanout_entry *e = entry_of(node);

    e->inflight = 0;
    e->subscribed = 0;
    entry_maybe_free(f, e);
}

static void on_subscriber_up(void *ctx)
{
    struct fanout *f = ctx;

    chantable_each(&f->channels, resubscribe, f);
    chantable_each(&f->patterns, resubscribe, f);
}

static void on_subscriber_down(void *ctx)
{
    struct fanout *f = ctx;

    chantable_each(&f->channels, forget_redis, f);
    chantable_each(&f->patterns, forget_redis, f);
}

static void on_ack(void *ctx, int pattern, const char *name, size_t len)
{
    struct fanout *f = ctx;
    struct fanout_entry *e = entry_of(chantable_find(table_of(f, pattern), name, len));

    if (e == NULL)
        return;
    if (e->inflight > 0)
        e->inflight--;
    if (confirmed(e))
        entry_start_waiting(f, e);
    else
        entry_maybe_free(f, e);
}

/* The message for this PUBLISH, {"channel":C,"data":PAYLOAD}, built once:
 * a repeat of the previous Redis message (its pmessage twins) returns the
 * same object. NULL when the payload is not a JSON object or the channel
 * not UTF-8 (or holding a NUL). */
static struct outmsg *shared_message(struct fanout *f, const char *channel, size_t clen,
                                     const char *payload, size_t plen)
{
    static const char head[] = "{\"channel\":", mid[] = ",\"data\":";
    struct outmsg *m = f->last;
    json_t *data;
    char *quoted = NULL, *text;
    size_t qlen = 0, replaced = 0, n;

    if (m && plen == f->last_payload_len && strlen(m->channel) == clen &&
        memcmp(m->channel, channel, clen) == 0 &&
        memcmp(outmsg_text(m) + f->last_payload_off, payload, plen) == 0)
        return m;
    outmsg_unref(f->last);
    f->last = NULL;
    f->gen++;
    if (memchr(channel, '\0', clen))
        return NULL;
    data = json_loadb(payload, plen, 0, NULL);
    if (json_is_object(data))
        quoted = ifmon_json_quote(channel, clen, &qlen, &replaced);
    if (quoted == NULL || replaced > 0) {
        f->invalid++;
        log_debug("ignoring a message on %.*s: not a JSON object", (int)clen, channel);
        json_decref(data);
        free(quoted);
        return NULL;
    }
    n = sizeof(head) - 1 + qlen + sizeof(mid) - 1 + plen + 1;
    m = outmsg_new(OUTMSG_DATA, NULL, n);
    m->channel = ifmon_xstrndup(channel, clen);
    m->has_ts = history_sample_ts(data, &m->ts);
    json_decref(data);
    text = outmsg_text(m);
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
    struct outmsg *m = shared_message(f, channel, channel_len, payload, payload_len);

    if (m == NULL)
        return;
    e = pattern ? entry_of(chantable_find(&f->patterns, pattern, pattern_len))
                : entry_of(chantable_find(&f->channels, channel, channel_len));
    if (e == NULL)
        return; /* unsubscribed meanwhile */
    for (sub = e->subs; sub; sub = sub->next) {
        struct fanout_peer *p = sub->peer;

        if (p->last_gen == f->gen)
            continue;
        p->last_gen = f->gen;
        if (history_admit(&sub->history, m, &f->dropped))
            deliver_to(p, m);
    }
}

const struct pubsub_hooks fanout_pubsub_hooks = {
    .on_subscriber_up = on_subscriber_up,
    .on_subscriber_down = on_subscriber_down,
    .on_ack = on_ack,
    .on_message = on_message,
};

/* ----------------------------------------------------------------- API */

struct fanout *fanout_create(struct gateway *gw)
{
    struct fanout *f = ifmon_xcalloc(1, sizeof(*f));

    f->gw = gw;
    return f;
}

/* At the end: entries left are those waiting for an acknowledgement. */
static void free_entry(struct chantable_entry *node, void *arg)
{
    entry_destroy(entry_of(node));
}

void fanout_free(struct fanout *f)
{
    if (f == NULL)
        return;
    IFMON_ASSERT(f->nsubs == 0);
    chantable_each(&f->channels, free_entry, f);
    chantable_each(&f->patterns, free_entry, f);
    chantable_free(&f->channels);
    chantable_free(&f->patterns);
    outmsg_unref(f->last);
    free(f);
}

void fanout_stats(const struct fanout *f, struct fanout_stats *out)
{
    out->subscriptions = f->nsubs;
    out->redis_channels = f->nactive;
    out->dropped = f->dropped;
    out->invalid = f->invalid;
}
