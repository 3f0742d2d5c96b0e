/* http.c -- the gateway's listening port (and gateway.metrics_listen's):
 * the lws protocol table and context on the shared libuv loop, the checks
 * every request passes (Host, throttled addresses, path, connection limit,
 * Origin, token), the static files of web_root with the headers that keep
 * them from being framed, sniffed or leaked, and the /healthz and /metrics
 * endpoints. What happens on an established WebSocket is client.c's
 * business; what lws reads is checked before it parses it by rxcheck.c. */

#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "access.h"
#include "client.h"
#include "fanout.h"
#include "hostnames.h"
#include "log.h"
#include "lograte.h"
#include "pubsub.h"
#include "rxcheck.h"
#include "rxscan.h"
#include "throttle.h"
#include "util.h"
#include "webpath.h"

#define PROTOCOL_NAME "ifmon"
/* Longest header value or token we look at; longer ones are refused. */
#define HEADER_MAX 1024
/* lws' header buffer per connection: the largest head rxscan.h lets
 * through, plus what lws stores beyond the bytes received (a NUL after
 * each value, 8 bytes of bookkeeping per unknown field), so that lws
 * never runs out before rxcheck.c has answered 414 or 431. */
#define LWS_HEADER_DATA (RXSCAN_HEAD_MAX + 16 * (RXSCAN_FIELDS_MAX + RXSCAN_ARGS_MAX + 4))

/* The page may run its own scripts and styles, show its own images (and
 * the empty data: favicon), and open its WebSocket, at the address the
 * browser used (%s: " ws://HOST wss://HOST", or "" without a Host);
 * nothing else, and no page may frame it. */
#define CSP_PAGE                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'%s; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
/* The endpoints' answers run nothing. */
#define CSP_NONE "default-src 'none'; frame-ancestors 'none'"
#define REALM "Bearer realm=\"ifmon-gateway\""

/* Per connection: an HTTP response being sent, or the WebSocket client. */
struct pss {
    struct client *client;
    char *body; /* HTTP response body still to write (owned) */
    size_t body_len;
};

/* The mounts, built at start because the file root comes from the
 * config, and what the checks keep between requests. */
struct http {
    struct lws_http_mount files, healthz, metrics, metrics_only;
    char *web_root;
    char **default_hosts; /* when gateway.hosts is empty (hostnames.h) */
    size_t ndefault_hosts;
    struct lws_vhost *metrics_vhost; /* gateway.metrics_listen's, or NULL */
    struct throttle throttle;        /* addresses that sent wrong tokens */
    /* Log lines a client can cause, each kind at a bounded rate. */
    struct lograte host_log, origin_log, token_log, block_log, path_log;
};

/* The one http of the process (one lws context per process): lws'
 * callbacks reach it here. */
static struct http *running;

/* The file mount's origin (http->web_root) for the path check, NULL when
 * there is no file mount. */
static const char *files_root;

/* lws' own log lines (some can be caused by a client). */
static struct lograte lws_log_rate;

/* Headers of every answer lws builds (files, endpoints, refusals): the
 * page's address can carry ?token=, so it must not leak through a
 * Referer nor be framed by another site, and no answer is to be sniffed
 * into another type. The CSP differs for the page and the endpoints. */
static const struct lws_protocol_vhost_options security_headers[] = {
    {&security_headers[1], NULL, "x-content-type-options:", "nosniff"},
    {&security_headers[2], NULL, "x-frame-options:", "DENY"},
    {NULL, NULL, "referrer-policy:", "no-referrer"},
};

static struct gateway *gateway_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ------------------------------------------------------ HTTP endpoints */

static char *metrics_text(struct gateway *gw, size_t *len)
{
    struct client_stats cst;
    struct fanout_stats fst;
    struct pubsub_stats pst;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);

    IFMON_ASSERT(f != NULL); /* fails only when out of memory */
    client_set_stats(gw->clients, &cst);
    fanout_stats(gw->fanout, &fst);
    pubsub_stats(gw->pubsub, &pst);
