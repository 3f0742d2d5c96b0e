/* eventlist.h -- the gateway's copy of the collector's alert events
 * (docs/PROTOCOL.md, part 1, "Events": the list `<prefix>:events` and the
 * key `<prefix>:alerts`), and the `events` request it answers (part 2):
 * {"op":"events","active":[...],"recent":[...],"id":...}, each element
 * the collector's JSON object as stored, those of devices the
 * connection's token may not see left out (access.h).
 *
 * One copy per gateway, read only when a request needs it and it may have
 * changed: the gateway subscribes to `<prefix>:events:*` itself (fanout.c)
 * and every event marks the copy stale, as do a (re)subscription and age
 * (EVENTLIST_MAX_AGE_MS: old events leave the list without an event). A
 * request the copy cannot answer waits for a read sent after it was
 * asked; one read (LRANGE and GET) is shared by every request waiting. A
 * restricted token's arrays are cut once per copy and token.
 *
 * Not here: the request's parsing (client_request.h) and its place among
 * a connection's replies (client.c). */

#ifndef IFMON_GATEWAY_EVENTLIST_H
#define IFMON_GATEWAY_EVENTLIST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gateway.h"
#include "outmsg.h"

/* What the copy holds at most: the collector keeps 1,000 events; a list
 * longer than that, or larger than the byte bound, keeps its newest
 * events that fit. An alerts key over the byte bound is read as no
 * alert (and logged). */
#define EVENTLIST_MAX_EVENTS 1000
#define EVENTLIST_MAX_BYTES (4u << 20)
/* A copy older than this is read again before it answers: events older
 * than an hour leave the list within 10 s, announced by nothing. */
#define EVENTLIST_MAX_AGE_MS 10000

struct config_token;
struct eventlist;
struct eventlist_wait;

/* The read a waiting request wanted is back: available = 1 and the copy
 * can answer (eventlist_reply(), during this call), or 0 when Redis is
 * unavailable. The callee may not free the eventlist. */
typedef void (*eventlist_ready_fn)(void *ctx, int available);

struct eventlist_stats {
    uint64_t reads;   /* reads of the list and the key sent */
    uint64_t invalid; /* elements left out: not a JSON object */
};

/* gw->pubsub may be set after this call but before the loop runs. Never
 * NULL. */
struct eventlist *eventlist_create(struct gateway *gw);

/* After the loop has finished (a read in flight has had its replies, as
 * NULL, when the query connection closed: nothing waits any more). */
void eventlist_free(struct eventlist *el);

/* fanout.c: the gateway's own subscription to `<prefix>:events:*` is
 * confirmed (up = 1: every event from now on marks the copy stale, and
 * the copy is read again before it answers), or it is gone (up = 0). */
void eventlist_watch(struct eventlist *el, int up);

/* fanout.c: an event was published: the copy is stale. */
void eventlist_changed(struct eventlist *el);

/* client.c: the configuration was reloaded; the arrays cut for the old
 * configuration's tokens are dropped (its grants are about to be freed). */
void eventlist_grants_changed(struct eventlist *el);

/* 1 when the copy can answer a request now. */
int eventlist_current(struct eventlist *el);

/* The reply to an events request from the copy, for `grant` (access.h),
 * with `id` (borrowed, may be NULL): a new message with one reference.
 * Only while eventlist_current() or inside an eventlist_ready_fn with
 * available = 1. */
struct outmsg *eventlist_reply(struct eventlist *el, const struct config_token *grant, json_t *id);

/* Wait for a read sent from now on: fn(ctx, available) is called exactly
 * once, never before this returns, unless eventlist_cancel() comes first.
 * NULL (and fn is never called) when Redis is unavailable. */
struct eventlist_wait *eventlist_await(struct eventlist *el, eventlist_ready_fn fn, void *ctx);

/* The waiter goes away: its fn will not be called. w may be NULL. */
void eventlist_cancel(struct eventlist_wait *w);

void eventlist_stats(const struct eventlist *el, struct eventlist_stats *out);

#endif
