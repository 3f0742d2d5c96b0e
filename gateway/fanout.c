/* fanout.c -- see fanout.h.
 *
 * Redis state per name: `refs` counts subscriptions; `subscribed` says the
 * last command sent on the current connection was (P)SUBSCRIBE;
 * `inflight` counts (P)(UN)SUBSCRIBE commands not yet acknowledged. A name
 * is confirmed when subscribed and nothing is in flight: only then can an
 * LRANGE on the other connection be sure to see every sample that the
 * subscription will not (the collector RPUSHes before it PUBLISHes), and
 * only then may the client be told it is subscribed. A subscription is
 * held from the moment it is made (history.h keeps its live messages)
 * until its owner releases it, after queuing the acknowledgement, which
 * it does once every entry of the request is confirmed; its history fetch
 * starts then.
 *
 * A client holding a channel and a pattern matching it, or two
 * overlapping patterns, gets the message once: Redis sends the `message`
 * and the `pmessage`s of one PUBLISH back to back, the gateway recognises
 * the repeats (same channel, same payload, adjacent) and reuses the
 * message and its generation number, and a peer that already got that
 * generation is skipped.
 *
 * The gateway itself holds `<prefix>:inventory` and `<prefix>:events:*`
 * (entries with `own` set, never unsubscribed, not counted in the
 * metrics): a message there tells inventory.c that the snapshot changed,
 * or eventlist.c that an event was published, before any client hears of
 * it, and its confirmation that changes will be heard of.
 *
 * A peer finds its subscriptions by name in a small open-addressing hash
 * table of its own, so that a request of n channels costs O(n), whatever
 * the peer holds.
 *
 * Groups. Viewers of the same sites hold the same channels, and the
 * fan-out's work, per message and receiver, was most of the gateway's
 * own. A peer whose subscriptions are all live (released, history handed
 * over, no floor left) may join the group of the peers holding exactly
 * the same set (fanout_peer_join(), found by a hash of the set's
 * entries): its subscriptions are then parked, out of their entries'
 * receivers, and each entry lists the group once instead. A message
 * reaches a group once, whatever its number of members, and the group's
 * owner (client_group.c) builds one frame for all of them. Changing a
 * peer's subscriptions takes it out of its group first (asserted), and
 * its parked subscriptions back into their entries.
 *
 * Not here: the hash table of names (chantable.c), the history hand-off
 * (history.c), the Redis connections (pubsub.c). */

#include "fanout.h"

#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "chantable.h"
#include "eventlist.h"
#include "history.h"
#include "inventory.h"
#include "json_check.h"
#include "json_text.h"
#include "keys.h"
#include "log.h"
#include "util.h"

/* How many receivers on the fan-out loop fetches a subscription and its
 * peer before it serves them. */
#define PREFETCH_AHEAD 8
/* A channel name quoted as JSON on the stack (shared_message()) when it
 * fits: interface channels are far shorter. */
#define QUOTE_ON_STACK 512
/* ... and the peer's connection (the deliver callback's ctx), once the
 * peer is in the cache. */
#define CTX_AHEAD 3

/* One receiver of an entry's messages: the subscription and its peer side
 * by side, so that the fan-out loop reads one array and can fetch a few
 * receivers ahead (subscriptions and peers lie all over the heap). */
struct fanout_recv {
    struct subscription *sub;
    struct fanout_peer *peer;
};

/* A group in an entry's list, and where the entry is in the group's. */
struct fanout_entry_group {
    struct fanout_group *group;
    size_t slot; /* in group->slots */
};

/* An entry in a group's list, and where the group is in the entry's. */
struct fanout_group_slot {
    struct fanout_entry *entry;
    size_t pos; /* in entry->groups */
};

/* Peers holding the same set of live subscriptions (see the top of this
 * file). What a message reads comes first. */
struct fanout_group {
    uint64_t last_gen; /* generation of the last message delivered */
    fanout_deliver_fn deliver;
    void *ctx;
    uint64_t key; /* the set's hash: group_key() */
    struct fanout_group *next; /* in its bucket of f->groups */
    struct fanout_group_slot *slots; /* the set's entries, in no order */
    size_t nslots;
    size_t nmembers;
};

/* One name wanted in Redis: a channel, or a pattern. What a message
 * reads comes first (the table's node, then the receivers), and a
 * channel's name is in the same allocation, right after: finding the
 * entry of a message's channel touches one block, not two. */
