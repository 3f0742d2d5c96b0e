/* http.h -- the listening port: libwebsockets on the gateway's libuv loop
 * (a foreign loop for lws), serving the WebSocket at /ws, the files of
 * web_root, /healthz and /metrics. */

#ifndef IFMON_GATEWAY_HTTP_H
#define IFMON_GATEWAY_HTTP_H

#include "gateway.h"

struct http;

/* Create the lws context on gw->loop and listen; sets gw->lws. NULL (and
 * an error logged) when it cannot listen. gw->clients, gw->fanout and
 * gw->pubsub must exist (asserted): callbacks use them. */
struct http *http_start(struct gateway *gw);

/* Start destroying the lws context: connections are closed (client.c sees
 * each close) and lws' handles close as the loop runs; gw->lws becomes
 * NULL when it is done. */
void http_stop(struct gateway *gw);

/* After the loop has finished. */
void http_free(struct http *h);

#endif
