/* fanout.h -- which connection wants which channel, and getting each Redis
 * message to exactly those connections.
 *
 * A registry of channels and patterns, reference-counted over the
 * gateway's single Redis subscriber connection (pubsub.h): the first
 * subscription to a name subscribes it in Redis, the last one leaving
 * unsubscribes it. Each message is decoded once and its outgoing text
 * built once; every receiver gets a reference. A subscription's history
 * is handed over before its live messages (history.h); this file decides
 * when that may start. A connection is a `fanout_peer` here: this file
 * knows nothing of WebSockets. */

#ifndef IFMON_GATEWAY_FANOUT_H
#define IFMON_GATEWAY_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "outmsg.h"
#include "pubsub.h"

struct fanout;
struct fanout_peer;

/* Hand a message to a connection. The callee takes its own reference if
 * it keeps the message; it must not subscribe, unsubscribe or free a peer
 * from here (asserted). */
typedef void (*fanout_deliver_fn)(void *ctx, struct outmsg *m);

struct fanout_stats {
    uint64_t subscriptions;  /* connection-channel pairs */
    uint64_t redis_channels; /* channels + patterns wanted in Redis */
    uint64_t dropped;        /* held messages dropped (hold buffer full) */
    uint64_t invalid;        /* Redis messages that were not a JSON object */
};

/* The hooks to give pubsub_create(), with the fanout as ctx. */
extern const struct pubsub_hooks fanout_pubsub_hooks;

/* gw->pubsub may be set after this call but before the loop runs. */
struct fanout *fanout_create(struct gateway *gw);

/* Free the registry; every peer must have been freed before (asserted). */
void fanout_free(struct fanout *f);

/* The figures of /metrics. */
void fanout_stats(const struct fanout *f, struct fanout_stats *out);

/* A new connection with nothing subscribed; deliver(ctx, m) gets its
 * messages. Never NULL. */
struct fanout_peer *fanout_peer_new(struct fanout *f, fanout_deliver_fn deliver, void *ctx);

/* Unsubscribe everything the peer holds and free it (p may be NULL).
 * History fetches in flight are cancelled (their replies are ignored). */
void fanout_peer_free(struct fanout_peer *p);

/* Channels and patterns the peer holds. */
size_t fanout_peer_count(const struct fanout_peer *p);

/* 1 when the peer holds exactly this channel or pattern. */
int fanout_peer_has(const struct fanout_peer *p, const char *channel);

/* Subscribe the peer to a channel or pattern that passed channel_check()
 * (asserted); nothing happens when it already holds it. History (for
 * interface channels, and for the inventory's interface channels a
 * pattern matches) is delivered before any live message of the channel. */
void fanout_peer_subscribe(struct fanout_peer *p, const char *channel);

/* Drop one subscription; nothing happens when the peer does not hold it.
 * Nothing more of it is delivered after this returns. */
void fanout_peer_unsubscribe(struct fanout_peer *p, const char *channel);

#endif
