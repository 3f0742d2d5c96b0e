/* inventory.h -- the `list` request (docs/PROTOCOL.md, part 2): the
 * inventory snapshot stored at `<prefix>:inventory` (part 1), reduced to
 * what the connection's token may see, as the reply
 * {"op":"list","inventory":...,"id":...}.
 *
 * One object per gateway answers every connection's `list`. Today each
 * request does its own GET and parses the snapshot; the shape (one
 * owner of the inventory, requests answered now or later through a
 * callback, a connection's requests in flight cancelled together) is the
 * one a cache needs: keep one parsed copy, refreshed when the
 * collector announces a change on `<prefix>:inventory`, and answer from
 * it. Not here: the request's parsing (client_request.h) and whether a
 * token may see a channel (access.h). */

#ifndef IFMON_GATEWAY_INVENTORY_H
#define IFMON_GATEWAY_INVENTORY_H

#include <stddef.h>

#include <jansson.h>

#include "gateway.h"

struct config_token;
struct inventory;
struct inventory_list;

/* A connection's list requests in flight, embedded in the connection:
 * zero it to start, and call inventory_requests_cancel() before it goes. */
struct inventory_requests {
    struct inventory_list *head;
};

/* The answer to one list request. `reply` is the whole reply text
 * (borrowed for the call: copy it), or NULL when Redis is unavailable (the
 * connection answers with the error "redis unavailable" and `id`, the
 * request's "id", borrowed, or NULL). */
typedef void (*inventory_reply_fn)(void *ctx, const char *reply, size_t len, json_t *id);

/* gw->pubsub may be set after this call but before the loop runs. Never
 * NULL. */
struct inventory *inventory_create(struct gateway *gw);

/* After the loop has finished (the replies of requests in flight have
 * come, as NULL, when the query connection closed). */
void inventory_free(struct inventory *inv);

/* Answer a list request of a connection whose token is `grant` (access.h;
 * &access_all for everything) and which keeps its requests in flight in
 * `pending`. `id` (may be NULL) gets a reference of its own. fn(ctx, ...)
 * is called exactly once, possibly before this returns, unless the
 * request is cancelled first. */
void inventory_list(struct inventory *inv, struct inventory_requests *pending,
                    const struct config_token *grant, json_t *id, inventory_reply_fn fn, void *ctx);

/* The connection goes away: its requests in flight will not call their
 * fn (their replies are dropped when they come). */
void inventory_requests_cancel(struct inventory_requests *pending);

#endif