#define METRIC(name, type, help, value)                                                            \
    fprintf(f, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %" PRIu64 "\n",       \
            (uint64_t)(value))
    METRIC("ifmon_gateway_connections", "gauge", "Open WebSocket connections.", cst.connections);
    METRIC("ifmon_gateway_subscriptions", "gauge",
           "Channels and patterns held, summed over connections.", fst.subscriptions);
    METRIC("ifmon_gateway_redis_channels", "gauge", "Channels and patterns subscribed in Redis.",
           fst.redis_channels);
    METRIC("ifmon_gateway_messages_in_total", "counter", "Pub/sub messages received from Redis.",
           pst.messages);
    METRIC("ifmon_gateway_messages_out_total", "counter", "Messages delivered to clients.",
           cst.messages_out);
    METRIC("ifmon_gateway_dropped_total", "counter",
           "Messages replaced or dropped because a client did not read fast enough.",
           cst.dropped + fst.dropped);
    METRIC("ifmon_gateway_redis_reconnects_total", "counter",
           "Reconnections of the Redis subscriber connection.", pst.reconnects);
    METRIC("ifmon_gateway_redis_up", "gauge", "1 while the Redis subscriber connection is up.",
           pst.up ? 1 : 0);
#undef METRIC
    fclose(f);
    *len = size;
    return buf;
}

