/* inventory.h -- the gateway's copy of the inventory snapshot stored at
 * `<prefix>:inventory` (docs/PROTOCOL.md, part 1), and the `list` request
 * it answers (part 2): the snapshot as stored, or reduced to what the
 * connection's token may see, as
 * {"op":"list","inventory":...,"prefix":"<prefix>","id":...}.
 *
 * One copy per gateway, read once per change: the gateway subscribes to
 * `<prefix>:inventory` itself (fanout.c), on which the collector announces
 * every change, and reads the key again after each announcement and after
 * each (re)subscription. While that subscription is confirmed, the copy
 * answers every `list` and every pattern's history (history.c) at once;
 * while it is not (starting, Redis reconnecting), each answer waits for a
 * GET sent after it was asked, one GET shared by all that wait. A
 * restricted token's view is cut from the copy through its index
 * (invscan.h) once per copy and token, never per request.
 *
 * Not here: the request's parsing (client_request.h) and whether a token
 * may see a channel (access.h). */

#ifndef IFMON_GATEWAY_INVENTORY_H
#define IFMON_GATEWAY_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gateway.h"
#include "invscan.h"
#include "outmsg.h"

struct config_token;
struct inventory;
struct inventory_wait;

/* A connection's list requests waiting for a copy, embedded in the
 * connection: zero it to start, set grant, and call
 * inventory_requests_cancel() before it goes. */
struct inventory_requests {
    struct inventory_wait *head;
    /* What the connection's token may see (access.h; &access_all for
     * everything). Read when each reply is built: a reload (SIGHUP) that
     * changes it applies to the requests waiting too. */
    const struct config_token *grant;
};

/* The answer to one list request: `reply` is the whole reply message
 * (borrowed for the call: take a reference to keep it), or NULL when
 * Redis is unavailable (the connection answers with the error "redis
 * unavailable" and `id`, the request's "id", borrowed, or NULL). */
typedef void (*inventory_reply_fn)(void *ctx, struct outmsg *reply, json_t *id);

/* The copy's index for a reader (history.c), borrowed for the call; NULL
 * when there is no usable snapshot (none stored, not a JSON object, or
 * Redis unavailable). */
typedef void (*inventory_read_fn)(void *arg, const struct invscan_index *idx);

struct inventory_stats {
    uint64_t gets;    /* GETs of the snapshot sent */
    uint64_t changes; /* copies replaced by a different text */
};

/* gw->pubsub may be set after this call but before the loop runs. Never
 * NULL. */
struct inventory *inventory_create(struct gateway *gw);

/* After the loop has finished (the GET in flight has had its reply, as
 * NULL, when the query connection closed: nothing waits any more). */
void inventory_free(struct inventory *inv);

/* fanout.c: the gateway's own subscription to `<prefix>:inventory` is
 * confirmed by Redis (up = 1; every change from now on is announced: the
 * key is read again), or is gone with the subscriber connection (up = 0:
 * the copy is no longer trusted). */
void inventory_watch(struct inventory *inv, int up);

/* fanout.c: a message on `<prefix>:inventory`: the snapshot changed, the
 * copy is read again and nothing is answered from the old one. */
void inventory_changed(struct inventory *inv);

/* client.c: the configuration was reloaded; the views cut for the old
 * configuration's tokens are dropped (its grants are about to be freed). */
void inventory_grants_changed(struct inventory *inv);

/* Answer a list request of a connection which keeps its requests waiting
 * in `pending` (whose grant says what it may see). `id` (may be NULL) gets
 * a reference of its own. fn(ctx, ...) is called exactly once, possibly
 * before this returns, unless the request is cancelled first. */
void inventory_list(struct inventory *inv, struct inventory_requests *pending, json_t *id,
                    inventory_reply_fn fn, void *ctx);

/* The connection goes away: its requests waiting will not call their fn. */
void inventory_requests_cancel(struct inventory_requests *pending);

/* For a pattern's history: fn(arg, idx) is called exactly once, possibly
 * before this returns, with the current copy's index (read under the same
 * rule as a list). */
void inventory_read(struct inventory *inv, inventory_read_fn fn, void *arg);

void inventory_stats(const struct inventory *inv, struct inventory_stats *out);

#endif
