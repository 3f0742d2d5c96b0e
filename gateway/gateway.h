/* gateway.h -- the parts of ifmon-gateway and what they share.
 *
 * One process, one thread, one libuv loop: libwebsockets runs on it as a
 * foreign loop and both hiredis connections are attached to it, so no
 * state below needs a lock. main.c creates the parts in this order and
 * frees them in reverse. */

#ifndef IFMON_GATEWAY_H
#define IFMON_GATEWAY_H

#include <uv.h>

#include "config.h"

struct ifmon_loopstat;

struct lws_context;
struct pubsub;
struct fanout;
struct inventory;
struct eventlist;
struct client_set;
struct addrlimit;

struct gateway {
    uv_loop_t *loop;
    const struct config *cfg;
    struct fanout *fanout;       /* fanout.c: channel registry and routing */
    struct pubsub *pubsub;       /* pubsub.c: subscriber + query connections */
    struct inventory *inventory; /* inventory.c: the `list` request */
    struct eventlist *eventlist; /* eventlist.c: the `events` request */
    struct client_set *clients;  /* client.c: WebSocket connections */
    struct addrlimit *addrs;     /* admit.c: what each client address holds */
    struct lws_context *lws;     /* http.c; NULL once destroyed */
    struct ifmon_loopstat *loopstat; /* main.c's: how busy each loop turn was */
};

#endif
