/* http.c -- the gateway's one listening port: the lws protocol table and
 * context on the shared libuv loop, the WebSocket upgrade checks (path,
 * connection limit, Origin, token), the static files of web_root, and the
 * /healthz and /metrics endpoints. What happens on an established
 * WebSocket is client.c's business. */

#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "access.h"
#include "client.h"
#include "fanout.h"
#include "log.h"
#include "pubsub.h"
#include "util.h"
#include "webpath.h"

#define PROTOCOL_NAME "ifmon"
/* Longest header value or token we look at; longer ones are refused. */
#define HEADER_MAX 1024

/* Per connection: an HTTP response being sent, or the WebSocket client. */
struct pss {
    struct client *client;
    char *body; /* HTTP response body still to write (owned) */
    size_t body_len;
};

/* The mounts, built at start because the file root comes from the config. */
struct http {
    struct lws_http_mount files, healthz, metrics;
    char *web_root;
};

/* The file mount's origin (http->web_root) for the path check, NULL when
 * there is no file mount. One lws context per process. */
static const char *files_root;

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

/* LWS_CALLBACK_FILTER_HTTP_CONNECTION, before lws picks a mount: refuse
 * what the file mount must not open (webpath_file). lws resolves most
 * "/../" itself but not a request line ending right after "/..", which
 * would serve the index.html of web_root's parent. Returning nonzero
 * closes the connection after the 404. */
static int filter_http(struct lws *wsi, const char *uri, size_t len)
{
    char path[WEBPATH_MAX];

    if (files_root == NULL || webpath_file(uri, len, files_root, path, sizeof(path)) == 0)
        return 0;
    log_info("refusing HTTP path \"%.200s\"", uri);
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return 1;
}

/* ----------------------------------------------------- upgrade checks */

/* A header's value, or NULL when absent (or too long to be honest). */
static const char *header(struct lws *wsi, enum lws_token_indexes h, char *buf, int len)
{
    if (lws_hdr_total_length(wsi, h) <= 0 || lws_hdr_copy(wsi, buf, len, h) < 0)
        return NULL;
    return buf;
}

/* What the upgrade request's token (?token= or Authorization: Bearer)
 * may see, or NULL when it is missing or wrong; *given tells which. Also
 * valid in LWS_CALLBACK_ESTABLISHED, where the headers are still kept. */
static const struct config_token *grant_of(struct lws *wsi, const struct config_gateway *g,
                                           int *given)
{
    char arg[HEADER_MAX], auth[HEADER_MAX];
    const char *t = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof(arg));

    if (t == NULL)
        t = access_bearer(header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)));
    if (given)
        *given = t != NULL;
    return access_token_find(t, g);
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE. Returning >0 after writing a status
 * refuses the upgrade with that HTTP response; 0 lets it proceed. */
static int confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    struct gateway *gw = gateway_of(wsi);
    const struct config_gateway *g = &gw->cfg->gateway;
    char uri[256], origin[HEADER_MAX], host[HEADER_MAX];
    const char *o;
    unsigned status = 0;
    int given;

    if (strcasecmp(upgrade, "websocket") != 0) {
        status = HTTP_STATUS_FORBIDDEN;
    } else if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
               webpath_route(uri) != WEBPATH_ROUTE_WS) {
        status = HTTP_STATUS_NOT_FOUND;
    } else if (client_set_count(gw->clients) >= (size_t)g->max_connections) {
        log_warn("refusing a WebSocket: %d connections already (max_connections)",
                 g->max_connections);
        status = HTTP_STATUS_SERVICE_UNAVAILABLE;
    } else {
        o = header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
        if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 && o == NULL)
            o = ""; /* too long: never allowed */
        if (!access_origin_allowed(o, header(wsi, WSI_TOKEN_HOST, host, sizeof(host)),
                                   g->allowed_origins, g->nallowed_origins)) {
            log_info("refusing a WebSocket from origin \"%.200s\"", o);
            status = HTTP_STATUS_FORBIDDEN;
        } else if (grant_of(wsi, g, &given) == NULL) {
            log_info("refusing a WebSocket: %s token", given ? "wrong" : "no");
            status = HTTP_STATUS_UNAUTHORIZED;
        }
    }
    if (status == 0)
        return 0;
    if (lws_return_http_status(wsi, status, NULL))
        return -1;
    return 1;
}

/* ------------------------------------------------------------ protocol */

static int callback_ifmon(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct pss *pss = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, in);
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
        const struct config_token *grant = grant_of(wsi, &gw->cfg->gateway, NULL);

        IFMON_ASSERT(grant != NULL); /* confirm_upgrade() refused it otherwise */
        pss->client = client_open(gw->clients, wsi, grant);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return pss->client ? client_receive(pss->client, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
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

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);

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

struct http *http_start(struct gateway *gw)
{
    const struct config_gateway *g = &gw->cfg->gateway;
    struct lws_context_creation_info info;
    struct http *h = ifmon_xcalloc(1, sizeof(*h));
    char resolved[PATH_MAX];
    void *loops[1] = {gw->loop};
    struct stat st;

    IFMON_ASSERT(gw->clients && gw->fanout && gw->pubsub);
    lws_set_log_level(LLL_ERR | LLL_WARN | (ifmon_log_enabled(LOG_LEVEL_DEBUG) ? LLL_NOTICE : 0),
                      lws_log);

    set_callback_mount(&h->metrics, "/metrics", NULL);
    set_callback_mount(&h->healthz, "/healthz", &h->metrics);
    errno = 0;
    if (realpath(g->web_root, resolved) && stat(resolved, &st) == 0 && S_ISDIR(st.st_mode)) {
        h->web_root = ifmon_xstrdup(resolved);
        memset(&h->files, 0, sizeof(h->files));
        h->files.mount_next = &h->healthz;
        h->files.mountpoint = "/";
        h->files.mountpoint_len = 1;
        h->files.origin = h->web_root;
        h->files.def = "index.html";
        h->files.origin_protocol = LWSMPRO_FILE;
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
    info.options =
        LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.pcontext = &gw->lws;
    info.user = gw;
    /* The upgrade may carry ?token=... and a long Authorization. */
    info.max_http_header_data = 4096;
    info.fd_limit_per_thread = 0;

    gw->lws = lws_create_context(&info);
    if (gw->lws == NULL) {
        log_err("cannot listen on %s:%d", g->listen_host, g->listen_port);
        http_free(h);
        return NULL;
    }
    log_info("listening on http://%s:%d/ (WebSocket %s)", g->listen_host, g->listen_port,
             WEBPATH_WS);
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
        return;
    if (files_root == h->web_root)
        files_root = NULL;
    free(h->web_root);
    free(h);
}