/* Send headers now and keep the body for HTTP_WRITEABLE. */
static int respond(struct lws *wsi, struct pss *pss, unsigned status, const char *type, char *body,
                   size_t body_len)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
                                      *end = buf + sizeof(buf) - 1;

    free(pss->body);
    pss->body = body;
    pss->body_len = body_len;
    if (lws_add_http_common_headers(wsi, status, type, body_len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"content-security-policy:", (const unsigned char *)CSP_NONE,
            (int)strlen(CSP_NONE), &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* LWS_CALLBACK_HTTP: /healthz, /metrics, and 404 for anything no mount
 * serves (every path when web_root is missing). */
static int serve_http(struct lws *wsi, struct pss *pss)
{
    struct gateway *gw = gateway_of(wsi);
    char uri[256];
    struct pubsub_stats pst;
    size_t len;
    char *body;

    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
        uri[0] = '\0';
    switch (webpath_route(uri)) {
    case WEBPATH_ROUTE_HEALTHZ:
        /* Healthy means data can flow: the subscriber connection is up. */
        pubsub_stats(gw->pubsub, &pst);
        if (pst.up)
            return respond(wsi, pss, HTTP_STATUS_OK, "text/plain", ifmon_xstrdup("ok\n"), 3);
        body = ifmon_xstrdup("redis down\n");
        return respond(wsi, pss, HTTP_STATUS_SERVICE_UNAVAILABLE, "text/plain", body, strlen(body));
    case WEBPATH_ROUTE_METRICS:
        body = metrics_text(gw, &len);
        return respond(wsi, pss, HTTP_STATUS_OK, "text/plain; version=0.0.4", body, len);
    default:
        break;
    }
    if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int write_body(struct lws *wsi, struct pss *pss)
{
    int n;

    if (pss->body == NULL)
        return 0;
    /* HTTP writes need the same LWS_PRE headroom as WebSocket ones. */
    {
        unsigned char *buf = ifmon_xmalloc(LWS_PRE + pss->body_len + 1);

        memcpy(buf + LWS_PRE, pss->body, pss->body_len);
        n = lws_write(wsi, buf + LWS_PRE, pss->body_len, LWS_WRITE_HTTP_FINAL);
        free(buf);
    }
    free(pss->body);
    pss->body = NULL;
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ------------------------------------------------------- request checks */

/* A log line a client can cause: at most as often as r allows, with the
 * number held back since the last one. */
static void log_limited(struct lograte *r, uint64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void log_limited(struct lograte *r, uint64_t now_ms, const char *fmt, ...)
{
    char line[512];
    uint64_t suppressed;
    va_list ap;

    if (!lograte_allow(r, now_ms, &suppressed))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (suppressed)
        log_info("%s (and %" PRIu64 " more like it not logged)", line, suppressed);
    else
        log_info("%s", line);
}

/* Answer status with a text/plain body and, when name is not NULL, one
 * more header (besides security_headers, which lws adds). 0 when written;
 * as lws_return_http_status(), the caller then completes the transaction
 * or closes. */
static int refuse(struct lws *wsi, unsigned status, const char *name, const char *value,
                  const char *text)
{
    unsigned char buf[LWS_PRE + 1536], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof(buf) - 1;
    size_t len = strlen(text);
    char slen[24];
    int n = snprintf(slen, sizeof(slen), "%zu", len);

    if (lws_add_http_header_status(wsi, status, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"text/plain", 10, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                     (const unsigned char *)slen, n, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"content-security-policy:", (const unsigned char *)CSP_NONE,
            (int)strlen(CSP_NONE), &p, end) ||
        (name &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                     (int)strlen(value), &p, end)) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < len)
        return 1;
    memcpy(p, text, len);
    p += len;
    return lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP) != (int)(p - start);
}

/* A header's value, or NULL when absent (or too long to be honest). */
static const char *header(struct lws *wsi, enum lws_token_indexes h, char *buf, int len)
{
    if (lws_hdr_total_length(wsi, h) <= 0 || lws_hdr_copy(wsi, buf, len, h) < 0)
        return NULL;
    return buf;
}

/* The Host header into buf (HEADER_MAX bytes): NULL when there is none,
 * "" (never allowed) when it is too long. */
static const char *host_of(struct lws *wsi, char *buf)
{
    const char *h = header(wsi, WSI_TOKEN_HOST, buf, HEADER_MAX);

    if (h == NULL && lws_hdr_total_length(wsi, WSI_TOKEN_HOST) > 0)
        h = "";
    return h;
}

/* 1 when the request's Host is one of the gateway's names (gateway.hosts,
 * or the defaults of hostnames.h); else logs it and returns 0. */
static int host_allowed(struct lws *wsi)
{
    struct gateway *gw = gateway_of(wsi);
    const struct config_gateway *g = &gw->cfg->gateway;
    char host[HEADER_MAX], peer[64];
    const char *h = host_of(wsi, host);
    int ok = g->nhosts ? access_host_allowed(h, g->hosts, g->nhosts)
                       : access_host_allowed(h, running->default_hosts, running->ndefault_hosts);

    if (!ok) {
        lws_get_peer_simple(wsi, peer, sizeof(peer));
        log_limited(&running->host_log, uv_now(gw->loop),
                    "refusing a request from %s for Host \"%.100s\": not a name of this gateway "
                    "(gateway.hosts)",
                    peer, h);
    }
    return ok;
}

static int refuse_host(struct lws *wsi)
{
    return refuse(wsi, 421, NULL, NULL,
                  "Misdirected Request: this gateway does not answer to the name in the Host "
                  "header (gateway.hosts)\n");
}

/* The client's address as the throttle counts it, and as text. */
static void peer_of(struct lws *wsi, struct throttle_key *key, char *name, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = lws_get_socket_fd(wsi);

    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        throttle_key_of((struct sockaddr *)&ss, key);
    else
        throttle_key_of(NULL, key);
    lws_get_peer_simple(wsi, name, size);
}

/* 429 to an address blocked for wrong tokens (throttle.h), with the
 * seconds it has to wait. 1 when refused (answered, or the answer
 * failed: -1 in *rc), 0 when not blocked. */
static int refuse_blocked(struct lws *wsi, const struct throttle_key *key, int *rc)
{
    uint64_t left = throttle_blocked(&running->throttle, key, uv_now(gateway_of(wsi)->loop));
    char retry[24];

    if (left == 0)
        return 0;
    snprintf(retry, sizeof(retry), "%" PRIu64, (left + 999) / 1000);
    *rc = refuse(wsi, 429, "retry-after:", retry,
                 "Too Many Requests: too many wrong tokens from this address; try again "
                 "after Retry-After seconds\n");
    return 1;
}

/* Count a wrong token from key; logs (at a bounded rate) the refusal
 * and, once, the block it causes. */
static void wrong_token(struct lws *wsi, const struct throttle_key *key, const char *peer,
                        const char *what)
{
    uint64_t now = uv_now(gateway_of(wsi)->loop);

    log_limited(&running->token_log, now, "refusing %s from %s: wrong token", what, peer);
    if (throttle_failure(&running->throttle, key, now))
        log_limited(&running->block_log, now,
                    "refusing every upgrade and /metrics request from %s for %d s: %d wrong "
                    "tokens within %d s",
                    peer, THROTTLE_BLOCK_MS / 1000, THROTTLE_FAILURES, THROTTLE_WINDOW_MS / 1000);
}

/* The token of a request (?token= or Authorization: Bearer), copied into
 * buf (HEADER_MAX bytes), or NULL when there is none. Also valid in
 * LWS_CALLBACK_ESTABLISHED, where the headers are still kept. */
static const char *token_of(struct lws *wsi, char *buf)
{
    char arg[HEADER_MAX], auth[HEADER_MAX];
    const char *t = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof(arg));

    if (t == NULL)
        t = access_bearer(header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)));
    if (t == NULL)
        return NULL;
    snprintf(buf, HEADER_MAX, "%s", t);
    return buf;
}

