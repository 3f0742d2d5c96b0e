/* history.h -- the hand-off from a subscription's stored history to its
 * live data (docs/PROTOCOL.md, part 2, "History, then live data"): no
 * gap and no duplicate between the two, at a bounded cost.
 *
 * For an interface channel the history is its list
 * `<prefix>:history:<device>:<interface>` (one LRANGE); for a pattern, the
 * lists of the inventory's interface channels it matches (the gateway's
 * copy of `<prefix>:inventory`, inventory.h, then one LRANGE each, at most
 * HISTORY_LRANGE_INFLIGHT at a time). Each list becomes one history frame,
 * sent as soon as its reply is in. Until a channel's frame is sent, the
 * subscription's live messages of that channel are held here; right after
 * it come the held messages newer than the frame, and from then on the
 * channel is live. A live message not newer than the history may still
 * arrive after that (it was in flight on the subscriber connection when
 * the LRANGE reply was read): each channel keeps a "floor", the newest
 * `ts` of its history, until its first newer message passes. `ts` strictly
 * increases per interface (docs/PROTOCOL.md, part 1).
 *
 * The history of one subscribe request (all its channels and patterns
 * together) is capped by a budget (struct history_budget): samples are
 * reserved before each LRANGE asks for them, bytes are counted as frames
 * are built. A channel that meets the cap gets its newest samples only
 * (its frame says "truncated"); a pattern's channels past the cap get no
 * frame and start with live data, and the pattern a notice saying how many.
 *
 * History also has a cost per connection: a token bucket of samples
 * (struct history_bucket, HISTORY_CONN_RATE a second, bursts of
 * HISTORY_CONN_BURST), from which every LRANGE takes what it asks for (at
 * least one, even for an empty list) and gets back what it did not use.
 * An empty bucket is a spent budget: what comes after gets no history, as
 * past a request's cap. So subscribing and unsubscribing in a loop costs
 * Redis a bounded number of samples a second.
 *
 * LRANGEs are shared (struct history_registry, one per gateway): a
 * subscription that needs a channel's list while an LRANGE of it is in
 * flight takes its reply too, if that LRANGE was sent after this
 * subscription's fetch started (so Redis ran it after the subscription
 * was confirmed, and every sample it does not have reaches the
 * subscription live: no gap); otherwise it waits for the next LRANGE of
 * the channel, which goes when the one in flight is back and answers all
 * that waited meanwhile. A channel has at most one LRANGE in flight,
 * however many subscriptions want it, and each reply is parsed once.
 *
 * fanout.c decides when to start (once the Redis subscription is
 * confirmed and the request acknowledged, see the top of fanout.c) and
 * routes each live message through history_admit(). Nothing here knows
 * of connections. Two files implement it: history.c (one subscription's
 * hand-off) and history_reads.c (the shared LRANGEs, the budgets and
 * buckets); history_private.h is what they share. */

#ifndef IFMON_GATEWAY_HISTORY_H
#define IFMON_GATEWAY_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gateway.h"
#include "outmsg.h"

/* Live messages held per subscription while it waits; past this the
 * oldest held is dropped (and counted). */
#define HISTORY_HOLD_MAX 1024
/* LRANGEs in flight per subscription: what one reply costs the loop is
 * one list's parsing, and a pattern over thousands of interfaces has at
 * most this many lists' replies in memory at once. */
#define HISTORY_LRANGE_INFLIGHT 8
/* The history one subscribe request may send, all its channels and
 * patterns together: 20,000 samples (66 full lists of the default 300)
 * and 4 MiB, which is also a connection's outgoing queue (client.h), so
 * that a request's history does not push itself out of that queue. */
#define HISTORY_REQUEST_MAX_SAMPLES 20000
#define HISTORY_REQUEST_MAX_BYTES (4u << 20)
/* The samples one connection may ask Redis for: 2,000 a second, in bursts
 * of 40,000 (two requests at their cap; a page that shows 100 interfaces
 * of 300 samples gets them all at once, and again after 15 s). */
#define HISTORY_CONN_RATE 2000.0
#define HISTORY_CONN_BURST 40000.0

enum history_state {
    HISTORY_LIVE = 0, /* handed over, or no history wanted: messages pass (floors aside) */
    HISTORY_WAITING,  /* not started yet: messages are held */
    HISTORY_FETCHING, /* queries in flight: messages of channels without their frame yet are held */
};

/* Who gets the hand-off. Neither callback may start, release or fetch
 * a history. */
