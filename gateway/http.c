/* http.c -- the gateway's listening port (and gateway.metrics_listen's):
 * the lws protocol table and context on the shared libuv loop, the
 * protocol callback that hands each event to its part, the static files
 * of web_root with the headers that keep them from being framed, sniffed
 * or leaked, and the /healthz and /metrics endpoints. The checks a
 * request passes are upgrade.c's, whether a connection is taken at all
 * admit.c's, what lws reads is checked before it parses it by rxcheck.c,
 * and what happens on an established WebSocket is client.c's. */

#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "access.h"
#include "acceptpace.h"
#include "admit.h"
#include "client.h"
#include "fanout.h"
#include "lobby.h"
#include "log.h"
#include "lograte.h"
#include "loopstat.h"
#include "pubsub.h"
#include "rxcheck.h"
#include "rxscan.h"
#include "upgrade.h"
#include "util.h"
#include "webpath.h"

#define PROTOCOL_NAME "ifmon"
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

/* Per connection: an HTTP response being sent, or the WebSocket client. */
struct pss {
    struct client *client;
    char *body; /* HTTP response body still to write (owned) */
    size_t body_len;
};

/* The mounts, built at start because the file root comes from the
 * config. */
struct http {
    struct gateway *gw;
    struct lws_http_mount files, healthz, metrics, metrics_only;
    char *web_root;
    struct lws_vhost *metrics_vhost; /* gateway.metrics_listen's, or NULL */
    struct lograte path_log;         /* refused paths, at a bounded rate */
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
    struct admit_stats ast;
    struct lobby_stats lst;
    struct fanout_stats fst;
    struct pubsub_stats pst;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);

    IFMON_ASSERT(f != NULL); /* fails only when out of memory */
    client_set_stats(gw->clients, &cst);
    admit_stats(&ast);
    lobby_stats(&lst);
    fanout_stats(gw->fanout, &fst);
    pubsub_stats(gw->pubsub, &pst);
#define METRIC(name, type, help, value)                                                            \
    fprintf(f, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " %" PRIu64 "\n",       \
            (uint64_t)(value))
    METRIC("ifmon_gateway_connections", "gauge", "Open WebSocket connections.", cst.connections);
    METRIC("ifmon_gateway_tcp_connections", "gauge",
           "Open TCP connections, upgraded to WebSockets or not.", ast.open);
    METRIC("ifmon_gateway_refused_total", "counter",
           "Connections refused at once: too many from their address, or out of descriptors.",
           ast.refused_address + ast.refused_reserve);
    METRIC("ifmon_gateway_lobby_connections", "gauge",
           "TCP connections accepted whose first request head is not in yet.", lst.waiting);
    METRIC("ifmon_gateway_lobby_expired_total", "counter",
           "Connections closed for sending no complete request head within 10 s.", lst.expired);
    METRIC("ifmon_gateway_subscriptions", "gauge",
           "Channels and patterns held, summed over connections.", fst.subscriptions);
    METRIC("ifmon_gateway_redis_channels", "gauge", "Channels and patterns subscribed in Redis.",
           fst.redis_channels);
    METRIC("ifmon_gateway_groups", "gauge",
           "Groups of connections holding the same channels, which share their frames.",
           fst.groups);
    METRIC("ifmon_gateway_grouped_connections", "gauge", "Connections in those groups.",
           fst.grouped);
    METRIC("ifmon_gateway_messages_in_total", "counter", "Pub/sub messages received from Redis.",
           pst.messages);
    METRIC("ifmon_gateway_messages_out_total", "counter", "Messages delivered to clients.",
           cst.messages_out);
    METRIC("ifmon_gateway_frames_out_total", "counter",
           "WebSocket frames those messages went out in (an array frame carries several).",
           cst.frames_out);
    METRIC("ifmon_gateway_io_uring", "gauge",
           "1 while each loop turn's writes are submitted together through io_uring.",
           cst.io_uring);
    METRIC("ifmon_gateway_dropped_total", "counter",
           "Messages replaced or dropped because a client did not read fast enough.",
           cst.dropped + fst.dropped);
    METRIC("ifmon_gateway_redis_reconnects_total", "counter",
           "Reconnections of the Redis subscriber connection.", pst.reconnects);
    METRIC("ifmon_gateway_redis_up", "gauge", "1 while the Redis subscriber connection is up.",
           pst.up ? 1 : 0);
#undef METRIC
    if (gw->loopstat)
        ifmon_loopstat_write(gw->loopstat, f, "ifmon_gateway_loop_busy_seconds");
    fclose(f);
    *len = size;
    return buf;
}

/* Send headers now and keep the body for HTTP_WRITEABLE; with
 * retry_after > 0, a Retry-After header of that many seconds. */