/* /metrics with gateway.metrics_token: the full-access token as a Bearer
 * (a scraper sends a header, never a query). 0 to serve it, else what
 * filter_http() returns. */
static int metrics_check(struct lws *wsi)
{
    const struct config_gateway *g = &gateway_of(wsi)->cfg->gateway;
    char auth[HEADER_MAX], peer[64];
    struct throttle_key key;
    const char *t;
    int rc = 0;

    if (!g->metrics_token)
        return 0;
    peer_of(wsi, &key, peer, sizeof(peer));
    if (refuse_blocked(wsi, &key, &rc))
        return 1;
    t = access_bearer(header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)));
    if (t && access_token_equal(t, g->token))
        return 0;
    if (t)
        wrong_token(wsi, &key, peer, "/metrics");
    refuse(wsi, HTTP_STATUS_UNAUTHORIZED, "www-authenticate:", REALM,
           "Unauthorized: /metrics wants \"Authorization: Bearer <gateway.token>\" "
           "(gateway.metrics_token)\n");
    return 1;
}

/* LWS_CALLBACK_FILTER_HTTP_CONNECTION, before lws picks a mount, for every
 * request that is not an upgrade. Returning nonzero closes the connection
 * after the answer written here.
 *  - Host: every path but /healthz, which a load balancer's health check
 *    may ask for by any name (it says only "ok" or "redis down").
 *  - /metrics: only on metrics_listen's port when it is set, and with the
 *    token when metrics_token is; nothing else is on that port.
 *  - Files: what webpath_file() refuses (lws resolves most "/../" itself
 *    but not a request line ending right after "/..", and would serve
 *    dotfiles), then what the path resolves to: a symbolic link must not
 *    lead out of web_root or to a dotfile. lws opens the path after this
 *    check; changing a link in between needs write access to web_root. */
static int filter_http(struct lws *wsi, const char *uri, size_t len)
{
    enum webpath_route route = webpath_route(uri);
    int on_metrics_port = lws_get_vhost(wsi) == running->metrics_vhost;
    char path[WEBPATH_MAX], resolved[PATH_MAX];

    if (route != WEBPATH_ROUTE_HEALTHZ && !host_allowed(wsi)) {
        refuse_host(wsi);
        return 1;
    }
    if (route == WEBPATH_ROUTE_METRICS && !on_metrics_port && running->metrics_vhost)
        goto not_found;
    if (on_metrics_port && route != WEBPATH_ROUTE_METRICS && route != WEBPATH_ROUTE_HEALTHZ)
        goto not_found;
    if (route == WEBPATH_ROUTE_METRICS)
        return metrics_check(wsi);
    if (route != WEBPATH_ROUTE_FILE || files_root == NULL)
        return 0;
    if (webpath_file(uri, len, files_root, path, sizeof(path)) == 0 &&
        realpath(path, resolved) != NULL && webpath_inside(files_root, resolved))
        return 0;
    log_limited(&running->path_log, uv_now(gateway_of(wsi)->loop), "refusing HTTP path \"%.200s\"",
                uri);
not_found:
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return 1;
}

/* LWS_CALLBACK_ADD_HEADERS, as lws serves a file of web_root: the page's
 * Content-Security-Policy, naming the WebSocket of the address the
 * browser used (a Host already checked; echoed only if it is made of the
 * characters of a name, an address and a port). */
static int add_page_headers(struct lws *wsi, struct lws_process_html_args *args)
{
    static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-:[]";
    char host[HEADER_MAX], ws[2 * HEADER_MAX + 16] = "", csp[sizeof(ws) + sizeof(CSP_PAGE)];
    const char *h = host_of(wsi, host);
    unsigned char *p = (unsigned char *)args->p;
    int n;

    if (h && h[0] && strspn(h, name_chars) == strlen(h))
        snprintf(ws, sizeof(ws), " ws://%s wss://%s", h, h);
    n = snprintf(csp, sizeof(csp), CSP_PAGE, ws);
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
                                    (const unsigned char *)csp, n, &p, p + args->max_len))
        return 1;
    args->p = (char *)p;
    return 0;
}