struct fanout_entry {
    struct chantable_entry node; /* key: the name in Redis */
    struct fanout_recv *recv;    /* the subscriptions, in no order */
    size_t nrecv, recv_cap;
    struct fanout_entry_group *groups; /* groups holding it, in no order */
    size_t ngroups, groups_cap;
    char *name;        /* as the client wrote it: name_buf */
    char *pattern_key; /* patterns: the escaped Redis form (node.key), owned */
    int pattern;
    int own;       /* held by the gateway itself: the inventory's channel */
    unsigned refs; /* subscriptions of peers */
    unsigned inflight;
    int subscribed;
    char name_buf[]; /* the name, NUL-terminated */
};

/* One peer's hold on one entry. The history comes first: the fan-out
 * reads its state for every message, and nothing else here. */
struct subscription {
    struct history history;
    struct fanout_entry *entry;
    struct fanout_peer *peer;
    struct history_budget *budget; /* starting with history: its request's */
    uint64_t request;              /* held: the owner's request that made it */
    uint32_t hash;                 /* of entry->name, for the peer's table */
    /* A peer holds at most gateway.max_channels subscriptions and an
     * entry at most one per connection: 32 bits are plenty, and keep the
     * subscription, one per connection and channel, in a 112-byte block. */
    uint32_t index;              /* in peer->subs */
    uint32_t entry_index;        /* in entry->recv */
    unsigned char held;          /* not released yet: nothing is delivered */
    unsigned char wants_history; /* an interface channel, or a pattern but an events one */
    unsigned char starting;      /* released before its entry was confirmed */
    unsigned char parked;        /* not in entry->recv: its peer's group is in entry->groups */
};

/* What the fan-out reads for every message comes first. */
struct fanout_peer {
    uint64_t last_gen; /* generation of the last message delivered or held */
    void *ctx;
    fanout_deliver_fn deliver;
    fanout_confirmed_fn confirmed;
    struct fanout *f;
    struct subscription **subs; /* in no order (an unsubscribe moves the last one) */
    size_t nsubs, cap;
    struct subscription **slots; /* by name: linear probing, at most half full */
    size_t nslots;               /* a power of two, or 0 */
    struct fanout_group *group;  /* NULL unless grouped: its subscriptions are parked */
};

struct fanout {
    struct gateway *gw;
    struct history_registry *history; /* LRANGEs shared by the subscriptions */
    struct chantable channels, patterns;
    struct fanout_entry *inventory; /* the gateway's own: <prefix>:inventory */
    struct fanout_entry *events;    /* the gateway's own: <prefix>:events:* */
    uint64_t nactive;               /* entries with refs > 0 */
    uint64_t nsubs;
    /* Groups by key: chained, a power of two of buckets (or 0). */
    struct fanout_group **groups;
    size_t nbuckets, ngroups, ngrouped;
    uint64_t dropped, invalid;
    /* The last message built, to recognise the repeats of one PUBLISH. */
    struct outmsg *last;
    size_t last_payload_off, last_payload_len;
    uint64_t gen;
    unsigned delivering; /* inside a peer's deliver callback */
    unsigned notifying;  /* inside a peer's confirmed callback */
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
    IFMON_ASSERT(e->ngroups == 0);
    free(e->groups);
    free(e->recv);
    free(e->pattern_key);
    free(e);
}

static void entry_maybe_free(struct fanout *f, struct fanout_entry *e)
{
    if (e->refs > 0 || e->inflight > 0 || e->own)
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
    size_t len;

    if (e) {
        free(pattern_key);
        return e;
    }
    len = strlen(name);
    e = ifmon_xcalloc(1, sizeof(*e) + len + 1);
    e->name = e->name_buf;
    memcpy(e->name_buf, name, len + 1);
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
    if (e->own)
        return;
    if (e->subscribed) {
        e->subscribed = 0;
        if (pubsub_unsubscribe(f->gw->pubsub, e->pattern, e->node.key) == 0)
            e->inflight++;
    }
    entry_maybe_free(f, e);
}

/* A released subscription whose entry is confirmed: its history, or what
 * it held. */
static void sub_start(struct fanout *f, struct subscription *sub)
{
    struct fanout_entry *e = sub->entry;

    IFMON_ASSERT(!sub->held && sub->history.state == HISTORY_WAITING && sub->starting);
    sub->starting = 0;
    if (sub->wants_history)
        history_fetch(&sub->history, f->history, e->name, e->pattern, sub->budget,
                      &peer_history_hooks, sub->peer);
    else
        history_skip(&sub->history, &peer_history_hooks, sub->peer);
    history_budget_unref(sub->budget);
    sub->budget = NULL;
}