static int respond(struct lws *wsi, struct pss *pss, unsigned status, const char *type, char *body,
                   size_t body_len, int retry_after)
{
    char retry[16];

    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
                                      *end = buf + sizeof(buf) - 1;

    free(pss->body);
    pss->body = body;
    pss->body_len = body_len;
    snprintf(retry, sizeof(retry), "%d", retry_after);
    if (lws_add_http_common_headers(wsi, status, type, body_len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
                                    (const unsigned char *)UPGRADE_CSP_NONE,
                                    (int)strlen(UPGRADE_CSP_NONE), &p, end) ||
        (retry_after > 0 &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                     (const unsigned char *)retry, (int)strlen(retry), &p, end)) ||
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
        /* Healthy means data can flow (the subscriber connection is up)
         * and a browser would be taken: a full gateway says so, so that
         * a load balancer sends browsers elsewhere. */
        pubsub_stats(gw->pubsub, &pst);
        if (!pst.up) {
            body = ifmon_xstrdup("redis down\n");
            return respond(wsi, pss, HTTP_STATUS_SERVICE_UNAVAILABLE, "text/plain", body,
                           strlen(body), 0);
        }
        if (client_set_count(gw->clients) >= (size_t)gw->cfg->gateway.max_connections ||
            admit_short_of_descriptors()) {
            body = ifmon_xstrdup(admit_short_of_descriptors() ? "out of descriptors\n" : "full\n");
            return respond(wsi, pss, HTTP_STATUS_SERVICE_UNAVAILABLE, "text/plain", body,
                           strlen(body), ADMIT_RETRY_AFTER_S);
        }
        return respond(wsi, pss, HTTP_STATUS_OK, "text/plain", ifmon_xstrdup("ok\n"), 3, 0);
    case WEBPATH_ROUTE_METRICS:
        body = metrics_text(gw, &len);
        return respond(wsi, pss, HTTP_STATUS_OK, "text/plain; version=0.0.4", body, len, 0);
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

/* ------------------------------------------------------------ requests */

/* LWS_CALLBACK_FILTER_HTTP_CONNECTION, before lws picks a mount, for every
 * request that is not an upgrade. Returning nonzero closes the connection
 * after the answer written here.
 *  - Host: every path but /healthz, which a load balancer's health check
 *    may ask for by any name (it says only "ok", "full" or "redis down").
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

    if (route != WEBPATH_ROUTE_HEALTHZ && upgrade_check_host(wsi))
        return 1;
    if (route == WEBPATH_ROUTE_METRICS && !on_metrics_port && running->metrics_vhost)
        goto not_found;
    if (on_metrics_port && route != WEBPATH_ROUTE_METRICS && route != WEBPATH_ROUTE_HEALTHZ)
        goto not_found;
    if (route == WEBPATH_ROUTE_METRICS)
        return upgrade_check_metrics(wsi);
    if (route != WEBPATH_ROUTE_FILE || files_root == NULL)
        return 0;
    if (webpath_file(uri, len, files_root, path, sizeof(path)) == 0 &&
        realpath(path, resolved) != NULL && webpath_inside(files_root, resolved))
        return 0;
    lograte_log(&running->path_log, uv_now(gateway_of(wsi)->loop), "refusing HTTP path \"%.200s\"",
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
    char host[UPGRADE_HEADER_MAX], ws[2 * UPGRADE_HEADER_MAX + 16] = "",
                                                               csp[sizeof(ws) + sizeof(CSP_PAGE)];
    const char *h = upgrade_host_of(wsi, host);
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
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
        /* A new socket: user is lws' accept arguments, not a pss, and wsi
         * the listening socket's. Nonzero: lws closes it at once. */
        const struct lws_filter_network_conn_args *filt = user;

        return admit_accept((int)(lws_intptr_t)in, (const struct sockaddr *)&filt->cli_addr,
                            lws_get_vhost(wsi) != running->metrics_vhost) < 0;
    }
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return upgrade_confirm(wsi, in, lws_get_vhost(wsi) == running->metrics_vhost);
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
        char token[UPGRADE_HEADER_MAX], peer[64];
        const char *t = upgrade_token_of(wsi, token);
        const struct config_token *grant = access_token_find(t, &gw->cfg->gateway);
        struct throttle_key addr;

        rxcheck_websocket(lws_get_socket_fd(wsi), wsi);
        /* upgrade_confirm() refused it otherwise, unless a reload
         * (SIGHUP) revoked the token in between. */
        if (grant == NULL)
            return -1;
        admit_client(lws_get_socket_fd(wsi), &addr, peer, sizeof(peer));
        pss->client = client_open(gw->clients, wsi, t, grant, &addr);
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
        /* Allocated per connection and held while it listens: small.
         * A longer message comes in pieces, put together (client.c). */
        .rx_buffer_size = 512,
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
    struct stat st;

    IFMON_ASSERT(gw->clients && gw->fanout && gw->pubsub && running == NULL);
    lws_set_log_level(LLL_ERR | LLL_WARN | (ifmon_log_enabled(LOG_LEVEL_DEBUG) ? LLL_NOTICE : 0),
                      lws_log);
    running = h;
    h->gw = gw;
    upgrade_start(g);

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
    /* Before the loop runs, so before lws accepts anything; after lws'
     * own descriptors are open, so that they are among those counted. */
    admit_start(gw);
    acceptpace_start(gw->loop);
    if (lobby_start(gw->loop) == 0) {
        acceptpace_serve(lws_get_vhost_by_name(gw->lws, "default"), 1);
        if (h->metrics_vhost)
            acceptpace_serve(h->metrics_vhost, 0);
    }
    upgrade_log_hosts(g);
    return h;
}

void http_stop(struct gateway *gw)
{
    acceptpace_stop();
    lobby_stop();
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
    admit_free(h->gw);
    upgrade_free();
    free(h->web_root);
    free(h);
}