/* ----------------------------------------------------- upgrade checks */

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE. Returning >0 after writing a status
 * refuses the upgrade with that HTTP response (the connection may carry
 * another request); 0 lets it proceed. The cheap refusals come first, so
 * that a blocked address costs one table lookup. */
static int confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    struct gateway *gw = gateway_of(wsi);
    const struct config_gateway *g = &gw->cfg->gateway;
    uint64_t now = uv_now(gw->loop);
    char uri[256], origin[HEADER_MAX], host[HEADER_MAX], token[HEADER_MAX], peer[64];
    struct throttle_key key;
    const char *o, *t;
    int rc = 0;

    peer_of(wsi, &key, peer, sizeof(peer));
    if (strcasecmp(upgrade, "websocket") != 0) {
        rc = lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
    } else if (lws_get_vhost(wsi) == running->metrics_vhost ||
               lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
               webpath_route(uri) != WEBPATH_ROUTE_WS) {
        rc = lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    } else if (!host_allowed(wsi)) {
        rc = refuse_host(wsi);
    } else if (refuse_blocked(wsi, &key, &rc)) {
        log_limited(&running->block_log, now, "refusing a WebSocket from %s: blocked (429)", peer);
    } else if (client_set_count(gw->clients) >= (size_t)g->max_connections) {
        log_warn("refusing a WebSocket: %d connections already (max_connections)",
                 g->max_connections);
        rc = lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL);
    } else {
        o = header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
        if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 && o == NULL)
            o = ""; /* too long: never allowed */
        if (!access_origin_allowed(o, host_of(wsi, host), g->allowed_origins,
                                   g->nallowed_origins)) {
            log_limited(&running->origin_log, now,
                        "refusing a WebSocket from %s: origin \"%.200s\"", peer, o);
            rc = lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
        } else if (access_token_find((t = token_of(wsi, token)), g) == NULL) {
            if (t)
                wrong_token(wsi, &key, peer, "a WebSocket");
            else
                log_limited(&running->token_log, now, "refusing a WebSocket from %s: no token",
                            peer);
            rc = refuse(wsi, HTTP_STATUS_UNAUTHORIZED, "www-authenticate:", REALM,
                        "Unauthorized: a token is required (?token= or Authorization: Bearer)\n");
        } else {
            return 0;
        }
    }
    /* Answered as HTTP: what follows on the connection is a request. */
    rxcheck_http(lws_get_socket_fd(wsi));
    return rc ? -1 : 1;
}

/* RFC 6455 section 5.1: a server MUST close the connection on a frame
 * without the mask bit; 7.1.7: with a close frame first, here 1002
 * (protocol error, 7.4.1). Done in WRITEABLE, which rxcheck.c asks for:
 * lws' API has no close frame to write there (lws_close_reason() is sent
 * only when RECEIVE returns -1, and WRITEABLE returning -1 drops the
 * socket as after a failed write), so the frame is written on the socket,
 * which is frame-aligned in WRITEABLE (lws has flushed what it had), and
 * never compressed (a control frame). Returns -1: lws closes. */
