/* upgrade.h -- the checks a request passes before the gateway answers it
 * (docs/PROTOCOL.md part 2, "HTTP endpoints" and "Opening the
 * WebSocket"): for an upgrade, in this order, the path, the Host, the
 * throttle of addresses that sent wrong tokens, max_connections, the
 * Origin and the token; the Host check and the /metrics token (with the
 * same throttle) guard plain requests too. Each refusal is answered here
 * (a status, a text body, and the security headers lws adds to every
 * answer) and logged at a bounded rate (lograte.h).
 *
 * The client's address is admit.h's (the one a trusted balancer named).
 * http.c calls in from lws' protocol callback; one per process. */

#ifndef IFMON_GATEWAY_UPGRADE_H
#define IFMON_GATEWAY_UPGRADE_H

#include <stddef.h>

#include "gateway.h"

struct lws;

/* Longest header value or token looked at; longer ones are refused. */
#define UPGRADE_HEADER_MAX 1024
#define UPGRADE_REALM "Bearer realm=\"ifmon-gateway\""
/* The CSP of every answer but the page's files: they run nothing. */
#define UPGRADE_CSP_NONE "default-src 'none'; frame-ancestors 'none'"

/* At start: the names the Host may give when gateway.hosts is empty
 * (hostnames.h, from listen_host and the machine's), and an empty
 * throttle with an unpredictable seed. */
void upgrade_start(const struct config_gateway *g);
/* Log the Host names in force (once listening). */
void upgrade_log_hosts(const struct config_gateway *g);
/* After the lws context is gone. */
void upgrade_free(void);

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (`upgrade` the Upgrade header;
 * `metrics_port`: the request came to gateway.metrics_listen, where there
 * is no WebSocket). 0 lets it proceed; 1 when refused with an HTTP answer
 * (the connection may carry another request), -1 when that answer could
 * not be written (lws closes). */
int upgrade_confirm(struct lws *wsi, const char *upgrade, int metrics_port);

/* A plain request's Host: 0 when it names the gateway; else it is
 * answered 421 (and logged), and 1 is returned. */
int upgrade_check_host(struct lws *wsi);

/* /metrics with gateway.metrics_token: 0 to serve it; 1 when answered
 * (429 for a throttled address, 401 for a missing or wrong token). */
int upgrade_check_metrics(struct lws *wsi);

/* The token of a request (?token= or Authorization: Bearer), copied into
 * buf (UPGRADE_HEADER_MAX bytes), or NULL when there is none. Also valid
 * in LWS_CALLBACK_ESTABLISHED, where the headers are still kept. */
const char *upgrade_token_of(struct lws *wsi, char *buf);

/* The Host header into buf (UPGRADE_HEADER_MAX bytes): NULL when there is
 * none, "" (never allowed) when it is too long. */
const char *upgrade_host_of(struct lws *wsi, char *buf);

/* Answer status with a text/plain body, the endpoints' headers and, when
 * name is not NULL, one more header (lws adds the security headers). 0
 * when written; as lws_return_http_status(), the caller then completes
 * the transaction or closes. */
int upgrade_refuse(struct lws *wsi, unsigned status, const char *name, const char *value,
                   const char *text);

#endif