/* The entry is confirmed: tell the peers whose subscription waits for it
 * to be acknowledged, and start those already released (after a
 * reconnection to Redis). */
static void entry_confirmed(struct fanout *f, struct fanout_entry *e)
{
    size_t i;

    if (e == f->inventory && f->gw->inventory)
        inventory_watch(f->gw->inventory, 1);
    if (e == f->events && f->gw->eventlist)
        eventlist_watch(f->gw->eventlist, 1);
    /* The callbacks below neither add nor remove subscriptions. */
    for (i = 0; i < e->nrecv; i++) {
        struct subscription *sub = e->recv[i].sub;
        struct fanout_peer *p = sub->peer;

        if (sub->held) {
            f->notifying++;
            p->confirmed(p->ctx);
            f->notifying--;
        } else if (sub->history.state == HISTORY_WAITING && sub->starting) {
            sub_start(f, sub);
        }
    }
}

/* ------------------------------------------------------ peers and subs */

static uint32_t name_hash(const char *name)
{
    uint64_t h = ifmon_fnv1a_str(IFMON_FNV1A_INIT, name);

    return (uint32_t)(h ^ (h >> 32));
}

/* 1 for a pattern "<prefix>:events:...*", which matches events channels
 * only (no device is named "events"). */
static int events_pattern(const char *name, const char *prefix)
{
    size_t plen = strlen(prefix);

    return strncmp(name, prefix, plen) == 0 && strncmp(name + plen, ":events:", 8) == 0;
}

/* The peer's subscription to `name`, or NULL. */
static struct subscription *peer_find(const struct fanout_peer *p, const char *name)
{
    uint32_t h;
    size_t mask, i;

    if (p->nslots == 0)
        return NULL;
    h = name_hash(name);
    mask = p->nslots - 1;
    for (i = h & mask; p->slots[i]; i = (i + 1) & mask)
        if (p->slots[i]->hash == h && strcmp(p->slots[i]->entry->name, name) == 0)
            return p->slots[i];
    return NULL;
}

static void slot_insert(struct subscription **slots, size_t nslots, struct subscription *sub)
{
    size_t mask = nslots - 1, i = sub->hash & mask;

    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = sub;
}

/* Room for one more subscription, the table kept at most half full. */
static void peer_reserve(struct fanout_peer *p)
{
    size_t i;

    if (p->nsubs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->subs = ifmon_xrealloc(p->subs, p->cap * sizeof(*p->subs));
    }
    if (2 * (p->nsubs + 1) > p->nslots) {
        free(p->slots);
        p->nslots = p->nslots ? p->nslots * 2 : 8;
        p->slots = ifmon_xcalloc(p->nslots, sizeof(*p->slots));
        for (i = 0; i < p->nsubs; i++)
            slot_insert(p->slots, p->nslots, p->subs[i]);
    }
}

/* Take sub out of the peer's table (linear probing's backward shift: the
 * entries after it that would not be found past the hole move into it)
 * and out of its array. */
static void peer_remove(struct fanout_peer *p, struct subscription *sub)
{
    size_t mask = p->nslots - 1, i, j, home;

    for (i = sub->hash & mask; p->slots[i] != sub; i = (i + 1) & mask)
        IFMON_ASSERT(p->slots[i] != NULL);
    p->slots[i] = NULL;
    for (j = (i + 1) & mask; p->slots[j]; j = (j + 1) & mask) {
        home = p->slots[j]->hash & mask;
        /* Found from `home` on when home is cyclically in (i, j]. */
        if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
            continue;
        p->slots[i] = p->slots[j];
        p->slots[j] = NULL;
        i = j;
    }
    p->subs[sub->index] = p->subs[p->nsubs - 1];
    p->subs[sub->index]->index = sub->index;
    p->nsubs--;
}

/* sub becomes one of its entry's receivers. */
static void recv_add(struct subscription *sub)
{
    struct fanout_entry *e = sub->entry;

    if (e->nrecv == e->recv_cap) {
        e->recv_cap = e->recv_cap ? e->recv_cap * 2 : 4;
        e->recv = ifmon_xrealloc(e->recv, e->recv_cap * sizeof(*e->recv));
    }
    IFMON_ASSERT(e->nrecv < UINT32_MAX);
    sub->entry_index = (uint32_t)e->nrecv;
    e->recv[e->nrecv++] = (struct fanout_recv){sub, sub->peer};
}

