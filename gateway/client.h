/* client.h -- one WebSocket connection: receiving its requests and acting
 * on them (subscribe and unsubscribe through fanout.h, list through
 * inventory.h), writing its bounded outgoing queue, and the limits that
 * keep one client from hurting the others (frame size, request rate, a
 * stalled reader). http.c calls in from the lws protocol callback; the
 * protocol is described in docs/PROTOCOL.md, part 2. Not here: the
 * upgrade checks (http.c, access.h) and a request's parsing
 * (client_request.h). */

#ifndef IFMON_GATEWAY_CLIENT_H
#define IFMON_GATEWAY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

/* Outgoing queue bounds per connection (outqueue.h explains the policy). */
#define CLIENT_QUEUE_MAX 1024
#define CLIENT_QUEUE_MAX_BYTES (4u << 20)
/* Data messages batched into one frame (a JSON array) per write. */
#define CLIENT_BATCH_MAX_BYTES (64u << 10)
/* Requests per second and burst; past CLIENT_FLOOD_MAX refusals the
 * connection is closed with 1008. */
#define CLIENT_RATE 20.0
#define CLIENT_BURST 40.0
#define CLIENT_FLOOD_MAX 200
/* A connection with queued data that could not write for this long is
 * closed. */
#define CLIENT_STALL_MS 10000
/* A subscribe is acknowledged once Redis has confirmed every channel and
 * pattern of it; it waits for that (through a reconnection to Redis) at
 * most this long, checked once a second, and is then refused with
 * "redis unavailable" and undone, with the subscribes waiting behind it. */
#define CLIENT_SUBSCRIBE_WAIT_MS 5000
/* Subscribe requests waiting for Redis per connection; one more is
 * refused. Replies are sent in request order, so this also bounds what
 * waits behind them (with the request rate). */
#define CLIENT_SUBSCRIBES_WAITING_MAX 16

struct lws;
struct client;

struct client_stats {
    uint64_t connections;
    uint64_t messages_out; /* messages handed to lws_write (a batch counts each) */
    uint64_t frames_out;   /* frames of them (a batch is one) */
    uint64_t dropped;      /* replaced or dropped from full queues */
    uint64_t stalled;      /* connections closed for not reading */
    int io_uring;          /* writes submitted through io_uring (sendbatch.h) */
};

/* The gateway's connections; starts the stall timer on gw->loop. */
struct client_set *client_set_create(struct gateway *gw);
/* The gateway is stopping: start closing every connection with 1001
 * (going away); lws sends the close frame and waits for the answer. */
void client_set_shutdown(struct client_set *cs);
/* Close the stall timer and the end-of-iteration writer (before the
 * loop's last run). */
void client_set_close(struct client_set *cs);
/* Free after every connection was closed (lws context destroyed;
 * asserted). cs may be NULL. */
void client_set_free(struct client_set *cs);
/* The figures of /metrics. */
void client_set_stats(const struct client_set *cs, struct client_stats *out);
/* Established connections. */
size_t client_set_count(const struct client_set *cs);

struct config_token;

/* The configuration was reloaded (gw->cfg is the new one): each
 * connection's token is looked up again. A connection whose token is no
 * longer accepted, or that holds a channel its token no longer permits,
 * is closed with 1008 (policy violation) and a reason; the others go on
 * under the new grant. Returns how many are being closed. */
size_t client_set_reload(struct client_set *cs);

struct throttle_key;

/* LWS_CALLBACK_ESTABLISHED: a new client for wsi, which presented `token`
 * (copied; NULL when none), may see what `grant` permits (access.h;
 * &access_all for everything), and whose subscriptions count against the
 * client address `addr` (copied; admit.h, addrlimit.h). Never NULL. */
struct client *client_open(struct client_set *cs, struct lws *wsi, const char *token,
                           const struct config_token *grant, const struct throttle_key *addr);

/* LWS_CALLBACK_RECEIVE: a piece of a message. Returns 0, or -1 when lws
 * must close the connection (a close reason has been set). */
int client_receive(struct client *c, const void *in, size_t len);

/* LWS_CALLBACK_SERVER_WRITEABLE: write one frame. 0, or -1 to close.
 * Queued messages are otherwise written at the end of the loop iteration
 * in which they were queued (client.c explains when and why). */
int client_writeable(struct client *c);

/* LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: from now on write only from the
 * WRITEABLE callback, so that nothing follows lws' close frame. */
void client_peer_closing(struct client *c);
/* LWS_CALLBACK_CLOSED: forget the connection and free everything. */
void client_close(struct client *c);

#endif
