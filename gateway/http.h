/* http.h -- the listening port: libwebsockets on the gateway's libuv loop
 * (a foreign loop for lws), serving the WebSocket at /ws, the files of
 * web_root, /healthz and /metrics (or /metrics on a port of its own,
 * gateway.metrics_listen), to requests that pass the checks of
 * docs/PROTOCOL.md part 2 ("HTTP endpoints"). */

#ifndef IFMON_GATEWAY_HTTP_H
#define IFMON_GATEWAY_HTTP_H

#include "gateway.h"

struct http;

/* Create the lws context on gw->loop and listen (gateway.listen, and
 * gateway.metrics_listen when set); sets gw->lws. NULL (and an error
 * logged) when it cannot listen: gw->lws may then be set, and is stopped
 * with http_stop() as usual. gw->clients, gw->fanout and gw->pubsub must
 * exist (asserted): callbacks use them. One per process. */
struct http *http_start(struct gateway *gw);

/* Start destroying the lws context: connections are closed (client.c sees
 * each close) and lws' handles close as the loop runs; gw->lws becomes
 * NULL when it is done. */
void http_stop(struct gateway *gw);

/* After the loop has finished. h NULL frees what a failed http_start()
 * left, if anything. */
void http_free(struct http *h);

#endif