static void recv_remove(struct subscription *sub)
{
    struct fanout_entry *e = sub->entry;
    struct fanout_recv *last = &e->recv[--e->nrecv];

    e->recv[sub->entry_index] = *last;
    last->sub->entry_index = sub->entry_index;
    if (e->nrecv == 0) {
        free(e->recv);
        e->recv = NULL;
        e->recv_cap = 0;
    } else if (e->recv_cap >= 16 && e->nrecv <= e->recv_cap / 4) {
        e->recv_cap /= 2;
        e->recv = ifmon_xrealloc(e->recv, e->recv_cap * sizeof(*e->recv));
    }
}

static void sub_free(struct fanout *f, struct subscription *sub)
{
    struct fanout_entry *e = sub->entry;

    if (!sub->parked)
        recv_remove(sub);
    history_release(&sub->history);
    history_budget_unref(sub->budget);
    free(sub);
    f->nsubs--;
    entry_release(f, e);
}

struct fanout_peer *fanout_peer_new(struct fanout *f, fanout_deliver_fn deliver,
                                    fanout_confirmed_fn on_confirmed, void *ctx)
{
    struct fanout_peer *p = ifmon_xcalloc(1, sizeof(*p));

    p->f = f;
    p->deliver = deliver;
    p->confirmed = on_confirmed;
    p->ctx = ctx;
    return p;
}

void fanout_peer_free(struct fanout_peer *p)
{
    size_t i;

    if (p == NULL)
        return;
    IFMON_ASSERT(p->f->delivering == 0 && p->f->notifying == 0 && p->group == NULL);
    for (i = 0; i < p->nsubs; i++)
        sub_free(p->f, p->subs[i]);
    free(p->subs);
    free(p->slots);
    free(p);
}

size_t fanout_peer_count(const struct fanout_peer *p)
{
    return p->nsubs;
}

int fanout_peer_has(const struct fanout_peer *p, const char *channel)
{
    return peer_find(p, channel) != NULL;
}

const char *fanout_peer_channel(const struct fanout_peer *p, size_t i)
{
    return i < p->nsubs ? p->subs[i]->entry->name : NULL;
}

int fanout_peer_held_by(const struct fanout_peer *p, const char *channel, uint64_t request)
{
    const struct subscription *sub = peer_find(p, channel);

    return sub && sub->held && sub->request == request;
}

int fanout_peer_confirmed(const struct fanout_peer *p, const char *channel)
{
    const struct subscription *sub = peer_find(p, channel);

    return sub && confirmed(sub->entry);
}

void fanout_peer_release(struct fanout_peer *p, const char *channel, uint64_t request,
                         struct history_budget *budget)
{
    struct subscription *sub = peer_find(p, channel);

    IFMON_ASSERT(p->f->delivering == 0);
    if (sub == NULL || !sub->held || sub->request != request)
        return;
    sub->held = 0;
    sub->starting = 1;
    if (budget == NULL)
        sub->wants_history = 0; /* "history": false, live data only */
    else
        sub->budget = history_budget_ref(budget);
    if (confirmed(sub->entry))
        sub_start(p->f, sub);
}

int fanout_peer_subscribe(struct fanout_peer *p, const char *channel, uint64_t request)
{
    struct fanout *f = p->f;
    const char *prefix = f->gw->cfg->redis.prefix;
    struct subscription *sub;
    struct fanout_entry *e;

    IFMON_ASSERT(f->delivering == 0 && f->notifying == 0 && p->group == NULL);
    IFMON_ASSERT(channel_check(channel, prefix, NULL, 0) == 0);
    if (peer_find(p, channel))
        return 0;
    peer_reserve(p);
    e = entry_get(f, channel);
    sub = ifmon_xcalloc(1, sizeof(*sub));
    sub->entry = e;
    sub->peer = p;
    sub->hash = name_hash(e->name);
    recv_add(sub);
    IFMON_ASSERT(p->nsubs < UINT32_MAX);
    sub->index = (uint32_t)p->nsubs;
    p->subs[p->nsubs++] = sub;
    slot_insert(p->slots, p->nslots, sub);
    f->nsubs++;
    entry_acquire(f, e);

    /* Held until released; device state, inventory and events channels
     * keep no history, nor does a pattern of events channels only. */
    history_init(&sub->history);
    sub->held = 1;
    sub->request = request;
    sub->wants_history = e->pattern
                             ? !events_pattern(channel, prefix)
                             : ifmon_channel_kind(channel, prefix) == IFMON_CHANNEL_INTERFACE;
    return 1;
}

