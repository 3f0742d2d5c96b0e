/* fanout.h -- which connection wants which channel, and getting each Redis
 * message to exactly those connections.
 *
 * A registry of channels and patterns, reference-counted over the
 * gateway's single Redis subscriber connection (pubsub.h): the first
 * subscription to a name subscribes it in Redis, the last one leaving
 * unsubscribes it. Each message is decoded once and its outgoing text
 * built once; every receiver gets a reference. A subscription's history
 * is handed over before its live messages (history.h); this file decides
 * when that may start. A new subscription is held (its live messages
 * kept, its history not started) until its owner has acknowledged it,
 * which it does once Redis has confirmed it (fanout_peer_confirmed()), so
 * that nothing published after the acknowledgement is missed. A
 * connection is a `fanout_peer` here: this file knows nothing of
 * WebSockets. */

#ifndef IFMON_GATEWAY_FANOUT_H
#define IFMON_GATEWAY_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "history.h"
#include "outmsg.h"
#include "pubsub.h"

struct fanout;
struct fanout_peer;
struct fanout_group;

/* Hand a message to a connection. The callee takes its own reference if
 * it keeps the message; it must not subscribe, unsubscribe or free a peer
 * from here (asserted). */
typedef void (*fanout_deliver_fn)(void *ctx, struct outmsg *m);

/* Redis confirmed a subscription the peer holds and has not released yet:
 * fanout_peer_confirmed() may have changed for some of its channels. The
 * callee may release subscriptions (fanout_peer_release()), not subscribe,
 * unsubscribe or free a peer (asserted). */
typedef void (*fanout_confirmed_fn)(void *ctx);

struct fanout_stats {
    uint64_t subscriptions;  /* connection-channel pairs */
    uint64_t redis_channels; /* channels + patterns wanted in Redis */
    uint64_t dropped;        /* held messages dropped (hold buffer full) */
    uint64_t invalid;        /* Redis messages that were not a JSON object */
    uint64_t groups;         /* groups of peers holding the same set */
    uint64_t grouped;        /* peers in them */
};

/* The hooks to give pubsub_create(), with the fanout as ctx. */
extern const struct pubsub_hooks fanout_pubsub_hooks;

/* gw->pubsub, gw->inventory and gw->eventlist may be set after this call
 * but before the loop runs. The gateway's own subscriptions to
 * `<prefix>:inventory` (inventory.h) and `<prefix>:events:*`
 * (eventlist.h) are made with the others once Redis is up. */
struct fanout *fanout_create(struct gateway *gw);

/* Free the registry; every peer must have been freed before (asserted). */
void fanout_free(struct fanout *f);

/* The figures of /metrics (the gateway's own subscription not counted). */
void fanout_stats(const struct fanout *f, struct fanout_stats *out);

/* Subscriptions held over all peers (fanout_stats' subscriptions). */
size_t fanout_subscriptions(const struct fanout *f);

/* A new connection with nothing subscribed; deliver(ctx, m) gets its
 * messages, confirmed(ctx) hears of confirmations. Never NULL. */
struct fanout_peer *fanout_peer_new(struct fanout *f, fanout_deliver_fn deliver,
                                    fanout_confirmed_fn confirmed, void *ctx);

/* Unsubscribe everything the peer holds and free it (p may be NULL).
 * History fetches in flight are cancelled (their replies are ignored). */
void fanout_peer_free(struct fanout_peer *p);

/* Channels and patterns the peer holds. */
size_t fanout_peer_count(const struct fanout_peer *p);

/* 1 when the peer holds exactly this channel or pattern. */
int fanout_peer_has(const struct fanout_peer *p, const char *channel);

/* The i-th channel or pattern the peer holds (in no particular order, and
 * an unsubscribe may move another one to the index it frees; borrowed
 * until it is unsubscribed), or NULL when i >= fanout_peer_count(). */
const char *fanout_peer_channel(const struct fanout_peer *p, size_t i);

/* Subscribe the peer to a channel or pattern that passed channel_check()
 * (asserted); returns 1 when it is a new subscription, 0 (and nothing
 * happens) when the peer already holds it. A new subscription belongs to
 * `request` (the caller's number for the request that made it) and is
 * held: its live messages are kept (at most HISTORY_HOLD_MAX, history.h)
 * and nothing of it is delivered until fanout_peer_release(). */
int fanout_peer_subscribe(struct fanout_peer *p, const char *channel, uint64_t request);

/* 1 when the peer holds `channel` from `request` and has not released
 * it yet. */
int fanout_peer_held_by(const struct fanout_peer *p, const char *channel, uint64_t request);

/* 1 when the peer holds `channel` and Redis has confirmed the
 * subscription: every message published from now on will reach it. */
int fanout_peer_confirmed(const struct fanout_peer *p, const char *channel);

/* The acknowledgement of `request` has been queued: deliver the history
 * of its subscription to `channel` (an interface channel's, or the
 * inventory's interface channels' that a pattern matches; within
 * `budget`, shared by the subscriptions of one request and referenced as
 * long as needed), then its live messages; a channel without history, or
 * a NULL budget (the request said "history": false), gets what was held
 * at once, and then live messages. Nothing happens when the peer does not hold the
 * channel, or holds it from another request, or it was released before. */
void fanout_peer_release(struct fanout_peer *p, const char *channel, uint64_t request,
                         struct history_budget *budget);

/* Drop one subscription; nothing happens when the peer does not hold it.
 * Nothing more of it is delivered after this returns. */
void fanout_peer_unsubscribe(struct fanout_peer *p, const char *channel);

/* Groups (see fanout.c): peers holding the same set of live
 * subscriptions share one delivery per message. A grouped peer's own
 * deliver callback gets nothing: its group's does, once for all its
 * members. fanout_peer_subscribe(), fanout_peer_unsubscribe() and
 * fanout_peer_free() need the peer out of its group (asserted).
 *
 * Join the group of p's set, made if there is none: its subscriptions
 * stop reaching p itself. Returns the group (p's already when grouped),
 * or NULL when p holds nothing, or something not live yet (held, its
 * history not handed over, or a floor left: history.h), and stays as it
 * was. A new group has no callback yet: fanout_group_ctx() is NULL, and
 * the caller sets one with fanout_group_set() before anything more is
 * delivered. */
struct fanout_group *fanout_peer_join(struct fanout_peer *p);

/* The group's callback and its ctx. */
void *fanout_group_ctx(const struct fanout_group *g);
void fanout_group_set(struct fanout_group *g, fanout_deliver_fn deliver, void *ctx);

/* p's group, or NULL. */
struct fanout_group *fanout_peer_group(const struct fanout_peer *p);

/* Take p out of its group (nothing happens when it has none). With
 * `unpark`, its subscriptions reach it on its own again at once; without,
 * they reach nobody (p is about to be freed: its subscriptions can be
 * dropped over time without putting them back first). Returns the
 * group's ctx when p was its last member (the group is gone: the caller
 * frees what the ctx holds), else NULL. */
void *fanout_peer_leave(struct fanout_peer *p, int unpark);

#endif