struct history_hooks {
    /* Hand a frame or a held message to the subscriber; the callee takes
     * its own reference if it keeps it. */
    void (*deliver)(void *ctx, struct outmsg *m);
    /* 1 when the subscriber holds `channel` as an exact subscription (it
     * got that channel's history then): a pattern leaves it out. */
    int (*holds_exactly)(void *ctx, const char *channel);
};

struct history_fetch;
struct history_floor;
struct history_budget;
struct history_bucket;
struct history_registry;

/* One subscription's hand-off, embedded in the subscription. */
struct history {
    /* What history_admit() reads for every live message, first. */
    enum history_state state;
    size_t floors_active;
    struct history_fetch *fetch; /* FETCHING: the queries in flight */
    struct outmsg **held;        /* live messages kept, oldest first */
    size_t nheld;
    struct history_floor *floors; /* LIVE: sorted by channel */
    size_t nfloors;
};

struct history_stats {
    uint64_t lranges; /* LRANGEs sent */
    uint64_t shared;  /* lists a subscription got from another one's LRANGE */
};

/* The gateway's LRANGEs, shared between subscriptions; gw->pubsub and
 * gw->inventory may be set after this call but before the loop runs.
 * Never NULL. */
struct history_registry *history_registry_new(struct gateway *gw);
/* After the loop has finished (every LRANGE has had its reply). r may be
 * NULL. */
void history_registry_free(struct history_registry *r);
void history_registry_stats(const struct history_registry *r, struct history_stats *out);

/* A connection's bucket, full (HISTORY_CONN_BURST), with one reference
 * (the caller's); each budget given it takes its own. */
struct history_bucket *history_bucket_new(void);
struct history_bucket *history_bucket_ref(struct history_bucket *b);
/* Drop a reference; b may be NULL. */
void history_bucket_unref(struct history_bucket *b);
/* Add what HISTORY_CONN_RATE gives between the last refill and now_ms
 * (the caller's monotonic clock; the first call only starts the clock). */
void history_bucket_refill(struct history_bucket *b, uint64_t now_ms);
/* Samples left in the bucket. */
size_t history_bucket_level(const struct history_bucket *b);

/* A new budget of `max_samples` samples and `max_bytes` bytes of history
 * frames, drawing also on the connection's `bucket` (a reference is
 * taken; NULL: no bound per connection), with one reference (the
 * caller's). Each history_fetch() given it takes its own. */
struct history_budget *history_budget_new(size_t max_samples, size_t max_bytes,
                                          struct history_bucket *bucket);
/* Take another reference; returns b. */
struct history_budget *history_budget_ref(struct history_budget *b);
/* Drop a reference; b may be NULL. */
void history_budget_unref(struct history_budget *b);

/* Prepare h: HISTORY_WAITING, holding live messages until
 * history_fetch() or history_skip(). */
void history_init(struct history *h);

/* Start the queries for a HISTORY_WAITING subscription, whose Redis
 * subscription is confirmed: an LRANGE for `name`, an interface channel,
 * or for a pattern the inventory's matching interface channels, within
 * `budget` (shared with the other subscriptions of the same request).
 * `name` is borrowed until history_release(); hooks/ctx are used until
 * the hand-off is done or h is released. A query Redis cannot take (the
 * query connection is down) or that fails gives no frame: its channel
 * goes live with what it held. Frames and held messages may be delivered
 * before this returns. */
void history_fetch(struct history *h, struct history_registry *reg, const char *name, int pattern,
                   struct history_budget *budget, const struct history_hooks *hooks, void *ctx);

/* A HISTORY_WAITING subscription that wants no history (device state and
 * inventory channels): deliver what it held and go live. */
void history_skip(struct history *h, const struct history_hooks *hooks, void *ctx);

/* The slow path of history_admit(). */
int history_admit_held_or_floor(struct history *h, struct outmsg *m, uint64_t *dropped);

/* A live message of the subscription: 1 when it is to be delivered now;
 * 0 when it is held for later (a held message dropped to make room is
 * added to *dropped) or is already in the history sent. */
static inline int history_admit(struct history *h, struct outmsg *m, uint64_t *dropped)
{
    if (h->state == HISTORY_LIVE && h->floors_active == 0)
        return 1;
    return history_admit_held_or_floor(h, m, dropped);
}

/* The subscription goes away: cancel the queries (their replies are
 * ignored when they come), drop what is held and the floors. */
void history_release(struct history *h);

#endif