void fanout_peer_unsubscribe(struct fanout_peer *p, const char *channel)
{
    struct subscription *sub;

    IFMON_ASSERT(p->f->delivering == 0 && p->f->notifying == 0 && p->group == NULL);
    sub = peer_find(p, channel);
    if (sub == NULL)
        return;
    peer_remove(p, sub);
    sub_free(p->f, sub);
}

/* --------------------------------------------------------------- groups */

/* A subscription that may be parked: nothing of it is held back. */
static int sub_live(const struct subscription *sub)
{
    return !sub->held && !sub->starting && sub->history.state == HISTORY_LIVE &&
           sub->history.floors_active == 0;
}

/* The set's hash: a sum, so that the order of the peer's subscriptions
 * does not matter, of each entry's address mixed (splitmix64's finaliser). */
static uint64_t entry_mix(const struct fanout_entry *e)
{
    uint64_t x = (uint64_t)(uintptr_t)e;

    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* 1 when p holds exactly g's set (p->nsubs == g->nslots checked before). */
static int group_matches(const struct fanout_group *g, const struct fanout_peer *p)
{
    size_t i;

    for (i = 0; i < g->nslots; i++) {
        const struct subscription *sub = peer_find(p, g->slots[i].entry->name);

        if (sub == NULL || sub->entry != g->slots[i].entry)
            return 0;
    }
    return 1;
}

static void groups_grow(struct fanout *f)
{
    size_t n = f->nbuckets ? f->nbuckets * 2 : 64, i;
    struct fanout_group **b = ifmon_xcalloc(n, sizeof(*b));

    for (i = 0; i < f->nbuckets; i++) {
        struct fanout_group *g, *next;

        for (g = f->groups[i]; g; g = next) {
            next = g->next;
            g->next = b[g->key & (n - 1)];
            b[g->key & (n - 1)] = g;
        }
    }
    free(f->groups);
    f->groups = b;
    f->nbuckets = n;
}

/* A new group of p's set, listed in each of its entries. */
static struct fanout_group *group_new(struct fanout *f, struct fanout_peer *p, uint64_t key)
{
    struct fanout_group *g = ifmon_xcalloc(1, sizeof(*g));
    size_t i, b;

    if (f->ngroups >= f->nbuckets)
        groups_grow(f);
    g->key = key;
    g->nslots = p->nsubs;
    g->slots = ifmon_xcalloc(g->nslots, sizeof(*g->slots));
    for (i = 0; i < p->nsubs; i++) {
        struct fanout_entry *e = p->subs[i]->entry;

        if (e->ngroups == e->groups_cap) {
            e->groups_cap = e->groups_cap ? e->groups_cap * 2 : 2;
            e->groups = ifmon_xrealloc(e->groups, e->groups_cap * sizeof(*e->groups));
        }
        g->slots[i] = (struct fanout_group_slot){e, e->ngroups};
        e->groups[e->ngroups++] = (struct fanout_entry_group){g, i};
    }
    b = key & (f->nbuckets - 1);
    g->next = f->groups[b];
    f->groups[b] = g;
    f->ngroups++;
    return g;
}

/* The last member left: out of its entries and of the table. */
static void group_destroy(struct fanout *f, struct fanout_group *g)
{
    struct fanout_group **pp = &f->groups[g->key & (f->nbuckets - 1)];
    size_t i;

    for (i = 0; i < g->nslots; i++) {
        struct fanout_entry *e = g->slots[i].entry;
        size_t pos = g->slots[i].pos;
        struct fanout_entry_group *last = &e->groups[--e->ngroups];

        e->groups[pos] = *last;
        last->group->slots[last->slot].pos = pos;
        if (e->ngroups == 0) {
            free(e->groups);
            e->groups = NULL;
            e->groups_cap = 0;
        }
    }
    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    f->ngroups--;
    free(g->slots);
    free(g);
}

struct fanout_group *fanout_peer_join(struct fanout_peer *p)
{
    struct fanout *f = p->f;
    struct fanout_group *g;
    uint64_t key = 0;
    size_t i;

    IFMON_ASSERT(f->delivering == 0 && f->notifying == 0);
    if (p->group || p->nsubs == 0)
        return p->group;
    for (i = 0; i < p->nsubs; i++) {
        if (!sub_live(p->subs[i]))
            return NULL;
        key += entry_mix(p->subs[i]->entry);
    }
    g = f->nbuckets ? f->groups[key & (f->nbuckets - 1)] : NULL;
    while (g && (g->key != key || g->nslots != p->nsubs || !group_matches(g, p)))
        g = g->next;
    if (g == NULL)
        g = group_new(f, p, key);
    for (i = 0; i < p->nsubs; i++) {
        recv_remove(p->subs[i]);
        p->subs[i]->parked = 1;
    }
    p->group = g;
    g->nmembers++;
    f->ngrouped++;
    return g;
}

void *fanout_group_ctx(const struct fanout_group *g)
{
    return g->ctx;
}

void fanout_group_set(struct fanout_group *g, fanout_deliver_fn deliver, void *ctx)
{
    g->deliver = deliver;
    g->ctx = ctx;
}

void *fanout_peer_leave(struct fanout_peer *p, int unpark)
{
    struct fanout *f = p->f;
    struct fanout_group *g = p->group;
    void *ctx;
    size_t i;

    IFMON_ASSERT(f->delivering == 0 && f->notifying == 0);
    if (g == NULL)
        return NULL;
    p->group = NULL;
    f->ngrouped--;
    if (unpark) {
        for (i = 0; i < p->nsubs; i++) {
            p->subs[i]->parked = 0;
            recv_add(p->subs[i]);
        }
    }
    if (--g->nmembers > 0)
        return NULL;
    ctx = g->ctx;
    group_destroy(f, g);
    return ctx;
}

struct fanout_group *fanout_peer_group(const struct fanout_peer *p)
{
    return p->group;
}

/* --------------------------------------------------------------- Redis */

static void resubscribe(struct chantable_entry *node, void *arg)
{
    struct fanout *f = arg;
    struct fanout_entry *e = entry_of(node);

    e->inflight = 0;
    e->subscribed = 0;
    if (e->refs > 0 || e->own)
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

    if (f->gw->inventory)
        inventory_watch(f->gw->inventory, 0);
    if (f->gw->eventlist)
        eventlist_watch(f->gw->eventlist, 0);
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
        entry_confirmed(f, e);
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
    /* The channel as a JSON string: on the stack unless it is long. */
    char small[QUOTE_ON_STACK], *quoted = small, *text;
    size_t qlen, replaced = 0, n;
    double ts = 0;
    int check;

    if (m && plen == f->last_payload_len && strlen(m->channel) == clen &&
        memcmp(m->channel, channel, clen) == 0 &&
        memcmp(outmsg_text(m) + f->last_payload_off, payload, plen) == 0)
        return m;
    outmsg_unref(f->last);
    f->last = NULL;
    f->gen++;
    if (memchr(channel, '\0', clen))
        return NULL;
    /* Checked, never parsed into a tree: the payload is relayed as it is
     * (common/json_check.h). */
    check = ifmon_json_check_object(payload, plen, &ts);
    if (check >= 0) {
        if (IFMON_JSON_QUOTED_MAX(clen) + 1 > sizeof(small))
            quoted = ifmon_xmalloc(IFMON_JSON_QUOTED_MAX(clen) + 1);
        qlen = ifmon_json_quote_into(quoted, channel, clen, &replaced);
    }
    if (check < 0 || replaced > 0) {
        f->invalid++;
        log_debug("ignoring a message on %.*s: not a JSON object", (int)clen, channel);
        if (quoted != small)
            free(quoted);
        return NULL;
    }
    n = sizeof(head) - 1 + qlen + sizeof(mid) - 1 + plen + 1;
    m = outmsg_new_channel(OUTMSG_DATA, channel, clen, n);
    m->has_ts = check == 1;
    m->ts = ts;
    text = outmsg_text(m);
    memcpy(text, head, sizeof(head) - 1);
    memcpy(text + sizeof(head) - 1, quoted, qlen);
    memcpy(text + sizeof(head) - 1 + qlen, mid, sizeof(mid) - 1);
    f->last_payload_off = sizeof(head) - 1 + qlen + sizeof(mid) - 1;
    f->last_payload_len = plen;
    memcpy(text + f->last_payload_off, payload, plen);
    text[n - 1] = '}';
    if (quoted != small)
        free(quoted);
    f->last = m;
    return m;
}

static void on_message(void *ctx, const char *pattern, size_t pattern_len, const char *channel,
                       size_t channel_len, const char *payload, size_t payload_len)
{
    struct fanout *f = ctx;
    struct fanout_entry *e;
    struct outmsg *m;
    size_t i, n;

    /* The snapshot changed: the copy is read again before any client,
     * told by this message, can ask for it. */
    if (pattern == NULL && f->inventory && f->gw->inventory &&
        channel_len == strlen(f->inventory->name) &&
        memcmp(channel, f->inventory->name, channel_len) == 0)
        inventory_changed(f->gw->inventory);
    /* An event: the copy of the list is stale before any client, told by
     * this message (or by its `subscribed`, which comes after it), asks. */
    if (pattern && f->gw->eventlist && pattern_len == f->events->node.key_len &&
        memcmp(pattern, f->events->node.key, pattern_len) == 0)
        eventlist_changed(f->gw->eventlist);
    m = shared_message(f, channel, channel_len, payload, payload_len);
    if (m == NULL)
        return;
    e = pattern ? entry_of(chantable_find(&f->patterns, pattern, pattern_len))
                : entry_of(chantable_find(&f->channels, channel, channel_len));
    if (e == NULL)
        return; /* unsubscribed meanwhile */
    /* Subscriptions, peers and their connections lie all over the heap and
     * cache misses were most of this loop's time: fetch the subscription
     * and peer PREFETCH_AHEAD receivers on, and the first two lines of the
     * context (the connection) CTX_AHEAD on (its peer fetched by then),
     * while this one is served. */
    n = e->nrecv;
    for (i = 0; i < n; i++) {
        struct subscription *sub = e->recv[i].sub;
        struct fanout_peer *p = e->recv[i].peer;

        if (i + PREFETCH_AHEAD < n) {
            __builtin_prefetch(e->recv[i + PREFETCH_AHEAD].sub);
            __builtin_prefetch(e->recv[i + PREFETCH_AHEAD].peer);
        }
        if (i + CTX_AHEAD < n) {
            const char *next_ctx = e->recv[i + CTX_AHEAD].peer->ctx;

            __builtin_prefetch(next_ctx);
            __builtin_prefetch(next_ctx + 64);
        }
        if (p->last_gen == f->gen)
            continue;
        p->last_gen = f->gen;
        if (history_admit(&sub->history, m, &f->dropped))
            deliver_to(p, m);
    }
    /* Groups: one delivery each, for all their members. */
    n = e->ngroups;
    for (i = 0; i < n; i++) {
        struct fanout_group *g = e->groups[i].group;

        if (g->last_gen == f->gen)
            continue;
        g->last_gen = f->gen;
        f->delivering++;
        g->deliver(g->ctx, m);
        f->delivering--;
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
    struct ifmon_key key, events;
    int rc = ifmon_key_inventory(&key, gw->cfg->redis.prefix);

    rc |= ifmon_key_events(&events, gw->cfg->redis.prefix, "*");
    IFMON_ASSERT(rc == 0); /* the loader holds the prefix to IFMON_PREFIX_MAX */
    f->gw = gw;
    f->history = history_registry_new(gw);
    /* Subscribed in Redis with everything else once the subscriber
     * connection is up (on_subscriber_up). */
    f->inventory = entry_get(f, key.s);
    f->inventory->own = 1;
    f->events = entry_get(f, events.s);
    f->events->own = 1;
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
    IFMON_ASSERT(f->nsubs == 0 && f->ngroups == 0);
    free(f->groups);
    chantable_each(&f->channels, free_entry, f);
    chantable_each(&f->patterns, free_entry, f);
    chantable_free(&f->channels);
    chantable_free(&f->patterns);
    outmsg_unref(f->last);
    history_registry_free(f->history);
    free(f);
}

size_t fanout_subscriptions(const struct fanout *f)
{
    return f->nsubs;
}

void fanout_stats(const struct fanout *f, struct fanout_stats *out)
{
    out->subscriptions = f->nsubs;
    out->redis_channels = f->nactive;
    out->dropped = f->dropped;
    out->invalid = f->invalid;
    out->groups = f->ngroups;
    out->grouped = f->ngrouped;
}