static int fail_unmasked(struct lws *wsi)
{
    static const char reason[] = "unmasked frame";
    unsigned char frame[4 + sizeof(reason)];

    frame[0] = 0x88; /* FIN, close */
    frame[1] = 2 + sizeof(reason) - 1;
    frame[2] = LWS_CLOSE_STATUS_PROTOCOL_ERR >> 8;
    frame[3] = LWS_CLOSE_STATUS_PROTOCOL_ERR & 0xff;
    memcpy(frame + 4, reason, sizeof(reason) - 1);
    (void)send(lws_get_socket_fd(wsi), frame, 4 + sizeof(reason) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    return -1;
}

/* ------------------------------------------------------------ protocol */

static int callback_ifmon(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct pss *pss = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        /* A new socket (user is lws' accept arguments, not a pss). */
        rxcheck_accept((int)(lws_intptr_t)in);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, in);
    case LWS_CALLBACK_ADD_HEADERS:
        return add_page_headers(wsi, in);
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        return filter_http(wsi, in, len);
    case LWS_CALLBACK_HTTP:
        return serve_http(wsi, pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss && pss->body)
            return write_body(wsi, pss);
        break;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            free(pss->body);
            pss->body = NULL;
        }
        break;
    case LWS_CALLBACK_ESTABLISHED: {
        struct gateway *gw = gateway_of(wsi);
        char token[HEADER_MAX];
        const char *t = token_of(wsi, token);
        const struct config_token *grant = access_token_find(t, &gw->cfg->gateway);

        rxcheck_websocket(lws_get_socket_fd(wsi), wsi);
        /* confirm_upgrade() refused it otherwise, unless a reload
         * (SIGHUP) revoked the token in between. */
        if (grant == NULL)
            return -1;
        pss->client = client_open(gw->clients, wsi, t, grant);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        /* Nothing of a connection that sent an unmasked frame is acted
         * on: it is failed in WRITEABLE, which rxcheck.c asked for. */
        if (rxcheck_unmasked(lws_get_socket_fd(wsi))) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        return pss->client ? client_receive(pss->client, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (rxcheck_unmasked(lws_get_socket_fd(wsi)))
            return fail_unmasked(wsi);
        return pss->client ? client_writeable(pss->client) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (pss->client)
            client_peer_closing(pss->client);
        return 0;
    case LWS_CALLBACK_CLOSED:
        client_close(pss->client);
        pss->client = NULL;
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* One protocol for HTTP and WebSocket: it is protocols[0], so a WebSocket
 * without Sec-WebSocket-Protocol binds to it (lws' default protocol). */
static const struct lws_protocols protocols[] = {
    {
        .name = PROTOCOL_NAME,
        .callback = callback_ifmon,
        .per_session_data_size = sizeof(struct pss),
        .rx_buffer_size = 1024, /* per connection; client frames are small and reassembled */
        .tx_packet_size = CLIENT_BATCH_MAX_BYTES + 64,
    },
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ------------------------------------------------------------- context */

/* lws' lines, at a bounded rate: a client can cause some of them. */
static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    uint64_t suppressed;

    if (!lograte_allow(&lws_log_rate, uv_hrtime() / 1000000, &suppressed))
        return;
    if (suppressed)
        log_info("lws: %" PRIu64 " lines not logged (at most %d a second)", suppressed,
                 1000 / LOGRATE_INTERVAL_MS);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_err("lws: %.*s", (int)n, line);
    else if (level & LLL_WARN)
        log_warn("lws: %.*s", (int)n, line);
    else
        log_debug("lws: %.*s", (int)n, line);
}

static void set_callback_mount(struct lws_http_mount *m, const char *path,
                               struct lws_http_mount *next)
{
    memset(m, 0, sizeof(*m));
    m->mount_next = next;
    m->mountpoint = path;
    m->mountpoint_len = (unsigned char)strlen(path);
    m->origin = PROTOCOL_NAME;
    m->origin_protocol = LWSMPRO_CALLBACK;
}

/* The vhost options of an address: an IPv6 listen address ("[::1]:8080")
 * needs lws' IPv6 socket; any other one an IPv4 socket, which lws only
 * makes without it. */
static uint64_t address_options(const char *host)
{
    return strchr(host, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
}

/* The Host names in force at start, for the log. */
static void log_hosts(const struct http *h, const struct config_gateway *g)
{
    char *const *names = g->nhosts ? g->hosts : h->default_hosts;
    size_t n = g->nhosts ? g->nhosts : h->ndefault_hosts, i, len = 0;
    char list[1024] = "";

    for (i = 0; i < n && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
    log_info("answering requests whose Host is %s%s, or an IP address (/healthz: any Host)",
             g->nhosts ? "gateway.hosts: " : "", list);
}

/* gateway.metrics_listen: a second vhost with /metrics (and /healthz)
 * only. 0, or -1 when it cannot listen. */
static int start_metrics(struct http *h, struct gateway *gw)
{
    const struct config_gateway *g = &gw->cfg->gateway;
    struct lws_context_creation_info info;

    set_callback_mount(&h->metrics_only, WEBPATH_METRICS, NULL);
    memset(&info, 0, sizeof(info));
    info.vhost_name = "metrics";
    info.port = g->metrics_port;
    info.iface = g->metrics_host; /* kept by lws: reload.c keeps it allocated */
    info.protocols = protocols;
    info.mounts = &h->metrics_only;
    info.headers = security_headers;
    info.options = LWS_SERVER_OPTION_LIBUV | address_options(g->metrics_host);
    h->metrics_vhost = lws_create_vhost(gw->lws, &info);
    if (h->metrics_vhost == NULL) {
        log_err("cannot listen on %s:%d (metrics_listen)", g->metrics_host, g->metrics_port);
        return -1;
    }
    log_info(strchr(g->metrics_host, ':') ? "serving /metrics on http://[%s]:%d/ only"
                                          : "serving /metrics on http://%s:%d/ only",
             g->metrics_host, g->metrics_port);
    return 0;
}

struct http *http_start(struct gateway *gw)
{
    const struct config_gateway *g = &gw->cfg->gateway;
    struct lws_context_creation_info info;
    struct http *h = ifmon_xcalloc(1, sizeof(*h));
    char resolved[PATH_MAX];
    void *loops[1] = {gw->loop};
    uint64_t seed = uv_hrtime();
    struct stat st;

    IFMON_ASSERT(gw->clients && gw->fanout && gw->pubsub && running == NULL);
    lws_set_log_level(LLL_ERR | LLL_WARN | (ifmon_log_enabled(LOG_LEVEL_DEBUG) ? LLL_NOTICE : 0),
                      lws_log);
    running = h;
    h->default_hosts = hostnames_default(g->listen_host, "/etc/hosts", &h->ndefault_hosts);
    /* The throttle's hash is keyed so that addresses cannot be chosen to
     * fill one bucket; the clock is the fallback. */
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed ^= (uint64_t)getpid() << 32;
    throttle_init(&h->throttle, seed);

    set_callback_mount(&h->metrics, WEBPATH_METRICS, NULL);
    set_callback_mount(&h->healthz, WEBPATH_HEALTHZ, &h->metrics);
    errno = 0;
    if (realpath(g->web_root, resolved) && stat(resolved, &st) == 0 && S_ISDIR(st.st_mode)) {
        h->web_root = ifmon_xstrdup(resolved);
        memset(&h->files, 0, sizeof(h->files));
        h->files.mount_next = &h->healthz;
        h->files.mountpoint = "/";
        h->files.mountpoint_len = 1;
        h->files.origin = h->web_root;
        h->files.def = WEBPATH_INDEX;
        h->files.origin_protocol = LWSMPRO_FILE;
        h->files.protocol = PROTOCOL_NAME; /* for LWS_CALLBACK_ADD_HEADERS */
        files_root = h->web_root;
    } else {
        log_warn("web_root %s: %s; serving 404 for files", g->web_root,
                 errno ? strerror(errno) : "not a directory");
    }

    memset(&info, 0, sizeof(info));
    info.port = g->listen_port;
    info.iface = g->listen_host;
    info.protocols = protocols;
    info.mounts = h->web_root ? &h->files : &h->healthz;
    info.headers = security_headers;
    info.options =
        LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 | address_options(g->listen_host);
    info.foreign_loops = loops;
    info.pcontext = &gw->lws;
    info.user = gw;
    /* The upgrade may carry ?token=... and a long Authorization; what is
     * longer is answered by rxcheck.c first. */
    info.max_http_header_data = LWS_HEADER_DATA;
    info.fd_limit_per_thread = 0;

    gw->lws = lws_create_context(&info);
    if (gw->lws == NULL) {
        log_err("cannot listen on %s:%d", g->listen_host, g->listen_port);
        http_free(h);
        return NULL;
    }
    log_info(strchr(g->listen_host, ':') ? "listening on http://[%s]:%d/ (WebSocket %s)"
                                         : "listening on http://%s:%d/ (WebSocket %s)",
             g->listen_host, g->listen_port, WEBPATH_WS);
    /* The context is up: main.c stops it as on any failed start, and
     * http_free(NULL) frees h once lws has let go of its mounts. */
    if (g->metrics_port && start_metrics(h, gw) < 0)
        return NULL;
    log_hosts(h, g);
    return h;
}

void http_stop(struct gateway *gw)
{
    if (gw->lws)
        lws_context_destroy(gw->lws);
}

void http_free(struct http *h)
{
    if (h == NULL)
        h = running; /* what a failed http_start() left */
    if (h == NULL)
        return;
    if (files_root == h->web_root)
        files_root = NULL;
    if (running == h)
        running = NULL;
    rxcheck_free();
    hostnames_free(h->default_hosts, h->ndefault_hosts);
    free(h->web_root);
    free(h);
}
